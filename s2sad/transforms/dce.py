"""Dead-code elimination.

Contract: ``dce(f)`` drops every equation none of whose outputs is read later or returned
(primitives are pure, except the tape operations of loops, which are always kept).  An
operation that may fail on its operands' shapes (an elementwise operation of arrays, ``@``)
leaves a cheap check in its place (or stays: einsum, concatenate, ...), unless the types
show its operands fit: the user's code
raises there, so the derivative must too (the gradient of ``np.sum(x * y)`` is ``(y, x)``,
which does not read the product).  A region
keeps only the outputs that are used: a loop keeps a carried value when its final value is
used or when the body needs it for the next trip, and the whole region goes when nothing of
it is used.  Comment markers are kept only when code follows them.  Before and after, when
only ``x_bar`` is returned::

    t1 = mul(x, x)          t1 = mul(x, x)
    y = add(t1, 2.0)        (gone)
    x_bar = mul(2.0, x)     x_bar = mul(2.0, x)
    p = mul(x, y)           check_broadcast(x, y)    (x, y: arrays of unknown lengths)
"""

from __future__ import annotations

from dataclasses import replace

from ..analyses import Tapes
from ..ir import (
    Array,
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
from ..rules import REGISTRY, Prim, covers, elementwise, elementwise_bool, elementwise_float


def dce(fn: Function) -> Function:
    """Remove the statements whose results are never used, and the slots of loop tapes whose
    popped values nothing reads (then what only fed those slots goes too)."""
    defs = {v.id: s for s in walk(fn.body) if isinstance(s, Eqn) for v in s.outs}
    while True:
        live = {r.id for r in fn.results if isinstance(r, Var)}
        fn = fn.replace(body=Block(_block(fn.body.stmts, live, (defs, fn.checked), top=True)))
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


def _same_shape(a: Atom, defs: dict[int, Eqn]) -> Atom:
    """An earlier value known to have `a`'s shape: through elementwise operations whose
    operand covers the result (``sin(x)``, ``x * 2.0``, ``x * y`` when nothing in x has
    length 1), since those either ran or were checked."""
    while isinstance(a, Var) and a.id in defs:
        e = defs[a.id]
        p = REGISTRY[e.prim]
        if e.prim in _KEEPS_SHAPE and e.args and isinstance(e.args[0], Var) and \
                e.args[0].type == a.type:
            a = e.args[0]
            continue
        if not _elementwise(p) or e.outs != (a,):
            break
        nxt = next((b for b in e.args if isinstance(b, Var) and isinstance(b.type, Array) and
                    covers(b.type, a.type)), None)
        if nxt is None:
            break
        a = nxt
    return a


_KEEPS_SHAPE = frozenset({"setitem", "copy", "stop_gradient", "astype"})  # x's shape
# Operations of several arrays with no cheap check of their shapes: kept when dropped.
_KEPT = frozenset({"einsum", "concatenate", "stack", "cross", "take_along_axis", "kron"})


def _elementwise(p: Prim) -> bool:
    return p.broadcasts or p.infer in (elementwise, elementwise_float, elementwise_bool)


def user_operations(fn: Function) -> Function:
    """`fn` (as lowered from the user's code) with its operations marked as the user's: dce
    keeps the shape errors of those, not of the derivative code the rules add (which may
    compute, then drop, pieces that only fit when they are used)."""
    return fn.replace(checked=frozenset(v.id for s in walk(fn.body) if isinstance(s, Eqn)
                                        for v in s.outs))


def _shape_check(stmt: Eqn, defs: dict[int, Eqn], checked: frozenset[int]) -> Eqn | None:
    """The check that stands in for `stmt`, dropped, if its operands may not fit (`stmt`
    itself where no cheap check exists)."""
    if not stmt.outs or any(v.id not in checked for v in stmt.outs):
        return None
    p = REGISTRY[stmt.prim]
    if stmt.prim in _KEPT and sum(isinstance(a.type, Array) for a in stmt.args) > 1:
        return stmt
    if stmt.prim == "matmul":
        a, b = stmt.args
        if not (isinstance(a.type, Array) and isinstance(b.type, Array)):
            return None
        return Eqn((), "check_matmul", (_same_shape(a, defs), _same_shape(b, defs)), (),
                   stmt.loc)
    if not _elementwise(p) or len(stmt.outs) != 1:
        return None
    arrays: list[Atom] = []
    for a in stmt.args:
        if isinstance(a.type, Array):
            rep = _same_shape(a, defs)
            if all(rep is not r for r in arrays):
                arrays.append(rep)
    return Eqn((), "check_broadcast", tuple(arrays), (), stmt.loc) \
        if _may_clash([a.type for a in arrays]) else None


def _may_clash(types: list[Array]) -> bool:
    """False when the types show that arrays of these types broadcast: along each axis
    (counted from the right) all but one have length 1."""
    if len(types) < 2:
        return False
    if any(t.ones is None for t in types):
        return True
    rank = max(len(t.ones) for t in types)  # type: ignore[arg-type]
    for k in range(1, rank + 1):
        if sum(1 for t in types if len(t.ones) >= k and t.ones[-k] is not True) > 1:  # type: ignore[arg-type]
            return True
    return False


_Checks = tuple[dict[int, Eqn], frozenset[int]]  # definitions, the user's operations


def _block(stmts: tuple[Stmt, ...], live: set[int], checks: _Checks,
           top: bool = False) -> tuple[Stmt, ...]:
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
                check = _shape_check(stmt, *checks)
                if check is None:
                    continue
                kept.append(check)
                _mark(live, check.atoms())
        elif isinstance(stmt, If):
            new_if = _if(stmt, live, checks)
            if new_if is None:
                continue
            kept.append(new_if)
        else:
            new_loop = _loop(stmt, live, checks)
            if new_loop is None:
                continue
            kept.append(new_loop)
        code_after = True
    return _first_checks(tuple(reversed(kept)))


def _first_checks(stmts: tuple[Stmt, ...]) -> tuple[Stmt, ...]:
    """Drop a shape check that repeats an earlier one of the block."""
    seen: set[tuple[str, tuple[str, ...]]] = set()
    out: list[Stmt] = []
    for s in stmts:
        if isinstance(s, Eqn) and s.prim in ("check_broadcast", "check_matmul"):
            key = (s.prim, tuple(str(a.id if isinstance(a, Var) else a) for a in s.args))
            if key in seen:
                continue
            seen.add(key)
        out.append(s)
    return tuple(out)


def _if(s: If, live: set[int], checks: _Checks) -> If | None:
    keep = [k for k, o in enumerate(s.outs) if o.id in live]
    _mark(live, [s.then_results[k] for k in keep] + [s.else_results[k] for k in keep])
    then, orelse = _block(s.then.stmts, live, checks), _block(s.orelse.stmts, live, checks)
    if not keep and not _has_effect(then) and not _has_effect(orelse):
        return None
    _mark(live, [s.cond])
    return If(tuple(s.outs[k] for k in keep), s.cond, Block(then),
              tuple(s.then_results[k] for k in keep), Block(orelse),
              tuple(s.else_results[k] for k in keep), s.loc)


def _loop(s: ForRange | While, live: set[int], checks: _Checks) -> ForRange | While | None:
    needed = {k for k, o in enumerate(s.outs) if o.id in live}
    while True:
        trial = set(live)
        _mark(trial, [s.body_results[k] for k in needed])
        body = _block(s.body.stmts, trial, checks)
        cond: tuple[Stmt, ...] = ()
        if isinstance(s, While):
            _mark(trial, [s.cond_result])
            cond = _block(s.cond.stmts, trial, checks)
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



