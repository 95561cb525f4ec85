"""Batch rules: how each primitive runs on a batch of tangent directions (vector mode).

Vector forward mode (Tapenade's "vector mode") carries k tangent directions at once, stacked
along an extra *leading* axis: the batched form of a value of shape ``s`` has shape
``(k, *s)``, its row ``j`` being the value for direction ``j``.  The pass
(:mod:`s2sad.transforms.batch`) rewrites every equation that reads a batched value with the
rule registered here for its primitive; equations that read only unbatched values (the
primal) are left alone, so the primal is computed once for all k directions.

A rule has the signature ``rule(c: Call) -> Sym | list[tuple[Sym, bool]] | None``: `c` holds
the equation, its operands (batched ones already replaced by their batched values) and helpers;
the rule emits NumPy through the handles of :mod:`s2sad.rules` and returns the batched result
(or, for several results or unbatched ones, ``(value, is_batched)`` pairs).  A rule raises
:class:`Unsupported` for a case it does not handle, and the pass then falls back to
:func:`generic`: a helper that applies the primitive to each direction in turn and stacks the
results with ``np.stack``, always correct, only slower.  Where not even that is possible (a
value that is not an array, an effect), the pass raises :class:`BatchError` and the caller
computes the Jacobian column by column instead.

The conventions the rules rely on:

* broadcasting aligns trailing axes, so an unbatched operand of rank r next to a batched one
  needs nothing, while a batched operand of lower rank than the result gets length-1 axes
  inserted *after* the batch axis (:meth:`Call.align`);
* an axis counted from the end (negative) names the same axis with or without the batch axis
  in front; one counted from the start moves up by one (:func:`shift`);
* a rule returns a value of shape ``(k, *s)`` where ``s`` is the shape of the unbatched
  result, or one that broadcasts to it along the same axes the unbatched tangent did.
"""

from __future__ import annotations

import dataclasses
import inspect
import itertools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from .custom import USER_PREFIX
from .errors import S2SADError
from .ir import Array, Const, Eqn, Opaque, Scalar, Ty, Var
from .rules import REGISTRY, Emit, Sym, apply, current, defprim, no_derivative
from .runtime import Dyn


class BatchError(S2SADError):
    """The vector-mode derivative cannot be generated (the Jacobian is then computed column by
    column)."""

    kind = "BatchError"


class Unsupported(Exception):
    """Raised by a rule for a case it does not handle: the pass uses :func:`generic`."""


# ------------------------------------------------------------------------------------ types


def rank(t: Ty) -> int | None:
    """The number of axes of a value of type `t` (None when unknown or not a number)."""
    if isinstance(t, Scalar):
        return 0
    if isinstance(t, Array):
        return t.ndim
    return None


def batched_type(t: Ty) -> Ty:
    """The type of the batch of values of type `t`: one more axis, in front, of length k
    (unknown: the same code serves any number of directions)."""
    if isinstance(t, Scalar):
        return Array(t.dtype, (None,))
    if isinstance(t, Array):
        return Array(t.dtype, None if t.ones is None else (None,) + t.ones)
    raise BatchError(f"a value of kind {t} cannot carry a batch of tangents")


def shift(axis: Any) -> Any:
    """`axis` (an int or a tuple of them) of a value, as an axis of its batch."""
    if isinstance(axis, (tuple, list)):
        return tuple(shift(a) for a in axis)
    if not isinstance(axis, (int, np.integer)):
        raise Unsupported
    return int(axis) + 1 if axis >= 0 else int(axis)


def typed(s: Sym, ty: Ty, hint: str | None = None, since: int = -1) -> Sym:
    """`s` with type `ty` when it is the result of the newest equation (made at or after
    statement `since` of the current builder): the rules know types the inference rules of
    some primitives cannot work out (a shape with a run-time k in it)."""
    b = current()
    if not isinstance(s.atom, Var) or not b.stmts or len(b.stmts) - 1 < since:
        return s
    last = b.stmts[-1]
    if not isinstance(last, Eqn) or last.outs != (s.atom,):
        return s
    new = Var(ty, hint or s.atom.hint)
    b.stmts[-1] = dataclasses.replace(last, outs=(new,))
    return Sym(new)


# ----------------------------------------------------------------------------- the rule call


@dataclass
class Call:
    """One equation to batch: its operands, which are batched, and helpers for the rules."""

    eqn: Eqn
    args: list[Sym]          # operands; batched ones are the batched values
    mask: list[bool]         # which operands are batched
    params: dict[str, Any]   # parameters: Python values, or Syms for run-time ones
    k: Sym                   # the number of directions, at run time

    @property
    def prim(self) -> str:
        return self.eqn.prim

    def param(self, name: str) -> Any:
        """A parameter's value (its default when not given); Unsupported if only known at run
        time."""
        if name in self.params:
            v = self.params[name]
        else:
            v = dict(REGISTRY[self.prim].params).get(name)
        if isinstance(v, Sym):
            raise Unsupported
        return v

    def static_params(self) -> dict[str, Any]:
        if any(isinstance(v, Sym) for v in self.params.values()):
            raise Unsupported
        return dict(self.params)

    def rank(self, i: int) -> int:
        """The rank of operand `i` unbatched."""
        r = rank(self.eqn.args[i].type)
        if r is None:
            raise Unsupported
        return r

    @property
    def out_rank(self) -> int:
        r = rank(self.eqn.out.type)
        if r is None:
            raise Unsupported
        return r

    def only(self, *batched: int) -> None:
        """Unsupported unless exactly the operands numbered `batched` are batched."""
        if {i for i, m in enumerate(self.mask) if m} != set(batched):
            raise Unsupported

    def align(self, s: Sym, r: int, to: int) -> Sym:
        """Batched `s` of unbatched rank `r` with axes inserted after the batch axis up to rank
        `to`, so that it broadcasts as the unbatched value did against rank-`to` values."""
        if to <= r:
            return s
        axes = tuple(range(1, 1 + to - r))
        return apply("expand_dims", s, axis=axes[0] if len(axes) == 1 else axes)

    def lead_shape(self, like: Sym | None = None) -> Sym:
        """``(k,) + np.shape(like)`` (``k`` for a scalar or no `like`)."""
        if like is None or isinstance(like.type, Scalar) or \
                isinstance(like.atom, Const) and np.ndim(like.atom.value) == 0:
            return self.k
        k1 = typed(apply("tuple", self.k), Opaque("shape"))
        return typed(apply("add", k1, apply("shape", like)), Opaque("shape"))

    def lift(self, u: Sym, dtype: str | None = None, hint: str | None = None) -> Sym:
        """Unbatched `u` repeated for every direction, as a new array (never a view: code may
        write into it)."""
        t = u.type
        own = t.dtype if isinstance(t, (Scalar, Array)) else "float64"
        dt = dtype or own
        zero = isinstance(u.atom, Const) and isinstance(u.atom.value, (int, float)) and \
            not isinstance(u.atom.value, bool) and u.atom.value == 0
        if zero:
            kw = (("dtype", np.dtype(dt)),) if dt != "float64" else ()
            out = apply("construct", self.lead_shape(u), fn=np.zeros, keywords=kw)
        else:
            kw = (("dtype", np.dtype(dt)),) if dt != own else ()
            out = apply("construct", self.lead_shape(u), u, fn=np.full, keywords=kw)
        bt = batched_type(t if isinstance(t, (Scalar, Array)) else Scalar(dt))
        return typed(out, dataclasses.replace(bt, dtype=dt), hint)  # type: ignore[arg-type]

    def batch_all(self) -> list[Sym]:
        """Every operand batched (unbatched ones repeated), each aligned to the result's rank."""
        out = []
        for i, (a, m) in enumerate(zip(self.args, self.mask)):
            out.append(self.align(a if m else self.lift(a), self.rank(i), self.out_rank))
        return out


Result = Any  # Sym | list[tuple[Sym, bool]] | None
BATCH_RULES: dict[str, Callable[[Call], Result]] = {}


def batch_rule(*names: str) -> Callable[[Callable[[Call], Result]], Callable[[Call], Result]]:
    """Register the decorated function as the batch rule of the primitives `names`."""
    def register(fn: Callable[[Call], Result]) -> Callable[[Call], Result]:
        for n in names:
            BATCH_RULES[n] = fn
        return fn
    return register


# ----------------------------------------------------------------------- elementwise and math

ELEMENTWISE = (
    "add", "sub", "mul", "div", "pow", "neg", "abs", "square", "sin", "cos", "tan", "arcsin",
    "arccos", "arctan", "sinh", "cosh", "tanh", "exp", "expm1", "log", "log1p", "log2",
    "log10", "sqrt", "erf", "arctan2", "hypot", "maximum", "minimum", "where", "clip", "lt",
    "le", "gt", "ge", "eq", "ne", "logical_and", "logical_or", "logical_not", "sign", "floor",
    "ceil", "round", "trunc", "rint", "floordiv", "mod", "cbrt", "arcsinh", "arccosh",
    "arctanh", "logaddexp", "logaddexp2", "sinc", "fmax", "fmin", "copy", "isnan", "isinf",
    "isfinite", "stop_gradient", "astype", "zeros_like", "ones_like")


@batch_rule(*ELEMENTWISE)
def _elementwise(c: Call) -> Result:
    """Batched operands aligned to the result's rank; unbatched ones broadcast as they are.
    Where a rank is known only at run time (a loop that widens ``s = 0.0`` to an array), a
    helper aligns them when it runs."""
    try:
        to = c.out_rank
        args = [c.align(a, c.rank(i), to) if m else a
                for i, (a, m) in enumerate(zip(c.args, c.mask))]
    except Unsupported:
        return generic(c, aligned=True)
    return apply(c.prim, *args, **c.static_params())


@batch_rule("hook")
def _identity(c: Call) -> Result:
    return c.args[0]


# -------------------------------------------------------------------------------- reductions

_WHOLE = ("sum", "mean", "prod", "max", "min", "nansum", "nanmean")


@batch_rule("sum", "mean", "prod", "max", "min", "nansum", "nanmean", "var", "std",
            "argmax", "argmin", "argsort")
def _reduce(c: Call) -> Result:
    """The same reduction over the same axes, which are one further along; ``axis=None``
    reduces every axis but the batch axis."""
    c.only(0)
    p = c.static_params()
    axis = c.param("axis")
    x = c.args[0]
    if axis is None:
        r = c.rank(0)
        if r == 0 and c.prim in _WHOLE:
            return x  # a reduction of a number is that number
        if r == 0 or c.prim in ("argmax", "argmin", "argsort") and r != 1:
            raise Unsupported  # over the flattened array
        p["axis"] = 1 if r == 1 else tuple(range(1, r + 1))
    else:
        p["axis"] = shift(axis)
    return apply(c.prim, x, **p)


@batch_rule("norm")
def _norm(c: Call) -> Result:
    c.only(0)
    p = c.static_params()
    axis = c.param("axis")
    if axis is None:
        r = c.rank(0)
        if r not in (1, 2):
            raise Unsupported
        p["axis"] = 1 if r == 1 else (1, 2)  # the 2-norm, the Frobenius norm
    else:
        p["axis"] = shift(axis)
    return apply("norm", c.args[0], **p)


@batch_rule("cumsum", "cumprod")
def _cumulative(c: Call) -> Result:
    c.only(0)
    axis, x = c.param("axis"), c.args[0]
    if axis is None:  # over the flattened array
        return apply(c.prim, _rows(c, x, rank(c.eqn.args[0].type)), axis=1)
    return apply(c.prim, x, axis=shift(axis))


# ------------------------------------------------------------------------------------- shape


@batch_rule("transpose")
def _transpose(c: Call) -> Result:
    c.only(0)
    r, axes = c.rank(0), c.param("axes")
    order = tuple(range(r, 0, -1)) if axes is None else tuple(int(a) % r + 1 for a in axes)
    return apply("transpose", c.args[0], axes=(0,) + order)


@batch_rule("swapaxes")
def _swapaxes(c: Call) -> Result:
    c.only(0)
    return apply("swapaxes", c.args[0], axis1=shift(c.param("axis1")),
                 axis2=shift(c.param("axis2")))


@batch_rule("reshape")
def _reshape(c: Call) -> Result:
    c.only(0)
    shape = c.params.get("shape")
    if isinstance(shape, Sym):  # a run-time shape: (k,) + shape
        k1 = typed(apply("tuple", c.k), Opaque("shape"))
        new: Any = typed(apply("add", k1, shape), Opaque("shape"))
    else:
        if not isinstance(shape, (int, np.integer, tuple, list)):
            raise Unsupported
        dims = (shape,) if isinstance(shape, (int, np.integer)) else tuple(shape)
        new = (-1,) + dims if -1 not in dims else (c.k,) + dims
    return apply("reshape", c.args[0], shape=new)


@batch_rule("ravel")
def _ravel(c: Call) -> Result:
    c.only(0)
    r = c.rank(0)
    if r == 1:
        return c.args[0]
    if r == 0:
        return apply("expand_dims", c.args[0], axis=1)
    return apply("reshape", c.args[0], shape=(c.k, -1))


@batch_rule("expand_dims")
def _expand_dims(c: Call) -> Result:
    c.only(0)
    axis = c.param("axis")
    axes = tuple(axis) if isinstance(axis, (tuple, list)) else (axis,)
    n = c.rank(0) + len(axes)
    new = tuple(int(a) % n + 1 for a in axes)
    return apply("expand_dims", c.args[0], axis=new[0] if len(new) == 1 else new)


@batch_rule("squeeze")
def _squeeze(c: Call) -> Result:
    c.only(0)
    axis = c.param("axis")
    if axis is None:
        t = c.eqn.args[0].type
        ones = t.ones if isinstance(t, Array) else ()
        if ones is None or None in ones:  # which axes go is only known at run time
            return apply(_helper("squeeze", _squeeze_batch), c.args[0])
        new = tuple(i + 1 for i, o in enumerate(ones) if o)
    else:  # an int or a tuple, as the user gave it (negative axes stay negative)
        new = shift(tuple(axis) if isinstance(axis, (tuple, list)) else (axis,))
    if not new:
        return c.args[0]
    return apply("squeeze", c.args[0], axis=new[0] if len(new) == 1 else new)


@batch_rule("broadcast_to")
def _broadcast_to(c: Call) -> Result:
    """``np.broadcast_to(x, np.shape(like))``; a new array when `like` is not batched."""
    x, like = c.args
    mx, ml = c.mask
    if ml:
        if mx:
            x = c.align(x, c.rank(0), c.rank(1))
        return apply("broadcast_to", x, like)
    if isinstance(like.type, Scalar):
        return x  # printed as `x` itself
    r, to = rank(c.eqn.args[0].type), rank(like.type)
    if r is None or to is None:
        return apply(_helper("broadcast_to", _broadcast_batch), x, like)
    return apply("construct", c.lead_shape(like), c.align(x, r, to), fn=np.full)


@batch_rule("broadcast_to_shape")
def _broadcast_to_shape(c: Call) -> Result:
    c.only(0)
    shape = c.param("shape")
    dims = (shape,) if isinstance(shape, (int, np.integer)) else tuple(shape)
    x = c.align(c.args[0], c.rank(0), len(dims))
    return apply("broadcast_to_shape", x, shape=(c.k,) + dims)


@batch_rule("fill")
def _fill(c: Call) -> Result:
    """A new array shaped like `like` (times k), with `like`'s dtype, filled with `x`."""
    x, like = c.args
    mx, ml = c.mask
    if ml:
        return apply("fill", c.align(x, c.rank(0), c.rank(1)) if mx else x, like)
    t = like.type
    if not isinstance(t, (Scalar, Array)):
        raise Unsupported
    r, to = rank(c.eqn.args[0].type), rank(t)
    if r is None or to is None:
        return apply(_helper("fill", _fill_batch), x, np.dtype(t.dtype), like)
    return apply("construct", c.lead_shape(like), c.align(x, r, to), fn=np.full,
                 keywords=(("dtype", np.dtype(t.dtype)),))


def _fill_batch(x: Any, dtype: Any, like: Any) -> Any:
    """The batch `x` broadcast to k times the shape of `like`, as a new array of `like`'s
    dtype in the IR (NumPy 1.26 computes ``np.float32(2) ** 2`` in float64, NumPy 2 not)."""
    like = np.asarray(like)
    return np.full((len(x),) + like.shape, _aligned(x, like.ndim), dtype=dtype)


def _broadcast_batch(x: Any, like: Any) -> Any:
    """The batch `x` broadcast to k times the shape of `like`, as a new array."""
    return np.full((len(x),) + np.shape(like), _aligned(x, np.ndim(like)))


def _squeeze_batch(x: Any) -> Any:
    """Each direction of the batch `x` squeezed (the batch axis stays)."""
    return x.reshape(x.shape[:1] + tuple(n for n in x.shape[1:] if n != 1))


def _aligned(x: Any, ndim: int) -> Any:
    """The batch `x` with axes inserted after the batch axis up to `ndim` + 1 axes."""
    x = np.asarray(x)
    short = ndim + 1 - x.ndim
    return x.reshape(x.shape[:1] + (1,) * short + x.shape[1:]) if short > 0 else x


_HELPERS: dict[str, str] = {}


def _helper(name: str, fn: Callable[..., Any]) -> str:
    """The primitive printed as a call of run-time helper `fn`, named ``batched_<name>``."""
    prim = _prim_name(f"batched_{name}")
    if prim not in REGISTRY:
        fn.__name__ = fn.__qualname__ = f"batched_{name}"
        defprim(prim, fn, arity=len(inspect.signature(fn).parameters),
                infer=lambda ts, ps: Array(_dtype_of(ts[-1]), None),
                emit=Emit("custom", f"batched_{name}"), foldable=False,
                doc=f"{name} on a batch whose rank is known only at run time")
    return prim


def _dtype_of(t: Ty) -> str:
    return t.dtype if isinstance(t, (Scalar, Array)) else "float64"


@batch_rule("unbroadcast")
def _unbroadcast(c: Call) -> Result:
    """Sum over the axes `like` was broadcast along, known from the types (the batch axis is
    never one of them)."""
    c.only(0)
    g = c.args[0]
    gt, lt = c.eqn.args[0].type, c.eqn.args[1].type
    if isinstance(lt, Scalar):
        r = c.rank(0)
        return apply("sum", g, axis=tuple(range(1, r + 1))) if r else g
    go = () if isinstance(gt, Scalar) else gt.ones if isinstance(gt, Array) else None
    lo = lt.ones if isinstance(lt, Array) else None
    if go is None or lo is None or None in go or None in lo:
        raise Unsupported
    lead = len(go) - len(lo)
    if lead < 0:
        return g  # it broadcasts against `like` already
    kept = [1 + lead + i for i, (p, q) in enumerate(zip(lo, go[lead:])) if p and not q]
    if kept:
        g = apply("sum", g, axis=tuple(kept) if len(kept) > 1 else kept[0], keepdims=True)
    if lead:
        g = apply("sum", g, axis=tuple(range(1, lead + 1)) if lead > 1 else 1)
    return g


@batch_rule("flip")
def _flip(c: Call) -> Result:
    c.only(0)
    r, axis = c.rank(0), c.param("axis")
    new = tuple(range(1, r + 1)) if axis is None else shift(axis)
    return apply("flip", c.args[0], axis=new)


@batch_rule("roll")
def _roll(c: Call) -> Result:
    c.only(0)
    axis, x = c.param("axis"), c.args[0]
    if axis is None:  # rolls the flattened array
        r = rank(c.eqn.args[0].type)
        rolled = apply("roll", _rows(c, x, r), shift=c.param("shift"), axis=1)
        return rolled if r == 1 else apply("reshape", rolled, shape=apply("shape", x))
    return apply("roll", x, shift=c.param("shift"), axis=shift(axis))


@batch_rule("tile")
def _tile(c: Call) -> Result:
    c.only(0)
    r = c.rank(0)
    reps = c.param("reps")
    reps = (int(reps),) if isinstance(reps, (int, np.integer)) else tuple(int(n) for n in reps)
    d = max(r, len(reps))
    x = c.align(c.args[0], r, d)
    return apply("tile", x, reps=(1,) * (d - len(reps) + 1) + reps)


@batch_rule("repeat")
def _repeat(c: Call) -> Result:
    c.only(0)
    axis, x = c.param("axis"), c.args[0]
    if axis is None:  # repeats the flattened array
        x, axis = _rows(c, x, rank(c.eqn.args[0].type)), 0
    return apply("repeat", x, repeats=c.param("repeats"), axis=shift(axis))


@batch_rule("pad")
def _pad(c: Call) -> Result:
    c.only(0)
    return apply("pad", c.args[0], pad_width=((0, 0),) + tuple(c.param("pad_width")),
                 constant_values=c.param("constant_values"))


@batch_rule("tril", "triu")
def _triangle(c: Call) -> Result:
    c.only(0)
    if c.rank(0) < 2:
        raise Unsupported
    return apply(c.prim, c.args[0], k=c.param("k"))


@batch_rule("diagonal")
def _diagonal(c: Call) -> Result:
    """The diagonal of axes 1 and 2: move the batch axis last, take it, move it back."""
    c.only(0)
    r = c.rank(0)
    if r < 2:
        raise Unsupported
    moved = apply("transpose", c.args[0], axes=tuple(range(1, r + 1)) + (0,))
    d = apply("diagonal", moved, offset=c.param("offset"))
    if r == 2:
        return d
    return apply("transpose", d, axes=(r - 2,) + tuple(range(r - 2)) + (r - 1,))


@batch_rule("append", "concatenate")
def _append(c: Call) -> Result:
    """Every part batched (the others repeated); `axis=None` joins them flattened."""
    parts = [x if m else c.lift(x) for x, m in zip(c.args, c.mask)]
    axis = c.param("axis")
    if axis is None:
        parts = [apply("reshape", x, shape=(c.k, -1)) for x in parts]
        return apply(c.prim, *parts, axis=1)
    return apply(c.prim, *parts, axis=shift(axis))


@batch_rule("split", "array_split")
def _split(c: Call) -> Result:
    """The same pieces of each direction: the axis is one further along."""
    c.only(0)
    parts = apply(c.prim, c.args[0], sections=c.param("sections"), axis=shift(c.param("axis")))
    return [(p, True) for p in parts]  # type: ignore[attr-defined]


@batch_rule("stack")
def _stack_batched(c: Call) -> Result:
    """Every part batched (the others repeated), stacked after the batch axis."""
    parts = [x if m else c.lift(x) for x, m in zip(c.args, c.mask)]
    return apply("stack", *parts, axis=shift(c.param("axis")))


@batch_rule("pack")
def _pack(c: Call) -> Result:
    """``np.array([x0, x1, ...])`` of numbers: a (k, n) array of zeros, its nonzero columns
    set."""
    dt = c.eqn.out.type.dtype if isinstance(c.eqn.out.type, Array) else "float64"
    n = len(c.args)
    kw = (("dtype", np.dtype(dt)),) if dt != "float64" else ()
    # named, so that it is written in place rather than folded into the first write
    out = typed(apply("construct", (c.k, n), fn=np.zeros, keywords=kw),
                Array(dt, (None, n == 1)), c.eqn.out.hint or "rows")
    for i, a in enumerate(c.args):
        if isinstance(a.atom, Const) and a.atom.value == 0:
            continue
        out = apply("setitem", out, a, spec=(slice(None), i))
    return out


# ------------------------------------------------------------------------------------- index


def _index_spec(c: Call, spec: Any, dyn: list[Ty]) -> tuple[Any, ...]:
    """`spec` for the batch (a full slice in front), if its advanced indices stay in place."""
    if not isinstance(spec, tuple):
        raise Unsupported
    advanced = []
    for pos, s in enumerate(spec):
        if s is None or s is Ellipsis or isinstance(s, slice) or \
                isinstance(s, (int, np.integer)) and not isinstance(s, bool):
            continue
        if isinstance(s, Dyn) and isinstance(dyn[s.k], Scalar):
            continue
        advanced.append(pos)
    if advanced and advanced != list(range(advanced[0], advanced[-1] + 1)):
        raise Unsupported  # separated advanced indices move their axes to the front
    return (slice(None),) + spec


@batch_rule("getitem")
def _getitem(c: Call) -> Result:
    c.only(0)
    dyn = [a.type for a in c.eqn.args[1:]]
    spec = _index_spec(c, c.param("spec"), dyn)
    return apply("getitem", c.args[0], *c.args[1:], spec=spec)


def _slot_rank(c: Call, like: int) -> int:
    """The rank of ``x[spec]`` for operand `like` as x (scatter and setitem: the index
    operands follow the first two)."""
    dyn = [a.type for a in c.eqn.args[2:]]
    t = REGISTRY["getitem"].infer([c.eqn.args[like].type, *dyn], {"spec": c.param("spec")})
    r = rank(t)
    if r is None:
        raise Unsupported
    return r


@batch_rule("scatter")
def _scatter(c: Call) -> Result:
    """Zeros shaped like the batch of `like`, `v` added at ``[:, spec]``."""
    c.only(0)
    v, like, *dyn = c.args
    spec = _index_spec(c, c.param("spec"), [a.type for a in c.eqn.args[2:]])
    v = c.align(v, c.rank(0), _slot_rank(c, 1))
    shape = c.lead_shape(like)
    view = typed(apply("broadcast_to_shape", like, shape=shape), batched_type(like.type))
    return apply("scatter", v, view, *dyn, spec=spec)


@batch_rule("setitem")
def _setitem(c: Call) -> Result:
    """``x[:, spec] = v`` on the batch of x (repeated when only v is batched)."""
    if any(c.mask[2:]):
        raise Unsupported
    x, v, *dyn = c.args
    spec = _index_spec(c, c.param("spec"), [a.type for a in c.eqn.args[2:]])
    if not c.mask[0]:
        x = c.lift(x, hint=c.eqn.out.hint or getattr(c.eqn.args[0], "hint", None) or "rows")
    if c.mask[1]:
        v = c.align(v, c.rank(1), _slot_rank(c, 0))
    return apply("setitem", x, v, *dyn, spec=spec)


@batch_rule("take")
def _take(c: Call) -> Result:
    c.only(0)
    axis = c.param("axis")
    if axis is None:
        raise Unsupported
    return apply("take", c.args[0], c.args[1], axis=shift(axis))


@batch_rule("take_along_axis")
def _take_along_axis(c: Call) -> Result:
    c.only(0)
    axis = c.param("axis")
    if axis is None:
        raise Unsupported
    idx = apply("expand_dims", c.args[1], axis=0)
    return apply("take_along_axis", c.args[0], idx, axis=shift(axis))


# ---------------------------------------------------------------------------- linear algebra


@batch_rule("matmul")
def _matmul(c: Call) -> Result:
    """One operand batched (tangent code is linear: never both)."""
    a, b = c.args
    ra, rb = c.rank(0), c.rank(1)
    if c.mask == [True, False]:
        if ra == 1:
            if rb <= 2:
                return apply("matmul", a, b)      # (k, m) @ (m,) or (m, p)
            a = apply("expand_dims", a, axis=tuple(range(1, rb)))
            return apply("squeeze", apply("matmul", a, b), axis=-2)
        return apply("matmul", c.align(a, ra, max(ra, rb)), b)
    if c.mask == [False, True]:
        if rb == 1:
            if ra == 1:
                return apply("matmul", b, a)      # a . b_j for each j
            if ra == 2:
                return apply("matmul", b, apply("transpose", a))  # rows b_j @ a.T
            col = c.align(apply("expand_dims", b, axis=-1), 1, ra - 1)
            return apply("squeeze", apply("matmul", a, col), axis=-1)
        return apply("matmul", a, b if ra == 1 else c.align(b, rb, max(ra, rb)))
    raise Unsupported


def _rows(c: Call, s: Sym, r: int | None) -> Sym:
    """Batched `s` of rank `r` (None: unknown) as a (k, size) matrix."""
    if r == 1:
        return s
    if r == 0:
        return apply("expand_dims", s, axis=1)
    return apply("reshape", s, shape=(c.k, -1))


def _flat(s: Sym, r: int) -> Sym:
    return s if r == 1 else apply("ravel", s)


@batch_rule("outer")
def _outer(c: Call) -> Result:
    a, b = c.args
    if c.mask == [True, False]:
        return apply("expand_dims", _rows(c, a, c.rank(0)), axis=2) * _flat(b, c.rank(1))
    if c.mask == [False, True]:
        return apply("expand_dims", _rows(c, b, c.rank(1)), axis=1) * \
            apply("expand_dims", _flat(a, c.rank(0)), axis=1)
    raise Unsupported


def _letters(spec: str) -> tuple[list[str], str]:
    ins, _, out = spec.partition("->")
    return ins.split(","), out


@batch_rule("einsum")
def _einsum(c: Call) -> Result:
    """A new letter for the batch axis, in front of the batched operand and of the result."""
    if c.mask[0] or sum(c.mask) != 1:
        raise Unsupported
    spec = c.eqn.args[0]
    if not isinstance(spec, Const) or not isinstance(spec.value, str):
        raise Unsupported
    ins, out = _letters(spec.value)
    free = next(L for L in "ZYXWVUTSRQPONMLKJIHGFEDCBA" if L not in spec.value)
    k = c.mask.index(True) - 1
    ins[k] = free + ins[k]
    text = ",".join(ins) + "->" + free + out
    new = Sym(Const(text, Opaque("einsum:" + text)))  # as prims_numpy.subscripts makes them
    return apply("einsum", new, *c.args[1:])


@batch_rule("solve")
def _solve(c: Call) -> Result:
    c.only(1)
    a, b = c.args
    ra, rb = c.rank(0), c.rank(1)
    if rb == 1:
        if ra != 2:
            raise Unsupported
        return apply("transpose", apply("solve", a, apply("transpose", b)))
    return apply("solve", a, c.align(b, rb, max(ra, rb)))


@batch_rule("inv", "det", "cholesky", "eigvalsh", "svdvals")
def _stacked(c: Call) -> Result:
    """NumPy's linear algebra works on stacks of matrices: the batch is one more stack axis."""
    c.only(0)
    if c.rank(0) < 2:
        raise Unsupported
    return apply(c.prim, c.args[0], **c.static_params())


# -------------------------------------------------------------------- shapes of batched values


@batch_rule("shape")
def _shape(c: Call) -> Result:
    shp = apply("shape", c.args[0])
    return [(typed(apply("getitem", shp, spec=(slice(1, None),)), Opaque("shape")), False)]


@batch_rule("len")
def _len(c: Call) -> Result:
    return [(apply("getitem", apply("shape", c.args[0]), spec=(1,)), False)]


@batch_rule("size")
def _size(c: Call) -> Result:
    return [(apply("floordiv", apply("size", c.args[0]), c.k), False)]


# ------------------------------------------------------------------------- the generic rule

_GENERIC: dict[Any, str] = {}
_KEEP: list[Any] = []  # values whose identity is part of a key in _GENERIC
_names = itertools.count(2)


def _key_of(v: Any) -> Any:
    """A hashable key for a static parameter: its value for plain data, else its identity."""
    if v is None or isinstance(v, (bool, int, float, str, np.dtype, np.generic, Dyn)) or \
            v is Ellipsis:
        return (type(v).__name__, repr(v))
    if isinstance(v, slice):
        return ("slice", _key_of(v.start), _key_of(v.stop), _key_of(v.step))
    if isinstance(v, (tuple, list)):
        return (type(v).__name__,) + tuple(_key_of(i) for i in v)
    _KEEP.append(v)
    return ("id", id(v))


def _mapper(impl: Callable[..., Any], mask: tuple[bool, ...], static: dict[str, Any],
            dynamic: tuple[str, ...], aligned: bool) -> Callable[..., Any]:
    n = len(mask)

    def each_aligned(*values: Any) -> Any:
        xs, dyn = values[:n], values[n:]
        kw = dict(static)
        kw.update(zip(dynamic, dyn))
        ranks = [np.ndim(v) - 1 if m else np.ndim(v) for v, m in zip(xs, mask)]
        top = max(ranks)
        xs = tuple(np.reshape(v, np.shape(v)[:1] + (1,) * (top - r) + np.shape(v)[1:])
                   if m and r < top else v for v, m, r in zip(xs, mask, ranks))
        return impl(*xs, **kw)

    if aligned:
        return each_aligned

    def each_direction(*values: Any) -> Any:
        xs, dyn = values[:n], values[n:]
        kw = dict(static)
        kw.update(zip(dynamic, dyn))
        k = len(next(v for v, m in zip(xs, mask) if m))
        return np.stack([np.asarray(impl(*[v[j] if m else v for v, m in zip(xs, mask)], **kw))
                         for j in range(k)])
    return each_direction


def generic(c: Call, aligned: bool = False) -> Sym:
    """``batched_<prim>(*operands)``: a helper that applies the primitive to each direction
    and stacks the results.  Correct for any pure primitive with one array or number result.

    With `aligned` (elementwise primitives only) the helper instead inserts axes after the
    batch axis of the batched operands up to the rank of the widest, then applies the
    primitive once, to the whole batch."""
    e = c.eqn
    prim = REGISTRY[e.prim]
    if prim.effect or len(e.outs) != 1 or not isinstance(e.out.type, (Scalar, Array)):
        raise BatchError(f"no batch rule for {e.prim} on batched operands", e.loc)
    static = {k: v.value for k, v in e.params if isinstance(v, Const)}
    dynamic = tuple(k for k, v in e.params if not isinstance(v, Const))
    key = (e.prim, tuple(c.mask), _key_of(tuple(sorted(static.items()))), dynamic, aligned)
    name = _GENERIC.get(key)
    if name is None:
        base = "batched_" + "".join(ch if ch.isalnum() else "_" for ch in e.prim)
        name = base
        while _prim_name(name) in REGISTRY:
            name = f"{base}_{next(_names)}"
        fn = _mapper(prim.impl, tuple(c.mask), static, dynamic, aligned)
        fn.__name__ = fn.__qualname__ = name
        # its derivative is not derived: an error if one is needed, never a dropped term
        refuse = None if prim.jvp is None else [no_derivative(
            f"{name}, {e.prim} run on each direction of a batch (vector forward mode)",
            "differentiate the function itself to the order needed: s2sad.hessian(f), "
            "s2sad.grad(s2sad.grad(f)), s2sad.jacobian(s2sad.grad(f))")]
        defprim(_prim_name(name), fn, arity=None, infer=_typer(batched_type(e.out.type)),
                emit=Emit("custom", name), foldable=False, jvp=refuse, vjp=refuse,
                doc=f"{e.prim} applied to each direction of a batch, results stacked")
        _GENERIC[key] = name
    dyn_args = [c.params[k] for k in dynamic]
    # the helper serves results of any rank (its type rule gives the first one's): this one's
    return typed(apply(_prim_name(name), *c.args, *dyn_args), batched_type(e.out.type))


def _typer(t: Ty) -> Callable[[Any, Any], Ty]:
    """A type rule giving `t` (the pass records each result's own type afterwards)."""
    return lambda types, params: t


def _prim_name(helper: str) -> str:
    """Registry name of the primitive printed as a call of run-time helper `helper`: named
    like the user functions the code calls by name (``custom:module.name``)."""
    return f"{USER_PREFIX}{__name__}.{helper}"



@batch_rule("jacobian_block", "jacobian_unblock")
def _jacobian_block(c: Call) -> Result:
    """Linear in its first operand: the batch axis is one more axis in front."""
    c.only(0)
    return apply(c.prim, *c.args, lead=c.param("lead") + 1)
