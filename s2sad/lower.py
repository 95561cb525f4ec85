"""Lower a parsed function to the Wengert IR, specialised to the types of its arguments.

Every expression becomes one primitive application per operation with a fresh variable, so
``return x * x * y + y + 2`` becomes ``t1 = mul(x, x); t2 = mul(t1, y); ...``.  What is known
when the derivative is generated is evaluated then and never reaches the IR: module attributes
(``np.sin``, ``math.pi``), arithmetic on constants, ``x.ndim``, tests such as ``axis is None``.
Method calls become calls (``x.sum()`` is ``np.sum(x)``); calls to Python functions with source
are inlined; anything else without a rule raises :class:`NoRuleError` at the call.
"""

from __future__ import annotations

import operator
import os
import site
import sysconfig
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import gast
import numpy as np

from . import prims  # noqa: F401  (registers the primitives and surface bindings)
from .errors import NoRuleError, TypeMismatch, UnsupportedSyntax
from .ir import Array, Block, Const, Function, Opaque, Scalar, Var
from .parse import loc_of, parse_function, unsupported
from .rules import (
    ATTRIBUTES, METHODS, Builder, Sym, apply, building, surface_of, to_atom, type_of_value,
)
from .runtime import Dyn
from .source import MISSING, Source, get_source, unwrap


@dataclass(frozen=True)
class Static:
    """A value known when the derivative is generated: a module, a function, a constant."""

    value: Any


@dataclass(frozen=True)
class TupleVal:
    """A tuple whose items are not all known statically (e.g. ``return loss, grad``)."""

    items: tuple[Any, ...]


Value = Any  # Sym | Static | TupleVal

_BINOPS: dict[type, tuple[str, Callable[[Any, Any], Any]]] = {
    gast.Add: ("add", operator.add), gast.Sub: ("sub", operator.sub),
    gast.Mult: ("mul", operator.mul), gast.Div: ("div", operator.truediv),
    gast.Pow: ("pow", operator.pow), gast.MatMult: ("matmul", operator.matmul),
    gast.FloorDiv: ("floordiv", operator.floordiv), gast.Mod: ("mod", operator.mod),
}
_CMPOPS: dict[type, tuple[str, Callable[[Any, Any], Any]]] = {
    gast.Lt: ("lt", operator.lt), gast.LtE: ("le", operator.le), gast.Gt: ("gt", operator.gt),
    gast.GtE: ("ge", operator.ge), gast.Eq: ("eq", operator.eq), gast.NotEq: ("ne", operator.ne),
}
# NumPy constructors: run at call time, never differentiated.
_CONSTRUCTORS = (np.zeros, np.ones, np.full, np.eye, np.identity, np.arange, np.linspace,
                 np.empty)
_MAX_INLINE_DEPTH = 20


def param_locs(fn: Any) -> tuple[list[str], list[Any]]:
    """The names of `fn`'s parameters and where each is written (for diagnostics)."""
    src = get_source(fn)
    node = parse_function(src)
    return [a.id for a in node.args.args], [loc_of(a, src) for a in node.args.args]


def lower(fn: Any, args: Sequence[Any]) -> Function:
    """Lower Python function `fn` for arguments like `args`.

    Each item of `args` is a :class:`Ty` (a run-time value of that type) or a :class:`Static`
    (a value to specialise on, e.g. a string option).
    """
    src = get_source(fn)
    node = parse_function(src)
    return Lowering(src).function(node, args)


class Lowering:
    """Walks one function's gast tree, appending equations to a builder."""

    def __init__(self, src: Source, builder: Builder | None = None, depth: int = 0) -> None:
        self.src = src
        self.builder = builder or Builder()
        self.env: dict[str, Value] = {}
        self.depth = depth
        self.result: Value | None = None

    # ------------------------------------------------------------------------------ entry

    def function(self, node: Any, args: Sequence[Any]) -> Function:
        names = [a.id for a in node.args.args]
        if len(names) != len(args):
            raise TypeMismatch(f"{self.src.name} takes {len(names)} argument(s), got {len(args)}",
                               loc_of(node, self.src))
        params: list[Var] = []
        for name, arg in zip(names, args):
            if isinstance(arg, Static):
                self.env[name] = arg
            else:
                v = Var(arg, name)
                params.append(v)
                self.env[name] = Sym(v)
        with building(self.builder):
            result = self.body(node)
        results = tuple(self.atom(r, node) for r in _flatten_result(result))
        return Function(self.src.name, tuple(params), Block(tuple(self.builder.stmts)), results,
                        loc_of(node, self.src), tuple(names),
                        param_locs=tuple(loc_of(a, self.src) for a in node.args.args),
                        result_tree=_tree_of(result))

    def body(self, node: Any) -> Value:
        if isinstance(node, gast.Lambda):
            self.builder.loc = loc_of(node, self.src)
            return self.expr(node.body)
        stmts = node.body
        for i, stmt in enumerate(stmts):
            self.builder.loc = loc_of(stmt, self.src)
            self.stmt(stmt)
            if self.result is not None:
                if i != len(stmts) - 1:
                    raise unsupported(stmts[i + 1], self.src, "code after `return`",
                                      "remove the unreachable statements")
                return self.result
        raise unsupported(node, self.src, "a function without `return`",
                          "return the value to differentiate")

    # ------------------------------------------------------------------------ statements

    def stmt(self, node: Any) -> None:
        if isinstance(node, gast.Return):
            if node.value is None:
                raise unsupported(node, self.src, "`return` without a value",
                                  "return the value to differentiate")
            self.result = self.expr(node.value)
        elif isinstance(node, gast.Assign):
            value = self.expr(node.value)
            for target in node.targets:
                self.assign(target, value)
        elif isinstance(node, gast.AnnAssign):
            if node.value is not None:
                self.assign(node.target, self.expr(node.value))
        elif isinstance(node, gast.AugAssign):
            if not isinstance(node.target, gast.Name):
                raise unsupported(node, self.src, "augmented assignment to an element or slice",
                                  "build a new array instead (in-place updates come with the "
                                  "mutation support of the next release)")
            current = self.name(node.target)
            self.assign(node.target, self.binop(node.op, current, self.expr(node.value), node))
        elif isinstance(node, gast.Expr):
            if not (isinstance(node.value, gast.Constant) and isinstance(node.value.value, str)):
                raise unsupported(node, self.src, "an expression statement whose value is unused",
                                  "assign the value, or remove the statement (calls made only "
                                  "for their side effects are not differentiated)")
        elif isinstance(node, gast.Pass):
            pass
        elif isinstance(node, gast.If):
            test = self.expr(node.test)
            if not isinstance(test, Static):
                raise unsupported(node, self.src, "`if` on a run-time value",
                                  "use np.where for elementwise choices; data-dependent "
                                  "branches come with control-flow support")
            for stmt in node.body if test.value else node.orelse:
                self.builder.loc = loc_of(stmt, self.src)
                self.stmt(stmt)
                if self.result is not None:
                    return
        else:
            kind = {gast.For: ("`for` loops", "unroll the loop or use array operations"),
                    gast.While: ("`while` loops", "use array operations"),
                    gast.Break: ("`break`", "restructure the loop"),
                    gast.Continue: ("`continue`", "restructure the loop")}.get(
                type(node), (f"`{type(node).__name__}`", "see the supported subset in README"))
            raise unsupported(node, self.src, kind[0], kind[1] + " (loops come with control-flow "
                              "support in the next release)")

    def assign(self, target: Any, value: Value) -> None:
        if isinstance(target, gast.Name):
            if isinstance(value, Sym):
                value = Sym(self.builder.rename_last(value.atom, target.id))
            self.env[target.id] = value
        elif isinstance(target, (gast.Tuple, gast.List)):
            items = self.unpack(value, len(target.elts), target)
            for t, v in zip(target.elts, items):
                self.assign(t, v)
        elif isinstance(target, gast.Subscript):
            raise unsupported(target, self.src, "assignment to an element or slice",
                              "build the array with np.array([...]) or np.where (element "
                              "assignment comes with mutation support in the next release)")
        else:
            raise unsupported(target, self.src, "assignment to an attribute",
                              "assign to a local name")

    def unpack(self, value: Value, n: int, node: Any) -> tuple[Value, ...]:
        if isinstance(value, TupleVal):
            items = value.items
        elif isinstance(value, Static) and isinstance(value.value, (tuple, list)):
            items = tuple(Static(v) for v in value.value)
        elif isinstance(value, Sym) and isinstance(value.type, Opaque) and value.type.kind == "shape":
            return tuple(Sym(to_atom(apply("getitem", value, spec=(i,)))) for i in range(n))
        else:
            raise unsupported(node, self.src, "unpacking this value",
                              "unpack tuples and shapes only; index arrays explicitly")
        if len(items) != n:
            raise TypeMismatch(f"cannot unpack {len(items)} values into {n} names", loc_of(node, self.src))
        return items

    # ----------------------------------------------------------------------- expressions

    def expr(self, node: Any) -> Value:
        method = getattr(self, "expr_" + type(node).__name__, None)
        if method is None:
            raise unsupported(node, self.src, f"`{type(node).__name__}` expressions",
                              "see the supported subset in README")
        return method(node)

    def expr_Constant(self, node: Any) -> Value:
        return Static(node.value)

    def expr_Name(self, node: Any) -> Value:
        return self.name(node)

    def name(self, node: Any) -> Value:
        if node.id in self.env:
            return self.env[node.id]
        obj = self.src.lookup(node.id)
        if obj is MISSING:
            raise NoRuleError(f"name {node.id!r} is not defined", loc_of(node, self.src),
                              "define it before the function is differentiated")
        if isinstance(obj, (float, int, np.ndarray, np.generic)) and not isinstance(obj, bool):
            return Sym(Const(obj, type_of_value(obj), node.id))
        return Static(obj)

    def expr_Tuple(self, node: Any) -> Value:
        items = tuple(self.expr(e) for e in node.elts)
        if all(isinstance(i, Static) for i in items):
            return Static(tuple(i.value for i in items))
        return TupleVal(items)

    def expr_List(self, node: Any) -> Value:
        items = tuple(self.expr(e) for e in node.elts)
        if all(isinstance(i, Static) for i in items):
            return Static([i.value for i in items])
        return TupleVal(items)

    def expr_BinOp(self, node: Any) -> Value:
        return self.binop(node.op, self.expr(node.left), self.expr(node.right), node)

    def binop(self, op: Any, left: Value, right: Value, node: Any) -> Value:
        name, pyop = _BINOPS.get(type(op), (None, None))
        if name is None or pyop is None:
            raise unsupported(node, self.src, f"the `{type(op).__name__}` operator",
                              "use the NumPy function instead")
        if isinstance(left, Static) and isinstance(right, Static):
            return Static(pyop(left.value, right.value))
        return apply(name, self.operand(left, node), self.operand(right, node))

    def expr_UnaryOp(self, node: Any) -> Value:
        operand = self.expr(node.operand)
        if isinstance(operand, Static):
            ops = {gast.USub: operator.neg, gast.UAdd: operator.pos, gast.Not: operator.not_}
            return Static(ops[type(node.op)](operand.value))
        if isinstance(node.op, gast.USub):
            return apply("neg", self.operand(operand, node))
        if isinstance(node.op, gast.UAdd):
            return operand
        raise unsupported(node, self.src, "`not` on a run-time value",
                          "use np.logical_not, or a comparison")

    def expr_Compare(self, node: Any) -> Value:
        left = self.expr(node.left)
        result: Value | None = None
        for op, right_node in zip(node.ops, node.comparators):
            right = self.expr(right_node)
            if isinstance(op, (gast.Is, gast.IsNot)):
                if not (isinstance(left, Static) and isinstance(right, Static)):
                    raise unsupported(node, self.src, "`is` on a run-time value", "use ==")
                same = left.value is right.value
                part: Value = Static(same if isinstance(op, gast.Is) else not same)
            else:
                name, pyop = _CMPOPS[type(op)]
                if isinstance(left, Static) and isinstance(right, Static):
                    part = Static(pyop(left.value, right.value))
                else:
                    part = apply(name, self.operand(left, node), self.operand(right, node))
            if result is None:
                result = part
            elif isinstance(result, Static) and isinstance(part, Static):
                result = Static(result.value and part.value)
            else:
                result = apply("logical_and", self.operand(result, node), self.operand(part, node))
            left = right
        assert result is not None
        return result

    def expr_BoolOp(self, node: Any) -> Value:
        values = [self.expr(v) for v in node.values]
        if all(isinstance(v, Static) for v in values):
            out = values[0].value
            for v in values[1:]:
                out = (out and v.value) if isinstance(node.op, gast.And) else (out or v.value)
            return Static(out)
        raise unsupported(node, self.src, "`and`/`or` on run-time values",
                          "use np.logical_and / np.logical_or")

    def expr_IfExp(self, node: Any) -> Value:
        test = self.expr(node.test)
        if isinstance(test, Static):
            return self.expr(node.body if test.value else node.orelse)
        raise unsupported(node, self.src, "a conditional expression on a run-time value",
                          "use np.where(cond, a, b)")

    def expr_Attribute(self, node: Any) -> Value:
        base = self.expr(node.value)
        if isinstance(base, Static):
            try:
                obj = getattr(base.value, node.attr)
            except AttributeError:
                raise NoRuleError(f"{base.value!r} has no attribute {node.attr!r}",
                                  loc_of(node, self.src)) from None
            if isinstance(obj, (float, int, np.ndarray)) and not isinstance(obj, bool):
                return Sym(Const(obj, type_of_value(obj), _dotted(node)))
            return Static(obj)
        if isinstance(base, Sym):
            if node.attr == "ndim" and base.ndim is not None:
                return Static(base.ndim)
            if node.attr == "dtype" and isinstance(base.type, (Scalar, Array)):
                return Static(np.dtype(base.type.dtype))
            fn = ATTRIBUTES.get(node.attr)
            if fn is not None:
                return fn(base)
        raise NoRuleError(f"attribute `.{node.attr}` of a {_kind(base)} is not supported",
                          loc_of(node, self.src),
                          f"supported array attributes: {', '.join(sorted(ATTRIBUTES))}, ndim, dtype")

    def expr_Subscript(self, node: Any) -> Value:
        base = self.expr(node.value)
        if isinstance(base, TupleVal):
            idx = self.expr(node.slice)
            if isinstance(idx, Static):
                return base.items[idx.value] if isinstance(idx.value, int) else \
                    TupleVal(base.items[idx.value])
        dyn: list[Any] = []
        spec = self.index_spec(node.slice, dyn)
        if isinstance(base, Static) and not dyn:
            return Static(base.value[spec[0] if len(spec) == 1 else spec])
        if isinstance(base, Sym):
            return apply("getitem", base, *dyn, spec=spec)
        raise unsupported(node, self.src, f"indexing a {_kind(base)} with a run-time index",
                          "index arrays, or use constant indices")

    def index_spec(self, node: Any, dyn: list[Any]) -> tuple[Any, ...]:
        items = node.elts if isinstance(node, gast.Tuple) else [node]
        return tuple(self.index_item(i, dyn) for i in items)

    def index_item(self, node: Any, dyn: list[Any]) -> Any:
        if isinstance(node, gast.Slice):
            parts = [None if p is None else self.index_item(p, dyn)
                     for p in (node.lower, node.upper, node.step)]
            return slice(*parts)
        value = self.expr(node)
        if isinstance(value, Static) and (value.value is None or value.value is Ellipsis or
                                          isinstance(value.value, int)):
            return value.value
        dyn.append(self.operand(value, node))
        return Dyn(len(dyn) - 1)

    def expr_Call(self, node: Any) -> Value:
        args = [self.expr(a) for a in node.args]
        kwargs = {k.arg: self.expr(k.value) for k in node.keywords}
        if None in kwargs:
            raise unsupported(node, self.src, "`**` unpacking in a call", "pass keywords explicitly")
        func = node.func
        if isinstance(func, gast.Attribute):
            base = self.expr(func.value)
            if isinstance(base, Sym):
                method = METHODS.get(func.attr)
                if method is None:
                    raise NoRuleError(f"method `.{func.attr}()` of a {_kind(base)} has no "
                                      "derivative rule", loc_of(node, self.src),
                                      "supported methods: " + ", ".join(sorted(METHODS)))
                return self.invoke(method, [base] + args, kwargs, node, f".{func.attr}()")
            callee = self.expr(func)
        else:
            callee = self.expr(func)
        if not isinstance(callee, Static):
            raise unsupported(node, self.src, "calling a run-time value", "call a named function")
        return self.call(callee.value, args, kwargs, node)

    def call(self, obj: Any, args: list[Value], kwargs: dict[str, Value], node: Any) -> Value:
        surface = surface_of(obj)
        name = getattr(obj, "__name__", repr(obj))
        if surface is not None:
            return self.invoke(surface, args, kwargs, node, name)
        if any(obj is c for c in _CONSTRUCTORS):
            return self.construct(obj, args, kwargs, node)
        target = unwrap(obj)
        if callable(target) and hasattr(target, "__code__") and not is_library(target):
            return self.inline(target, args, kwargs, node)
        if all(isinstance(a, Static) for a in [*args, *kwargs.values()]) and obj in (int, range, tuple):
            return Static(obj(*[a.value for a in args], **{k: v.value for k, v in kwargs.items()}))
        module = getattr(obj, "__module__", None) or ""
        raise NoRuleError(f"no derivative rule for {module + '.' if module else ''}{name}, and it "
                          "has no Python source to differentiate", loc_of(node, self.src),
                          "register one with @s2sad.custom_adjoint, or compute the value outside "
                          "the differentiated function and pass it in")

    def invoke(self, fn: Callable[..., Any], args: list[Value], kwargs: dict[str, Value],
               node: Any, what: str) -> Value:
        pa = [self.surface_arg(a) for a in args]
        pk = {k: self.surface_arg(v) for k, v in kwargs.items()}
        try:
            out = fn(*pa, **pk)
        except TypeError as exc:
            raise TypeMismatch(f"bad call to {what}: {exc}", loc_of(node, self.src)) from None
        return out if isinstance(out, Sym) else Static(out)

    def surface_arg(self, value: Value) -> Any:
        if isinstance(value, Static):
            return value.value
        if isinstance(value, TupleVal):
            return tuple(self.surface_arg(v) for v in value.items)
        return value

    def construct(self, obj: Any, args: list[Value], kwargs: dict[str, Value], node: Any) -> Value:
        operands = [self.operand(a, node) for a in args]
        keywords = []
        for k, v in sorted(kwargs.items()):
            if not isinstance(v, Static):
                raise unsupported(node, self.src, f"a run-time keyword argument `{k}=` to "
                                  f"np.{obj.__name__}", "pass it positionally")
            keywords.append((k, v.value))
        return apply("construct", *operands, fn=obj, keywords=tuple(keywords))

    def inline(self, fn: Any, args: list[Value], kwargs: dict[str, Value], node: Any) -> Value:
        if self.depth >= _MAX_INLINE_DEPTH:
            raise unsupported(node, self.src, "recursion deeper than 20 calls",
                              "recursive helpers come with control-flow support")
        src = get_source(fn)
        fnode = parse_function(src)
        sub = Lowering(src, self.builder, self.depth + 1)
        names = [a.id for a in fnode.args.args]
        defaults = list(fn.__defaults__ or ())
        bound: dict[str, Value] = dict(zip(names, args))
        for k, v in kwargs.items():
            if k not in names:
                raise TypeMismatch(f"{fn.__name__}() got an unexpected keyword {k!r}",
                                   loc_of(node, self.src))
            bound[k] = v
        for i, name in enumerate(names):
            if name not in bound:
                j = i - (len(names) - len(defaults))
                if j < 0:
                    raise TypeMismatch(f"{fn.__name__}() missing argument {name!r}",
                                       loc_of(node, self.src))
                bound[name] = Static(defaults[j])
        sub.env.update(bound)
        saved = self.builder.loc
        result = sub.body(fnode)
        self.builder.loc = saved
        return result

    # --------------------------------------------------------------------------- helpers

    def operand(self, value: Value, node: Any) -> Sym:
        if isinstance(value, Sym):
            return value
        if isinstance(value, Static):
            v = value.value
            if isinstance(v, (int, float, bool, np.generic, type(None), slice)) or v is Ellipsis:
                return Sym(Const(v, type_of_value(v)))
            if isinstance(v, (tuple, list)) and all(isinstance(i, (int, float)) for i in v):
                return Sym(Const(tuple(v), type_of_value(tuple(v))))
            raise unsupported(node, self.src, f"using {type(v).__name__} {v!r} as a value",
                              "pass numbers and arrays")
        if isinstance(value, TupleVal):
            return apply("pack", *[self.operand(i, node) for i in value.items])
        raise unsupported(node, self.src, "this value", "pass numbers and arrays")

    def atom(self, value: Value, node: Any) -> Any:
        return self.operand(value, node).atom


_LIBRARY_DIRS = tuple(
    os.path.realpath(p) for p in {*site.getsitepackages(), site.getusersitepackages(),
                                  sysconfig.get_paths()["stdlib"], sysconfig.get_paths()["purelib"],
                                  sysconfig.get_paths()["platlib"]} if p)


def is_library(fn: Any) -> bool:
    """True for functions of installed packages and the standard library (never inlined).

    Their derivatives come from rules; differentiating their source would trip over code
    written for other ends (argument checks, dtype dispatch) and hide a missing rule.
    """
    return os.path.realpath(fn.__code__.co_filename).startswith(_LIBRARY_DIRS)


def _flatten_result(result: Value) -> list[Value]:
    if isinstance(result, TupleVal):
        return [x for item in result.items for x in _flatten_result(item)]
    if isinstance(result, Static) and isinstance(result.value, tuple):
        return [Static(v) for v in result.value]
    return [result]


def _tree_of(result: Value) -> Any:
    """The nesting of a result: None for a leaf, a tuple of trees for a tuple."""
    if isinstance(result, TupleVal):
        return tuple(_tree_of(i) for i in result.items)
    if isinstance(result, Static) and isinstance(result.value, tuple):
        return tuple(None for _ in result.value)
    return None


def _kind(value: Value) -> str:
    if isinstance(value, Sym):
        return str(value.type)
    if isinstance(value, Static):
        return type(value.value).__name__
    return "tuple"


def _dotted(node: Any) -> str:
    if isinstance(node, gast.Attribute):
        return f"{_dotted(node.value)}.{node.attr}"
    if isinstance(node, gast.Name):
        return node.id
    return "?"

