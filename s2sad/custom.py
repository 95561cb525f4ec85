"""User-defined derivative rules: ``s2sad.custom_adjoint`` and ``s2sad.custom_tangent``.

A function given a custom rule becomes a primitive: differentiated code calls it as it is and
uses the rule for its derivative.  Rules have the signature of s2sad's own rules,
``rule(g, ans, *args)``, one per argument of the function (``g`` the incoming cotangent or
tangent, ``ans`` the function's result), and are ordinary Python and NumPy: s2sad lowers their
source into the derivative code where they are used, so they show in the generated code::

    def log1pexp(x):
        return np.log1p(np.exp(-np.abs(x))) + np.maximum(x, 0.0)

    @s2sad.custom_adjoint(log1pexp)
    def log1pexp_adjoint(g, ans, x):
        return g / (1.0 + np.exp(-x))
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import numpy as np

from .errors import NoRuleError
from .ir import Array, Scalar, Ty
from .lower import Lowering, Static, TupleVal
from .parse import loc_of, parse_function
from .rules import (
    REGISTRY,
    Emit,
    RuleError,
    Sym,
    apply,
    bind,
    current,
    defprim,
    owned_name,
    type_of_value,
)
from .source import get_source

# id(function) -> its rules ("jvp", "vjp") and the function itself ("fn")
USER_RULES: dict[int, dict[str, tuple[Any, ...]]] = {}
USER_PREFIX = "custom:"  # registry names of user functions with rules


def custom_adjoint(fn: Callable[..., Any], *rules: Callable[..., Any]) -> Any:
    """Give `fn` adjoint rules, one per positional parameter: ``rule(g, ans, *args)``.

    With no `rules` it is a decorator for a one-argument `fn`'s rule.
    """
    if not rules:
        return lambda rule: (custom_adjoint(fn, rule), rule)[1]
    _register(fn, "vjp", rules)
    return fn


def custom_tangent(fn: Callable[..., Any], *rules: Callable[..., Any]) -> Any:
    """Give `fn` tangent rules, one per positional parameter: ``rule(t, ans, *args)`` is the
    tangent of the result for a tangent `t` of that argument."""
    if not rules:
        return lambda rule: (custom_tangent(fn, rule), rule)[1]
    _register(fn, "jvp", rules)
    return fn


def _arity(fn: Callable[..., Any]) -> int:
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        raise RuleError(f"{fn!r} has no signature s2sad can read") from None
    return sum(1 for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD))


def _register(fn: Callable[..., Any], kind: str, rules: tuple[Any, ...]) -> None:
    if not callable(fn):
        raise RuleError(f"custom rules need a function to attach to, not {fn!r}")
    arity = _arity(fn)
    if len(rules) != arity:
        raise RuleError(f"{fn.__name__} takes {arity} argument(s) but {len(rules)} rule(s) "
                        "were given", hint="give one rule per argument")
    for r in rules:
        if not callable(r):
            raise RuleError(f"a rule of {fn.__name__} is not callable: {r!r}")
        n = _arity(r)
        if n != arity + 2:
            raise RuleError(f"a rule of {fn.__name__} takes {n} positional parameter(s); "
                            f"rules take (g, ans, *args) = {arity + 2}",
                            hint="write rules as `def rule(g, ans, x, ...)`")
        get_source(r)  # rules are lowered from their source: it must be readable
    entry = USER_RULES.setdefault(id(fn), {"fn": (fn,)})
    entry[kind] = rules
    name = owned_name(f"{USER_PREFIX}{fn.__module__}.{fn.__qualname__}", fn)
    REGISTRY.pop(name, None)
    jvp = tuple(_lowered(r) for r in entry["jvp"]) if "jvp" in entry else \
        tuple(_missing(fn, "tangent", "custom_tangent") for _ in range(arity))
    vjp = tuple(_lowered(r) for r in entry["vjp"]) if "vjp" in entry else \
        tuple(_missing(fn, "adjoint", "custom_adjoint") for _ in range(arity))
    defprim(name, fn, arity=arity, infer=_infer(fn), emit=Emit("custom", fn.__name__),
            jvp=jvp, vjp=vjp, foldable=False,
            doc=f"user function {fn.__qualname__} with custom rules")
    bind(fn, lambda *args, _name=name: apply(_name, *args))


def _infer(fn: Callable[..., Any]) -> Callable[..., Ty]:
    """The result's type, from calling `fn` on sample values of the arguments' kinds."""
    def infer(types: Any, params: dict[str, Any]) -> Ty:
        samples = []
        for t in types:
            if isinstance(t, Array):
                shape = tuple(1 if o else 2 for o in (t.ones or ()))
                samples.append(np.full(shape, 0.5, dtype=t.dtype))
            else:
                samples.append(0.5)
        try:
            out = type_of_value(fn(*samples))
        except Exception:  # noqa: BLE001 - the kinds are enough to go on
            return types[0]
        if isinstance(out, Array):
            return Array(out.dtype, None if out.ones is None else tuple(None for _ in out.ones))
        if isinstance(out, Scalar) and all(isinstance(t, Scalar) and t.weak for t in types):
            return Scalar(out.dtype, weak=True)
        return out
    return infer


def _missing(fn: Callable[..., Any], what: str, decorator: str) -> Callable[..., Any]:
    def rule(g: Any, ans: Any, *args: Any) -> Any:
        mode = "forward" if what == "tangent" else "reverse"
        raise NoRuleError(f"{fn.__qualname__} has a custom rule but no {what} rule, which "
                          f"{mode} mode needs (its source is not differentiated in place of "
                          "a rule)", current().loc,
                          f"add one with @s2sad.{decorator}({fn.__name__})")
    return rule


def _lowered(rule: Callable[..., Any]) -> Callable[..., Any]:
    """A registry rule that lowers the user's rule source with the handles as arguments."""
    if getattr(rule, "__s2sad_lowered__", False):
        return rule

    def apply_rule(g: Sym, ans: Sym, *args: Sym) -> Sym:
        src = get_source(rule)
        node = parse_function(src)
        lowering = Lowering(src, current())
        names = [a.id for a in node.args.args]
        values = [g, ans, *args]
        if len(names) != len(values):
            raise RuleError(f"rule {rule.__qualname__} takes {len(names)} parameter(s); rules "
                            f"take (g, ans, *args) = {len(values)}", loc_of(node, src))
        lowering.env.update(zip(names, values))
        saved = current().loc
        out = lowering.body(node)
        current().loc = saved
        if isinstance(out, (TupleVal, Static)):
            raise RuleError(f"rule {rule.__qualname__} must return one value", loc_of(node, src))
        return out
    apply_rule.__s2sad_lowered__ = True  # type: ignore[attr-defined]
    return apply_rule



