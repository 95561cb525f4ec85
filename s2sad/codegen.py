"""Print IR as Python source, via gast and astor.  The only module that builds output source.

Names follow the user's variables (``x``, ``x_dot``, ``x_bar``); intermediate values are
``t1``, ``t2``, ... in order of appearance.  A name is reused for a new value of the same
variable once its old value is dead (``x_bar = x_bar + t3``), otherwise it gets a suffix
(``x_1``).  Each run of statements from one source line is headed by ``# L12: <that line>``.
Operations on Python floats print as plain arithmetic and ``math`` calls; operations on arrays
as NumPy calls.  The output is deterministic: it depends only on the IR.
"""

from __future__ import annotations

import itertools
import keyword
import re
from dataclasses import dataclass
from typing import Any

import astor
import gast
import numpy as np

from .ir import Array, Atom, Const, Eqn, Function, Scalar, Var
from .rules import REGISTRY
from .runtime import Dyn

# Names the generated code gets from s2sad, never shadowed by a variable.
RUNTIME_NAMES = ("np", "math", "unbroadcast", "erf", "stop_gradient")
_COMMENT = "__s2sad_comment_"
_STATEMENT_KINDS = ("scatter", "comment")  # primitives printed as statements, never folded
_MAX_FOLD = 6  # the most operations folded into one printed expression
_SCALAR_DTYPES = ("float64", "int64", "bool")


@dataclass(frozen=True)
class Generated:
    """Source text of one function and the free names it reads besides the runtime's."""

    source: str
    name: str
    constants: tuple[tuple[str, Any], ...]  # names bound to values the code reads


@dataclass(frozen=True)
class Entry:
    """How to print a specialisation that is also the entry point users call.

    The code first checks that its arguments have the kinds it was specialised for
    (``type(x) is float``) and otherwise hands them to `fallback`, s2sad's general
    dispatcher.  Every version of an entry reads the same free names (`keep`), so one can
    replace another as the code of the same function object.
    """

    guards: tuple[tuple[str, str], ...]  # (parameter, "float" | "int")
    keep: tuple[str, ...]
    fallback: str


def generate(fn: Function, name: str | None = None, doc: str = "", returns: Any = None,
             entry: Entry | None = None) -> Generated:
    """Python source for `fn`.

    `returns` nests the results: an index, or a tuple of such (default: all, flat).
    """
    return _Printer(fn, name or fn.name, doc, returns, entry).run()


def trampoline(name: str, params: tuple[str, ...], entry: Entry) -> str:
    """Source of an entry with no specialisation yet: it only calls the fallback."""
    args = gast.arguments([gast.Name(p, gast.Param(), None, None) for p in params],
                          [], None, [], [], None, [])
    call = gast.Call(gast.Name(entry.fallback, gast.Load(), None, None),
                     [gast.Name(p, gast.Load(), None, None) for p in params], [])
    body = _keep_alive(entry) + [gast.Return(call)]
    return _to_source(gast.FunctionDef(name, args, body, [], None, None))


def _keep_alive(entry: Entry) -> list[Any]:
    names = [gast.Name(n, gast.Load(), None, None) for n in entry.keep]
    return [gast.If(gast.Constant(0, None), [gast.Expr(gast.Tuple(names, gast.Load()))], [])]


def _to_source(fdef: Any) -> str:
    module = gast.Module([fdef], [])
    gast.fix_missing_locations(module)
    return str(astor.to_source(gast.gast_to_ast(module)))


class _Printer:
    def __init__(self, fn: Function, name: str, doc: str, returns: Any,
                 entry: Entry | None) -> None:
        self.fn = fn
        self.name = name
        self.doc = doc
        self.returns = returns
        self.entry = entry
        self.names: dict[int, str] = {}
        self.holder: dict[str, int] = {}      # python name -> var id currently in it
        self.last_use: dict[int, int] = {}
        self.temps = itertools.count(1)
        self.constants: dict[str, Any] = {}
        self.reserved = set(RUNTIME_NAMES) | set(keyword.kwlist) | {name}
        if entry is not None:
            self.reserved |= set(entry.keep) | {entry.fallback}
        self.folded: set[int] = set()
        self.param_ids = {p.id for p in fn.params}
        self.result_hint = {r.id: n for r, n in zip(fn.results, fn.result_names)
                            if isinstance(r, Var) and n}
        self.def_index: dict[int, int] = {}
        self.inline: dict[int, Any] = {}
        self.comments: list[str] = []

    # -------------------------------------------------------------------------- naming

    def _plan(self) -> None:
        """Choose the temporaries to fold into their single user, then compute liveness.

        A value is folded when it is read exactly once, by a later statement, the expression
        stays small, and either it has no user-given name and its reader comes from the same
        source line, or it is the adjoint of an intermediate variable (``h_bar``), which is
        then computed inside its reader's expression: NumPy can reuse a temporary's buffer
        in place (it cannot a named local's), which spares large allocations.  Liveness is
        measured at the statement where each expression is finally printed, so a name is
        never reused while a folded expression still has to read it.
        """
        stmts = self.fn.body.stmts
        group: list[int] = []
        g, line = 0, None
        for stmt in stmts:
            assert isinstance(stmt, Eqn)
            line_now = stmt.loc.line if stmt.loc else None
            if stmt.prim == "comment" or line_now != line:
                g += 1
                line = line_now
            group.append(g)
        readers: dict[int, list[int]] = {}
        for i, stmt in enumerate(stmts):
            assert isinstance(stmt, Eqn)
            for a in stmt.atoms():
                if isinstance(a, Var):
                    readers.setdefault(a.id, []).append(i)
        returned = {r.id for r in self.fn.results if isinstance(r, Var)}
        size = [1] * len(stmts)
        for i, stmt in enumerate(stmts):
            assert isinstance(stmt, Eqn)
            size[i] += sum(size[self.def_index[a.id]] for a in stmt.atoms()
                           if isinstance(a, Var) and a.id in self.folded)
            if len(stmt.outs) != 1 or REGISTRY[stmt.prim].emit.kind in _STATEMENT_KINDS:
                continue
            v = stmt.out
            users = readers.get(v.id, [])
            self.def_index[v.id] = i
            single = v.id not in returned and len(users) == 1 and size[i] <= _MAX_FOLD
            if single and (v.hint is None and group[users[0]] == group[i] or
                           (v.hint or "").endswith("_bar") and v.id not in self.param_ids):
                self.folded.add(v.id)
        emit_at = list(range(len(stmts)))
        for i in reversed(range(len(stmts))):
            stmt = stmts[i]
            assert isinstance(stmt, Eqn)
            if stmt.outs and stmt.out.id in self.folded:
                emit_at[i] = emit_at[readers[stmt.out.id][0]]
        for i, stmt in enumerate(stmts):
            assert isinstance(stmt, Eqn)
            for a in stmt.atoms():
                if isinstance(a, Var):
                    self.last_use[a.id] = max(self.last_use.get(a.id, -1), emit_at[i])
        for r in self.fn.results:
            if isinstance(r, Var):
                self.last_use[r.id] = len(stmts)

    def _bind(self, v: Var, index: int) -> str:
        base = v.hint or self.result_hint.get(v.id)
        base = base if base and base.isidentifier() else None
        if base is None:
            while True:
                cand = f"t{next(self.temps)}"
                if cand not in self.holder and cand not in self.reserved:
                    base = cand
                    break
        cand, k = base, 0
        while True:
            held = self.holder.get(cand)
            if cand not in self.reserved and (held is None or self.last_use.get(held, -1) <= index):
                break
            k += 1
            cand = f"{base}_{k}"
        self.holder[cand] = v.id
        self.names[v.id] = cand
        return cand

    def _comment(self, text: str) -> Any:
        """A placeholder statement, replaced by ``# text`` once astor has printed the code."""
        self.comments.append(text.replace("\n", " "))
        return gast.Expr(gast.Name(f"{_COMMENT}{len(self.comments) - 1}__", gast.Load(), None, None))

    # --------------------------------------------------------------------------- atoms

    def atom(self, a: Atom) -> Any:
        if isinstance(a, Var):
            if a.id in self.inline:
                return self.inline.pop(a.id)
            return gast.Name(self.names[a.id], gast.Load(), None, None)
        return self.const(a)

    def const(self, c: Const) -> Any:
        if c.name:
            root = c.name.split(".")[0]
            if "." not in c.name and root not in self.reserved:
                self.constants[c.name] = c.value
                return gast.Name(c.name, gast.Load(), None, None)
            if root in ("np", "math"):
                return _dotted(c.name)
        return self.value(c.value)

    def value(self, v: Any) -> Any:
        if isinstance(v, float) and not np.isfinite(v):
            node = _dotted("math.nan" if v != v else "math.inf")
            return gast.UnaryOp(gast.USub(), node) if v < 0 else node
        if isinstance(v, (int, float)) and not isinstance(v, bool) and v < 0:
            return gast.UnaryOp(gast.USub(), gast.Constant(-v, None))
        if v is None or isinstance(v, (bool, int, float, str)) or v is Ellipsis:
            return gast.Constant(v, None)
        if isinstance(v, np.generic):
            return self.value(v.item())
        if isinstance(v, tuple):
            return gast.Tuple([self.value(i) for i in v], gast.Load())
        if isinstance(v, list):
            return gast.List([self.value(i) for i in v], gast.Load())
        if isinstance(v, type) and issubclass(v, np.generic):
            return _dotted(f"np.{v.__name__}")
        if isinstance(v, np.dtype):
            return _dotted(f"np.{v.name}")
        if callable(v) and getattr(np, getattr(v, "__name__", ""), None) is v:
            return _dotted(f"np.{v.__name__}")
        name = f"_c{len(self.constants) + 1}"
        self.constants[name] = v
        return gast.Name(name, gast.Load(), None, None)

    # ---------------------------------------------------------------------- statements

    def run(self) -> Generated:
        self._plan()
        for p in self.fn.params:
            self._bind(p, -1)
        body: list[Any] = []
        if self.doc:
            body.append(gast.Expr(gast.Constant(self.doc, None)))
        if self.entry is not None:
            body.extend(self._guard(self.entry))
        last_line: int | None = None
        for i, stmt in enumerate(self.fn.body.stmts):
            assert isinstance(stmt, Eqn)
            if stmt.prim == "comment":
                body.append(self._comment(str(stmt.param("text"))))
                last_line = None
                continue
            if stmt.outs and stmt.out.id in self.folded:
                self.inline[stmt.out.id] = self.expression(stmt, REGISTRY[stmt.prim].emit.kind)
                continue
            if stmt.loc is not None and stmt.loc.line != last_line:
                body.append(self._comment(f"L{stmt.loc.line}: {stmt.loc.text.strip()}"))
                last_line = stmt.loc.line
            body.extend(self.eqn(stmt, i))
        results = [self.atom(r) for r in self.fn.results]

        def nest(tree: Any) -> Any:
            if isinstance(tree, int):
                return results[tree]
            return gast.Tuple([nest(t) for t in tree], gast.Load())
        if self.returns is not None:
            ret = nest(self.returns)
        else:
            ret = results[0] if len(results) == 1 else gast.Tuple(results, gast.Load())
        body.append(gast.Return(ret))
        args = gast.arguments([gast.Name(self.names[p.id], gast.Param(), None, None)
                               for p in self.fn.params], [], None, [], [], None, [])
        text = _to_source(gast.FunctionDef(self.name, args, body, [], None, None))
        text = re.sub(r"^(\s*)" + _COMMENT + r"(\d+)__$",
                      lambda m: f"{m.group(1)}# {self.comments[int(m.group(2))]}", text, flags=re.M)
        return Generated(text, self.name, tuple(sorted(self.constants.items())))

    def _guard(self, entry: Entry) -> list[Any]:
        """``if type(x) is not float or ...: return fallback(x, ...)``, and the kept names."""
        checks = [gast.Compare(_call("type", [gast.Name(p, gast.Load(), None, None)]),
                               [gast.IsNot()], [gast.Name(kind, gast.Load(), None, None)])
                  for p, kind in entry.guards]
        test = checks[0] if len(checks) == 1 else gast.BoolOp(gast.Or(), checks)
        call = gast.Call(gast.Name(entry.fallback, gast.Load(), None, None),
                         [gast.Name(self.names[p.id], gast.Load(), None, None)
                          for p in self.fn.params], [])
        return _keep_alive(entry) + [gast.If(test, [gast.Return(call)], [])]

    def eqn(self, e: Eqn, index: int) -> list[Any]:
        emit = REGISTRY[e.prim].emit
        if emit.kind == "scatter":
            return self.scatter(e, index)
        expr = self.expression(e, emit.kind)
        targets = [gast.Name(self._bind(v, index), gast.Store(), None, None) for v in e.outs]
        target = targets[0] if len(targets) == 1 else gast.Tuple(targets, gast.Store())
        return [gast.Assign([target], expr, None)]

    def expression(self, e: Eqn, kind: str) -> Any:
        emit = REGISTRY[e.prim].emit
        args = [self.atom(a) for a in e.args]
        if kind == "binop":
            return gast.BinOp(args[0], _BINOP[emit.op](), args[1])
        if kind == "unop":
            return gast.UnaryOp(gast.USub(), args[0])
        if kind == "compare":
            return gast.Compare(args[0], [_CMPOP[emit.op]()], [args[1]])
        if kind == "call":
            callee = emit.op
            if emit.scalar and all(isinstance(a.type, Scalar) and a.type.dtype in _SCALAR_DTYPES
                                   for a in e.args):
                if emit.scalar == "sign":
                    return _call("math.copysign", [gast.Constant(1.0, None), args[0]])
                callee = emit.scalar
            pos = [self.atom(dict(e.params)[k]) for k in emit.positional if k in dict(e.params)]
            kws = [gast.keyword(k, self.atom(v)) for k, v in e.params if k not in emit.positional]
            return _call(callee, args + pos, kws)
        if kind == "method":
            pos = [self.atom(dict(e.params)[k]) for k in emit.positional if k in dict(e.params)]
            return gast.Call(gast.Attribute(args[0], emit.op, gast.Load()), args[1:] + pos, [])
        if kind == "runtime":
            return _call(e.prim, args)
        if kind == "getitem":
            return gast.Subscript(args[0], self.index(e.param("spec"), args[1:]), gast.Load())
        if kind == "transpose":
            axes = e.param("axes")
            if axes is None:
                return gast.Attribute(args[0], "T", gast.Load())
            return _call("np.transpose", [args[0], self.value(axes)])
        if kind == "fill":
            return _call("np.full_like", [args[1], args[0]])
        if kind == "tuple":
            return gast.Tuple(args, gast.Load())
        if kind == "pack":
            return _call("np.array", [gast.List(args, gast.Load())])
        if kind == "broadcast_to":
            like = e.args[1]
            shape = _call("np.shape", [args[1]])
            if isinstance(like.type, Scalar):
                return args[0]
            return _call("np.broadcast_to", [args[0], shape])
        if kind == "construct":
            fn = e.param("fn")
            kws = [gast.keyword(k, self.value(v)) for k, v in e.param("keywords", ())]
            return _call(f"np.{fn.__name__}", args, kws)
        if kind == "scatter":
            return None
        raise NotImplementedError(f"no printer for primitive {e.prim} ({kind})")

    def index(self, spec: Any, dyn: list[Any]) -> Any:
        def item(s: Any) -> Any:
            if isinstance(s, Dyn):
                return dyn[s.k]
            if isinstance(s, slice):
                return gast.Slice(*(None if p is None else item(p) for p in (s.start, s.stop, s.step)))
            return self.value(s)
        items = [item(s) for s in spec]
        return items[0] if len(items) == 1 else gast.Tuple(items, gast.Load())

    def scatter(self, e: Eqn, index: int) -> list[Any]:
        """``out = np.zeros_like(like); out[idx] = v`` (np.add.at for array indices)."""
        v, like, *dyn = [self.atom(a) for a in e.args]
        name = self._bind(e.out, index)
        zeros = gast.Assign([gast.Name(name, gast.Store(), None, None)],
                            _call("np.zeros_like", [like]), None)
        idx = self.index(e.param("spec"), dyn)
        advanced = any(isinstance(a.type, Array) for a in e.args[2:])
        if advanced:
            put = gast.Expr(_call("np.add.at", [gast.Name(name, gast.Load(), None, None), idx, v]))
        else:
            put = gast.Assign([gast.Subscript(gast.Name(name, gast.Load(), None, None), idx,
                                              gast.Store())], v, None)
        return [zeros, put]


_BINOP = {"+": gast.Add, "-": gast.Sub, "*": gast.Mult, "/": gast.Div, "**": gast.Pow,
          "@": gast.MatMult, "//": gast.FloorDiv, "%": gast.Mod}
_CMPOP = {"<": gast.Lt, "<=": gast.LtE, ">": gast.Gt, ">=": gast.GtE, "==": gast.Eq,
          "!=": gast.NotEq}


def _dotted(name: str) -> Any:
    parts = name.split(".")
    node: Any = gast.Name(parts[0], gast.Load(), None, None)
    for p in parts[1:]:
        node = gast.Attribute(node, p, gast.Load())
    return node


def _call(callee: str, args: list[Any], kws: list[Any] | None = None) -> Any:
    return gast.Call(_dotted(callee), args, kws or [])


