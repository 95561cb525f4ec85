"""Reverse mode: a forward sweep, then a backward sweep that propagates adjoints.

Contract: ``vjp(f, wrt, seed)`` takes ``f(*params) -> results`` and returns a function that
computes the results and then the adjoint ``x_bar`` of each parameter in `wrt`.  With
``seed="one"`` (gradients) `f` must have one scalar result and its adjoint starts at 1.0; with
``seed="param"`` the function takes one cotangent ``<result>_bar`` per result.  The backward
sweep visits the active statements in reverse; adjoints that receive several contributions
are accumulated with ``+``.

Straight-line SSA code keeps every primal value alive, so it needs no tape.  A loop does: its
adjoint body is built first, and the primal values it reads that the next trip overwrites
(values computed in the body, the carried values at the start of a trip) become the loop's
tape, pushed at the end of each forward trip and popped at the start of each backward trip.
Nothing else is saved.  A `for` loop's backward trips recount its range; a `while` loop
counts its trips.  An `if`'s adjoint is an `if` on the same condition; the primal values its
branch adjoints read are yielded by the forward `if`.  Before and after (seed "one")::

    t1 = mul(x, x)             t1 = mul(x, x)
    y = sin(t1)                y = sin(t1)
                               # backward sweep
                               t2 = cos(t1)
                               t1_bar = mul(1.0, t2)
                               t3 = mul(t1_bar, x)
                               t4 = mul(x, t1_bar)
                               x_bar = add(t3, t4)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from ..analyses import Tapes, active, list_objects
from ..errors import TypeMismatch, UnsupportedSyntax
from ..ir import (
    UNDEF,
    Array,
    Atom,
    Block,
    Const,
    Eqn,
    ForRange,
    Function,
    If,
    ListOf,
    Opaque,
    Scalar,
    Stmt,
    Ty,
    Var,
    While,
    defined_in,
    free_reads,
    has_derivative,
    is_float,
    name_var,
    sub_blocks,
    substitute,
    walk,
)
from ..rules import (
    LIST_RULES,
    REGISTRY,
    Builder,
    Prim,
    Sym,
    apply,
    building,
    cast_like,
    covers,
)
from .common import broadcast_up, materialize, unbroadcast_to
from .rule_call import call_rule

BACKWARD_MARK = "backward sweep"
_INT = Scalar("int64")


@dataclass
class _Plan:
    """What the forward sweep must add so the backward sweep can run (filled backwards)."""

    active: set[int]
    links: Tapes = field(default_factory=Tapes)  # the tapes of reverse-mode code being reversed
    tapes: dict[int, tuple[Var, tuple[Var, ...]]] = field(default_factory=dict)  # loop id
    mirrors: list[tuple[int, int]] = field(default_factory=list)  # popped id, primal id
    counters: dict[int, tuple[Var, Var, Var]] = field(default_factory=dict)      # while id
    exports: dict[int, list[tuple[int, Var, Var]]] = field(default_factory=dict)  # if id
    slots: dict[int, list[int]] = field(default_factory=dict)  # tape key -> active positions
    bar_tapes: dict[int, Var] = field(default_factory=dict)    # tape key -> its adjoint tape
    objects: dict[int, int] = field(default_factory=dict)      # list versions (list_objects)


def vjp(fn: Function, wrt: Sequence[int], seed: str = "one", keep_value: bool = True,
        aux: bool = False) -> Function:
    """The reverse-mode derivative of `fn` with respect to the parameters numbered `wrt`.

    The result lists the primal results (unless `keep_value` is false) and then the adjoints.
    """
    links = Tapes.of(fn)
    plan = _Plan(active(fn, wrt, fn.results, links), links, objects=list_objects(fn))
    for st in walk(fn.body):  # reversing reverse-mode code: what its pops hand on
        if isinstance(st, Eqn) and st.prim == "pop":
            slots = plan.slots.setdefault(links.key(st.args[0]), [])
            slots[:] = sorted(set(slots) | {k for k, v in enumerate(st.outs)
                                            if v.id in plan.active})
    back = Builder()
    bar: dict[int, Atom] = {}
    seeds: tuple[Var, ...] = ()
    if seed == "one":
        r = fn.results[0] if len(fn.results) == 1 or aux else None
        scalar = isinstance(r.type, Scalar) or isinstance(r.type, Array) and r.type.ones == () \
            if r is not None else False  # a 0-d array is a number too
        if r is None or not scalar or not is_float(r.type):
            what = "several results" if r is None else f"a {r.type} result"
            raise TypeMismatch(f"grad needs a function with one float scalar result; "
                               f"{fn.name} has {what}", fn.loc,
                               "use s2sad.vjp or s2sad.jacobian for non-scalar outputs")
        if isinstance(r, Var):
            bar[r.id] = Const(1.0, Scalar("float64"))
    else:
        names = ["out_bar"] if len(fn.results) == 1 else \
            [f"out{i}_bar" for i in range(len(fn.results))]
        seeds = tuple(Var(r.type, n) for r, n in zip(fn.results, names))
        with building(back):
            for r, s in zip(fn.results, seeds):
                if isinstance(r, Var) and r.id in plan.active:
                    _accumulate(bar, r, Sym(s))
    with building(back):
        _backward(fn.body.stmts, back, bar, plan)
        grads = tuple(_bar_or_zero(fn.params[i], bar) for i in wrt)
    forward = _forward(fn.body.stmts, plan)
    mark = Eqn((), "comment", (), (("text", Const(BACKWARD_MARK, Scalar("bool"))),))
    made = tuple(Eqn((t,), "tape", (), (), fn.loc) for t in plan.bar_tapes.values())
    stmts = forward + (mark,) + made + tuple(back.stmts)
    if aux:  # (value, *aux): only the value is differentiated; aux passes through
        results = (fn.results[:1] if keep_value else ()) + fn.results[1:] + grads
    else:
        results = (fn.results if keep_value else ()) + grads
    stmts, results = _name_adjoints(stmts, results, bar, fn)
    value_names = (("out",) if len(fn.results) == 1 else
                   tuple(f"out{i}" for i in range(len(fn.results)))) if keep_value else ()
    return fn.replace(name=f"{fn.name}_vjp", params=fn.params + seeds, body=Block(stmts),
                      results=results, result_names=value_names, mirrors=tuple(plan.mirrors),
                      param_names=fn.param_names + tuple(s.hint or "" for s in seeds))


# ------------------------------------------------------------------------------- backward


def _backward(stmts: Sequence[Stmt], b: Builder, bar: dict[int, Atom], plan: _Plan) -> None:
    for stmt in reversed(stmts):
        if isinstance(stmt, Eqn):
            _eqn(stmt, b, bar, plan)
        elif isinstance(stmt, If):
            _if(stmt, b, bar, plan)
        else:
            _loop(stmt, b, bar, plan)


def _eqn(stmt: Eqn, b: Builder, bar: dict[int, Atom], plan: _Plan) -> None:
    if stmt.prim in ("push", "pop"):
        _tape_eqn(stmt, b, bar, plan)
        return
    prim = REGISTRY[stmt.prim]
    if stmt.prim in LIST_RULES:
        _list_eqn(stmt, prim, b, bar, plan)
        return
    if prim.multi:
        _multi(stmt, prim, b, bar, plan)
        return
    if not stmt.outs or stmt.out.id not in bar or stmt.out.id not in plan.active:
        return
    b.loc = stmt.loc
    g, ans = Sym(bar[stmt.out.id]), Sym(stmt.out)
    if not prim.lazy_ok or (isinstance(g.type, Array) and g.ndim != ans.ndim):
        g = broadcast_up(g, ans)  # the rule needs g with the result's axes
    for i, a in enumerate(stmt.args):
        if not (isinstance(a, Var) and a.id in plan.active):
            continue
        c = call_rule(prim, prim.vjp, i, g, ans, stmt)
        if c is None:
            continue
        if prim.broadcasts:
            if not covers(a.type, ans.type):
                # `a` was broadcast: summing over its stretched axes needs them real
                if isinstance(a.type, Scalar) and isinstance(c.type, Scalar):
                    c = c * apply("size", ans)
                else:
                    c = broadcast_up(c, ans)
            c = unbroadcast_to(c, Sym(a))
        _accumulate(bar, a, c)


def _tape_eqn(stmt: Eqn, b: Builder, bar: dict[int, Atom], plan: _Plan) -> None:
    """Reverse-mode code reversed again: the adjoint of a pop pushes its values' adjoints
    onto an adjoint tape, and the adjoint of the matching push pops them back, last in
    first out, since the backward sweep meets them in the opposite order."""
    key = plan.links.key(stmt.args[0])
    slots = plan.slots.get(key)
    if not slots:
        return
    tape = plan.bar_tapes.get(key)
    if tape is None:
        tape = plan.bar_tapes[key] = Var(Opaque("tape"), "tape_bar")
    b.loc = stmt.loc
    if stmt.prim == "pop":
        values = tuple(_full(bar.get(stmt.outs[k].id), stmt.outs[k]) for k in slots)
        b.stmts.append(Eqn((), "push", (tape,) + values, (), stmt.loc))
        return
    pushed = [stmt.args[1 + k] for k in slots]
    outs = tuple(Var(a.type) for a in pushed)
    b.stmts.append(Eqn(outs, "pop", (tape,), (), stmt.loc))
    for a, o in zip(pushed, outs):
        if isinstance(a, Var) and a.id in plan.active:
            _accumulate(bar, a, Sym(o))


def _multi(stmt: Eqn, prim: Prim, b: Builder, bar: dict[int, Atom], plan: _Plan) -> None:
    """A primitive with several results: its rules take the tuple of their cotangents, None
    for a result no cotangent reached."""
    gs = tuple(broadcast_up(Sym(bar[v.id]), Sym(v)) if v.id in bar and v.id in plan.active
               else None for v in stmt.outs)
    if all(g is None for g in gs):
        return
    b.loc = stmt.loc
    ans = tuple(Sym(v) for v in stmt.outs)
    for i, a in enumerate(stmt.args):
        if isinstance(a, Var) and a.id in plan.active:
            c = call_rule(prim, prim.vjp, i, gs, ans, stmt)  # type: ignore[arg-type]
            if c is not None:
                _accumulate(bar, a, c)


def _list_eqn(stmt: Eqn, prim: Prim, b: Builder, bar: dict[int, Atom], plan: _Plan) -> None:
    """A primitive on lists: one rule for the whole equation (see :class:`ListRules`).

    A list result that is active but that no cotangent has reached yet still goes through
    its rule (which starts from zeros): the list's earlier versions must receive their
    cotangents from it, since a zero cotangent made for an earlier version would count the
    items the list has at the end, not those it had then (the forward sweep changed it in
    place).  The analyses make all versions of a list active together.
    """
    gs = tuple(Sym(bar[v.id]) if v.id in bar and v.id in plan.active else None
               for v in stmt.outs)
    if all(g is None for g in gs) and not any(isinstance(v.type, ListOf) and v.id in plan.active
                                               for v in stmt.outs):
        return
    b.loc = stmt.loc
    bars = tuple(Sym(bar[a.id]) if isinstance(a, Var) and isinstance(a.type, ListOf) and
                 a.id in bar else None for a in stmt.args)
    ans: Sym | tuple[Sym, ...] = tuple(Sym(v) for v in stmt.outs) if prim.multi \
        else Sym(stmt.out)
    params = {k: (v.value if isinstance(v, Const) else Sym(v)) for k, v in stmt.params}
    start = len(b.stmts)
    out = LIST_RULES[stmt.prim].vjp(gs if prim.multi else gs[0], bars, ans,
                                    *[Sym(a) for a in stmt.args], **params)
    made = [st for st in b.stmts[start:] if isinstance(st, Eqn)]
    for a, c in zip(stmt.args, out):  # the cotangent lists the rule made: `xs_bar`
        if isinstance(a, Var) and a.hint and isinstance(a.type, ListOf) and c is not None:
            for st in made:
                if st.outs == (c.atom,) or st.prim == "list_zeros":
                    name_var(st.out, f"{a.hint}_bar")
    for a, c in zip(stmt.args, out):
        if c is None or not (isinstance(a, Var) and a.id in plan.active):
            continue
        if isinstance(a.type, ListOf):
            bar[a.id] = c.atom  # the rule included what the list had
        else:
            _accumulate(bar, a, c)


def _zero(like: Atom) -> Atom:
    if isinstance(like.type, ListOf):
        return apply("list_zeros", like).atom
    if isinstance(like.type, Array):
        return apply("zeros_like", like).atom
    return Const(0.0, Scalar("float64"))


def _lazy(c: Atom | None) -> Atom:
    return Const(0.0, Scalar("float64")) if c is None else c


def _unknown_shape(t: Ty) -> Ty:
    return Array(t.dtype, None) if isinstance(t, Array) else t


def _full(c: Atom | None, like: Atom) -> Atom:
    """Adjoint `c` with the full shape of `like` (zeros when there is none)."""
    if c is not None and isinstance(like.type, ListOf):
        return c  # its items have their full shapes
    return _zero(like) if c is None else materialize(Sym(c), Sym(like)).atom


def _outer_active(stmts: Sequence[Stmt], results: Sequence[Atom], plan: _Plan) -> list[Var]:
    """Active variables from outside a block that it (or its results) reads."""
    return [v for v in free_reads(stmts, tuple(results)) if v.id in plan.active and
            has_derivative(v.type)]


def _if(stmt: If, b: Builder, bar: dict[int, Atom], plan: _Plan) -> None:
    b.loc = stmt.loc
    for o in stmt.outs:  # a list's earlier versions get their cotangents from this one
        if isinstance(o.type, ListOf) and o.id in plan.active and o.id not in bar:
            bar[o.id] = _zero(o)
    act = [k for k, o in enumerate(stmt.outs) if o.id in plan.active and o.id in bar]
    if not act and not _saves_active(stmt, plan):
        return
    branches = ((stmt.then, stmt.then_results), (stmt.orelse, stmt.else_results))
    free: list[Var] = []
    for block, results in branches:
        for v in _outer_active(block.stmts, [results[k] for k in act], plan):
            if all(v is not f for f in free):
                free.append(v)
    # A list the branches read that has a cotangent already: they add to it in place.
    threaded = {v.id: bar[v.id] for v in free if isinstance(v.type, ListOf) and v.id in bar}
    built = []
    exports: list[tuple[int, Var, Var]] = []
    for branch, (block, results) in enumerate(branches):
        bb = Builder(stmt.loc)
        local: dict[int, Atom] = dict(threaded)
        with building(bb):
            for k in act:
                r = results[k]
                if isinstance(r, Var) and r.id in plan.active:
                    _accumulate(local, r, Sym(bar[stmt.outs[k].id]))
            _backward(block.stmts, bb, local, plan)
            res = tuple(_full(local.get(v.id), v) for v in free)
        inner = defined_in(block.stmts) | _plan_defs(block.stmts, plan)
        mapping = {}
        for v in free_reads(bb.stmts, res):
            if v.id in inner:  # a value of this branch the adjoint reads: the `if` yields it
                out = Var(v.type, v.hint)
                exports.append((branch, v, out))
                plan.mirrors.append((out.id, v.id))
                mapping[v.id] = out
        built.append((substitute(bb.stmts, mapping), res))
    if exports:
        plan.exports[id(stmt)] = exports
    outs = tuple(Var(v.type, _bar_name(v)) for v in free)
    b.stmts.append(If(outs, stmt.cond, Block(built[0][0]), built[0][1], Block(built[1][0]),
                      built[1][1], stmt.loc))
    for v, o in zip(free, outs):
        if v.id in threaded:
            bar[v.id] = o
        else:
            _accumulate(bar, v, Sym(o))


def _saves_active(stmt: Stmt, plan: _Plan) -> bool:
    """True when a region of reverse-mode code being reversed pushes or pops tape slots
    whose values are active (a loop that only saves values for its backward sweep): its
    adjoint moves their cotangents even though none of its results is active."""
    return any(isinstance(st, Eqn) and st.prim in ("push", "pop") and
               plan.slots.get(plan.links.key(st.args[0])) for st in walk(Block((stmt,))))


def _loop(stmt: ForRange | While, b: Builder, bar: dict[int, Atom], plan: _Plan) -> None:
    act = [k for k, c in enumerate(stmt.carried) if c.id in plan.active]
    if not act and not _saves_active(stmt, plan):
        return
    b.loc = stmt.loc
    free = _outer_active(stmt.body.stmts, stmt.body_results, plan)
    free = [v for v in free if all(v is not stmt.carried[k] for k in act)]
    # A loop that widens a value (0.0 on entry, an array after a trip) gives its adjoint the
    # shape of each trip's value: kept lazily broadcast, under a type that says so.
    widened = {k for k in act if stmt.carried[k].type != stmt.inits[k].type and
               not isinstance(stmt.carried[k].type, ListOf)}
    g_init = tuple(_lazy(bar.get(stmt.outs[k].id)) if k in widened else
                   _full(bar.get(stmt.outs[k].id), stmt.outs[k]) for k in act)
    # A list the body reads (and does not change) collects its cotangent in place: from the
    # one it has already, or from zeros.
    lists = {v.id for v in free if isinstance(v.type, ListOf)}
    acc_init = tuple(bar.pop(v.id, None) or _zero(v) if v.id in lists else _zero(v)
                     for v in free)
    gs = tuple(Var(_unknown_shape(stmt.carried[k].type) if k in widened else
                   stmt.carried[k].type, _bar_name(stmt.carried[k])) for k in act)
    accs = tuple(Var(v.type, _bar_name(v)) for v in free)
    index = Var(_INT, stmt.index.hint if isinstance(stmt, ForRange) else "trip")
    bb = Builder(stmt.loc)
    local: dict[int, Atom] = {}
    with building(bb):
        for k, gk in zip(act, gs):
            r = stmt.body_results[k]
            if isinstance(r, Var) and r.id in plan.active:
                _accumulate(local, r, Sym(gk))
        local.update({v.id: a for v, a in zip(free, accs) if v.id in lists})
        _backward(stmt.body.stmts, bb, local, plan)
        next_g = tuple(_lazy(local.get(stmt.carried[k].id)) if k in widened else
                       _full(local.get(stmt.carried[k].id), gk) for k, gk in zip(act, gs))
        next_acc = tuple(local[v.id] if v.id in lists else a if v.id not in local else
                         (Sym(a) + Sym(_full(local[v.id], v))).atom for v, a in zip(free, accs))
    body_stmts = tuple(bb.stmts)
    # Values of one trip: computed in the body (with what the plan adds to it: the tapes and
    # trip counts of inner loops, the values inner ifs yield), and the carried values.
    inner = defined_in(stmt.body.stmts) | {c.id for c in stmt.carried} | \
        _plan_defs(stmt.body.stmts, plan)
    mapping: dict[int, Var] = {}
    if isinstance(stmt, ForRange):
        mapping[stmt.index.id] = index
    saved = tuple(v for v in free_reads(body_stmts, next_g + next_acc)
                  if v.id in inner and v.id not in mapping)
    _no_list_changed_by(stmt, saved, plan)
    if saved:
        tape = Var(Opaque("tape"), "tape")
        popped = tuple(Var(v.type, v.hint) for v in saved)
        mapping.update({v.id: p for v, p in zip(saved, popped)})
        plan.tapes[id(stmt)] = (tape, saved)
        plan.mirrors.extend((q.id, v.id) for q, v in zip(popped, saved))
        body_stmts = (Eqn(popped, "pop", (tape,), (), stmt.loc),) + body_stmts
    body_stmts = substitute(body_stmts, mapping)
    next_g = tuple(mapping.get(a.id, a) if isinstance(a, Var) else a for a in next_g)
    next_acc = tuple(mapping.get(a.id, a) if isinstance(a, Var) else a for a in next_acc)
    if isinstance(stmt, ForRange):
        start, stop, step = stmt.start, stmt.stop, stmt.step
    else:
        count, count_out, count_next = Var(_INT, "n"), Var(_INT, "trips"), Var(_INT, "n")
        plan.counters[id(stmt)] = (count, count_out, count_next)
        start, stop, step = Const(0, _INT), count_out, Const(1, _INT)
    outs = tuple(Var(g.type, g.hint) for g in gs) + tuple(Var(a.type, a.hint) for a in accs)
    b.stmts.append(ForRange(outs, index, start, stop, step, gs + accs, g_init + acc_init,
                            Block(body_stmts), next_g + next_acc, stmt.loc,
                            reverse=not (isinstance(stmt, ForRange) and stmt.reverse)))
    for k, o in zip(act, outs[:len(act)]):
        init = stmt.inits[k]
        if isinstance(init, Var) and init.id in plan.active:
            _accumulate(bar, init, unbroadcast_to(Sym(o), Sym(init)))
    for v, o in zip(free, outs[len(act):]):
        if v.id in lists:
            bar[v.id] = o  # it started from the cotangent v had
        else:
            _accumulate(bar, v, Sym(o))


def _no_list_changed_by(stmt: ForRange | While, saved: tuple[Var, ...], plan: _Plan) -> None:
    """A list on a loop's tape is a reference: right for a list made in each trip, wrong for
    one the loop grows or rebuilds (the versions of one list to the analysis: every trip would
    save the same, final list), which is refused at the loop."""
    objects = plan.objects
    grown = {objects[c.id] for c in stmt.carried if c.id in objects}
    for v in saved:
        if isinstance(v.type, ListOf) and objects.get(v.id) in grown:
            name = f"`{v.hint}`" if v.hint else "a list"
            raise UnsupportedSyntax(
                f"reverse mode through a loop whose trips read {name}, a list grown at run "
                "time that the loop also rebuilds or grows: its backward sweep would need "
                "the list as each trip saw it", stmt.loc,
                "use forward mode (s2sad.jvp, s2sad.jacobian(mode=\"forward\")), or keep the "
                "items in an array the loop updates (hs = hs * 2.0)")


# -------------------------------------------------------------------------------- forward


def _forward(stmts: Sequence[Stmt], plan: _Plan) -> tuple[Stmt, ...]:
    """The primal statements, with the tapes, trip counters and exports the plan asks for."""
    out: list[Stmt] = []
    for s in stmts:
        if isinstance(s, Eqn):
            out.append(s)
        elif isinstance(s, If):
            then_res, else_res, outs = list(s.then_results), list(s.else_results), list(s.outs)
            for branch, v, o in plan.exports.get(id(s), []):
                then_res.append(v if branch == 0 else Const(UNDEF, v.type))
                else_res.append(v if branch == 1 else Const(UNDEF, v.type))
                outs.append(o)
            out.append(If(tuple(outs), s.cond, Block(_forward(s.then.stmts, plan)),
                          tuple(then_res), Block(_forward(s.orelse.stmts, plan)),
                          tuple(else_res), s.loc))
        else:
            body = list(_forward(s.body.stmts, plan))
            tape = plan.tapes.get(id(s))
            if tape is not None:
                out.append(Eqn((tape[0],), "tape", (), (), s.loc))
                body.append(Eqn((), "push", (tape[0],) + tape[1]))
            if isinstance(s, ForRange):
                out.append(ForRange(s.outs, s.index, s.start, s.stop, s.step, s.carried, s.inits,
                                    Block(tuple(body)), s.body_results, s.loc, s.reverse))
                continue
            extra_c: tuple[Var, ...] = ()
            extra_i: tuple[Atom, ...] = ()
            extra_r: tuple[Atom, ...] = ()
            extra_o: tuple[Var, ...] = ()
            counter = plan.counters.get(id(s))
            if counter is not None:
                count, count_out, count_next = counter
                body.append(Eqn((count_next,), "add", (count, Const(1, _INT))))
                extra_c, extra_i = (count,), (Const(0, _INT),)
                extra_r, extra_o = (count_next,), (count_out,)
            out.append(While(s.outs + extra_o, s.carried + extra_c, s.inits + extra_i,
                             Block(_forward(s.cond.stmts, plan)), s.cond_result,
                             Block(tuple(body)), s.body_results + extra_r, s.loc))
    return tuple(out)


# -------------------------------------------------------------------------------- helpers


def _plan_defs(stmts: Sequence[Stmt], plan: _Plan) -> set[int]:
    """Ids of the variables the forward sweep will add inside `stmts` for the plan."""
    out: set[int] = set()
    for s in stmts:
        if id(s) in plan.tapes:
            out.add(plan.tapes[id(s)][0].id)
        if id(s) in plan.counters:
            out.update(v.id for v in plan.counters[id(s)])
        out.update(o.id for _, _, o in plan.exports.get(id(s), []))
        for block, _, _ in sub_blocks(s):
            out |= _plan_defs(block.stmts, plan)
    return out


def _bar_name(v: Var) -> str | None:
    return f"{v.hint}_bar" if v.hint else None


def _accumulate(bar: dict[int, Atom], v: Var, c: Sym) -> None:
    old = bar.get(v.id)
    add = "list_add" if isinstance(v.type, ListOf) else "add"
    bar[v.id] = c.atom if old is None else apply(add, Sym(old), c).atom


def _name_adjoints(stmts: tuple[Stmt, ...], results: tuple[Atom, ...], bar: dict[int, Atom],
                   fn: Function) -> tuple[tuple[Stmt, ...], tuple[Atom, ...]]:
    """Name the final adjoint of each user variable `v` as `v_bar`.

    Partial sums stay anonymous, so codegen can fold them into one expression.
    """
    primal: dict[int, Var] = {p.id: p for p in fn.params}
    for stmt in fn.body.stmts:
        for v in stmt.outs:
            primal[v.id] = v
    rename: dict[int, Var] = {}
    for vid, adj in bar.items():
        v = primal.get(vid)
        if v is not None and v.hint and isinstance(adj, Var) and adj.hint is None \
                and adj.id not in rename:
            rename[adj.id] = Var(adj.type, f"{v.hint}_bar")
    stmts = substitute(stmts, rename)
    return stmts, tuple(rename.get(a.id, a) if isinstance(a, Var) else a for a in results)


def _bar_or_zero(p: Var, bar: dict[int, Atom]) -> Atom:
    if p.id in bar:
        # the gradient has its argument's dtype (where a float64 value promoted it)
        return cast_like(materialize(Sym(bar[p.id]), Sym(p)), Sym(p)).atom
    if isinstance(p.type, Array):
        return apply("zeros_like", p).atom
    return Const(0.0, Scalar("float64"))
