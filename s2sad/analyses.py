"""Analyses over the IR: which values carry derivatives.

A value is *varied* when it depends differentiably on a `wrt` parameter, *useful* when its
derivative can reach a result, and *active* when both.  Through an `if` a value is varied
when either branch yields a varied value; through a loop, the carried values are iterated to
a fixed point.  Passes call these and receive their results as arguments.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from .ir import (
    Atom,
    Block,
    Eqn,
    Function,
    If,
    ListOf,
    Opaque,
    Var,
    While,
    has_derivative,
    walk,
)
from .rules import LIST_RULES, REGISTRY


def _ids(atoms: Iterable[Atom]) -> set[int]:
    return {a.id for a in atoms if isinstance(a, Var)}


class Tapes:
    """Which positions of each tape's pushes carry varied values (for derivatives of reverse
    mode code): a pop's results are varied where the matching pushes' values were."""

    def __init__(self, mirrors: Iterable[tuple[int, int]] = ()) -> None:
        self.alias = dict(mirrors)  # a tape popped from an outer tape is the same tape
        self.varied: dict[int, set[int]] = {}
        self.useful: dict[int, set[int]] = {}  # positions whose popped values are useful

    @classmethod
    def of(cls, fn: Function) -> Tapes:
        """The tapes of `fn`, with each tape variable known as the tape it holds at run time:
        a tape that a pop hands back is the tape pushed in its place (the tapes of inner loops
        travel on their outer loop's tape), and a tape an `if` yields is the one its branch
        made (a loop inside a branch).  This holds after `fn` is spliced into other code, where
        its mirror pairs are not carried."""
        tapes = cls(fn.mirrors)
        pushed: dict[tuple[int, int], int] = {}
        while True:  # a pop may come before its push in walk order: repeat until settled
            before = (len(tapes.alias), len(pushed))
            for st in walk(fn.body):
                if isinstance(st, If):
                    for o, a, b in zip(st.outs, st.then_results, st.else_results):
                        made = {x.id for x in (a, b) if isinstance(x, Var) and _is_tape(x)}
                        if _is_tape(o) and len(made) == 1 and o.id not in made:
                            tapes.alias.setdefault(o.id, made.pop())
                if not (isinstance(st, Eqn) and st.prim in ("push", "pop")):
                    continue
                key = tapes.key(st.args[0])
                if st.prim == "push":
                    pushed.update({(key, k): a.id for k, a in enumerate(st.args[1:])
                                   if isinstance(a, Var) and _is_tape(a)})
                else:
                    tapes.alias.update({v.id: pushed[(key, k)] for k, v in enumerate(st.outs)
                                        if (key, k) in pushed and v.id != pushed[(key, k)]})
            if (len(tapes.alias), len(pushed)) == before:
                return tapes

    def key(self, tape: Atom) -> int:
        k = tape.id if isinstance(tape, Var) else -1
        while k in self.alias:
            k = self.alias[k]
        return k


def _is_tape(v: Atom) -> bool:
    return v.type == Opaque("tape")


def _varied_block(block: Block, out: set[int], tapes: Tapes | None = None) -> None:
    tapes = tapes if tapes is not None else Tapes()
    for stmt in block.stmts:
        if isinstance(stmt, Eqn) and stmt.prim == "push":
            slots = tapes.varied.setdefault(tapes.key(stmt.args[0]), set())
            slots.update(k for k, a in enumerate(stmt.args[1:]) if isinstance(a, Var) and
                         a.id in out)
        elif isinstance(stmt, Eqn) and stmt.prim == "pop":
            slots = tapes.varied.get(tapes.key(stmt.args[0]), set())
            out.update(v.id for k, v in enumerate(stmt.outs) if k in slots)
        elif isinstance(stmt, Eqn):
            if REGISTRY[stmt.prim].differentiable and _ids(stmt.args) & out:
                out.update(v.id for v in stmt.outs if has_derivative(v.type))
        elif isinstance(stmt, If):
            _varied_block(stmt.then, out, tapes)
            _varied_block(stmt.orelse, out, tapes)
            for o, a, b in zip(stmt.outs, stmt.then_results, stmt.else_results):
                if _ids((a, b)) & out and has_derivative(o.type):
                    out.add(o.id)
        else:
            for c, i in zip(stmt.carried, stmt.inits):
                if _ids((i,)) & out and has_derivative(c.type):
                    out.add(c.id)
            while True:
                before = len(out)
                if isinstance(stmt, While):
                    _varied_block(stmt.cond, out, tapes)
                _varied_block(stmt.body, out, tapes)
                for c, r in zip(stmt.carried, stmt.body_results):
                    if _ids((r,)) & out and has_derivative(c.type):
                        out.add(c.id)
                if len(out) == before:
                    break
            out.update(o.id for o, c in zip(stmt.outs, stmt.carried) if c.id in out)


def varied(fn: Function, wrt: Iterable[int], tapes: Tapes | None = None) -> set[int]:
    """Ids of the variables that depend differentiably on the parameters numbered `wrt`."""
    tapes = tapes if tapes is not None else Tapes.of(fn)
    return _settle(lambda out: _varied_block(fn.body, out, tapes),
                   {fn.params[i].id for i in wrt}, tapes.varied)


def _settle(sweep: Callable[[set[int]], None], out: set[int],
            slots: dict[int, set[int]]) -> set[int]:
    """Repeat `sweep` over `out` until neither it nor the tapes' `slots` grow: a pop and its
    push meet in program order only within one trip, so one sweep may not be enough."""
    while True:
        before = (len(out), sum(len(s) for s in slots.values()))
        sweep(out)
        if (len(out), sum(len(s) for s in slots.values())) == before:
            return out


def _useful_block(block: Block, out: set[int], tapes: Tapes) -> None:
    for stmt in reversed(block.stmts):
        if isinstance(stmt, Eqn) and stmt.prim == "pop":
            slots = tapes.useful.setdefault(tapes.key(stmt.args[0]), set())
            slots.update(k for k, v in enumerate(stmt.outs) if v.id in out)
        elif isinstance(stmt, Eqn) and stmt.prim == "push":
            slots = tapes.useful.get(tapes.key(stmt.args[0]), set())
            out.update(_ids(a for k, a in enumerate(stmt.args[1:]) if k in slots))
        elif isinstance(stmt, Eqn):
            if REGISTRY[stmt.prim].differentiable and any(v.id in out for v in stmt.outs):
                out.update(_ids(stmt.args))
        elif isinstance(stmt, If):
            for o, a, b in zip(stmt.outs, stmt.then_results, stmt.else_results):
                if o.id in out:
                    out.update(_ids((a, b)))
            _useful_block(stmt.then, out, tapes)
            _useful_block(stmt.orelse, out, tapes)
        else:
            while True:
                before = len(out)
                for o, c, r in zip(stmt.outs, stmt.carried, stmt.body_results):
                    if o.id in out or c.id in out:
                        out.update(_ids((r,)))
                        out.add(c.id)
                _useful_block(stmt.body, out, tapes)
                if len(out) == before:
                    break
            for c, i in zip(stmt.carried, stmt.inits):
                if c.id in out:
                    out.update(_ids((i,)))


def useful(fn: Function, results: Iterable[Atom], tapes: Tapes | None = None) -> set[int]:
    """Ids of the variables whose derivative can reach one of `results`; a pushed value is
    useful where the value popped back in its place is, and the versions of a list grown at
    run time are useful together (see :func:`list_objects`)."""
    tapes = tapes if tapes is not None else Tapes.of(fn)
    objects = list_objects(fn)

    def sweep(out: set[int]) -> None:
        _useful_block(fn.body, out, tapes)
        found = {objects[i] for i in out if i in objects}
        out.update(i for i, o in objects.items() if o in found)
    return _settle(sweep, _ids(results), tapes.useful)


def list_objects(fn: Function) -> dict[int, int]:
    """The versions of each list grown at run time: var id -> an id shared by the versions of
    one list object (those an in-place primitive, an `if` or a loop make from one another).

    A list changes in place, so going backward the length of one of its versions is known
    only from the cotangent of the next one; reverse mode therefore handles all the versions
    of a list whenever it handles one (a version that nothing later reads gets zeros).
    """
    parent: dict[int, int] = {}

    def find(i: int) -> int:
        while parent.setdefault(i, i) != i:
            i = parent[i]
        return i

    def union(*atoms: Atom) -> None:
        ids = [find(a.id) for a in atoms if isinstance(a, Var)]
        for i in ids[1:]:
            parent[i] = ids[0]
    for st in walk(fn.body):
        if isinstance(st, Eqn):
            rules = LIST_RULES.get(st.prim)
            if rules is not None and rules.in_place:
                union(st.args[0], *[v for v in st.outs if isinstance(v.type, ListOf)])
        elif isinstance(st, If):
            for o, a, b in zip(st.outs, st.then_results, st.else_results):
                if isinstance(o.type, ListOf):
                    union(o, a, b)
        else:
            for o, c, i, r in zip(st.outs, st.carried, st.inits, st.body_results):
                if isinstance(o.type, ListOf):
                    union(o, c, i, r)
    return {i: find(i) for i in list(parent)}


def active(fn: Function, wrt: Iterable[int], results: Iterable[Atom],
           tapes: Tapes | None = None) -> set[int]:
    """Variables on a differentiable path from a `wrt` parameter to a result."""
    tapes = tapes if tapes is not None else Tapes.of(fn)
    return varied(fn, wrt, tapes) & useful(fn, results, tapes)
