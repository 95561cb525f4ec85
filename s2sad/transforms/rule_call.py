"""Calling a primitive's rule for one argument of one equation (shared by jvp and vjp)."""

from __future__ import annotations

from typing import Any

from ..ir import Const, Eqn
from ..rules import Prim, Rule, Sym


def call_rule(prim: Prim, rules: tuple[Rule | None, ...] | None, argnum: int, g: Sym, ans: Sym,
              eqn: Eqn) -> Sym | None:
    """``rule(g, ans, *args, **params)`` for argument `argnum`; None when it has no rule.

    Variadic primitives (``arity=None``) have one rule for their leading arguments and a last
    one for all the rest, and receive ``argnum=`` so they know which argument is meant.
    """
    if rules is None:
        return None
    variadic = prim.arity is None
    rule = rules[min(argnum, len(rules) - 1)] if variadic else rules[argnum]
    if rule is None:
        return None
    args = [Sym(a) for a in eqn.args]
    params: dict[str, Any] = {k: (v.value if isinstance(v, Const) else Sym(v))
                              for k, v in eqn.params}
    if variadic:
        params["argnum"] = argnum
    out = rule(g, ans, *args, **params)
    if out is None or isinstance(out, Sym) or isinstance(out, tuple) and prim.multi:
        return out  # a tangent rule of a primitive with several results gives a tuple
    return Sym(Const(out, ans.type))
