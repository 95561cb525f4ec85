"""Dead-code elimination.

Contract: ``dce(f)`` drops every equation none of whose outputs is read later or returned
(all primitives are pure).  Comment markers are kept only when code follows them.  Before and
after, when only ``x_bar`` is returned::

    t1 = mul(x, x)          t1 = mul(x, x)
    y = add(t1, 2.0)        (gone)
    x_bar = mul(2.0, x)     x_bar = mul(2.0, x)
"""

from __future__ import annotations

from ..ir import Block, Eqn, Function, Var


def dce(fn: Function) -> Function:
    """Remove the equations whose results are never used."""
    live = {r.id for r in fn.results if isinstance(r, Var)}
    kept: list[Eqn] = []
    code_after = False
    for stmt in reversed(fn.body.stmts):
        if not isinstance(stmt, Eqn):
            raise NotImplementedError("control flow")  # pragma: no cover - next issue
        if stmt.prim == "comment":
            if code_after:
                kept.append(stmt)
            continue
        if any(v.id in live for v in stmt.outs):
            kept.append(stmt)
            code_after = True
            live.update(a.id for a in stmt.atoms() if isinstance(a, Var))
    return fn.replace(body=Block(tuple(reversed(kept))))
