"""Forward mode: interleave each primal equation with the equation of its tangent.

Contract: ``jvp(f, wrt)`` takes ``f(*params) -> results`` and returns
``f_jvp(*params, *tangents) -> (*results, *result_tangents)``, with one tangent parameter
``x_dot`` per parameter in `wrt`.  Only values that depend on `wrt` get tangents, and
zero tangents are never materialised inside the function (only for a result that does not
depend on `wrt`).  Before and after::

    t1 = mul(x, x)             t1 = mul(x, x)
    y = sin(t1)                t2 = mul(x_dot, x)
                               t3 = mul(x, x_dot)
                               t1_dot = add(t2, t3)
                               y = sin(t1)
                               t4 = cos(t1)
                               y_dot = mul(t1_dot, t4)
"""

from __future__ import annotations

from collections.abc import Sequence

from ..analyses import varied
from ..ir import Array, Atom, Block, Const, Eqn, Function, Var
from ..rules import REGISTRY, Builder, Sym, apply, building
from .common import broadcast_up, materialize
from .rule_call import call_rule


def jvp(fn: Function, wrt: Sequence[int]) -> Function:
    """The forward-mode derivative of `fn` with respect to the parameters numbered `wrt`."""
    vary = varied(fn, wrt)
    dots = tuple(Var(fn.params[i].type, f"{fn.params[i].hint}_dot") for i in wrt)
    tangent: dict[int, Atom] = {fn.params[i].id: d for i, d in zip(wrt, dots)}
    b = Builder()
    with building(b):
        for stmt in fn.body.stmts:
            b.stmts.append(stmt)
            if not isinstance(stmt, Eqn):
                raise NotImplementedError("control flow")  # pragma: no cover - next issue
            if not any(v.id in vary for v in stmt.outs):
                continue
            b.loc = stmt.loc
            prim = REGISTRY[stmt.prim]
            ans = Sym(stmt.out)
            total: Sym | None = None
            for i, a in enumerate(stmt.args):
                t = tangent.get(a.id) if isinstance(a, Var) else None
                if t is None:
                    continue
                dot = Sym(t) if prim.broadcasts else broadcast_up(Sym(t), Sym(a))
                c = call_rule(prim, prim.jvp, i, dot, ans, stmt)
                if c is not None:
                    total = c if total is None else total + c
            if total is None:
                continue
            hint = f"{stmt.out.hint}_dot" if stmt.out.hint else None
            tangent[stmt.out.id] = b.rename_last(total.atom, hint) if hint else total.atom
        outs = tuple(_tangent_or_zero(r, tangent) for r in fn.results)
    names = ("out", "out_dot") if len(fn.results) == 1 else \
        tuple(f"out{i}" for i in range(len(fn.results))) + \
        tuple(f"out{i}_dot" for i in range(len(fn.results)))
    return fn.replace(name=f"{fn.name}_jvp", params=fn.params + dots, body=Block(tuple(b.stmts)),
                      results=fn.results + outs, result_names=names,
                      param_names=fn.param_names + tuple(d.hint or "" for d in dots))


def _tangent_or_zero(r: Atom, tangent: dict[int, Atom]) -> Atom:
    if isinstance(r, Var) and r.id in tangent:
        return materialize(Sym(tangent[r.id]), Sym(r)).atom
    if isinstance(r.type, Array):
        return apply("zeros_like", r).atom
    return Const(0.0, r.type)
