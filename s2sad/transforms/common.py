"""Shape bookkeeping shared by the two derivative transforms.

Derivatives are kept *lazily broadcast*: the tangent or cotangent of an array `v` may have
length 1 (or be missing) along axes where `v` is longer, as long as it broadcasts to `v`'s
shape; e.g. the adjoint of ``np.sum(x, axis=1)`` is ``np.expand_dims(g, 1)``, never a full
copy.  Elementwise rules accept such values as they are.  :func:`materialize` gives the full
shape where it is needed: before the rule of a primitive that is not elementwise, and for the
derivatives a function returns.

A broadcasting primitive's adjoint must be summed back to the operand's shape
(:func:`unbroadcast_to`).  With the operands' types (which axes have length 1) the axes are
known when the code is generated, so the output is a plain ``np.sum(g, axis=0)``; only where a
length is unknown does it fall back to the run-time helper ``unbroadcast``.
"""

from __future__ import annotations

import numpy as np

from ..ir import Array, Scalar
from ..rules import Sym, apply, covers


def unbroadcast_to(c: Sym, like: Sym) -> Sym:
    """`c` summed over the axes along which `like` was broadcast to `c`'s shape."""
    ct, xt = c.type, like.type
    if isinstance(xt, Scalar):
        return c if isinstance(ct, Scalar) else apply("sum", c)
    if not isinstance(xt, Array):
        return c
    if isinstance(ct, Scalar):
        return c  # lazily broadcast
    if not isinstance(ct, Array) or ct.ones is None or xt.ones is None:
        return apply("unbroadcast", c, like)
    lead = len(ct.ones) - len(xt.ones)
    if lead < 0:
        return c  # lazily broadcast: fewer axes than `like`
    kept: list[int] = []
    for i, (xo, co) in enumerate(zip(xt.ones, ct.ones[lead:])):
        if xo is True and co is not True:
            if co is None:
                return apply("unbroadcast", c, like)
            kept.append(lead + i)
        elif xo is None and co is not True:  # `like` may or may not have been stretched here
            return apply("unbroadcast", c, like)
    if kept:
        c = apply("sum", c, axis=_axis(kept), keepdims=True)
    if lead:
        c = apply("sum", c, axis=_axis(list(range(lead))))
    return c


def broadcast_up(c: Sym, ans: Sym) -> Sym:
    """`c` broadcast (as a read-only view) to the shape of `ans` when it may not fill it."""
    return c if covers(c.type, ans.type) else apply("broadcast_to", c, ans)


def materialize(c: Sym, like: Sym) -> Sym:
    """`c` as a derivative of `like`: its shape and, for float arrays, its dtype.

    A new array is made only when `c` may not have `like`'s full shape (``np.full_like`` casts
    as it fills), or when the types say the dtypes differ.
    """
    if not covers(c.type, like.type):
        return apply("fill", c, like)
    ct, lt = c.type, like.type
    if isinstance(lt, Array) and isinstance(ct, (Scalar, Array)) and ct.dtype != lt.dtype:
        return apply("astype", c, dtype=np.dtype(lt.dtype))
    return c


def _axis(axes: list[int]) -> int | tuple[int, ...]:
    return axes[0] if len(axes) == 1 else tuple(axes)
