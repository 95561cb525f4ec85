"""The primitives and the Python callables bound to them.

Each entry sits in one place: what it computes, its type, how it prints, and its derivative
rules (``g`` is the incoming tangent or cotangent, ``ans`` the result; see :mod:`s2sad.rules`).
Adding a primitive means one entry here and one row in ``tests/test_rules.py``.
"""

from __future__ import annotations

import builtins
import math
import operator
from collections.abc import Sequence
from typing import Any

import numpy as np

from . import runtime as rt
from .ir import Array, ListOf, Opaque, Scalar, Ty, has_derivative
from .rules import (
    ATTRIBUTES,
    DYNAMIC,
    METHODS,
    Emit,
    Rule,
    S,
    Sym,
    apply,
    axis_index,
    bind,
    broadcast_types,
    cast_like,
    const_value,
    deflist,
    defprim,
    elementwise,
    elementwise_bool,
    elementwise_float,
    no_derivative,
    promote,
    same_as_first,
    surface_of,
)

# ------------------------------------------------------------------ handles used by the rules


def sin(x: Any) -> Sym: return apply("sin", x)
def cos(x: Any) -> Sym: return apply("cos", x)
def exp(x: Any) -> Sym: return apply("exp", x)
def log(x: Any) -> Sym: return apply("log", x)
def sqrt(x: Any) -> Sym: return apply("sqrt", x)
def sign(x: Any) -> Sym: return apply("sign", x)
def where(c: Any, a: Any, b: Any) -> Sym: return apply("where", c, a, b)
def transpose(x: Any, axes: Any = None) -> Sym: return apply("transpose", x, axes=axes)
def reshape(x: Any, shape: Any) -> Sym: return apply("reshape", x, shape=shape)
def shape_of(x: Any) -> Sym: return apply("shape", x)
def matmul(a: Any, b: Any) -> Sym: return apply("matmul", a, b)
def outer(a: Any, b: Any) -> Sym: return apply("outer", a, b)
def broadcast_to(x: Any, like: Any) -> Sym: return apply("broadcast_to", x, like)
def expand_dims(x: Any, axis: Any) -> Sym: return apply("expand_dims", x, axis=axis)
def zeros_like(x: Any) -> Sym: return apply("zeros_like", x)
def size(x: Any) -> Sym: return apply("size", x)


def sum_(x: Any, axis: Any = None, keepdims: bool = False) -> Sym:
    return apply("sum", x, axis=axis, keepdims=keepdims)


def _swap_last(x: Sym) -> Sym:
    return x.T if x.ndim == 2 else apply("swapaxes", x, axis1=-1, axis2=-2)


def _regrow(g: Sym, x: Sym, axis: Any, keepdims: bool) -> Sym:
    """Give a reduction's cotangent back the reduced axes, so it broadcasts against `x`."""
    if not x.is_array or keepdims or axis is None or not g.is_array:
        return g
    return expand_dims(g, axis)


# ------------------------------------------------------------------------- type rules (extra)


def _reduce_type(types: Sequence[Ty], params: dict[str, Any]) -> Ty:
    x = types[0]
    axis, keepdims = params.get("axis"), params.get("keepdims", False)
    dtype = promote([x]) if not isinstance(x, (Scalar, Array)) else x.dtype
    if dtype == "bool":
        dtype = "int64"
    if not isinstance(x, Array) or axis is None and not keepdims:
        return Scalar(dtype, weak=False)  # a full reduction, whatever the rank
    if x.ones is None or axis is DYNAMIC:
        return Array(dtype, None)
    n = len(x.ones)
    if axis is None:
        return Array(dtype, (True,) * n) if keepdims else Scalar(dtype, weak=False)
    axes = {axis_index(a, n) for a in (axis if isinstance(axis, tuple) else (axis,))}
    if keepdims:
        return Array(dtype, tuple(True if i in axes else o for i, o in enumerate(x.ones)))
    ones = tuple(o for i, o in enumerate(x.ones) if i not in axes)
    return Array(dtype, ones) if ones else Scalar(dtype, weak=False)


def _reduce_float_type(types: Sequence[Ty], params: dict[str, Any]) -> Ty:
    t = _reduce_type(types, params)
    if isinstance(t, (Scalar, Array)) and not t.dtype.startswith("float"):
        return Array("float64", t.ones) if isinstance(t, Array) else Scalar("float64", False)
    return t


def _matmul_type(types: Sequence[Ty], params: dict[str, Any]) -> Ty:
    a, b = types
    dtype = promote(types)
    if not (isinstance(a, Array) and isinstance(b, Array)) or a.ones is None or b.ones is None:
        return Array(dtype, None) if isinstance(a, Array) or isinstance(b, Array) else Scalar(dtype)
    ao, bo = a.ones, b.ones
    if not ao or not bo:
        raise ValueError("matmul: an operand has no dimensions")
    ka, kb = ao[-1], bo[-2] if len(bo) > 1 else bo[0]
    if {ka, kb} == {True, False}:  # one has length 1 and the other not: they cannot match
        raise ValueError("matmul: the last axis of the first operand and the "
                         f"{'next-to-last' if len(bo) > 1 else 'last'} of the second differ "
                         "in length (one has length 1, the other not)")
    if len(ao) == 1 and len(bo) == 1:
        return Scalar(dtype, weak=False)
    if len(ao) == 1:
        return Array(dtype, bo[:-2] + bo[-1:])
    if len(bo) == 1:
        return Array(dtype, ao[:-1])
    batch = _broadcast_ones(ao[:-2], bo[:-2])
    return Array(dtype, batch + (ao[-2], bo[-1]))


def _broadcast_ones(a: tuple[bool | None, ...], b: tuple[bool | None, ...]) -> tuple[bool | None, ...]:
    t = broadcast_types([Array("float64", a), Array("float64", b)], "float64")
    assert isinstance(t, Array) and t.ones is not None
    return t.ones


def _outer_type(types: Sequence[Ty], params: dict[str, Any]) -> Ty:
    a, b = types

    def first(t: Ty) -> bool | None:
        if isinstance(t, Scalar):
            return True
        if isinstance(t, Array) and t.ones is not None and len(t.ones) == 1:
            return t.ones[0]
        return None
    return Array(promote(types), (first(a), first(b)))


def _transpose_type(types: Sequence[Ty], params: dict[str, Any]) -> Ty:
    x = types[0]
    axes = params.get("axes")
    if not isinstance(x, Array) or x.ones is None or axes is DYNAMIC:
        return x if not isinstance(x, Array) else Array(x.dtype, None)
    if axes is None:
        return Array(x.dtype, x.ones[::-1])
    return Array(x.dtype, tuple(x.ones[a] for a in axes))


def _swapaxes_type(types: Sequence[Ty], params: dict[str, Any]) -> Ty:
    x = types[0]
    if not isinstance(x, Array) or x.ones is None:
        return x
    ones = list(x.ones)
    i, j = params["axis1"], params["axis2"]
    ones[i], ones[j] = ones[j], ones[i]
    return Array(x.dtype, tuple(ones))


def _reshape_type(types: Sequence[Ty], params: dict[str, Any]) -> Ty:
    x, shp = types[0], params.get("shape")
    dtype = x.dtype if isinstance(x, (Scalar, Array)) else "float64"
    if isinstance(shp, int):
        shp = (shp,)
    if isinstance(shp, tuple):
        return Array(dtype, tuple(None if (not isinstance(n, int) or n == -1) else n == 1
                                  for n in shp))
    return Array(dtype, None)


def _expand_dims_type(types: Sequence[Ty], params: dict[str, Any]) -> Ty:
    x, axis = types[0], params.get("axis")
    if isinstance(x, Scalar):
        x = Array(x.dtype, ())
    if not isinstance(x, Array) or x.ones is None or axis is DYNAMIC:
        return Array(x.dtype if isinstance(x, Array) else "float64", None)
    axes = axis if isinstance(axis, tuple) else (axis,)
    n = len(x.ones) + len(axes)
    axes = tuple(axis_index(a, n) for a in axes)
    it = iter(x.ones)
    return Array(x.dtype, tuple(True if i in axes else next(it) for i in range(n)))


def _like_type(types: Sequence[Ty], params: dict[str, Any]) -> Ty:
    """Result shaped like the last operand, with the first operand's dtype."""
    x, like = types[0], types[-1]
    dtype = promote([x]) if isinstance(x, (Scalar, Array)) else "float64"
    if isinstance(like, Array):
        return Array(dtype, like.ones)
    return Scalar(dtype, isinstance(x, Scalar) and x.weak)


def _zeros_like_type(types: Sequence[Ty], params: dict[str, Any]) -> Ty:
    return types[0]


def _int_type(types: Sequence[Ty], params: dict[str, Any]) -> Ty:
    return Scalar("int64")


def _shape_type(types: Sequence[Ty], params: dict[str, Any]) -> Ty:
    return Opaque("shape")


def _construct_type(types: Sequence[Ty], params: dict[str, Any]) -> Ty:
    """np.zeros(...) and friends; `ones` (known when the sizes are) gives the axes."""
    fn, keywords = params.get("fn"), dict(params.get("keywords") or ())
    dtype = str(np.dtype(keywords.get("dtype", "float64")))
    if isinstance(params.get("ones"), tuple):
        if fn in (np.arange,) and "dtype" not in keywords:
            dtype = promote(types)
        return Array(dtype, params["ones"])
    if fn in (np.arange,) or types and all(isinstance(t, Scalar) for t in types) and \
            fn in (np.linspace,):
        return Array(dtype if "dtype" in keywords else "float64" if fn is np.linspace else
                     promote(types), (None,))
    if types and isinstance(types[0], Scalar):
        n = 2 if fn in (np.eye, np.identity) else 1
        return Array(dtype, (None,) * n)
    return Array(dtype, None)


def _pack_type(types: Sequence[Ty], params: dict[str, Any]) -> Ty:
    # np.array([...]) weighs a Python number as much as a NumPy one: np.array([f32, 0.5]) is
    # float64, where f32 + 0.5 is float32 (NEP 50 applies to operators, not to array creation)
    strong = [Scalar(t.dtype, weak=False) if isinstance(t, Scalar) and t.weak else t
              for t in types]
    return Array(promote(strong), (len(types) == 1,))


# --------------------------------------------------------------------------------- arithmetic

defprim("add", operator.add, arity=2, infer=elementwise, emit=Emit("binop", "+"),
        lin=[lambda g, ans, x, y: g, lambda g, ans, x, y: g])
defprim("sub", operator.sub, arity=2, infer=elementwise, emit=Emit("binop", "-"),
        lin=[lambda g, ans, x, y: g, lambda g, ans, x, y: -g])
defprim("mul", operator.mul, arity=2, infer=elementwise, emit=Emit("binop", "*"),
        lin=[lambda g, ans, x, y: g * y, lambda g, ans, x, y: x * g])
defprim("div", operator.truediv, arity=2, infer=elementwise_float, emit=Emit("binop", "/"),
        lin=[lambda g, ans, x, y: g / y, lambda g, ans, x, y: -(g * ans / y)])
def _may_be_zero(x: Any) -> bool:
    c = const_value(x)
    return c is DYNAMIC or bool(np.any(np.asarray(c) == 0))


def _nonzero(d: Sym) -> Sym:
    """`d` with 1 where it is 0: the denominator of a rule at a kink, whose derivative there
    is 0 by convention rather than 0 / 0 (hypot, norm, std at 0; see the README)."""
    return d + apply("eq", d, 0.0)


def _pow_x(g: Sym, ans: Sym, x: Sym, y: Sym) -> Sym:
    """y x**(y - 1), and 0 where y == 0 (not 0 * inf at x = 0), as in JAX."""
    return g * y * x ** (y - 1 + apply("eq", y, 0) if _may_be_zero(y) else y - 1)


def _pow_y(g: Sym, ans: Sym, x: Sym, y: Sym) -> Sym:
    """x**y log x, and 0 at x = 0 (the limit for y > 0; not 0 * -inf), as in JAX."""
    return g * ans * log(x + apply("eq", x, 0.0) if _may_be_zero(x) else x)


defprim("pow", operator.pow, arity=2, infer=elementwise, emit=Emit("binop", "**"),
        lin=[_pow_x, _pow_y])
defprim("neg", operator.neg, infer=same_as_first, emit=Emit("unop", "-"),
        lin=[lambda g, ans, x: -g])
defprim("abs", np.abs, infer=same_as_first, emit=Emit("call", "np.abs", scalar="abs"),
        lin=[lambda g, ans, x: g * (x > 0) - g * (x < 0)])  # 0 at x = 0, as in JAX
defprim("square", np.square, infer=elementwise, lin=[lambda g, ans, x: g * (2 * x)])

# ------------------------------------------------------------------------ elementwise functions


def _unary(name: str, rule: Any, scalar: str | None = None, npname: str | None = None,
           impl: Any = None) -> None:
    npname = npname or f"np.{name}"
    defprim(name, impl or getattr(np, name), emit=Emit("call", npname, scalar=scalar),
            lin=[rule])


_unary("sin", lambda g, ans, x: g * cos(x), "math.sin")
_unary("cos", lambda g, ans, x: -g * sin(x), "math.cos")
_unary("tan", lambda g, ans, x: g * (1 + ans * ans), "math.tan")
_unary("arcsin", lambda g, ans, x: g / sqrt(1 - x * x), "math.asin")
_unary("arccos", lambda g, ans, x: -g / sqrt(1 - x * x), "math.acos")
_unary("arctan", lambda g, ans, x: g / (1 + x * x), "math.atan")
_unary("sinh", lambda g, ans, x: g * apply("cosh", x), "math.sinh")
_unary("cosh", lambda g, ans, x: g * apply("sinh", x), "math.cosh")
_unary("tanh", lambda g, ans, x: g * (1 - ans * ans), "math.tanh")
_unary("exp", lambda g, ans, x: g * ans, "math.exp")
_unary("expm1", lambda g, ans, x: g * (ans + 1), "math.expm1")
_unary("log", lambda g, ans, x: g / x, "math.log")
_unary("log1p", lambda g, ans, x: g / (1 + x), "math.log1p")
_unary("log2", lambda g, ans, x: g / (x * math.log(2)), "math.log2")
_unary("log10", lambda g, ans, x: g / (x * math.log(10)), "math.log10")
_unary("sqrt", lambda g, ans, x: g / (2 * ans), "math.sqrt")
_unary("erf", lambda g, ans, x: g * (2 / math.sqrt(math.pi)) * exp(-(x * x)), "math.erf",
       npname="erf", impl=rt.erf)

defprim("arctan2", np.arctan2, arity=2, emit=Emit("call", "np.arctan2", scalar="math.atan2"),
        lin=[lambda g, ans, y, x: g * x / _nonzero(x * x + y * y),
             lambda g, ans, y, x: -g * y / _nonzero(x * x + y * y)])
defprim("hypot", np.hypot, arity=2, emit=Emit("call", "np.hypot", scalar="math.hypot"),
        lin=[lambda g, ans, x, y: g * x / _nonzero(ans),
             lambda g, ans, x, y: g * y / _nonzero(ans)])
# Ties: np.maximum(x, y) sends the whole derivative to x where x == y (np.minimum likewise).
defprim("maximum", np.maximum, arity=2, infer=elementwise,
        emit=Emit("call", "np.maximum", scalar="max"),
        lin=[lambda g, ans, x, y: where(x >= y, g, 0.0), lambda g, ans, x, y: where(x >= y, 0.0, g)])
defprim("minimum", np.minimum, arity=2, infer=elementwise,
        emit=Emit("call", "np.minimum", scalar="min"),
        lin=[lambda g, ans, x, y: where(x <= y, g, 0.0), lambda g, ans, x, y: where(x <= y, 0.0, g)])
defprim("where", np.where, arity=3, infer=lambda ts, ps: broadcast_types(ts, promote(ts[1:])),
        emit=Emit("call", "np.where", scalar="where"), foldable=False,
        lin=[None, lambda g, ans, c, x, y: where(c, g, 0.0), lambda g, ans, c, x, y: where(c, 0.0, g)])


def _clip_x(g: Sym, ans: Sym, x: Sym, lo: Any, hi: Any) -> Sym:
    inside = _and(None if const_value(lo) is None else x >= lo,
                  None if const_value(hi) is None else x <= hi)
    return g if inside is None else where(inside, g, 0.0)


def _and(a: Sym | None, b: Sym | None) -> Sym | None:
    if a is None or b is None:
        return a if b is None else b
    return apply("logical_and", a, b)


defprim("clip", np.clip, arity=3, infer=lambda ts, ps: elementwise([ts[0]] + [
        t for t in ts[1:] if not isinstance(t, Opaque)], ps),
        emit=Emit("call", "np.clip"),
        lin=[_clip_x, lambda g, ans, x, lo, hi: where(x < lo, g, 0.0),
             lambda g, ans, x, lo, hi: where(x > hi, g, 0.0)])

# ------------------------------------------------------------- non-differentiable elementwise

for _name, _op, _sym in [("lt", operator.lt, "<"), ("le", operator.le, "<="),
                         ("gt", operator.gt, ">"), ("ge", operator.ge, ">="),
                         ("eq", operator.eq, "=="), ("ne", operator.ne, "!=")]:
    defprim(_name, _op, arity=2, infer=elementwise_bool, emit=Emit("compare", _sym))
defprim("logical_and", np.logical_and, arity=2, infer=elementwise_bool)
defprim("sign", np.sign, infer=same_as_first, emit=Emit("call", "np.sign", scalar="sign"))
for _name in ("floor", "ceil", "round", "trunc", "rint"):
    defprim(_name, getattr(np, _name), infer=same_as_first)

# --------------------------------------------------------------------------------- reductions


# The adjoints of reductions give the cotangent back its reduced axes with length 1 and leave
# it at that: it broadcasts against `x`, and the transform materialises it only where a rule
# or a result needs the full shape.
def _sum_vjp(g: Sym, ans: Sym, x: Sym, axis: Any = None, keepdims: bool = False) -> Sym:
    return _regrow(g, x, axis, keepdims)


def _mean_vjp(g: Sym, ans: Sym, x: Sym, axis: Any = None, keepdims: bool = False) -> Sym:
    if not x.is_array:
        return g
    count = size(x) if axis is None else size(x) / size(ans)
    return _regrow(g, x, axis, keepdims) / count


def _prod_lin(g: Sym, ans: Sym, x: Sym, axis: Any = None, keepdims: bool = False,
              forward: bool = False) -> Sym:
    if not x.is_array:
        return g
    others = _prod_of_others(ans, x, axis, keepdims)
    if forward:
        return sum_(g * others, axis=axis, keepdims=keepdims)
    return _regrow(g, x, axis, keepdims) * others


def _prod_of_others(ans: Sym, x: Sym, axis: Any, keepdims: bool) -> Sym:
    """For each entry of `x`, the product of the other entries of its reduced slice: ``ans /
    x`` where x is not 0 (alone it gives nan at zeros).  At a 0, the product `rest` of the
    slice's other entries: 0 unless it is the slice's only 0; with two, 0 written as the other
    0 times `rest`, so that second derivatives are exact too (third ones with three zeros in a
    slice are not)."""
    zero = apply("eq", x, 0.0)
    safe = where(zero, 1.0, x)
    rest = apply("prod", safe, axis=axis, keepdims=True)
    count = sum_(zero, axis=axis, keepdims=True)
    other = sum_(where(zero, x, 0.0), axis=axis, keepdims=True) - x
    rest = where(apply("eq", count, 1), rest,
                 where(apply("eq", count, 2), other * rest, 0.0))
    return where(zero, rest, _regrow(ans, x, axis, keepdims) / safe)


def _extreme_lin(g: Sym, ans: Sym, x: Sym, axis: Any = None, keepdims: bool = False,
                 forward: bool = False) -> Sym:
    """Derivative of max/min: shared equally between the entries that attain it."""
    if not x.is_array:
        return g
    hit = apply("eq", x, _regrow(ans, x, axis, keepdims))
    count = sum_(hit, axis=axis, keepdims=True)
    if forward:
        return sum_(where(hit, g, 0.0), axis=axis, keepdims=keepdims) / \
            sum_(hit, axis=axis, keepdims=keepdims)
    return where(hit, _regrow(g, x, axis, keepdims) / count, 0.0)


# Reductions' adjoints only re-grow the reduced axes, so they accept lazily broadcast g.
_REDUCE = (("axis", None), ("keepdims", False))
defprim("sum", np.sum, params=_REDUCE, infer=_reduce_type,
        jvp=[lambda g, ans, x, axis=None, keepdims=False: sum_(g, axis, keepdims)],
        vjp=[_sum_vjp], lazy_ok=True)
defprim("mean", np.mean, params=_REDUCE, infer=_reduce_float_type,
        jvp=[lambda g, ans, x, axis=None, keepdims=False:
             apply("mean", g, axis=axis, keepdims=keepdims)],
        vjp=[_mean_vjp], lazy_ok=True)
defprim("prod", np.prod, params=_REDUCE, infer=_reduce_type,
        jvp=[lambda g, ans, x, **p: _prod_lin(g, ans, x, forward=True, **p)],
        vjp=[_prod_lin], lazy_ok=True)
defprim("max", np.max, params=_REDUCE, infer=_reduce_type,
        jvp=[lambda g, ans, x, **p: _extreme_lin(g, ans, x, forward=True, **p)],
        vjp=[_extreme_lin], lazy_ok=True)
defprim("min", np.min, params=_REDUCE, infer=_reduce_type,
        jvp=[lambda g, ans, x, **p: _extreme_lin(g, ans, x, forward=True, **p)],
        vjp=[_extreme_lin], lazy_ok=True)

# ---------------------------------------------------------------------------- linear algebra


def _matmul_vjp_a(g: Sym, ans: Sym, a: Sym, b: Sym) -> Sym:
    return _unbroadcast(_matmul_vjp_a_full(g, ans, a, b), a)


def _matmul_vjp_b(g: Sym, ans: Sym, a: Sym, b: Sym) -> Sym:
    return _unbroadcast(_matmul_vjp_b_full(g, ans, a, b), b)


def _matmul_vjp_a_full(g: Sym, ans: Sym, a: Sym, b: Sym) -> Sym:
    if a.ndim == 1 and b.ndim == 1:
        return g * b
    if a.ndim == 1:  # (k,) @ (..., k, m): contract g (..., m) with b over m, sum the batch
        return sum_(matmul(b, expand_dims(g, -1)), axis=tuple(range(b.ndim - 2)) + (-1,)) \
            if b.ndim != 2 else matmul(b, g)  # type: ignore[operator]
    if b.ndim == 1:  # (..., n, k) @ (k,)
        return expand_dims(g, -1) * b
    return matmul(g, _swap_last(b))


def _matmul_vjp_b_full(g: Sym, ans: Sym, a: Sym, b: Sym) -> Sym:
    if a.ndim == 1 and b.ndim == 1:
        return g * a
    if a.ndim == 1:  # (k,) @ (..., k, m)
        return expand_dims(a, -1) * expand_dims(g, -2)
    if b.ndim == 1:  # (..., n, k) @ (k,): sum over n and the batch
        return matmul(_swap_last(a), g) if a.ndim == 2 else \
            sum_(a * expand_dims(g, -1), axis=tuple(range(a.ndim - 1)))  # type: ignore[operator]
    return matmul(_swap_last(a), g)


defprim("matmul", np.matmul, arity=2, infer=_matmul_type, emit=Emit("binop", "@"),
        jvp=[lambda g, ans, a, b: matmul(g, b), lambda g, ans, a, b: matmul(a, g)],
        vjp=[_matmul_vjp_a, _matmul_vjp_b])
defprim("outer", np.outer, arity=2, infer=_outer_type,
        jvp=[lambda g, ans, a, b: outer(g, b), lambda g, ans, a, b: outer(a, g)],
        vjp=[lambda g, ans, a, b: reshape(matmul(g, apply("ravel", b)), shape_of(a)) if a.ndim != 1
             else matmul(g, apply("ravel", b)) if b.ndim != 1 else matmul(g, b),
             lambda g, ans, a, b: reshape(matmul(apply("ravel", a), g), shape_of(b)) if b.ndim != 1
             else matmul(apply("ravel", a), g) if a.ndim != 1 else matmul(a, g)])

# ---------------------------------------------------------------------------- shape and index


def _inverse_axes(axes: Any) -> Any:
    """The permutation undoing ``np.transpose(x, axes)``; an axis may count from the end."""
    if axes is None:
        return None
    return tuple(int(i) for i in np.argsort([int(a) % len(axes) for a in axes]))


defprim("transpose", np.transpose, params=(("axes", None),), infer=_transpose_type,
        emit=Emit("transpose"),
        jvp=[lambda g, ans, x, axes=None: transpose(g, axes)],
        vjp=[lambda g, ans, x, axes=None: transpose(g, _inverse_axes(axes))])
defprim("swapaxes", np.swapaxes, params=(("axis1", 0), ("axis2", 1)), infer=_swapaxes_type,
        emit=Emit("call", "np.swapaxes", positional=("axis1", "axis2")),
        jvp=[lambda g, ans, x, axis1=0, axis2=1: apply("swapaxes", g, axis1=axis1, axis2=axis2)],
        vjp=[lambda g, ans, x, axis1=0, axis2=1: apply("swapaxes", g, axis1=axis1, axis2=axis2)])
# np.reshape takes `shape=` only from NumPy 2.1 (`newshape=` before): pass it positionally.
defprim("reshape", lambda x, shape: np.reshape(x, shape), params=(("shape", None),),
        infer=_reshape_type,
        emit=Emit("call", "np.reshape", positional=("shape",)),
        jvp=[lambda g, ans, x, shape=None: reshape(g, shape)],
        vjp=[lambda g, ans, x, shape=None: reshape(g, shape_of(x))])
defprim("ravel", np.ravel, infer=lambda ts, ps: _reshape_type(ts, {"shape": (-1,)}),
        jvp=[lambda g, ans, x: apply("ravel", g)],
        vjp=[lambda g, ans, x: reshape(g, shape_of(x))])
defprim("expand_dims", np.expand_dims, params=(("axis", 0),), infer=_expand_dims_type,
        emit=Emit("call", "np.expand_dims", positional=("axis",)),
        jvp=[lambda g, ans, x, axis=0: expand_dims(g, axis)],
        vjp=[lambda g, ans, x, axis=0: reshape(g, shape_of(x))])
defprim("broadcast_to", rt.broadcast_like, arity=2, infer=_like_type,
        emit=Emit("broadcast_to"), foldable=False,
        jvp=[lambda g, ans, x, like: broadcast_to(g, like), None],
        vjp=[lambda g, ans, x, like: _unbroadcast(g, x), None])
def _astype_type(types: Sequence[Ty], params: dict[str, Any]) -> Ty:
    x, dtype = types[0], str(np.dtype(params.get("dtype")))
    if isinstance(x, Array):
        return Array(dtype, x.ones)
    return Scalar(dtype, weak=False)


def _astype_rule(g: Sym, ans: Sym, x: Sym, dtype: Any = None) -> Sym:
    return cast_like(g, x)


defprim("astype", lambda x, dtype: np.asarray(x).astype(dtype), params=(("dtype", None),),
        infer=_astype_type, emit=Emit("method", "astype", positional=("dtype",)),
        jvp=[lambda g, ans, x, dtype=None: apply("astype", g, dtype=dtype)],
        vjp=[_astype_rule])
defprim("fill", lambda x, like: np.full_like(like, x), arity=2, infer=_like_type,
        emit=Emit("fill"), foldable=False,
        jvp=[lambda g, ans, x, like: apply("fill", g, like), None],
        vjp=[lambda g, ans, x, like: _unbroadcast(g, x), None],
        doc="a new array shaped like `like` filled with `x` (broadcast); materialises results")
defprim("unbroadcast", rt.unbroadcast, arity=2, infer=_like_type, emit=Emit("runtime"),
        jvp=[lambda g, ans, x, like: apply("unbroadcast", g, like), None],
        vjp=[lambda g, ans, x, like: broadcast_to(g, x), None])


def _unbroadcast(g: Sym, like: Sym) -> Sym:
    from .transforms.common import unbroadcast_to
    return unbroadcast_to(g, like)


# The Jacobian of differentiated code, built inside generated code (transforms/jacobian.py):
# seed vector forward mode with the unit directions of x, then move the direction axis last.
def _ones(t: Ty) -> tuple[bool | None, ...] | None:
    return () if isinstance(t, Scalar) else t.ones if isinstance(t, Array) else None


def _seed_type(types: Sequence[Ty], params: dict[str, Any]) -> Ty:
    ones = _ones(types[0])
    return Array(promote(types[:1], to_float=True), None if ones is None else (None,) + ones)


def _block_type(types: Sequence[Ty], params: dict[str, Any]) -> Ty:
    t, out, x = types
    dtype, lead = promote([t], to_float=True), params.get("lead", 0)
    a, b = _ones(out), _ones(x)
    if a is None or b is None:
        return Array(dtype, None)
    ones = (None,) * lead + a + b
    return Array(dtype, ones) if ones else Scalar(dtype, weak=False)


def _unblock_type(types: Sequence[Ty], params: dict[str, Any]) -> Ty:
    ones, lead = _ones(types[1]), params.get("lead", 0)
    return Array(promote(types[:1], to_float=True),
                 None if ones is None else (None,) * (lead + 1) + ones)


def _blocks(name: str) -> Rule:
    return lambda g, ans, t, out, x, lead=0: apply(name, g, out, x, lead=lead)


defprim("jacobian_seed", rt.jacobian_seed, infer=_seed_type, emit=Emit("runtime"), foldable=False,
        doc="the unit directions of x, stacked on a new first axis (no derivative)")
defprim("jacobian_block", rt.jacobian_block, arity=3, params=(("lead", 0),), infer=_block_type,
        emit=Emit("runtime"), jvp=[_blocks("jacobian_block"), None, None],
        vjp=[_blocks("jacobian_unblock"), None, None],
        doc="tangents along the unit directions of x, arranged as the Jacobian d out / d x")
defprim("jacobian_unblock", rt.jacobian_unblock, arity=3, params=(("lead", 0),),
        infer=_unblock_type, emit=Emit("runtime"), jvp=[_blocks("jacobian_unblock"), None, None],
        vjp=[_blocks("jacobian_block"), None, None], doc="the transpose of jacobian_block")


def _getitem_jvp(g: Sym, ans: Sym, x: Sym, *dyn: Sym, argnum: int, spec: Any = None) -> Sym | None:
    return apply("getitem", g, *dyn, spec=spec) if argnum == 0 else None


def _getitem_vjp(g: Sym, ans: Sym, x: Sym, *dyn: Sym, argnum: int, spec: Any = None) -> Sym | None:
    return apply("scatter", g, x, *dyn, spec=spec) if argnum == 0 else None


defprim("getitem", rt.getitem, arity=None, params=(("spec", None),),
        infer=lambda ts, ps: _index_type(ts[0], ps.get("spec"), ts[1:]), emit=Emit("getitem"),
        jvp=[_getitem_jvp], vjp=[_getitem_vjp], lazy_ok=True)  # slice assignment broadcasts
defprim("scatter", rt.scatter, arity=None, params=(("spec", None),),
        infer=lambda ts, ps: ts[1], emit=Emit("scatter"), foldable=False,
        jvp=[lambda g, ans, v, like, *dyn, argnum, spec=None:
             apply("scatter", g, like, *dyn, spec=spec) if argnum == 0 else None],
        vjp=[lambda g, ans, v, like, *dyn, argnum, spec=None:
             apply("getitem", g, *dyn, spec=spec) if argnum == 0 else None])


def _repeats(dyn: Sequence[Sym]) -> bool:
    """Whether an index may name a slot twice (an integer index array)."""
    return any(d.is_array and d.type.dtype != "bool" for d in dyn)  # type: ignore[union-attr]


def _setitem_jvp(g: Sym, ans: Sym, x: Sym, v: Sym, *dyn: Sym, argnum: int,
                 spec: Any = None) -> Sym | None:
    if argnum == 0:  # the slots written over no longer depend on x
        return apply("setitem", g, 0.0, *dyn, spec=spec)
    if argnum == 1:  # a repeated slot keeps the last item written to it, as in NumPy
        if _repeats(dyn):
            return apply("setitem", apply("fill", 0.0, ans), g, *dyn, spec=spec)
        return apply("scatter", g, ans, *dyn, spec=spec)
    return None


def _setitem_vjp(g: Sym, ans: Sym, x: Sym, v: Sym, *dyn: Sym, argnum: int,
                 spec: Any = None) -> Sym | None:
    if argnum == 0:
        return apply("setitem", g, 0.0, *dyn, spec=spec)
    if argnum == 1:
        got = apply("getitem", g, *dyn, spec=spec)
        if _repeats(dyn):  # only the items that were written last to their slot get g
            ids = reshape(apply("cumsum", apply("fill", 1.0, got)), shape_of(got))
            last = apply("getitem", apply("setitem", apply("fill", 0.0, g), ids, *dyn, spec=spec),
                         *dyn, spec=spec)
            got = where(apply("eq", last, ids), got, 0.0)
        return _unbroadcast(got, v)
    return None


# ``x[spec] = v`` as a value: a copy of x with the slots replaced.  Its rules read neither
# the old array nor the new one, so a loop that fills a buffer saves nothing of it; codegen
# writes in place when no other reference to x exists.
defprim("setitem", rt.setitem, arity=None, params=(("spec", None),),
        infer=lambda ts, ps: ts[0], emit=Emit("setitem"), foldable=False,
        jvp=[_setitem_jvp], vjp=[_setitem_vjp])


def _index_type(x: Ty, spec: Any, dyn: Sequence[Ty] = ()) -> Ty:
    """Type of ``x[spec]``; `spec` is a tuple of index items, ``rt.Dyn(k)`` for the k-th
    run-time operand, whose type is ``dyn[k]`` (an array there is advanced indexing)."""
    if isinstance(spec, tuple) and any(isinstance(s, rt.Dyn) and s.k < len(dyn) and
                                       not isinstance(dyn[s.k], Scalar) for s in spec):
        dtype = x.dtype if isinstance(x, (Scalar, Array)) else "float64"
        ones = _advanced_ones(x, spec, dyn)  # the lengths come from the index arrays
        return Array(dtype, ones) if ones != () else Scalar(dtype, weak=False)
    if isinstance(x, Opaque):
        if x.kind == "shape" and isinstance(spec, tuple) and len(spec) == 1:
            return Opaque("shape") if isinstance(spec[0], slice) else Scalar("int64")
        return Opaque("object")
    if not isinstance(x, Array) or x.ones is None or not isinstance(spec, tuple):
        return Array(x.dtype if isinstance(x, (Scalar, Array)) else "float64", None)
    ones: list[bool | None] = []
    dims = list(x.ones)
    for pos, s in enumerate(spec):
        if s is None:
            ones.append(True)
        elif s is Ellipsis:
            rest = sum(1 for t in spec[pos + 1:] if t is not None and t is not Ellipsis)
            take = max(0, len(dims) - rest)
            ones.extend(dims[:take])
            dims = dims[take:]
        elif isinstance(s, slice):
            d = dims.pop(0) if dims else None
            ones.append(d if s == slice(None) else None)
        elif isinstance(s, (int, rt.Dyn)):
            if dims:
                dims.pop(0)
        else:  # advanced indexing: the result's shape depends on the index array
            return Array(x.dtype, None)
    ones.extend(dims)
    return Array(x.dtype, tuple(ones)) if ones else Scalar(x.dtype, weak=False)


def _advanced_ones(x: Ty, spec: tuple[Any, ...], dyn: Sequence[Ty]) -> tuple[bool | None, ...] | None:
    """The rank of ``x[spec]`` with index arrays in `spec` (their lengths unknown here), as
    NumPy forms it: the broadcast index axes replace the indexed ones where they stand if
    the index items (arrays and integers) are adjacent, and come first otherwise."""
    if not isinstance(x, Array) or x.ones is None:
        return None

    def kind(s: Any) -> tuple[str, int]:  # ("array", rank of its result) or ("int", 0)
        t = dyn[s.k] if isinstance(s, rt.Dyn) and s.k < len(dyn) else None
        if isinstance(t, Array):
            if t.ones is None:
                raise _Unknown
            return ("bool", len(t.ones)) if t.dtype == "bool" else ("array", len(t.ones))
        return "int", 0
    try:
        kinds = [None if s is None or s is Ellipsis or isinstance(s, slice) else kind(s)
                 for s in spec]
    except _Unknown:
        return None
    used = sum(0 if k is None else k[1] if k[0] == "bool" else 1 for k in kinds) + \
        sum(1 for s in spec if isinstance(s, slice))
    dims, out, where, rank, last = list(x.ones), [], None, 0, None
    adjacent = True
    for pos, (s, k) in enumerate(zip(spec, kinds)):
        if k is not None:
            if last is not None and last != pos - 1:
                adjacent = False
            where, last = (len(out) if where is None else where), pos
            rank = max(rank, 1 if k[0] == "bool" else k[1])
            del dims[:k[1] if k[0] == "bool" else 1]
        elif s is None:
            out.append(True)
        elif s is Ellipsis:
            take = max(0, len(dims) - (used - (len(x.ones) - len(dims))))
            out.extend(dims[:take])
            del dims[:take]
        else:
            d = dims.pop(0) if dims else None
            out.append(d if s == slice(None) else None)
    out.extend(dims)
    block = [None] * rank
    return tuple(out[:where] + block + out[where:] if adjacent else block + out)


class _Unknown(Exception):
    pass


def _pack_jvp(g: Sym, ans: Sym, *xs: Sym, argnum: int) -> Sym:
    return apply("pack", *[g if i == argnum else 0.0 for i in range(len(xs))])


defprim("pack", rt.pack, arity=None, infer=_pack_type, emit=Emit("pack"), foldable=False,
        jvp=[_pack_jvp],
        vjp=[lambda g, ans, *xs, argnum: apply("getitem", g, spec=(argnum,))])

# A backward-pass hook (`with s2sad.grad_of(h) as g: ...`): the identity going forward; going
# backward, the hook's body (a Function of g) runs on the adjoint, spliced in where it is.
def _hook_vjp(g: Sym, ans: Sym, x: Sym, body: Any = None) -> Sym:
    from .ir import Var, fresh_copy
    from .rules import current
    stmts, mapping = fresh_copy(body.body.stmts, {body.params[0].id: g.atom})
    current().stmts.extend(stmts)
    r = body.results[0]
    return Sym(mapping.get(r.id, r)) if isinstance(r, Var) else Sym(r)


defprim("hook", lambda x, body=None: x, params=(("body", None),), infer=same_as_first,
        emit=Emit("hook"), foldable=False,
        jvp=[lambda g, ans, x, body=None: g], vjp=[_hook_vjp],
        doc="a backward-pass hook on its argument (see s2sad.grad_of)")

# ---------------------------------------------------------------- non-differentiable helpers

defprim("shape", np.shape, infer=_shape_type, emit=Emit("call", "np.shape"))
defprim("size", np.size, infer=_int_type, emit=Emit("call", "np.size"))
defprim("len", builtins.len, infer=_int_type, emit=Emit("call", "len"))
defprim("int", builtins.int, infer=_int_type, emit=Emit("call", "int"))
defprim("zeros_like", np.zeros_like, infer=_zeros_like_type, foldable=False)
defprim("ones_like", np.ones_like, infer=_zeros_like_type, foldable=False)
defprim("tuple", lambda *xs: tuple(xs), arity=None, infer=_shape_type, emit=Emit("tuple"))
defprim("floordiv", operator.floordiv, arity=2, infer=elementwise, emit=Emit("binop", "//"))
defprim("mod", operator.mod, arity=2, infer=elementwise, emit=Emit("binop", "%"),
        lin=[lambda g, ans, x, y: g, lambda g, ans, x, y: -g * apply("floor", x / y)])


def _construct_rule(adjoint: bool) -> Rule:
    """``np.full(shape, v)`` is linear in v; the other constructors take shapes and counts,
    and a derivative reaching a float argument of theirs (``np.linspace(0.0, x, n)``) is an
    error, never a dropped term."""
    def rule(g: Sym, ans: Sym, *args: Sym, argnum: int, fn: Any = None, keywords: Any = (),
             ones: Any = None) -> Sym:
        if fn is np.full and argnum == 1:
            return _unbroadcast(g, args[1]) if adjoint else apply("fill", g, ans)
        name = getattr(fn, "__name__", "?")
        return no_derivative(f"argument {argnum + 1} of np.{name}",
                             "scale a constant instead, e.g. start + (stop - start) * "
                             "np.linspace(0.0, 1.0, n)")(g, ans)
    return rule


defprim("construct", lambda *a, fn, keywords=(), ones=None: fn(*a, **dict(keywords)),
        arity=None, params=(("fn", None), ("keywords", ()), ("ones", None)),
        infer=_construct_type, emit=Emit("construct"), foldable=False,
        jvp=[_construct_rule(False)], vjp=[_construct_rule(True)])
# The tape of a loop in reverse mode: the forward sweep pushes, once per trip, the values the
# backward sweep will read after the next trip has overwritten them; the backward sweep pops.
defprim("tape", list, arity=0, infer=lambda ts, ps: Opaque("tape"), emit=Emit("tape"),
        effect=True, doc="a new, empty tape (a Python list)")
defprim("push", lambda tape, *xs: tape.append(xs), arity=None, infer=_shape_type,
        emit=Emit("push"), effect=True, doc="save values on a tape (no result)")
defprim("pop", lambda tape: tape.pop(), arity=1, infer=_shape_type, emit=Emit("pop"),
        effect=True, doc="take back the values saved last (one result per value)")
defprim("comment", lambda text="": None, arity=0, params=(("text", ""),), infer=_shape_type,
        emit=Emit("comment"), foldable=False, doc="a comment line in the generated code")
defprim("check_broadcast", rt.check_broadcast, arity=None, infer=_shape_type,
        emit=Emit("runtime"), effect=True,
        doc="raise if the operands do not broadcast (where dce left out their operation)")
defprim("check_matmul", rt.check_matmul, arity=2, infer=_shape_type, emit=Emit("runtime"),
        effect=True, doc="raise if `a @ b` would fail on its shapes (where dce left it out)")
defprim("print", print, arity=None, infer=_shape_type, emit=Emit("call", "print"),
        effect=True, doc="print, kept where it is (for hooks and debugging)")
defprim("breakpoint", breakpoint, arity=0, infer=_shape_type, emit=Emit("call", "breakpoint"),
        effect=True, doc="breakpoint(), kept where it is")
defprim("stop_gradient", rt.stop_gradient, infer=same_as_first, emit=Emit("call", "stop_gradient"))

# ----------------------------------------------------------------- lists grown at run time
# A list that a loop whose trip count is known only at run time grows (``xs.append(x)``): a
# value of type ListOf(item).  Its tangent and its cotangent are lists of the items' tangents
# and cotangents.  `list_append`, `list_pop` and `list_addat` change their list in place and
# return its next version; the other primitives make new lists.  Going backward, appending
# becomes popping: ``x_bar = x_bar + xs_bar.pop()``.  The rules see whole equations
# (rules.ListRules); a list cotangent that nothing has reached yet starts as zeros.


def item_join(a: Ty | None, b: Ty | None) -> Ty | None:
    """The item type of a list holding items of types `a` and `b` (None: no item yet).
    Raises TypeError unless both are numbers, or both arrays of one rank."""
    if a is None or a == b:
        return b
    if b is None:
        return a
    if isinstance(a, Scalar) and isinstance(b, Scalar):
        return Scalar(promote([a, b]), a.weak and b.weak)
    if isinstance(a, Array) and isinstance(b, Array):
        if a.ones is None or b.ones is None:
            return Array(promote([a, b]), None)
        if len(a.ones) == len(b.ones):
            return Array(promote([a, b]), tuple(x if x == y else None
                                                for x, y in zip(a.ones, b.ones)))
    raise TypeError(f"items of the kinds {a} and {b}")


def _item(t: Ty) -> Ty:
    item = t.item if isinstance(t, ListOf) else None
    return item if item is not None else Scalar("float64")


def _list_of_type(types: Sequence[Ty], params: dict[str, Any]) -> Ty:
    item: Ty | None = None
    for t in types:
        item = item_join(item, t)
    return ListOf(item)  # type: ignore[arg-type]


def _stack_type(types: Sequence[Ty], params: dict[str, Any]) -> Ty:
    if params.get("how") == "like":
        return types[1]
    item = _item(types[0])
    dtype = item.dtype if isinstance(item, (Scalar, Array)) else "float64"
    if isinstance(item, Array):
        return Array(dtype, None if item.ones is None else (None,) + item.ones)
    return Array(dtype, (None,))


def _unstack_type(types: Sequence[Ty], params: dict[str, Any]) -> Ty:
    a = types[0]
    if not isinstance(a, Array) or a.ones is None:
        return ListOf(Array(a.dtype, None) if isinstance(a, Array) else Scalar("float64"))
    if len(a.ones) == 1:
        return ListOf(Scalar(a.dtype, weak=False))
    return ListOf(Array(a.dtype, a.ones[1:]))


def _zeros(xs: Sym) -> Sym:
    return apply("list_zeros", xs)


def _plus(old: Sym | None, new: Sym) -> Sym:
    """The cotangent `old` (None: none yet) of a list, plus `new`."""
    return new if old is None else apply("list_add", old, new)


def _full_item(d: Sym | None, x: Sym) -> Sym:
    """Tangent `d` (None: zero) with the full shape of `x`, as items of tangent lists are."""
    from .transforms.common import materialize
    if d is None:
        return zeros_like(x) if x.is_array else S(0.0)
    return materialize(d, x)


def _list_of_jvp(dots: tuple[Sym | None, ...], ans: Sym, *xs: Sym) -> Sym | None:
    if all(d is None for d in dots):
        return None
    return apply("list_of", *[_full_item(d, x) for d, x in zip(dots, xs)])


def _list_of_vjp(g: Sym | None, bars: Any, ans: Sym, *xs: Sym) -> tuple[Sym | None, ...]:
    if g is None:
        return (None,) * len(xs)
    return tuple(_unbroadcast(apply("list_getitem", g, k), x) if has_derivative(x.type)
                 else None for k, x in enumerate(xs))


def _append_jvp(dots: Any, ans: Sym, xs: Sym, x: Sym) -> Sym | None:
    dxs, dx = dots
    if dxs is None and dx is None:
        return None
    return apply("list_append", _zeros(xs) if dxs is None else dxs, _full_item(dx, x))


def _append_vjp(g: Sym | None, bars: Any, ans: Sym, xs: Sym, x: Sym) -> Any:
    item, rest = apply("list_pop", _zeros(ans) if g is None else g)
    return (_plus(bars[0], rest), _unbroadcast(item, x) if has_derivative(x.type) else None)


def _pop_jvp(dots: Any, ans: Any, xs: Sym) -> Any:
    return (None, None) if dots[0] is None else apply("list_pop", dots[0])


def _pop_vjp(g: Any, bars: Any, ans: Any, xs: Sym) -> Any:
    (g_item, g_rest), (item, rest) = g, ans
    grown = apply("list_append", _zeros(rest) if g_rest is None else g_rest,
                  _full_item(g_item, item))
    return (_plus(bars[0], grown),)


def _addat_jvp(dots: Any, ans: Sym, xs: Sym, i: Sym, v: Sym) -> Sym | None:
    dxs, _, dv = dots
    if dxs is None and dv is None:
        return None
    base = _zeros(xs) if dxs is None else dxs  # changed in place, as xs is
    return base if dv is None else apply("list_addat", base, i, dv)


def _addat_vjp(g: Sym | None, bars: Any, ans: Sym, xs: Sym, i: Sym, v: Sym) -> Any:
    cur = _zeros(ans) if g is None else g
    gv = _unbroadcast(apply("list_getitem", cur, i), v) if has_derivative(v.type) else None
    return (_plus(bars[0], cur), None, gv)


def _getitem_list_jvp(dots: Any, ans: Sym, xs: Sym, i: Sym) -> Sym | None:
    return None if dots[0] is None else apply("list_getitem", dots[0], i)


def _getitem_list_vjp(g: Sym | None, bars: Any, ans: Sym, xs: Sym, i: Sym) -> Any:
    if g is None:
        return (None, None)
    cur = _zeros(xs) if bars[0] is None else bars[0]
    return (apply("list_addat", cur, i, g), None)


def _stack_jvp(dots: Any, ans: Sym, xs: Sym, *like: Sym, how: str = "stack") -> Sym | None:
    return None if dots[0] is None else apply("list_stack", dots[0], *like, how=how)


def _stack_vjp(g: Sym | None, bars: Any, ans: Sym, xs: Sym, *like: Sym,
               how: str = "stack") -> Any:
    if g is None:
        return (None,) * (1 + len(like))
    from .transforms.common import materialize
    rows = apply("list_unstack", materialize(g, ans))  # full shape, and the items' dtype
    return (_plus(bars[0], rows),) + (None,) * len(like)


def _unstack_jvp(dots: Any, ans: Sym, a: Sym) -> Sym | None:
    return None if dots[0] is None else apply("list_unstack", _full_item(dots[0], a))


def _unstack_vjp(g: Sym | None, bars: Any, ans: Sym, a: Sym) -> Any:
    return (None,) if g is None else (apply("list_stack", g, a, how="like"),)


def _sum_jvp(dots: Any, ans: Sym, xs: Sym) -> Sym | None:
    return None if dots[0] is None else apply("list_sum", dots[0])


def _sum_vjp(g: Sym | None, bars: Any, ans: Sym, xs: Sym) -> Any:
    if g is None:
        return (None,)
    g = _full_item(g, ans)
    return (apply("list_fill", g, xs) if bars[0] is None else apply("list_addall", bars[0], g),)


def _fill_jvp(dots: Any, ans: Sym, v: Sym, xs: Sym) -> Sym | None:
    return None if dots[0] is None else apply("list_fill", _full_item(dots[0], v), xs)


def _fill_vjp(g: Sym | None, bars: Any, ans: Sym, v: Sym, xs: Sym) -> Any:
    return (None, None) if g is None else (_unbroadcast(apply("list_sum", g), v), None)


def _addall_jvp(dots: Any, ans: Sym, xs: Sym, v: Sym) -> Sym | None:
    dxs, dv = dots
    if dxs is None and dv is None:
        return None
    if dv is None:
        return apply("list_copy", dxs)  # a new list, as the result is
    return apply("list_addall", _zeros(xs) if dxs is None else dxs, dv)


def _addall_vjp(g: Sym | None, bars: Any, ans: Sym, xs: Sym, v: Sym) -> Any:
    if g is None:
        return (None, None)
    gv = _unbroadcast(apply("list_sum", g), v) if has_derivative(v.type) else None
    return (_plus(bars[0], g), gv)


def _add_lists_jvp(dots: Any, ans: Sym, a: Sym, b: Sym) -> Sym | None:
    da, db = dots
    if da is None or db is None:
        d = da if db is None else db
        return None if d is None else apply("list_copy", d)
    return apply("list_add", da, db)


def _add_lists_vjp(g: Sym | None, bars: Any, ans: Sym, a: Sym, b: Sym) -> Any:
    if g is None:
        return (None, None)
    copy = apply("list_copy", g)  # each cotangent changes in place later: two lists
    return (_plus(bars[0], g), _plus(bars[1], copy))


def _copy_jvp(dots: Any, ans: Sym, xs: Sym) -> Sym | None:
    return None if dots[0] is None else apply("list_copy", dots[0])


def _copy_vjp(g: Sym | None, bars: Any, ans: Sym, xs: Sym) -> Any:
    return (None,) if g is None else (_plus(bars[0], g),)


def _list_addat(xs: list[Any], i: int, v: Any) -> list[Any]:
    xs[i] = xs[i] + v
    return xs


def _list_pop(xs: list[Any]) -> tuple[Any, list[Any]]:
    return xs.pop(), xs


def _list_stack(xs: list[Any], like: Any = None, how: str = "stack") -> Any:
    if how == "like":
        return np.reshape(xs, np.shape(like))
    return np.stack(xs) if how == "stack" else np.array(xs)


def _list_zeros(xs: list[Any]) -> list[Any]:
    return [np.zeros_like(x) if isinstance(x, np.ndarray) else 0.0 for x in xs]


deflist("list_new", list, arity=0, infer=lambda ts, ps: ListOf(None),
        emit=Emit("list_new"), doc="a new, empty list (grown at run time)")
deflist("list_of", lambda *xs: list(xs), arity=None, infer=_list_of_type, emit=Emit("list_of"),
        jvp=_list_of_jvp, vjp=_list_of_vjp, doc="a list of the given items, grown later")
deflist("list_append", lambda xs, x: xs.append(x) or xs, arity=2,
        infer=lambda ts, ps: ListOf(item_join(_item_or_none(ts[0]), ts[1])),  # type: ignore[arg-type]
        emit=Emit("list_append"), jvp=_append_jvp, vjp=_append_vjp, in_place=True,
        doc="xs.append(x), in place: the list's next version")
deflist("list_pop", _list_pop, arity=1, infer=lambda ts, ps: (_item(ts[0]), ts[0]),
        emit=Emit("list_pop"), jvp=_pop_jvp, vjp=_pop_vjp, in_place=True, multi=True,
        doc="x = xs.pop(), in place: the last item and the list's next version")
deflist("list_addat", _list_addat, arity=3, infer=same_as_first, emit=Emit("list_addat"),
        jvp=_addat_jvp, vjp=_addat_vjp, in_place=True,
        doc="xs[i] = xs[i] + v, in place: the list's next version")
deflist("list_getitem", lambda xs, i: xs[i], arity=2, infer=lambda ts, ps: _item(ts[0]),
        emit=Emit("list_getitem"), jvp=_getitem_list_jvp, vjp=_getitem_list_vjp,
        doc="xs[i] for a run-time integer i")
deflist("list_stack", _list_stack, arity=None, params=(("how", "stack"),), infer=_stack_type,
        emit=Emit("list_stack"), jvp=_stack_jvp, vjp=_stack_vjp,
        doc="np.stack(xs) or np.array(xs); how='like': the rows of an array shaped like the "
            "second argument")
deflist("list_unstack", list, arity=1, infer=_unstack_type, emit=Emit("call", "list"),
        jvp=_unstack_jvp, vjp=_unstack_vjp, doc="list(a): the rows of an array")
deflist("list_sum", builtins.sum, arity=1, infer=lambda ts, ps: _item(ts[0]),
        emit=Emit("call", "sum"), jvp=_sum_jvp, vjp=_sum_vjp, doc="sum(xs)")
deflist("list_fill", lambda v, xs: [v] * len(xs), arity=2,
        infer=lambda ts, ps: ListOf(ts[0]),  # type: ignore[arg-type]
        emit=Emit("list_fill"), jvp=_fill_jvp, vjp=_fill_vjp, doc="[v] * len(xs)")
deflist("list_addall", lambda xs, v: [x + v for x in xs], arity=2, infer=same_as_first,
        emit=Emit("list_addall"), jvp=_addall_jvp, vjp=_addall_vjp,
        doc="v added to every item: a new list")
deflist("list_add", lambda a, b: [x + y for x, y in zip(a, b)], arity=2, infer=same_as_first,
        emit=Emit("list_add"), jvp=_add_lists_jvp, vjp=_add_lists_vjp,
        doc="two lists added item by item: a new list")
deflist("list_copy", list, arity=1, infer=same_as_first, emit=Emit("call", "list"),
        jvp=_copy_jvp, vjp=_copy_vjp, doc="list(xs): a new list with the same items")
deflist("list_zeros", _list_zeros, arity=1, infer=same_as_first, emit=Emit("list_zeros"),
        doc="a list of zeros shaped like the items of xs (no derivative)")


def _item_or_none(t: Ty) -> Ty | None:
    return t.item if isinstance(t, ListOf) else None


# -------------------------------------------------------------- surface: what users can call


def _log(x: Any, base: Any = None) -> Sym:
    return log(x) if base is None else log(x) / log(base)


def _dot(a: Any, b: Any) -> Sym:
    """np.dot: matmul up to a 1-D operand or two matrices; else it sums the last axis of `a`
    against the second-to-last of `b` and keeps all the others (not matmul's batch)."""
    a, b = S(a), S(b)
    if not a.is_array or not b.is_array:
        return a * b
    if a.ndim is None or b.ndim is None:
        raise TypeError("np.dot of an array whose rank is not known here")
    if a.ndim == 1 or b.ndim == 1 or a.ndim == 2 and b.ndim == 2:
        return matmul(a, b)
    return surface_of(np.tensordot)(a, b, ((-1,), (-2,)))  # type: ignore[misc]


def _reduction(name: str) -> Any:
    def surface(x: Any, axis: Any = None, keepdims: bool = False) -> Sym:
        return apply(name, x, axis=axis, keepdims=keepdims)
    return surface


def _np_array(obj: Any, dtype: Any = None, copy: Any = None) -> Sym:
    # np.array copies an array and np.asarray does not, unless `copy=` says otherwise (the
    # lowering decides, see Lowering.invoke)
    if isinstance(obj, Sym):
        return obj if dtype is None else apply("astype", obj, dtype=dtype)
    if not isinstance(obj, (list, tuple)):
        return S(obj)
    flat, shp = _flatten(obj)
    if any(isinstance(x, Sym) and x.is_array for x in flat):  # a list of arrays: stack them
        stack = surface_of(np.stack)
        if stack is None or len(shp) != 1:
            raise TypeError("np.array of arrays: use np.stack")
        return stack(list(obj))
    packed = apply("pack", *flat)
    return packed if len(shp) == 1 else reshape(packed, tuple(shp))


def _flatten(obj: Any) -> tuple[list[Any], list[int]]:
    if isinstance(obj, (list, tuple)):
        parts = [_flatten(o) for o in obj]
        shapes = {tuple(p[1]) for p in parts}
        if len(shapes) > 1:
            raise ValueError("np.array of a ragged nested list")
        inner = list(shapes.pop()) if shapes else []
        return [x for p in parts for x in p[0]], [len(obj)] + inner
    return [obj], []


def _reshape_surface(x: Any, *shape_: Any, newshape: Any = None, shape: Any = None) -> Sym:
    shp = shape if shape is not None else newshape
    if shp is None:
        shp = shape_[0] if len(shape_) == 1 else tuple(shape_)
    return reshape(x, shp)


def _transpose_surface(x: Any, *axes: Any) -> Sym:
    if len(axes) == 1 and (axes[0] is None or isinstance(axes[0], tuple)):
        axes = axes[0] or ()
    return transpose(x, tuple(axes) if axes else None)


def _max_builtin(*args: Any) -> Sym:
    out = args[0]
    for a in args[1:]:
        out = apply("maximum", out, a)
    return S(out)


def _min_builtin(*args: Any) -> Sym:
    out = args[0]
    for a in args[1:]:
        out = apply("minimum", out, a)
    return S(out)


def _unary_surface(name: str) -> Any:
    return lambda x: apply(name, x)


for _name, _objs in [
    ("sin", (np.sin, math.sin)), ("cos", (np.cos, math.cos)), ("tan", (np.tan, math.tan)),
    ("arcsin", (np.arcsin, math.asin)), ("arccos", (np.arccos, math.acos)),
    ("arctan", (np.arctan, math.atan)), ("sinh", (np.sinh, math.sinh)),
    ("cosh", (np.cosh, math.cosh)), ("tanh", (np.tanh, math.tanh)),
    ("exp", (np.exp, math.exp)), ("expm1", (np.expm1, math.expm1)),
    ("log1p", (np.log1p, math.log1p)), ("log2", (np.log2, math.log2)),
    ("log10", (np.log10, math.log10)), ("sqrt", (np.sqrt, math.sqrt)),
    ("erf", (math.erf,)), ("abs", (np.abs, builtins.abs, math.fabs)),
    ("square", (np.square,)), ("neg", (np.negative,)), ("sign", (np.sign,)),
    ("floor", (np.floor, math.floor)), ("ceil", (np.ceil, math.ceil)),
    ("trunc", (np.trunc,)), ("rint", (np.rint,)), ("ravel", (np.ravel,)),
    ("zeros_like", (np.zeros_like,)), ("ones_like", (np.ones_like,)),
    ("shape", (np.shape,)), ("size", (np.size,)), ("len", (builtins.len,)),
]:
    bind(_objs, _unary_surface(_name))

bind((np.log, math.log), _log)
bind((np.arctan2, math.atan2), lambda y, x: apply("arctan2", y, x))
bind((np.hypot, math.hypot), lambda x, y: apply("hypot", x, y))
bind((np.power, math.pow, builtins.pow), lambda x, y: S(x) ** y)
bind(np.reciprocal, lambda x: 1.0 / S(x))
bind((np.add,), lambda x, y: S(x) + y)
bind((np.subtract,), lambda x, y: S(x) - y)
bind((np.multiply,), lambda x, y: S(x) * y)
bind((np.divide, np.true_divide), lambda x, y: S(x) / y)
bind(np.maximum, lambda x, y: apply("maximum", x, y))
bind(np.minimum, lambda x, y: apply("minimum", x, y))
bind(builtins.max, _max_builtin, sequences=True)
bind(builtins.min, _min_builtin, sequences=True)
bind(np.where, lambda c, x, y: where(c, x, y))
bind(np.clip, lambda x, a_min=None, a_max=None: apply("clip", x, a_min, a_max))
bind(np.sum, _reduction("sum"))
bind(np.mean, _reduction("mean"))
bind(np.prod, _reduction("prod"))
bind((np.max, np.amax), _reduction("max"))
bind((np.min, np.amin), _reduction("min"))
bind(np.dot, _dot)
bind(np.matmul, lambda a, b: matmul(a, b))
bind(np.outer, lambda a, b: outer(a, b))
bind(np.transpose, lambda x, axes=None: transpose(x, tuple(axes) if axes is not None else None))
bind(np.swapaxes, lambda x, axis1, axis2: apply("swapaxes", x, axis1=axis1, axis2=axis2))
bind(np.reshape, _reshape_surface)
bind(np.expand_dims, lambda x, axis: expand_dims(x, axis))
bind((np.array, np.asarray), _np_array, sequences=True)
bind(builtins.float, lambda x: S(x) * 1.0 if not S(x).is_array else S(x))
bind(builtins.int, lambda x: apply("int", x))
METHODS["astype"] = lambda x, dtype: apply("astype", x, dtype=np.dtype(dtype))
bind(rt.stop_gradient, lambda x: apply("stop_gradient", x))
bind(builtins.print, lambda *xs: apply("print", *xs))
bind(builtins.breakpoint, lambda: apply("breakpoint"))

METHODS.update({
    "sum": _reduction("sum"), "mean": _reduction("mean"), "prod": _reduction("prod"),
    "max": _reduction("max"), "min": _reduction("min"), "dot": _dot,
    "reshape": _reshape_surface, "transpose": _transpose_surface, "ravel": lambda x: apply("ravel", x),
    "flatten": lambda x: apply("ravel", x), "clip": lambda x, a_min=None, a_max=None:
    apply("clip", x, a_min, a_max),
})
ATTRIBUTES.update({
    "T": lambda x: transpose(x), "shape": shape_of, "size": size,
})
from . import prims_multi, prims_numpy  # noqa: F401  (more NumPy; several results)
