"""The few helpers that generated code may call.

Code on Python floats never calls these: they exist for arrays whose shapes are only known at
run time.  This module imports nothing from the rest of s2sad, so a saved derivative module
needs only ``s2sad.runtime`` (or a copy of it) and NumPy.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

__all__ = [
    "Dyn",
    "broadcast_like",
    "check_broadcast",
    "check_matmul",
    "erf",
    "getitem",
    "grad_of",
    "jacobian_block",
    "jacobian_seed",
    "jacobian_unblock",
    "pack",
    "scatter",
    "setitem",
    "stop_gradient",
    "unbroadcast",
]


def unbroadcast(g: Any, like: Any) -> Any:
    """Sum `g` over the axes along which `like` was broadcast.

    The result has `like`'s shape, as the type s2sad gives it says: a `g` lazily broadcast
    (a number, or length 1 where `like` is longer) is broadcast up into a new array (it may
    be a function's result: a gradient the caller can write into).
    """
    shape, gshape = np.shape(like), np.shape(g)
    if gshape == shape:
        return g
    lead = len(gshape) - len(shape)
    axes = tuple(range(max(lead, 0))) + tuple(
        lead + i for i, n in enumerate(shape)
        if lead + i >= 0 and n == 1 and gshape[lead + i] != 1)
    out = np.sum(g, axis=axes, keepdims=True) if axes else g
    if lead > 0:
        out = out.reshape(np.shape(out)[lead:])
    return out if np.shape(out) == shape else np.array(np.broadcast_to(out, shape))


def check_broadcast(*xs: Any) -> None:
    """Raise NumPy's error if the operands of an elementwise operation do not broadcast.

    It stands where the generated code leaves out an operation whose result nothing reads
    (the derivative needs only its operands): the shape error the user's code raises must
    still be raised.
    """
    shapes = [np.shape(x) for x in xs]
    try:
        np.broadcast_shapes(*shapes)
    except ValueError:
        raise ValueError("operands could not be broadcast together with shapes "
                         + " ".join(str(s) for s in shapes)) from None


def check_matmul(a: Any, b: Any) -> None:
    """Raise if ``a @ b`` would fail on its shapes (like :func:`check_broadcast`)."""
    sa, sb = np.shape(a), np.shape(b)
    if not sa or not sb:
        raise ValueError("matmul: an operand has no dimensions: shapes "
                         f"{sa} and {sb}")
    ka, kb = sa[-1], sb[-2] if len(sb) > 1 else sb[0]
    if ka != kb:
        raise ValueError(f"matmul: shapes {sa} and {sb} do not align: the last axis of the "
                         f"first ({ka}) is not the {'next-to-' if len(sb) > 1 else ''}last "
                         f"of the second ({kb})")
    np.broadcast_shapes(sa[:-2], sb[:-2])


def broadcast_like(x: Any, like: Any) -> Any:
    """`x` broadcast to `like`'s shape (a read-only view for arrays)."""
    return np.broadcast_to(x, np.shape(like))


class Dyn:
    """Placeholder in an index spec for the k-th run-time index operand."""

    __slots__ = ("k",)

    def __init__(self, k: int) -> None:
        self.k = k

    def __repr__(self) -> str:
        return f"Dyn({self.k})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Dyn) and other.k == self.k

    def __hash__(self) -> int:
        return hash(("Dyn", self.k))


def _index(spec: tuple[Any, ...], dyn: tuple[Any, ...]) -> Any:
    def sub(s: Any) -> Any:
        if isinstance(s, Dyn):
            return dyn[s.k]
        if isinstance(s, slice):
            return slice(sub(s.start), sub(s.stop), sub(s.step))
        return s
    idx = tuple(sub(s) for s in spec)
    return idx[0] if len(idx) == 1 else idx


def getitem(x: Any, *dyn: Any, spec: tuple[Any, ...]) -> Any:
    """``x[spec]`` with run-time operands substituted for the placeholders."""
    return x[_index(spec, dyn)]


def scatter(v: Any, like: Any, *dyn: Any, spec: tuple[Any, ...]) -> Any:
    """Zeros shaped like `like` with `v` added at ``[spec]`` (repeated indices accumulate)."""
    out = np.zeros_like(like, dtype=np.result_type(like, v))
    np.add.at(out, _index(spec, dyn), v)
    return out


def setitem(x: Any, v: Any, *dyn: Any, spec: tuple[Any, ...]) -> Any:
    """A copy of `x` with ``[spec]`` set to `v`."""
    out = np.array(x, copy=True)
    out[_index(spec, dyn)] = v
    return out


def pack(*xs: Any) -> Any:
    """``np.array([x0, x1, ...])`` of scalars."""
    return np.array(xs)


def erf(x: Any) -> Any:
    """The error function, elementwise (NumPy has none)."""
    if isinstance(x, np.ndarray):
        return _erf_array(x)
    return math.erf(x)


_erf_array = np.vectorize(math.erf, otypes=[float])
try:  # SciPy is optional; its erf is vectorised in C
    from scipy.special import erf as _scipy_erf

    _erf_array = _scipy_erf
except ImportError:  # pragma: no cover - depends on the environment
    pass


class grad_of:
    """Mark a backward-pass hook: in differentiated code the body of
    ``with s2sad.grad_of(h) as g:`` runs in the backward sweep on `g`, the gradient flowing
    into `h` at that point, and what it leaves in `g` flows on.  Called directly, the
    function runs as written (the body sees `h` itself and changes nothing)."""

    def __init__(self, value: Any) -> None:
        self.value = value

    def __enter__(self) -> Any:
        return self.value

    def __exit__(self, *exc: object) -> None:
        return None


def stop_gradient(x: Any) -> Any:
    """Return `x`; s2sad treats the result as a constant when differentiating."""
    return x


# The three helpers of a Jacobian built inside generated code (``s2sad.jacobian`` of a function
# that is differentiated again): vector forward mode seeded with the identity.


def _float(x: Any) -> Any:
    dt = np.result_type(x)
    return dt if dt.kind == "f" else np.dtype("float64")


def jacobian_seed(x: Any) -> Any:
    """The unit directions of `x`, stacked: shape ``(x.size,) + x.shape``."""
    n = int(np.size(x))
    return np.eye(n, dtype=_float(x)).reshape((n,) + np.shape(x))


def jacobian_block(t: Any, out: Any, x: Any, lead: int = 0) -> Any:
    """The Jacobian of `out` by `x` (shape ``out.shape + x.shape``) from the tangents `t` of
    `out` along the unit directions of `x` (shape ``(x.size,) + out.shape``).  With `lead`,
    `t` has that many more axes in front, kept in front."""
    t = np.asarray(t)
    j = np.moveaxis(t, lead, -1).reshape(t.shape[:lead] + np.shape(out) + np.shape(x))
    return j[()] if j.ndim == 0 else j


def jacobian_unblock(g: Any, out: Any, x: Any, lead: int = 0) -> Any:
    """The transpose of :func:`jacobian_block`: from ``out.shape + x.shape`` back to
    ``(x.size,) + out.shape`` (after `lead` axes in front)."""
    g = np.asarray(g)
    n = int(np.size(x))
    return np.moveaxis(g.reshape(g.shape[:lead] + np.shape(out) + (n,)), -1, lead)
