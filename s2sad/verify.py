"""The IR verifier: checks the invariants every pass must keep.

* single assignment: every variable is defined once;
* defined before use: every variable read is a parameter or defined earlier;
* every primitive is registered, and called with its arity and known parameter names.

On failure it raises :class:`IRError` with the function printed and the problems listed.
Tests run it after every pass (``s2sad.config.verify = True``).
"""

from __future__ import annotations

from .errors import IRError
from .ir import Eqn, Function, Var, format_wengert, stmt_atoms
from .rules import REGISTRY


def verify(fn: Function, after: str = "") -> Function:
    problems: list[str] = []
    defined: set[int] = set()
    for p in fn.params:
        if p.id in defined:
            problems.append(f"parameter {p!r} appears twice")
        defined.add(p.id)
    for n, stmt in enumerate(fn.body.stmts):
        for a in stmt_atoms(stmt):
            if isinstance(a, Var) and a.id not in defined:
                problems.append(f"statement {n}: {a!r} is read before it is defined")
        if isinstance(stmt, Eqn):
            prim = REGISTRY.get(stmt.prim)
            if prim is None:
                problems.append(f"statement {n}: unknown primitive {stmt.prim!r}")
            else:
                if prim.arity is not None and len(stmt.args) != prim.arity:
                    problems.append(f"statement {n}: {stmt.prim} takes {prim.arity} "
                                    f"argument(s), got {len(stmt.args)}")
                known = {k for k, _ in prim.params}
                for k, _ in stmt.params:
                    if k not in known:
                        problems.append(f"statement {n}: {stmt.prim} has no parameter {k!r}")
        for v in stmt.outs:
            if v.id in defined:
                problems.append(f"statement {n}: {v!r} is assigned twice")
            defined.add(v.id)
    for r in fn.results:
        if isinstance(r, Var) and r.id not in defined:
            problems.append(f"result {r!r} is never defined")
    if problems:
        raise IRError(f"invalid IR{' after ' + after if after else ''}:\n  " +
                      "\n  ".join(problems) + "\n" + format_wengert(fn))
    return fn
