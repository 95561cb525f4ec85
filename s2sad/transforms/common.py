"""Shape bookkeeping shared by the two derivative transforms.

A broadcasting primitive's rule returns a derivative shaped like the primitive's result.  In
reverse mode it must be summed back to the operand's shape; in forward mode an operand's
tangent that did not fill the result must be broadcast up.  With the operands' types (which
axes have length 1) the axes are known when the code is generated, so the output is a plain
``np.sum(g, axis=0)``; only where a length is unknown does it fall back to a run-time helper.
"""

from __future__ import annotations

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
        return apply("broadcast_to", c, like)
    if not isinstance(ct, Array) or ct.ones is None or xt.ones is None:
        return apply("unbroadcast", c, like)
    lead = len(ct.ones) - len(xt.ones)
    if lead < 0:
        return apply("broadcast_to", c, like)
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
    """`c` broadcast to the shape of `ans` when it may not fill it."""
    return c if covers(c.type, ans.type) else apply("broadcast_to", c, ans)


def _axis(axes: list[int]) -> int | tuple[int, ...]:
    return axes[0] if len(axes) == 1 else tuple(axes)
