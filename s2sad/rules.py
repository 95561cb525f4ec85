"""The rule registry and the symbolic handles rules are written with.

A primitive is registered once, with everything s2sad knows about it side by side: how to
evaluate it, its result type, how to print it, and its tangent and adjoint rules.  Rules are
ordinary Python over :class:`Sym` handles; applying an operator to a handle appends an
equation to the current :class:`Builder`, so a rule reads like the maths::

    defprim("sin", np.sin, emit=call("np.sin", scalar="math.sin"), infer=elementwise_float,
            lin=[lambda g, ans, x: g * cos(x)])

Every rule has the one signature ``rule(g, ans, *args, **params) -> Sym``: `g` is the incoming
tangent (forward mode) or cotangent (reverse mode), `ans` the primitive's result.  There is one
rule per argument, ``None`` where the primitive is not differentiable in that argument.
`lin=` gives rules that serve both modes, valid when the derivative is elementwise
multiplication by a partial derivative (``g * df/dx``), the case of every elementwise op;
`jvp=` and `vjp=` give the two modes separately for the others.  Zero tangents never reach a
rule: the transforms skip inactive arguments, so ``0 * x`` is never generated.

Python callables users write (``np.sum``, ``math.log``, ``x.reshape``) are bound to *surface*
functions over handles (:func:`bind`), which lower to one or a few primitives.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .errors import Loc, S2SADError
from .ir import (
    FLOAT_DTYPES,
    Array,
    Atom,
    Const,
    Eqn,
    ListOf,
    Opaque,
    Scalar,
    Stmt,
    Ty,
    Var,
    is_float,
    name_var,
)

Rule = Callable[..., "Sym"]

# ------------------------------------------------------------------------------------ builder


class Builder:
    """Collects the equations that handle operations create, in order."""

    def __init__(self, loc: Loc | None = None) -> None:
        self.stmts: list[Stmt] = []
        self.loc = loc

    def emit(self, prim: str, args: Sequence[Atom], params: Sequence[tuple[str, Atom]] = (),
             hint: str | None = None) -> Var:
        p = REGISTRY[prim]
        _check_lists(prim, args)
        _check_axes(params)
        raw = dict(p.params)
        raw.update({k: (v.value if isinstance(v, Const) else DYNAMIC) for k, v in params})
        out_type = p.infer([a.type for a in args], raw)
        out = Var(out_type, hint)  # type: ignore[arg-type]
        self.stmts.append(Eqn((out,), prim, tuple(args), tuple(params), self.loc))
        return out

    def emit_many(self, prim: str, args: Sequence[Atom],
                  params: Sequence[tuple[str, Atom]] = ()) -> tuple[Var, ...]:
        """Like :meth:`emit`, for a primitive with several results (its `infer` gives a
        tuple of types): ``w, v = np.linalg.eigh(a)``."""
        p = REGISTRY[prim]
        _check_lists(prim, args)
        raw = dict(p.params)
        raw.update({k: (v.value if isinstance(v, Const) else DYNAMIC) for k, v in params})
        outs = tuple(Var(t) for t in p.infer([a.type for a in args], raw))  # type: ignore[union-attr]
        self.stmts.append(Eqn(outs, prim, tuple(args), tuple(params), self.loc))
        return outs

    def rename_last(self, atom: Atom, hint: str) -> Atom:
        """Give `atom` the name `hint` if it is the one result of the newest statement here
        and has no name yet.

        The name is set in place (:func:`name_var`): other holders of the value (a helper's
        parameter bound to the caller's temporary, a tangent table, the other names of
        ``u = b``) keep reading the one variable. A fresh variable here would leave them
        reading one that no statement defines.
        """
        if not (isinstance(atom, Var) and self.stmts and atom.hint is None):
            return atom
        if self.stmts[-1].outs == (atom,):
            name_var(atom, hint)
        return atom


def _check_axes(params: Sequence[tuple[str, Atom]]) -> None:
    """An axis known only at run time must be an integer, as NumPy requires."""
    for k, v in params:
        if k.startswith("axis") and isinstance(v, Var) and isinstance(v.type, (Array, Scalar)) \
                and not (isinstance(v.type, Scalar) and v.type.dtype.startswith(("int", "uint"))):
            raise TypeError(f"{k} must be an integer, not a {v.type}")


def _check_lists(prim: str, args: Sequence[Atom]) -> None:
    """Only the primitives on lists (and a few that take anything) may read a list grown at
    run time: anywhere else it would be taken for a number or an array."""
    if prim not in LIST_PRIMS and any(isinstance(a.type, ListOf) for a in args):
        raise TypeError(f"a list grown at run time where {prim} expects numbers or arrays: "
                        "convert it with np.array(xs) or np.stack(xs) first")


_builders: list[Builder] = []


class building:
    """Context manager: handle operations inside it append to `builder`."""

    def __init__(self, builder: Builder) -> None:
        self.builder = builder

    def __enter__(self) -> Builder:
        _builders.append(self.builder)
        return self.builder

    def __exit__(self, *exc: object) -> None:
        _builders.pop()


def current() -> Builder:
    return _builders[-1]


class _Dynamic:
    """Marks a parameter whose value is only known at run time."""

    def __repr__(self) -> str:
        return "<dynamic>"


DYNAMIC: Any = _Dynamic()

# ------------------------------------------------------------------------------------- handles


def type_of_value(value: Any) -> Ty:
    """The abstract type of a Python value, as the specialiser sees it."""
    if isinstance(value, bool):
        return Scalar("bool")
    if isinstance(value, int):
        return Scalar("int64")
    if isinstance(value, float):
        return Scalar("float64")
    if isinstance(value, np.ndarray):
        return Array(str(value.dtype), tuple(n == 1 for n in value.shape))
    if isinstance(value, np.generic) and np.dtype(value.dtype).kind in "biuf":
        return Scalar(str(value.dtype), weak=False)
    if value is None:
        return Opaque("none")
    if isinstance(value, tuple) and all(isinstance(v, int) for v in value):
        return Opaque("shape")
    return Opaque(type(value).__name__)


def to_atom(x: Any) -> Atom:
    if isinstance(x, Sym):
        return x.atom
    if isinstance(x, (Var, Const)):
        return x
    if isinstance(x, (tuple, list)) and _holds(x, lambda t: True):
        if _holds(x, lambda t: isinstance(t, Array) or is_float(t)):  # [np.dot(x, x), 1.0]
            return array_like(x).atom  # numbers, nested lists of them, arrays: as np.asarray
        return apply("tuple", *x).atom  # a shape with run-time entries
    return Const(x, type_of_value(x))


def _holds(x: Any, test: Callable[[Ty], bool]) -> bool:
    """Whether the (nested) list or tuple `x` holds a run-time value whose type passes `test`."""
    return any(_holds(i, test) if isinstance(i, (tuple, list)) else
               isinstance(i, (Sym, Var)) and test(i.type) for i in x)


def array_like(x: Any) -> Any:
    """`x` as NumPy reads an array-like argument: a (nested) list or tuple holding run-time
    numbers or arrays becomes the array np.asarray makes of it; anything else is left alone."""
    if isinstance(x, (tuple, list)) and _holds(x, lambda t: isinstance(t, Array) or is_float(t)):
        return SURFACE[id(np.asarray)][1](x)
    return x


class Sym:
    """A symbolic handle on an IR atom; operators on it emit equations."""

    __slots__ = ("atom",)
    __array_ufunc__ = None  # so that `np.float64(2) * sym` defers to Sym.__rmul__

    def __init__(self, atom: Atom) -> None:
        self.atom = atom

    @property
    def type(self) -> Ty:
        return self.atom.type

    @property
    def ndim(self) -> int | None:
        t = self.type
        return t.ndim if isinstance(t, (Scalar, Array)) else None

    @property
    def is_array(self) -> bool:
        return isinstance(self.type, Array)

    def __repr__(self) -> str:
        return f"Sym({self.atom!r}: {self.type})"

    def __add__(self, o: Any) -> Sym: return apply("add", self, o)
    def __radd__(self, o: Any) -> Sym: return apply("add", o, self)
    def __sub__(self, o: Any) -> Sym: return apply("sub", self, o)
    def __rsub__(self, o: Any) -> Sym: return apply("sub", o, self)
    def __mul__(self, o: Any) -> Sym: return apply("mul", self, o)
    def __rmul__(self, o: Any) -> Sym: return apply("mul", o, self)
    def __truediv__(self, o: Any) -> Sym: return apply("div", self, o)
    def __rtruediv__(self, o: Any) -> Sym: return apply("div", o, self)
    def __pow__(self, o: Any) -> Sym: return apply("pow", self, o)
    def __rpow__(self, o: Any) -> Sym: return apply("pow", o, self)
    def __matmul__(self, o: Any) -> Sym: return apply("matmul", self, o)
    def __rmatmul__(self, o: Any) -> Sym: return apply("matmul", o, self)
    def __neg__(self) -> Sym: return apply("neg", self)
    def __lt__(self, o: Any) -> Sym: return apply("lt", self, o)
    def __le__(self, o: Any) -> Sym: return apply("le", self, o)
    def __gt__(self, o: Any) -> Sym: return apply("gt", self, o)
    def __ge__(self, o: Any) -> Sym: return apply("ge", self, o)

    @property
    def T(self) -> Sym:
        return apply("transpose", self)


def S(x: Any) -> Sym:
    """Wrap an atom or a Python constant as a handle."""
    return x if isinstance(x, Sym) else Sym(to_atom(x))


def apply(prim: str, *args: Any, hint: str | None = None, **params: Any) -> Sym:
    """Emit ``prim(*args, **params)`` into the current builder and return its handle.

    Parameters equal to the primitive's default are dropped, so printed code stays short.
    Applications whose operands are all constants are folded when the result is a scalar.
    """
    p = REGISTRY[prim]
    atoms = [to_atom(a) for a in args]
    defaults = dict(p.params)
    unknown = set(params) - set(defaults)
    if unknown:
        raise TypeError(f"primitive {prim} has no parameter {sorted(unknown)}")
    plist = [(k, to_atom(v)) for k, v in params.items()
             if k in p.emit.positional or not (not isinstance(v, (Sym, Var)) and
                                               _same(v, defaults[k]))]
    if p.multi:
        return tuple(Sym(v) for v in current().emit_many(prim, atoms, plist))  # type: ignore[return-value]
    if p.foldable and all(isinstance(a, Const) and a.name is None  # a named constant is a
                          for a in atoms + [v for _, v in plist]):  # user's global: read live
        value = p.impl(*[a.value for a in atoms], **{k: v.value for k, v in plist})  # type: ignore[union-attr]
        if not isinstance(value, np.ndarray):
            return Sym(Const(value, type_of_value(value)))
    return Sym(current().emit(prim, atoms, plist, hint))


def cast_like(g: Sym, x: Sym) -> Sym:
    """`g` in the float dtype of `x`, where they differ: a derivative with respect to a
    float32 value stays float32 (the adjoint of astype; a gradient a float64 value promoted)."""
    t = x.type
    return apply("astype", g, dtype=np.dtype(t.dtype)) if isinstance(t, (Scalar, Array)) and \
        isinstance(g.type, (Scalar, Array)) and g.type.dtype != t.dtype and \
        t.dtype.startswith("float") else g


def _same(a: Any, b: Any) -> bool:
    return type(a) is type(b) and a == b if not isinstance(a, np.ndarray) else False


# ---------------------------------------------------------------------------------- type rules


def _dtype(t: Ty) -> str:
    return t.dtype if isinstance(t, (Scalar, Array)) else "object"


def promote(types: Sequence[Ty], to_float: bool = False) -> str:
    """NumPy 2 promotion, with Python scalars weak (NEP 50)."""
    strong = [_dtype(t) for t in types
              if isinstance(t, Array) or (isinstance(t, Scalar) and not t.weak)]
    weak = [t.dtype for t in types if isinstance(t, Scalar) and t.weak]
    if strong:
        dt = np.result_type(*strong)
        if any(w in FLOAT_DTYPES for w in weak) and dt.kind in "biu":
            dt = np.dtype("float64")
        elif any(w == "int64" for w in weak) and dt.kind == "b":
            dt = np.dtype("int64")
        name = str(dt)
    elif any(w in FLOAT_DTYPES for w in weak):
        name = "float64"
    elif any(w == "int64" for w in weak):
        name = "int64"
    else:
        name = "bool"
    if to_float and name not in FLOAT_DTYPES:
        name = "float64"
    return name


def _join_one(a: bool | None, b: bool | None) -> bool | None:
    if a is True:
        return b
    if b is True:
        return a
    if a is False or b is False:
        return False
    return None


def broadcast_types(types: Sequence[Ty], dtype: str) -> Ty:
    """The type of an elementwise operation over `types` producing `dtype`."""
    arrays = [t for t in types if isinstance(t, Array)]
    if not arrays:
        weak = all(isinstance(t, Scalar) and t.weak for t in types)
        return Scalar(dtype, weak)
    if any(a.ones is None for a in arrays):
        return Array(dtype, None)
    n = max(len(a.ones) for a in arrays)  # type: ignore[arg-type]
    ones: list[bool | None] = [True] * n
    for a in arrays:
        assert a.ones is not None
        for i, o in enumerate(a.ones):
            k = n - len(a.ones) + i
            ones[k] = _join_one(ones[k], o)
    return Array(dtype, tuple(ones))


def elementwise(types: Sequence[Ty], params: dict[str, Any]) -> Ty:
    return broadcast_types(types, promote(types))


def elementwise_float(types: Sequence[Ty], params: dict[str, Any]) -> Ty:
    return broadcast_types(types, promote(types, to_float=True))


def elementwise_bool(types: Sequence[Ty], params: dict[str, Any]) -> Ty:
    return broadcast_types(types, "bool")


def same_as_first(types: Sequence[Ty], params: dict[str, Any]) -> Ty:
    return types[0]


def axis_index(axis: Any, n: int) -> int:
    """`axis` of an `n`-axis array as a non-negative index, as NumPy checks it: out of range
    raises (never wraps around, which would reduce or move another axis)."""
    a = int(axis)
    if not -n <= a < n:
        raise ValueError(f"axis {a} is out of bounds for array of dimension {n}")
    return a % n


def covers(t: Ty, out: Ty) -> bool:
    """True when a value of type `t`, which broadcasts to `out`, is known to have its shape.

    Along each axis a broadcast operand has length 1 or the result's length, so it covers the
    result where the result's length is 1 or the operand's is known not to be 1.
    """
    if not isinstance(out, Array):
        return True
    if out.ones is None:
        return False
    if isinstance(t, Scalar):
        return len(out.ones) == 0
    if not isinstance(t, Array) or t.ones is None or len(t.ones) != len(out.ones):
        return False
    return all(b is True or a is False for a, b in zip(t.ones, out.ones))


# ------------------------------------------------------------------------------------ registry


@dataclass(frozen=True, slots=True)
class Emit:
    """How codegen prints a primitive.

    kinds: ``binop``/``unop``/``compare`` (``op`` is the Python operator), ``call`` (``op`` is a
    dotted name such as ``np.sum``; ``scalar`` replaces it when every operand is a Python
    float), ``method`` (``x.op(...)``), ``attr`` (``x.op``), and the special forms ``getitem``,
    ``tuple``, ``ifexp`` and ``runtime`` (a helper from :mod:`s2sad.runtime`).
    """

    kind: str
    op: str = ""
    scalar: str | None = None
    positional: tuple[str, ...] = ()  # params printed positionally, in this order


@dataclass(frozen=True, slots=True)
class Prim:
    """A primitive: evaluation, typing, printing and derivative rules, side by side."""

    name: str
    impl: Callable[..., Any]
    arity: int | None
    params: tuple[tuple[str, Any], ...]
    infer: Callable[[Sequence[Ty], dict[str, Any]], Ty]
    emit: Emit
    jvp: tuple[Rule | None, ...] | None
    vjp: tuple[Rule | None, ...] | None
    broadcasts: bool
    foldable: bool
    doc: str
    lazy_ok: bool  # its adjoint rule accepts a cotangent that only broadcasts to the result
    effect: bool   # it changes state (the tapes of loops): never removed, never moved
    multi: bool    # several results: `infer` gives a tuple of types, rules see tuples (below)

    @property
    def differentiable(self) -> bool:
        return self.jvp is not None


REGISTRY: dict[str, Prim] = {}
_OWNERS: dict[str, Any] = {}  # registry names made for user functions -> the function


def owned_name(base: str, fn: Any) -> str:
    """`base` (``custom:module.qualname``), or ``base#2``, ...: a registry name that belongs
    to the function `fn` alone.  Two functions of one module and qualified name (a notebook
    cell run again, two closures one factory made) never share a primitive or its rules."""
    name, k = base, 1
    while _OWNERS.get(name, fn) is not fn:
        k += 1
        name = f"{base}#{k}"
    _OWNERS[name] = fn
    return name


class RuleError(S2SADError):
    """A rule registration is malformed (wrong arity, not callable, duplicate name)."""

    kind = "RuleError"


def _rule_loc(fn: Callable[..., Any]) -> Loc | None:
    try:
        file = inspect.getsourcefile(fn) or "<unknown>"
        line = inspect.getsourcelines(fn)[1]
    except (OSError, TypeError):
        return None
    return Loc(file, line, 1)


def _check_rules(name: str, rules: Sequence[Rule | None] | None, arity: int | None,
                 what: str) -> tuple[Rule | None, ...] | None:
    if rules is None:
        return None
    rules = tuple(rules)
    if arity is not None and len(rules) != arity:
        raise RuleError(f"primitive {name!r} takes {arity} argument(s) but {what} gives "
                        f"{len(rules)} rule(s)", hint="give one rule per argument, None where "
                        "the primitive is not differentiable in that argument")
    for r in rules:
        if r is None:
            continue
        if not callable(r):
            raise RuleError(f"{what} rule of {name!r} is not callable: {r!r}")
        try:
            sig = inspect.signature(r)
        except (TypeError, ValueError):
            continue
        positional = [p for p in sig.parameters.values()
                      if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
        required = [p for p in positional if p.default is p.empty]
        varargs = any(p.kind == p.VAR_POSITIONAL for p in sig.parameters.values())
        if arity is not None and not varargs and \
                not len(required) <= arity + 2 <= len(positional):
            raise RuleError(
                f"{what} rule of {name!r} takes {len(required)} positional parameter(s); "
                f"rules take (g, ans, *args) = {arity + 2}", loc=_rule_loc(r),
                hint="write rules as `lambda g, ans, x, y, **params: ...`")
    return rules


def defprim(name: str, impl: Callable[..., Any], *, arity: int | None = 1,
            params: Sequence[tuple[str, Any]] = (),
            infer: Callable[[Sequence[Ty], dict[str, Any]], Ty] = elementwise_float,
            emit: Emit | None = None,
            lin: Sequence[Rule | None] | None = None,
            jvp: Sequence[Rule | None] | None = None,
            vjp: Sequence[Rule | None] | None = None,
            foldable: bool = True, doc: str = "", lazy_ok: bool | None = None,
            effect: bool = False, multi: bool = False) -> Prim:
    """Register a primitive.  See the module docstring for the rule signature.

    With ``multi=True`` the primitive has several results (``infer`` returns a tuple of
    types); its tangent rules return a tuple with one tangent per result (None for zero), and
    its adjoint rules receive `g` and `ans` as tuples, with None for a result that has no
    cotangent.
    """
    if name in REGISTRY:
        raise RuleError(f"primitive {name!r} is already registered")
    if not callable(impl):
        raise RuleError(f"implementation of {name!r} is not callable")
    if lin is not None and (jvp is not None or vjp is not None):
        raise RuleError(f"primitive {name!r}: give either lin= or jvp= and vjp=, not both")
    if (jvp is None) != (vjp is None):
        raise RuleError(f"primitive {name!r} needs both a tangent and an adjoint rule")
    broadcasts = lin is not None
    if lin is not None:
        if multi:
            raise RuleError(f"primitive {name!r}: lin= rules are for one result; give jvp= and "
                            "vjp=")
        jvp = vjp = lin
    prim = Prim(name, impl, arity, tuple(params), infer, emit or Emit("call", f"np.{name}"),
                _check_rules(name, jvp, arity, "tangent"), _check_rules(name, vjp, arity, "adjoint"),
                broadcasts, foldable and not effect, doc,
                broadcasts if lazy_ok is None else lazy_ok, effect, multi)
    REGISTRY[name] = prim
    return prim


def no_derivative(what: str, hint: str) -> Rule:
    """A rule for an argument whose derivative s2sad does not compute (as opposed to None,
    which says the derivative is zero or the argument only gives a shape): reaching it with
    a derivative raises a located NotDifferentiable instead of dropping the term."""
    from .errors import NotDifferentiable

    def rule(g: Any, ans: Any, *args: Any, **params: Any) -> Sym:
        raise NotDifferentiable(f"no derivative with respect to {what}", current().loc, hint)
    return rule


@dataclass(frozen=True, slots=True)
class ListRules:
    """The derivative rules of a primitive on lists grown at run time (:class:`ListOf`).

    They see the whole equation, since the derivative of a list is a list of the items'
    derivatives (not a sum of one term per argument) and lists change in place:

    * ``jvp(dots, ans, *args, **params)``: `dots` holds the tangent of each argument (None
      for zero); returns the tangent of the result (a tuple for several results), None for
      zero.
    * ``vjp(g, bars, ans, *args, **params)``: `g` is the cotangent of the result (a tuple for
      several results), None where none reached it: a rule whose result is a list then starts
      from zeros, so that the list's earlier versions receive their cotangents from its later
      ones (see :mod:`s2sad.transforms.vjp`).  `bars` holds the cotangent each list argument
      has so far (None: none yet).  Returns one value per argument: for a list argument its
      new cotangent (which includes ``bars[i]``), for any other a term to add; None for none.

    `in_place`: the primitive changes its first argument, and its (first) list result is that
    list's next version (``xs.append(x)``, ``xs.pop()``, ``xs[i] = xs[i] + g``).
    """

    jvp: Callable[..., Any]
    vjp: Callable[..., Any]
    in_place: bool = False


LIST_RULES: dict[str, ListRules] = {}
# Every primitive that may read a list (those in LIST_RULES, and a few more: see prims.py).
LIST_PRIMS: set[str] = {"len", "push", "print"}


def _whole_equation(g: Any, ans: Any, *args: Any, **params: Any) -> Any:
    raise AssertionError("the rules of a primitive on lists take the whole equation "
                         "(LIST_RULES)")


def deflist(name: str, impl: Callable[..., Any], *, arity: int | None, infer: Any, emit: Emit,
            jvp: Callable[..., Any] | None = None, vjp: Callable[..., Any] | None = None,
            in_place: bool = False, params: Sequence[tuple[str, Any]] = (),
            multi: bool = False, doc: str = "") -> Prim:
    """Register a primitive on lists: never folded; with `jvp` and `vjp`, differentiable
    through whole-equation rules (:class:`ListRules`)."""
    placeholder = [_whole_equation] * (arity if arity is not None else 1)
    prim = defprim(name, impl, arity=arity, params=params, infer=infer, emit=emit,
                   jvp=placeholder if jvp is not None else None,
                   vjp=placeholder if vjp is not None else None, foldable=False, multi=multi,
                   doc=doc)
    LIST_PRIMS.add(name)
    if jvp is not None and vjp is not None:
        LIST_RULES[name] = ListRules(jvp, vjp, in_place)
    return prim


# Surface functions: Python callables (by identity) -> functions over handles.
SURFACE: dict[int, tuple[Any, Callable[..., Any]]] = {}
# Methods and attributes of arrays: name -> function over handles taking the array first.
METHODS: dict[str, Callable[..., Any]] = {}
ATTRIBUTES: dict[str, Callable[[Sym], Any]] = {}


def bind(objs: Any, fn: Callable[..., Any], sequences: bool = False) -> None:
    """Make calls to `objs` (a callable or a tuple of them) lower through `fn`.

    Arguments that are lists or tuples of run-time numbers (``np.sum([a, b])``,
    ``np.append([[a, b]], ...)``) reach `fn` as arrays, as NumPy reads them, unless
    `sequences`: `fn` takes sequences of arrays itself (np.concatenate, np.stack).
    """
    surface = fn if sequences else _reading_array_likes(fn)
    for obj in objs if isinstance(objs, tuple) else (objs,):
        SURFACE[id(obj)] = (obj, surface)


def _reading_array_likes(fn: Callable[..., Any]) -> Callable[..., Any]:
    def surface(*args: Any, **kwargs: Any) -> Any:
        return fn(*[array_like(a) for a in args], **{k: array_like(v) for k, v in kwargs.items()})
    surface.__wrapped__ = fn  # type: ignore[attr-defined]
    return surface


def surface_of(obj: Any) -> Callable[..., Any] | None:
    entry = SURFACE.get(id(obj))
    return entry[1] if entry is not None and entry[0] is obj else None


def const_value(x: Any) -> Any:
    """The Python value of a constant argument, or DYNAMIC for a run-time value."""
    if isinstance(x, Sym):
        return x.atom.value if isinstance(x.atom, Const) else DYNAMIC
    return x

