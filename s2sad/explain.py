"""Evaluation traces: the three tables AD courses draw by hand, computed from s2sad's IR.

``s2sad.explain(f)(2.0, 5.0)`` lowers `f` to its Wengert list for arguments like these and
interprets it, equation by equation, with each primitive's NumPy implementation (no code is
generated).  The result prints

* the primal trace: one row per Wengert variable, ``v1 = ln v-1 = 0.6931``;
* the forward tangent trace for a direction ``(ẋ1, ẋ2)``: ``v̇1 = v̇-1 / v-1 = 0.5``;
* the reverse adjoint trace, from ``v̄5 = ȳ = 1`` back to ``x̄1 = v̄-1 = 5.5``.

The expression of each derivative row is what s2sad's own transforms produce for that
equation: the tangent transform (:func:`s2sad.transforms.jvp.jvp`) and the adjoint transform
(:func:`s2sad.transforms.vjp.vjp`) are applied to a function holding only that equation, and
their output is printed in maths notation.  The final derivatives (``ẏ`` and ``x̄``) are the
values of the derivative IR of the whole function (``jvp``, and ``vjp`` with ``seed="one"``),
the code that ``s2sad.jvp`` and ``s2sad.grad`` run.  Traces are drawn for straight-line
functions; for loops and branches, read the generated code (``s2sad.emit``).
"""

from __future__ import annotations

import html
import inspect
import math
import os
import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .analyses import active
from .api import arg_spec, config
from .errors import TypeMismatch, UnsupportedSyntax
from .ir import Atom, Block, Const, Eqn, Function, Scalar, Var, is_float
from .lower import Static, lower
from .rules import REGISTRY
from .runtime import Dyn
from .source import unwrap
from .transforms.jvp import jvp as jvp_transform
from .transforms.vjp import vjp as vjp_transform
from .verify import verify

DOT = "\u0307"    # combining dot above:  v̇
BAR = "\u0304"    # combining macron:     v̄
MINUS = "\u2212"  # the minus sign of the expressions (names such as v-1 keep a hyphen)


@dataclass(frozen=True)
class Row:
    """One line of a trace: ``name = expr = value``.

    `var` is the plain Wengert name the row is about (``v-1``, ``v3``) or, for the rows of
    results and gradients, the user's name (``y``, ``x1``); `name` is what the row assigns, as
    printed (``v̇3``, ``x̄1``).  `line` and `source` give the user's source line.
    """

    name: str
    expr: str
    value: Any
    var: str
    line: int | None = None
    source: str = ""
    file: str | None = None  # the file of `line` when not the user's function's (a helper's)

    @property
    def label(self) -> str:
        """``L12``, or ``helpers.py:12`` for a line of another file."""
        return f"L{self.line}" if self.file is None else f"{self.file}:{self.line}"

    @property
    def text(self) -> str:
        """The value as printed: 4 significant digits, or an array's shape and a summary."""
        return format_value(self.value)


@dataclass
class Explanation:
    """The traces of one function at one point; ``str()`` prints them, Jupyter renders HTML."""

    function: str
    params: tuple[str, ...]
    args: tuple[Any, ...]
    direction: tuple[Any, ...]
    primal: list[Row]
    tangent: list[Row]
    adjoint: list[Row]
    outputs: tuple[Any, ...]            # the results of the function
    output_names: tuple[str, ...]       # what the traces call them: y, or y1, y2, ...
    output_tangents: tuple[Any, ...]    # from the forward-mode IR of the whole function
    gradients: tuple[Any, ...] | None   # from the reverse-mode IR, one per float argument
    cotangent: tuple[Any, ...] | None = None  # the seed of the reverse trace, one per result
    notes: list[str] = field(default_factory=list)

    def tables(self) -> list[tuple[str, list[Row]]]:
        """The traces with their titles, in the order they print."""
        sep = "; " if any(isinstance(a, np.ndarray) for a in self.args) else ", "
        at = sep.join(f"{p}={format_value(a)}" for p, a in zip(self.params, self.args))
        floats = [(p, d) for p, d in zip(self.params, self.direction) if d is not None]
        if sep == ", ":
            dirs = (f"({', '.join(_mark(p, DOT) for p, _ in floats)}) = "
                    f"({', '.join(format_value(d) for _, d in floats)})")
        else:
            dirs = sep.join(f"{_mark(p, DOT)} = {format_value(d)}" for p, d in floats)
        out = [(f"Primal trace of {self.function}({', '.join(self.params)}) at {at}",
                self.primal),
               (f"Forward (tangent) trace, direction {dirs}", self.tangent)]
        if self.cotangent is not None:
            seeds = ", ".join(f"{_mark(o, BAR)} = {format_value(s)}"
                              for o, s in zip(self.output_names, self.cotangent))
            out.append((f"Reverse (adjoint) trace, seed {seeds}", self.adjoint))
        return out

    def __str__(self) -> str:
        parts = [_text_table(title, rows) for title, rows in self.tables()]
        parts += [f"note: {n}" for n in self.notes]
        return "\n\n".join(parts) + "\n"

    def _repr_html_(self) -> str:
        return "\n".join([_html_table(title, rows) for title, rows in self.tables()] +
                         [f"<p><em>note: {html.escape(n)}</em></p>" for n in self.notes])


def explain(fn: Callable[..., Any]) -> Callable[..., Explanation]:
    """``explain(f)(*args, direction=None, cotangent=None)``: the evaluation traces of `f`.

    `direction` gives one tangent per argument (``None`` for arguments that are not floats);
    the default is the unit vector of the first float argument (its first element for an
    array).  `cotangent` seeds the reverse trace; the default is 1 for a function with one
    float scalar result (the gradient), and no reverse trace otherwise.
    """
    target = unwrap(fn)

    def traces(*args: Any, direction: Sequence[Any] | None = None,
               cotangent: Any = None, **kwargs: Any) -> Explanation:
        try:
            bound = inspect.signature(target).bind(*args, **kwargs)
        except TypeError as exc:
            raise TypeMismatch(f"{getattr(target, '__name__', target)}: {exc}") from None
        bound.apply_defaults()
        return _explain(target, tuple(bound.arguments), tuple(bound.arguments.values()),
                        direction, cotangent)

    traces.__name__ = f"explain_{getattr(target, '__name__', 'f')}"
    traces.__doc__ = f"The evaluation traces of {getattr(target, '__qualname__', target)}."
    return traces


# ------------------------------------------------------------------------------ the traces


def _explain(fn: Any, names: tuple[str, ...], args: tuple[Any, ...],
             direction: Sequence[Any] | None, cotangent: Any) -> Explanation:
    specs = [arg_spec(a) for a in args]
    ir = _check(lower(fn, specs), "lower")
    dynamic = [i for i, s in enumerate(specs) if not isinstance(s, Static)]
    values = [args[i] for i in dynamic]
    floats = [k for k, p in enumerate(ir.params) if is_float(p.type)]
    if not floats:
        raise TypeMismatch(f"explain: {ir.name} has no float argument to differentiate",
                           ir.loc, "pass floats (2.0 rather than 2) or float arrays")
    tangents = _direction(direction, args, dynamic, ir, floats)
    shown = tuple(tangents[dynamic.index(i)] if i in dynamic and
                  dynamic.index(i) in floats else None for i in range(len(args)))
    t = _Tracer(ir, values)
    explanation = Explanation(ir.name, names, args, shown, t.primal_rows(), [], [],
                              tuple(t.results), tuple(t.out_names), (), None)
    jvp_ir = _check(jvp_transform(ir, tuple(floats)), "jvp")
    _, jvp_out = _run(jvp_ir, values + [tangents[k] for k in floats])
    explanation.output_tangents = tuple(jvp_out[len(ir.results):])
    explanation.tangent = t.tangent_rows(tangents, floats, explanation.output_tangents)
    seed = _seed(ir, cotangent)
    if seed is None:
        explanation.notes.append(
            f"no reverse trace: {ir.name} does not return one float scalar; pass cotangent= "
            "with one seed per result")
        return explanation
    if cotangent is None:
        vjp_ir = _check(vjp_transform(ir, tuple(floats), seed="one"), "vjp")
        _, out = _run(vjp_ir, values)
    else:
        vjp_ir = _check(vjp_transform(ir, tuple(floats), seed="param"), "vjp")
        _, out = _run(vjp_ir, values + list(seed))
    explanation.cotangent = seed
    explanation.gradients = tuple(out[len(ir.results):])
    explanation.adjoint = t.adjoint_rows(seed, floats, explanation.gradients)
    return explanation


def _check(ir: Function, after: str) -> Function:
    return verify(ir, after) if config.verify else ir


def _direction(direction: Sequence[Any] | None, args: tuple[Any, ...], dynamic: list[int],
               ir: Function, floats: list[int]) -> list[Any]:
    """One tangent per IR parameter (None for those that are not floats)."""
    out: list[Any] = [None] * len(ir.params)
    if direction is None:
        for k in floats:
            out[k] = _zeros(args[dynamic[k]])
        first = args[dynamic[floats[0]]]
        if isinstance(first, np.ndarray):
            out[floats[0]] = np.zeros_like(first)
            out[floats[0]].flat[0] = 1
        else:
            out[floats[0]] = 1.0
        return out
    direction = tuple(direction)
    if len(direction) != len(args):
        raise TypeMismatch(f"explain: direction has {len(direction)} item(s) but "
                           f"{ir.name} takes {len(args)} argument(s)", ir.loc,
                           "give one tangent per argument, None for those that are not floats")
    for i, d in enumerate(direction):
        k = dynamic.index(i) if i in dynamic else -1
        if k not in floats:
            if d is not None and not (np.ndim(d) == 0 and d == 0):
                raise TypeMismatch(f"explain: argument {i} ({ir.param_names[i]}) is not a "
                                   f"float, so its direction must be None", ir.loc)
            continue
        arg = args[i]
        if d is None:
            out[k] = _zeros(arg)
        elif isinstance(arg, np.ndarray):
            d = np.asarray(d, dtype=arg.dtype)
            try:
                out[k] = np.array(np.broadcast_to(d, arg.shape))
            except ValueError:
                raise TypeMismatch(f"explain: the direction of {ir.param_names[i]} has shape "
                                   f"{d.shape}, the argument {arg.shape}", ir.loc) from None
        elif np.ndim(d) != 0:
            raise TypeMismatch(f"explain: the direction of {ir.param_names[i]} must be a "
                               f"number, like the argument", ir.loc)
        else:
            out[k] = type(arg)(d) if isinstance(arg, (float, np.floating)) else float(d)
    return out


def _zeros(arg: Any) -> Any:
    return np.zeros_like(arg) if isinstance(arg, np.ndarray) else type(arg)(0)


def _seed(ir: Function, cotangent: Any) -> tuple[Any, ...] | None:
    if cotangent is not None:
        seeds = tuple(cotangent) if len(ir.results) > 1 else (cotangent,)
        if len(seeds) != len(ir.results):
            raise TypeMismatch(f"explain: {ir.name} has {len(ir.results)} results but the "
                               f"cotangent has {len(seeds)} item(s)", ir.loc)
        return seeds
    if len(ir.results) == 1 and isinstance(ir.results[0].type, Scalar) and \
            is_float(ir.results[0].type):
        return (1.0,)
    return None


def _run(fn: Function, inputs: Sequence[Any]) -> tuple[dict[int, Any], list[Any]]:
    """Interpret `fn` on `inputs`: the value of every variable, and the results."""
    env: dict[int, Any] = {p.id: v for p, v in zip(fn.params, inputs)}
    for stmt in fn.body.stmts:
        if not isinstance(stmt, Eqn):
            raise _no_control_flow(stmt)
        if stmt.outs:
            out = _apply(stmt, env)
            outs = (out,) if len(stmt.outs) == 1 else out
            env.update((v.id, _like(o, v)) for v, o in zip(stmt.outs, outs))
    return env, [_value(r, env) for r in fn.results]


def _no_control_flow(stmt: Any) -> UnsupportedSyntax:
    return UnsupportedSyntax("explain: traces of loops and branches on run-time values are not "
                             "drawn", stmt.loc, "read their derivative code with s2sad.emit, or "
                             "explain the body of the loop as a function of its own")


def _like(value: Any, v: Var) -> Any:
    """A Python number where the generated code has one (NumPy gives np.float64)."""
    if isinstance(v.type, Scalar) and v.type.weak and isinstance(value, np.generic):
        return value.item()
    return value


def _apply(eqn: Eqn, env: dict[int, Any]) -> Any:
    args = [_value(a, env) for a in eqn.args]
    params = {k: _value(v, env) for k, v in eqn.params}
    return REGISTRY[eqn.prim].impl(*args, **params)


def _value(a: Atom, env: dict[int, Any]) -> Any:
    return env[a.id] if isinstance(a, Var) else a.value


def _one_equation(eqn: Eqn) -> Function:
    """A function whose body is `eqn` alone, taking the variables it reads."""
    params: list[Var] = []
    for a in eqn.atoms():
        if isinstance(a, Var) and all(a is not p for p in params):
            params.append(a)
    return Function(eqn.prim, tuple(params), Block((eqn,)), eqn.outs, eqn.loc,
                    tuple(p.hint or f"p{i}" for i, p in enumerate(params)))


class _Tracer:
    """Names, values and rows of one lowered function evaluated at one point."""

    def __init__(self, ir: Function, values: list[Any]) -> None:
        self.ir = ir
        self.names: dict[int, str] = {}
        n = len(ir.params)
        for i, p in enumerate(ir.params):
            self.names[p.id] = f"v{i - n + 1}"
        counter = 1
        for stmt in ir.body.stmts:
            if not isinstance(stmt, Eqn):
                raise _no_control_flow(stmt)
            for v in stmt.outs:
                self.names[v.id] = f"v{counter}"
                counter += 1
        self.env, self.results = _run(ir, values)
        self.out_names = _output_names(ir)

    def name(self, a: Atom) -> _E:
        return _E(self.names[a.id]) if isinstance(a, Var) else _const(a)

    def _src(self, eqn_or_param: Any) -> tuple[int | None, str, str | None]:
        loc = eqn_or_param.loc if isinstance(eqn_or_param, Eqn) else eqn_or_param
        if loc is None:
            return None, "", None
        home = self.ir.loc
        other = home is not None and loc.file != home.file  # a helper's line, of its file
        return loc.line, loc.text.strip(), os.path.basename(loc.file) if other else None

    def _param_src(self, k: int) -> tuple[int | None, str, str | None]:
        hint = self.ir.params[k].hint
        if hint in self.ir.param_names and self.ir.param_locs:
            return self._src(self.ir.param_locs[self.ir.param_names.index(hint)])
        return None, "", None

    # ------------------------------------------------------------------------- primal

    def primal_rows(self) -> list[Row]:
        rows = []
        for k, p in enumerate(self.ir.params):
            name = self.names[p.id]
            rows.append(Row(name, p.hint or name, self.env[p.id], name, *self._param_src(k)))
        for stmt in self.ir.body.stmts:
            assert isinstance(stmt, Eqn)
            if not stmt.outs:
                continue
            expr = _expr(stmt, self.name).text
            for v in stmt.outs:
                rows.append(Row(self.names[v.id], expr, self.env[v.id], self.names[v.id],
                                *self._src(stmt)))
        for out, r, value in zip(self.out_names, self.ir.results, self.results):
            rows.append(Row(out, self.name(r).text, value, out))
        return rows

    # ------------------------------------------------------------------------ tangent

    def tangent_rows(self, tangents: list[Any], floats: list[int],
                     out_tangents: tuple[Any, ...]) -> list[Row]:
        rows = []
        dots: dict[int, Any] = {}
        for k in floats:
            p = self.ir.params[k]
            name = self.names[p.id]
            dots[p.id] = tangents[k]
            rows.append(Row(_mark(name, DOT), _mark(p.hint or name, DOT), tangents[k], name,
                            *self._param_src(k)))
        for stmt in self.ir.body.stmts:
            assert isinstance(stmt, Eqn)
            if not stmt.outs or not REGISTRY[stmt.prim].differentiable or \
                    not any(is_float(v.type) for v in stmt.outs):
                continue
            one = _one_equation(stmt)
            wrt = tuple(i for i, p in enumerate(one.params) if p.id in dots)
            if not wrt:
                continue
            d = _check(jvp_transform(one, wrt), "jvp")
            n = len(one.params)
            names = {p.id: self.names[p.id] for p in one.params}
            names.update((v.id, self.names[v.id]) for v in stmt.outs)
            names.update((dp.id, _mark(self.names[one.params[i].id], DOT))
                         for dp, i in zip(d.params[n:], wrt))
            exprs = _render(d, names)
            _, found = _run(d, [self.env[p.id] for p in one.params] +
                            [dots[one.params[i].id] for i in wrt])
            k = len(stmt.outs)
            for v, r, value in zip(stmt.outs, d.results[k:], found[k:]):
                dots[v.id] = value
                name = self.names[v.id]
                rows.append(Row(_mark(name, DOT), _atom_expr(r, exprs).text, value, name,
                                *self._src(stmt)))
        for out, r, value in zip(self.out_names, self.ir.results, out_tangents):
            expr = _mark(self.names[r.id], DOT) if isinstance(r, Var) and r.id in dots else "0"
            rows.append(Row(_mark(out, DOT), expr, value, out))
        return rows

    # ------------------------------------------------------------------------ adjoint

    def adjoint_rows(self, seeds: tuple[Any, ...], floats: list[int],
                     gradients: tuple[Any, ...]) -> list[Row]:
        rows: list[Row] = []
        act = active(self.ir, floats, self.ir.results)
        bars: dict[int, Any] = {}

        def add(v: Var, expr: str, value: Any, src: tuple[int | None, str]) -> None:
            name = self.names[v.id]
            if v.id in bars:
                expr = f"{_mark(name, BAR)} + {expr}"
                value = bars[v.id] + value
            bars[v.id] = value
            rows.append(Row(_mark(name, BAR), expr, value, name, *src))

        for out, r, s in zip(self.out_names, self.ir.results, seeds):
            if isinstance(r, Var) and r.id in act:
                add(r, _mark(out, BAR), s, (None, ""))
        for stmt in reversed(self.ir.body.stmts):
            assert isinstance(stmt, Eqn)
            if not stmt.outs or stmt.out.id not in bars or stmt.out.id not in act or \
                    not REGISTRY[stmt.prim].differentiable:
                continue
            one = _one_equation(stmt)
            wrt = tuple(i for i, p in enumerate(one.params) if p.id in act)
            if not wrt:
                continue
            d = _check(vjp_transform(one, wrt, seed="param"), "vjp")
            n = len(one.params)
            names = {p.id: self.names[p.id] for p in one.params}
            names.update((v.id, self.names[v.id]) for v in stmt.outs)
            names.update((sp.id, _mark(self.names[v.id], BAR))
                         for sp, v in zip(d.params[n:], stmt.outs))
            exprs = _render(d, names)
            _, found = _run(d, [self.env[p.id] for p in one.params] +
                            [bars.get(v.id, 0.0) for v in stmt.outs])
            k = len(stmt.outs)
            for i, r, value in zip(wrt, d.results[k:], found[k:]):
                add(one.params[i], _atom_expr(r, exprs).text, value, self._src(stmt))
        for k, g in zip(floats, gradients):
            p = self.ir.params[k]
            name = self.names[p.id]
            expr = _mark(name, BAR) if p.id in bars else "0"
            rows.append(Row(_mark(p.hint or name, BAR), expr, g, p.hint or name,
                            *self._param_src(k)))
        return rows


def _output_names(ir: Function) -> list[str]:
    taken = set(ir.param_names)
    n = len(ir.results)
    for base in ("y", ir.name, "out"):
        names = [base] if n == 1 else [f"{base}{i}" for i in range(1, n + 1)]
        if base.isidentifier() and base not in taken and not taken & set(names):
            return names
    return [f"out_{i}" for i in range(1, n + 1)]


def _mark(name: str, mark: str) -> str:
    """`name` with a dot or a bar: v̇-1, ẋ1, ȳ; long names get a suffix (alpha_dot)."""
    if re.fullmatch(r"[A-Za-z](_?\d*|-\d+)", name):
        return unicodedata.normalize("NFC", name[0] + mark + name[1:])  # ẏ is one character
    return f"{name}_{'dot' if mark == DOT else 'bar'}"


# --------------------------------------------------------------------- maths notation

_ATOM, _POW, _UNARY, _MUL, _ADD, _CMP = 100, 4, 3, 2, 1, 0


@dataclass(frozen=True)
class _E:
    """An expression as text, with the precedence of its outermost operator."""

    text: str
    prec: int = _ATOM
    func: bool = False  # a function applied without parentheses (``cos v0``)


_BINARY = {"add": ("+", _ADD), "sub": (MINUS, _ADD), "mul": ("\u00d7", _MUL),
           "div": ("/", _MUL), "matmul": ("@", _MUL), "floordiv": ("//", _MUL),
           "mod": ("mod", _MUL), "lt": ("<", _CMP), "le": ("\u2264", _CMP),
           "gt": (">", _CMP), "ge": ("\u2265", _CMP), "eq": ("==", _CMP), "ne": ("\u2260", _CMP)}
_FUNCTIONS = {"log": "ln", "log2": "log\u2082", "log10": "log\u2081\u2080", "sum": "\u03a3"}
_UNARY_FUNCTIONS = {"sin", "cos", "tan", "arcsin", "arccos", "arctan", "sinh", "cosh", "tanh",
                    "exp", "expm1", "log", "log1p", "log2", "log10", "erf", "sign", "floor",
                    "ceil", "round", "trunc", "rint", "sum"}
_RENAMED = {"maximum": "max", "minimum": "min", "arctan2": "atan2"}
_TRANSPARENT = ("broadcast_to", "fill")  # broadcasting is implicit in the notation


def _paren(e: _E, need: bool) -> str:
    return f"({e.text})" if need else e.text


def _expr(eqn: Eqn, atom: Callable[[Atom], _E]) -> _E:
    """`eqn`'s right-hand side in maths notation, its operands given by `atom`."""
    prim = eqn.prim
    args = [atom(a) for a in eqn.args]
    params = {k: v for k, v in eqn.params}
    if prim in _BINARY and len(args) == 2:
        op, prec = _BINARY[prim]
        a, b = args
        if prim == "add" and b.prec == _UNARY and b.text.startswith(MINUS):
            op, b = MINUS, _E(b.text[1:])  # a + (−b) is a − b, also in floating point
        left = _paren(a, a.prec < prec or (a.func and prec >= _MUL))
        right = _paren(b, b.prec <= prec or (b.prec == _UNARY and not b.func))
        return _E(f"{left} {op} {right}", prec)
    if prim == "pow":
        a, b = args
        return _E(f"{_paren(a, a.prec <= _POW or a.func)}^{_paren(b, b.prec < _ATOM)}", _POW)
    if prim == "neg":
        (a,) = args
        return _E(f"{MINUS}{_paren(a, a.prec <= _UNARY or a.func)}", _UNARY)
    if prim == "square":
        (a,) = args
        return _E(f"{_paren(a, a.prec < _ATOM)}\u00b2", _POW)
    if prim == "sqrt":
        (a,) = args
        return _E(f"\u221a{_paren(a, a.prec < _ATOM)}", _UNARY, func=True)
    if prim == "abs":
        return _E(f"|{args[0].text}|")
    if prim == "reciprocal":
        return _E(f"1 / {_paren(args[0], args[0].prec <= _MUL)}", _MUL)
    if prim == "transpose" and "axes" not in params:
        return _E(f"{_paren(args[0], args[0].prec < _ATOM)}\u1d40")
    if prim in _TRANSPARENT:
        return args[0]
    if prim == "getitem":
        return _E(f"{_paren(args[0], args[0].prec < _ATOM)}[{_index(params, args[1:], atom)}]")
    if prim == "scatter":
        return _E(f"scatter({args[0].text} \u2192 [{_index(params, args[2:], atom)}] of "
                  f"{args[1].text})")
    if prim == "tuple":
        return _E(f"({', '.join(a.text for a in args)}{',' if len(args) == 1 else ''})")
    if prim == "pack":
        return _E(f"[{', '.join(a.text for a in args)}]")
    if prim == "construct":
        fn = params.get("fn")
        name = getattr(fn.value, "__name__", "construct") if isinstance(fn, Const) else "construct"
        return _E(f"{name}({', '.join(a.text for a in args)})")
    if prim in _UNARY_FUNCTIONS and len(args) == 1 and not params:
        (a,) = args
        fname = _FUNCTIONS.get(prim, prim)
        if a.prec == _ATOM and not a.func:
            return _E(f"{fname} {a.text}", _UNARY, func=True)
        return _E(f"{fname}({a.text})")
    items = [a.text for a in args] + [f"{k}={atom(v).text}" for k, v in eqn.params]
    return _E(f"{_RENAMED.get(prim, prim)}({', '.join(items)})")


def _index(params: dict[str, Atom], dyn: list[_E], atom: Callable[[Atom], _E]) -> str:
    spec = params.get("spec")
    items = spec.value if isinstance(spec, Const) else ()

    def one(s: Any) -> str:
        if isinstance(s, Dyn):
            return dyn[s.k].text if s.k < len(dyn) else "?"
        if isinstance(s, slice):
            parts = [one(p) if p is not None else "" for p in (s.start, s.stop, s.step)]
            return ":".join(parts[:2]) + (f":{parts[2]}" if parts[2] else "")
        if s is None:
            return "None"
        if s is Ellipsis:
            return "..."
        if isinstance(s, np.ndarray):
            return format_value(s)
        return str(s)
    return ", ".join(one(s) for s in items)


def _const(c: Const) -> _E:
    if c.name:
        return _E(c.name)
    v = c.value
    if isinstance(v, (bool, np.bool_)):
        return _E(str(bool(v)))
    if isinstance(v, (int, float, np.integer, np.floating)):
        text = format_value(v)
        return _E(MINUS + text[1:], _UNARY) if text.startswith("-") else _E(text)
    if isinstance(v, np.dtype):
        return _E(v.name)
    if isinstance(v, type) and issubclass(v, np.generic):
        return _E(v.__name__)
    if isinstance(v, np.ndarray):
        return _E(format_value(v))
    return _E(repr(v))


def _render(fn: Function, names: dict[int, str]) -> dict[int, _E]:
    """Each variable of `fn` as an expression: named ones by name, the others inlined."""
    exprs = {vid: _E(n) for vid, n in names.items()}
    for stmt in fn.body.stmts:
        assert isinstance(stmt, Eqn)
        if not stmt.outs or stmt.out.id in exprs:
            continue
        e = _expr(stmt, lambda a: _atom_expr(a, exprs))
        for v in stmt.outs:
            exprs[v.id] = e
    return exprs


def _atom_expr(a: Atom, exprs: dict[int, _E]) -> _E:
    return exprs[a.id] if isinstance(a, Var) else _const(a)


# --------------------------------------------------------------------------------- output


def format_value(v: Any) -> str:
    """4 significant digits for numbers; shape and a summary for arrays."""
    if isinstance(v, np.ndarray) and v.ndim == 0:
        v = v[()]
    if isinstance(v, (bool, np.bool_)):
        return str(bool(v))
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    if isinstance(v, (float, np.floating)):
        if v == 0:
            return "0"  # also -0.0
        if not math.isfinite(v):
            return str(float(v))
        return f"{float(v):.4g}"
    if isinstance(v, np.ndarray):
        shape = "(" + ", ".join(str(n) for n in v.shape) + ("," if v.ndim == 1 else "") + ")"
        if v.size > 4 and v.dtype.kind in "biuf" and not v.any():
            return f"{shape} all 0"
        if v.size <= 4:
            return f"{shape} [{', '.join(format_value(x) for x in v.ravel())}]"
        if v.dtype.kind in "biuf":
            return (f"{shape} min {format_value(v.min())}, mean {format_value(v.mean())}, "
                    f"max {format_value(v.max())}")
        return f"{shape} {v.dtype}"
    if isinstance(v, tuple):
        return "(" + ", ".join(format_value(x) for x in v) + ("," if len(v) == 1 else "") + ")"
    return repr(v)


def _width(s: str) -> int:
    return sum(0 if unicodedata.combining(c) else 1 for c in s)


def _pad(s: str, width: int) -> str:
    return s + " " * (width - _width(s))


def _text_table(title: str, rows: list[Row]) -> str:
    w_name = max((_width(r.name) for r in rows), default=0)
    w_expr = max((_width(r.expr) for r in rows), default=0)
    w_value = max((_width(r.text) for r in rows), default=0)
    lines = [title]
    last = None
    for r in rows:
        line = f"  {_pad(r.name, w_name)} = {_pad(r.expr, w_expr)} = {_pad(r.text, w_value)}"
        if r.line is not None and (r.file, r.line) != last:
            line += f"  # {r.label}: {r.source}"
        last = (r.file, r.line)
        lines.append(line.rstrip())
    return "\n".join(lines)


def _html_table(title: str, rows: list[Row]) -> str:
    e = html.escape
    body = "".join(
        f"<tr><td>{e(r.name)}</td><td>{e(r.expr)}</td><td>{e(r.text)}</td>"
        f"<td>{'' if r.line is None else e(f'{r.label}: {r.source}')}</td></tr>"
        for r in rows)
    return (f"<table><caption>{e(title)}</caption><thead><tr><th>variable</th>"
            f"<th>operation</th><th>value</th><th>source</th></tr></thead>"
            f"<tbody>{body}</tbody></table>")
