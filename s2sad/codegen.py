"""Print IR as Python source, via gast and astor.  The only module that builds output source.

Names follow the user's variables (``x``, ``x_dot``, ``x_bar``); intermediate values are
``t1``, ``t2``, ... in order of appearance.  A name is reused for a new value of the same
variable once its old value is dead (``x_bar = x_bar + t3``), otherwise it gets a suffix
(``x_1``).  Each run of statements from one source line is headed by ``# L12: <that line>``.
Operations on Python floats print as plain arithmetic and ``math`` calls; operations on arrays
as NumPy calls.  The output is deterministic: it depends only on the IR.
"""

from __future__ import annotations

import copy
import itertools
import keyword
import re
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import astor
import gast
import numpy as np

from .ir import (
    UNDEF,
    Array,
    Atom,
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
    line_label,
    stmt_atoms,
    sub_blocks,
    walk,
)
from .rules import LIST_RULES, REGISTRY
from .runtime import Dyn

# Names the generated code gets from s2sad, never shadowed by a variable.
RUNTIME_NAMES = ("np", "math", "unbroadcast", "erf", "stop_gradient", "jacobian_seed",
                 "jacobian_block", "jacobian_unblock", "check_broadcast", "check_matmul")
_COMMENT = "__s2sad_comment_"
_STATEMENT_KINDS = ("scatter", "comment", "tape", "push", "pop", "setitem", "list_append",
                    "list_pop", "list_addat")
_SHAPE_ONLY = frozenset({"zeros_like", "ones_like", "shape", "size", "len"})
# Results that may share memory with an operand or a caller's array: never written in place.
_MAY_SHARE = frozenset({"getitem", "transpose", "reshape", "ravel", "expand_dims", "swapaxes",
                        "broadcast_to", "broadcast_to_shape", "squeeze", "diagonal", "flip",
                        "moveaxis", "atleast",
                        "stop_gradient", "pop", "astype", "fill", "unbroadcast", "tuple",
                        "list_getitem", "list_pop",
                        "construct_like"})  # primitives printed as statements, never folded
_MAX_FOLD = 6  # the most operations folded into one printed expression
_SCALAR_DTYPES = ("float64", "int64", "bool")


@dataclass(frozen=True)
class Generated:
    """Source text of one function and the free names it reads besides the runtime's."""

    source: str
    name: str
    constants: tuple[tuple[str, Any], ...]  # names bound to values the code reads
    # what it reads live besides the user's globals and cells: (module, attribute, value)
    # for another module's global, (cell, name, value) for a closure cell of a helper
    reads: tuple[tuple[Any, str, Any], ...] = ()


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
    # module globals the code fixed: (name, "id", id) for a function, (name, "is", value)
    # for True/False/None, (name, "eq", value) for a string; (name, "attr", (attribute,
    # other)) for `name.attribute is not other`; checked before the fast path
    fixed: tuple[tuple[str, str, Any], ...] = ()


def generate(fn: Function, name: str | None = None, doc: str = "", returns: Any = None,
             entry: Entry | None = None, cells: dict[str, Any] | None = None,
             itself: Any = None) -> Generated:
    """Python source for `fn`.

    `returns` nests the results: an index, or a tuple of such (default: all, flat).
    `cells` are the closure cells of the user's function by name and what each holds: the
    code reads them under those names, so nothing else may take one.  `itself(f)` is true of
    a function the code may call by its own name (s2sad's derivative it is, in a recursion).
    """
    return _Printer(fn, name or fn.name, doc, returns, entry, cells or {}, itself).run()


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
                 entry: Entry | None, cells: dict[str, Any], itself: Any = None) -> None:
        self.fn = fn
        self.cells = cells
        self.itself = itself
        self.own: set[str] = set()           # the user's globals and cells read by name
        self.read_names: dict[int, str] = {}  # id(module, cell or function) -> its name
        self.reads: dict[tuple[int, str], tuple[Any, str, Any]] = {}
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
        self.inline: dict[int, Any] = {}
        self.pos: dict[int, int] = {}
        self.end: dict[int, int] = {}
        self.block_end: dict[int, int] = {}
        self.def_path: dict[int, tuple[int, ...]] = {}
        self.fold_reader: dict[int, Any] = {}
        self.mirror = dict(fn.mirrors)
        self.reads_of: dict[int, int] = {}
        self.producer: dict[int, Stmt] = {}
        self.carried_init: dict[int, Atom] = {}
        self.carried_next: dict[int, Atom] = {}  # a loop's carried value -> its next value
        self.stored: set[int] = set()  # arrays a list holds
        self.comments: list[str] = []

    # -------------------------------------------------------------------------- naming

    def _plan(self) -> None:
        """Number the statements, choose what to fold, and compute liveness.

        Statements are numbered in order, a region's blocks inside it.  A value is folded
        into its reader when it is read exactly once, by a later statement of the same block
        (or as that block's result), the expression stays small, and either it has no
        user-given name and its reader comes from the same source line, or it is the adjoint
        of an intermediate variable (``h_bar``), which is then computed inside its reader's
        expression: NumPy can reuse a temporary's buffer in place (it cannot a named
        local's), which spares large allocations.  A value read inside a region it was not
        defined in stays live to the region's end (a loop reads it again on its next trip);
        reads by folded expressions count where those are printed.
        """
        counter = itertools.count()
        reads: list[tuple[int, int, tuple[int, ...], Any]] = []
        block_of: dict[int, int] = {}      # id(stmt) -> id(its block's statement tuple)

        def number(stmts: tuple[Stmt, ...], path: tuple[int, ...]) -> None:
            for st in stmts:
                p = next(counter)
                self.pos[id(st)] = p
                block_of[id(st)] = id(stmts)
                for a in stmt_atoms(st):
                    if isinstance(a, Var):
                        reads.append((a.id, p, path, id(st)))
                for block, results, bound in sub_blocks(st):
                    inner = path + (id(st),)
                    for v in bound:
                        self.def_path[v.id] = inner
                    number(block.stmts, inner)
                    q = next(counter)
                    self.block_end[id(block.stmts)] = q
                    for r in results:
                        if isinstance(r, Var):
                            reads.append((r.id, q, inner, ("result", id(block.stmts))))
                self.end[id(st)] = next(counter)
                for v in st.outs:
                    self.def_path[v.id] = path
                    self.producer[v.id] = st
                if isinstance(st, (ForRange, While)):
                    for c, i, r in zip(st.carried, st.inits, st.body_results):
                        self.carried_init[c.id] = i
                        self.carried_next[c.id] = r
                if isinstance(st, Eqn) and st.prim in ("list_append", "list_of", "list_fill",
                                                       "list_addat"):
                    self.stored.update(a.id for a in st.args[st.prim in ("list_append",
                                                                       "list_addat"):]
                                       if isinstance(a, Var))

        for prm in self.fn.params:
            self.def_path[prm.id] = ()
        number(self.fn.body.stmts, ())
        final = next(counter)
        for r in self.fn.results:
            if isinstance(r, Var):
                reads.append((r.id, final, (), None))
        by_var: dict[int, list[tuple[int, int, tuple[int, ...], Any]]] = {}
        for rec in reads:
            by_var.setdefault(rec[0], []).append(rec)
        # Reads that keep a reference (or see the values): shape-only reads do neither.
        shape_only = {id(st) for st in walk(self.fn.body)
                      if isinstance(st, Eqn) and st.prim in _SHAPE_ONLY}
        self.reads_of = {k: sum(1 for r in v if r[3] not in shape_only)
                         for k, v in by_var.items()}
        returned = {r.id for r in self.fn.results if isinstance(r, Var)}

        def fold(stmts: tuple[Stmt, ...]) -> None:
            group: dict[int, int] = {}
            g, line = 0, None
            for st in stmts:
                line_now = st.loc.line if st.loc else None
                if isinstance(st, Eqn) and st.prim == "comment" or line_now != line:
                    g += 1
                    line = line_now
                group[id(st)] = g
            size: dict[int, int] = {}
            last_group = g
            at = {id(st): k for k, st in enumerate(stmts)}
            reads_list: set[int] = set()  # values whose expression reads a list
            pops: set[int] = set()        # values whose expression pops from a list
            for st in stmts:
                for inner, _, _ in sub_blocks(st):
                    fold(inner.stmts)
                popped = isinstance(st, Eqn) and st.prim == "list_pop"  # ``xs.pop()`` folds
                if not popped and (not isinstance(st, Eqn) or len(st.outs) != 1 or
                                   REGISTRY[st.prim].emit.kind in _STATEMENT_KINDS):
                    continue
                v = st.outs[0]
                size[v.id] = 1 + sum(size.get(a.id, 0) for a in st.atoms()
                                     if isinstance(a, Var) and a.id in self.folded)
                if any(isinstance(a, Var) and (isinstance(a.type, ListOf) or a.id in reads_list)
                       for a in st.atoms()):
                    reads_list.add(v.id)
                if popped or any(isinstance(a, Var) and a.id in pops and a.id in self.folded
                                 for a in st.atoms()):
                    pops.add(v.id)
                recs = by_var.get(v.id, [])
                if v.id in returned or len(recs) != 1 or size[v.id] > _MAX_FOLD:
                    continue
                reader = recs[0][3]
                target = stmts[at[reader]] if isinstance(reader, int) and reader in at else None
                if isinstance(target, Eqn) and target.prim == "setitem" and \
                        target.args[0] is v and st.prim not in _MAY_SHARE:
                    continue  # written in place (see exclusive): it needs its name
                if isinstance(reader, int) and block_of.get(reader) == id(stmts):
                    same_line = group.get(reader) == group[id(st)]
                    between = stmts[at[id(st)] + 1:at[reader]]
                elif reader == ("result", id(stmts)):
                    same_line = group[id(st)] == last_group
                    between = stmts[at[id(st)] + 1:]
                else:
                    continue
                if v.id in reads_list and any(_changes_a_list(x) for x in between):
                    continue  # a read of a list stays before the list changes
                if (popped or isinstance(v.type, ListOf)) and isinstance(reader, int) and \
                        _changes_a_list(stmts[at[reader]]) and \
                        isinstance(stmts[at[reader]], Eqn):
                    continue  # a list changed in place is a name
                if v.id in pops and (any(_reads_a_list(x) for x in between) or
                                     isinstance(reader, int) and
                                     (_reads_a_list(stmts[at[reader]]) or
                                      any(isinstance(a, Var) and a.id in reads_list and a is not v
                                          for a in stmt_atoms(stmts[at[reader]])))):
                    continue  # what reads a list reads it after the pop, as written
                if v.hint is None and same_line or \
                        (v.hint or "").endswith("_bar") and v.id not in self.param_ids and \
                        not isinstance(v.type, ListOf):
                    self.folded.add(v.id)
                    self.fold_reader[id(st)] = reader

        fold(self.fn.body.stmts)

        def emitted_at(stmt_id: int) -> int:
            reader = self.fold_reader.get(stmt_id)
            if reader is None:
                return self.pos[stmt_id]
            if isinstance(reader, int):
                return emitted_at(reader)
            return self.block_end[reader[1]]

        for var_id, p, path, reader in reads:
            if isinstance(reader, int):
                p = emitted_at(reader)
            d = self.def_path.get(var_id, ())
            common = 0
            while common < min(len(d), len(path)) and d[common] == path[common]:
                common += 1
            if len(path) > common:  # read inside a region the value comes from outside of
                p = self.end[path[common]]
            self.last_use[var_id] = max(self.last_use.get(var_id, -1), p)

    def _bind(self, v: Var, index: int, busy: frozenset[int] = frozenset()) -> str:
        """Choose `v`'s name at statement `index`: a name whose value is dead by then, and
        not one held by a variable in `busy` (read after `v` is assigned, in a later part of
        the same printed statement)."""
        mirror = self.mirror.get(v.id)
        base = self.names.get(mirror) if mirror is not None else None
        base = base or v.hint or self.result_hint.get(v.id)
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
            if cand not in self.reserved and (held is None or held not in busy and
                                              self.last_use.get(held, -1) <= index):
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
        if c.name and c.origin is not None:
            name = self._read_name(c)
            if isinstance(c.origin, ModuleType):
                attr = c.name.rsplit(".", 1)[1]
                self.reads.setdefault((id(c.origin), attr), (c.origin, attr, c.value))
                return _dotted(f"{name}.{attr}")
            self.reads.setdefault((id(c.origin), name), (c.origin, name, c.value))
            return gast.Name(name, gast.Load(), None, None)
        if c.name:
            if c.name in self.own:
                return gast.Name(c.name, gast.Load(), None, None)
            if c.name.split(".")[0] in ("np", "math"):
                return _dotted(c.name)
        return self.value(c.value)

    def _name_reads(self) -> None:
        """Name what the code reads by name before any local is named (locals never take
        these names): the user's own globals and cells keep theirs; another module is read
        under the name the lowering chose (the user's for it), a closure cell of a function
        the user's calls under the cell's, a function called by name (custom rules,
        recursion) under its own, each with a suffix where two things would share a name."""
        consts: list[Const] = []
        calls: list[Any] = []
        for st in walk(self.fn.body):
            atoms = list(stmt_atoms(st))
            for _, results, _ in sub_blocks(st):
                atoms += results
            consts += [a for a in atoms if isinstance(a, Const) and a.name]
            if isinstance(st, Eqn) and REGISTRY[st.prim].emit.kind == "custom":
                calls.append(st.prim)
        consts += [r for r in self.fn.results if isinstance(r, Const) and r.name]
        for c in consts:
            if c.origin is None and "." not in c.name and c.name not in self.reserved:
                self.own.add(c.name)
                self.constants[c.name] = c.value
        for c in consts:
            if c.origin is not None:
                self._read_name(c)
        for prim in calls:
            self._call_name(REGISTRY[prim].emit.op, REGISTRY[prim].impl)
        self.reserved |= set(self.constants)

    def _read_name(self, c: Const) -> str:
        name = self.read_names.get(id(c.origin))
        if name is None:
            base = c.name.rsplit(".", 1)[0] if isinstance(c.origin, ModuleType) else c.name
            name = self.read_names[id(c.origin)] = self._fresh(base, c.origin)
        return name

    def _call_name(self, base: str, fn: Any) -> str:
        name = self.read_names.get(id(fn))
        if name is None and base == self.name and self.itself is not None and self.itself(fn):
            name = self.read_names[id(fn)] = base  # the code itself: a call of the same code
            self.constants[base] = fn
        if name is None:
            name = self.read_names[id(fn)] = self._fresh(base, fn)
        return name

    def _fresh(self, base: str, obj: Any) -> str:
        """`base`, or `base_2`, ...: the first name no other value holds in the code."""
        cand, k = base, 1
        while cand in self.own or self.constants.get(cand, obj) is not obj or \
                self.cells.get(cand, obj) is not obj or \
                cand in self.reserved and cand not in self.constants:
            k += 1
            cand = f"{base}_{k}"
        self.constants[cand] = obj
        self.reserved.add(cand)
        return cand

    def value(self, v: Any) -> Any:
        if isinstance(v, float) and not np.isfinite(v):
            node = _dotted("math.nan" if np.isnan(v) else "math.inf")
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
        self._name_reads()
        self._plan()
        for p in self.fn.params:
            self._bind(p, -1)
        body: list[Any] = []
        if self.doc:
            body.append(gast.Expr(gast.Constant(self.doc, None)))
        if self.entry is not None:
            body.extend(self._guard(self.entry))
        body.extend(self.block(self.fn.body.stmts, None))
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
                      lambda m: f"{m.group(1)}# {self.comments[int(m.group(2))]}", text, flags=re.MULTILINE)
        return Generated(text, self.name, tuple(sorted(self.constants.items())),
                         tuple(self.reads.values()))

    def block(self, stmts: tuple[Stmt, ...], line: tuple[str, int] | None) -> list[Any]:
        """The statements of a block, each run of one source line headed by its comment."""
        body: list[Any] = []
        last_line = line
        for stmt in stmts:
            if isinstance(stmt, Eqn) and stmt.prim == "comment":
                body.append(self._comment(str(stmt.param("text"))))
                last_line = None
                continue
            if isinstance(stmt, Eqn) and stmt.outs and stmt.out.id in self.folded:
                self.inline[stmt.out.id] = self.expression(stmt, REGISTRY[stmt.prim].emit.kind)
                if stmt.prim == "list_pop":  # ``xs.pop()`` inside its reader: xs keeps its name
                    name = self.names[stmt.args[0].id]
                    self.names[stmt.outs[1].id] = name
                    self.holder[name] = stmt.outs[1].id
                continue
            if stmt.loc is not None and (stmt.loc.file, stmt.loc.line) != last_line:
                body.append(self._comment(f"{line_label(stmt.loc, self.fn.loc)}: "
                                          f"{stmt.loc.text.strip()}"))
                last_line = (stmt.loc.file, stmt.loc.line)
            if isinstance(stmt, Eqn):
                body.extend(self.eqn(stmt, self.pos[id(stmt)]))
            else:
                body.extend(self.region(stmt, last_line))
        return body

    def values(self, atoms: tuple[Atom, ...]) -> list[Any]:
        """Expressions for the atoms a block yields; UNDEF (a value this path never computes
        but a tape may still save) prints as None."""
        return [gast.Constant(None, None) if isinstance(a, Const) and a.value is UNDEF
                else self.atom(a) for a in atoms]

    def copies(self, targets: tuple[Var, ...], values: list[Any]) -> list[Any]:
        """``a, b = x, y`` for the targets whose value is not already in their name."""
        pairs = [(self.names[t.id], v) for t, v in zip(targets, values)
                 if not (isinstance(v, gast.Name) and v.id == self.names[t.id])]
        if not pairs:
            return []
        if len(pairs) == 1:
            return [gast.Assign([gast.Name(pairs[0][0], gast.Store(), None, None)], pairs[0][1],
                                None)]
        return [gast.Assign([gast.Tuple([gast.Name(n, gast.Store(), None, None) for n, _ in pairs],
                                        gast.Store())],
                            gast.Tuple([v for _, v in pairs], gast.Load()), None)]

    def region(self, s: Stmt, line: tuple[str, int] | None) -> list[Any]:
        p, e = self.pos[id(s)], self.end[id(s)]
        if isinstance(s, If):
            test = self.atom(s.cond)
            then = self.block(s.then.stmts, line)
            then_vals = self.values(s.then_results)
            orelse = self.block(s.orelse.stmts, line)
            else_vals = self.values(s.else_results)
            for o in s.outs:
                self._bind(o, e)
            then += self.copies(s.outs, then_vals)
            orelse += self.copies(s.outs, else_vals)
            if not then and orelse:  # `if c: pass else: ...` reads better as `if not c: ...`
                return [gast.If(gast.UnaryOp(gast.Not(), test), orelse, [])]
            return [gast.If(test, then or [gast.Pass()], orelse)]
        pre_vals = [self.atom(a) for a in s.inits]
        if isinstance(s, ForRange):
            bounds = [self.atom(a) for a in (s.start, s.stop, s.step)]
        for c in s.carried:
            self._bind(c, p)
        out = self.copies(s.carried, pre_vals)
        if isinstance(s, ForRange):
            index = self._bind(s.index, p)
            body = self.block(s.body.stmts, line)
            body += self.copies(s.carried, self.values(s.body_results))
            start, step = s.start, s.step
            if _is_const(step, 1):
                bounds = bounds[1:2] if _is_const(start, 0) else bounds[:2]
            it = _call("range", bounds)
            if s.reverse:
                it = _call("reversed", [it])
            out.append(gast.For(gast.Name(index, gast.Store(), None, None), it,
                                body or [gast.Pass()], [], None))
        else:
            cond = self.block(s.cond.stmts, line)
            test = self.atom(s.cond_result)
            body = self.block(s.body.stmts, line)
            body += self.copies(s.carried, self.values(s.body_results))
            if cond:
                stop_now = gast.If(gast.UnaryOp(gast.Not(), test), [gast.Break()], [])
                out.append(gast.While(gast.Constant(True, None), cond + [stop_now] + body, []))
            else:
                out.append(gast.While(test, body or [gast.Pass()], []))
        for o, c in zip(s.outs, s.carried):
            self.names[o.id] = self.names[c.id]
            self.holder[self.names[c.id]] = o.id
        return out

    def _guard(self, entry: Entry) -> list[Any]:
        """``if type(x) is not float or ...: return fallback(x, ...)``, and the kept names."""
        checks = [gast.Compare(_call("type", [gast.Name(p, gast.Load(), None, None)]),
                               [gast.IsNot()], [gast.Name(kind, gast.Load(), None, None)])
                  for p, kind in entry.guards]
        for name, how, value in entry.fixed:
            load = gast.Name(name, gast.Load(), None, None)
            if how == "id":
                checks.append(gast.Compare(_call("id", [load]), [gast.NotEq()],
                                           [gast.Constant(value, None)]))
            elif how == "attr":  # (attribute, name): `name.attribute is not other`
                attr, other = value
                checks.append(gast.Compare(gast.Attribute(load, attr, gast.Load()),
                                           [gast.IsNot()], [gast.Name(other, gast.Load(),
                                                                      None, None)]))
            else:
                checks.append(gast.Compare(load, [gast.IsNot() if how == "is" else gast.NotEq()],
                                           [gast.Constant(value, None)]))
        test = checks[0] if len(checks) == 1 else gast.BoolOp(gast.Or(), checks)
        call = gast.Call(gast.Name(entry.fallback, gast.Load(), None, None),
                         [gast.Name(self.names[p.id], gast.Load(), None, None)
                          for p in self.fn.params], [])
        return _keep_alive(entry) + [gast.If(test, [gast.Return(call)], [])]

    def exclusive(self, a: Atom) -> bool:
        """True when writing into `a` in place cannot be seen through any other name: it is
        read once (by the write), and it is an array this code made, not a view of another,
        or a loop's value whose initial array is itself exclusive (and whose value from the
        trip before is not in a list)."""
        if not isinstance(a, Var) or self.reads_of.get(a.id, 0) != 1:
            return False
        st = self.producer.get(a.id)
        if isinstance(st, Eqn):
            return st.prim not in _MAY_SHARE
        init, last = self.carried_init.get(a.id), self.carried_next.get(a.id)
        return init is not None and self.exclusive(init) and \
            not (isinstance(last, Var) and last.id in self.stored)

    def setitem(self, e: Eqn, index: int) -> list[Any]:
        """``x[idx] = v``, in place when x is exclusive; on a copy of x otherwise."""
        x, v, *dyn = e.args
        bound: list[Any] = []
        if isinstance(x, Var) and x.id in self.inline and self.exclusive(x):
            # a folded expression (an adjoint `y_bar` written into): give it its name first
            name = self._bind(x, index)
            bound = [gast.Assign([gast.Name(name, gast.Store(), None, None)],
                                 self.inline.pop(x.id), None)]
        target = self.atom(x)
        value = self.atom(v)
        idx = self.index(e.param("spec"), [self.atom(d) for d in dyn])
        if self.exclusive(x):
            name = self.names[x.id]
            self.names[e.out.id] = name
            self.holder[name] = e.out.id
            return bound + [gast.Assign([gast.Subscript(target, idx, gast.Store())], value,
                                        None)]
        # ``out = x.copy(); out[idx] = v``: v and idx are read after out is assigned (x in
        # them reads the copy, still equal to x)
        name = self._bind(e.out, index, self._reads_after(e.args[1:]) - {x.id})
        copy = gast.Call(gast.Attribute(target, "copy", gast.Load()), [], [])
        return [gast.Assign([gast.Name(name, gast.Store(), None, None)], copy, None),
                gast.Assign([gast.Subscript(gast.Name(name, gast.Load(), None, None), idx,
                                            gast.Store())], value, None)]

    def _reads_after(self, atoms: tuple[Atom, ...]) -> frozenset[int]:
        """The variables whose names printing `atoms` reads, folded expressions included."""
        out: set[int] = set()
        todo = [a for a in atoms if isinstance(a, Var)]
        while todo:
            a = todo.pop()
            if a.id in out:
                continue
            out.add(a.id)
            st = self.producer.get(a.id)
            if a.id in self.folded and isinstance(st, Eqn):
                todo.extend(b for b in st.atoms() if isinstance(b, Var))
        return frozenset(out)

    def list_in_place(self, e: Eqn, index: int) -> list[Any]:
        """``xs.append(x)``, ``t = xs.pop()``, ``xs[i] = xs[i] + v``: the list's next version
        keeps its name (the IR reads a version only before the next one is made)."""
        xs, *rest = e.args
        name = self.names[xs.id]
        args = [self.atom(a) for a in rest]
        load = gast.Name(name, gast.Load(), None, None)
        if e.prim == "list_append":
            stmt = gast.Expr(gast.Call(gast.Attribute(load, "append", gast.Load()), args, []))
        elif e.prim == "list_addat":
            i, v = args
            item = gast.Subscript(load, copy.deepcopy(i), gast.Load())
            stmt = gast.Assign([gast.Subscript(gast.Name(name, gast.Load(), None, None), i,
                                               gast.Store())],
                               gast.BinOp(item, gast.Add(), v), None)
        else:
            target = gast.Name(self._bind(e.outs[0], index), gast.Store(), None, None)
            stmt = gast.Assign([target], gast.Call(gast.Attribute(load, "pop", gast.Load()),
                                                   [], []), None)
        version = next(v for v in e.outs if isinstance(v.type, ListOf))
        self.names[version.id] = name
        self.holder[name] = version.id
        return [stmt]

    def eqn(self, e: Eqn, index: int) -> list[Any]:
        emit = REGISTRY[e.prim].emit
        if emit.kind == "scatter":
            return self.scatter(e, index)
        if emit.kind == "setitem":
            return self.setitem(e, index)
        if emit.kind in ("list_append", "list_pop", "list_addat"):
            return self.list_in_place(e, index)
        expr = self.expression(e, emit.kind)
        targets = [gast.Name(self._bind(v, index), gast.Store(), None, None) for v in e.outs]
        if not targets:
            return [gast.Expr(expr)]
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
                if emit.scalar == "where":  # numbers: a conditional expression, no 0-d array
                    return gast.IfExp(args[0], args[1], args[2])
                if emit.scalar == "sign":  # np.sign: 0.0 at 0 (copysign would give 1.0)
                    return _call("float", [gast.BinOp(
                        gast.Compare(args[0], [gast.Gt()], [gast.Constant(0, None)]), gast.Sub(),
                        gast.Compare(copy.deepcopy(args[0]), [gast.Lt()], [gast.Constant(0, None)]))])
                callee = emit.scalar
            pos = [self.atom(dict(e.params)[k]) for k in emit.positional if k in dict(e.params)]
            kws = [gast.keyword(k, self.atom(v)) for k, v in e.params if k not in emit.positional]
            return _call(callee, args + pos, kws)
        if kind == "method":
            pos = [self.atom(dict(e.params)[k]) for k in emit.positional if k in dict(e.params)]
            return gast.Call(gast.Attribute(args[0], emit.op, gast.Load()), args[1:] + pos, [])
        if kind == "hook":  # only without simplify: the identity
            return args[0]
        if kind == "custom":  # a user function with custom rules: called by its own name
            name = self._call_name(emit.op, REGISTRY[e.prim].impl)
            return gast.Call(gast.Name(name, gast.Load(), None, None), args, [])
        if kind in ("sequence", "runtime"):  # (apply dropped the parameters at defaults)
            kws = [gast.keyword(k, self.atom(v)) for k, v in e.params]
            if kind == "runtime":
                return _call(e.prim, args, kws)
            return _call(emit.op, [gast.List(args, gast.Load())], kws)  # np.stack([a, b])
        if kind == "getitem":
            return gast.Subscript(args[0], self.index(e.param("spec"), args[1:]), gast.Load())
        if kind == "transpose":
            axes = e.param("axes")
            if axes is None:
                return gast.Attribute(args[0], "T", gast.Load())
            return _call("np.transpose", [args[0], self.value(axes)])
        if kind == "fill":
            return _call("np.full_like", [args[1], args[0]])
        if kind == "tape":
            return gast.List([], gast.Load())
        if kind == "push":
            saved = args[1:]
            item = saved[0] if len(saved) == 1 else gast.Tuple(saved, gast.Load())
            return gast.Call(gast.Attribute(args[0], "append", gast.Load()), [item], [])
        if kind == "pop":
            return gast.Call(gast.Attribute(args[0], "pop", gast.Load()), [], [])
        if kind == "tuple":
            return gast.Tuple(args, gast.Load())
        if kind.startswith("list_"):
            return self.list_expression(e, kind, args)
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

    def list_expression(self, e: Eqn, kind: str, args: list[Any]) -> Any:
        """The primitives that make lists, and ``xs[i]``, ``np.stack(xs)``."""
        if kind == "list_new":
            return gast.List([], gast.Load())
        if kind == "list_pop":  # folded into the expression that reads the item
            return gast.Call(gast.Attribute(args[0], "pop", gast.Load()), [], [])
        if kind == "list_of":
            return gast.List(args, gast.Load())
        if kind == "list_getitem":
            return gast.Subscript(args[0], args[1], gast.Load())
        if kind == "list_stack":
            how = e.param("how", "stack")
            if how == "like":
                return _call("np.reshape", [args[0], _call("np.shape", [args[1]])])
            return _call("np.stack" if how == "stack" else "np.array", args)
        if kind == "list_fill":
            return gast.BinOp(gast.List([args[0]], gast.Load()), gast.Mult(),
                              _call("len", [args[1]]))
        if kind == "list_zeros":
            item = e.args[0].type.item  # type: ignore[union-attr]
            if not isinstance(item, Array):
                return gast.BinOp(gast.List([gast.Constant(0.0, None)], gast.Load()),
                                  gast.Mult(), _call("len", args))
            (a,) = _fresh(1, args)
            return _list_comp(_call("np.zeros_like", [_load(a)]), [a], args[0])
        if kind == "list_addall":
            (a,) = _fresh(1, args)
            return _list_comp(gast.BinOp(_load(a), gast.Add(), args[1]), [a], args[0])
        if kind == "list_add":
            a, b = _fresh(2, args)
            rows = [x.args[0] if isinstance(x, gast.Call) and isinstance(x.func, gast.Name) and
                    x.func.id == "list" and len(x.args) == 1 else x for x in args]
            return _list_comp(gast.BinOp(_load(a), gast.Add(), _load(b)), [a, b],
                              _call("zip", rows))  # zip(xs, list(g)) is zip(xs, g)
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
        # ``out = np.zeros_like(like); out[idx] = v``: v and idx are read after out is assigned
        name = self._bind(e.out, index, self._reads_after(e.args[:1] + e.args[2:]))
        zeros = gast.Assign([gast.Name(name, gast.Store(), None, None)],
                            _call("np.zeros_like", [like]), None)
        idx = self.index(e.param("spec"), dyn)
        advanced = any(isinstance(a.type, Array) for a in e.args[2:])
        if advanced:  # repeated indices must accumulate: np.add.at, the index as np.s_[...]
            put = gast.Expr(_call("np.add.at", [gast.Name(name, gast.Load(), None, None),
                                                gast.Subscript(_dotted("np.s_"), idx, gast.Load()),
                                                v]))
        else:
            put = gast.Assign([gast.Subscript(gast.Name(name, gast.Load(), None, None), idx,
                                              gast.Store())], v, None)
        return [zeros, put]


_BINOP = {"+": gast.Add, "-": gast.Sub, "*": gast.Mult, "/": gast.Div, "**": gast.Pow,
          "@": gast.MatMult, "//": gast.FloorDiv, "%": gast.Mod}
_CMPOP = {"<": gast.Lt, "<=": gast.LtE, ">": gast.Gt, ">=": gast.GtE, "==": gast.Eq,
          "!=": gast.NotEq}


def _reads_a_list(st: Stmt) -> bool:
    return not isinstance(st, Eqn) or any(isinstance(a.type, ListOf) for a in st.atoms())


def _changes_a_list(st: Stmt) -> bool:
    """True for a statement that may change a list in place (a region: inside it)."""
    if not isinstance(st, Eqn):
        return True
    rules = LIST_RULES.get(st.prim)
    return rules is not None and rules.in_place


def _fresh(k: int, nodes: list[Any]) -> list[str]:
    """`k` short names for the variables of a comprehension over `nodes`, none of which
    these expressions read."""
    used = {n.id for node in nodes for n in gast.walk(node) if isinstance(n, gast.Name)}
    return [c for c in ("a", "b", "c", "d", "u", "v", "w", "z") if c not in used][:k]


def _load(name: str) -> Any:
    return gast.Name(name, gast.Load(), None, None)


def _list_comp(elt: Any, names: list[str], over: Any) -> Any:
    """``[elt for a in over]`` (several names: unpacked, ``for a, b in over``)."""
    stores = [gast.Name(n, gast.Store(), None, None) for n in names]
    target = stores[0] if len(stores) == 1 else gast.Tuple(stores, gast.Store())
    return gast.ListComp(elt, [gast.comprehension(target, over, [], 0)])


def _is_const(a: Atom, value: int) -> bool:
    return isinstance(a, Const) and type(a.value) is int and a.value == value


def _dotted(name: str) -> Any:
    parts = name.split(".")
    node: Any = gast.Name(parts[0], gast.Load(), None, None)
    for p in parts[1:]:
        node = gast.Attribute(node, p, gast.Load())
    return node


def _call(callee: str, args: list[Any], kws: list[Any] | None = None) -> Any:
    return gast.Call(_dotted(callee), args, kws or [])


