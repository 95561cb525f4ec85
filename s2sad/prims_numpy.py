"""More NumPy: elementwise functions, statistics, shape and linear algebra (issue 4).

Same conventions as :mod:`s2sad.prims` (imported from its last line, so every helper there is
defined): each primitive sits in one ``defprim`` entry with its type, printing and rules, and
the callables users write are bound at the end.  Where NumPy's function is a short expression
in existing primitives it is bound as a *surface function* (``np.exp2(x)`` lowers to
``2.0 ** x``, ``np.trace`` to ``np.sum(np.diagonal(x), axis=-1)``); a primitive is added where
the emitted code should show the NumPy call.

NumPy functions that return several arrays (``np.split``, ``np.linalg.eigh``, ...) are in
:mod:`s2sad.prims_multi`; the rules of the single-result forms here (``np.linalg.eigvalsh``,
``np.linalg.svd(a, compute_uv=False)``) call them.
"""

from __future__ import annotations

import builtins
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from .ir import Array, Const, Opaque, Scalar, Ty
from .prims import (
    _extreme_lin,
    _nonzero,
    _prod_of_others,
    _reduce_float_type,
    _reduce_type,
    _reduction,
    _regrow,
    _reshape_type,
    _swap_last,
    _unbroadcast,
    cos,
    exp,
    expand_dims,
    matmul,
    reshape,
    shape_of,
    sign,
    size,
    sqrt,
    sum_,
    transpose,
    where,
)
from .rules import (
    DYNAMIC,
    METHODS,
    Emit,
    S,
    Sym,
    _join_one,
    apply,
    axis_index,
    bind,
    broadcast_types,
    const_value,
    defprim,
    elementwise,
    elementwise_bool,
    no_derivative,
    promote,
    same_as_first,
)
from .runtime import Dyn

# ------------------------------------------------------------------------------------ helpers


def _dtype(t: Ty) -> str:
    return t.dtype if isinstance(t, (Scalar, Array)) else "float64"


def _axes(axis: Any, n: int) -> tuple[int, ...]:
    """`axis` (an int or a tuple of them) as non-negative axes of an `n`-axis array."""
    return tuple(axis_index(a, n) for a in (axis if isinstance(axis, (tuple, list)) else (axis,)))


def _ints(v: Any) -> tuple[int, ...]:
    return (int(v),) if isinstance(v, (int, np.integer)) else tuple(int(i) for i in v)


def _dim(x: Sym, i: int) -> Sym:
    """The run-time length of axis `i` of `x` (``np.shape(x)[i]``)."""
    return apply("getitem", shape_of(x), spec=(i,))


def _isnan(x: Any) -> Sym: return apply("isnan", x)
def _tril(x: Any, k: int = 0) -> Sym: return apply("tril", x, k=k)
def _flip(x: Any, axis: Any = None) -> Sym: return apply("flip", x, axis=axis)
def _inv(a: Any) -> Sym: return apply("inv", a)
def _solve(a: Any, b: Any) -> Sym: return apply("solve", a, b)


def _static(value: Any, what: str) -> Any:
    v = const_value(value)
    if v is DYNAMIC:
        raise TypeError(f"{what} must be known when the derivative is generated")
    return v


# --------------------------------------------------------------------------------- type rules


def _append_type(types: Sequence[Ty], params: dict[str, Any]) -> Ty:
    a, b = types
    dt, axis = promote(types), params.get("axis")
    if axis is None:
        return Array(dt, (False,))
    if not (isinstance(a, Array) and isinstance(b, Array)) or a.ones is None or b.ones is None \
            or axis is DYNAMIC or len(a.ones) != len(b.ones):
        return Array(dt, None)
    k = axis_index(axis, len(a.ones))
    return Array(dt, tuple(False if i == k else _join_one(p, q)
                           for i, (p, q) in enumerate(zip(a.ones, b.ones))))


def _concatenate_type(types: Sequence[Ty], params: dict[str, Any]) -> Ty:
    out = types[0]
    for t in types[1:]:
        out = _append_type((out, t), params)
    return out


def _squeeze_type(types: Sequence[Ty], params: dict[str, Any]) -> Ty:
    x, axis = types[0], params.get("axis")
    if not isinstance(x, Array):
        return x
    if x.ones is None or axis is DYNAMIC or (axis is None and None in x.ones):
        return Array(x.dtype, None)
    drop = {i for i, o in enumerate(x.ones) if o} if axis is None else set(_axes(axis, len(x.ones)))
    return Array(x.dtype, tuple(o for i, o in enumerate(x.ones) if i not in drop))


def _ones_of(x: Ty) -> tuple[bool | None, ...] | None:
    return () if isinstance(x, Scalar) else x.ones if isinstance(x, Array) else None


def _tile_type(types: Sequence[Ty], params: dict[str, Any]) -> Ty:
    x, reps = types[0], params.get("reps")
    xo = _ones_of(x)
    if xo is None or reps is DYNAMIC:
        return Array(_dtype(x), None)
    r = _ints(reps)
    d = max(len(xo), len(r))
    xo, r = (True,) * (d - len(xo)) + xo, (1,) * (d - len(r)) + r
    return Array(_dtype(x), tuple(o if n == 1 else False for o, n in zip(xo, r)))


def _repeat_type(types: Sequence[Ty], params: dict[str, Any]) -> Ty:
    x, r, axis = types[0], params.get("repeats"), params.get("axis")
    xo = _ones_of(x)
    if xo is None or r is DYNAMIC or axis is DYNAMIC:
        return Array(_dtype(x), None)
    if axis is None:
        return Array(_dtype(x), (None if r == 1 else False,))
    k = axis_index(axis, len(xo))
    return Array(_dtype(x), tuple(o if i != k or r == 1 else False for i, o in enumerate(xo)))


def _pad_type(types: Sequence[Ty], params: dict[str, Any]) -> Ty:
    x, pw = types[0], params.get("pad_width")
    xo = _ones_of(x)
    if xo is None or pw is None or pw is DYNAMIC:
        return Array(_dtype(x), None)
    return Array(_dtype(x), tuple(o if p == (0, 0) else False for o, p in zip(xo, pw)))


def _broadcast_shape_type(types: Sequence[Ty], params: dict[str, Any]) -> Ty:
    shp = params.get("shape")
    return _reshape_type(types, {"shape": shp if shp is not DYNAMIC else None})


def _cum_type(types: Sequence[Ty], params: dict[str, Any]) -> Ty:
    x, axis = types[0], params.get("axis")
    dt = _dtype(x)
    dt = "int64" if dt == "bool" else dt
    if axis is None:
        return Array(dt, (True,) if isinstance(x, Scalar) else (None,))
    return Array(dt, _ones_of(x))


def _diagonal_type(types: Sequence[Ty], params: dict[str, Any]) -> Ty:
    x = types[0]
    xo = _ones_of(x)
    if xo is None or len(xo) < 2:
        return Array(_dtype(x), None)
    return Array(_dtype(x), xo[2:] + (None,))


def _diag_type(types: Sequence[Ty], params: dict[str, Any]) -> Ty:
    return Array(_dtype(types[0]), (None, None))


def _drop_last_two(types: Sequence[Ty], params: dict[str, Any]) -> Ty:
    a = types[0]
    dt = promote([a], to_float=True)
    if not isinstance(a, Array) or a.ones is None:
        return Array(dt, None)
    return Array(dt, a.ones[:-2]) if len(a.ones) > 2 else Scalar(dt, weak=False)


def _square_matrix_type(types: Sequence[Ty], params: dict[str, Any]) -> Ty:
    a = types[0]
    return Array(promote([a], to_float=True), a.ones if isinstance(a, Array) else None)


def _solve_type(types: Sequence[Ty], params: dict[str, Any]) -> Ty:
    return Array(promote(types, to_float=True), _ones_of(types[1]))


def _min_one(m: bool | None, n: bool | None) -> bool | None:
    """Whether min(m, n) is 1, from whether m and n are."""
    return True if m is True or n is True else False if m is False and n is False else None


def _values_type(types: Sequence[Ty], params: dict[str, Any]) -> Ty:
    """Eigen- or singular values: min(m, n) of them, for each matrix of the batch."""
    a = types[0]
    if not isinstance(a, Array) or a.ones is None or len(a.ones) < 2:
        return Array(promote([a], to_float=True), None)
    return Array(promote([a], to_float=True), a.ones[:-2] + (_min_one(*a.ones[-2:]),))


def _kron_type(types: Sequence[Ty], params: dict[str, Any]) -> Ty:
    a, b = (_ones_of(t) for t in types)
    dt = promote(types)
    if a is None or b is None:
        return Array(dt, None)
    d = max(len(a), len(b))
    a, b = (True,) * (d - len(a)) + a, (True,) * (d - len(b)) + b
    return Array(dt, tuple(True if p is True and q is True else
                           False if p is False or q is False else None for p, q in zip(a, b)))


# ------------------------------------------------------------------------------ elementwise

defprim("cbrt", np.cbrt, lin=[lambda g, ans, x: g / (3 * (ans * ans))])
defprim("arcsinh", np.arcsinh, emit=Emit("call", "np.arcsinh", scalar="math.asinh"),
        lin=[lambda g, ans, x: g / sqrt(x * x + 1)])
defprim("arccosh", np.arccosh, emit=Emit("call", "np.arccosh", scalar="math.acosh"),
        lin=[lambda g, ans, x: g / sqrt(x * x - 1)])
defprim("arctanh", np.arctanh, emit=Emit("call", "np.arctanh", scalar="math.atanh"),
        lin=[lambda g, ans, x: g / (1 - x * x)])
defprim("logaddexp", np.logaddexp, arity=2,
        lin=[lambda g, ans, x, y: g * exp(x - ans), lambda g, ans, x, y: g * exp(y - ans)])
defprim("logaddexp2", np.logaddexp2, arity=2,
        lin=[lambda g, ans, x, y: g * 2.0 ** (x - ans), lambda g, ans, x, y: g * 2.0 ** (y - ans)])
# sinc(x) = sin(pi x) / (pi x); its derivative (cos(pi x) - sinc(x)) / x is 0 at x = 0, where
# the numerator vanishes too, so dividing by 1 there gives the limit without a warning.
defprim("sinc", np.sinc,
        lin=[lambda g, ans, x: g * (cos(math.pi * x) - ans) / where(apply("eq", x, 0.0), 1.0, x)])


# fmax/fmin ignore NaN: the derivative goes to the argument that is the result.  Ties go to
# the first argument, as for np.maximum; where y is NaN the result is x, so x gets it.
def _fmax_x(g: Sym, ans: Sym, x: Sym, y: Sym) -> Sym:
    return where(apply("logical_or", x >= y, _isnan(y)), g, 0.0)


def _fmin_x(g: Sym, ans: Sym, x: Sym, y: Sym) -> Sym:
    return where(apply("logical_or", x <= y, _isnan(y)), g, 0.0)


defprim("fmax", np.fmax, arity=2, infer=elementwise,
        lin=[_fmax_x, lambda g, ans, x, y: where(apply("logical_or", x >= y, _isnan(y)), 0.0, g)])
defprim("fmin", np.fmin, arity=2, infer=elementwise,
        lin=[_fmin_x, lambda g, ans, x, y: where(apply("logical_or", x <= y, _isnan(y)), 0.0, g)])
defprim("copy", np.copy, infer=same_as_first, emit=Emit("call", "np.copy", scalar="float"),
        lin=[lambda g, ans, x: g])

# Not differentiable: tests and index computations.
defprim("logical_or", np.logical_or, arity=2, infer=elementwise_bool)
defprim("logical_not", np.logical_not, infer=elementwise_bool)
defprim("isnan", np.isnan, infer=elementwise_bool, emit=Emit("call", "np.isnan", scalar="math.isnan"))
defprim("isinf", np.isinf, infer=elementwise_bool, emit=Emit("call", "np.isinf", scalar="math.isinf"))
defprim("isfinite", np.isfinite, infer=elementwise_bool,
        emit=Emit("call", "np.isfinite", scalar="math.isfinite"))
defprim("argsort", np.argsort, params=(("axis", -1),), infer=lambda ts, ps: Array(
        "int64", _ones_of(ts[0]) if ps.get("axis") is not None else (None,)))
for _name in ("argmax", "argmin"):
    defprim(_name, getattr(np, _name), params=(("axis", None), ("keepdims", False)),
            infer=lambda ts, ps: _int_reduce_type(ts, ps))


def _int_reduce_type(types: Sequence[Ty], params: dict[str, Any]) -> Ty:
    t = _reduce_type(types, params)
    return Array("int64", t.ones) if isinstance(t, Array) else Scalar("int64", weak=False)


# ------------------------------------------------------------------------------- statistics

_VAR = (("axis", None), ("ddof", 0), ("keepdims", False))


def _var_terms(ans: Sym, x: Sym, axis: Any, ddof: Any) -> tuple[Sym, Sym]:
    """``x - mean`` (with the reduced axes kept) and ``2 / (N - ddof)``."""
    count = size(x) / size(ans) if ans.is_array else size(x)
    return x - apply("mean", x, axis=axis, keepdims=True), 2.0 / (count - ddof)


def _var_jvp(g: Sym, ans: Sym, x: Sym, axis: Any = None, ddof: Any = 0,
             keepdims: bool = False) -> Sym:
    d, scale = _var_terms(ans, x, axis, ddof)
    return sum_(g * d, axis=axis, keepdims=keepdims) * scale


def _var_vjp(g: Sym, ans: Sym, x: Sym, axis: Any = None, ddof: Any = 0,
             keepdims: bool = False) -> Sym:
    d, scale = _var_terms(ans, x, axis, ddof)
    return _regrow(g, x, axis, keepdims) * d * scale


defprim("var", np.var, params=_VAR, infer=_reduce_float_type, jvp=[_var_jvp], vjp=[_var_vjp],
        lazy_ok=True)
# std = sqrt(var): the rules of var, scaled by 1 / (2 std).
defprim("std", np.std, params=_VAR, infer=_reduce_float_type,
        jvp=[lambda g, ans, x, **p: _var_jvp(g, ans, x, **p) / (2 * _nonzero(ans))],
        vjp=[lambda g, ans, x, **p: _var_vjp(g / (2 * _nonzero(ans)), ans, x, **p)],
        lazy_ok=True)  # 0 where all of x is equal (see _nonzero)


def _revcumsum(g: Sym, axis: Any) -> Sym:
    """``g`` summed from the end: the adjoint of np.cumsum along `axis`."""
    return _flip(apply("cumsum", _flip(g, axis), axis=axis), axis)


def _cumsum_vjp(g: Sym, ans: Sym, x: Sym, axis: Any = None) -> Sym:
    out = _revcumsum(g, axis)
    return reshape(out, shape_of(x)) if axis is None and x.ndim != 1 else out


def _cumprod_vjp(g: Sym, ans: Sym, x: Sym, axis: Any = None) -> Sym:
    return _cumsum_vjp(g * ans, ans, x, axis) / x


defprim("cumsum", np.cumsum, params=(("axis", None),), infer=_cum_type,
        jvp=[lambda g, ans, x, axis=None: apply("cumsum", g, axis=axis)], vjp=[_cumsum_vjp])
# d cumprod(x)_i = cumprod(x)_i * sum_{j <= i} dx_j / x_j, so no zeros in x.
defprim("cumprod", np.cumprod, params=(("axis", None),), infer=_cum_type,
        jvp=[lambda g, ans, x, axis=None: ans * apply("cumsum", g / x, axis=axis)],
        vjp=[_cumprod_vjp])


def _present(x: Sym) -> Sym:
    return apply("logical_not", _isnan(x))


# NaN entries carry no derivative: they do not take part in the result.
defprim("nansum", np.nansum, params=(("axis", None), ("keepdims", False)), infer=_reduce_type,
        jvp=[lambda g, ans, x, axis=None, keepdims=False:
             sum_(where(_isnan(x), 0.0, g), axis=axis, keepdims=keepdims)],
        vjp=[lambda g, ans, x, axis=None, keepdims=False:
             where(_isnan(x), 0.0, _regrow(g, x, axis, keepdims))], lazy_ok=True)
defprim("nanmean", np.nanmean, params=(("axis", None), ("keepdims", False)),
        infer=_reduce_float_type,
        jvp=[lambda g, ans, x, axis=None, keepdims=False:
             sum_(where(_isnan(x), 0.0, g), axis=axis, keepdims=keepdims) /
             sum_(_present(x), axis=axis, keepdims=keepdims)],
        vjp=[lambda g, ans, x, axis=None, keepdims=False:
             where(_isnan(x), 0.0, _regrow(g, x, axis, keepdims) /
                   sum_(_present(x), axis=axis, keepdims=True))], lazy_ok=True)

# ------------------------------------------------------------------------------------ shape


def _append_vjp(g: Sym, ans: Sym, a: Sym, b: Sym, axis: Any = None, first: bool = True) -> Sym:
    """The part of `g` that `a` (first) or `b` became in np.append(a, b, axis)."""
    if axis is None:
        n = size(a)
        part = apply("getitem", g, n, spec=(slice(None, Dyn(0)),) if first else
                     (slice(Dyn(0), None),))
        return reshape(part, shape_of(a if first else b))
    k = axis_index(axis, a.ndim or 1)
    n = _dim(a, k)
    cut = slice(None, Dyn(0)) if first else slice(Dyn(0), None)
    return apply("getitem", g, n, spec=(slice(None),) * k + (cut,))


def _zeros(x: Sym) -> Sym:
    return apply("zeros_like", x)


def _length(a: Sym, axis: Any) -> Any:
    """How much of the concatenation `a` makes up (its length along `axis`, or its size)."""
    if axis is None:
        return size(a)
    ones = _ones_of(a.type)
    k = axis_index(axis, a.ndim or 1)
    return 1 if ones is not None and ones[k] else _dim(a, k)


def _concatenate_jvp(g: Sym, ans: Sym, *arrays: Sym, argnum: int, axis: Any = 0) -> Sym:
    return apply("concatenate", *[g if i == argnum else _zeros(a) for i, a in enumerate(arrays)],
                 axis=axis)


def _concatenate_vjp(g: Sym, ans: Sym, *arrays: Sym, argnum: int, axis: Any = 0) -> Sym:
    """The slice of `g` that argument `argnum` became."""
    start: Any = 0
    for a in arrays[:argnum]:
        start = start + _length(a, axis)
    stop = start + _length(arrays[argnum], axis)
    k = 0 if axis is None else axis % (arrays[argnum].ndim or 1)
    part = apply("getitem", g, start, stop, spec=(slice(None),) * k + (slice(Dyn(0), Dyn(1)),))
    return reshape(part, shape_of(arrays[argnum])) if axis is None else part


# np.append(a, b, axis=k) is np.concatenate((a, b), axis=k).
defprim("append", np.append, arity=2, params=(("axis", None),), infer=_append_type,
        jvp=[lambda g, ans, a, b, axis=None: apply("append", g, _zeros(b), axis=axis),
             lambda g, ans, a, b, axis=None: apply("append", _zeros(a), g, axis=axis)],
        vjp=[lambda g, ans, a, b, axis=None: _append_vjp(g, ans, a, b, axis, True),
             lambda g, ans, a, b, axis=None: _append_vjp(g, ans, a, b, axis, False)])
def _stack_type(types: Sequence[Ty], params: dict[str, Any]) -> Ty:
    dt, axis = promote(types), params.get("axis", 0)
    ones = [_ones_of(t) for t in types]
    if any(o is None for o in ones) or axis is DYNAMIC or len({len(o) for o in ones}) != 1:
        return Array(dt, None)
    joined = list(ones[0])
    for o in ones[1:]:
        joined = [_join_one(p, q) for p, q in zip(joined, o)]
    k = axis % (len(joined) + 1)
    return Array(dt, tuple(joined[:k]) + (len(types) == 1,) + tuple(joined[k:]))


def _stack_rule(adjoint: bool) -> Any:
    def rule(g: Sym, ans: Sym, *arrays: Sym, argnum: int, axis: int = 0) -> Sym:
        if adjoint:  # the slice of g that argument `argnum` became
            k = axis % (arrays[argnum].ndim + 1)
            return apply("getitem", g, spec=(slice(None),) * k + (argnum,))
        return apply("stack", *[g if i == argnum else _zeros(a) for i, a in enumerate(arrays)],
                     axis=axis)
    return rule


defprim("stack", lambda *arrays, axis=0: np.stack(arrays, axis=axis), arity=None,
        params=(("axis", 0),), infer=_stack_type, emit=Emit("sequence", "np.stack"),
        jvp=[_stack_rule(False)], vjp=[_stack_rule(True)])
defprim("concatenate", lambda *arrays, axis=0: np.concatenate(arrays, axis=axis), arity=None,
        params=(("axis", 0),), infer=_concatenate_type, emit=Emit("sequence", "np.concatenate"),
        jvp=[_concatenate_jvp], vjp=[_concatenate_vjp])
defprim("squeeze", np.squeeze, params=(("axis", None),), infer=_squeeze_type,
        jvp=[lambda g, ans, x, axis=None: apply("squeeze", g, axis=axis)],
        vjp=[lambda g, ans, x, axis=None: reshape(g, shape_of(x))])
defprim("flip", np.flip, params=(("axis", None),), infer=same_as_first,
        jvp=[lambda g, ans, x, axis=None: _flip(g, axis)],
        vjp=[lambda g, ans, x, axis=None: _flip(g, axis)])


def _neg_shift(shift: Any) -> Any:
    return -shift if isinstance(shift, int) else tuple(-s for s in shift)


defprim("roll", np.roll, params=(("shift", 0), ("axis", None)), infer=same_as_first,
        emit=Emit("call", "np.roll", positional=("shift",)),
        jvp=[lambda g, ans, x, shift=0, axis=None: apply("roll", g, shift=shift, axis=axis)],
        vjp=[lambda g, ans, x, shift=0, axis=None:
             apply("roll", g, shift=_neg_shift(shift), axis=axis)])


def _tile_vjp(g: Sym, ans: Sym, x: Sym, reps: Any = 1) -> Sym:
    r = _ints(reps)
    d0 = x.ndim or 0
    d = max(d0, len(r))
    r = (1,) * (d - len(r)) + r
    dims = [1] * (d - d0) + [_dim(x, i) for i in range(d0)]
    split: list[Any] = []
    for n_rep, n in zip(r, dims):
        split += [n_rep, n]
    summed = sum_(reshape(g, tuple(split)), axis=tuple(range(0, 2 * d, 2)))
    return reshape(summed, shape_of(x)) if x.is_array else reshape(summed, ())


defprim("tile", np.tile, params=(("reps", 1),), infer=_tile_type,
        emit=Emit("call", "np.tile", positional=("reps",)),
        jvp=[lambda g, ans, x, reps=1: apply("tile", g, reps=reps)], vjp=[_tile_vjp])


def _repeat_vjp(g: Sym, ans: Sym, x: Sym, repeats: Any = 1, axis: Any = None) -> Sym:
    if axis is None:
        return reshape(sum_(reshape(g, (-1, repeats)), axis=1), shape_of(x))
    k = axis_index(axis, x.ndim or 1)
    dims = [_dim(x, i) for i in range(x.ndim or 0)]
    return sum_(reshape(g, tuple(dims[:k + 1]) + (repeats,) + tuple(dims[k + 1:])), axis=k + 1)


defprim("repeat", np.repeat, params=(("repeats", 1), ("axis", None)), infer=_repeat_type,
        emit=Emit("call", "np.repeat", positional=("repeats",)),
        jvp=[lambda g, ans, x, repeats=1, axis=None:
             apply("repeat", g, repeats=repeats, axis=axis)], vjp=[_repeat_vjp])
defprim("pad", lambda x, pad_width, constant_values=0:
        np.pad(x, pad_width, constant_values=constant_values),
        params=(("pad_width", ()), ("constant_values", 0)), infer=_pad_type,
        emit=Emit("call", "np.pad", positional=("pad_width",)),
        jvp=[lambda g, ans, x, pad_width=(), constant_values=0:
             apply("pad", g, pad_width=pad_width)],
        vjp=[lambda g, ans, x, pad_width=(), constant_values=0:
             apply("getitem", g, spec=tuple(slice(b, -a if a else None) for b, a in pad_width))])
defprim("broadcast_to_shape", np.broadcast_to, params=(("shape", ()),),
        infer=_broadcast_shape_type, emit=Emit("call", "np.broadcast_to", positional=("shape",)),
        jvp=[lambda g, ans, x, shape=(): apply("broadcast_to_shape", g, shape=shape)],
        vjp=[lambda g, ans, x, shape=(): _unbroadcast(g, x)])
defprim("tril", np.tril, params=(("k", 0),), infer=same_as_first,
        jvp=[lambda g, ans, x, k=0: _tril(g, k)], vjp=[lambda g, ans, x, k=0: _tril(g, k)])
defprim("triu", np.triu, params=(("k", 0),), infer=same_as_first,
        jvp=[lambda g, ans, x, k=0: apply("triu", g, k=k)],
        vjp=[lambda g, ans, x, k=0: apply("triu", g, k=k)])


def _diagonal_vjp(g: Sym, ans: Sym, x: Sym, offset: int = 0) -> Sym:
    """Zeros shaped like `x` with `g` added on the diagonal (the diagonal axis of `g` is last)."""
    r = apply("construct", apply("getitem", shape_of(g), spec=(-1,)), fn=np.arange)
    rows, cols = (r, r + offset) if offset >= 0 else (r - offset, r)
    nd = g.ndim or 1
    front = g if nd == 1 else transpose(g, (nd - 1,) + tuple(range(nd - 1)))
    return apply("scatter", front, x, rows, cols, spec=(Dyn(0), Dyn(1)))


# np.diagonal of the first two axes (the surface moves other axes there first).
defprim("diagonal", np.diagonal, params=(("offset", 0),), infer=_diagonal_type,
        jvp=[lambda g, ans, x, offset=0: apply("diagonal", g, offset=offset)],
        vjp=[_diagonal_vjp])
# np.diag of a vector: the matrix with it on diagonal k (of a matrix, the surface uses diagonal).
defprim("diag", np.diag, params=(("k", 0),), infer=_diag_type,
        jvp=[lambda g, ans, v, k=0: apply("diag", g, k=k)],
        vjp=[lambda g, ans, v, k=0: apply("diagonal", g, offset=k)])

def _take_type(types: Sequence[Ty], params: dict[str, Any]) -> Ty:
    x, idx, k = _ones_of(types[0]), _ones_of(types[1]), params.get("axis")
    if x is None or idx is None or k is DYNAMIC or k is None:
        return Array(_dtype(types[0]), None)
    return Array(_dtype(types[0]), x[:k] + idx + x[k + 1:])


def _along_type(types: Sequence[Ty], params: dict[str, Any]) -> Ty:
    x, idx, k = _ones_of(types[0]), _ones_of(types[1]), params.get("axis")
    if x is None or idx is None or k is DYNAMIC or len(x) != len(idx):
        return Array(_dtype(types[0]), None)
    return Array(_dtype(types[0]), tuple(q if i == k else _join_one(p, q)
                                         for i, (p, q) in enumerate(zip(x, idx))))


def _take_vjp(g: Sym, ans: Sym, x: Sym, idx: Sym, axis: int = 0) -> Sym:
    """Zeros like `x` with `g` added at `idx` along `axis` (np.add.at, so repeats add up).

    The axis is moved to the front first: then the index needs no slices.
    """
    n, m = x.ndim or 0, idx.ndim or 0
    if axis == 0:
        return apply("scatter", g, x, idx, spec=(Dyn(0),))
    front = transpose(g, tuple(range(axis, axis + m)) + tuple(range(axis)) +
                      tuple(range(axis + m, n - 1 + m)))
    moved = apply("scatter", front, _moveaxis(x, axis, 0), idx, spec=(Dyn(0),))
    return _moveaxis(moved, 0, axis)


def _along_index(x: Sym, idx: Sym, axis: int) -> list[Any]:
    """The index arrays of ``x[i0, ..., idx, ..., in]``: aranges shaped to broadcast."""
    n = x.ndim or 0
    index: list[Any] = []
    for j in range(n):
        if j == axis:
            index.append(idx)
        else:
            r = apply("construct", _dim(x, j), fn=np.arange)
            index.append(reshape(r, tuple(-1 if i == j else 1 for i in range(n))))
    return index


# np.take with an index array (an int index is plain indexing) and np.take_along_axis.
defprim("take", np.take, arity=2, params=(("axis", None),), infer=_take_type,
        jvp=[lambda g, ans, x, idx, axis=None: apply("take", g, idx, axis=axis), None],
        vjp=[_take_vjp, None])
defprim("take_along_axis", np.take_along_axis, arity=2, params=(("axis", None),),
        infer=_along_type,
        jvp=[lambda g, ans, x, idx, axis=None: apply("take_along_axis", g, idx, axis=axis), None],
        vjp=[lambda g, ans, x, idx, axis=None: apply(
            "scatter", g, x, *_along_index(x, idx, axis), spec=tuple(
                Dyn(i) for i in range(x.ndim or 0))), None])

# ------------------------------------------------------------------------------------ einsum


def subscripts(spec: str) -> Sym:
    """An einsum subscripts string as an operand; its type carries the text for type rules."""
    return Sym(Const(spec, Opaque("einsum:" + spec)))


def _parse(t: Ty) -> tuple[list[str], str]:
    spec = t.kind.partition(":")[2] if isinstance(t, Opaque) else ""
    ins, _, out = spec.partition("->")
    return ins.split(","), out


def _einsum_type(types: Sequence[Ty], params: dict[str, Any]) -> Ty:
    ins, out = _parse(types[0])
    ops = types[1:]
    dt = promote(ops)
    ones: dict[str, bool | None] = {}
    for sub, t in zip(ins, ops):
        to = _ones_of(t)
        if to is None:
            return Array(dt, (None,) * len(out)) if out else Scalar(dt, weak=False)
        for c, o in zip(sub, to):
            ones[c] = _join_one(ones.get(c, True), o)
    return Array(dt, tuple(ones.get(c) for c in out)) if out else Scalar(dt, weak=False)


def _einsum_jvp(g: Sym, ans: Sym, spec: Sym, *ops: Sym, argnum: int) -> Sym | None:
    if argnum == 0:
        return None
    return apply("einsum", spec, *[g if i == argnum - 1 else o for i, o in enumerate(ops)])


def _einsum_vjp(g: Sym, ans: Sym, spec: Sym, *ops: Sym, argnum: int) -> Sym | None:
    """Contract `g` with the other operands back to operand `k`'s subscripts.

    Letters that only operand `k` has (summed away) come back as length-1 axes, which
    broadcast (the adjoint is constant along them); a letter repeated in operand `k` (a
    diagonal) gets its other occurrence from an identity matrix.
    """
    if argnum == 0:
        return None
    ins, out = _parse(spec.type)
    k = argnum - 1
    s, x = ins[k], ops[k]
    others = [(ins[j], ops[j]) for j in range(len(ops)) if j != k]
    have = set(out).union(*[set(sub) for sub, _ in others])
    uniq = "".join(dict.fromkeys(s))
    target = "".join(c for c in uniq if c in have)
    terms = [out] + [sub for sub, _ in others]
    if terms == [target]:
        r = g
    else:
        r = apply("einsum", subscripts(",".join(terms) + "->" + target), g,
                  *[o for _, o in others])
    repeated = [c for c in uniq if s.count(c) > 1]
    if repeated:
        fresh = iter(c for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZ" if c not in s)
        renamed, seen, eyes, eye_subs = "", set(), [], []
        for pos, c in enumerate(s):
            if c in seen:
                c2 = next(fresh)
                first = s.index(c)
                eyes.append(apply("construct", _dim(x, first), fn=np.eye))
                eye_subs.append(c + c2)
                renamed += c2
            else:
                renamed += c
                seen.add(c)
        have2 = set(target).union(*[set(e) for e in eye_subs])
        final = "".join(c for c in renamed if c in have2)
        r = apply("einsum", subscripts(",".join([target] + eye_subs) + "->" + final), r, *eyes)
        s, target = renamed, final
    missing = tuple(i for i, c in enumerate(s) if c not in target)
    return expand_dims(r, missing) if missing else r


defprim("einsum", np.einsum, arity=None, infer=_einsum_type, foldable=False,
        jvp=[_einsum_jvp], vjp=[_einsum_vjp])


def _einsum_surface(spec: Any, *operands: Any, **kwargs: Any) -> Sym:
    if kwargs:
        raise TypeError(f"np.einsum keywords {sorted(kwargs)} are not supported")
    spec = _static(spec, "the einsum subscripts")
    if not isinstance(spec, str) or "." in spec:
        raise TypeError("np.einsum takes a subscripts string (without '...') first")
    spec = spec.replace(" ", "")
    if "->" not in spec:  # implicit output: the letters seen once, in alphabetical order
        letters = spec.replace(",", "")
        spec += "->" + "".join(sorted(c for c in set(letters) if letters.count(c) == 1))
    return apply("einsum", subscripts(spec), *operands)


def _tensordot(a: Any, b: Any, axes: Any = 2) -> Sym:
    a, b = S(a), S(b)
    na, nb = a.ndim or 0, b.ndim or 0
    if isinstance(axes, int):
        pa, pb = tuple(range(na - axes, na)), tuple(range(axes))
    else:
        pa, pb = (_axes(ax, n) for ax, n in zip(axes, (na, nb)))
    la = "abcdefghijklm"[:na]
    lb = list("nopqrstuvwxyz"[:nb])
    for i, j in zip(pa, pb):
        lb[j] = la[i]
    out = "".join(c for i, c in enumerate(la) if i not in pa) + \
        "".join(c for j, c in enumerate(lb) if j not in pb)
    return apply("einsum", subscripts(f"{la},{''.join(lb)}->{out}"), a, b)


def _inner(a: Any, b: Any) -> Sym:
    a, b = S(a), S(b)
    if not a.is_array or not b.is_array:
        return a * b
    if a.ndim == 1 and b.ndim == 1:
        return matmul(a, b)
    return _tensordot(a, b, ((-1,), (-1,)))


def _vdot(a: Any, b: Any) -> Sym:
    a, b = S(a), S(b)
    if a.ndim == 1 and b.ndim == 1:
        return matmul(a, b)
    return sum_(apply("ravel", a) * apply("ravel", b))


def _kron_vjp(g: Sym, ans: Sym, a: Sym, b: Sym, first: bool) -> Sym:
    d = a.ndim or 0
    dims: list[Any] = []
    for i in range(d):
        dims += [_dim(a, i), _dim(b, i)]
    la, lb = "abcdefgh"[:d], "ABCDEFGH"[:d]
    t = "".join(p + q for p, q in zip(la, lb))
    blocks = reshape(g, tuple(dims))
    if first:
        return apply("einsum", subscripts(f"{t},{lb}->{la}"), blocks, b)
    return apply("einsum", subscripts(f"{t},{la}->{lb}"), blocks, a)


# Both operands of the same rank (the surface multiplies when one is a scalar).
defprim("kron", np.kron, arity=2, infer=_kron_type,
        jvp=[lambda g, ans, a, b: apply("kron", g, b), lambda g, ans, a, b: apply("kron", a, g)],
        vjp=[lambda g, ans, a, b: _kron_vjp(g, ans, a, b, True),
             lambda g, ans, a, b: _kron_vjp(g, ans, a, b, False)])

# ---------------------------------------------------------------------------- linear algebra

defprim("inv", np.linalg.inv, infer=_square_matrix_type, emit=Emit("call", "np.linalg.inv"),
        jvp=[lambda g, ans, a: -matmul(matmul(ans, g), ans)],
        vjp=[lambda g, ans, a: -matmul(matmul(_swap_last(ans), g), _swap_last(ans))])


def _solve_vjp_a(g: Sym, ans: Sym, a: Sym, b: Sym) -> Sym:
    bb = _solve(_swap_last(a), g)
    if ans.ndim == 1:
        return -apply("outer", bb, ans)
    return -matmul(bb, _swap_last(ans))


# b is a vector or a matrix of right-hand sides (with the same batch axes as a).
defprim("solve", np.linalg.solve, arity=2, infer=_solve_type,
        emit=Emit("call", "np.linalg.solve"),
        jvp=[lambda g, ans, a, b: -_solve(a, matmul(g, ans)), lambda g, ans, a, b: _solve(a, g)],
        vjp=[_solve_vjp_a, lambda g, ans, a, b: _solve(_swap_last(a), g)])


def _det_vjp(g: Sym, ans: Sym, a: Sym) -> Sym:
    scale = g * ans
    if scale.is_array:
        scale = expand_dims(scale, (-2, -1))
    return scale * _swap_last(_inv(a))


defprim("det", np.linalg.det, infer=_drop_last_two, emit=Emit("call", "np.linalg.det"),
        jvp=[lambda g, ans, a: ans * sum_(_swap_last(_inv(a)) * g, axis=(-2, -1))],
        vjp=[_det_vjp])
# The 2-norm of vectors and the Frobenius norm of matrices (np.linalg.norm with ord=None).
defprim("norm", np.linalg.norm, params=(("axis", None), ("keepdims", False)),
        infer=_reduce_float_type, emit=Emit("call", "np.linalg.norm"),
        jvp=[lambda g, ans, x, axis=None, keepdims=False:
             sum_(g * x, axis=axis, keepdims=keepdims) / _nonzero(ans)],
        vjp=[lambda g, ans, x, axis=None, keepdims=False:
             _regrow(g / _nonzero(ans), x, axis, keepdims) * x], lazy_ok=True)  # 0 at x = 0


def _phi(x: Sym) -> Sym:
    """The lower triangle of `x` with its diagonal halved."""
    return 0.5 * (_tril(x) + _tril(x, -1))


def _sym_lower(d: Sym) -> Sym:
    """The symmetric matrix the lower triangle of `d` stands for (LAPACK reads only that)."""
    return _tril(d) + _swap_last(_tril(d, -1))


def _lower_adjoint(s: Sym) -> Sym:
    """Adjoint of :func:`_sym_lower`: each lower entry collects its two mirror images."""
    return _tril(s) + _tril(_swap_last(s), -1)


def _cholesky_jvp(g: Sym, ans: Sym, a: Sym) -> Sym:
    linv = _inv(ans)
    return matmul(ans, _phi(matmul(matmul(linv, _sym_lower(g)), _swap_last(linv))))


def _cholesky_vjp(g: Sym, ans: Sym, a: Sym) -> Sym:
    linv = _inv(ans)
    p = _phi(matmul(_swap_last(ans), g))
    return _lower_adjoint(matmul(matmul(_swap_last(linv), p), linv))


# Only the lower triangle of `a` is read, so derivatives see it as the symmetric matrix that
# triangle stands for, and adjoints land in it.
defprim("cholesky", np.linalg.cholesky, infer=_square_matrix_type,
        emit=Emit("call", "np.linalg.cholesky"), jvp=[_cholesky_jvp], vjp=[_cholesky_vjp])

# The rules of the single-result forms read the factors of the full factorisation
# (s2sad/prims_multi.py), whose own rules make them differentiable again.
def _eigvalsh_jvp(g: Sym, ans: Sym, a: Sym) -> Sym:
    _w, v = apply("eigh", a)  # type: ignore[misc]
    return sum_(v * matmul(_sym_lower(g), v), axis=-2)


def _eigvalsh_vjp(g: Sym, ans: Sym, a: Sym) -> Sym:
    _w, v = apply("eigh", a)  # type: ignore[misc]
    return _lower_adjoint(matmul(v * expand_dims(g, -2), _swap_last(v)))


# Distinct eigenvalues assumed (derivatives of repeated ones do not exist).
defprim("eigvalsh", np.linalg.eigvalsh, infer=_values_type,
        emit=Emit("call", "np.linalg.eigvalsh"), jvp=[_eigvalsh_jvp], vjp=[_eigvalsh_vjp])


def _svdvals_jvp(g: Sym, ans: Sym, a: Sym, compute_uv: Any = None) -> Sym:
    u, _s, vh = apply("svd", a, full_matrices=False)  # type: ignore[misc]
    return sum_(u * matmul(g, _swap_last(vh)), axis=-2)


def _svdvals_vjp(g: Sym, ans: Sym, a: Sym, compute_uv: Any = None) -> Sym:
    u, _s, vh = apply("svd", a, full_matrices=False)  # type: ignore[misc]
    return matmul(u * expand_dims(g, -2), vh)


# Singular values (np.linalg.svd(a, compute_uv=False)), distinct and nonzero.
defprim("svdvals", lambda a, compute_uv=False: np.linalg.svd(a, compute_uv=False),
        params=(("compute_uv", None),), infer=_values_type, emit=Emit("call", "np.linalg.svd"),
        jvp=[_svdvals_jvp], vjp=[_svdvals_vjp])

# ------------------------------------------------------------------ surface: what users call


def _unary(name: str) -> Any:
    return lambda x: apply(name, x)


def _binary(name: str) -> Any:
    return lambda x, y: apply(name, x, y)


def _float_power(x: Any, y: Any) -> Sym:
    x = S(x)
    if _dtype(x.type) not in ("float64", "longdouble"):
        x = apply("astype", x, dtype=np.dtype("float64")) if x.is_array else x * 1.0
    return x ** y


def _round(x: Any, decimals: Any = 0) -> Sym:
    if decimals != 0:
        raise TypeError("only decimals=0 is supported")
    return apply("round", x)


def _var_surface(name: str) -> Any:
    def surface(x: Any, axis: Any = None, dtype: Any = None, ddof: Any = 0,
                keepdims: bool = False) -> Sym:
        if dtype is not None:
            x = apply("astype", x, dtype=np.dtype(dtype))
        return apply(name, x, axis=axis, ddof=_static(ddof, "ddof"), keepdims=keepdims)
    return surface


def _ptp(x: Any, axis: Any = None, keepdims: bool = False) -> Sym:
    return apply("max", x, axis=axis, keepdims=keepdims) - \
        apply("min", x, axis=axis, keepdims=keepdims)


def _average(a: Any, axis: Any = None, weights: Any = None, returned: bool = False,
             keepdims: bool = False) -> Sym:
    if returned:
        raise TypeError("returned=True gives two values, which is not supported")
    if weights is None:
        return apply("mean", a, axis=axis, keepdims=keepdims)
    a, w = S(a), S(weights)
    if a.ndim != w.ndim and axis is not None and w.ndim == 1 and isinstance(axis, int):
        k = axis_index(axis, a.ndim or 1)
        w = reshape(w, tuple(-1 if i == k else 1 for i in range(a.ndim or 0)))
    num = sum_(a * w, axis=axis, keepdims=keepdims)
    return num / sum_(w, axis=axis, keepdims=keepdims) if a.ndim == w.ndim or axis is None else \
        num / sum_(w)


def _squeeze(x: Any, axis: Any = None) -> Sym:
    return apply("squeeze", x, axis=tuple(axis) if isinstance(axis, list) else axis)


def _moveaxis(x: Any, source: Any, destination: Any) -> Sym:
    x = S(x)
    n = x.ndim or 0
    src, dst = _axes(source, n), _axes(destination, n)
    order = [i for i in range(n) if i not in src]
    for d, s in sorted(zip(dst, src)):
        order.insert(d, s)
    return transpose(x, tuple(order))


def _atleast_1d(x: Any) -> Sym:
    x = S(x)
    return x if x.is_array and (x.ndim or 0) >= 1 else reshape(x, (1,))


def _atleast_2d(x: Any) -> Sym:
    x = S(x)
    nd = x.ndim if x.is_array else 0
    return reshape(x, (1, 1)) if nd == 0 else expand_dims(x, 0) if nd == 1 else x


def _atleast_3d(x: Any) -> Sym:
    x = S(x)
    nd = x.ndim if x.is_array else 0
    if nd == 0:
        return reshape(x, (1, 1, 1))
    return expand_dims(x, (0, 2)) if nd == 1 else expand_dims(x, 2) if nd == 2 else x


def _atleast(fn: Any) -> Any:
    def surface(*xs: Any) -> Sym:
        if len(xs) != 1:
            raise TypeError("one argument only (several give a list of arrays)")
        return fn(xs[0])
    return surface


def _concatenate(arrays: Any, axis: Any = 0) -> Sym:
    arrays = [S(a) for a in arrays]
    if len(arrays) == 1:
        return arrays[0] if axis is not None else apply("ravel", arrays[0])
    return apply("concatenate", *arrays, axis=axis)


def _stack(arrays: Any, axis: int = 0) -> Sym:
    arrays = [S(a) for a in arrays]
    if axis == 0 and all(not a.is_array for a in arrays):
        return apply("pack", *arrays)
    if any(a.ndim is None for a in arrays) or not isinstance(axis, int):
        return _concatenate([expand_dims(a, axis) for a in arrays], axis)
    return apply("stack", *arrays, axis=axis)


def _hstack(arrays: Any) -> Sym:
    arrays = [_atleast_1d(a) for a in arrays]
    return _concatenate(arrays, 0 if all(a.ndim == 1 for a in arrays) else 1)


def _vstack(arrays: Any) -> Sym:
    return _concatenate([_atleast_2d(a) for a in arrays], 0)


def _tile(x: Any, reps: Any) -> Sym:
    return apply("tile", x, reps=_ints(_static(reps, "reps")))


def _repeat(x: Any, repeats: Any, axis: Any = None) -> Sym:
    r = _static(repeats, "repeats")
    if not isinstance(r, (int, np.integer)):
        raise TypeError("only an int number of repeats is supported")
    return apply("repeat", x, repeats=int(r), axis=axis)


def _pad(x: Any, pad_width: Any, mode: str = "constant", constant_values: Any = 0) -> Sym:
    if mode != "constant":
        raise TypeError(f"only mode='constant' is supported, not {mode!r}")
    x = S(x)
    n = x.ndim or 0
    pw = np.broadcast_to(np.asarray(_static(pad_width, "pad_width"), dtype=int), (n, 2))
    value = _static(constant_values, "constant_values")
    return apply("pad", x, pad_width=tuple((int(b), int(a)) for b, a in pw),
                 constant_values=value)


def _broadcast_to(x: Any, shape: Any) -> Sym:
    shape = _static(shape, "the shape")
    return apply("broadcast_to_shape", x, shape=(shape,) if isinstance(shape, int) else
                 tuple(shape))


def _diagonal(x: Any, offset: int = 0, axis1: int = 0, axis2: int = 1) -> Sym:
    x = S(x)
    n = x.ndim or 0
    a1, a2 = axis_index(axis1, n), axis_index(axis2, n)
    if (a1, a2) != (0, 1):
        x = transpose(x, (a1, a2) + tuple(i for i in range(n) if i not in (a1, a2)))
    return apply("diagonal", x, offset=offset)


def _diag(v: Any, k: int = 0) -> Sym:
    v = S(v)
    return apply("diag", v, k=k) if v.ndim == 1 else apply("diagonal", v, offset=k)


def _trace(x: Any, offset: int = 0, axis1: int = 0, axis2: int = 1) -> Sym:
    return sum_(_diagonal(x, offset, axis1, axis2), axis=-1)


def _index_atom(indices: Any) -> Any:
    return np.asarray(indices) if isinstance(indices, (list, tuple)) else indices


def _take(x: Any, indices: Any, axis: Any = None) -> Sym:
    x, idx = S(x), _index_atom(indices)
    if axis is None:
        x, axis = apply("ravel", x), 0
    if isinstance(idx, (int, np.integer)):
        return apply("getitem", x, spec=(slice(None),) * (axis_index(axis, x.ndim or 1)) + (int(idx),))
    return apply("take", x, idx, axis=axis_index(axis, x.ndim or 1))


def _take_along_axis(x: Any, indices: Any, axis: Any) -> Sym:
    x, idx = S(x), _index_atom(indices)
    if axis is None:
        x, axis = apply("ravel", x), 0
    return apply("take_along_axis", x, idx, axis=axis_index(axis, x.ndim or 1))


def _sort(x: Any, axis: Any = -1, kind: Any = None) -> Sym:
    x = S(x)
    if axis is None:
        x, axis = apply("ravel", x), -1
    return _take_along_axis(x, apply("argsort", x, axis=axis), axis)


def _full_like(a: Any, fill_value: Any, dtype: Any = None) -> Sym:
    if dtype is not None:
        raise TypeError("dtype= is not supported")
    a = S(a)
    value = S(fill_value)
    if _dtype(a.type) not in ("float16", "float32", "float64", "longdouble"):
        value = apply("stop_gradient", value)  # the fill is cast to a's integer dtype
    return apply("fill", value, a)


def _kron(a: Any, b: Any) -> Sym:
    a, b = S(a), S(b)
    if not a.is_array or not b.is_array:
        return a * b
    if a.ndim is None or b.ndim is None:
        raise TypeError("np.kron of an array whose rank is not known here")
    if a.ndim < b.ndim:  # NumPy puts leading axes of length 1 on the lower-rank operand
        a = apply("expand_dims", a, axis=tuple(range(b.ndim - a.ndim)))
    elif b.ndim < a.ndim:
        b = apply("expand_dims", b, axis=tuple(range(a.ndim - b.ndim)))
    return apply("kron", a, b)


def _norm(x: Any, ord: Any = None, axis: Any = None, keepdims: bool = False) -> Sym:
    x, ord = S(x), _static(ord, "ord")
    axis = tuple(axis) if isinstance(axis, list) else axis
    vector = axis is not None and not isinstance(axis, tuple) or axis is None and x.ndim == 1
    if ord is None or ord == "fro" or (ord == 2 and vector):
        return apply("norm", x, axis=axis, keepdims=keepdims)
    if vector and ord == 1:
        return sum_(apply("abs", x), axis=axis, keepdims=keepdims)
    if vector and ord == np.inf:
        return apply("max", apply("abs", x), axis=axis, keepdims=keepdims)
    if not vector and axis is None and ord in ("nuc", 2):
        s = apply("svdvals", x, compute_uv=False)
        return sum_(s, axis=-1) if ord == "nuc" else apply("max", s, axis=-1)
    raise TypeError(f"np.linalg.norm with ord={ord!r} is not supported")


def _matrix_power(a: Any, n: Any) -> Sym:
    n = _static(n, "the power")
    a = S(a)
    if n == 0:
        return apply("construct", _dim(a, -1), fn=np.eye)
    base = a if n > 0 else _inv(a)
    out = base
    for _ in range(abs(n) - 1):
        out = matmul(out, base)
    return out


def _svd(a: Any, full_matrices: bool = True, compute_uv: bool = True,
         hermitian: bool = False) -> Sym:
    if compute_uv or hermitian:
        raise TypeError("only np.linalg.svd(a, compute_uv=False) is supported (U and V^T "
                        "would be several results)")
    return apply("svdvals", a, compute_uv=False)


def _copy(x: Any, order: Any = "K") -> Sym:
    return apply("copy", x)


for _prim, _objs in [
    ("cbrt", (np.cbrt,)), ("arcsinh", (np.arcsinh, math.asinh)),
    ("arccosh", (np.arccosh, math.acosh)), ("arctanh", (np.arctanh, math.atanh)),
    ("sinc", (np.sinc,)), ("abs", (np.absolute, np.fabs)), ("trunc", (np.fix, math.trunc)),
    ("isnan", (np.isnan, math.isnan)), ("isinf", (np.isinf, math.isinf)),
    ("isfinite", (np.isfinite, math.isfinite)), ("logical_not", (np.logical_not,)),
]:
    bind(_objs, _unary(_prim))
for _prim, _pair in [
    ("logaddexp", (np.logaddexp,)), ("logaddexp2", (np.logaddexp2,)), ("fmax", (np.fmax,)),
    ("fmin", (np.fmin,)), ("logical_or", (np.logical_or,)), ("logical_and", (np.logical_and,)),
    ("mod", (np.mod, np.remainder)), ("floordiv", (np.floor_divide,)),
]:
    bind(_pair, _binary(_prim))

bind(np.exp2, lambda x: 2.0 ** S(x))
bind(np.float_power, _float_power)
bind((np.deg2rad, np.radians, math.radians), lambda x: S(x) * (math.pi / 180))
bind((np.rad2deg, np.degrees, math.degrees), lambda x: S(x) * (180 / math.pi))
bind(np.positive, lambda x: S(x))
bind((np.round, np.around, builtins.round), _round)
bind(np.copy, _copy)
bind(np.var, _var_surface("var"))
bind(np.std, _var_surface("std"))
bind(np.cumsum, lambda x, axis=None: apply("cumsum", x, axis=axis))
bind(np.cumprod, lambda x, axis=None: apply("cumprod", x, axis=axis))
bind(np.nansum, _reduction("nansum"))
bind(np.nanmean, _reduction("nanmean"))
bind(np.ptp, _ptp)
bind(np.average, _average)
bind(np.argsort, lambda x, axis=-1: apply("argsort", x, axis=axis))
bind(np.argmax, _reduction("argmax"))
bind(np.argmin, _reduction("argmin"))
bind(np.squeeze, _squeeze)
bind(np.moveaxis, _moveaxis)
bind(np.concatenate, _concatenate, sequences=True)
bind(np.append, lambda arr, values, axis=None: apply("append", arr, values, axis=axis))
bind(np.stack, _stack, sequences=True)
bind(np.hstack, _hstack, sequences=True)
bind(np.vstack, _vstack, sequences=True)
bind(np.atleast_1d, _atleast(_atleast_1d))
bind(np.atleast_2d, _atleast(_atleast_2d))
bind(np.atleast_3d, _atleast(_atleast_3d))
bind(np.tile, _tile)
bind(np.repeat, _repeat)
bind(np.broadcast_to, _broadcast_to)
bind(np.flip, lambda x, axis=None: _flip(x, tuple(axis) if isinstance(axis, list) else axis))
bind(np.fliplr, lambda x: _flip(x, 1))
bind(np.flipud, lambda x: _flip(x, 0))
bind(np.roll, lambda x, shift, axis=None: apply("roll", x, shift=_static(shift, "shift"),
                                                axis=axis))
bind(np.pad, _pad)
bind(np.tril, lambda x, k=0: _tril(x, k))
bind(np.triu, lambda x, k=0: apply("triu", x, k=k))
bind(np.diag, _diag)
bind(np.diagonal, _diagonal)
bind(np.trace, _trace)
bind(np.take, _take)
bind(np.take_along_axis, _take_along_axis)
bind(np.sort, _sort)
bind(np.full_like, _full_like)
bind(np.einsum, _einsum_surface)
bind(np.tensordot, _tensordot)
bind(np.inner, _inner)
bind(np.vdot, _vdot)
bind(np.kron, _kron)
bind(np.linalg.inv, _unary("inv"))
bind(np.linalg.solve, _binary("solve"))
bind(np.linalg.det, _unary("det"))
bind(np.linalg.norm, _norm)
bind(np.linalg.cholesky, _unary("cholesky"))
bind(np.linalg.eigvalsh, _unary("eigvalsh"))
bind(np.linalg.svd, _svd)
bind(np.linalg.matrix_power, _matrix_power)

METHODS.update({
    "var": _var_surface("var"), "std": _var_surface("std"),
    "cumsum": lambda x, axis=None: apply("cumsum", x, axis=axis),
    "cumprod": lambda x, axis=None: apply("cumprod", x, axis=axis),
    "squeeze": _squeeze, "swapaxes": lambda x, axis1, axis2:
    apply("swapaxes", x, axis1=axis1, axis2=axis2),
    "repeat": _repeat, "copy": _copy, "round": _round, "trace": _trace, "diagonal": _diagonal,
    "take": _take, "argsort": lambda x, axis=-1: apply("argsort", x, axis=axis),
    "argmax": lambda x, axis=None, keepdims=False: apply("argmax", x, axis=axis,
                                                         keepdims=keepdims),
    "argmin": lambda x, axis=None, keepdims=False: apply("argmin", x, axis=axis,
                                                         keepdims=keepdims),
})

# ------------------------------------------------------ more NumPy (issue 4, second batch)

# NaN-ignoring extremes: a NaN never equals the result, so the rule of np.max (the derivative
# shared equally between the entries that attain the extreme) already leaves NaN out.
for _name in ("nanmax", "nanmin"):
    defprim(_name, getattr(np, _name), params=(("axis", None), ("keepdims", False)),
            infer=_reduce_type,
            jvp=[lambda g, ans, x, **p: _extreme_lin(g, ans, x, forward=True, **p)],
            vjp=[_extreme_lin], lazy_ok=True)


def _nan_others(ans: Sym, x: Sym, axis: Any, keepdims: bool) -> Sym:
    nan = _isnan(x)
    return where(nan, 0.0, _prod_of_others(ans, where(nan, 1.0, x), axis, keepdims))


def _nanprod_jvp(g: Sym, ans: Sym, x: Sym, axis: Any = None, keepdims: bool = False) -> Sym:
    return sum_(where(_isnan(x), 0.0, g) * _nan_others(ans, x, axis, keepdims), axis=axis,
                keepdims=keepdims)


def _nanprod_vjp(g: Sym, ans: Sym, x: Sym, axis: Any = None, keepdims: bool = False) -> Sym:
    return _regrow(g, x, axis, keepdims) * _nan_others(ans, x, axis, keepdims)


# NaN counts as 1 (np.nanprod); zeros in x as for np.prod.
defprim("nanprod", np.nanprod, params=(("axis", None), ("keepdims", False)), infer=_reduce_type,
        jvp=[_nanprod_jvp], vjp=[_nanprod_vjp])


def _nanvar_terms(x: Sym, axis: Any, ddof: Any) -> tuple[Sym, Sym]:
    """``x - nanmean`` (0 at NaN, reduced axes kept) and ``2 / (count - ddof)`` (axes kept)."""
    nan = _isnan(x)
    d = where(nan, 0.0, x - apply("nanmean", x, axis=axis, keepdims=True))
    return d, 2.0 / (sum_(_present(x), axis=axis, keepdims=True) - ddof)


def _nanvar_jvp(g: Sym, ans: Sym, x: Sym, axis: Any = None, ddof: Any = 0,
                keepdims: bool = False) -> Sym:
    d, scale = _nanvar_terms(x, axis, ddof)
    return sum_(g * d * scale, axis=axis, keepdims=keepdims)


def _nanvar_vjp(g: Sym, ans: Sym, x: Sym, axis: Any = None, ddof: Any = 0,
                keepdims: bool = False) -> Sym:
    d, scale = _nanvar_terms(x, axis, ddof)
    return _regrow(g, x, axis, keepdims) * d * scale


# np.nanvar and np.nanstd: np.var and np.std of the entries that are not NaN.
defprim("nanvar", np.nanvar, params=_VAR, infer=_reduce_float_type, jvp=[_nanvar_jvp],
        vjp=[_nanvar_vjp])
defprim("nanstd", np.nanstd, params=_VAR, infer=_reduce_float_type,
        jvp=[lambda g, ans, x, **p: _nanvar_jvp(g, ans, x, **p) / (2 * _nonzero(ans))],
        vjp=[lambda g, ans, x, **p: _nanvar_vjp(g / (2 * _nonzero(ans)), ans, x, **p)])


# The cross product of 3-vectors along the last axis; <c, a x b> = <b x c, a> = <c x a, b>.
defprim("cross", np.cross, arity=2, infer=elementwise,
        jvp=[lambda g, ans, a, b: apply("cross", g, b), lambda g, ans, a, b: apply("cross", a, g)],
        vjp=[lambda g, ans, a, b: _unbroadcast(apply("cross", b, g), a),
             lambda g, ans, a, b: _unbroadcast(apply("cross", g, a), b)])

# copysign(x, y) = |x| sign(y): derivative sign(x) sign(y) in x (0 at x = 0, as for abs); y
# only chooses a sign, so its derivative is 0.
defprim("copysign", np.copysign, arity=2, emit=Emit("call", "np.copysign", scalar="math.copysign"),
        lin=[lambda g, ans, x, y: g * (sign(x) * sign(ans)), None])
# fmod(x, y) = x - trunc(x / y) y (the remainder with the sign of x).
defprim("fmod", np.fmod, arity=2, emit=Emit("call", "np.fmod", scalar="math.fmod"),
        lin=[lambda g, ans, x, y: g, lambda g, ans, x, y: -g * apply("trunc", x / y)])
# ldexp(x, n) = x 2**n with integer n: differentiable in x only.
defprim("ldexp", np.ldexp, arity=2, emit=Emit("call", "np.ldexp", scalar="math.ldexp"),
        lin=[lambda g, ans, x, n: g * apply("ldexp", 1.0, n), None])
# Entries that are not finite become constants, so their derivative is 0.
defprim("nan_to_num", np.nan_to_num, params=(("nan", 0.0), ("posinf", None), ("neginf", None)),
        infer=same_as_first,
        lin=[lambda g, ans, x, **p: where(apply("isfinite", x), g, 0.0)])
# A step: zero derivative (not differentiable at 0).
defprim("heaviside", np.heaviside, arity=2)
defprim("searchsorted", np.searchsorted, arity=2, params=(("side", "left"),),
        infer=lambda ts, ps: Array("int64", _ones_of(ts[1])) if isinstance(ts[1], Array)
        else Scalar("int64", weak=False))


def _pinv_type(types: Sequence[Ty], params: dict[str, Any]) -> Ty:
    a = types[0]
    dt = promote([a], to_float=True)
    if not isinstance(a, Array) or a.ones is None:
        return Array(dt, None)
    return Array(dt, a.ones[:-2] + (a.ones[-1], a.ones[-2]))


def _eye_like(a: Sym, axis: int) -> Sym:
    return apply("construct", _dim(a, axis), fn=np.eye)


def _pinv_jvp(g: Sym, ans: Sym, a: Sym) -> Sym:
    p, pt, gt = ans, _swap_last(ans), _swap_last(g)
    return -matmul(matmul(p, g), p) \
        + matmul(matmul(matmul(p, pt), gt), _eye_like(a, -2) - matmul(a, p)) \
        + matmul(matmul(_eye_like(a, -1) - matmul(p, a), gt), matmul(pt, p))


def _pinv_vjp(g: Sym, ans: Sym, a: Sym) -> Sym:
    p, pt, gt = ans, _swap_last(ans), _swap_last(g)
    return -matmul(matmul(pt, g), pt) \
        + matmul(matmul(_eye_like(a, -2) - matmul(a, p), gt), matmul(p, pt)) \
        + matmul(matmul(matmul(pt, p), gt), _eye_like(a, -1) - matmul(p, a))


# The Moore-Penrose inverse of a matrix of full rank (the rank must not change nearby).
defprim("pinv", np.linalg.pinv, infer=_pinv_type, emit=Emit("call", "np.linalg.pinv"),
        jvp=[_pinv_jvp], vjp=[_pinv_vjp])


def _convolve_vjp(g: Sym, ans: Sym, a: Sym, v: Sym, mode: str = "full",
                  first: bool = True) -> Sym:
    """Correlate `g`, zero-padded to the length of the full convolution, with the other
    operand: the modes 'valid' and 'same' keep the middle of the full result."""
    if mode != "full":
        n = _dim(a, 0) + _dim(v, 0) - 1
        start = apply("floordiv", n - _dim(g, 0), 2)
        g = apply("scatter", g, apply("construct", n, fn=np.zeros), start, start + _dim(g, 0),
                  spec=(slice(Dyn(0), Dyn(1)),))
    return apply("convolve", g, _flip(v if first else a), mode="valid")


# np.convolve of two 1-D arrays, in the modes 'full', 'valid' and 'same'.
defprim("convolve", np.convolve, arity=2, params=(("mode", "full"),),
        infer=lambda ts, ps: Array(promote(ts), (None,)),
        emit=Emit("call", "np.convolve", positional=("mode",)),
        jvp=[lambda g, ans, a, v, mode="full": apply("convolve", g, v, mode=mode),
             lambda g, ans, a, v, mode="full": apply("convolve", a, g, mode=mode)],
        vjp=[lambda g, ans, a, v, mode="full": _convolve_vjp(g, ans, a, v, mode, True),
             lambda g, ans, a, v, mode="full": _convolve_vjp(g, ans, a, v, mode, False)])


def _interp_segment(x: Sym, xp: Sym, fp: Sym) -> tuple[Sym, Sym, Sym]:
    """The index i of the segment [xp[i], xp[i + 1]] that holds x (the one to the right at a
    knot, the last one at xp[-1], the nearest one outside), and its run xp[i + 1] - xp[i]."""
    i = apply("clip", apply("searchsorted", xp, x, side="right") - 1, 0, size(xp) - 2)
    at = (lambda t, k: apply("getitem", t, k, spec=(Dyn(0),)))
    return i, at(xp, i), at(xp, i + 1) - at(xp, i)


def _interp_x(g: Sym, ans: Sym, x: Sym, xp: Sym, fp: Sym) -> Sym:
    i, _, run = _interp_segment(x, xp, fp)
    at = (lambda t, k: apply("getitem", t, k, spec=(Dyn(0),)))
    slope = (at(fp, i + 1) - at(fp, i)) / run
    inside = apply("logical_and", x >= at(xp, 0), x <= at(xp, -1))
    return g * where(inside, slope, 0.0)


def _interp_fp_vjp(g: Sym, ans: Sym, x: Sym, xp: Sym, fp: Sym) -> Sym:
    i, start, run = _interp_segment(x, xp, fp)
    w = apply("clip", (x - start) / run, 0.0, 1.0)  # the weight of fp[i + 1]
    return apply("scatter", g * (1.0 - w), fp, i, spec=(Dyn(0),)) + \
        apply("scatter", g * w, fp, i + 1, spec=(Dyn(0),))


# np.interp(x, xp, fp) (increasing xp, at least two knots): the slope of the segment x falls
# in (the right one at a knot, the last at xp[-1]), 0 outside [xp[0], xp[-1]] where the
# result is constant; linear in fp.  Not differentiated with respect to the knots xp.
_XP = no_derivative("the knots `xp` of np.interp", "pass knots that do not depend on the "
                    "differentiated inputs, or wrap them in s2sad.stop_gradient")
defprim("interp", np.interp, arity=3, infer=lambda ts, ps: broadcast_types(
        ts[:1], promote(ts, to_float=True)),
        jvp=[_interp_x, _XP, lambda g, ans, x, xp, fp: apply("interp", x, xp, g)],
        vjp=[_interp_x, _XP, _interp_fp_vjp])


def _polyder(p: Sym) -> Sym:
    """The coefficients of the derivative of the polynomial with coefficients `p`."""
    n = size(p)
    return apply("getitem", p, spec=(slice(None, -1),)) * \
        apply("construct", n - 1, 0, -1, fn=np.arange)


def _polyval_p_vjp(g: Sym, ans: Sym, p: Sym, x: Sym) -> Sym:
    powers = apply("construct", size(p) - 1, -1, -1, fn=np.arange)
    if not x.is_array:
        return g * x ** powers
    terms = expand_dims(g, -1) * expand_dims(x, -1) ** powers
    return sum_(terms, axis=tuple(range(x.ndim or 0)))


# np.polyval(p, x): p[0] x**(n-1) + ... + p[n-1] for 1-D p, elementwise in x.
defprim("polyval", np.polyval, arity=2, infer=lambda ts, ps: broadcast_types(
        ts[1:], promote(ts, to_float=True)),
        jvp=[lambda g, ans, p, x: apply("polyval", g, x),
             lambda g, ans, p, x: g * apply("polyval", _polyder(p), x)],
        vjp=[_polyval_p_vjp, lambda g, ans, p, x: g * apply("polyval", _polyder(p), x)])


def _select(condlist: Any, choicelist: Any, default: Any = 0) -> Sym:
    if len(condlist) != len(choicelist):
        raise TypeError("np.select needs as many conditions as choices")
    out = S(default)
    for cond, choice in reversed(list(zip(condlist, choicelist))):
        out = where(cond, choice, out)  # the first condition that holds wins
    return out


def _multi_dot(arrays: Any, out: Any = None) -> Sym:
    arrays = [S(a) for a in arrays]
    result = arrays[0]
    for a in arrays[1:]:
        result = matmul(result, a)
    return result


def _dstack(arrays: Any) -> Sym:
    return _concatenate([_atleast_3d(a) for a in arrays], 2)


def _column_stack(arrays: Any) -> Sym:
    cols = []
    for a in arrays:
        a = S(a)
        cols.append(reshape(a, (-1, 1)) if not a.is_array or a.ndim in (0, 1) else a)
    return _concatenate(cols, 1)


def _diff(a: Any, n: int = 1, axis: int = -1, **ends: Any) -> Sym:
    if ends:
        raise TypeError("np.diff with prepend= or append= is not supported")
    a = S(a)
    k = axis_index(axis, a.ndim or 1)
    for _ in range(_static(n, "n")):
        a = apply("getitem", a, spec=(slice(None),) * k + (slice(1, None),)) - \
            apply("getitem", a, spec=(slice(None),) * k + (slice(None, -1),))
    return a


def _rot90(m: Any, k: int = 1, axes: Any = (0, 1)) -> Sym:
    m = S(m)
    n = m.ndim or 0
    a0, a1 = (axis_index(i, n) for i in axes)
    k = _static(k, "k") % 4
    swap = list(range(n))
    swap[a0], swap[a1] = a1, a0
    if k == 0:
        return m
    if k == 2:
        return _flip(_flip(m, a0), a1)
    if k == 1:
        return transpose(_flip(m, a1), tuple(swap))
    return _flip(transpose(m, tuple(swap)), a1)


def _diagflat(v: Any, k: int = 0) -> Sym:
    return apply("diag", apply("ravel", v), k=k)


def _trapezoid(y: Any, x: Any = None, dx: Any = 1.0, axis: int = -1) -> Sym:
    y = S(y)
    k = axis_index(axis, y.ndim or 1)
    head = (slice(None),) * k
    avg = (apply("getitem", y, spec=head + (slice(1, None),)) +
           apply("getitem", y, spec=head + (slice(None, -1),))) / 2.0
    if x is None:
        return sum_(avg * dx, axis=k)
    x = S(x)
    steps = _diff(x) if x.ndim == 1 else _diff(x, axis=axis)
    if x.ndim == 1 and (y.ndim or 1) > 1:
        steps = reshape(steps, tuple(-1 if i == k else 1 for i in range(y.ndim or 1)))
    return sum_(avg * steps, axis=k)


def _real_input(x: Any) -> Sym:
    x = S(x)
    if _dtype(x.type).startswith("complex"):
        raise TypeError("complex arrays are not supported")
    return x


def _vector_norm(x: Any, axis: Any = None, keepdims: bool = False, ord: Any = 2) -> Sym:
    x = S(x)
    axis = tuple(axis) if isinstance(axis, list) else axis
    if axis is None and x.ndim != 1:
        if keepdims:
            raise TypeError("np.linalg.vector_norm over every axis with keepdims=True is not "
                            "supported")
        x = apply("ravel", x)
    if isinstance(axis, tuple) and len(axis) == 1:
        axis = axis[0]
    if isinstance(axis, tuple):
        raise TypeError("np.linalg.vector_norm over several axes is not supported")
    return _norm(x, ord=ord, axis=axis, keepdims=keepdims)


def _matrix_norm(x: Any, keepdims: bool = False, ord: Any = "fro") -> Sym:
    x, ord = S(x), _static(ord, "ord")
    if ord == "fro":
        return apply("norm", x, axis=(-2, -1), keepdims=keepdims)
    if ord in ("nuc", 2) and not keepdims:
        s = apply("svdvals", x, compute_uv=False)
        return sum_(s, axis=-1) if ord == "nuc" else apply("max", s, axis=-1)
    raise TypeError(f"np.linalg.matrix_norm with ord={ord!r} is not supported")


def _cumulative(name: str) -> Any:
    def surface(x: Any, axis: Any = None, dtype: Any = None, out: Any = None,
                include_initial: bool = False) -> Sym:
        if include_initial or dtype is not None:
            raise TypeError(f"np.cumulative_{name[3:]} with include_initial=True or dtype= "
                            "is not supported")
        x = S(x)
        if axis is None and x.ndim != 1:
            raise TypeError("axis= is needed for arrays of more than one axis")
        return apply(name, x, axis=axis)
    return surface


def _quantile_of(x: Sym, q: float, k: int) -> Sym:
    """The `q`-quantile of `x` along axis `k` by linear interpolation between the sorted
    entries at positions floor((n - 1) q) and the one after it."""
    s = _sort(x, axis=k)
    n = _dim(x, k)
    pos = (n - 1) * float(q)
    lo = apply("int", apply("floor", pos))
    hi = apply("minimum", lo + 1, n - 1)
    head = (slice(None),) * k
    below = apply("getitem", s, lo, spec=head + (Dyn(0),))
    above = apply("getitem", s, hi, spec=head + (Dyn(0),))
    return below + (above - below) * (pos - lo)


def _quantile(a: Any, q: Any, axis: Any = None, out: Any = None, overwrite_input: bool = False,
              method: str = "linear", keepdims: bool = False) -> Sym:
    if method != "linear" or out is not None:
        raise TypeError("only method='linear' is supported")
    qs = _static(q, "q")
    x = S(a)
    if axis is None:
        if keepdims:
            raise TypeError("keepdims=True without axis= is not supported")
        x, k = apply("ravel", x), 0
    else:
        k = axis_index(_static(axis, "axis"), x.ndim or 1)
    if np.ndim(qs) == 0:
        r = _quantile_of(x, float(qs), k)
        return expand_dims(r, k) if keepdims else r
    parts = [_quantile_of(x, float(v), k) for v in np.ravel(qs)]
    parts = [expand_dims(r, k) if keepdims else r for r in parts]
    return _stack(parts, 0)


def _percentile(a: Any, q: Any, axis: Any = None, out: Any = None,
                overwrite_input: bool = False, method: str = "linear",
                keepdims: bool = False) -> Sym:
    return _quantile(a, np.asarray(_static(q, "q"), dtype=float) / 100.0, axis, out,
                     overwrite_input, method, keepdims)


def _median(a: Any, axis: Any = None, out: Any = None, overwrite_input: bool = False,
            keepdims: bool = False) -> Sym:
    return _quantile(a, 0.5, axis, out, overwrite_input, "linear", keepdims)


def _polyval(p: Any, x: Any) -> Sym:
    p = np.asarray(p, dtype=float) if isinstance(p, (list, tuple)) else p
    return apply("polyval", p, x)


def _pinv(a: Any, rcond: Any = None, hermitian: bool = False, **kwargs: Any) -> Sym:
    if rcond is not None or hermitian or kwargs:
        raise TypeError("np.linalg.pinv with rcond=, rtol= or hermitian= is not supported")
    return apply("pinv", a)


def _convolve(a: Any, v: Any, mode: str = "full") -> Sym:
    mode = _static(mode, "mode")
    if mode not in ("full", "valid", "same"):
        raise TypeError(f"np.convolve mode {mode!r}")
    return apply("convolve", a, v, mode=mode)


def _interp(x: Any, xp: Any, fp: Any, left: Any = None, right: Any = None,
            period: Any = None) -> Sym:
    if left is not None or right is not None or period is not None:
        raise TypeError("np.interp with left=, right= or period= is not supported")
    xp = np.asarray(xp, dtype=float) if isinstance(xp, (list, tuple)) else xp
    fp = np.asarray(fp, dtype=float) if isinstance(fp, (list, tuple)) else fp
    return apply("interp", x, xp, fp)


def _nan_to_num(x: Any, copy: bool = True, nan: Any = 0.0, posinf: Any = None,
                neginf: Any = None) -> Sym:
    return apply("nan_to_num", x, nan=_static(nan, "nan"), posinf=_static(posinf, "posinf"),
                 neginf=_static(neginf, "neginf"))


for _prim, _pair in [("copysign", (np.copysign, math.copysign)), ("fmod", (np.fmod, math.fmod)),
                     ("ldexp", (np.ldexp, math.ldexp)), ("heaviside", (np.heaviside,)),
                     ("cross", (np.cross,))]:
    bind(_pair, _binary(_prim))
bind(np.nanmax, _reduction("nanmax"))
bind(np.nanmin, _reduction("nanmin"))
bind(np.nanprod, _reduction("nanprod"))
bind(np.nanvar, _var_surface("nanvar"))
bind(np.nanstd, _var_surface("nanstd"))
bind(np.select, _select, sequences=True)
bind(np.linalg.multi_dot, _multi_dot, sequences=True)
bind(np.linalg.pinv, _pinv)
bind(np.dstack, _dstack, sequences=True)
bind(np.column_stack, _column_stack, sequences=True)
bind(np.diff, _diff)
bind(np.rot90, _rot90)
bind(np.diagflat, _diagflat)
bind(np.nan_to_num, _nan_to_num)
bind((np.real, np.conj, np.conjugate), _real_input)
bind(np.convolve, _convolve)
bind(np.interp, _interp)
bind(np.polyval, _polyval)
bind(np.quantile, _quantile)
bind(np.percentile, _percentile)
bind(np.median, _median)
for _name, _fn in [("row_stack", _vstack), ("trapezoid", _trapezoid), ("trapz", _trapezoid),
                   ("cumulative_sum", _cumulative("cumsum")),
                   ("cumulative_prod", _cumulative("cumprod"))]:
    if hasattr(np, _name):  # names that only some NumPy versions have
        bind(getattr(np, _name), _fn, sequences=_name == "row_stack")
for _name, _fn in [("vector_norm", _vector_norm), ("matrix_norm", _matrix_norm)]:
    if hasattr(np.linalg, _name):  # NumPy 2
        bind(getattr(np.linalg, _name), _fn)
METHODS.update({"conj": _real_input, "conjugate": _real_input})

try:  # SciPy is optional: its special functions get rules only when it is installed
    import scipy.special  # noqa: F401
except ImportError:  # pragma: no cover - depends on the environment
    pass
else:
    from . import prims_scipy  # noqa: F401
