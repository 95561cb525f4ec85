"""The IR verifier: checks the invariants every pass must keep.

* single assignment: every variable is defined once;
* defined before use: every variable read is a parameter, defined earlier in its block or an
  enclosing one, or bound by its region (loop index, carried values); a block's variables are
  not visible outside it except through the region's outputs;
* regions yield as many values as they define, and blocks of an `if` agree;
* every primitive is registered, and called with its arity and known parameter names.

On failure it raises :class:`IRError` with the function printed and the problems listed.
Tests run it after every pass (``s2sad.config.verify = True``).
"""

from __future__ import annotations

from .errors import IRError
from .ir import Block, Eqn, Function, If, Var, format_wengert, stmt_atoms, sub_blocks
from .rules import REGISTRY


def verify(fn: Function, after: str = "") -> Function:
    problems: list[str] = []
    assigned: set[int] = set()

    def define(v: Var, where: str, scope: set[int]) -> None:
        if v.id in assigned:
            problems.append(f"{where}: {v!r} is assigned twice")
        assigned.add(v.id)
        scope.add(v.id)

    def check_block(block: Block, scope: set[int], path: str) -> None:
        for n, stmt in enumerate(block.stmts):
            where = f"{path}statement {n}"
            for a in stmt_atoms(stmt):
                if isinstance(a, Var) and a.id not in scope:
                    problems.append(f"{where}: {a!r} is read before it is defined")
            if isinstance(stmt, Eqn):
                check_eqn(stmt, where)
            else:
                check_region(stmt, scope, where)
            for v in stmt.outs:
                define(v, where, scope)

    def check_region(stmt: object, scope: set[int], where: str) -> None:
        blocks = sub_blocks(stmt)  # type: ignore[arg-type]
        if isinstance(stmt, If):
            sizes = {len(stmt.outs), len(stmt.then_results), len(stmt.else_results)}
            if len(sizes) != 1:
                problems.append(f"{where}: if defines {len(stmt.outs)} values but its blocks "
                                f"yield {len(stmt.then_results)} and {len(stmt.else_results)}")
        elif len({len(stmt.outs), len(stmt.carried), len(stmt.inits),  # type: ignore[attr-defined]
                  len(stmt.body_results)}) != 1:  # type: ignore[attr-defined]
            problems.append(f"{where}: loop outs, carried values, inits and body results differ "
                            "in number")
        bound_here: set[int] = set()
        for k, (block, results, bound) in enumerate(blocks):
            inner = set(scope)
            for v in bound:
                if v.id in bound_here:  # a while loop's carried values serve both its blocks
                    inner.add(v.id)
                else:
                    bound_here.add(v.id)
                    define(v, where, inner)
            check_block(block, inner, f"{where} block {k}: ")
            for a in results:
                if isinstance(a, Var) and a.id not in inner:
                    problems.append(f"{where} block {k}: yields {a!r}, not defined there")

    def check_eqn(stmt: Eqn, where: str) -> None:
        prim = REGISTRY.get(stmt.prim)
        if prim is None:
            problems.append(f"{where}: unknown primitive {stmt.prim!r}")
            return
        if prim.arity is not None and len(stmt.args) != prim.arity:
            problems.append(f"{where}: {stmt.prim} takes {prim.arity} argument(s), "
                            f"got {len(stmt.args)}")
        known = {k for k, _ in prim.params}
        for k, _ in stmt.params:
            if k not in known:
                problems.append(f"{where}: {stmt.prim} has no parameter {k!r}")

    top: set[int] = set()
    for p in fn.params:
        define(p, "parameters", top)
    check_block(fn.body, top, "")
    for r in fn.results:
        if isinstance(r, Var) and r.id not in top:
            problems.append(f"result {r!r} is never defined")
    if problems:
        raise IRError(f"invalid IR{' after ' + after if after else ''}:\n  " +
                      "\n  ".join(problems) + "\n" + format_wengert(fn))
    return fn
