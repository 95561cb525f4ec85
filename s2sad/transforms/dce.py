"""Dead-code elimination.

Contract: ``dce(f)`` drops every equation none of whose outputs is read later or returned
(primitives are pure, except the tape operations of loops, which are always kept).  A region
keeps only the outputs that are used: a loop keeps a carried value when its final value is
used or when the body needs it for the next trip, and the whole region goes when nothing of
it is used.  Comment markers are kept only when code follows them.  Before and after, when
only ``x_bar`` is returned::

    t1 = mul(x, x)          t1 = mul(x, x)
    y = add(t1, 2.0)        (gone)
    x_bar = mul(2.0, x)     x_bar = mul(2.0, x)
"""

from __future__ import annotations

from dataclasses import replace

from ..analyses import Tapes
from ..ir import (
    Atom,
    Block,
    Eqn,
    ForRange,
    Function,
    If,
    Opaque,
    Stmt,
    Var,
    While,
    stmt_atoms,
    sub_blocks,
    walk,
)
from ..rules import REGISTRY


def dce(fn: Function) -> Function:
    """Remove the statements whose results are never used, and the slots of loop tapes whose
    popped values nothing reads (then what only fed those slots goes too)."""
    while True:
        live = {r.id for r in fn.results if isinstance(r, Var)}
        fn = fn.replace(body=Block(_block(fn.body.stmts, live, top=True)))
        tapes, slots = _unread_slots(fn)
        if not slots:
            return fn
        fn = fn.replace(body=_drop_slots(fn.body, tapes, slots))


def _unread_slots(fn: Function) -> tuple[Tapes, dict[int, set[int]]]:
    """The tapes of `fn`, and tape key -> the slots no pop of it has a reader for (for tapes
    read only by pushes and pops).  A tape is known by its key (:class:`Tapes`): a loop's
    pushes and the pops of its backward sweep may name it by different variables, as when an
    `if` yields the tape of a loop in its branch, or an outer loop's tape carries it."""
    tapes = Tapes.of(fn)
    read = {r.id for r in fn.results if isinstance(r, Var)}
    # tapes read by anything but pushes and pops (a tape pushed on a tape is the one popped
    # in its place: the same key), or flowing into a variable that is another tape's key
    other: set[int] = {tapes.key(r) for r in fn.results if _is_tape(r)}
    pops: dict[int, list[Eqn]] = {}
    for s in walk(fn.body):
        atoms = list(stmt_atoms(s)) + [a for _, res, _ in sub_blocks(s) for a in res]
        read.update(a.id for a in atoms if isinstance(a, Var))  # (a tape popped from a tape
        if isinstance(s, Eqn) and s.prim in ("push", "pop"):   # is read by its own pops)
            if s.prim == "pop":
                pops.setdefault(tapes.key(s.args[0]), []).append(s)
        elif isinstance(s, Eqn):
            other.update(tapes.key(a) for a in atoms if _is_tape(a))
        else:  # a region's values flow on: the same tape, or one dce must leave alone
            for o, r in _flows(s):
                if _is_tape(r) and tapes.key(o) != tapes.key(r):
                    other.update((tapes.key(o), tapes.key(r)))
    out: dict[int, set[int]] = {}
    for tape, eqns in pops.items():
        if tape in other:
            continue
        unread = {k for k in range(len(eqns[0].outs))
                  if not any(k < len(e.outs) and e.outs[k].id in read for e in eqns)}
        if unread:
            out[tape] = unread
    return tapes, out


def _is_tape(a: Atom) -> bool:
    return a.type == Opaque("tape")


def _flows(s: Stmt) -> list[tuple[Atom, Atom]]:
    """(variable, atom that flows into it) for the values a region yields or carries."""
    if isinstance(s, If):
        return [(o, r) for o, a, b in zip(s.outs, s.then_results, s.else_results)
                for r in (a, b) if isinstance(r, Var)]
    assert isinstance(s, (ForRange, While))
    return [(c, r) for c, i, r in zip(s.carried, s.inits, s.body_results) for r in (i, r)] + \
        list(zip(s.outs, s.carried))


def _drop_slots(block: Block, tapes: Tapes, slots: dict[int, set[int]]) -> Block:
    kept: list[Stmt] = []
    for s in block.stmts:
        if isinstance(s, Eqn) and s.prim in ("push", "pop") and \
                tapes.key(s.args[0]) in slots:
            drop = slots[tapes.key(s.args[0])]
            if s.prim == "push":
                s = replace(s, args=s.args[:1] + tuple(a for k, a in enumerate(s.args[1:])
                                                       if k not in drop))
                if len(s.args) == 1:
                    continue
            else:
                s = replace(s, outs=tuple(v for k, v in enumerate(s.outs) if k not in drop))
                if not s.outs:
                    continue
        elif isinstance(s, If):
            s = replace(s, then=_drop_slots(s.then, tapes, slots),
                        orelse=_drop_slots(s.orelse, tapes, slots))
        elif isinstance(s, ForRange):
            s = replace(s, body=_drop_slots(s.body, tapes, slots))
        elif isinstance(s, While):
            s = replace(s, cond=_drop_slots(s.cond, tapes, slots),
                        body=_drop_slots(s.body, tapes, slots))
        kept.append(s)
    return Block(tuple(kept))


def _mark(live: set[int], atoms: tuple[Atom, ...] | list[Atom]) -> None:
    live.update(a.id for a in atoms if isinstance(a, Var))


def _has_effect(stmts: tuple[Stmt, ...]) -> bool:
    for s in stmts:
        if isinstance(s, Eqn):
            if REGISTRY[s.prim].effect:
                return True
        elif isinstance(s, If):
            if _has_effect(s.then.stmts) or _has_effect(s.orelse.stmts):
                return True
        elif _has_effect(s.body.stmts):
            return True
    return False


def _block(stmts: tuple[Stmt, ...], live: set[int], top: bool = False) -> tuple[Stmt, ...]:
    kept: list[Stmt] = []
    code_after = False
    for stmt in reversed(stmts):
        if isinstance(stmt, Eqn):
            if stmt.prim == "comment":
                if code_after or not top:
                    kept.append(stmt)
                continue
            if REGISTRY[stmt.prim].effect and stmt.prim != "tape" or \
                    any(v.id in live for v in stmt.outs):
                kept.append(stmt)
                _mark(live, stmt.atoms())
            else:
                continue
        elif isinstance(stmt, If):
            new_if = _if(stmt, live)
            if new_if is None:
                continue
            kept.append(new_if)
        else:
            new_loop = _loop(stmt, live)
            if new_loop is None:
                continue
            kept.append(new_loop)
        code_after = True
    return tuple(reversed(kept))


def _if(s: If, live: set[int]) -> If | None:
    keep = [k for k, o in enumerate(s.outs) if o.id in live]
    _mark(live, [s.then_results[k] for k in keep] + [s.else_results[k] for k in keep])
    then, orelse = _block(s.then.stmts, live), _block(s.orelse.stmts, live)
    if not keep and not _has_effect(then) and not _has_effect(orelse):
        return None
    _mark(live, [s.cond])
    return If(tuple(s.outs[k] for k in keep), s.cond, Block(then),
              tuple(s.then_results[k] for k in keep), Block(orelse),
              tuple(s.else_results[k] for k in keep), s.loc)


def _loop(s: ForRange | While, live: set[int]) -> ForRange | While | None:
    needed = {k for k, o in enumerate(s.outs) if o.id in live}
    while True:
        trial = set(live)
        _mark(trial, [s.body_results[k] for k in needed])
        body = _block(s.body.stmts, trial)
        cond: tuple[Stmt, ...] = ()
        if isinstance(s, While):
            _mark(trial, [s.cond_result])
            cond = _block(s.cond.stmts, trial)
        more = {k for k, c in enumerate(s.carried) if c.id in trial} - needed
        if not more:
            break
        needed |= more
    if not needed and not _has_effect(body):
        return None
    live |= trial
    keep = sorted(needed)
    _mark(live, [s.inits[k] for k in keep])
    outs = tuple(s.outs[k] for k in keep)
    carried = tuple(s.carried[k] for k in keep)
    inits = tuple(s.inits[k] for k in keep)
    results = tuple(s.body_results[k] for k in keep)
    if isinstance(s, ForRange):
        _mark(live, [s.start, s.stop, s.step])
        return ForRange(outs, s.index, s.start, s.stop, s.step, carried, inits, Block(body),
                        results, s.loc, s.reverse)
    return While(outs, carried, inits, Block(cond), s.cond_result, Block(body), results, s.loc)



