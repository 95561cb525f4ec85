"""Analyses over the IR: which values carry derivatives, and where values are last used.

Passes call these and receive their results as arguments; nothing is stored in side tables.
"""

from __future__ import annotations

from collections.abc import Iterable

from .ir import Atom, Block, Eqn, Function, Var, is_float, stmt_atoms
from .rules import REGISTRY


def _var_ids(atoms: Iterable[Atom]) -> set[int]:
    return {a.id for a in atoms if isinstance(a, Var)}


def varied(fn: Function, wrt: Iterable[int]) -> set[int]:
    """Ids of the variables that depend differentiably on the parameters numbered `wrt`."""
    out = {fn.params[i].id for i in wrt}
    for stmt in fn.body.stmts:
        if not isinstance(stmt, Eqn):
            raise NotImplementedError("control flow")  # pragma: no cover - next issue
        prim = REGISTRY[stmt.prim]
        if not prim.differentiable:
            continue
        if any(isinstance(a, Var) and a.id in out for a in stmt.args):
            out.update(v.id for v in stmt.outs if is_float(v.type))
    return out


def useful(fn: Function, results: Iterable[Atom]) -> set[int]:
    """Ids of the variables whose derivative can reach one of `results`."""
    out = _var_ids(results)
    for stmt in reversed(fn.body.stmts):
        assert isinstance(stmt, Eqn)
        if REGISTRY[stmt.prim].differentiable and any(v.id in out for v in stmt.outs):
            out.update(_var_ids(stmt.args))
    return out


def active(fn: Function, wrt: Iterable[int], results: Iterable[Atom]) -> set[int]:
    """Variables on a differentiable path from a `wrt` parameter to a result."""
    return varied(fn, wrt) & useful(fn, results)


def use_counts(block: Block, results: Iterable[Atom]) -> dict[int, int]:
    """How many times each variable is read in `block` and by `results`."""
    counts: dict[int, int] = {}
    for stmt in block.stmts:
        for a in stmt_atoms(stmt):
            if isinstance(a, Var):
                counts[a.id] = counts.get(a.id, 0) + 1
    for a in results:
        if isinstance(a, Var):
            counts[a.id] = counts.get(a.id, 0) + 1
    return counts
