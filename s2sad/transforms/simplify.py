"""Constant folding, algebraic identities and copy propagation.

Contract: ``simplify(f)`` returns an equivalent function, never larger, in which

* an equation on constants whose value is a scalar is replaced by the constant,
* ``x + 0``, ``0 + x``, ``x - 0``, ``x * 1``, ``1 * x``, ``x / 1``, ``x ** 1`` become ``x``,
  ``0 - x`` and ``x * -1`` become ``-x``, and ``-(-x)`` becomes ``x``,
* zeros for the items of a new list, ``list_zeros(list_new())``, are a new list, and zeros
  like a list of zeros are zeros like the list it was made like,
* a value an ``if`` joins that both branches give as the same variable from outside or the
  same constant is that atom (``y = 1.0 if c else 1.0`` is ``y = 1.0``),

each only when the result has exactly the type of `x` (so ``int * 1.0`` stays a float and a
broadcast is never dropped).  Replaced variables are substituted in later equations and in the
results.  Before and after::

    t1_bar = mul(1.0, y)           (gone: uses of t1_bar read y)
    x_bar = mul(t1_bar, x)         x_bar = mul(y, x)
"""

from __future__ import annotations

from ..ir import (
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
    Ty,
    Var,
    While,
    defined_in,
)
from ..rules import REGISTRY, type_of_value


def simplify(fn: Function) -> Function:
    """Simplify `fn` (see the module docstring); blocks of regions too."""
    sub: dict[int, Atom] = {}
    defs: dict[int, Eqn] = {}

    def s(a: Atom) -> Atom:
        return sub.get(a.id, a) if isinstance(a, Var) else a

    def ss(xs: tuple[Atom, ...]) -> tuple[Atom, ...]:
        return tuple(s(x) for x in xs)

    def block(stmts: tuple[Stmt, ...]) -> Block:
        out: list[Stmt] = []
        for stmt in stmts:
            if isinstance(stmt, If):
                then, orelse = block(stmt.then.stmts), block(stmt.orelse.stmts)
                then_res, else_res = ss(stmt.then_results), ss(stmt.else_results)
                inner = defined_in(then.stmts) | defined_in(orelse.stmts)
                keep = []
                for k, (o, a, b) in enumerate(zip(stmt.outs, then_res, else_res)):
                    if _same_atom(a, b) and not (isinstance(a, Var) and a.id in inner) and \
                            a.type == o.type:
                        sub[o.id] = a  # both branches yield it: no need to join
                    else:
                        keep.append(k)
                out.append(If(tuple(stmt.outs[k] for k in keep), s(stmt.cond), then,
                              tuple(then_res[k] for k in keep), orelse,
                              tuple(else_res[k] for k in keep), stmt.loc))
                continue
            if isinstance(stmt, ForRange):
                body = block(stmt.body.stmts)
                out.append(ForRange(stmt.outs, stmt.index, s(stmt.start), s(stmt.stop),
                                    s(stmt.step), stmt.carried, ss(stmt.inits), body,
                                    ss(stmt.body_results), stmt.loc, stmt.reverse))
                continue
            if isinstance(stmt, While):
                cond, body = block(stmt.cond.stmts), block(stmt.body.stmts)
                out.append(While(stmt.outs, stmt.carried, ss(stmt.inits), cond,
                                 s(stmt.cond_result), body, ss(stmt.body_results), stmt.loc))
                continue
            eqn = Eqn(stmt.outs, stmt.prim, ss(stmt.args), tuple((k, s(v)) for k, v in stmt.params),
                      stmt.loc)
            if len(eqn.outs) == 1 and not REGISTRY[eqn.prim].effect:
                repl = _rewrite(eqn, defs)
                if isinstance(repl, Eqn):
                    eqn = repl
                elif repl is not None:
                    sub[eqn.out.id] = repl
                    continue
            for v in eqn.outs:
                defs[v.id] = eqn
            out.append(eqn)
        return Block(tuple(out))

    body = block(fn.body.stmts)
    return fn.replace(body=body, results=ss(fn.results))


def _same_atom(a: Atom, b: Atom) -> bool:
    """`a` and `b` are the same variable, or equal Python scalar constants of one type."""
    if isinstance(a, Var) or isinstance(b, Var):
        return a is b
    return isinstance(a.value, (bool, int, float)) and type(a.value) is type(b.value) and \
        a.value == b.value and a.type == b.type and a.name == b.name and a.origin is b.origin


def _def(a: Atom, defs: dict[int, Eqn]) -> Eqn | None:
    return defs.get(a.id) if isinstance(a, Var) else None


def _is(a: Atom, value: float) -> bool:
    """`a` is the Python scalar `value` (never an array, whose shape could broadcast)."""
    return isinstance(a, Const) and isinstance(a.value, (int, float)) and \
        not isinstance(a.value, bool) and a.value == value


def _same_type(a: Ty, b: Ty) -> bool:
    """`a` may stand for `b`: the identities combine a value with a *scalar* constant, which
    never changes its shape, so only the kind and the dtype must agree."""
    if isinstance(a, Scalar) and isinstance(b, Scalar):
        return a.dtype == b.dtype
    if isinstance(a, Array) and isinstance(b, Array):
        return a.dtype == b.dtype and a.ones == b.ones
    return False


def _rewrite(e: Eqn, defs: dict[int, Eqn]) -> Atom | Eqn | None:
    """The atom `e` can be replaced with, a simpler equation for the same variable, or None."""
    prim = REGISTRY[e.prim]
    if e.prim == "hook":  # the transforms have used it: going forward it is the identity
        return e.args[0]
    atoms = e.atoms()
    # Named constants are the user's globals and closure values: read at run time, never folded.
    if prim.foldable and atoms and all(isinstance(a, Const) and a.name is None for a in atoms):
        try:
            value = prim.impl(*[a.value for a in e.args],  # type: ignore[union-attr]
                              **{k: v.value for k, v in e.params})  # type: ignore[union-attr]
        except Exception:  # noqa: BLE001 - leave it to fail at run time, where the user sees it
            return None
        if not hasattr(value, "shape") or getattr(value, "shape", None) == ():
            return Const(value, type_of_value(value))
    if len(e.args) == 2:
        x, y = e.args
        cand: Atom | None = None
        if e.prim == "add":
            cand = x if _is(y, 0) else y if _is(x, 0) else None
        elif e.prim == "sub":
            cand = x if _is(y, 0) else None
        elif e.prim == "mul":
            cand = x if _is(y, 1) else y if _is(x, 1) else None
        elif e.prim in ("div", "pow"):
            cand = x if _is(y, 1) else None
        if cand is not None and _same_type(cand.type, e.out.type):
            return cand
        if e.prim == "add":  # x_dot with slots zeroed, plus v_dot placed there: one write
            dx, dy = _def(x, defs), _def(y, defs)
            for d1, d2 in ((dx, dy), (dy, dx)):
                if d1 is not None and d2 is not None and d1.prim == "setitem" and \
                        d2.prim == "scatter" and _is(d1.args[1], 0) and \
                        d1.args[2:] == d2.args[2:] and d1.param("spec") == d2.param("spec") \
                        and _same_type(d1.args[0].type, e.out.type):
                    return Eqn(e.outs, "setitem", (d1.args[0], d2.args[0]) + d1.args[2:],
                               d1.params, e.loc)
        negated = {i: d.args[0] for i, d in enumerate(_def(a, defs) for a in (x, y))
                   if d is not None and d.prim == "neg"}
        if e.prim == "add" and 1 in negated:        # x + (-y)  ->  x - y
            return Eqn(e.outs, "sub", (x, negated[1]), (), e.loc)
        if e.prim == "add" and 0 in negated:        # (-x) + y  ->  y - x
            return Eqn(e.outs, "sub", (y, negated[0]), (), e.loc)
        if e.prim == "sub" and 1 in negated:        # x - (-y)  ->  x + y
            return Eqn(e.outs, "add", (x, negated[1]), (), e.loc)
        if e.prim == "mul" and (_is(y, -1) or _is(x, -1)):
            z = x if _is(y, -1) else y
            if _same_type(z.type, e.out.type):
                return Eqn(e.outs, "neg", (z,), (), e.loc)
    if e.prim == "list_zeros":  # zeros for the items of a new, empty list: a new list
        d = _def(e.args[0], defs)
        if d is not None and d.prim == "list_new":
            return Eqn(e.outs, "list_new", (), (), e.loc)
        if d is not None and d.prim == "list_zeros":  # zeros like zeros: zeros like the first
            return Eqn(e.outs, "list_zeros", d.args, (), e.loc)
    if e.prim == "neg":
        d = defs.get(e.args[0].id) if isinstance(e.args[0], Var) else None
        if d is not None and d.prim == "neg" and _same_type(d.args[0].type, e.out.type):
            return d.args[0]
    return None
