"""Lower a parsed function to the Wengert IR, specialised to the types of its arguments.

Every expression becomes one primitive application per operation with a fresh variable, so
``return x * x * y + y + 2`` becomes ``t1 = mul(x, x); t2 = mul(t1, y); ...``.  What is known
when the derivative is generated is evaluated then and never reaches the IR: module attributes
(``np.sin``, ``math.pi``), arithmetic on constants, ``x.ndim``, tests such as ``axis is None``.
Method calls become calls (``x.sum()`` is ``np.sum(x)``); calls to Python functions with source
are inlined; anything else without a rule raises :class:`NoRuleError` at the call.
"""

from __future__ import annotations

import builtins
import contextlib
import copy
import dataclasses
import inspect
import operator
import os
import site
import sys
import sysconfig
import weakref
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import partial
from types import CellType, ModuleType
from typing import Any

import gast
import numpy as np

from . import (
    prims,  # registers the primitives and surface bindings
    recursion,
)
from .errors import (
    NoRuleError,
    NotDifferentiable,
    S2SADError,
    TypeMismatch,
    UnsupportedSyntax,
    plain,
)
from .ir import (
    Array,
    Block,
    Const,
    Eqn,
    ForRange,
    Function,
    If,
    ListOf,
    Opaque,
    Scalar,
    Var,
    While,
    is_float,
    name_var,
    substitute,
)
from .parse import loc_of, parse_function, unsupported
from .rules import (
    ATTRIBUTES,
    METHODS,
    Builder,
    Sym,
    apply,
    building,
    promote,
    surface_of,
    to_atom,
    type_of_value,
)
from .runtime import Dyn, grad_of
from .source import MISSING, Source, get_source, make_lookup, unwrap


@dataclass(frozen=True)
class Static:
    """A value known when the derivative is generated: a module, a function, a constant."""

    value: Any


@dataclass(frozen=True)
class TupleVal:
    """A tuple whose items are not all known statically (e.g. ``return loss, grad``)."""

    items: tuple[Any, ...]


@dataclass(frozen=True)
class Record:
    """A dict, namedtuple, dataclass or plain object passed in: fields by key or attribute."""

    kind: str
    keys: tuple[Any, ...]
    items: tuple[Any, ...]

    def get(self, key: Any) -> Any:
        for k, v in zip(self.keys, self.items):
            if k == key:
                return v
        raise KeyError(key)


@dataclass(frozen=True, eq=False)
class Tree:
    """An argument that is a container of numbers and arrays: its structure and leaf specs.

    Kinds: ``tuple``, ``list``, ``dict`` (keys in insertion order), ``namedtuple`` and
    ``dataclass`` (the class in `cls`).  The generated code takes one parameter per leaf;
    gradients are rebuilt with the same structure and type.
    """

    kind: str
    cls: Any
    keys: tuple[Any, ...]
    children: tuple[Any, ...]

    def leaves(self) -> list[Any]:
        return [x for c in self.children
                for x in (c.leaves() if isinstance(c, Tree) else [c])]

    def flatten(self, value: Any) -> list[Any]:
        out: list[Any] = []
        for k, c in zip(self.keys, self.children):
            item = _field(value, self.kind, k)
            out.extend(c.flatten(item) if isinstance(c, Tree) else [item])
        return out

    def unflatten(self, leaves: list[Any]) -> Any:
        it = iter(leaves)

        def build(t: Tree) -> Any:
            items = [build(c) if isinstance(c, Tree) else next(it) for c in t.children]
            if t.kind == "dict":
                return dict(zip(t.keys, items))
            if t.kind == "list":
                return items
            if t.kind == "tuple":
                return tuple(items)
            if t.kind == "namedtuple":
                return t.cls(*items)
            return t.cls(**dict(zip(t.keys, items)))
        return build(self)

    def key(self, leaf_key: Callable[[Any], Any]) -> Any:
        return ("tree", self.kind, self.cls, self.keys,
                tuple(c.key(leaf_key) if isinstance(c, Tree) else leaf_key(c)
                      for c in self.children))


def _field(value: Any, kind: str, key: Any) -> Any:
    if kind in ("dict", "list", "tuple"):
        return value[key]
    return getattr(value, key)


def tree_spec(value: Any, leaf_spec: Callable[[Any], Any]) -> Tree | None:
    """The :class:`Tree` of a container whose leaves are all numbers or arrays, else None."""
    import dataclasses as dc
    if isinstance(value, tuple) and hasattr(value, "_fields"):
        kind, cls, keys = "namedtuple", type(value), tuple(value._fields)
    elif isinstance(value, (tuple, list)):
        kind, cls, keys = type(value).__name__, None, tuple(range(len(value)))
        if type(value) not in (tuple, list):
            return None
    elif type(value) is dict:
        kind, cls, keys = "dict", None, tuple(value)
    elif dc.is_dataclass(value) and not isinstance(value, type):
        kind, cls, keys = "dataclass", type(value), tuple(f.name for f in dc.fields(value))
    else:
        return None
    if not keys:
        return None
    children = []
    for k in keys:
        spec = leaf_spec(_field(value, kind, k))
        if isinstance(spec, Static):
            return None
        children.append(spec)
    return Tree(kind, cls, keys, tuple(children))


@dataclass(frozen=True, eq=False)
class LocalFunction:
    """A `def` or `lambda` inside the differentiated function: inlined where it is called,
    reading the enclosing variables as they are at the call (as Python closures do)."""

    node: Any
    defaults: tuple[Any, ...]


_INDEX_DTYPES = ("int64", "int32", "int16", "int8", "uint64", "uint32", "uint16", "uint8",
                 "bool")


@dataclass(frozen=True, eq=False)
class _Origin:
    """Which arrays an array value may share memory with (NumPy aliasing, followed).

    `roots` are keys of the objects it may belong to: the id of the array a function made
    (a construct, an arithmetic result), kept by the results of ``x[i] = v`` and by loop values
    (with a key of the loop's own for arrays its trips make).  It is `steps` (view equations,
    basic indexing, transposes, reshapes...) applied to `base`, a version of that object; two
    values with one `base` are one array seen two ways.  `exact`: every step is a view in
    NumPy (a reshape or ravel may be a copy).
    """

    roots: frozenset[int]
    base: Any
    steps: tuple[Eqn, ...] = ()
    exact: bool = True


@dataclass(frozen=True, eq=False)
class _Stale:
    """The value of a name that a write into another name changed in a way single assignment
    cannot follow (a view that may be a copy, or an alias a loop does not carry): reading the
    name raises, at the write."""

    value: Any  # the Sym it held (still a loop's carried value, never read)
    name: str
    written: str
    loc: Any
    why: str

    def rewrap(self, value: Any) -> _Stale:
        return dataclasses.replace(self, value=value)

    def error(self, read: Any, src: Source) -> UnsupportedSyntax:
        line = loc_of(read, src).line
        return UnsupportedSyntax(
            f"reading `{self.name}` (line {line}) after this write into `{self.written}`, "
            f"which may change `{self.name}` too ({self.why}): not supported in differentiated "
            "code", self.loc,
            f"copy the view first: {self.name} = <view of {self.written}>.copy(), or take "
            f"`{self.name}` after the write")


@dataclass(frozen=True, eq=False)
class _Write:
    """A write into an array (see :meth:`Lowering.write`), as the names of a calling
    function must see it too."""

    written: _Origin
    new: Any  # Sym: the next version of the array written (or of the array it views)
    base: Any  # Sym: the value written into
    view: bool
    label: str
    node: Any
    src: Source


def _unstale(value: Any) -> Any:
    return value.value if isinstance(value, _Stale) else value


@dataclass(eq=False)
class _Exits:
    """How the trips of a loop with `break`, `continue` or `return` end (see
    :meth:`Lowering.trip`), and which exits its paths reached."""

    going: str | None                          # env name of the loop's flag, if it can stop
    advance: Callable[[], None] | None = None  # the step to the next trip (index, test)
    hits: set[str] = field(default_factory=set)
    ret_types: list[list[Any]] = field(default_factory=list)  # types of the values returned
    unrolled: bool = False                     # a loop over a tuple or list


_RETURNED = ".returned"  # env names of the flag and values of a `return` inside a loop


def _ret_slot(k: int) -> str:
    return f".ret{k}"


Value = Any  # Sym | Static | TupleVal | Record | LocalFunction

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
# Free names read as values fixed in the generated code (flags, option strings, tuples of
# settings), with how to look each up again and its key: api.py keeps the code only while the
# keys hold.  Functions are checked by identity; modules, and builtins, are not checked.
BAKED: list[tuple[Callable[[str], Any], str, Any]] = []
_BAKED_KINDS = (bool, str, bytes, type(None), tuple, list, dict, frozenset, set)


def _library_module(obj: Any) -> bool:
    return isinstance(obj, ModuleType) and obj.__name__.split(".")[0] in ("numpy", "math")


def _constant_maker(obj: Any) -> bool:
    """NumPy scalar types and `math` functions: on constants, their value is a constant."""
    return isinstance(obj, type) and issubclass(obj, np.generic) or \
        getattr(obj, "__module__", None) == "math"


def _module_name(module: ModuleType, home: Callable[[str], Any]) -> str:
    """The name the user's module knows `module` by (``import helpers as hp``: hp), else
    its own last name: generated code prints its globals as ``hp.K``."""
    for name, value in home.module_globals.items():  # type: ignore[attr-defined]
        if value is module and name.isidentifier() and not name.startswith("__"):
            return name
    return module.__name__.rsplit(".", 1)[-1]


def _attribute(obj: Any, name: str) -> Any:
    return getattr(obj, name, MISSING)


class _Same:
    """An object compared by identity, and kept alive while a key holds it (so that no other
    object can take its id: a rebound global's old value may be freed)."""

    __slots__ = ("obj",)

    def __init__(self, obj: Any) -> None:
        self.obj = obj

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Same) and other.obj is self.obj

    def __hash__(self) -> int:
        return id(self.obj)


def baked_key(value: Any) -> Any:
    """A scalar by value; anything else by identity (a function, a class, an object whose
    fields the code reads), a container by identity and length (cheap to check on every
    call; rebinding the name is seen, changing a list's items in place is not)."""
    if isinstance(value, _BAKED_KINDS[:4]):
        return type(value), value
    return type(value), _Same(value), len(value) if isinstance(value, _BAKED_KINDS) else None

_UNROLL = 6  # levels of a recursive call unrolled before calling it at run time instead
_ACTIVE: list[Any] = []  # code objects of the functions being lowered, outermost first
# The name resolvers of the functions whose code is being made, innermost last (see code_for):
# the generated code runs with their globals and cells, so only those are read by bare names.
_HOME: list[Callable[[str], Any]] = []
_NAMESPACE_CELLS: dict[tuple[int, str], tuple[dict[str, Any], Any]] = {}  # see free_const


@contextlib.contextmanager
def code_for(fn: Any) -> Iterator[None]:
    """While the code that runs as `fn` is made (lowered, differentiated, printed), only
    `fn`'s own globals and cells are read by their bare names (:meth:`Lowering.free_const`).
    `fn` None: the code made is inlined into the code being made around it."""
    if fn is not None:
        _HOME.append(make_lookup(unwrap(fn)))
    try:
        yield
    finally:
        if fn is not None:
            _HOME.pop()


class _TooDeep(Exception):
    """A recursive call went past :data:`_UNROLL` levels (caught where it began)."""

    def __init__(self, code: Any) -> None:
        self.code = code


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
    outer = _ACTIVE[:]  # lowering may start inside another (recursion.result_type)
    _ACTIVE[:] = [unwrap(fn).__code__]
    _HOME.append(_HOME[-1] if _HOME else src.lookup)  # (one lowered inside another is
    try:                                              #  part of the code made, or a type)
        return Lowering(src).function(node, args)
    finally:
        _ACTIVE[:] = outer
        _HOME.pop()


class Lowering:
    """Walks one function's gast tree, appending equations to a builder."""

    def __init__(self, src: Source, builder: Builder | None = None, depth: int = 0) -> None:
        self.src = src
        self.builder = builder or Builder()
        self.env: dict[str, Value] = {}
        self.depth = depth
        self.result: Value | None = None
        self.parents: list[Builder] = []   # builders of the blocks enclosing the current one
        self.owned: set[int] = set()       # arrays made here that are not views (see is_owned)
        self.hints: dict[str, str] = {}    # display names of the flags of loops with exits
        self.exit_level = 0                # loops with exits being lowered around this point
        self.ret_tree: Any = MISSING       # nesting of what `return` inside a loop returns
        self.else_flags = 0                # flags made for loops with `else` (see split_loop_else)
        self.foreign: set[int] = set()     # lists grown at run time that a caller made
        self.shared: set[int] = set()      # arrays appended to a list grown at run time
        self.aliased: set[int] = set()     # lists that an `if` made other names for
        self.foreign_known: list[Value] = []  # and lists of known length it passed in
        self.new_lists: list[tuple[int, Var, str]] = []  # see grow_lists
        self.origins: dict[int, _Origin] = {}  # what loop and `if` values may share (origin)
        self.shared_roots: set[int] = set()  # objects an array appended to a list belongs to
        self.loop_stale: dict[str, _Stale] = {}  # the carried names a loop leaves stale
        self.loop_keys = 0                   # keys of the arrays loop trips make (origin)
        self.outer_roots: frozenset[int] = frozenset()  # arrays an inlining caller can see
        self.walking: list[tuple[frozenset[int], Any]] = []  # arrays loops walk the rows of
        self.outer_writes: list[_Write] | None = None  # writes into those (see write)
        self.top = 0  # len(parents) at the function's own top level
        self.numbers: set[int] = set()  # loop values that are numbers before the first trip

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
                self.env[name] = self.param_value(name, arg, params)
        with building(self.builder):
            result = self.body(node)
        for r in _flatten_result(result):
            if _is_list(r):
                at = next(iter(r for s in node.body for r in _returns_in(s)), node)
                raise unsupported(at, self.src, "returning a list grown at run time",
                                  "return np.stack(xs) or np.array(xs)")
        results = tuple(self.atom(r, node) for r in _flatten_result(result))
        return Function(self.src.name, tuple(params), Block(tuple(self.builder.stmts)), results,
                        loc_of(node, self.src), tuple(names),
                        param_locs=tuple(loc_of(a, self.src) for a in node.args.args),
                        result_tree=_tree_of(result))

    def param_value(self, path: str, spec: Any, params: list[Var]) -> Value:
        """A parameter's value: a handle, or a container whose leaves are parameters."""
        if not isinstance(spec, Tree):
            v = Var(spec, path)
            params.append(v)
            return Sym(v)
        items = tuple(self.param_value(_leaf_name(path, k), c, params)
                      for k, c in zip(spec.keys, spec.children))
        if spec.kind in ("tuple", "list"):
            return TupleVal(items)
        return Record(spec.kind, spec.keys, items)

    def body(self, node: Any) -> Value:
        self.foreign = {v.atom.id for v in self.env.values() if _is_list(v)}
        self.foreign_known = [v for v in self.env.values() if _known_list(v)]
        if isinstance(node, gast.Lambda):
            self.builder.loc = loc_of(node, self.src)
            return self.expr(node.body)
        result = self.block(node.body)
        if result is None:
            raise unsupported(node, self.src, "a function without `return`",
                              "return the value to differentiate")
        return result

    def block(self, stmts: list[Any]) -> Value | None:
        """Lower statements in order; the value returned, if the block returns."""
        stmts = self.split_loop_else(stmts)
        for i, stmt in enumerate(stmts):
            self.builder.loc = loc_of(stmt, self.src)
            if isinstance(stmt, gast.Return):
                if i != len(stmts) - 1:
                    raise unsupported(stmts[i + 1], self.src, "code after `return`",
                                      "remove the unreachable statements")
                self.stmt(stmt)
                return self.result
            if isinstance(stmt, gast.If):
                consumed, result = self.if_stmt(stmt, stmts[i + 1:])
                if consumed:
                    return result
                continue
            self.stmt(stmt)
            if isinstance(stmt, (gast.For, gast.While)) and _RETURNED in self.env:
                return self.after_returning_loop(stmt, stmts[i + 1:])
        return None

    # ---------------------------------------------------------------------- control flow

    def sub_block(self, env: dict[str, Value], lower_fn: Callable[[], Any]) -> tuple[Any, Builder, dict[str, Value]]:
        """Run `lower_fn` with a fresh builder and a copy of `env`; restore afterwards."""
        saved_env, saved_builder, saved_result = self.env, self.builder, self.result
        self.env, self.result = dict(env), None
        self.parents.append(saved_builder)
        self.builder = Builder(saved_builder.loc)
        try:
            with building(self.builder):
                out = lower_fn()
            return out, self.builder, self.env
        finally:
            self.parents.pop()
            self.env, self.builder, self.result = saved_env, saved_builder, saved_result
            self.builder.loc = saved_builder.loc

    def condition(self, test: Value, node: Any) -> Any:
        self.no_list(test, node, "a condition on")
        atom = self.operand(test, node).atom
        if isinstance(atom.type, Array):
            raise unsupported(node, self.src, "a condition on an array",
                              "use np.where(cond, a, b) for elementwise choices, or reduce "
                              "the array with np.any / np.all / a comparison of a scalar")
        return atom

    def if_stmt(self, node: Any, rest: list[Any]) -> tuple[bool, Value | None]:
        """Lower an `if`; True when it consumed `rest` (then its value is the block's)."""
        test = self.expr(node.test)
        if isinstance(test, Static):  # decided now: only the branch taken exists
            taken = list(node.body if test.value else node.orelse)
            return True, self.block(taken if _always_returns(taken) else taken + rest)
        cond = self.condition(test, node)
        branches = [list(node.body), list(node.orelse)]
        if _may_return(branches[0]) or _may_return(branches[1]):
            # Early return: the statements after the `if` run on the paths that fall through.
            branches = [b if _always_returns(b) else b + rest for b in branches]
            return True, self.fork_results(cond, [partial(self.block, b) for b in branches],
                                           node)
        self.fork(cond, [partial(self.block, b) for b in branches], node)
        return False, None

    def fork_results(self, cond: Any, paths: list[Callable[[], Value | None]], node: Any) -> Value:
        """An `if` on `cond` whose two paths each end the function: its joined result."""
        lowered = [self.sub_block(self.env, f) for f in paths]
        for result, _, _ in lowered:
            if result is None:
                raise unsupported(node, self.src, "a path through this `if` that does not "
                                  "return", "end every path with `return`")
        flat = [_flatten_result(r) for r, _, _ in lowered]
        if len(flat[0]) != len(flat[1]) or _tree_of(lowered[0][0]) != _tree_of(lowered[1][0]):
            raise TypeMismatch("the branches of this `if` return values of different "
                               "structures (numbers of values, nesting, or dict keys)",
                               loc_of(node, self.src))
        then_res = tuple(self.atom(v, node) for v in flat[0])
        else_res = tuple(self.atom(v, node) for v in flat[1])
        outs = self.emit_if(cond, lowered, then_res, else_res, ["out"] * len(then_res), node)
        tree = _tree_of(lowered[0][0])
        return _rebuild(tree, [Sym(o) for o in outs])

    def fork(self, cond: Any, paths: list[Callable[[], Any]], node: Any) -> None:
        """An `if` on `cond` running `paths[0]` or `paths[1]`; the variables they change
        become the values the `if` joins."""
        lowered = [self.sub_block(self.env, f) for f in paths]
        names = [n for n in sorted(set(lowered[0][2]) | set(lowered[1][2]))
                 if n in lowered[0][2] and n in lowered[1][2] and
                 not (lowered[0][2][n] is self.env.get(n) and lowered[1][2][n] is self.env.get(n))]
        joined: list[str] = []
        then_res_l, else_res_l = [], []
        stale: dict[str, _Stale] = {}
        for n in names:
            a, b = lowered[0][2][n], lowered[1][2][n]
            if isinstance(a, _Stale) or isinstance(b, _Stale):  # stale after the `if`
                stale[n] = a if isinstance(a, _Stale) else b
                a, b = _unstale(a), _unstale(b)
            if isinstance(a, Static) and isinstance(b, Static) and _same_static(a.value, b.value):
                self.env[n] = a
                continue
            if isinstance(a, LocalFunction) or isinstance(b, LocalFunction):
                if _same_function(a, b):  # one `def` run on both paths (a loop's trips)
                    self.env[n] = a
                    continue
                raise unsupported(node, self.src, f"`{n}`, a function defined differently on "
                                  "the two paths of this `if`",
                                  "define one function before the `if`, or give the two "
                                  "different names")
            if _is_list(a) and _known_list(b) or _is_list(b) and _known_list(a):
                k = 0 if _known_list(a) else 1  # a list the other path grew at run time
                with building(lowered[k][1]):
                    grown = self.runtime_list((a, b)[k], node, n, lowered[k][1])
                a, b = (grown, b) if k == 0 else (a, grown)
            joined.append(n)
            then_res_l.append(self.atom(a, node))
            else_res_l.append(self.atom(b, node))
        outs = self.emit_if(cond, lowered, tuple(then_res_l), tuple(else_res_l),
                            [self.hints.get(n, n) for n in joined], node)
        for n, o, a, b in zip(joined, outs, then_res_l, else_res_l):
            self.env[n] = stale[n].rewrap(Sym(o)) if n in stale else Sym(o)
            if all(self.owned_in(r, lowered[k][1]) for k, r in enumerate((a, b))):
                self.owned.add(o.id)  # an array this function made, on either path
        self.note_aliases(outs, [then_res_l, else_res_l], set(joined))

    def emit_if(self, cond: Any, lowered: list[Any], then_res: tuple[Any, ...],
                else_res: tuple[Any, ...], names: list[str], node: Any) -> tuple[Var, ...]:
        outs = tuple(Var(join_types(a.type, b.type, loc_of(node, self.src)), n)
                     for a, b, n in zip(then_res, else_res, names))
        self.builder.stmts.append(If(outs, cond, Block(tuple(lowered[0][1].stmts)), then_res,
                                     Block(tuple(lowered[1][1].stmts)), else_res,
                                     loc_of(node, self.src)))
        self.join_origins(outs, [lowered[0][1], lowered[1][1]], [then_res, else_res])
        return outs

    def join_origins(self, outs: Sequence[Var], builders: list[Builder],
                     results: list[Sequence[Any]]) -> None:
        """What each value an `if` yields may share memory with: what it does on either path;
        the same view of one array on both paths is that view of the array the `if` yields."""
        scope = [self.builder, *reversed(self.parents)]
        for k, o in enumerate(outs):
            seen = [self.origin(res[k], [b, *scope]) for b, res in zip(builders, results)]
            if seen[0] is None or seen[1] is None:
                continue
            roots = seen[0].roots | seen[1].roots
            base: Any = o
            if seen[0].exact == seen[1].exact and _same_steps(seen[0].steps, seen[1].steps):
                if seen[0].base is seen[1].base:
                    base = seen[0].base  # unchanged on both paths
                else:
                    base = next((o2 for o2, r0, r1 in zip(outs, *results)
                                 if r0 is seen[0].base and r1 is seen[1].base), None)
            if base is None:
                base = o
            self.origins[o.id] = _Origin(roots, base, seen[0].steps if base is not o else (),
                                         seen[0].exact if base is not o else True)

    def loop_carried(self, node: Any) -> list[str]:
        """Names the loop body assigns that exist before the loop: its carried values."""
        assigned = _assigned_names(node.body)
        return [n for n in sorted(assigned) if n in self.env]

    def carried_inits(self, names: list[str], node: Any) -> list[Any]:
        inits = []
        for n in names:
            v = self.env[n]
            if isinstance(v, TupleVal) or (isinstance(v, Static) and not
                                           isinstance(v.value, (int, float, np.generic))):
                raise unsupported(node, self.src, f"a loop that changes `{n}`, a "
                                  f"{_kind(v)}", "loops may update numbers and arrays")
            if _is_list(v) and v.atom.id in self.foreign:
                raise self.foreign_list(node, n)
            inits.append(self.atom(_unstale(v), node))
        return inits

    def run_loop_body(self, names: list[str], types: list[Any], bind: dict[str, Value],
                      stmts: list[Any], node: Any, extra: Callable[[], Any] | None = None,
                      exits: _Exits | None = None, inits: list[Any] | None = None
                      ) -> tuple[list[Var], Builder, list[Any], Any]:
        """Lower a loop body for carried `names` of `types`, until the types are stable.
        With `exits`, the body has `break`, `continue` or `return` (see :meth:`trip`).

        Aliasing is followed too (see :meth:`assign_element`): a name outside the loop that a
        write in the body changes (another name for the array written, or a view of it)
        is carried from then on (appended to `names` and `inits`); a carried value that is a
        view of another keeps being that view only if each trip keeps it so, and one that a
        trip leaves stale is stale at the start of each trip and after the loop
        (:attr:`loop_stale`)."""
        if inits is None:
            inits = [self.atom(_unstale(self.env[n]), node) for n in names]
        types = list(types)
        shared = [False] * len(names)  # arrays a trip appends to a list: the next one's too
        stale = {n: v for n in names if isinstance(v := self.env[n], _Stale)}
        broken: set[str] = set()             # views whose relation a trip does not keep
        grown: dict[str, frozenset[int]] = {}  # arrays a trip may leave a carried name to
        self.loop_keys -= 1
        key = self.loop_keys  # stands for the arrays a trip makes, which the next trip sees
        known = {key}
        for v in self.env.values():
            seen = self.origin(_unstale(v).atom) if isinstance(_unstale(v), Sym) else None
            known.update(seen.roots if seen is not None else ())
        retyped = 0
        for _ in range(12 + 4 * len(self.env)):
            owned = [self.is_owned(a) or not isinstance(a.type, Array) for a in inits]
            carried = [Var(t, self.hints.get(n, n)) for n, t in zip(names, types)]
            self.owned.update(c.id for c, o, s in zip(carried, owned, shared) if o and not s)
            self.numbers.update(c.id for c, a in zip(carried, inits)  # a number on trip 1
                                if not isinstance(a.type, Array))
            self.shared.update(c.id for c, s in zip(carried, shared) if s)
            self.carry_origins(names, inits, carried, broken, grown)
            env = dict(self.env)
            env.update({n: stale[n].rewrap(Sym(c)) if n in stale else Sym(c)
                        for n, c in zip(names, carried)})
            env.update(bind)

            def lower_body() -> Any:
                pre = extra() if extra is not None else None
                if exits is None:
                    self.block(stmts)
                else:
                    self.trip(stmts, exits)
                return pre
            pre, builder, env_after = self.sub_block(env, lower_body)
            results = [self.atom(_unstale(env_after[n]), node) for n in names]
            joined = [join_types(t, r.type, loc_of(node, self.src)) for t, r in zip(types, results)]
            now_shared = [s or isinstance(r, Var) and r.id in self.shared
                          for s, r in zip(shared, results)]
            scope = [builder, self.builder, *reversed(self.parents)]
            again = self.follow_trip(names, carried, results, env, env_after, bind, stale,
                                     broken, grown, known, key, scope)
            if joined == types and now_shared == shared and not again:
                self.loop_stale = {n: stale[n] for n in names if n in stale}
                return carried, builder, results, pre
            retyped += joined != types
            if retyped > 4:
                break
            types, shared = joined, now_shared
            if len(names) > len(types):  # relations and staleness found without them: redo
                broken.clear()
                stale = {n: v for n, v in stale.items() if isinstance(self.env[n], _Stale)}
            for n in names[len(types):]:  # names carried from now on
                inits.append(self.atom(env[n], node))
                types.append(inits[-1].type)
                shared.append(False)
        raise TypeMismatch("the loop's variables keep changing type", loc_of(node, self.src))

    def carry_origins(self, names: list[str], inits: list[Any], carried: list[Var],
                      broken: set[str], grown: dict[str, frozenset[int]]) -> None:
        """What each carried array may share memory with at the start of a trip: what its
        initial value does (a view of another carried value is that view of it)."""
        for n, a, c in zip(names, inits, carried):
            seen = self.origin(a)
            if seen is None:
                continue
            roots = seen.roots | grown.get(n, frozenset())
            if n in broken:
                self.origins[c.id] = _Origin(roots, c)
                continue
            base = next((c2 for a2, c2 in zip(inits, carried) if a2 is seen.base), seen.base)
            self.origins[c.id] = _Origin(roots, base, seen.steps, seen.exact)

    def follow_trip(self, names: list[str], carried: list[Var], results: list[Any],
                    env: dict[str, Value], env_after: dict[str, Value], bind: dict[str, Value],
                    stale: dict[str, _Stale], broken: set[str],
                    grown: dict[str, frozenset[int]], known: set[int], key: int,
                    scope: list[Builder]) -> bool:
        """After lowering a trip: what aliasing it showed that the next lowering must take in
        (see :meth:`run_loop_body`); True when there is any."""
        again = False
        for n, v in env.items():  # names a write changed through another name
            after = env_after.get(n)
            if n in bind or n in names or after is v or not isinstance(v, Sym) or \
                    not isinstance(v.type, Array) or not isinstance(after, (Sym, _Stale)):
                continue
            names.append(n)
            again = True
        for n in names[:len(carried)]:
            after = env_after[n]
            if isinstance(after, _Stale) and n not in stale:
                stale[n] = after
                again = True
        for n, c, r in zip(names, carried, results):
            start, seen = self.origins.get(c.id), self.origin(r, scope)
            if start is None or seen is None:
                continue
            more = (seen.roots & known) | ({key} if seen.roots - known else set())
            if not more <= start.roots:
                grown[n] = grown.get(n, frozenset()) | more
                again = True
            if n in broken or n in stale or start.base is c:
                continue
            expected = next((r2 for c2, r2 in zip(carried, results) if c2 is start.base),
                            start.base)
            if not (seen.base is expected and seen.exact == start.exact and
                    _same_steps(seen.steps, start.steps)):
                broken.add(n)
                again = True
        return again

    def bind_loop_outs(self, names: list[str], carried: Sequence[Var],
                       outs: Sequence[Any]) -> None:
        """Bind `names` to a loop's results `outs`: what they may share memory with is what
        the carried values did, and those a trip leaves stale are stale."""
        by_carried = {c.id: o for c, o in zip(carried, outs)}
        for k, (n, o) in enumerate(zip(names, outs)):
            start = self.origins.get(carried[k].id) if carried else None
            if start is not None and isinstance(o, Var):
                base = by_carried.get(start.base.id, start.base) \
                    if isinstance(start.base, Var) else start.base
                self.origins[o.id] = _Origin(start.roots, base, start.steps, start.exact)
            value = o if isinstance(o, Sym) else Sym(o)
            self.env[n] = self.loop_stale[n].rewrap(value) if n in self.loop_stale else value

    def for_stmt(self, node: Any) -> None:
        iterable = node.iter
        callee = self.expr(iterable.func) if isinstance(iterable, gast.Call) and \
            isinstance(iterable.func, gast.Name) else None
        if isinstance(callee, Static) and callee.value is range:
            bounds = [self.expr(a) for a in iterable.args]
            if all(isinstance(b, Static) for b in bounds) and self.appends_to_list(node):
                # a list grows each trip: known trip count, so the loop is unrolled
                return self.unrolled_for(node, Static(range(*[b.value for b in bounds])))
            if not 1 <= len(bounds) <= 3 or iterable.keywords:
                raise TypeMismatch("range takes 1 to 3 positional arguments", loc_of(iterable, self.src))
            if len(bounds) == 1:
                bounds = [Static(0), bounds[0]]
            if len(bounds) == 2:
                bounds.append(Static(1))
            start, stop, step = [self.int_operand(b, iterable) for b in bounds]
            element = None
            if not isinstance(node.target, gast.Name):
                raise unsupported(node.target, self.src, "unpacking in the target of a `for` "
                                  "over a range", "use a single name")
        else:
            seq = self.expr(iterable)
            if isinstance(seq, (Static, TupleVal, Record)):
                return self.unrolled_for(node, seq)
            if not (isinstance(seq, Sym) and isinstance(seq.type, (Array, ListOf))):
                raise unsupported(iterable, self.src, f"looping over a {_kind(seq)}",
                                  "loop over range(...), over the rows of an array, or over a "
                                  "tuple or list")
            if _is_list(seq) and any(_same_sym(self.env.get(n), seq)
                                     for n in _appended_names(node)):
                raise unsupported(node, self.src, "appending to the list this loop walks",
                                  "append to another list, or loop over range(len(xs)) to "
                                  "walk the items there are before the loop")
            start, stop, step = Const(0, Scalar("int64")), apply("len", seq).atom, Const(1, Scalar("int64"))
            element = seq
        if not isinstance(node.target, gast.Name):
            raise unsupported(node.target, self.src, "unpacking in the target of a `for` over "
                              "a range or an array", "loop over an index and unpack inside the "
                              "body")
        walked = self.origin(element.atom) if isinstance(element, Sym) and \
            isinstance(element.type, Array) else None
        if walked is not None:  # Python reads each row when its trip starts: see write()
            self.walking.append((walked.roots, node))
        try:
            self.grow_lists(node)
            done, exits = self.loop_exits(node, (start, stop, step, element))
            if not done:  # else lowered as a loop that can stop early
                self.loop_trips(node, (start, stop, step, element), exits)
        finally:
            if walked is not None:
                self.walking.pop()

    def loop_trips(self, node: Any, bounds: tuple[Any, Any, Any, Any], exits: Any) -> None:
        """The trips of the `for` loop `node` that cannot stop early (see :meth:`for_stmt`)."""
        start, stop, step, element = bounds
        names = self.loop_carried(node)
        inits = self.carried_inits(names, node)
        index = Var(Scalar("int64"), node.target.id if element is None else "i")

        def row() -> Any:
            if element is not None:
                self.env[node.target.id] = _element(element, Sym(index))
        carried, builder, results, _ = self.run_loop_body(
            names, [a.type for a in inits], {node.target.id: Sym(index)} if element is None else {},
            list(node.body), node, row, exits, inits)
        outs = tuple(Var(c.type, c.hint) for c in carried)
        self.owned.update(o.id for o, c in zip(outs, carried) if c.id in self.owned)
        self.builder.stmts.append(ForRange(outs, index, start, stop, step, tuple(carried),
                                           tuple(inits), Block(tuple(builder.stmts)),
                                           tuple(results), loc_of(node, self.src)))
        self.bind_loop_outs(names, carried, outs)

    def appends_to_list(self, node: Any) -> bool:
        """True when the loop appends to a list whose length is known now."""
        return any(_known_list(self.env.get(n)) for n in _appended_names(node))

    # ---------------------------------------------------------- lists grown at run time

    def grow_lists(self, node: Any) -> None:
        """Before a loop whose trip count is known only at run time: each list it appends to
        whose length is known now (``xs = []``, ``xs = [x0]``) becomes a list grown at run
        time, made here (``xs = []`` in the generated code), which the loop then carries.
        Its items must all be numbers, or all arrays of one rank."""
        for name in _appended_names(node):
            value = self.env.get(name)
            if _known_list(value) or _is_list(value):
                self.no_aliases(node, name, value)
            if not _known_list(value):
                continue
            made = self.runtime_list(value, node, name, self.builder)
            if made.type == ListOf(None):  # its items' type is known once the loop is lowered
                self.new_lists.append((len(self.builder.stmts) - 1, made.atom, name))
            for n, v in list(self.env.items()):
                if v is value:
                    self.env[n] = made

    def runtime_list(self, value: Value, node: Any, name: str, builder: Builder) -> Sym:
        """A list whose items are known now, made at run time (into `builder`)."""
        items = _items(value) or ()
        for item in items:
            if not (isinstance(item, Sym) or isinstance(item, Static) and
                    isinstance(item.value, (int, float, np.generic)) and
                    not isinstance(item.value, bool)):
                raise unsupported(node, self.src, f"a list of {_kind(item)}s grown in a loop "
                                  "whose trip count is known only at run time",
                                  "keep one list per item, of numbers or arrays")
            self.no_list(item, node, "a list holding")
        atoms = [self.atom(i, node) for i in items]
        try:
            made = apply("list_of", *atoms) if atoms else apply("list_new")
        except TypeError as exc:
            raise self.mixed_items(node, name, exc) from None
        return Sym(builder.rename_last(made.atom, name))

    def settle_lists(self, mark: int) -> None:
        """Give the empty lists made before a loop (:meth:`grow_lists`) the type of the
        items the loop appended."""
        pending, self.new_lists = self.new_lists[mark:], self.new_lists[:mark]
        for index, old, name in pending:
            now = self.env.get(name)
            stmts = self.builder.stmts
            if not (_is_list(now) and now.type.item is not None and index < len(stmts) and
                    stmts[index].outs == (old,)):
                continue
            new = Var(ListOf(now.type.item), old.hint)
            stmts[index:] = substitute(stmts[index:], {old.id: new})
            for n, v in list(self.env.items()):
                if isinstance(v, Sym) and v.atom is old:
                    self.env[n] = Sym(new)

    def append_to(self, name: str, current: Sym, call: Any) -> None:
        """``xs.append(v)`` on a list grown at run time: its next version, for every name
        bound to it."""
        if current.atom.id in self.foreign:
            raise self.foreign_list(call, name)
        if current.atom.id in self.aliased:
            self.no_aliases(call, name, current)
        value = self.expr(call.args[0])
        if not (isinstance(value, Sym) or isinstance(value, Static) and
                isinstance(value.value, (int, float, np.generic))):
            raise unsupported(call, self.src, f"appending a {_kind(value)} to a list grown at "
                              "run time", "append numbers or arrays, and keep one list per item")
        self.no_list(value, call, "appending")
        item = self.operand(value, call)
        try:
            grown = apply("list_append", current, item)
        except TypeError as exc:
            raise self.mixed_items(call, name, exc) from None
        if isinstance(item.type, Array) and isinstance(item.atom, Var):
            self.shared.add(item.atom.id)  # writing into it now would change the list's item
            seen = self.origin(item.atom)
            if seen is not None and (seen.steps or seen.base is not item.atom):
                self.shared_roots.update(seen.roots)  # a view: writing into its array too
        grown = Sym(self.builder.rename_last(grown.atom, name))
        for n, v in list(self.env.items()):
            if _same_sym(v, current):
                self.env[n] = grown  # every name bound to the list sees the change
            elif isinstance(v, (TupleVal, Record)) and _holds(v, current.atom):
                raise unsupported(call, self.src, f"appending to a list that `{n}` also holds",
                                  "append before putting the list in a tuple or dict")

    def note_aliases(self, outs: Sequence[Var], results: list[Sequence[Any]],
                     rebound: set[str]) -> None:
        """A list an `if` yields that other names still hold: changing it in place later
        would change them too, which single assignment cannot follow (see append_to)."""
        for k, o in enumerate(outs):
            if not isinstance(o.type, ListOf):
                continue
            for r in (res[k] for res in results):
                if any(m not in rebound and isinstance(v, Sym) and v.atom is r
                       for m, v in self.env.items()):
                    self.aliased.update((o.id, r.id))

    def no_aliases(self, node: Any, name: str, value: Value) -> None:
        """Raise when the list `name` holds, which is about to change, has other names."""
        others = sorted(m for m, v in self.env.items() if m != name and not m.startswith(".")
                        and (v is value or _same_sym(v, value)))
        if others or _is_list(value) and value.atom.id in self.aliased:
            also = f" (`{others[0]}`)" if others else ""
            raise unsupported(node, self.src, f"appending to `{name}`, a list another name "
                              f"may hold{also}", "keep one name for a list you append to")

    def mixed_items(self, node: Any, name: str, exc: TypeError) -> UnsupportedSyntax:
        return unsupported(node, self.src, f"a list grown at run time whose items change type "
                           f"(`{name}` gets {plain(str(exc))})", "append values of one kind: all numbers, "
                           "or all arrays of one rank")

    def foreign_list(self, node: Any, name: str,
                     kind: str = " grown at run time") -> UnsupportedSyntax:
        return unsupported(node, self.src, f"appending to `{name}`, a list{kind} that the "
                           "calling function made", "append where the list is made, and "
                           "return the new items from this function")

    def no_list(self, value: Value, node: Any, what: str) -> None:
        """Raise when `value` is a list grown at run time, which `what` cannot take."""
        if _is_list(value):
            raise unsupported(node, self.src, f"{what} a list grown at run time",
                              "convert it first with np.array(xs) or np.stack(xs), or use its "
                              "items: xs[i], for x in xs, len(xs), sum(xs)")

    def list_item(self, base: Sym, node: Any) -> Value:
        """``xs[i]`` of a list grown at run time, for an integer i (negative counts from the
        end)."""
        if isinstance(node.slice, gast.Slice):
            raise unsupported(node, self.src, "slicing a list grown at run time",
                              "slice the stacked array, np.stack(xs)[a:b], or index the items "
                              "one at a time")
        index = self.expr(node.slice)
        atom = self.operand(index, node).atom if isinstance(index, (Sym, Static)) else None
        if atom is None or not (isinstance(atom.type, Scalar) and atom.type.dtype == "int64"):
            raise unsupported(node, self.src, f"indexing a list grown at run time with a "
                              f"{_kind(index)}", "index it with an integer")
        return apply("list_getitem", base, atom)

    def list_call(self, obj: Any, args: list[Value], kwargs: dict[str, Value],
                  node: Any) -> Value | None:
        """A call that passes a list grown at run time: ``len(xs)``, ``sum(xs)``,
        ``np.stack(xs)``, ``np.array(xs)``, and any NumPy function (on ``np.array(xs)``, as
        NumPy itself converts it).  None for a function of the user's, inlined as usual."""
        name = getattr(obj, "__name__", repr(obj))
        if obj is len and len(args) == 1 and not kwargs:
            return apply("len", args[0])
        if obj is sum and 1 <= len(args) <= 2 and not kwargs and _is_list(args[0]) and \
                not (len(args) == 2 and _is_list(args[1])):
            total = apply("list_sum", args[0])
            return total if len(args) == 1 else self.binop(gast.Add(), args[1], total, node)
        if obj in (np.stack, np.array, np.asarray) and len(args) == 1 and not kwargs:
            return apply("list_stack", args[0], how="stack" if obj is np.stack else "array")
        if any(obj is f for f in _SEQUENCE_FUNCTIONS):
            raise unsupported(node, self.src, f"passing a list grown at run time to "
                              f"np.{name}" + (" with options" if obj is np.stack else ""),
                              "np.stack(xs) makes one array of the items: reshape or "
                              "transpose that")
        module = getattr(obj, "__module__", None) or ""
        if (module == "numpy" or module.startswith("numpy.")) and surface_of(obj) is not None:
            def array(v: Value) -> Value:
                return apply("list_stack", v, how="array") if _is_list(v) else v
            return self.call(obj, [array(a) for a in args],
                             {k: array(v) for k, v in kwargs.items()}, node)
        target = unwrap(obj)
        if getattr(obj, "__s2sad_dispatcher__", None) is None and callable(target) and \
                hasattr(target, "__code__") and not is_library(target):
            return None
        hints = ((zip, "loop over range(len(xs)) and index the lists"),
                 (enumerate, "loop over range(len(xs)) and index it: xs[i]"),
                 (max, "np.max(np.array(xs))"), (min, "np.min(np.array(xs))"))
        hint = next((h for f, h in hints if obj is f), "convert it first: np.array(xs)")
        raise unsupported(node, self.src, f"passing a list grown at run time to {name}", hint)

    def unrolled_for(self, node: Any, seq: Value) -> None:
        items = _items(seq)
        if items is None and isinstance(seq, Static) and isinstance(seq.value, str):
            items = tuple(Static(c) for c in seq.value)  # a constant string: its characters
        if items is None:
            raise unsupported(node.iter, self.src, f"looping over a {_kind(seq)}",
                              "loop over range(...), over the rows of an array, or over a "
                              "tuple or list")
        exits = _exits(node.body)
        if not exits & {"break", "return"}:  # trips one after the other; `continue` skips
            ex = _Exits(None, unrolled=True)  # the rest of one
            for item in items:
                self.assign(node.target, item)
                self.trip(list(node.body), ex) if exits else self.block(list(node.body))
            return
        if "return" in exits:
            # As in a loop that can stop early: `returned` and the values returned, set by a
            # `return` and tested after the loop.  Lowering the trips once first tells
            # whether a `return` can happen, and the types of what it returns.
            probe, _, _ = self.sub_block(self.env, lambda: self.unrolled_trips(node, items))
            if "return" in probe.hits:
                types = probe.ret_types[0]
                for more in probe.ret_types[1:]:
                    types = [join_types(a, b, loc_of(node, self.src)) for a, b in zip(types, more)]
                self.hints[_RETURNED] = "returned"
                self.env.setdefault(_RETURNED, Static(False))
                for k, t in enumerate(types):
                    self.hints[_ret_slot(k)] = "ret" if len(types) == 1 else f"ret{k}"
                    self.env.setdefault(_ret_slot(k), Sym(_unset(t)))
        self.unrolled_trips(node, items)

    def unrolled_trips(self, node: Any, items: tuple[Value, ...]) -> _Exits:
        """The trips of a loop over a tuple or list that `break` or `return` can stop: each
        trip, and on the paths through it that go on, the next ones."""
        ex = _Exits(None, unrolled=True)

        def run(k: int) -> None:
            if k == len(items):
                return
            saved, ex.advance = ex.advance, lambda: run(k + 1)
            try:
                self.assign(node.target, items[k])
                self.trip(list(node.body), ex)
            finally:
                ex.advance = saved
        run(0)
        return ex

    def int_operand(self, value: Value, node: Any) -> Any:
        atom = self.operand(value, node).atom
        if not (isinstance(atom.type, Scalar) and atom.type.dtype in ("int64", "bool")):
            raise TypeMismatch(f"range() needs integers, not {atom.type}", loc_of(node, self.src))
        return atom

    # ---------------------------------------------------------------- loops with exits

    def split_loop_else(self, stmts: list[Any]) -> list[Any]:
        """`stmts` with each ``for``/``while ... else`` written as the loop, then its `else`
        part, which runs when the loop ends without `break`.

        A loop with no `break` of its own is followed by the `else` part as it is.  Otherwise
        a flag, `broke`, is False before the loop and True at each of its `break`s, and the
        `else` part runs under ``if not broke:``.  Statements lowered after the loop (and a
        `return` inside the loop, which skips them) treat the `else` part like them, so a
        `break`, `continue` or `return` in it acts on the code around the loop, as in Python.
        """
        if not any(isinstance(s, (gast.For, gast.While)) and s.orelse for s in stmts):
            return stmts
        out: list[Any] = []
        for stmt in stmts:
            if not (isinstance(stmt, (gast.For, gast.While)) and stmt.orelse):
                out.append(stmt)
                continue
            loop = copy.copy(stmt)
            loop.orelse = []
            if "break" not in _exits(stmt.body):  # (its else part may hold loops with else)
                out.extend([loop, *self.split_loop_else(list(stmt.orelse))])
                continue
            self.else_flags += 1
            flag = f".broke{self.else_flags}"
            self.hints[flag] = "broke"
            loop.body = _flag_breaks(list(stmt.body), flag)
            out.append(_located(gast.Assign([_flag_name(flag, gast.Store())],
                                            gast.Constant(False, None), None), stmt))
            out.append(loop)
            out.append(_located(gast.If(_flag_name(flag, gast.Load()), [gast.Pass()],
                                        list(stmt.orelse)), stmt))
        return out

    def loop_exits(self, node: Any, rng: tuple[Any, Any, Any, Any] | None
                   ) -> tuple[bool, _Exits | None]:
        """For a loop with `break`, `continue` or `return` (`rng`: the start, stop and step
        of a `for` and the array it walks, None for a `while`).

        Whether an exit can happen at all is found by lowering the body once first (one
        behind a test known now may not).  A loop whose trips can only `continue` keeps its
        form: the :class:`_Exits` returned tells the caller to lower its body with
        :meth:`trip` (None: the loop has no exits).  One that can stop early is lowered here
        (:meth:`stopping_loop`), and the first item returned, `done`, is True.
        """
        if not _exits(node.body):
            return False, None
        probe, _, _ = self.sub_block(self.env, lambda: self.stopping_loop(node, rng, None))
        if not probe.hits & {"break", "return"}:
            return False, _Exits(None)
        ret_types = None
        if "return" in probe.hits:
            ret_types = probe.ret_types[0]
            for more in probe.ret_types[1:]:
                ret_types = [join_types(a, b, loc_of(node, self.src))
                             for a, b in zip(ret_types, more)]
        self.stopping_loop(node, rng, ret_types)
        return True, None

    def stopping_loop(self, node: Any, rng: tuple[Any, Any, Any, Any] | None,
                      ret_types: list[Any] | None) -> _Exits:
        """A loop that `break` or `return` can stop: ``while going:``, carrying the flag
        `going`, which is the loop's test (``i < n`` for a `for` over a range, with the index
        `i` carried), recomputed at the end of each trip that goes on, and False after a
        `break`.  A `return` sets it too, with `returned` and the values returned (carried
        when `ret_types` says what they are), which the code after the loop tests.
        """
        self.exit_level += 1
        try:
            level = self.exit_level
            going, count = f".going{level}", f".count{level}"
            ex = _Exits(going)
            flags: dict[str, Value] = {}
            self.builder.loc = loc_of(node, self.src)
            if rng is not None:
                start, stop, step, element = rng
                target = node.target.id
                self.hints[count] = target if element is None else "i"
                flags[count] = Sym(start)
                first = self.range_test(Sym(start), stop, step, node)
            else:
                first = self.loop_test(node)
            if isinstance(first, Static) and not first.value:
                return ex  # the loop never runs
            self.hints[going] = "going"
            flags[going] = first
            if ret_types is not None:
                self.hints[_RETURNED] = "returned"
                flags[_RETURNED] = self.env.get(_RETURNED, Static(False))
                for k, t in enumerate(ret_types):
                    self.hints[_ret_slot(k)] = "ret" if len(ret_types) == 1 else f"ret{k}"
                    flags[_ret_slot(k)] = self.env.get(_ret_slot(k), Sym(_unset(t)))
            self.env.update(flags)
            names = self.loop_carried(node) + list(flags)
            inits = self.carried_inits(names, node)

            def start_trip() -> None:
                if rng is None:
                    return
                index = self.env[count]
                if element is None:
                    self.env[target] = index
                else:
                    self.env[target] = _element(element, index)

            def advance() -> None:
                self.builder.loc = loc_of(node, self.src)
                if rng is None:
                    self.env[going] = self.loop_test(node)
                    return
                nxt = apply("add", self.env[count], Sym(step))
                self.env[count] = Sym(self.builder.rename_last(nxt.atom, self.hints[count]))
                self.env[going] = self.range_test(self.env[count], stop, step, node)
            ex.advance = advance
            carried, builder, results, _ = self.run_loop_body(
                names, [a.type for a in inits], {}, list(node.body), node, start_trip, ex, inits)
            inits = [_unset(c.type) if isinstance(i, Const) and n.startswith(".ret") else i
                     for n, i, c in zip(names, inits, carried)]
            last = results[names.index(going)]
            if isinstance(first, Static) and isinstance(last, Const) and last.value is False:
                # every trip stops the loop, and the first one runs: it is its body, once
                once = {c.id: i for c, i in zip(carried, inits)}
                self.builder.stmts.extend(substitute(builder.stmts, once))  # type: ignore[arg-type]
                self.bind_loop_outs(names, [], [once.get(r.id, r) if isinstance(r, Var) else r
                                                for r in results])
                for n in (going, count):
                    self.env.pop(n, None)
                return ex
            outs = tuple(Var(c.type, c.hint) for c in carried)
            self.owned.update(o.id for o, c in zip(outs, carried) if c.id in self.owned)
            test = carried[names.index(going)]
            self.builder.stmts.append(While(outs, tuple(carried), tuple(inits), Block(()), test,
                                            Block(tuple(builder.stmts)), tuple(results),
                                            loc_of(node, self.src)))
            self.bind_loop_outs(names, carried, outs)
            for n in (going, count):
                self.env.pop(n, None)
            if rng is None and _known_true(first) and "break" not in ex.hits and \
                    ret_types is not None:
                self.env[_RETURNED] = Static(True)  # `while True:` left only by `return`
            return ex
        finally:
            self.exit_level -= 1

    def loop_test(self, node: Any) -> Value:
        """The test of a `while`: a bool handle, or a Static when known now."""
        test = self.expr(node.test)
        if isinstance(test, Static):
            return Static(bool(test.value))
        return Sym(self.condition(test, node.test))

    def range_test(self, index: Value, stop: Any, step: Any, node: Any) -> Value:
        """Whether a `for` over range(start, stop, step) runs a trip with `index`."""
        def cmp(name: str) -> Value:
            if isinstance(index, Sym) and isinstance(index.atom, Const) and isinstance(stop, Const):
                op = operator.lt if name == "lt" else operator.gt
                return Static(op(index.atom.value, stop.value))
            return apply(name, self.operand(index, node), Sym(stop))
        if isinstance(step, Const):
            return cmp("lt" if step.value > 0 else "gt")
        up = apply("gt", Sym(step), Sym(Const(0, Scalar("int64")))).atom
        return self.choose(up, lambda: cmp("lt"), lambda: cmp("gt"), node)

    def trip(self, stmts: list[Any], ex: _Exits) -> None:
        """Lower `stmts`, the rest of one trip of a loop with exits, to the trip's end.

        Each path through the trip ends at a `break`, `continue` or `return`, or at the end
        of the body (:meth:`leave`).  As for an early `return` out of the function, the
        statements after an `if` that may leave the trip run on the paths that fall through
        its branches, so nothing needs a flag to skip them.
        """
        stmts = self.split_loop_else(stmts)
        for i, stmt in enumerate(stmts):
            self.builder.loc = loc_of(stmt, self.src)
            rest = stmts[i + 1:]
            if isinstance(stmt, (gast.Break, gast.Continue, gast.Return)):
                if rest:
                    raise unsupported(rest[0], self.src, "code after "
                                      f"`{type(stmt).__name__.lower()}`",
                                      "remove the unreachable statements")
                self.leave(stmt, ex)
                return
            if isinstance(stmt, gast.If) and _exits([stmt]):
                test = self.expr(stmt.test)
                if isinstance(test, Static):
                    taken = list(stmt.body if test.value else stmt.orelse)
                    self.trip(taken if _always_exits(taken) else taken + rest, ex)
                    return
                cond = self.condition(test, stmt)
                branches = [b if _always_exits(b) else b + rest
                            for b in (list(stmt.body), list(stmt.orelse))]
                self.fork(cond, [partial(self.trip, b, ex) for b in branches], stmt)
                return
            if isinstance(stmt, gast.If):
                self.if_stmt(stmt, [])
                continue
            self.stmt(stmt)
            returned = self.env.get(_RETURNED)
            if isinstance(stmt, (gast.For, gast.While)) and _known_true(returned):
                self.leave(None, ex, passing=True)  # it always returns: `rest` never runs
                return
            if isinstance(stmt, (gast.For, gast.While)) and isinstance(returned, Sym) and \
                    "return" in _exits([stmt]):
                # a `return` in the inner loop leaves this loop too
                self.fork(returned.atom, [partial(self.leave, None, ex, passing=True),
                                          partial(self.trip, rest, ex)], stmt)
                return
        self.leave(None, ex)

    def leave(self, stmt: Any, ex: _Exits, passing: bool = False) -> None:
        """End a path through a trip: at `stmt` (a `break`, `continue` or `return`), at the
        end of the body (None), or `passing` on a `return` from an inner loop."""
        kind = "return" if passing else "next" if stmt is None else type(stmt).__name__.lower()
        ex.hits.add(kind)
        if kind in ("next", "continue"):
            if ex.advance is not None:
                ex.advance()
            return
        if ex.unrolled and kind == "break":
            return  # the trips after this one are not lowered on this path
        if ex.going is None and not ex.unrolled:  # the probe of the loop found no such exit
            raise unsupported(stmt, self.src, f"`{kind}` behind a test whose outcome depends "
                              "on the types the loop's variables take", "restructure the loop")
        if ex.going is not None:
            self.env[ex.going] = Static(False)
        if kind == "break":
            return
        if not passing:
            if stmt.value is None:
                raise unsupported(stmt, self.src, "`return` without a value",
                                  "return the value to differentiate")
            value = self.expr(stmt.value)
            tree, flat = _tree_of(value), _flatten_result(value)
            if self.ret_tree is MISSING:
                self.ret_tree = (tree, len(flat))
            elif self.ret_tree != (tree, len(flat)):
                raise TypeMismatch("the `return` statements inside this loop return values "
                                   "of different structures (numbers of values, nesting, or "
                                   "dict keys)", loc_of(stmt, self.src))
            for k, v in enumerate(flat):
                self.env[_ret_slot(k)] = Sym(self.atom(v, stmt))
            self.env[_RETURNED] = Static(True)
        n = self.ret_tree[1] if self.ret_tree is not MISSING else 0
        if all(_ret_slot(k) in self.env for k in range(n)):
            ex.ret_types.append([self.atom(self.env[_ret_slot(k)], stmt).type
                                 for k in range(n)])

    def after_returning_loop(self, node: Any, rest: list[Any]) -> Value:
        """The function's value after a loop that may `return`: what it returned, or what
        the statements after it do."""
        tree, n = self.ret_tree
        values = [self.env.pop(_ret_slot(k)) for k in range(n)]
        returned = self.env.pop(_RETURNED)
        if _known_true(returned):  # the loop always returns: `rest` never runs
            return _rebuild(tree, values)
        if isinstance(returned, Static):  # it never returns
            return self.block(rest)
        return self.fork_results(returned.atom, [lambda: _rebuild(tree, values),
                                                 lambda: self.block(rest)], node)

    def while_stmt(self, node: Any) -> None:
        self.grow_lists(node)
        done, exits = self.loop_exits(node, None)
        if done:
            return  # lowered as a loop that can stop early
        names = self.loop_carried(node)
        inits = self.carried_inits(names, node)
        types = [a.type for a in inits]
        for _ in range(4):
            carried, builder, results, _ = self.run_loop_body(names, types, {}, list(node.body), node,
                                                              exits=exits, inits=inits)
            if [c.type for c in carried] == types:
                break
            types = [c.type for c in carried]
        env = dict(self.env)
        env.update({n: self.loop_stale[n].rewrap(Sym(c)) if n in self.loop_stale else Sym(c)
                    for n, c in zip(names, carried)})
        stale = self.loop_stale
        test, cond_builder, _ = self.sub_block(env, lambda: self.expr(node.test))
        if isinstance(test, Static):
            raise unsupported(node.test, self.src, "a `while` whose condition does not change",
                              "make the condition depend on a variable the loop updates")
        with building(cond_builder):
            saved = self.builder
            self.builder = cond_builder
            cond = self.condition(test, node.test)
            self.builder = saved
        outs = tuple(Var(c.type, c.hint) for c in carried)
        self.owned.update(o.id for o, c in zip(outs, carried) if c.id in self.owned)
        self.builder.stmts.append(While(outs, tuple(carried), tuple(inits),
                                        Block(tuple(cond_builder.stmts)), cond,
                                        Block(tuple(builder.stmts)), tuple(results),
                                        loc_of(node, self.src)))
        self.loop_stale = stale
        self.bind_loop_outs(names, carried, outs)

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
            if isinstance(node.target, gast.Subscript):  # x[i] += v
                current = self.expr_Subscript(node.target)
                self.assign(node.target, self.binop(node.op, current, self.expr(node.value), node))
            elif isinstance(node.target, gast.Name):
                current = self.name(node.target)
                result = self.binop(node.op, current, self.expr(node.value), node)
                if isinstance(current, Sym) and isinstance(current.type, Array):
                    self.in_place(node, current, result)  # NumPy writes into the array
                else:
                    self.assign(node.target, result)  # numbers rebind, as in Python
            else:
                raise unsupported(node.target, self.src, "augmented assignment to an attribute",
                                  "assign to a local name")
        elif isinstance(node, gast.With):
            self.with_stmt(node)
        elif isinstance(node, gast.FunctionDef):
            self.env[node.name] = LocalFunction(node, tuple(self.expr(d)
                                                            for d in node.args.defaults))
        elif isinstance(node, gast.Expr) and isinstance(node.value, gast.Call) and \
                isinstance(node.value.func, gast.Attribute) and \
                node.value.func.attr == "append" and isinstance(node.value.func.value, gast.Name):
            self.append(node.value)
        elif isinstance(node, gast.Expr) and isinstance(node.value, gast.Call) and \
                (any(k.arg == "out" for k in node.value.keywords) or
                 self.user_function(node.value.func)):
            self.expr(node.value)  # np.add(a, b, out=c), fill(buf): writes, followed
        elif isinstance(node, gast.Expr) and isinstance(node.value, gast.Call) and \
                isinstance(node.value.func, gast.Name) and \
                self.expr(node.value.func) in (Static(print), Static(breakpoint)):
            self.expr(node.value)  # print / breakpoint: kept where they are, for debugging
        elif isinstance(node, gast.Expr):
            if not (isinstance(node.value, gast.Constant) and isinstance(node.value.value, str)):
                raise unsupported(node, self.src, "an expression statement whose value is unused",
                                  "assign the value, or remove the statement (calls made only "
                                  "for their side effects are not differentiated)")
        elif isinstance(node, gast.Pass):
            pass
        elif isinstance(node, (gast.For, gast.While)):
            mark = len(self.new_lists)
            self.for_stmt(node) if isinstance(node, gast.For) else self.while_stmt(node)
            self.settle_lists(mark)
        else:
            raise unsupported(node, self.src, f"`{type(node).__name__.lower()}` here",
                              "see the supported subset in README")

    def user_function(self, func: Any) -> bool:
        """True when `func` names a Python function s2sad inlines (its writes into arrays
        are followed, so calling it for them is fine)."""
        if not isinstance(func, (gast.Name, gast.Attribute)):
            return False
        callee = self.expr(func)
        if isinstance(callee, LocalFunction):
            return True
        target = unwrap(callee.value) if isinstance(callee, Static) else None
        return inspect.isfunction(target) and not is_library(target) and \
            getattr(target, "__s2sad_dispatcher__", None) is None

    def with_stmt(self, node: Any) -> None:
        """``with s2sad.grad_of(h) as g: <body>``: a backward-pass hook on h (see
        :class:`s2sad.runtime.grad_of`); later code reads h through the hook."""
        item = node.items[0] if len(node.items) == 1 else None
        call = item.context_expr if item is not None else None
        if not (isinstance(call, gast.Call) and len(call.args) == 1 and not call.keywords and
                self.expr(call.func) == Static(grad_of) and
                isinstance(call.args[0], gast.Name) and isinstance(item.optional_vars, gast.Name)):
            raise unsupported(node, self.src, "`with` statements",
                              "only `with s2sad.grad_of(x) as g:` is differentiated; compute "
                              "other values outside the function and pass them in")
        name, g_name = call.args[0].id, item.optional_vars.id
        h = self.name(call.args[0])
        if not (isinstance(h, Sym) and is_float(h.type)):
            raise unsupported(node, self.src, f"a gradient hook on `{name}`, a {_kind(h)}",
                              "hook float values and arrays")
        extra = _assigned_names(node.body) - {g_name}
        if extra:
            raise unsupported(node, self.src, f"assigning {', '.join(sorted(extra))} in a "
                              "gradient hook", f"a hook may only assign `{g_name}`")
        g = Var(h.type, g_name)
        env = dict(self.env)
        env[g_name] = Sym(g)
        returned, builder, env_after = self.sub_block(env, lambda: self.block(list(node.body)))
        if returned is not None:
            raise unsupported(node, self.src, "`return` in a gradient hook", "end the hook "
                              "with the new value of its gradient")
        result = self.atom(env_after[g_name], node)
        body = Function("hook", (g,), Block(tuple(builder.stmts)), (result,),
                        loc_of(node, self.src), (g_name,))
        hooked = apply("hook", h, body=body)
        self.env[name] = Sym(self.builder.rename_last(hooked.atom, name))

    def assign(self, target: Any, value: Value) -> None:
        if isinstance(target, gast.Name):
            if isinstance(value, Sym):
                old = value.atom
                value = Sym(self.builder.rename_last(old, target.id))
                seen = self.origins.get(old.id) if value.atom is not old else None
                if seen is not None:  # an `if`'s value, renamed
                    self.origins[value.atom.id] = dataclasses.replace(
                        seen, base=value.atom if seen.base is old else seen.base)
            self.env[target.id] = value
        elif isinstance(target, (gast.Tuple, gast.List)):
            value = self.name_results(target, value)
            items = self.unpack(value, len(target.elts), target)
            for t, v in zip(target.elts, items):
                self.assign(t, v)
        elif isinstance(target, gast.Subscript):
            self.assign_element(target, value)
        else:
            raise unsupported(target, self.src, "assignment to an attribute",
                              "assign to a local name")

    def name_results(self, target: Any, value: Value) -> Value:
        """``w, v = np.linalg.eigh(a)``: the results of the newest equation take the user's
        names, when they have none yet (named in place, so whatever else holds them, such
        as another tuple of the same results, reads the same variables)."""
        stmts = self.builder.stmts
        if not (isinstance(value, TupleVal) and stmts and isinstance(stmts[-1], Eqn)) or \
                any(v is value for v in self.env.values()):
            return value
        last = stmts[-1]
        atoms = tuple(i.atom if isinstance(i, Sym) else None for i in value.items)
        if atoms != last.outs or any(v.hint for v in last.outs) or \
                len(target.elts) != len(atoms):
            return value
        for v, t in zip(last.outs, target.elts):
            if isinstance(t, gast.Name):
                name_var(v, t.id)
        return value

    def assign_element(self, target: Any, value: Value) -> None:
        """``x[idx] = v``: x becomes a copy with those slots replaced (in place in the
        generated code when nothing else refers to x), for every name bound to x."""
        if not isinstance(target.value, gast.Name):
            raise unsupported(target, self.src, "assignment into a nested element",
                              "index a local name: y = x[i]; y[j] = v; x[i] = y")
        base = self.name(target.value)
        if not (isinstance(base, Sym) and isinstance(base.type, Array)):
            raise unsupported(target, self.src, f"assignment into a {_kind(base)}",
                              "assign into NumPy arrays the function created")
        dyn: list[Any] = []
        spec = self.index_spec(target.slice, dyn)
        self.write(target.value.id, base, target,
                   lambda old: apply("setitem", old, self.operand(value, target), *dyn,
                                     spec=spec))

    def in_place(self, node: Any, current: Sym, result: Value) -> None:
        """``a += e`` (any augmented operator) on an array: NumPy writes the result into a
        (see :meth:`write_all`)."""
        op = _OP_TEXT.get(_BINOPS[type(node.op)][0], "?")
        self.write_all(node.target, current, self.operand(result, node), node,
                       f"`{node.target.id} {op}= ...`",
                       f"make a new array: {node.target.id} = {node.target.id} {op} ...")

    def write_all(self, target: Any, current: Sym, r: Sym, node: Any, what: str,
                  hint: str) -> None:
        """Write `r` into all of the array `current`, the name `target` (``a += e``,
        ``np.add(a, b, out=a)``), keeping its shape and dtype as NumPy does; every other name
        for the array (or view of it) sees the new contents.  When nothing else can see the
        array, the generated code simply rebinds the name."""
        name, t, rt_ = target.id, current.type, r.type
        if isinstance(rt_, (Array, Scalar)) and is_float(rt_) and not is_float(t):
            raise unsupported(node, self.src, f"{what} on a {t.dtype} array with a "
                              f"{rt_.dtype} result (NumPy cannot cast it into `{name}`)", hint)
        if not isinstance(rt_, (Array, Scalar)):
            raise unsupported(node, self.src, f"{what} with a {_kind(r)} result", hint)
        ones = rt_.ones if isinstance(rt_, Array) else ()
        if t.ones is not None and ones is not None and (
                len(ones) > len(t.ones) or
                any(a is True and b is False for a, b in zip(t.ones[::-1], ones[::-1]))):
            raise unsupported(node, self.src, f"{what} whose result has a larger shape than "
                              f"`{name}` ({rt_} into {t}): NumPy cannot broadcast it into "
                              f"`{name}`", hint)
        exact = isinstance(rt_, Array) and rt_.dtype == t.dtype and t.ones is not None and \
            rt_.ones is not None and len(rt_.ones) == len(t.ones) and \
            all(a is not None for a in t.ones)
        number = current.atom.id in self.numbers  # s = 0.0; for ...: s += row
        if (exact or number) and self.unshared(current):
            self.assign(target, r)  # nothing else sees the array: rebind it
            return
        if number:
            raise unsupported(node, self.src, f"{what} in a loop where `{name}` is a number "
                              "before the first trip and an array another name holds after "
                              "it (Python rebinds it on the first trip, NumPy writes into it "
                              "on the others)", f"start with an array: {name} = np.zeros(...)")
        seen = self.origin(current.atom)
        # into a slice of another array: the slice assignment checks the shape and casts
        sliced = seen is not None and bool(seen.steps) and seen.steps[-1].prim == "getitem"
        self.write(name, current, node, lambda old: r if (exact or sliced) and
                   old.atom is current.atom else apply("setitem", old, r, spec=(Ellipsis,)))

    def call_out(self, obj: Any, args: list[Value], kwargs: dict[str, Value],
                 node: Any) -> Value:
        """``np.add(a, b, out=c)``: the result written into c (see :meth:`write_all`), and
        the call's value is c, as in NumPy."""
        kwargs = dict(kwargs)
        out = kwargs.pop("out")
        if isinstance(out, TupleVal) and len(out.items) == 1:
            out = out.items[0]
        if isinstance(out, Static) and out.value is None:
            return self.call(obj, args, kwargs, node)
        kw = next((k.value for k in node.keywords if k.arg == "out"), None)
        if isinstance(kw, gast.Tuple) and len(kw.elts) == 1:
            kw = kw.elts[0]
        what = f"`out=` of {getattr(obj, '__name__', 'this call')}"
        if not (isinstance(kw, gast.Name) and isinstance(out, Sym) and
                isinstance(out.type, Array)):
            raise unsupported(node, self.src, f"{what} that is not a named array",
                              "name the array first: buf = ...; np.add(a, b, out=buf)")
        result = self.call(obj, args, kwargs, node)
        if not isinstance(result, Sym):
            raise unsupported(node, self.src, f"{what} with a {_kind(result)} result",
                              f"assign the result: {kw.id} = ...")
        self.write_all(kw, out, result, node, what, f"assign the result: {kw.id} = ...")
        return self.name(kw)

    def unshared(self, value: Sym) -> bool:
        """True when `value` is an array this function made that no other name, container,
        list or calling function can see (writing into it is rebinding it)."""
        atom = value.atom
        if not self.is_owned(atom) or atom.id in self.shared:
            return False
        seen = self.origin(atom)
        if seen is None or seen.steps or seen.roots & (self.shared_roots | self.outer_roots):
            return False
        if any(seen.roots & roots for roots, _ in self.walking):
            return False  # a loop walks its rows (write() says why that is refused)
        count = 0
        for v in self.env.values():
            if isinstance(v, (TupleVal, Record)) and self.holds_view(v, value, seen):
                return False
            v = _unstale(v)
            if isinstance(v, Sym):
                other = self.origin(v.atom)
                if v.atom is atom:
                    count += 1
                elif other is not None and other.roots & seen.roots:
                    return False
        return count <= 1

    def write(self, label: str, base: Sym, node: Any, content: Callable[[Sym], Sym]) -> None:
        """Write into the array `base` (the user's name `label`): its new contents are
        `content(base)`.  Every name bound to the array, and every view of it, sees the new
        version; a write into a view goes to the array it views (see :meth:`write_back`)."""
        if base.atom.id in self.shared:
            raise unsupported(node, self.src, f"writing into `{label}`, an array "
                              "a list holds (it was appended): the list would change too",
                              f"append a copy: xs.append({label}.copy())")
        written = self.origin(base.atom)
        if written is None:  # not reached: an array has an origin
            written = _Origin(frozenset({base.atom.id}), base.atom)
        for roots, loop in self.walking:
            if written.roots & roots:
                raise unsupported(node, self.src, f"writing into `{label}` (or a view of it) "
                                  f"while the loop at line {loc_of(loop, self.src).line} walks "
                                  "its rows: Python's later rows would see the write",
                                  "loop over range(len(...)) and index the rows, or walk a "
                                  "copy: for row in x.copy():")
        outer = bool(written.roots & self.outer_roots)
        if outer and (self.outer_writes is None or len(self.parents) != self.top):
            raise unsupported(node, self.src, f"writing into `{label}`, an array the calling "
                              "function passed in or encloses (or a view of it), inside a "
                              "loop or branch of the called function",
                              f"make a copy first: {label} = {label}.copy(), and return the "
                              "new value; or write at the top level of the function")
        view = bool(written.steps)
        if not (self.is_owned(written.base) if view else self.is_owned(base.atom)) or \
                view and not (written.exact and all(s.prim in _WRITABLE_VIEWS
                                                    for s in written.steps)):
            raise unsupported(node, self.src, f"writing into `{label}`, an array this "
                              "function did not create (an argument, a global, or a view "
                              "s2sad cannot write through: a reshape, ravel, diagonal or "
                              "broadcast): the caller would see the change",
                              f"make a copy first: {label} = {label}.copy()")
        if written.roots & self.shared_roots:
            raise unsupported(node, self.src, f"writing into `{label}`, an array "
                              "a list holds a view of (it was appended): the list would "
                              "change too", "append a copy: xs.append(view.copy())")
        if view:
            new = self.write_back(written.base, written.steps, content(base))
            holder = next((n for n, v in self.env.items()
                           if isinstance(v, Sym) and v.atom is written.base), None)
            if holder is not None:
                new = Sym(self.builder.rename_last(new.atom, holder))
        else:
            new = Sym(self.builder.rename_last(content(base).atom, label))
        self.owned.add(new.atom.id)
        self.origins[new.atom.id] = _Origin(written.roots, new.atom)
        seen_by = _Write(written, new, base, view, label, node, self.src)
        self.see_write(seen_by)
        if outer and self.outer_writes is not None:
            self.outer_writes.append(seen_by)  # the caller's names see it too

    def see_write(self, w: _Write) -> None:
        """Every name bound to the array `w` wrote into, and every view of it, sees the new
        version; a name s2sad cannot follow becomes stale."""
        written, new, base, view, label, node = w.written, w.new, w.base, w.view, w.label, w.node
        for name, v in list(self.env.items()):
            if isinstance(v, (TupleVal, Record)) and self.holds_view(v, base, written):
                raise unsupported(node, w.src, f"writing into an array that `{name}` "
                                  "also holds (or a view of it)",
                                  "copy it before putting it in the container")
            if not isinstance(v, Sym):
                continue
            if v.atom is base.atom and not view:
                self.env[name] = new  # every name bound to the array sees the change
                continue
            seen = self.origin(v.atom)
            if seen is None or not seen.roots & written.roots:
                continue
            if seen.base is written.base and seen.exact:
                # a view of the array: the same view of its next version (as NumPy sees it)
                self.env[name] = self.replay(new, seen.steps, name)
                continue
            why = (f"`{name}` is a reshape or ravel of it, which NumPy makes as a view or "
                   "as a copy depending on the memory layout" if seen.base is written.base
                   else f"`{name}` was bound to it (or to a view of it) before a loop or "
                   "branch that s2sad cannot follow it through")
            self.env[name] = _Stale(v, name, label, loc_of(node, w.src), why)

    def see_callee_writes(self, sub: Lowering, node: Any) -> None:
        """The writes an inlined function or nested def made into arrays this function
        (or its own caller) can see: seen here as well."""
        for w in sub.outer_writes or ():
            self.see_write(w)
            if w.written.roots & self.outer_roots:
                if self.outer_writes is None or len(self.parents) != self.top:
                    raise unsupported(node, self.src, f"calling a function that writes into "
                                      f"`{w.label}` (line {loc_of(w.node, w.src).line} of "
                                      f"{w.src.name}), an array the calling function passed "
                                      "in, inside a loop or branch", "copy the array first, "
                                      "and return the new value")
                self.outer_writes.append(w)

    def write_back(self, base: Any, steps: tuple[Eqn, ...], value: Sym) -> Sym:
        """The next version of the array `base` when its view `steps` gets the contents
        `value` (NumPy writing through a view): each step undone, outermost last."""
        if not steps:
            return value
        step, rest = steps[0], steps[1:]
        if rest:
            inner = self.builder.emit(step.prim, (base, *step.args[1:]), step.params)
            value = self.write_back(inner, rest, value)
        if step.prim == "getitem":
            return apply("setitem", Sym(base), value, *[Sym(a) for a in step.args[1:]],
                         spec=step.param("spec"))
        if step.prim == "transpose":
            axes = step.param("axes")
            return apply("transpose", value,
                         axes=None if axes is None else
                         tuple(int(i) for i in np.argsort([int(a) % len(axes) for a in axes])))
        if step.prim == "swapaxes":
            return apply("swapaxes", value, axis1=step.param("axis1", 0),
                         axis2=step.param("axis2", 1))
        if step.prim == "flip":
            return apply("flip", value, axis=step.param("axis"))
        if step.prim == "expand_dims":
            return apply("squeeze", value, axis=step.param("axis", 0))
        if step.prim in ("reshape", "ravel"):  # of a C-contiguous array (see contiguous)
            return apply("reshape", value, shape=apply("shape", Sym(base)))
        raise AssertionError(step.prim)  # not reached: see _WRITABLE_VIEWS

    def roots_of(self, values: Sequence[Any]) -> frozenset[int]:
        """The objects the arrays among `values` (in containers too) may belong to, and
        those this function's own caller passed in: what an inlined function must not write
        into, since the caller would see it."""
        roots = set(self.outer_roots)
        for v in values:
            v = _unstale(v)
            if isinstance(v, (TupleVal, Record)):
                roots |= self.roots_of(list(v.items))
            elif isinstance(v, Sym):
                seen = self.origin(v.atom)
                roots |= seen.roots | {v.atom.id} if seen is not None else set()
        return frozenset(roots)

    def replay(self, new: Sym, steps: tuple[Eqn, ...], name: str) -> Sym:
        """The view `steps` take, of the array `new`."""
        atom = new.atom
        for step in steps:
            atom = self.builder.emit(step.prim, (atom, *step.args[1:]), step.params)
        return Sym(self.builder.rename_last(atom, name) if steps else atom)

    def holds_view(self, value: Value, base: Sym, written: _Origin) -> bool:
        """True when the tuple, list or dict `value` holds `base` or shares memory with it."""
        for item in value.items:
            if isinstance(item, (TupleVal, Record)) and self.holds_view(item, base, written):
                return True
            if isinstance(item, Sym):
                seen = self.origin(item.atom)
                if item.atom is base.atom or seen is not None and seen.roots & written.roots:
                    return True
        return False

    def origin(self, atom: Any, scope: Sequence[Builder] | None = None) -> _Origin | None:
        """What the array `atom` may share memory with (see :class:`_Origin`), as made in
        the blocks of `scope` (default: those being lowered); None for anything not an array
        made at run time."""
        if not (isinstance(atom, Var) and isinstance(atom.type, Array)):
            return None
        known = self.origins.get(atom.id)
        if known is not None:
            return known
        if scope is None:
            scope = [self.builder, *reversed(self.parents)]
        stmt = _defining(atom, scope)
        if isinstance(stmt, Eqn) and stmt.prim in _EXACT_VIEWS | _MAYBE_VIEWS and \
                not _copies(stmt) and stmt.args:
            of = self.origin(stmt.args[0], scope)
            if of is not None:
                exact = stmt.prim in _EXACT_VIEWS or not of.steps and \
                    self.contiguous(stmt.args[0], scope)  # reshape of a C-ordered array
                return _Origin(of.roots, of.base, (*of.steps, stmt), of.exact and exact)
        return _Origin(frozenset({atom.id}), atom)

    def contiguous(self, atom: Any, scope: Sequence[Builder]) -> bool:
        """True when the array `atom` is C-contiguous in NumPy, so that a reshape or ravel
        of it is a view: a constructor's result (np.zeros, ...), a product (@, np.outer), or
        a fresh one-dimensional result of arithmetic; a write keeps the layout."""
        stmt = _defining(atom, scope) if isinstance(atom, Var) else None
        if not isinstance(stmt, Eqn) or atom.id in self.shared:
            return False
        if stmt.prim == "setitem":
            return self.contiguous(stmt.args[0], scope)
        if stmt.prim == "construct":
            return dict(stmt.param("keywords") or ()).get("order", "C") == "C"
        if stmt.prim in ("pack", "matmul", "outer"):
            return True
        return stmt.prim in _FRESH and isinstance(atom.type, Array) and atom.type.ndim == 1

    def owned_in(self, atom: Any, builder: Builder) -> bool:
        """:meth:`is_owned`, for a value a block lowered into `builder` yields."""
        if not isinstance(atom, Var) or atom.id in self.shared:
            return False
        stmt = _defining(atom, [builder])
        if stmt is not None:
            return atom.id in self.owned or isinstance(stmt, Eqn) and stmt.prim not in _VIEWS
        return self.is_owned(atom)

    def is_owned(self, atom: Any) -> bool:
        """True when `atom` is an array this function made (not a view, argument or global)."""
        if not isinstance(atom, Var) or atom.id in self.shared:
            return False
        if atom.id in self.owned:
            return True
        for builder in [self.builder, *reversed(self.parents)]:
            for stmt in builder.stmts:
                if atom in stmt.outs:
                    return isinstance(stmt, Eqn) and stmt.prim not in _VIEWS
        return False

    def shape_rank(self, atom: Var | Const) -> int | None:
        """The length of the shape `atom`, when it is ``x.shape`` of an array of known rank."""
        for b in [self.builder, *reversed(self.parents)]:
            for s in reversed(b.stmts):
                if isinstance(s, Eqn) and atom in s.outs:
                    x = s.args[0].type if s.prim == "shape" and s.args else None
                    return x.ndim if isinstance(x, Array) else None
        return None

    def unpack(self, value: Value, n: int, node: Any) -> tuple[Value, ...]:
        if isinstance(value, TupleVal):
            items = value.items
        elif isinstance(value, Static) and isinstance(value.value, (tuple, list)):
            items = tuple(Static(v) for v in value.value)
        elif isinstance(value, Sym) and isinstance(value.type, Opaque) and value.type.kind == "shape":
            rank = self.shape_rank(value.atom)
            if rank is not None and rank != n:
                raise TypeMismatch(f"cannot unpack the shape of an array of rank {rank} into "
                                   f"{n} names", loc_of(node, self.src))
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
            value = self.env[node.id]
            if isinstance(value, _Stale):
                raise value.error(node, self.src)
            return value
        obj = self.src.lookup(node.id)
        if obj is MISSING:
            raise NoRuleError(f"name {node.id!r} is not defined", loc_of(node, self.src),
                              "define it before the function is differentiated")
        if isinstance(obj, (float, int, np.ndarray, np.generic)) and not isinstance(obj, bool):
            return Sym(self.free_const(node.id, obj))
        if not isinstance(obj, ModuleType) and getattr(builtins, node.id, None) is not obj:
            # a flag, an option, a helper, an object whose fields the code reads
            BAKED.append((self.src.lookup, node.id, baked_key(obj)))  # decided now: the code
            #                                                           is kept while it holds
        return Static(obj)

    def free_const(self, name: str, obj: Any) -> Const:
        """The number or array a free `name` of this function holds, read live by the
        generated code: by its bare name when it is a global or cell of the function the code
        is made for (which the code runs with); else from where this function reads it, a
        global of another module as ``module.name``, a cell of a closure the function calls
        as that cell (named apart from the user's names where they clash)."""
        lookup, home = self.src.lookup, _HOME[-1] if _HOME else self.src.lookup
        ty = type_of_value(obj)
        cells, home_cells = lookup.cells, home.cells  # type: ignore[attr-defined]
        if name in cells:
            if home_cells.get(name) is cells[name]:
                return Const(obj, ty, name)
            return Const(obj, ty, name, cells[name])
        glb = lookup.module_globals  # type: ignore[attr-defined]
        if glb is home.module_globals and name not in home_cells:  # type: ignore[attr-defined]
            return Const(obj, ty, name)
        module = sys.modules.get(glb.get("__name__", ""))
        if module is not None and module.__dict__ is glb:
            return Const(obj, ty, f"{_module_name(module, home)}.{name}", module)
        # globals of no module (exec'd into a dict): the value as it is now, in a cell (so an
        # array changed in place is seen), and the code is remade when the name is rebound
        BAKED.append((lookup, name, baked_key(obj)))
        held = _NAMESPACE_CELLS.get((id(glb), name))
        if held is None or held[0] is not glb or held[1].cell_contents is not obj:
            held = _NAMESPACE_CELLS[(id(glb), name)] = (glb, CellType(obj))
        return Const(obj, ty, name, held[1])

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

    def expr_Dict(self, node: Any) -> Value:
        keys = [None if k is None else self.expr(k) for k in node.keys]
        if any(not isinstance(k, Static) for k in keys):
            raise unsupported(node, self.src, "a dict with run-time keys or `**` unpacking",
                              "use constant keys")
        return Record("dict", tuple(k.value for k in keys),  # type: ignore[union-attr]
                      tuple(self.expr(v) for v in node.values))

    def expr_ListComp(self, node: Any) -> Value:
        return TupleVal(tuple(self.comprehension(node, node.generators,
                                                 lambda: self.expr(node.elt))))

    expr_GeneratorExp = expr_ListComp

    def expr_DictComp(self, node: Any) -> Value:
        pairs = self.comprehension(node, node.generators,
                                   lambda: (self.expr(node.key), self.expr(node.value)))
        if any(not isinstance(k, Static) for k, _ in pairs):
            raise unsupported(node, self.src, "a dict comprehension with run-time keys",
                              "use constant keys")
        return Record("dict", tuple(k.value for k, _ in pairs), tuple(v for _, v in pairs))

    def comprehension(self, node: Any, gens: list[Any], produce: Callable[[], Any]) -> list[Any]:
        """The items of a comprehension over sequences known now: unrolled, one per item."""
        if not gens:
            return [produce()]
        g = gens[0]
        if isinstance(g.iter, gast.Call) and isinstance(g.iter.func, gast.Name) and \
                self.expr(g.iter.func) == Static(range) and \
                not all(isinstance(self.expr(a), Static) for a in g.iter.args):
            seq: Value = Sym(Const(0, Scalar("int64")))  # a run-time range: reported below
        else:
            seq = self.expr(g.iter)
        items = _items(seq)
        if items is None:
            raise unsupported(node, self.src, f"a comprehension over a {_kind(seq)} whose "
                              "length is known only at run time", "write the loop out: "
                              "xs = []; for ...: xs.append(...)")
        saved = dict(self.env)
        out: list[Any] = []
        try:
            for item in items:
                self.assign(g.target, item)
                tests = [self.expr(t) for t in g.ifs]
                if any(not isinstance(t, Static) for t in tests):
                    raise unsupported(node, self.src, "a comprehension filter on a run-time "
                                      "value", "filter with np.where instead")
                if all(t.value for t in tests):
                    out.extend(self.comprehension(node, gens[1:], produce))
        finally:
            self.env = saved  # a comprehension's names do not leak, as in Python 3
        return out

    def expr_Lambda(self, node: Any) -> Value:
        return LocalFunction(node, tuple(self.expr(d) for d in node.args.defaults))

    def append(self, call: Any) -> None:
        """``xs.append(v)`` on a list whose length is known now: a longer list."""
        name = call.func.value.id
        current = self.name(call.func.value)
        if _is_list(current) and len(call.args) == 1 and not call.keywords:
            return self.append_to(name, current, call)
        if self.depth > 0 and any(current is v for v in self.foreign_known):
            raise self.foreign_list(call, name, "")  # the caller would not see the change
        original = current
        if isinstance(current, Static) and isinstance(current.value, list):
            current = TupleVal(tuple(Static(v) for v in current.value))
        if not isinstance(current, TupleVal) or len(call.args) != 1 or call.keywords:
            raise unsupported(call, self.src, f"appending to `{name}`, a {_kind(current)}",
                              "append one value to a list made in the function")
        grown = TupleVal(current.items + (self.expr(call.args[0]),))
        for n, v in list(self.env.items()):
            if v is original:
                self.env[n] = grown  # every name bound to the list sees the change

    def call_local(self, fn: LocalFunction, args: list[Value], kwargs: dict[str, Value],
                   node: Any) -> Value:
        """Inline a nested `def` or `lambda`, with the enclosing variables as they are now."""
        if self.depth >= _MAX_INLINE_DEPTH:
            raise unsupported(node, self.src, "recursion deeper than 20 calls",
                              "write the recursion as a loop")
        sub = Lowering(self.src, self.builder, self.depth + 1)
        sub.env = {k: v for k, v in self.env.items() if not k.startswith(".")}
        sub.parents, sub.owned = self.parents, self.owned
        sub.origins, sub.shared_roots = self.origins, self.shared_roots
        sub.outer_roots = self.roots_of([*self.env.values(), *args, *kwargs.values()])
        sub.walking = self.walking
        sub.outer_writes, sub.top, sub.shared = [], len(self.parents), self.shared
        names = [a.id for a in fn.node.args.args]
        bound: dict[str, Value] = dict(zip(names, args))
        for k, v in kwargs.items():
            if k not in names:
                raise TypeMismatch(f"unexpected keyword {k!r}", loc_of(node, self.src))
            bound[k] = v
        for n, d in zip(names[len(names) - len(fn.defaults):], fn.defaults):
            bound.setdefault(n, d)
        missing = [n for n in names if n not in bound]
        if missing:
            raise TypeMismatch(f"missing argument(s) {', '.join(missing)}", loc_of(node, self.src))
        sub.env.update(bound)
        saved = self.builder.loc
        try:
            if isinstance(fn.node, gast.Lambda):
                return sub.expr(fn.node.body)
            result = sub.body(fn.node)
        finally:
            self.builder.loc = saved
        self.see_callee_writes(sub, node)
        return result

    def expr_BinOp(self, node: Any) -> Value:
        return self.binop(node.op, self.expr(node.left), self.expr(node.right), node)

    def binop(self, op: Any, left: Value, right: Value, node: Any) -> Value:
        name, pyop = _BINOPS.get(type(op), (None, None))
        if name is None or pyop is None:
            raise unsupported(node, self.src, f"the `{type(op).__name__}` operator",
                              "use the NumPy function instead")
        text = _OP_TEXT.get(name, name)
        if isinstance(left, Static) and isinstance(right, Static):
            try:
                return Static(pyop(left.value, right.value))
            except (ArithmeticError, TypeError, ValueError) as exc:
                raise TypeMismatch(f"`{text}` of constants {left.value!r} and "
                                   f"{right.value!r}: {exc}", loc_of(node, self.src)) from None
        self.no_list(left, node, f"`{text}` on")
        self.no_list(right, node, f"`{text}` on")
        a, b = self.operand(left, node), self.operand(right, node)
        try:
            return apply(name, a, b)
        except ValueError as exc:  # shapes the types show cannot fit
            raise TypeMismatch(f"`{text}` of a {a.type} and a {b.type}: {plain(str(exc))}",
                               loc_of(node, self.src)) from None

    def expr_UnaryOp(self, node: Any) -> Value:
        operand = self.expr(node.operand)
        self.no_list(operand, node, "a unary operator on")
        if isinstance(operand, Static):
            ops = {gast.USub: operator.neg, gast.UAdd: operator.pos, gast.Not: operator.not_}
            return Static(ops[type(node.op)](operand.value))
        if isinstance(node.op, gast.USub):
            return apply("neg", self.operand(operand, node))
        if isinstance(node.op, gast.UAdd):  # a copy of an array, as in NumPy
            return apply("copy", operand) if isinstance(operand, Sym) and operand.is_array \
                else operand
        raise unsupported(node, self.src, "`not` on a run-time value",
                          "use np.logical_not, or a comparison")

    def expr_Compare(self, node: Any) -> Value:
        left = self.expr(node.left)
        result: Value | None = None
        for op, right_node in zip(node.ops, node.comparators):
            right = self.expr(right_node)
            self.no_list(left, node, "comparing")
            self.no_list(right, node, "comparing")
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
        """``a and b`` / ``a or b``, short-circuit as in Python: the right side is evaluated
        only when needed (an `if` region once the left side is a run-time value)."""
        first, rest = node.values[0], node.values[1:]
        left = self.expr(first)
        for right_node in rest:
            is_and = isinstance(node.op, gast.And)
            if isinstance(left, Static):
                if bool(left.value) != is_and:  # decided: `False and ...`, `True or ...`
                    return left
                left = self.expr(right_node)
                continue
            cond = self.condition(left, node)
            evaluate = lambda n=right_node: self.expr(n)
            keep = lambda v=left: v
            left = self.choose(cond, evaluate if is_and else keep, keep if is_and else evaluate,
                               node)
        return left

    def expr_IfExp(self, node: Any) -> Value:
        test = self.expr(node.test)
        if isinstance(test, Static):
            return self.expr(node.body if test.value else node.orelse)
        cond = self.condition(test, node)
        return self.choose(cond, lambda: self.expr(node.body), lambda: self.expr(node.orelse),
                           node)

    def choose(self, cond: Any, then: Callable[[], Value], orelse: Callable[[], Value],
               node: Any) -> Value:
        """The value of `then()` or `orelse()` as `cond` says: an `if` region of one value."""
        lowered = [self.sub_block(self.env, f) for f in (then, orelse)]
        results = [self.atom(v, node) for v, _, _ in lowered]
        outs = self.emit_if(cond, lowered, (results[0],), (results[1],), [None], node)  # type: ignore[list-item]
        self.note_aliases(outs, [results], set())
        return Sym(outs[0])

    def expr_Attribute(self, node: Any) -> Value:
        base = self.expr(node.value)
        if isinstance(base, Record) and base.kind != "dict":
            try:
                return base.get(node.attr)
            except KeyError:
                raise TypeMismatch(f"this {base.kind} has no field {node.attr!r}",
                                   loc_of(node, self.src)) from None
        if isinstance(base, Static):
            try:
                obj = getattr(base.value, node.attr)
            except AttributeError:
                raise NoRuleError(f"{base.value!r} has no attribute {node.attr!r}",
                                  loc_of(node, self.src)) from None
            if isinstance(obj, (float, int, np.ndarray)) and not isinstance(obj, bool) and \
                    not (_library_module(base.value) and not isinstance(obj, np.ndarray)):
                if isinstance(base.value, ModuleType) and not _library_module(base.value) and \
                        base.value.__dict__.get(node.attr, MISSING) is obj:  # read live
                    home = _HOME[-1] if _HOME else self.src.lookup
                    return Sym(Const(obj, type_of_value(obj),
                                     f"{_module_name(base.value, home)}.{node.attr}",
                                     base.value))
                if not isinstance(base.value, ModuleType):  # an object's field: fixed in the
                    BAKED.append((partial(_attribute, base.value), node.attr,  # code, remade when
                                  baked_key(obj)))                         # it changes
                return Sym(Const(obj, type_of_value(obj), _dotted(node)))
            return Static(obj)  # NumPy's and math's numbers (np.pi, -np.inf) are constants
        self.no_list(base, node, f"the attribute `.{node.attr}` of")
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
        if _is_list(base):
            return self.list_item(base, node)
        if isinstance(base, Record):
            key = self.expr(node.slice)
            if not isinstance(key, Static):
                raise unsupported(node, self.src, "a run-time key", "use a constant key")
            try:
                return base.get(key.value) if base.kind != "namedtuple" or \
                    not isinstance(key.value, int) else base.items[key.value]
            except (KeyError, IndexError):
                raise TypeMismatch(f"no entry {key.value!r} in this {base.kind}",
                                   loc_of(node, self.src)) from None
        if isinstance(base, TupleVal):
            if isinstance(node.slice, gast.Slice):
                parts = [None if p is None else self.expr(p)
                         for p in (node.slice.lower, node.slice.upper, node.slice.step)]
                if all(p is None or isinstance(p, Static) for p in parts):
                    return TupleVal(base.items[slice(*[None if p is None else p.value
                                                       for p in parts])])
            idx = self.expr(node.slice)
            if isinstance(idx, Static):
                try:
                    return base.items[idx.value] if isinstance(idx.value, int) else \
                        TupleVal(base.items[idx.value])
                except (IndexError, TypeError) as exc:
                    raise TypeMismatch(f"indexing a tuple of {len(base.items)} items: {exc}",
                                       loc_of(node, self.src)) from None
        dyn: list[Any] = []
        spec = self.index_spec(node.slice, dyn)
        if isinstance(base, Static) and not dyn:
            try:
                return Static(base.value[spec[0] if len(spec) == 1 else spec])
            except (IndexError, KeyError, TypeError) as exc:
                raise TypeMismatch(f"indexing {type(base.value).__name__} {base.value!r}: "
                                   f"{exc}", loc_of(node, self.src)) from None
        if isinstance(base, Sym) and isinstance(base.type, Opaque) and \
                base.type.kind == "shape" and len(spec) == 1 and isinstance(spec[0], int):
            rank = self.shape_rank(base.atom)
            if rank is not None and not -rank <= spec[0] < rank:
                raise TypeMismatch(f"index {spec[0]} is out of range for the shape of an "
                                   f"array of rank {rank}", loc_of(node, self.src))
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
        self.no_list(value, node, "indexing with")
        if isinstance(value, Static) and (value.value is None or value.value is Ellipsis or
                                          isinstance(value.value, int)):
            return value.value
        items = _items(value) if isinstance(value, TupleVal) or isinstance(value, Static) and \
            isinstance(value.value, (list, tuple)) else None
        if items is not None:  # x[[0, 2]]: a list of indices is an integer array index
            value = apply("pack", *[self.operand(i, node) for i in items])
            if value.type.dtype not in ("int64", "int32", "bool"):  # type: ignore[union-attr]
                raise unsupported(node, self.src, "a list of non-integer indices",
                                  "index with integers")
        operand = self.operand(value, node)
        ty = operand.type
        if isinstance(ty, (Array, Scalar)) and ty.dtype not in _INDEX_DTYPES:
            what = "arrays used as indices" if isinstance(ty, Array) else "indices"
            raise TypeMismatch(f"{what} must be integers (or booleans), not {ty}",
                               loc_of(node, self.src), "convert the index: "
                               "idx.astype(int), or int(i) for a number")
        dyn.append(operand)
        return Dyn(len(dyn) - 1)

    def expr_Call(self, node: Any) -> Value:
        args: list[Value] = []
        for a in node.args:
            if isinstance(a, gast.Starred):  # f(*xs): the items of a tuple or list known now
                value = self.expr(a.value)
                if isinstance(value, TupleVal):
                    args.extend(value.items)
                elif isinstance(value, Static) and isinstance(value.value, (tuple, list)):
                    args.extend(Static(v) for v in value.value)
                else:
                    raise unsupported(a, self.src, f"`*` unpacking of a {_kind(value)}",
                                      "unpack a tuple or list")
            else:
                args.append(self.expr(a))
        kwargs = {k.arg: self.expr(k.value) for k in node.keywords}
        if None in kwargs:
            raise unsupported(node, self.src, "`**` unpacking in a call", "pass keywords explicitly")
        func = node.func
        if isinstance(func, gast.Attribute):
            base = self.expr(func.value)
            if isinstance(base, Record) and base.kind == "dict" and \
                    func.attr in ("items", "values", "keys") and not args:
                if func.attr == "keys":
                    return Static(base.keys)
                if func.attr == "values":
                    return TupleVal(base.items)
                return TupleVal(tuple(TupleVal((Static(k), v))
                                      for k, v in zip(base.keys, base.items)))
            if _is_list(base):
                raise unsupported(node, self.src, f"the method `.{func.attr}()` of a list grown "
                                  "at run time", "append on a line of its own (xs.append(x)); "
                                  "read items with xs[i]")
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
        if isinstance(callee, LocalFunction):
            return self.call_local(callee, args, kwargs, node)
        if not isinstance(callee, Static):
            raise unsupported(node, self.src, "calling a run-time value", "call a named function")
        if any(_is_list(a) for a in [*args, *kwargs.values()]):
            done = self.list_call(callee.value, args, kwargs, node)
            if done is not None:
                return done
        return self.call(callee.value, args, kwargs, node)

    def call(self, obj: Any, args: list[Value], kwargs: dict[str, Value], node: Any) -> Value:
        if "out" in kwargs and isinstance(node, gast.Call):
            return self.call_out(obj, args, kwargs, node)
        containers = [a for a in args if isinstance(a, (TupleVal, Record))]
        if containers and obj in _CONTAINER_BUILTINS or obj in (zip, enumerate) and args or \
                any(isinstance(a, Record) for a in args):
            return self.call_on_containers(obj, args, kwargs, node)
        surface = surface_of(obj)
        name = getattr(obj, "__name__", repr(obj))
        if surface is not None:
            return self.invoke(surface, args, kwargs, node, name)
        if any(obj is c for c in _CONSTRUCTORS):
            return self.construct(obj, args, kwargs, node)
        made = getattr(obj, "__s2sad_dispatcher__", None)
        if made is not None:  # a derivative s2sad made: splice its IR in
            return self.splice(made, args, kwargs, node)
        if getattr(obj, "__s2sad_maker__", False):
            if not all(isinstance(a, Static) for a in [*args, *kwargs.values()]):
                raise unsupported(node, self.src, f"s2sad.{obj.__name__} of a lambda, a nested "
                                  "def or a run-time value inside differentiated code",
                                  "define the function at module level and pass constants: "
                                  f"s2sad.{obj.__name__}(f, wrt=0)")
            try:  # s2sad.grad(f) and its siblings, on a function: made now
                return Static(obj(*[a.value for a in args],  # type: ignore[union-attr]
                                  **{k: v.value for k, v in kwargs.items()}))  # type: ignore[union-attr]
            except S2SADError as exc:
                raise type(exc)(exc.message, exc.loc or loc_of(node, self.src), exc.hint) from None
        target = unwrap(obj)
        if callable(target) and hasattr(target, "__code__") and not is_library(target):
            return self.inline(target, args, kwargs, node)
        if all(isinstance(a, Static) for a in [*args, *kwargs.values()]) and \
                (obj in (int, range, tuple) or _constant_maker(obj)):  # math.factorial(3)
            return Static(obj(*[a.value for a in args], **{k: v.value for k, v in kwargs.items()}))
        if isinstance(obj, type) and issubclass(obj, np.floating) and len(args) == 1 and \
                not kwargs and isinstance(args[0], Sym):  # np.float32(x): a cast
            if isinstance(args[0].type, Scalar) and args[0].type.weak:
                raise unsupported(node, self.src, f"np.{obj.__name__}(x) of a Python float",
                                  f"pass x as np.{obj.__name__}(...) or as an array")
            return apply("astype", args[0], dtype=np.dtype(obj))
        if obj is range:
            raise unsupported(node, self.src, "range(...) with a run-time bound outside a `for`",
                              "loop over it with `for i in range(...)`")
        module = getattr(obj, "__module__", None) or ""
        raise NoRuleError(f"no derivative rule for {module + '.' if module else ''}{name}, and it "
                          "has no Python source to differentiate", loc_of(node, self.src),
                          "register one with @s2sad.custom_adjoint, or compute the value outside "
                          "the differentiated function and pass it in")

    def call_on_containers(self, obj: Any, args: list[Value], kwargs: dict[str, Value],
                           node: Any) -> Value:
        """Builtins over tuples, lists and dicts known in structure: len, sum, zip, ..."""
        def seq(v: Value) -> tuple[Value, ...]:
            items = _items(v)
            if items is None:
                raise unsupported(node, self.src, f"a {_kind(v)} here", "pass a tuple or list")
            return items
        if obj is len and len(args) == 1:
            return Static(len(seq(args[0])))
        if obj is zip and not kwargs:
            return TupleVal(tuple(TupleVal(t) for t in zip(*[seq(a) for a in args])))
        if obj is enumerate and len(args) == 1:
            return TupleVal(tuple(TupleVal((Static(i), v)) for i, v in enumerate(seq(args[0]))))
        if obj in (tuple, list) and len(args) == 1:
            return TupleVal(seq(args[0]))
        if obj is sum and len(args) in (1, 2):
            total: Value = args[1] if len(args) == 2 else Static(0)
            for item in seq(args[0]):
                total = self.binop(gast.Add(), total, item, node)
            return total
        if obj in (max, min) and len(args) == 1:
            items = seq(args[0])
            return self.call(obj, list(items), kwargs, node)
        if obj in (np.array, np.asarray, np.stack, np.concatenate, np.hstack, np.vstack,
                   np.sum, np.mean, np.prod) and surface_of(obj) is not None:
            return self.invoke(surface_of(obj), args, kwargs, node, obj.__name__)  # type: ignore[arg-type]
        target = unwrap(obj)
        if callable(target) and hasattr(target, "__code__") and not is_library(target):
            return self.inline(target, args, kwargs, node)
        raise unsupported(node, self.src, f"passing a tuple, list or dict to "
                          f"{getattr(obj, '__name__', obj)}", "pass its elements")

    def invoke(self, fn: Callable[..., Any], args: list[Value], kwargs: dict[str, Value],
               node: Any, what: str) -> Value:
        pa = [self.surface_arg(a) for a in args]
        pk = {k: self.surface_arg(v) for k, v in kwargs.items()}
        try:
            out = fn(*pa, **pk)
        except (TypeError, ValueError, IndexError) as exc:  # as NumPy would raise, located
            text = str(exc)
            hint = None
            if "<dynamic>" in text or "_Dynamic" in text:
                hint = "give this argument a value known when the code is generated"
            elif "not iterable" in text:
                hint = "pass a list or tuple of arrays: np.stack([a, b])"
            elif what == "where" and "missing" in text:
                hint = "np.where(cond) (the indices of a condition) is not supported: use " \
                       "np.where(cond, a, b), or find the indices outside the function"
            raise TypeMismatch(f"bad call to {what}: {plain(text, what)}",
                               loc_of(node, self.src), hint) from None
        if isinstance(out, tuple) and any(isinstance(o, Sym) for o in out):
            return TupleVal(tuple(o if isinstance(o, Sym) else Static(o) for o in out))
        same = pk["copy"] is not True if what in ("array", "asarray") and "copy" in pk else \
            what.strip(".()") in _SAME_ARRAY  # np.array(x, copy=False) is x itself
        if isinstance(out, Sym) and out.is_array and not same and \
                any(isinstance(a, Sym) and a.atom is out.atom for a in [*pa, *pk.values()]):
            return apply("copy", out)  # NumPy returns a new array (np.array(x), np.positive)
        return out if isinstance(out, Sym) else Static(out)

    def surface_arg(self, value: Value) -> Any:
        if isinstance(value, Static):
            return value.value
        if isinstance(value, TupleVal):
            return tuple(self.surface_arg(v) for v in value.items)
        return value

    def construct(self, obj: Any, args: list[Value], kwargs: dict[str, Value], node: Any) -> Value:
        operands = [self.surface_arg(a) if isinstance(a, TupleVal) else self.operand(a, node)
                    for a in args]
        keywords = []
        for k, v in sorted(kwargs.items()):
            if not isinstance(v, Static):
                raise unsupported(node, self.src, f"a run-time keyword argument `{k}=` to "
                                  f"np.{obj.__name__}", "pass it positionally")
            keywords.append((k, v.value))
        ones = _constructed_ones(obj, [a.value if isinstance(a, Static) else None for a in args],
                                 dict(keywords))
        return apply("construct", *operands, fn=obj, keywords=tuple(keywords), ones=ones)

    def splice(self, made: Any, args: list[Value], kwargs: dict[str, Value], node: Any) -> Value:
        """A call to a function s2sad made (``gf = s2sad.grad(f)``): its derivative IR, with
        the call's arguments for its parameters, becomes part of this function."""
        args = self.bind_made(made, args, kwargs, node)
        if any(isinstance(a, (TupleVal, Record)) for a in args):
            raise unsupported(node, self.src, "container arguments to a function s2sad made",
                              "pass numbers and arrays")
        specs = [a if isinstance(a, Static) else a.type for a in args]
        here = loc_of(node, self.src)
        try:
            ir, returns = made.derivative_ir(specs)
        except TypeError as exc:
            raise TypeMismatch(f"bad call to a function s2sad made: {plain(str(exc))}",
                               here) from None
        except (TypeMismatch, NotDifferentiable) as exc:  # about this call: the kinds it gives
            where = f"{made.fn.__name__} is defined at {exc.loc}" if exc.loc else None
            raise type(exc)(exc.message, here, "; ".join(filter(None, [exc.hint, where]))) \
                from None
        except S2SADError as exc:  # in the function's own code: located there
            if exc.loc is None or exc.loc == here:
                raise
            raise type(exc)(exc.message, exc.loc, "; ".join(
                filter(None, [exc.hint, f"called at {here}"]))) from None
        atoms = [self.operand(a, node).atom for a in args if not isinstance(a, Static)]
        mapping = {p.id: a for p, a in zip(ir.params, atoms)}
        body = [s for s in ir.body.stmts if not (isinstance(s, Eqn) and s.prim == "comment")]
        self.builder.stmts.extend(substitute(body, mapping))  # type: ignore[arg-type]
        results = [Sym(mapping.get(r.id, r)) if isinstance(r, Var) else Sym(r)
                   for r in ir.results]

        def nest(tree: Any) -> Value:
            if isinstance(tree, int):
                return results[tree]
            return TupleVal(tuple(nest(t) for t in tree))
        return nest(returns) if returns is not None else \
            (results[0] if len(results) == 1 else TupleVal(tuple(results)))

    def bind_made(self, made: Any, args: list[Value], kwargs: dict[str, Value],
                  node: Any) -> list[Value]:
        """The arguments of a call to a function s2sad made, in the order of the parameters
        of the user's function behind it (keywords placed, defaults filled in as Python
        would), then the arguments that come after them (the direction `v` of an hvp)."""
        extra = getattr(made, "extra", 0)
        if len(args) < extra:
            raise TypeMismatch(f"an hvp of {made.fn.__name__} takes the direction v last, "
                               "after the function's arguments", loc_of(node, self.src))
        own, tail = args[:len(args) - extra], args[len(args) - extra:]
        sig = inspect.signature(made.fn, follow_wrapped=False)
        try:
            bound = sig.bind(*own, **kwargs)
        except TypeError as exc:
            raise TypeMismatch(f"bad call to a derivative of {made.fn.__name__}: "
                               f"{plain(str(exc))}", loc_of(node, self.src),
                               f"it takes the arguments of {made.fn.__name__}"
                               f"{sig.replace(return_annotation=inspect.Signature.empty)}") \
                from None
        out: list[Value] = []
        for i, (name, p) in enumerate(sig.parameters.items()):
            if name in bound.arguments:
                out.append(bound.arguments[name])
            elif i in made.wrt:  # differentiated at its default: a number, not a constant
                out.append(self.operand(Static(p.default), node))
            else:
                out.append(Static(p.default))
        return out + list(tail)

    def inline(self, fn: Any, args: list[Value], kwargs: dict[str, Value], node: Any) -> Value:
        """`fn`'s body lowered here, with the call's arguments for its parameters; a recursive
        call unrolled while its depth is known now, else a call at run time (recursion.py)."""
        code = fn.__code__
        level = sum(c is code for c in _ACTIVE)  # by identity: equal code may be another module's
        if level >= _UNROLL:
            raise _TooDeep(code)
        _ACTIVE.append(code)
        mark = len(self.builder.stmts)
        try:
            return self.inline_body(fn, args, kwargs, node)
        except _TooDeep as exc:
            if level != 1 or exc.code is not code:
                raise
        finally:
            _ACTIVE.pop()
        del self.builder.stmts[mark:]  # unrolling did not end: call fn at run time instead
        if kwargs or not all(isinstance(a, (Sym, Static)) for a in args):
            raise unsupported(node, self.src, f"recursion to a depth known only at run time "
                              f"with keyword or container arguments to {fn.__name__}",
                              "pass numbers and arrays positionally")
        try:
            return recursion.call(fn, [self.operand(a, node) for a in args])
        except TypeMismatch as exc:
            raise TypeMismatch(exc.message, loc_of(node, self.src), exc.hint) from None

    def inline_body(self, fn: Any, args: list[Value], kwargs: dict[str, Value],
                    node: Any) -> Value:
        if self.depth >= _MAX_INLINE_DEPTH:
            raise unsupported(node, self.src, "calls nested more than 20 deep",
                              "give a helper deep in the chain a rule (s2sad.custom_adjoint)")
        src = get_source(fn)
        fnode = parse_function(src)
        sub = Lowering(src, self.builder, self.depth + 1)
        sub.origins, sub.shared_roots = self.origins, self.shared_roots
        sub.outer_roots = self.roots_of([*args, *kwargs.values()])
        sub.walking = self.walking
        sub.outer_writes, sub.shared, sub.owned = [], self.shared, self.owned
        sub.parents = list(self.parents)
        sub.top = len(sub.parents)
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
        self.see_callee_writes(sub, node)
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


def _constructed_ones(fn: Any, args: list[Any], kw: dict[str, Any]) -> Any:
    """Which axes of ``np.zeros(...)`` and friends have length 1, when their sizes are known
    now (None: not known).  Computed from the arguments, without building the array."""
    try:
        if fn in (np.zeros, np.ones, np.empty, np.full):
            shape = args[0] if args else kw.get("shape")
            shape = (shape,) if isinstance(shape, int) else shape
            if isinstance(shape, (tuple, list)) and all(isinstance(n, int) for n in shape):
                return tuple(n == 1 for n in shape)
        elif fn in (np.eye, np.identity):
            n = args[0]
            m = args[1] if len(args) > 1 and args[1] is not None else kw.get("M", n)
            if isinstance(n, int) and isinstance(m, int):
                return (n == 1, m == 1)
        elif fn in (np.arange, np.linspace) and args and all(
                isinstance(a, (int, float)) for a in args):
            return (len(fn(*args, **kw)) == 1,)
    except (TypeError, ValueError, IndexError):
        return None
    return None


def _items(value: Value) -> tuple[Value, ...] | None:
    """The items of a tuple, list or dict (its keys) known now, or None for anything else."""
    if isinstance(value, TupleVal):
        return value.items
    if isinstance(value, Record):
        return tuple(Static(k) for k in value.keys)  # iterating a dict gives its keys
    if isinstance(value, Static) and isinstance(value.value, (tuple, list, range)):
        return tuple(Static(v) for v in value.value)
    return None


def _leaf_name(path: str, key: Any) -> str:
    """`params_W` for params['W'], `xs_0` for xs[0]: a readable identifier for a leaf."""
    text = "".join(ch if ch.isalnum() or ch == "_" else "_" for ch in str(key))
    return f"{path}_{text}"


def _assigned_names(stmts: list[Any]) -> set[str]:
    """Names the statements bind or write into (``x[i] = v`` changes `x`, ``xs.append(v)``
    changes `xs`)."""
    names: set[str] = set(_appended_names(gast.Module(list(stmts), [])))
    for stmt in stmts:
        for node in gast.walk(stmt):
            if isinstance(node, gast.Name) and isinstance(node.ctx, gast.Store):
                names.add(node.id)
            elif isinstance(node, gast.Subscript) and isinstance(node.ctx, gast.Store) and \
                    isinstance(node.value, gast.Name):
                names.add(node.value.id)
            elif isinstance(node, gast.AugAssign) and isinstance(node.target, gast.Subscript) \
                    and isinstance(node.target.value, gast.Name):
                names.add(node.target.value.id)
    return names


_CONTAINER_BUILTINS = (len, zip, enumerate, tuple, list, sum, max, min)
# Primitives whose result may share memory with an operand (writing into it would write there).
_VIEWS = frozenset({"getitem", "transpose", "reshape", "ravel", "expand_dims", "swapaxes",
                    "broadcast_to", "broadcast_to_shape", "squeeze", "diagonal", "flip", "moveaxis", "atleast",
                    "stop_gradient", "pop", "astype", "list_getitem"})
# Of those, the ones NumPy makes as views of their first operand (getitem: with basic indices
# only), and those it makes as views only when the memory layout allows (else a copy).
_EXACT_VIEWS = frozenset({"getitem", "transpose", "swapaxes", "expand_dims", "squeeze",
                          "diagonal", "flip", "broadcast_to", "broadcast_to_shape",
                          "stop_gradient"})
_MAYBE_VIEWS = frozenset({"reshape", "ravel"})
# Of the exact views, those a write goes through to the array viewed (see write_back); NumPy
# makes diagonals and broadcasts read-only.
_WRITABLE_VIEWS = frozenset({"getitem", "transpose", "swapaxes", "flip", "expand_dims",
                             "reshape", "ravel"})
# Primitives whose result is a new array (elementwise arithmetic and functions, copies).
_FRESH = frozenset({"add", "sub", "mul", "div", "pow", "neg", "floordiv", "mod", "copy", "abs",
                    "exp", "log", "sin", "cos", "tan", "tanh", "sinh", "cosh", "sqrt",
                    "square", "maximum", "minimum", "where", "clip", "expm1", "log1p"})
# Functions and methods that NumPy lets return their argument itself (or a view of it).
_SAME_ARRAY = frozenset({"asarray", "asanyarray", "real", "reshape", "ravel", "squeeze",
                         "transpose", "atleast_1d", "atleast_2d", "atleast_3d",
                         "ascontiguousarray", "asfortranarray", "broadcast_to", "expand_dims",
                         "moveaxis", "swapaxes", "diagonal", "stop_gradient", "view",
                         "rollaxis", "matrix_transpose", "permute_dims"})
_DEFS: weakref.WeakKeyDictionary[Builder, tuple[dict[int, Any], list[int]]] = \
    weakref.WeakKeyDictionary()


def _defining(atom: Var, builders: Sequence[Builder]) -> Any:
    """The statement of `builders` that makes `atom`, or None (an index per builder)."""
    for builder in builders:
        stmts = builder.stmts
        if stmts and atom in stmts[-1].outs:  # the newest may still be renamed: not indexed
            return stmts[-1]
        defs, done = _DEFS.setdefault(builder, ({}, [0]))
        if done[0] > len(stmts) - 1:  # statements were dropped: index again
            defs.clear()
            done[0] = 0
        for stmt in stmts[done[0]:len(stmts) - 1]:
            for o in stmt.outs:
                defs[o.id] = stmt
        done[0] = max(done[0], len(stmts) - 1)
        stmt = defs.get(atom.id)
        if stmt is not None and atom in stmt.outs:
            return stmt
    return None


def _copies(eqn: Eqn) -> bool:
    """True for an indexing that NumPy makes as a copy: integer-array or boolean indices."""
    return eqn.prim == "getitem" and any(
        not (isinstance(a.type, Scalar) and a.type.dtype != "bool") for a in eqn.args[1:])


def _same_atom(a: Any, b: Any) -> bool:
    return a is b or isinstance(a, Const) and isinstance(b, Const) and \
        a.type == b.type and a.name == b.name and a.origin is b.origin and \
        _same_static(a.value, b.value)


def _same_steps(a: tuple[Eqn, ...], b: tuple[Eqn, ...]) -> bool:
    """True when the view equations `a` and `b` take the same view (of their first operands)."""
    return len(a) == len(b) and all(
        x.prim == y.prim and len(x.args) == len(y.args) and len(x.params) == len(y.params) and
        all(_same_atom(p, q) for p, q in zip(x.args[1:], y.args[1:])) and
        all(k == m and _same_atom(p, q) for (k, p), (m, q) in zip(x.params, y.params))
        for x, y in zip(a, b))


# NumPy functions that take a sequence of arrays (a list grown at run time is not one yet).
_SEQUENCE_FUNCTIONS = (np.stack, np.concatenate, np.hstack, np.vstack, np.dstack,
                       np.column_stack, np.block)
_OP_TEXT = {"add": "+", "sub": "-", "mul": "*", "div": "/", "pow": "**", "matmul": "@",
            "floordiv": "//", "mod": "%"}


def _is_list(value: Any) -> bool:
    """True for a list grown at run time (a handle of type ListOf)."""
    return isinstance(value, Sym) and isinstance(value.type, ListOf)


def _same_sym(a: Any, b: Any) -> bool:
    return a is b or isinstance(a, Sym) and isinstance(b, Sym) and a.atom is b.atom


def _known_list(value: Any) -> bool:
    """True for a list whose length is known when the code is generated."""
    return isinstance(value, TupleVal) or isinstance(value, Static) and \
        isinstance(value.value, list)


def _appended_names(node: Any) -> list[str]:
    """The names `xs` of the ``xs.append(...)`` calls in `node`, in order."""
    found: dict[str, None] = {}
    for inner in gast.walk(node):
        if isinstance(inner, gast.Call) and isinstance(inner.func, gast.Attribute) and \
                inner.func.attr == "append" and isinstance(inner.func.value, gast.Name):
            found[inner.func.value.id] = None
    return list(found)


def _element(seq: Sym, index: Any) -> Sym:
    """Item `index` of the array or list a `for` walks."""
    if isinstance(seq.type, ListOf):
        return apply("list_getitem", seq, index)
    return apply("getitem", seq, index, spec=(Dyn(0),))


def _holds(value: Any, atom: Any) -> bool:
    items = value.items
    return any(isinstance(i, Sym) and i.atom is atom or
               isinstance(i, (TupleVal, Record)) and _holds(i, atom) for i in items)


def _exits(stmts: list[Any]) -> set[str]:
    """The exits among `stmts` that leave the loop they are in: its `break` and `continue`
    (not those in the bodies of loops inside it, but those in their `else` parts) and any
    `return` (not those of nested functions)."""
    found: set[str] = set()

    def visit(node: Any, inner: bool) -> None:
        if isinstance(node, (gast.FunctionDef, gast.Lambda)):
            return
        if isinstance(node, gast.Return) or \
                isinstance(node, (gast.Break, gast.Continue)) and not inner:
            found.add(type(node).__name__.lower())
        if isinstance(node, (gast.For, gast.While)):
            for child in node.body:
                visit(child, True)
            for child in node.orelse:
                visit(child, inner)
            return
        for child in gast.iter_child_nodes(node):
            visit(child, inner)
    for stmt in stmts:
        visit(stmt, False)
    return found


def _flag_breaks(stmts: list[Any], flag: str) -> list[Any]:
    """Copies of `stmts` in which each `break` of the loop they are the body of sets `flag`
    first (the `break`s of inner loops are theirs; those in their `else` parts are ours)."""
    out: list[Any] = []
    for stmt in stmts:
        if isinstance(stmt, gast.Break):
            out.append(_located(gast.Assign([_flag_name(flag, gast.Store())],
                                             gast.Constant(True, None), None), stmt))
            out.append(stmt)
            continue
        if isinstance(stmt, (gast.If, gast.For, gast.While, gast.With)):
            stmt = copy.copy(stmt)
            if not isinstance(stmt, (gast.For, gast.While)):
                stmt.body = _flag_breaks(stmt.body, flag)
            if not isinstance(stmt, gast.With):
                stmt.orelse = _flag_breaks(stmt.orelse, flag)
        out.append(stmt)
    return out


def _flag_name(flag: str, ctx: Any) -> Any:
    return gast.Name(flag, ctx, None, None)


def _located(node: Any, at: Any) -> Any:
    """`node` (and the nodes in it) placed where `at` is written, for comments and errors."""
    for inner in gast.walk(node):
        if isinstance(inner, (gast.stmt, gast.expr)):
            inner.lineno, inner.col_offset = at.lineno, at.col_offset
            inner.end_lineno = getattr(at, "end_lineno", at.lineno)
            inner.end_col_offset = getattr(at, "end_col_offset", at.col_offset)
    return node


def _always_exits(stmts: list[Any]) -> bool:
    """True when every path through `stmts` ends at a `break`, `continue` or `return`."""
    if not stmts:
        return False
    last = stmts[-1]
    if isinstance(last, (gast.Break, gast.Continue, gast.Return)):
        return True
    if isinstance(last, gast.If):
        return _always_exits(last.body) and _always_exits(last.orelse)
    return False


def _known_true(value: Value) -> bool:
    if isinstance(value, Sym) and isinstance(value.atom, Const):
        value = Static(value.atom.value)
    return isinstance(value, Static) and value.value is True


def _unset(t: Any) -> Const:
    """The value a `return` slot holds before the loop returns (never read then)."""
    if isinstance(t, Scalar):
        return Const(False if t.dtype == "bool" else 0 if "int" in t.dtype else 0.0, t)
    return Const(None, t)


def _same_function(a: Any, b: Any) -> bool:
    """`a` and `b` are the same nested function: one `def` or `lambda`, the same defaults
    (its body reads the enclosing names as they are when it is called)."""
    return isinstance(a, LocalFunction) and isinstance(b, LocalFunction) and \
        a.node is b.node and len(a.defaults) == len(b.defaults) and \
        all(x is y or isinstance(x, Static) and isinstance(y, Static) and
            _same_static(x.value, y.value) for x, y in zip(a.defaults, b.defaults))


def _returns_in(node: Any) -> list[Any]:
    """The `return` statements in `node` that return from the function it is in: not those
    of the functions defined inside it."""
    if isinstance(node, gast.Return):
        return [node]
    if isinstance(node, (gast.FunctionDef, gast.Lambda)):
        return []
    return [r for child in gast.iter_child_nodes(node) for r in _returns_in(child)]


def _may_return(stmts: list[Any]) -> bool:
    return any(_returns_in(s) for s in stmts)


def _always_returns(stmts: list[Any]) -> bool:
    if not stmts:
        return False
    last = stmts[-1]
    if isinstance(last, gast.Return):
        return True
    if isinstance(last, gast.If):
        return _always_returns(last.body) and _always_returns(last.orelse)
    return False


def _same_static(a: Any, b: Any) -> bool:
    try:
        return type(a) is type(b) and bool(a == b)
    except Exception:  # noqa: BLE001 - arrays and other values without a plain ==
        return a is b


def _rebuild(tree: Any, leaves: list[Any]) -> Value:
    it = iter(leaves)

    def build(t: Any) -> Value:
        if t is None:
            return next(it)
        if isinstance(t, KeyedTree):
            return Record("dict", t.keys, tuple(build(s) for s in t))
        return TupleVal(tuple(build(s) for s in t))
    return build(tree)


def join_types(a: Any, b: Any, loc: Any = None) -> Any:
    """The type of a value that is `a` on one path and `b` on another."""
    if a == b:
        return a
    if isinstance(a, ListOf) and isinstance(b, ListOf):
        try:
            return ListOf(prims.item_join(a.item, b.item))
        except TypeError as exc:
            raise UnsupportedSyntax("a list grown at run time whose items change type (" +
                                    plain(str(exc)) + "): not supported in differentiated code", loc,
                                    "append values of one kind: all numbers, or all arrays "
                                    "of one rank") from None
    if isinstance(a, Scalar) and isinstance(b, Scalar):
        return Scalar(promote([a, b]), a.weak and b.weak)
    if isinstance(a, (Scalar, Array)) and isinstance(b, (Scalar, Array)):
        dtype = promote([a, b])
        if isinstance(a, Array) and isinstance(b, Array) and a.ones is not None and \
                b.ones is not None and len(a.ones) == len(b.ones):
            return Array(dtype, tuple(x if x == y else None for x, y in zip(a.ones, b.ones)))
        return Array(dtype, None)
    if isinstance(a, Opaque) and isinstance(b, Opaque) and a.kind == b.kind:
        return a
    raise TypeMismatch(f"a variable is a {a} on one path and a {b} on another", loc)


class KeyedTree(tuple):  # type: ignore[type-arg]
    """The nesting of a dict result: its items' trees, as a tuple (what every pass reads),
    with the keys to rebuild the dict from."""

    keys: tuple[Any, ...] = ()

    def __eq__(self, other: object) -> bool:
        return isinstance(other, KeyedTree) and self.keys == other.keys and \
            tuple.__eq__(self, other)

    def __ne__(self, other: object) -> bool:
        return not self == other

    def __hash__(self) -> int:
        return hash((self.keys, tuple(self)))

    @staticmethod
    def of(keys: tuple[Any, ...], items: Any) -> KeyedTree:
        tree = KeyedTree(items)
        tree.keys = keys
        return tree


def _flatten_result(result: Value) -> list[Value]:
    if isinstance(result, TupleVal) or isinstance(result, Record) and result.kind == "dict":
        return [x for item in result.items for x in _flatten_result(item)]
    if isinstance(result, Static) and isinstance(result.value, tuple):
        return [Static(v) for v in result.value]
    return [result]


def _tree_of(result: Value) -> Any:
    """The nesting of a result: None for a leaf, a tuple of trees for a tuple, a
    :class:`KeyedTree` for a dict (``return loss, {"acc": acc}`` with has_aux)."""
    if isinstance(result, TupleVal):
        return tuple(_tree_of(i) for i in result.items)
    if isinstance(result, Record) and result.kind == "dict":
        return KeyedTree.of(result.keys, (_tree_of(i) for i in result.items))
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

