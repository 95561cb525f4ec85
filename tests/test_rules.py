"""The rule table: one row per primitive, with the domain of each input.

Each differentiable primitive is applied directly (an IR function holding just it), pushed
through both transforms, printed and compiled like user code, and checked:
forward mode against central finite differences of the primitive's implementation, reverse
mode against forward mode by the inner-product identity <vjp(c), t> = <c, jvp(t)>, and the
second order by forward over reverse: the tangent of the adjoints along t against central
differences of the adjoints along t.  Every row runs on Python floats (where the primitive
takes scalars) and on arrays whose shapes broadcast against each other.

A row is ``(argument specs, params)``, or ``(argument specs, params, reason)`` for a row that
is only checked to first order (``first_order_only``), the reason saying why the second-order
check cannot hold there.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from s2sad.codegen import generate
from s2sad.compile import compile_generated
from s2sad.ir import Block, Const, Function, Var
from s2sad.rules import REGISTRY, Builder, Sym, apply, building, type_of_value
from s2sad.runtime import Dyn
from s2sad.transforms.dce import dce
from s2sad.transforms.jvp import jvp
from s2sad.transforms.simplify import simplify
from s2sad.transforms.vjp import vjp
from s2sad.verify import verify


class Dom:
    """An input domain: draws values of a shape (None: a Python float)."""

    def __init__(self, name: str, lo: float, hi: float) -> None:
        self.name, self.lo, self.hi = name, lo, hi

    def draw(self, rng: np.random.Generator, shape: Any) -> Any:
        if shape is None:
            return float(rng.uniform(self.lo, self.hi))
        return rng.uniform(self.lo, self.hi, size=shape)

    def __repr__(self) -> str:
        return self.name


R = Dom("R", -2.0, 2.0)
POS = Dom("pos", 0.5, 2.0)
UNIT = Dom("unit", -0.9, 0.9)
LOW = Dom("low", -2.0, -0.5)
HIGH = Dom("high", 0.5, 2.0)
SCALAR = None  # shape of a Python float

UNARY_SHAPES = [(SCALAR,), ((2, 3),)]
BINARY_SHAPES = [(SCALAR, SCALAR), ((3, 1), (4,)), ((2, 3), SCALAR), (SCALAR, (3,)), ((2, 3), (2, 3))]


def unary(dom: Dom) -> list[tuple[list[Any], dict[str, Any]]]:
    return [([(dom, s[0])], {}) for s in UNARY_SHAPES]


def binary(d1: Dom, d2: Dom, shapes: list[Any] = BINARY_SHAPES) -> list[Any]:
    return [([(d1, a), (d2, b)], {}) for a, b in shapes]


def const(value: Any) -> tuple[str, Any]:
    return ("const", value)


def first_order_only(reason: str, cases: list[Any]) -> list[Any]:
    """`cases` with the second-order check left out, for `reason` (say why, in one line)."""
    assert reason
    return [(specs, params, reason) for specs, params in cases]


MASK = np.array([[True, False, True], [False, True, True]])

# name -> cases; a case is (argument specs, params); an argument spec is (domain, shape) or
# const(value) for an argument that is not differentiated.
TABLE: dict[str, list[Any]] = {
    "add": binary(R, R),
    "sub": binary(R, R),
    "mul": binary(R, R),
    "div": binary(R, POS),
    "pow": binary(POS, R) + [([(R, SCALAR), const(3)], {}), ([(R, (2, 3)), const(2)], {})],
    "mod": binary(POS, POS, [(SCALAR, SCALAR), ((2, 3), (3,))]),
    "neg": unary(R),
    "abs": unary(R),
    "square": unary(R),
    "sin": unary(R), "cos": unary(R), "tan": unary(UNIT),
    "arcsin": unary(UNIT), "arccos": unary(UNIT), "arctan": unary(R),
    "sinh": unary(R), "cosh": unary(R), "tanh": unary(R),
    "exp": unary(R), "expm1": unary(R),
    "log": unary(POS), "log1p": unary(POS), "log2": unary(POS), "log10": unary(POS),
    "sqrt": unary(POS), "erf": unary(R),
    "arctan2": binary(R, POS),
    "hypot": binary(POS, POS),
    "maximum": binary(R, R),
    "minimum": binary(R, R),
    "where": [([const(MASK), (R, (2, 3)), (R, (3,))], {}),
              ([const(MASK), (R, SCALAR), (R, (2, 3))], {})],
    "clip": [([(R, (2, 3)), const(-0.5), const(0.7)], {}),
             ([(R, SCALAR), const(-0.5), const(0.7)], {}),
             ([(R, (2, 3)), (LOW, (3,)), (HIGH, SCALAR)], {})],
    "sum": [([(R, (2, 3))], {}), ([(R, (2, 3))], {"axis": 0}),
            ([(R, (2, 3, 4))], {"axis": (0, 2), "keepdims": True}), ([(R, SCALAR)], {})],
    "mean": [([(R, (2, 3))], {}), ([(R, (2, 3))], {"axis": 1}),
             ([(R, (2, 3))], {"axis": -1, "keepdims": True})],
    "prod": [([(POS, (2, 3))], {}), ([(POS, (2, 3))], {"axis": 1}),
             ([(POS, (2, 3))], {"axis": 0, "keepdims": True})],
    "max": [([(R, (2, 3))], {}), ([(R, (2, 3))], {"axis": 1}),
            ([(R, (2, 3))], {"axis": 0, "keepdims": True})],
    "min": [([(R, (2, 3))], {}), ([(R, (2, 3))], {"axis": 1})],
    "matmul": binary(R, R, [((2, 3), (3, 4)), ((3,), (3, 4)), ((2, 3), (3,)), ((3,), (3,)),
                            ((5, 2, 3), (3, 4)), ((5, 2, 3), (5, 3, 2))]),
    "outer": binary(R, R, [((2,), (3,)), ((2, 2), (3,))]),
    "transpose": [([(R, (2, 3))], {}), ([(R, (2, 3, 4))], {"axes": (1, 2, 0)})],
    "swapaxes": [([(R, (2, 3, 4))], {"axis1": 0, "axis2": 2})],
    "reshape": [([(R, (2, 3))], {"shape": (3, 2)}), ([(R, (2, 3))], {"shape": (-1,)})],
    "ravel": [([(R, (2, 3))], {})],
    "expand_dims": [([(R, (2, 3))], {"axis": 1}), ([(R, (3,))], {"axis": 0})],
    "broadcast_to": [([(R, (3,)), const(np.zeros((2, 3)))], {}),
                     ([(R, (2, 1)), const(np.zeros((2, 3)))], {})],
    "fill": [([(R, (3,)), const(np.zeros((2, 3)))], {}), ([(R, SCALAR), const(np.zeros(3))], {})],
    "unbroadcast": [([(R, (2, 3)), const(np.zeros(3))], {}),
                    ([(R, (2, 3)), const(np.zeros((2, 1)))], {})],
    "getitem": [([(R, (4, 3))], {"spec": (1,)}),
                ([(R, (4, 3))], {"spec": (slice(1, 3), -1)}),
                ([(R, (4, 3))], {"spec": (Ellipsis, None, slice(None, None, 2))}),
                ([(R, (4, 3)), const(2)], {"spec": (Dyn(0),)}),
                ([(R, (5,)), const(np.array([0, 2, 2]))], {"spec": (Dyn(0),)})],
    "scatter": [([(R, (3,)), const(np.zeros((4, 3)))], {"spec": (1,)}),
                ([(R, SCALAR), const(np.zeros((4, 3)))], {"spec": (2, 0)})],
    "pack": [([(R, SCALAR), (R, SCALAR), (R, SCALAR)], {})],
    "setitem": [([(R, (4, 3)), (R, (3,))], {"spec": (1,)}),
                ([(R, (4, 3)), (R, SCALAR)], {"spec": (slice(1, 3), -1)}),
                ([(R, (5,)), (R, (2,)), const(np.array([0, 3]))], {"spec": (Dyn(0),)})],
    # float32 round-off would swamp the finite differences; dtypes are tested in test_surface
    "astype": [([(R, (2, 3))], {"dtype": np.dtype("float64")})],
    "construct": [([const((2, 3)), (R, SCALAR)], {"fn": np.full}),
                  ([const((2, 3)), (R, (3,))], {"fn": np.full})],
    "jacobian_block": [([(R, (3, 2)), const(np.zeros(2)), const(np.zeros(3))], {}),
                       ([(R, (6, 2)), const(np.zeros(2)), const(np.zeros((2, 3)))], {}),
                       ([(R, (1,)), const(0.0), const(0.0)], {}),
                       ([(R, (2, 4, 3)), const(np.zeros(3)), const(np.zeros(4))], {"lead": 1})],
    "jacobian_unblock": [([(R, (2, 3)), const(np.zeros(2)), const(np.zeros(3))], {}),
                         ([(R, (5, 2, 3)), const(np.zeros(2)), const(np.zeros(3))],
                          {"lead": 1})],
}

# Primitives with no derivative (comparisons, rounding, shapes) or that only print code.
NOT_DIFFERENTIABLE = {
    "lt", "le", "gt", "ge", "eq", "ne", "logical_and", "sign", "floor", "ceil", "round",
    "trunc", "rint", "shape", "size", "len", "int", "zeros_like", "ones_like", "tuple", "floordiv",
    "jacobian_seed", "comment", "stop_gradient", "tape", "push", "pop", "print", "breakpoint",
    "check_broadcast", "check_matmul",
    "list_new", "list_zeros",
}


# Primitives tested in files of their own: those whose rules run user code, and those with
# several results (checked on every result, and on losses that read only some): name -> file.
ELSEWHERE = {"hook": "tests/test_custom_rules.py",
             **{name: "tests/test_multi_output.py"
                for name in ("eigh", "qr", "svd", "slogdet", "lstsq", "split", "array_split")},
             **{name: "tests/test_containers.py"  # lists grown at run time
                for name in ("list_of", "list_append", "list_pop", "list_addat", "list_getitem",
                             "list_stack", "list_unstack", "list_sum", "list_fill",
                             "list_addall", "list_add", "list_copy")}}


def test_table_lists_every_primitive() -> None:
    from test_rules_numpy import NOT_DIFFERENTIABLE as NUMPY_NOT_DIFFERENTIABLE
    from test_rules_numpy import TABLE as NUMPY_TABLE  # the rows of s2sad/prims_numpy.py
    from test_rules_scipy import HAVE_SCIPY
    from test_rules_scipy import NOT_DIFFERENTIABLE as SCIPY_NOT_DIFFERENTIABLE
    from test_rules_scipy import TABLE as SCIPY_TABLE  # and of s2sad/prims_scipy.py
    if not HAVE_SCIPY:  # then s2sad registers none of them
        SCIPY_TABLE, SCIPY_NOT_DIFFERENTIABLE = {}, set()

    from s2sad.custom import USER_PREFIX  # user functions given rules by other tests
    from s2sad.recursion import PREFIX  # and recursive user functions they call
    registry = {n: p for n, p in REGISTRY.items() if not n.startswith((USER_PREFIX, PREFIX))}
    differentiable = {n for n, p in registry.items() if p.differentiable} - set(ELSEWHERE)
    assert not set(TABLE) & set(NUMPY_TABLE) and not (set(TABLE) | set(NUMPY_TABLE)) & \
        set(SCIPY_TABLE)
    assert set(TABLE) | set(NUMPY_TABLE) | set(SCIPY_TABLE) == differentiable
    assert NOT_DIFFERENTIABLE | NUMPY_NOT_DIFFERENTIABLE | SCIPY_NOT_DIFFERENTIABLE == \
        set(registry) - differentiable - set(ELSEWHERE)


def cases(table: dict[str, list[Any]]) -> list[Any]:
    """One test case per row of a rule table (this one and those of prims_numpy/scipy)."""
    return [pytest.param(name, i, id=f"{name}-{i}") for name in table
            for i in range(len(table[name]))]


def check_row(table: dict[str, list[Any]], name: str, case: int, seed: int) -> None:
    """Check one row; rows made with :func:`first_order_only` skip the second order."""
    specs, params, *reason = table[name][case]
    check_rule(name, specs, params, seed + case, second_order=not reason)


def _draw(spec: Any, rng: np.random.Generator) -> Any:
    if spec[0] == "const":
        return spec[1]
    dom, shape = spec
    return dom.draw(rng, shape)


def _primitive_function(name: str, values: list[Any], active: list[int],
                        params: dict[str, Any]) -> Function:
    b = Builder()
    params_v = [Var(type_of_value(values[i]), f"x{i}") for i in active]
    atoms: list[Any] = list(values)
    for v, i in zip(params_v, active):
        atoms[i] = Sym(v)
    with building(b):
        out = apply(name, *atoms, **params)
    return Function(name, tuple(params_v), Block(tuple(b.stmts)), (out.atom,),
                    param_names=tuple(v.hint or "" for v in params_v))


def _compile(fn: Function) -> Any:
    for p in (verify,):
        p(fn)
    fn = verify(dce(verify(simplify(fn))))
    return compile_generated(generate(fn), None)


def _vdot(a: Any, b: Any) -> float:
    return float(np.sum(np.asarray(a) * np.asarray(b)))


def check_rule(name: str, specs: list[Any], params: dict[str, Any], seed: int,
               second_order: bool = True) -> None:
    """Drive primitive `name` through both transforms on arguments drawn from `specs`.

    Forward mode against central differences of the primitive's implementation; reverse
    mode: adjoints shaped like their inputs, and the inner-product identity with forward mode;
    with `second_order`, forward over reverse against central differences of reverse mode.
    """
    rng = np.random.default_rng(seed)
    values = [_draw(s, rng) for s in specs]
    active = [i for i, s in enumerate(specs) if s[0] != "const"]
    fn = _primitive_function(name, values, active, params)
    prim = REGISTRY[name]

    def f(*xs: Any) -> Any:
        full = [v.value if isinstance(v, Const) else v for v in values]  # constants as given
        for i, x in zip(active, xs):
            full[i] = x
        return prim.impl(*full, **params)

    xs = [values[i] for i in active]
    ts = [_draw((R, np.shape(x) if isinstance(x, np.ndarray) else None), rng) for x in xs]

    f_jvp = _compile(verify(jvp(fn, range(len(active)))))
    out, out_dot = f_jvp(*xs, *ts)
    np.testing.assert_allclose(out, f(*xs), rtol=1e-12, atol=1e-12)
    h = 1e-6
    numeric = (np.asarray(f(*[x + h * t for x, t in zip(xs, ts)])) -
               np.asarray(f(*[x - h * t for x, t in zip(xs, ts)]))) / (2 * h)
    assert np.shape(out_dot) == np.shape(out)
    np.testing.assert_allclose(out_dot, numeric, rtol=1e-5, atol=1e-6)

    f_vjp = _compile(verify(vjp(fn, range(len(active)), seed="param")))
    c = _draw((R, np.shape(out) if np.ndim(out) else None), rng)
    out2, *bars = f_vjp(*xs, c)
    np.testing.assert_allclose(out2, out, rtol=1e-12, atol=1e-12)
    for x, xb in zip(xs, bars):
        assert np.shape(xb) == np.shape(x), (name, np.shape(xb), np.shape(x))
    lhs = sum(_vdot(xb, t) for xb, t in zip(bars, ts))
    rhs = _vdot(c, out_dot)
    assert lhs == pytest.approx(rhs, rel=1e-9, abs=1e-9)
    if second_order:
        check_second_order(fn, xs, ts, c, f_vjp)


def check_second_order(fn: Function, xs: list[Any], ts: list[Any], c: Any,
                       f_vjp: Any) -> None:
    """Forward over reverse (as s2sad.hvp builds it): the tangent of the adjoints of `fn`
    at `xs`, for cotangent `c`, along `ts`, against central differences of the adjoints."""
    n = len(xs)
    rev = verify(dce(verify(simplify(verify(vjp(fn, range(n), seed="param"))))))
    f_fwd_rev = _compile(verify(jvp(rev, range(n))))
    out = f_fwd_rev(*xs, c, *ts)
    bars, bar_dots = out[1:1 + n], out[2 + n:]
    assert len(bar_dots) == n
    _, *want = f_vjp(*xs, c)
    for b, w in zip(bars, want):
        np.testing.assert_allclose(b, w, rtol=1e-12, atol=1e-12)
    h = 1e-6
    _, *plus = f_vjp(*[x + h * t for x, t in zip(xs, ts)], c)
    _, *minus = f_vjp(*[x - h * t for x, t in zip(xs, ts)], c)
    for x, bd, p, m in zip(xs, bar_dots, plus, minus):
        assert np.shape(bd) == np.shape(x), (np.shape(bd), np.shape(x))
        numeric = (np.asarray(p) - np.asarray(m)) / (2 * h)
        np.testing.assert_allclose(bd, numeric, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name,case", cases(TABLE))
def test_rule(name: str, case: int) -> None:
    check_row(TABLE, name, case, 1234)
