"""Reverse mode: a forward sweep (the primal equations) and then a backward sweep.

Contract: ``vjp(f, wrt, seed)`` takes ``f(*params) -> results`` and returns a function that
computes the results and then the adjoint ``x_bar`` of each parameter in `wrt`.  With
``seed="one"`` (gradients) `f` must have one scalar result and its adjoint starts at 1.0; with
``seed="param"`` the function takes one cotangent ``<result>_bar`` per result.  The backward
sweep visits the active equations in reverse; adjoints that receive several contributions are
accumulated with ``+``.  Straight-line SSA code keeps every primal value alive, so nothing is
taped here; the tape pass handles overwritten values in loops.  Before and after (seed "one")::

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

from ..analyses import active
from ..errors import TypeMismatch
from ..ir import Array, Atom, Block, Const, Eqn, Function, Scalar, Stmt, Var, is_float
from ..rules import REGISTRY, Builder, Sym, apply, building, covers
from .common import broadcast_up, materialize, unbroadcast_to
from .rule_call import call_rule

BACKWARD_MARK = "backward sweep"


def vjp(fn: Function, wrt: Sequence[int], seed: str = "one", keep_value: bool = True) -> Function:
    """The reverse-mode derivative of `fn` with respect to the parameters numbered `wrt`.

    The result lists the primal results (unless `keep_value` is false) and then the adjoints.
    """
    act = active(fn, wrt, fn.results)
    b = Builder()
    b.stmts.extend(fn.body.stmts)
    bar: dict[int, Atom] = {}
    seeds: tuple[Var, ...] = ()
    if seed == "one":
        r = fn.results[0] if len(fn.results) == 1 else None
        if r is None or not isinstance(r.type, Scalar) or not is_float(r.type):
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
        for r, s in zip(fn.results, seeds):
            if isinstance(r, Var) and r.id in act:
                _accumulate(b, bar, r, Sym(s))
    b.stmts.append(Eqn((), "comment", (), (("text", Const(BACKWARD_MARK, Scalar("bool"))),)))
    with building(b):
        for stmt in reversed(fn.body.stmts):
            if not isinstance(stmt, Eqn):
                raise NotImplementedError("control flow")  # pragma: no cover - next issue
            if not stmt.outs or stmt.out.id not in bar or stmt.out.id not in act:
                continue
            b.loc = stmt.loc
            prim = REGISTRY[stmt.prim]
            g, ans = Sym(bar[stmt.out.id]), Sym(stmt.out)
            if not prim.lazy_ok or (isinstance(g.type, Array) and g.ndim != ans.ndim):
                g = broadcast_up(g, ans)  # the rule needs g with the result's axes
            for i, a in enumerate(stmt.args):
                if not (isinstance(a, Var) and a.id in act):
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
                _accumulate(b, bar, a, c)
        grads = tuple(_bar_or_zero(fn.params[i], bar) for i in wrt)
    results = (fn.results if keep_value else ()) + grads
    stmts, results = _name_adjoints(b.stmts, results, bar, fn)
    value_names = (("out",) if len(fn.results) == 1 else
                   tuple(f"out{i}" for i in range(len(fn.results)))) if keep_value else ()
    return fn.replace(name=f"{fn.name}_vjp", params=fn.params + seeds, body=Block(stmts),
                      results=results, result_names=value_names,
                      param_names=fn.param_names + tuple(s.hint or "" for s in seeds))


def _name_adjoints(stmts: list[Stmt], results: tuple[Atom, ...], bar: dict[int, Atom],
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
    if not rename:
        return tuple(stmts), results

    def r(a: Atom) -> Atom:
        return rename.get(a.id, a) if isinstance(a, Var) else a
    out: list[Stmt] = []
    for s in stmts:
        assert isinstance(s, Eqn)
        out.append(Eqn(tuple(rename.get(v.id, v) for v in s.outs), s.prim,
                       tuple(r(a) for a in s.args), tuple((k, r(v)) for k, v in s.params), s.loc))
    return tuple(out), tuple(r(a) for a in results)


def _accumulate(b: Builder, bar: dict[int, Atom], v: Var, c: Sym) -> None:
    old = bar.get(v.id)
    bar[v.id] = c.atom if old is None else apply("add", Sym(old), c).atom


def _bar_or_zero(p: Var, bar: dict[int, Atom]) -> Atom:
    if p.id in bar:
        return materialize(Sym(bar[p.id]), Sym(p)).atom
    if isinstance(p.type, Array):
        return apply("zeros_like", p).atom
    return Const(0.0, Scalar("float64"))
