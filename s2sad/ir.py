"""The Wengert-list IR: typed, frozen, single-assignment.

A :class:`Function` is a list of statements in a :class:`Block`.  Each :class:`Eqn` applies one
primitive to atoms (a :class:`Var` or a :class:`Const`) and defines fresh variables; primitives
are data (a name looked up in the rule registry), so one equation class serves them all.
Control flow stays structured: :class:`If`, :class:`ForRange` and :class:`While` hold
sub-blocks and make their branch-joined and loop-carried values explicit (as in MLIR's `scf`).

Every variable carries its abstract type (:class:`Scalar`, :class:`Array`, :class:`ListOf` or
:class:`Opaque`), because s2sad specialises the code it generates to the kinds of its inputs:
Python floats get plain arithmetic, arrays get NumPy calls.

This module is a leaf: it imports only :mod:`s2sad.errors`.
"""

from __future__ import annotations

import itertools
import os
from dataclasses import dataclass, field
from typing import Any

from .errors import Loc

# --------------------------------------------------------------------------------------- types

FLOAT_DTYPES = ("float16", "float32", "float64", "longdouble")


@dataclass(frozen=True, slots=True)
class Scalar:
    """A number: a Python scalar (``weak=True``, as NEP 50 calls them) or a NumPy scalar."""

    dtype: str
    weak: bool = True

    @property
    def ndim(self) -> int:
        return 0

    def __str__(self) -> str:
        if self.weak:
            return {"float64": "float", "int64": "int", "bool": "bool"}.get(self.dtype, self.dtype)
        return f"np.{self.dtype}"


@dataclass(frozen=True, slots=True)
class Array:
    """A NumPy array of known rank.

    ``ones`` says, per axis, whether its length is 1 (True), not 1 (False) or unknown (None).
    It is all that broadcasting depends on, so knowing it lets the adjoint of a broadcast be a
    plain ``np.sum(g, axis=...)`` instead of a run-time check.  ``ones is None`` means the rank
    itself is unknown.
    """

    dtype: str
    ones: tuple[bool | None, ...] | None

    @property
    def ndim(self) -> int | None:
        return None if self.ones is None else len(self.ones)

    def __str__(self) -> str:
        if self.ones is None:
            return f"{self.dtype}[...]"
        dims = ",".join("1" if o else ("n" if o is False else "?") for o in self.ones)
        return f"{self.dtype}[{dims}]"


@dataclass(frozen=True, slots=True)
class Opaque:
    """Anything that is not a number: tuples (shapes), None, slices, strings, functions."""

    kind: str

    def __str__(self) -> str:
        return self.kind


@dataclass(frozen=True, slots=True)
class ListOf:
    """A Python list that a loop whose trip count is known only at run time grows with
    ``xs.append(x)``: its items all have the type `item` (None before the first append).

    Appending, popping and adding into an item change the list in place in the generated code;
    in the IR each of these defines the list's next version, and a version is only read before
    the next one is defined (lowering and the transforms keep to that).
    """

    item: Scalar | Array | None

    def __str__(self) -> str:
        return f"list[{'?' if self.item is None else self.item}]"


Ty = Scalar | Array | Opaque | ListOf


def is_float(t: Ty) -> bool:
    """True when values of type `t` are floats or float arrays."""
    return isinstance(t, (Scalar, Array)) and t.dtype in FLOAT_DTYPES


def has_derivative(t: Ty) -> bool:
    """True when values of type `t` can carry a derivative: floats, float arrays, and lists of
    them (whose derivative is the list of the items' derivatives)."""
    if isinstance(t, ListOf):
        return t.item is not None and is_float(t.item)
    return is_float(t)


# --------------------------------------------------------------------------------------- atoms

_ids = itertools.count(1)


@dataclass(frozen=True, slots=True, eq=False)
class Var:
    """An SSA value.  `hint` is the user's variable name it came from, if any."""

    type: Ty
    hint: str | None = None
    id: int = field(default_factory=lambda: next(_ids))

    def __repr__(self) -> str:
        return f"%{self.hint or 't'}{self.id}"

    def __hash__(self) -> int:
        return self.id

    def __eq__(self, other: object) -> bool:
        return self is other


def name_var(v: Var, hint: str) -> None:
    """Give `v`, made without a name, the user's name for it, where every reader sees it.

    A name is only what codegen prints (identity is the id), so setting it in place leaves the
    SSA structure as frozen as it was; a rule that computes several tangents at once uses this,
    since renaming by a fresh variable would mean rewriting their readers.
    """
    if v.hint is None:
        object.__setattr__(v, "hint", hint)


@dataclass(frozen=True, slots=True, eq=False)
class Const:
    """A compile-time constant.  `name` is set when it is read by name (printed so): a
    global or closure cell of the user's function when `origin` is None; else `origin` is
    where the generated code reads it live, a module (`name` is ``module.attr``) or a
    closure cell of a function the user's function calls (`name` is the cell's)."""

    value: Any
    type: Ty
    name: str | None = None
    origin: Any = None

    def __repr__(self) -> str:
        return self.name or repr(self.value)


Atom = Var | Const

# ----------------------------------------------------------------------------------- statements


@dataclass(frozen=True, slots=True)
class Eqn:
    """``outs = prim(*args, **params)``: one primitive application.

    `params` are keyword arguments that are never differentiated (axis, keepdims, shapes); they
    are atoms too, usually constants.  `loc` is the user's source position it came from.
    """

    outs: tuple[Var, ...]
    prim: str
    args: tuple[Atom, ...]
    params: tuple[tuple[str, Atom], ...] = ()
    loc: Loc | None = None

    @property
    def out(self) -> Var:
        return self.outs[0]

    def param(self, name: str, default: Any = None) -> Any:
        for k, v in self.params:
            if k == name:
                return v.value if isinstance(v, Const) else v
        return default

    def atoms(self) -> tuple[Atom, ...]:
        return self.args + tuple(v for _, v in self.params)


@dataclass(frozen=True, slots=True)
class Block:
    """A straight sequence of statements."""

    stmts: tuple[Stmt, ...]


@dataclass(frozen=True, slots=True)
class If:
    """``outs = then_block.results if cond else else_block.results``."""

    outs: tuple[Var, ...]
    cond: Atom
    then: Block
    then_results: tuple[Atom, ...]
    orelse: Block
    else_results: tuple[Atom, ...]
    loc: Loc | None = None


@dataclass(frozen=True, slots=True)
class ForRange:
    """A counted loop: ``for index in range(start, stop, step)`` carrying `carried` values.

    On entry the carried variables take `inits`; each trip computes `body_results`, which
    become the carried values of the next trip; `outs` are the values after the last trip.
    With `reverse` the trips run backwards (``reversed(range(...))``), as backward sweeps do.
    """

    outs: tuple[Var, ...]
    index: Var
    start: Atom
    stop: Atom
    step: Atom
    carried: tuple[Var, ...]
    inits: tuple[Atom, ...]
    body: Block
    body_results: tuple[Atom, ...]
    loc: Loc | None = None
    reverse: bool = False


@dataclass(frozen=True, slots=True)
class While:
    """``while cond_block.result: body`` with loop-carried values, as :class:`ForRange`."""

    outs: tuple[Var, ...]
    carried: tuple[Var, ...]
    inits: tuple[Atom, ...]
    cond: Block
    cond_result: Atom
    body: Block
    body_results: tuple[Atom, ...]
    loc: Loc | None = None


Stmt = Eqn | If | ForRange | While


@dataclass(frozen=True, slots=True)
class Function:
    """A function in Wengert form: parameters, a body, and the atoms it returns."""

    name: str
    params: tuple[Var, ...]
    body: Block
    results: tuple[Atom, ...]
    loc: Loc | None = None
    param_names: tuple[str, ...] = ()
    param_locs: tuple[Loc, ...] = ()
    result_tree: Any = None  # None: one result; a tuple of trees: the results were a tuple
    result_names: tuple[str | None, ...] = ()  # names for results that have none
    mirrors: tuple[tuple[int, int], ...] = ()  # (var id, id of the var whose name it should
    #                                            reuse): values popped from a loop's tape
    checked: frozenset[int] = frozenset()  # results of the user's own operations: where dce
    #                                        drops one, the shape errors it raises must stay

    def replace(self, **changes: Any) -> Function:
        """A copy with some fields changed (passes build new functions this way)."""
        from dataclasses import replace
        return replace(self, **changes)


UNDEF: Any = type("Undefined", (), {"__repr__": lambda self: "UNDEF"})()
"""Value of a branch result that the other branch defines and this one never needs (the
adjoint of an `if` reads the primal values of the branch that ran).  Printed as nothing."""


def defined_vars(stmt: Stmt) -> tuple[Var, ...]:
    """The variables a statement defines in its enclosing block."""
    return stmt.outs


def stmt_atoms(stmt: Stmt) -> tuple[Atom, ...]:
    """The atoms a statement reads directly (for regions: not those inside its blocks)."""
    if isinstance(stmt, Eqn):
        return stmt.atoms()
    if isinstance(stmt, If):
        return (stmt.cond,)
    if isinstance(stmt, ForRange):
        return (stmt.start, stmt.stop, stmt.step, *stmt.inits)
    return stmt.inits


def sub_blocks(stmt: Stmt) -> tuple[tuple[Block, tuple[Atom, ...], tuple[Var, ...]], ...]:
    """Each block of a region, the atoms it yields, and the variables it binds on entry."""
    if isinstance(stmt, If):
        return ((stmt.then, stmt.then_results, ()), (stmt.orelse, stmt.else_results, ()))
    if isinstance(stmt, ForRange):
        return ((stmt.body, stmt.body_results, (stmt.index, *stmt.carried)),)
    if isinstance(stmt, While):
        return ((stmt.cond, (stmt.cond_result,), stmt.carried),
                (stmt.body, stmt.body_results, stmt.carried))
    return ()


def reads(stmt: Stmt) -> list[Atom]:
    """Every atom `stmt` reads from its enclosing scope, including inside its blocks."""
    out = list(stmt_atoms(stmt))
    for block, results, bound in sub_blocks(stmt):
        inner = {v.id for v in bound}
        for s in block.stmts:
            out.extend(a for a in reads(s) if not (isinstance(a, Var) and a.id in inner))
            inner.update(v.id for v in s.outs)
        out.extend(a for a in results if not (isinstance(a, Var) and a.id in inner))
    return out


def walk(block: Block) -> Any:
    """Every statement of `block` and of the blocks inside it, outer ones first."""
    for stmt in block.stmts:
        yield stmt
        for inner, _, _ in sub_blocks(stmt):
            yield from walk(inner)


def free_vars(fn: Function) -> list[Var]:
    """Variables read in `fn` but defined by none of its statements or parameters."""
    defined: set[int] = {p.id for p in fn.params}
    seen: dict[int, Var] = {}
    for stmt in fn.body.stmts:
        for a in stmt_atoms(stmt):
            if isinstance(a, Var) and a.id not in defined:
                seen.setdefault(a.id, a)
        defined.update(v.id for v in defined_vars(stmt))
    return list(seen.values())


# ------------------------------------------------------------------------------------- printing


def line_label(loc: Loc, home: Loc | None) -> str:
    """How a comment names the source line `loc`: ``L12`` in the file of `home` (the user's
    function), ``helpers.py:12`` in another file (code inlined from a function there)."""
    if home is None or loc.file == home.file:
        return f"L{loc.line}"
    return f"{os.path.basename(loc.file)}:{loc.line}"


def format_wengert(fn: Function) -> str:
    """Print `fn` as the evaluation trace of AD courses.

    Inputs are numbered v-(n-1) .. v0, every intermediate v1, v2, ... and each line carries the
    user's source line::

        v-1 = x                                     # float
        v0  = y                                     # float
        v1  = mul(v-1, v-1)                         # L2: return x * x * y + y + 2
    """
    names: dict[int, str] = {}
    n = len(fn.params)
    rows: list[tuple[str, str]] = []
    for i, p in enumerate(fn.params):
        name = f"v{i - n + 1}"
        names[p.id] = name
        rows.append((f"{name} = {p.hint}", f"{p.type}"))
    counter = itertools.count(1)

    def atom(a: Atom) -> str:
        if isinstance(a, Const):
            return a.name or _short_repr(a.value)
        return names.get(a.id, repr(a))

    def emit_block(block: Block, indent: str) -> None:
        last_line = -1
        for stmt in block.stmts:
            for v in defined_vars(stmt):
                names[v.id] = f"v{next(counter)}"
            lhs = ", ".join(names[v.id] for v in stmt.outs)
            loc = stmt.loc
            comment = ""
            if loc is not None and (loc.file, loc.line) != last_line:
                comment = f"{line_label(loc, fn.loc)}: {loc.text.strip()}"
                last_line = (loc.file, loc.line)
            if isinstance(stmt, Eqn):
                args = [atom(a) for a in stmt.args]
                args += [f"{k}={atom(v)}" for k, v in stmt.params]
                call = f"{stmt.prim}({', '.join(args)})"
                rows.append((f"{indent}{lhs} = {call}" if lhs else f"{indent}{call}", comment))
                continue
            for _, _, bound in sub_blocks(stmt):
                for v in bound:
                    if v.id not in names:
                        names[v.id] = f"v{next(counter)}"
            head = lhs + " = " if lhs else ""
            if isinstance(stmt, If):
                rows.append((f"{indent}{head}if {atom(stmt.cond)}:", comment))
                emit_block(stmt.then, indent + "    ")
                rows.append((f"{indent}    yield {', '.join(atom(a) for a in stmt.then_results)}", ""))
                rows.append((f"{indent}else:", ""))
                emit_block(stmt.orelse, indent + "    ")
                rows.append((f"{indent}    yield {', '.join(atom(a) for a in stmt.else_results)}", ""))
            elif isinstance(stmt, ForRange):
                carried = ", ".join(f"{names[c.id]}={atom(i)}" for c, i in zip(stmt.carried, stmt.inits))
                rng = f"range({atom(stmt.start)}, {atom(stmt.stop)}, {atom(stmt.step)})"
                rng = f"reversed({rng})" if stmt.reverse else rng
                rows.append((f"{indent}{head}for {names[stmt.index.id]} in {rng} carrying "
                             + f"({carried}):", comment))
                emit_block(stmt.body, indent + "    ")
                rows.append((f"{indent}    yield {', '.join(atom(a) for a in stmt.body_results)}", ""))
            else:
                carried = ", ".join(f"{names[c.id]}={atom(i)}" for c, i in zip(stmt.carried, stmt.inits))
                rows.append((f"{indent}{head}while carrying ({carried}):", comment))
                emit_block(stmt.cond, indent + "    ")
                rows.append((f"{indent}    test {atom(stmt.cond_result)}", ""))
                emit_block(stmt.body, indent + "    ")
                rows.append((f"{indent}    yield {', '.join(atom(a) for a in stmt.body_results)}", ""))
            last_line = -1

    emit_block(fn.body, "")
    outs = ", ".join(atom(a) for a in fn.results)
    rows.append((f"return {outs}", ""))
    width = max(len(r[0]) for r in rows) + 2
    header = f"# Wengert list of {fn.name}({', '.join(fn.param_names)})"
    lines = [header]
    for code, comment in rows:
        lines.append(f"{code:<{width}}# {comment}".rstrip() if comment else code)
    return "\n".join(lines) + "\n"


def _short_repr(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 30 else text[:27] + "..."


def substitute(stmts: tuple[Stmt, ...] | list[Stmt], mapping: dict[int, Var]) -> tuple[Stmt, ...]:
    """`stmts` with every variable in `mapping` (by id) replaced, where read or defined."""
    if not mapping:
        return tuple(stmts)

    def a(x: Any) -> Any:
        return mapping.get(x.id, x) if isinstance(x, Var) else x

    def vs(xs: tuple[Any, ...]) -> tuple[Any, ...]:
        return tuple(a(x) for x in xs)

    def blk(b: Block) -> Block:
        return Block(substitute(b.stmts, mapping))

    out: list[Stmt] = []
    for s in stmts:
        if isinstance(s, Eqn):
            out.append(Eqn(vs(s.outs), s.prim, vs(s.args), tuple((k, a(v)) for k, v in s.params),
                           s.loc))
        elif isinstance(s, If):
            out.append(If(vs(s.outs), a(s.cond), blk(s.then), vs(s.then_results), blk(s.orelse),
                          vs(s.else_results), s.loc))
        elif isinstance(s, ForRange):
            out.append(ForRange(vs(s.outs), a(s.index), a(s.start), a(s.stop), a(s.step),
                                vs(s.carried), vs(s.inits), blk(s.body), vs(s.body_results),
                                s.loc, s.reverse))
        else:
            out.append(While(vs(s.outs), vs(s.carried), vs(s.inits), blk(s.cond), a(s.cond_result),
                             blk(s.body), vs(s.body_results), s.loc))
    return tuple(out)


def fresh_copy(stmts: tuple[Stmt, ...] | list[Stmt],
               inputs: dict[int, Any]) -> tuple[tuple[Stmt, ...], dict[int, Any]]:
    """A copy of `stmts` defining new variables (so it can be spliced in more than once),
    with the variables in `inputs` replaced; also returns the full renaming."""
    mapping: dict[int, Any] = dict(inputs)
    for s in walk(Block(tuple(stmts))):
        for v in s.outs:
            mapping[v.id] = Var(v.type, v.hint)
        for _, _, bound in sub_blocks(s):
            for v in bound:
                mapping.setdefault(v.id, Var(v.type, v.hint))
    return substitute(stmts, mapping), mapping


def defined_in(stmts: tuple[Stmt, ...] | list[Stmt]) -> set[int]:
    """Ids of every variable defined by `stmts` or inside their blocks."""
    out: set[int] = set()
    for s in stmts:
        out.update(v.id for v in s.outs)
        for block, _, bound in sub_blocks(s):
            out.update(v.id for v in bound)
            out |= defined_in(block.stmts)
    return out


def free_reads(stmts: tuple[Stmt, ...] | list[Stmt], results: tuple[Atom, ...] = ()) -> list[Var]:
    """Variables read by `stmts` (or `results`) and defined outside them, in first-read order."""
    seen: dict[int, Var] = {}
    inner: set[int] = set()
    for s in stmts:
        for x in reads(s):
            if isinstance(x, Var) and x.id not in inner:
                seen.setdefault(x.id, x)
        inner.update(v.id for v in s.outs)
    for x in results:
        if isinstance(x, Var) and x.id not in inner:
            seen.setdefault(x.id, x)
    return list(seen.values())
