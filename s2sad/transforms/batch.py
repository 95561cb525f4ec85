"""Vector forward mode: the tangent code of :mod:`.jvp` run on k directions at once.

Contract: ``batch(f, batched, results)`` takes forward-mode code ``f`` (the output of
:func:`.jvp.jvp`) and returns the same function in which the parameters numbered `batched`
(the tangent inputs) carry a batch of k values stacked along a new *leading* axis, and the
results numbered `results` (the output tangents) come out batched the same way.  Seeding the
batch with the rows of the identity gives a whole Jacobian in one sweep, where plain forward
mode needs one sweep per input component.

A value is batched when it is computed from a batched value.  An equation reading only
unbatched values (the primal computation) is kept as it is, so the primal runs once for all
k directions; one reading a batched value is rewritten by the batch rule of its primitive
(:mod:`s2sad.batching`), or, for a primitive without one, by a helper that runs it on each
direction and stacks the results.  Before and after, for ``y_dot = cos(x) * x_dot``::

    t1 = cos(x)                   t1 = cos(x)
    y_dot = mul(x_dot, t1)        y_dot = mul(x_dot, t1)      # x_dot: (k, n), t1: (n,)

and ``s_dot = sum(y_dot)`` becomes ``sum(y_dot, axis=1)``.  Regions join their values: a value
an ``if`` yields or a loop carries is batched when it is batched on any path or trip (loops
iterate to a fixed point); where one path leaves it unbatched it is repeated k times there.
Values saved on a loop's tape (forward over reverse mode) keep their batching when popped.

Where no correct batched code can be generated the pass raises
:class:`~s2sad.batching.BatchError`; callers then fall back to one sweep per direction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from ..analyses import Tapes
from ..batching import (
    BATCH_RULES,
    BatchError,
    Call,
    Unsupported,
    batched_type,
    generic,
    rank,
    typed,
)
from ..ir import (
    FLOAT_DTYPES,
    UNDEF,
    Array,
    Atom,
    Block,
    Const,
    Eqn,
    ForRange,
    Function,
    If,
    Scalar,
    Stmt,
    Var,
    While,
)
from ..rules import REGISTRY, Builder, Sym, apply, building


def batch(fn: Function, batched: Sequence[int], results: Sequence[int]) -> Function:
    """`fn` with parameters `batched` and results `results` batched along a leading axis."""
    if not batched:
        raise BatchError("vector mode needs at least one batched parameter")
    ctx = _Ctx(Tapes.of(fn))
    params = list(fn.params)
    for i in batched:
        p = fn.params[i]
        params[i] = ctx.bind(p)
    b = Builder(fn.loc)
    with building(b):
        ctx.k = Sym(b.emit("len", (params[batched[0]],), hint="k"))
        _block(fn.body.stmts, b, ctx)
        outs: list[Atom] = []
        for j, r in enumerate(fn.results):
            if j in results:
                outs.append(_joined(ctx.get(r), ctx.is_batched(r), r, r.type, ctx).atom)
            elif ctx.is_batched(r):
                raise BatchError("a result that should not depend on the tangents does")
            else:
                outs.append(ctx.get(r))
    for key, mask in ctx.popped:
        if ctx.slots.get(key, frozenset()) != mask:
            raise BatchError("a tape is popped before all its pushes are known")
    mirrors = tuple((_new_id(a, ctx), _new_id(m, ctx)) for a, m in fn.mirrors)
    return fn.replace(params=tuple(params), body=Block(tuple(b.stmts)), results=tuple(outs),
                      mirrors=mirrors)


def _new_id(var_id: int, ctx: _Ctx) -> int:
    a = ctx.env.get(var_id)
    return a.id if isinstance(a, Var) else var_id


@dataclass
class _Ctx:
    """What the pass knows so far: new atoms of rewritten values, which values are batched,
    and which slots of each tape hold batched values."""

    tapes: Tapes
    env: dict[int, Atom] = field(default_factory=dict)   # old var id -> its new atom
    batched: set[int] = field(default_factory=set)       # old ids of batched values
    slots: dict[int, frozenset[int]] = field(default_factory=dict)  # tape -> batched slots
    popped: list[tuple[int, frozenset[int]]] = field(default_factory=list)
    k: Sym | None = None

    def get(self, a: Atom) -> Atom:
        return self.env.get(a.id, a) if isinstance(a, Var) else a

    def is_batched(self, a: Atom) -> bool:
        return isinstance(a, Var) and a.id in self.batched

    def bind(self, v: Var) -> Var:
        """A new variable for the batch of `v`."""
        new = Var(batched_type(v.type), v.hint)
        self.env[v.id] = new
        self.batched.add(v.id)
        return new

    def copy(self) -> _Ctx:
        return _Ctx(self.tapes, dict(self.env), set(self.batched), dict(self.slots),
                    list(self.popped), self.k)

    def helper(self) -> Call:
        """A rule call with no equation, for its lift and align helpers."""
        assert self.k is not None
        return Call(None, [], [], {}, self.k)  # type: ignore[arg-type]


def _block(stmts: Sequence[Stmt], b: Builder, ctx: _Ctx) -> None:
    for stmt in stmts:
        if isinstance(stmt, Eqn):
            _eqn(stmt, b, ctx)
        elif isinstance(stmt, If):
            _if(stmt, b, ctx)
        else:
            _loop(stmt, b, ctx)


def _renamed(e: Eqn, ctx: _Ctx) -> Eqn:
    args = tuple(ctx.get(a) for a in e.args)
    params = tuple((k, ctx.get(v)) for k, v in e.params)
    if args == e.args and params == e.params:
        return e
    return Eqn(e.outs, e.prim, args, params, e.loc)


def _eqn(e: Eqn, b: Builder, ctx: _Ctx) -> None:
    if e.prim == "push":
        _push(e, b, ctx)
        return
    if e.prim == "pop":
        _pop(e, b, ctx)
        return
    mask = [ctx.is_batched(a) for a in e.args]
    if any(ctx.is_batched(v) for _, v in e.params):
        raise BatchError(f"{e.prim}: a parameter depends on the tangents", e.loc)
    if not any(mask) or REGISTRY[e.prim].effect:  # primal code; print() prints the batch
        b.stmts.append(_renamed(e, ctx))
        return
    b.loc = e.loc
    args = [Sym(ctx.get(a)) for a in e.args]
    params = {k: (v.value if isinstance(v, Const) else Sym(ctx.get(v))) for k, v in e.params}
    assert ctx.k is not None
    call = Call(e, args, mask, params, ctx.k)
    start = len(b.stmts)
    rule = BATCH_RULES.get(e.prim)
    out = None
    if rule is not None:
        try:
            out = rule(call)
        except Unsupported:
            del b.stmts[start:]
            out = None
    if out is None:
        out = generic(call)
    pairs = out if isinstance(out, list) else [(out, True)]
    if len(pairs) != len(e.outs):
        raise BatchError(f"the batch rule of {e.prim} gave {len(pairs)} result(s)", e.loc)
    for old, (s, is_b) in zip(e.outs, pairs):
        if is_b:
            s = _settle(s, old, start)
            ctx.batched.add(old.id)
        ctx.env[old.id] = s.atom


def _settle(s: Sym, old: Var, start: int) -> Sym:
    """The batched result of a rule checked against the unbatched result it stands for: one
    more axis, the same float dtype (a batched Python float is a float64 array, which must
    not promote float32 values), and that type recorded."""
    if not isinstance(s.atom, Var):
        raise BatchError(f"a batch rule gave the constant {s.atom!r}")
    want, got = rank(old.type), rank(s.type)
    if want is not None and got is not None and got != want + 1:
        raise BatchError(f"internal: batch of {old!r} has rank {got}, expected {want + 1}")
    ot, st = old.type, s.type
    if isinstance(ot, (Scalar, Array)) and isinstance(st, Array) and \
            ot.dtype in FLOAT_DTYPES and st.dtype != ot.dtype:
        s = apply("astype", s, dtype=np.dtype(ot.dtype))
    return typed(s, batched_type(old.type), old.hint, since=start)


def _push(e: Eqn, b: Builder, ctx: _Ctx) -> None:
    tape, *xs = e.args
    mask = frozenset(i for i, x in enumerate(xs) if ctx.is_batched(x))
    key = ctx.tapes.key(tape)
    if ctx.slots.get(key, mask) != mask:
        raise BatchError("a tape slot holds batched values at one push and not another", e.loc)
    ctx.slots[key] = mask
    b.stmts.append(_renamed(e, ctx))


def _pop(e: Eqn, b: Builder, ctx: _Ctx) -> None:
    key = ctx.tapes.key(e.args[0])
    mask = ctx.slots.get(key, frozenset())
    ctx.popped.append((key, mask))
    outs = tuple(ctx.bind(o) if i in mask else o for i, o in enumerate(e.outs))
    b.stmts.append(Eqn(outs, "pop", tuple(ctx.get(a) for a in e.args), e.params, e.loc))


# ------------------------------------------------------------------------------------ regions


def _joined(value: Atom, is_b: bool, old: Atom, target: object, ctx: _Ctx) -> Sym:
    """`value` (the new atom for `old`) as a batched value of unbatched type `target`: repeated
    when unbatched, with axes inserted up to `target`'s rank."""
    if isinstance(value, Const) and value.value is UNDEF:
        return Sym(value)
    h = ctx.helper()
    vt = value.type
    # A Python float takes the dtype of what it joins (as it would when added to it); other
    # values keep theirs, as they do without the batch.
    dtype = target.dtype if isinstance(vt, Scalar) and vt.weak and \
        isinstance(target, (Scalar, Array)) else None
    r_old, r_new = rank(old.type), rank(target)  # type: ignore[arg-type]
    s = Sym(value) if is_b else h.lift(Sym(value), dtype)
    if r_old is not None and r_new is not None and r_old < r_new:
        s = h.align(s, r_old, r_new)
    # Where a rank is known only at run time, the batch is left as it is: each of its rows is
    # the value for one direction, and the rules of the equations that read a value of unknown
    # rank fall back to running on each direction (they cannot align axes).
    return s


def _sub(stmts: Sequence[Stmt], results: Sequence[Atom], loc: object,
         ctx: _Ctx) -> tuple[Builder, list[Atom], list[bool]]:
    bb = Builder(loc)  # type: ignore[arg-type]
    with building(bb):
        _block(stmts, bb, ctx)
    return bb, [ctx.get(r) for r in results], [ctx.is_batched(r) for r in results]


def _join_all(bb: Builder, values: list[Atom], mask: list[bool], want: list[bool],
              olds: Sequence[Atom], targets: Sequence[Var], ctx: _Ctx) -> tuple[Atom, ...]:
    out = []
    with building(bb):
        for v, m, w, old, t in zip(values, mask, want, olds, targets):
            out.append(_joined(v, m, old, t.type, ctx).atom if w else v)
    return tuple(out)


def _if(s: If, b: Builder, ctx: _Ctx) -> None:
    if ctx.is_batched(s.cond):
        raise BatchError("a branch condition depends on the tangents", s.loc)
    tb, tres, tmask = _sub(s.then.stmts, s.then_results, s.loc, ctx)
    eb, eres, emask = _sub(s.orelse.stmts, s.else_results, s.loc, ctx)
    want = [x or y for x, y in zip(tmask, emask)]
    then_results = _join_all(tb, tres, tmask, want, s.then_results, s.outs, ctx)
    else_results = _join_all(eb, eres, emask, want, s.else_results, s.outs, ctx)
    outs = tuple(ctx.bind(o) if w else o for o, w in zip(s.outs, want))
    b.stmts.append(If(outs, ctx.get(s.cond), Block(tuple(tb.stmts)), then_results,
                      Block(tuple(eb.stmts)), else_results, s.loc))


def _loop(s: ForRange | While, b: Builder, ctx: _Ctx) -> None:
    """Carried values batched where the initial value or any trip's value is (a fixed point:
    the body is rewritten again while that set grows)."""
    want = {j for j, i in enumerate(s.inits) if ctx.is_batched(i)}
    while True:
        trial = ctx.copy()
        carried = tuple(trial.bind(c) if j in want else c for j, c in enumerate(s.carried))
        if isinstance(s, While):
            cb, cres, cmask = _sub(s.cond.stmts, (s.cond_result,), s.loc, trial)
            if cmask[0]:
                raise BatchError("a loop condition depends on the tangents", s.loc)
        bb, res, rmask = _sub(s.body.stmts, s.body_results, s.loc, trial)
        more = {j for j, m in enumerate(rmask) if m} - want
        if not more:
            break
        want |= more
    ctx.__dict__.update(trial.__dict__)
    flags = [j in want for j in range(len(s.carried))]
    body_results = _join_all(bb, res, rmask, flags, s.body_results, s.carried, ctx)
    b.loc = s.loc
    inits = _join_all(b, [ctx.get(i) for i in s.inits], [ctx.is_batched(i) for i in s.inits],
                      flags, s.inits, s.carried, ctx)
    outs = tuple(ctx.bind(o) if f else o for o, f in zip(s.outs, flags))
    if isinstance(s, ForRange):
        new: Stmt = ForRange(outs, s.index, ctx.get(s.start), ctx.get(s.stop), ctx.get(s.step),
                             carried, inits, Block(tuple(bb.stmts)), body_results, s.loc,
                             s.reverse)
    else:
        new = While(outs, carried, inits, Block(tuple(cb.stmts)), cres[0],
                    Block(tuple(bb.stmts)), body_results, s.loc)
    b.stmts.append(new)
