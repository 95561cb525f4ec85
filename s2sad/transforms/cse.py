"""Common subexpression elimination.

Contract: ``cse(f)`` returns an equivalent function in which an equation that repeats an
earlier one (same primitive, same operands, same parameters) in the same block or an
enclosing one is dropped, and its result read from the earlier equation's.  Only pure
primitives take part: never tape operations, comments or constructors of fresh arrays
(code may write into those).  Derivative code needs this: the adjoint of ``sin(x) ** 2`` and
the tangent of that adjoint each compute ``cos(x)`` again.  Before and after::

    t1 = cos(x)              t1 = cos(x)
    t2 = mul(g, t1)          t2 = mul(g, t1)
    t3 = cos(x)              (gone: uses of t3 read t1)
    t4 = mul(h, t3)          t4 = mul(h, t1)
"""

from __future__ import annotations

from typing import Any

from ..ir import Atom, Block, Const, Eqn, ForRange, Function, If, Stmt, Var, While, substitute
from ..rules import REGISTRY


def cse(fn: Function) -> Function:
    """Drop repeated pure equations (see the module docstring)."""
    renamed: dict[int, Var] = {}
    body = _block(fn.body.stmts, {}, renamed)
    return fn.replace(body=Block(substitute(body, renamed)),
                      results=tuple(renamed.get(r.id, r) if isinstance(r, Var) else r
                                    for r in fn.results))


def _key(atom: Atom) -> Any:
    if isinstance(atom, Var):
        return ("v", atom.id)
    value = atom.value if isinstance(atom, Const) else atom
    try:
        hash(value)
    except TypeError:
        return ("id", id(value))  # arrays and other unhashable constants: only themselves
    return ("c", type(value).__name__, value, getattr(atom, "name", None),
            id(getattr(atom, "origin", None)))  # two modules' K, two closures' cells: not one


def _block(stmts: tuple[Stmt, ...], seen: dict[Any, Var],
           renamed: dict[int, Var]) -> tuple[Stmt, ...]:
    seen = dict(seen)  # what this block's statements may reuse: its own and its enclosers'
    out: list[Stmt] = []
    for stmt in stmts:
        if isinstance(stmt, Eqn):
            e = substitute([stmt], renamed)[0]
            assert isinstance(e, Eqn)
            prim = REGISTRY[e.prim]
            if len(e.outs) == 1 and prim.foldable and not prim.effect:
                key = (e.prim, tuple(_key(a) for a in e.args),
                       tuple((k, _key(v)) for k, v in e.params))
                earlier = seen.get(key)
                if earlier is not None and earlier.type == e.out.type:
                    renamed[e.out.id] = earlier
                    continue
                seen[key] = e.out
            out.append(e)
        elif isinstance(stmt, If):
            out.append(If(stmt.outs, stmt.cond, Block(_block(stmt.then.stmts, seen, renamed)),
                          stmt.then_results, Block(_block(stmt.orelse.stmts, seen, renamed)),
                          stmt.else_results, stmt.loc))
        elif isinstance(stmt, ForRange):
            out.append(ForRange(stmt.outs, stmt.index, stmt.start, stmt.stop, stmt.step,
                                stmt.carried, stmt.inits,
                                Block(_block(stmt.body.stmts, seen, renamed)),
                                stmt.body_results, stmt.loc, stmt.reverse))
        else:
            assert isinstance(stmt, While)
            out.append(While(stmt.outs, stmt.carried, stmt.inits,
                             Block(_block(stmt.cond.stmts, seen, renamed)), stmt.cond_result,
                             Block(_block(stmt.body.stmts, seen, renamed)), stmt.body_results,
                             stmt.loc))
    return tuple(out)
