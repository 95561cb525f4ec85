"""Forward mode: interleave each primal equation with the equation of its tangent.

Contract: ``jvp(f, wrt)`` takes ``f(*params) -> results`` and returns
``f_jvp(*params, *tangents) -> (*results, *result_tangents)``, with one tangent parameter
``x_dot`` per parameter in `wrt`.  Only values that depend on `wrt` get tangents.  Zero
tangents are never materialised inside straight-line code; a region (``if``, loop) whose
value is varied yields its tangent as one more joined or carried value, a real zero where a
path does not vary it.  Before and after::

    t1 = mul(x, x)             t1 = mul(x, x)
    y = sin(t1)                t2 = mul(x_dot, x)
                               t3 = mul(x, x_dot)
                               t1_dot = add(t2, t3)
                               y = sin(t1)
                               t4 = cos(t1)
                               y_dot = mul(t1_dot, t4)

and a loop carrying ``y`` carries ``y_dot`` beside it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from ..analyses import Tapes, varied
from ..ir import (
    Array,
    Atom,
    Block,
    Const,
    Eqn,
    ForRange,
    Function,
    If,
    ListOf,
    Scalar,
    Stmt,
    Var,
    While,
    name_var,
    walk,
)
from ..rules import LIST_RULES, REGISTRY, Builder, Prim, Sym, apply, building
from .common import broadcast_up, materialize
from .rule_call import call_rule


def jvp(fn: Function, wrt: Sequence[int], unit: bool = False) -> Function:
    """The forward-mode derivative of `fn` with respect to the parameters numbered `wrt`.

    With `unit` the one `wrt` parameter (a float) has tangent 1.0 instead of a parameter of
    its own, and the function returns only the tangents: the derivative itself.
    """
    tapes = Tapes.of(fn)
    vary = varied(fn, wrt, tapes)
    if unit:
        dots: tuple[Var, ...] = ()
        tangent: dict[int, Atom] = {fn.params[i].id: Const(1.0, Scalar("float64")) for i in wrt}
    else:
        dots = tuple(Var(fn.params[i].type, f"{fn.params[i].hint}_dot") for i in wrt)
        tangent = {fn.params[i].id: d for i, d in zip(wrt, dots)}
    b = Builder()
    ctx = _Ctx(tangent, vary, tapes)
    with building(b):
        _block(fn.body.stmts, b, ctx)
        outs = tuple(tangent_or_zero(r, r, tangent, ctx.full) for r in fn.results)
    if unit:
        return fn.replace(name=f"{fn.name}_jvp", body=Block(tuple(b.stmts)), results=outs,
                          result_names=tuple(f"{n}_dot" if n else None
                                             for n in fn.result_names[:len(outs)]))
    names = ("out", "out_dot") if len(fn.results) == 1 else \
        tuple(f"out{i}" for i in range(len(fn.results))) + \
        tuple(f"out{i}_dot" for i in range(len(fn.results)))
    return fn.replace(name=f"{fn.name}_jvp", params=fn.params + dots, body=Block(tuple(b.stmts)),
                      results=fn.results + outs, result_names=names,
                      param_names=fn.param_names + tuple(d.hint or "" for d in dots))


def tangent_or_zero(r: Atom, like: Atom, tangent: dict[int, Atom],
                    full: set[int] = frozenset()) -> Atom:  # type: ignore[assignment]
    """The tangent of `r` with the full shape of `like`, or a zero of that shape (`full`:
    tangents known to have their value's full shape already)."""
    if isinstance(like.type, ListOf):  # a list of the items' tangents, or of zeros
        if isinstance(r, Var) and r.id in tangent:
            return tangent[r.id]
        return apply("list_zeros", like).atom
    if isinstance(r, Var) and r.id in tangent:
        t = tangent[r.id]
        if r is like and isinstance(t, Var) and t.id in full:
            return t
        return materialize(Sym(tangent[r.id]), Sym(like)).atom
    if isinstance(like.type, Array):
        return apply("zeros_like", like).atom
    return Const(0.0, Scalar("float64"))


def _dot_name(v: Var) -> str | None:
    return f"{v.hint}_dot" if v.hint else None


def _block(stmts: Sequence[Stmt], b: Builder, ctx: _Ctx) -> None:
    for stmt in stmts:
        if isinstance(stmt, Eqn):
            _eqn(stmt, b, ctx)
        elif isinstance(stmt, If):
            _if(stmt, b, ctx)
        else:
            _loop(stmt, b, ctx)


@dataclass
class _Ctx:
    """What the transform carries through a function: tangents so far, the analysis."""

    tangent: dict[int, Atom]
    vary: set[int]
    tapes: Tapes
    full: set[int] = field(default_factory=set)  # tangents that have their value's shape


def _tape_eqn(stmt: Eqn, b: Builder, ctx: _Ctx) -> None:
    """Reverse-mode code differentiated again: a push also saves the tangents of its varied
    values, and the matching pop takes them back (the same slots, by the analysis)."""
    tangent = ctx.tangent
    slots = sorted(ctx.tapes.varied.get(ctx.tapes.key(stmt.args[0]), set()))
    if stmt.prim == "push":
        extra = tuple(tangent_or_zero(stmt.args[1 + k], stmt.args[1 + k], tangent) for k in slots)
        b.stmts.append(Eqn((), "push", stmt.args + extra, stmt.params, stmt.loc))
        return
    dots = tuple(Var(stmt.outs[k].type, _dot_name(stmt.outs[k])) for k in slots)
    b.stmts.append(Eqn(stmt.outs + dots, "pop", stmt.args, stmt.params, stmt.loc))
    for k, d in zip(slots, dots):
        tangent[stmt.outs[k].id] = d


def _eqn(stmt: Eqn, b: Builder, ctx: _Ctx) -> None:
    tangent, vary = ctx.tangent, ctx.vary
    if stmt.prim in ("push", "pop") and ctx.tapes.varied.get(ctx.tapes.key(stmt.args[0])):
        _tape_eqn(stmt, b, ctx)
        return
    b.stmts.append(stmt)
    if not any(v.id in vary for v in stmt.outs):
        return
    b.loc = stmt.loc
    prim = REGISTRY[stmt.prim]
    if stmt.prim in LIST_RULES:
        _list_eqn(stmt, prim, b, ctx)
        return
    if prim.multi:
        _multi(stmt, prim, b, ctx)
        return
    ans = Sym(stmt.out)
    total: Sym | None = None
    for i, a in enumerate(stmt.args):
        t = tangent.get(a.id) if isinstance(a, Var) else None
        if t is None:
            continue
        full = prim.broadcasts or isinstance(t, Var) and t.id in ctx.full
        dot = Sym(t) if full else broadcast_up(Sym(t), Sym(a))
        c = call_rule(prim, prim.jvp, i, dot, ans, stmt)
        if c is not None:
            total = c if total is None else total + c
    if total is None:
        return
    hint = _dot_name(stmt.out)
    tangent[stmt.out.id] = b.rename_last(total.atom, hint) if hint else total.atom


def _multi(stmt: Eqn, prim: Prim, b: Builder, ctx: _Ctx) -> None:
    """A primitive with several results: each rule gives a tuple, one tangent per result."""
    ans = tuple(Sym(v) for v in stmt.outs)
    totals: list[Sym | None] = [None] * len(stmt.outs)
    start = len(b.stmts)
    for i, a in enumerate(stmt.args):
        t = ctx.tangent.get(a.id) if isinstance(a, Var) else None
        if t is None:
            continue
        cs = call_rule(prim, prim.jvp, i, broadcast_up(Sym(t), Sym(a)), ans, stmt)
        for k, c in enumerate(cs or ()):
            if c is not None:
                totals[k] = c if totals[k] is None else totals[k] + c  # type: ignore[operator]
    made = {v.id for st in b.stmts[start:] if isinstance(st, Eqn) for v in st.outs}
    for v, total in zip(stmt.outs, totals):
        if total is not None and v.id in ctx.vary:
            hint = _dot_name(v)
            if hint and isinstance(total.atom, Var) and total.atom.id in made:
                name_var(total.atom, hint)
            ctx.tangent[v.id] = total.atom


def _list_eqn(stmt: Eqn, prim: Prim, b: Builder, ctx: _Ctx) -> None:
    """A primitive on lists: its tangent rule sees the tangents of all the arguments at once
    (see :class:`s2sad.rules.ListRules`)."""
    dots = tuple(Sym(ctx.tangent[a.id]) if isinstance(a, Var) and a.id in ctx.tangent else None
                 for a in stmt.args)
    if all(d is None for d in dots):
        return
    ans: Sym | tuple[Sym, ...] = tuple(Sym(v) for v in stmt.outs) if prim.multi \
        else Sym(stmt.out)
    params = {k: (v.value if isinstance(v, Const) else Sym(v)) for k, v in stmt.params}
    start = len(b.stmts)
    out = LIST_RULES[stmt.prim].jvp(dots, ans, *[Sym(a) for a in stmt.args], **params)
    made = {v.id for st in b.stmts[start:] for v in st.outs}
    for v, t in zip(stmt.outs, out if prim.multi else (out,)):
        if t is None or v.id not in ctx.vary:
            continue
        hint = _dot_name(v)
        if hint and isinstance(t.atom, Var) and t.atom.id in made:
            name_var(t.atom, hint)
        ctx.tangent[v.id] = t.atom
        if isinstance(t.atom, Var) and t.atom.type == v.type:
            ctx.full.add(t.atom.id)  # np.stack of full items (lists hold full items)

def _sub(stmts: Sequence[Stmt], results: Sequence[Atom], likes: Sequence[Atom], loc: object,
         ctx: _Ctx) -> tuple[Block, tuple[Atom, ...]]:
    """A block with tangents added, and the tangents of `results` (shaped like `likes`)."""
    bb = Builder(loc)  # type: ignore[arg-type]
    with building(bb):
        _block(stmts, bb, ctx)
        dres = tuple(tangent_or_zero(r, like, ctx.tangent) for r, like in zip(results, likes))
    return Block(tuple(bb.stmts)), dres


def _varies_inside(stmt: If | ForRange | While, ctx: _Ctx) -> bool:
    """True when a region computes varied values inside (reverse-mode code differentiated
    again: a loop that only saves them on a tape, whose pushes must save their tangents too)."""
    for st in walk(Block((stmt,))):
        if st is not stmt and any(v.id in ctx.vary for v in st.outs):
            return True
        if isinstance(st, Eqn) and st.prim in ("push", "pop") and \
                ctx.tapes.varied.get(ctx.tapes.key(st.args[0])):
            return True
    return False


def _if(stmt: If, b: Builder, ctx: _Ctx) -> None:
    tangent = ctx.tangent
    act = [k for k, o in enumerate(stmt.outs) if o.id in ctx.vary]
    if not act and not _varies_inside(stmt, ctx):
        b.stmts.append(stmt)
        return
    then, dthen = _sub(stmt.then.stmts, [stmt.then_results[k] for k in act],
                       [stmt.then_results[k] for k in act], stmt.loc, ctx)
    orelse, delse = _sub(stmt.orelse.stmts, [stmt.else_results[k] for k in act],
                         [stmt.else_results[k] for k in act], stmt.loc, ctx)
    douts = tuple(Var(stmt.outs[k].type, _dot_name(stmt.outs[k])) for k in act)
    b.stmts.append(If(stmt.outs + douts, stmt.cond, then, stmt.then_results + dthen, orelse,
                      stmt.else_results + delse, stmt.loc))
    for k, d in zip(act, douts):
        tangent[stmt.outs[k].id] = d


def _loop(stmt: ForRange | While, b: Builder, ctx: _Ctx) -> None:
    tangent = ctx.tangent
    act = [k for k, c in enumerate(stmt.carried) if c.id in ctx.vary]
    if not act and not _varies_inside(stmt, ctx):
        b.stmts.append(stmt)
        return
    b.loc = stmt.loc
    dinits = tuple(tangent_or_zero(stmt.inits[k], stmt.inits[k], tangent) for k in act)
    dcarried = tuple(Var(stmt.carried[k].type, _dot_name(stmt.carried[k])) for k in act)
    for k, dc in zip(act, dcarried):
        tangent[stmt.carried[k].id] = dc
    # Shaped like each trip's result (a loop may widen a value: 0.0, then an array).
    likes = [r if isinstance(r, Var) else stmt.carried[k]
             for k, r in ((k, stmt.body_results[k]) for k in act)]
    body, dres = _sub(stmt.body.stmts, [stmt.body_results[k] for k in act], likes, stmt.loc,
                      ctx)
    douts = tuple(Var(stmt.outs[k].type, _dot_name(stmt.outs[k])) for k in act)
    if isinstance(stmt, ForRange):
        new: Stmt = ForRange(stmt.outs + douts, stmt.index, stmt.start, stmt.stop, stmt.step,
                             stmt.carried + dcarried, stmt.inits + dinits, body,
                             stmt.body_results + dres, stmt.loc, stmt.reverse)
    else:
        new = While(stmt.outs + douts, stmt.carried + dcarried, stmt.inits + dinits, stmt.cond,
                    stmt.cond_result, body, stmt.body_results + dres, stmt.loc)
    b.stmts.append(new)
    for k, d in zip(act, douts):
        tangent[stmt.outs[k].id] = d
