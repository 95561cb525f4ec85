"""The rule table of the primitives in ``s2sad/prims_numpy.py``, checked as in test_rules.

Each row is pushed through both transforms, printed and compiled, and checked: forward mode
against central differences of the primitive's implementation, reverse mode against forward
mode by the inner-product identity.  ``tests/test_rules.py`` merges this table into its check
that every registered primitive has a row.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from test_rules import (
    POS,
    SCALAR,
    UNIT,
    Dom,
    R,
    _compile,
    _primitive_function,
    binary,
    cases,
    check_row,
    const,
    unary,
)

from s2sad.prims_numpy import subscripts
from s2sad.transforms.jvp import jvp
from s2sad.transforms.vjp import vjp
from s2sad.verify import verify


class SPD(Dom):
    """Symmetric positive definite matrices (batched when the shape has more axes)."""

    def __init__(self) -> None:
        super().__init__("spd", -1.0, 1.0)

    def draw(self, rng: np.random.Generator, shape: Any) -> Any:
        m = rng.uniform(-1.0, 1.0, size=shape)
        return m @ np.swapaxes(m, -1, -2) + shape[-1] * np.eye(shape[-1])


class WithNaN(Dom):
    """Arrays over R with NaN at a few fixed places."""

    def __init__(self) -> None:
        super().__init__("nan", -2.0, 2.0)

    def draw(self, rng: np.random.Generator, shape: Any) -> Any:
        x = rng.uniform(self.lo, self.hi, size=shape)
        x.flat[::3] = np.nan
        return x


class WithInf(Dom):
    """Arrays over R with NaN, +inf and -inf at a few fixed places."""

    def __init__(self) -> None:
        super().__init__("inf", -2.0, 2.0)

    def draw(self, rng: np.random.Generator, shape: Any) -> Any:
        x = rng.uniform(self.lo, self.hi, size=shape)
        x.flat[::5] = np.nan
        x.flat[1::5] = np.inf
        x.flat[2::7] = -np.inf
        return x


class NanPos(WithNaN):
    """Positive arrays with NaN at a few fixed places (np.nanprod: no zeros)."""

    def draw(self, rng: np.random.Generator, shape: Any) -> Any:
        x = np.abs(super().draw(rng, shape)) + 0.5
        return x


GT1 = Dom("gt1", 1.2, 3.0)
KNOTS = np.array([-1.0, -0.2, 0.5, 1.5])
WELL = Dom("well", 1.0, 2.0)  # away from sinc's and cbrt's awkward points
SPDM = SPD()
NAN = WithNaN()
INF = WithInf()
NANPOS = NanPos()


def es(spec: str) -> tuple[str, Any]:
    """An einsum subscripts operand."""
    return const(subscripts(spec).atom)


def arr(shape: Any, dom: Dom = R) -> tuple[Dom, Any]:
    return (dom, shape)


TABLE: dict[str, list[Any]] = {
    "cbrt": unary(WELL) + [([arr((2, 3), Dom("neg", -2.0, -1.0))], {})],
    "arcsinh": unary(R), "arccosh": unary(GT1), "arctanh": unary(UNIT),
    "logaddexp": binary(R, R), "logaddexp2": binary(R, R),
    "sinc": unary(R),
    "fmax": binary(R, R) + [([arr((3,)), const(np.array([np.nan, 0.0, np.nan]))], {})],
    "fmin": binary(R, R) + [([const(np.array([np.nan, 0.0, 1.0])), arr((2, 3))], {})],
    "copy": [([arr((2, 3))], {})],
    "var": [([arr((2, 3))], {}), ([arr((2, 3))], {"axis": 0}),
            ([arr((2, 3, 4))], {"axis": (0, 2), "keepdims": True, "ddof": 1}),
            ([arr((4,))], {"ddof": 1})],
    "std": [([arr((2, 3))], {}), ([arr((2, 3))], {"axis": 1, "ddof": 1}),
            ([arr((2, 3))], {"axis": -1, "keepdims": True})],
    "cumsum": [([arr((2, 3))], {}), ([arr((2, 3))], {"axis": 1}), ([arr((4,))], {"axis": 0})],
    "cumprod": [([arr((2, 3), POS)], {}), ([arr((2, 3), POS)], {"axis": 0})],
    "nansum": [([arr((2, 3), NAN)], {}), ([arr((2, 3), NAN)], {"axis": 1}),
               ([arr((2, 3))], {"axis": 0, "keepdims": True})],
    "nanmean": [([arr((2, 3), NAN)], {}), ([arr((3, 4), NAN)], {"axis": 0}),
                ([arr((3, 4), NAN)], {"axis": 1, "keepdims": True})],
    "stack": [([arr((2, 3)), arr((2, 3))], {}), ([arr((2, 3)), arr((2, 3)), arr((2, 3))],
                                                   {"axis": -1}),
              ([arr((3,)), arr((3,))], {"axis": 1}), ([arr(()), arr(())], {"axis": 0})],
    "concatenate": [([arr((2, 3)), arr((1, 3)), arr((3, 3))], {"axis": 0}),
                    ([arr((2, 3)), arr((2, 1))], {"axis": -1}),
                    ([arr((2, 3)), arr((4,)), arr((1, 1))], {"axis": None})],
    "append": [([arr((2, 3)), arr((1, 3))], {"axis": 0}), ([arr((2, 3)), arr((2, 2))], {"axis": -1}),
               ([arr((2, 3)), arr((4,))], {}), ([arr((2, 3)), const(np.ones((2, 1)))], {"axis": 1})],
    "squeeze": [([arr((2, 1, 3))], {}), ([arr((1, 3, 1))], {"axis": 2})],
    "flip": [([arr((2, 3))], {}), ([arr((2, 3))], {"axis": 1}), ([arr((2, 3, 2))], {"axis": (0, 2)})],
    "roll": [([arr((5,))], {"shift": 2}), ([arr((2, 3))], {"shift": -1, "axis": 1}),
             ([arr((2, 3))], {"shift": (1, 2), "axis": (0, 1)})],
    "tile": [([arr((3,))], {"reps": (2,)}), ([arr((2, 3))], {"reps": (2, 1)}),
             ([arr((3,))], {"reps": (2, 2)}), ([arr((2, 3))], {"reps": (3,)})],
    "repeat": [([arr((2, 3))], {"repeats": 2}), ([arr((2, 3))], {"repeats": 3, "axis": 1}),
               ([arr((2, 3))], {"repeats": 2, "axis": 0})],
    "pad": [([arr((2, 3))], {"pad_width": ((1, 0), (2, 1))}),
            ([arr((3,))], {"pad_width": ((2, 2),), "constant_values": 1.5})],
    "broadcast_to_shape": [([arr((3,))], {"shape": (2, 3)}), ([arr((2, 1))], {"shape": (4, 2, 3)}),
                           ([arr(SCALAR)], {"shape": (2,)})],
    "tril": [([arr((3, 3))], {}), ([arr((2, 3, 4))], {"k": 1})],
    "triu": [([arr((3, 3))], {}), ([arr((3, 4))], {"k": -1})],
    "diagonal": [([arr((3, 3))], {}), ([arr((3, 4))], {"offset": 1}),
                 ([arr((4, 3))], {"offset": -2}), ([arr((3, 3, 2))], {})],
    "diag": [([arr((3,))], {}), ([arr((3,))], {"k": 1}), ([arr((2,))], {"k": -2})],
    "take": [([arr((5,)), const(np.array([0, 2, 2]))], {"axis": 0}),
             ([arr((2, 4)), const(np.array([[3, 0], [1, 1]]))], {"axis": 1}),
             ([arr((2, 3, 4)), const(np.array([2, 0]))], {"axis": 1})],
    "take_along_axis": [([arr((2, 3)), const(np.array([[2, 0, 0], [1, 1, 2]]))], {"axis": 1}),
                        ([arr((3, 2)), const(np.array([[2, 0], [0, 0]]))], {"axis": 0}),
                        ([arr((4,)), const(np.array([3, 3, 0]))], {"axis": 0})],
    "einsum": [([es("ij,jk->ik"), arr((2, 3)), arr((3, 4))], {}),
               ([es("ij->"), arr((2, 3))], {}),
               ([es("ij->j"), arr((2, 3))], {}),
               ([es("i,j->ij"), arr((2,)), arr((3,))], {}),
               ([es("ii->"), arr((3, 3))], {}),
               ([es("iij->ij"), arr((2, 2, 3))], {}),
               ([es("bij,bjk->bik"), arr((2, 3, 4)), arr((2, 4, 2))], {}),
               ([es("ij,j,k->ik"), arr((2, 3)), arr((3,)), arr((4,))], {}),
               ([es("ij,ij->i"), arr((2, 3)), const(np.ones((2, 3)))], {})],
    "kron": [([arr((2,)), arr((3,))], {}), ([arr((2, 3)), arr((2, 2))], {})],
    "inv": [([arr((3, 3), SPDM)], {}), ([arr((2, 3, 3), SPDM)], {})],
    "solve": [([arr((3, 3), SPDM), arr((3,))], {}), ([arr((3, 3), SPDM), arr((3, 2))], {}),
              ([arr((2, 3, 3), SPDM), arr((2, 3, 2))], {})],
    "det": [([arr((3, 3), SPDM)], {}), ([arr((3, 3))], {}), ([arr((2, 3, 3), SPDM)], {})],
    "norm": [([arr((2, 3))], {}), ([arr((4,))], {}), ([arr((2, 3))], {"axis": 1}),
             ([arr((2, 3))], {"axis": 0, "keepdims": True})],
    "cholesky": [([arr((3, 3), SPDM)], {}), ([arr((2, 3, 3), SPDM)], {})],
    "eigvalsh": [([arr((3, 3), SPDM)], {}), ([arr((2, 3, 3), SPDM)], {})],
    "svdvals": [([arr((3, 2))], {"compute_uv": False}), ([arr((2, 4))], {"compute_uv": False})],
    "nanmax": [([arr((2, 3), NAN)], {}), ([arr((3, 4), NAN)], {"axis": 1}),
               ([arr((3, 4), NAN)], {"axis": 0, "keepdims": True})],
    "nanmin": [([arr((2, 3), NAN)], {}), ([arr((3, 4), NAN)], {"axis": 0})],
    "nanprod": [([arr((2, 3), NANPOS)], {}), ([arr((3, 4), NANPOS)], {"axis": 1}),
                ([arr((3, 4), NANPOS)], {"axis": 0, "keepdims": True})],
    "nanvar": [([arr((2, 3), NAN)], {}), ([arr((3, 4), NAN)], {"axis": 0}),
               ([arr((3, 4), NAN)], {"axis": 1, "keepdims": True, "ddof": 1}),
               ([arr((2, 3))], {"axis": 1})],
    "nanstd": [([arr((2, 3), NAN)], {}), ([arr((3, 4), NAN)], {"axis": 1, "ddof": 1}),
               ([arr((3, 4), NAN)], {"axis": 0, "keepdims": True})],
    "cross": [([arr((3,)), arr((3,))], {}), ([arr((2, 3)), arr((3,))], {}),
              ([arr((4, 1, 3)), arr((2, 3))], {})],
    "copysign": binary(R, R),
    "fmod": binary(R, POS, [(SCALAR, SCALAR), ((2, 3), (3,)), ((3, 1), (4,))]),
    "ldexp": [([arr(SCALAR), const(3)], {}), ([arr((2, 3)), const(np.array([1, -2, 0]))], {})],
    "nan_to_num": [([arr((3, 4), INF)], {}), ([arr((3, 4), INF)], {"nan": 1.0, "posinf": 9.0}),
                   ([arr(SCALAR)], {})],
    "pinv": [([arr((3, 2))], {}), ([arr((2, 3))], {}), ([arr((3, 3), SPDM)], {}),
             ([arr((2, 3, 2))], {})],
    "convolve": [([arr((5,)), arr((3,))], {}), ([arr((5,)), arr((3,))], {"mode": "valid"}),
                 ([arr((3,)), arr((5,))], {"mode": "valid"}),
                 ([arr((5,)), arr((2,))], {"mode": "same"}),
                 ([arr((3,)), arr((6,))], {"mode": "same"}),
                 ([arr((4,)), const(np.array([0.5, -1.0]))], {})],
    "interp": [([arr(SCALAR, UNIT), const(KNOTS), arr((4,))], {}),
               ([arr((2, 3), Dom("wide", -3.0, 3.0)), const(KNOTS), arr((4,))], {}),
               ([arr((5,), Dom("wide", -3.0, 3.0)), const(KNOTS), const(np.ones(4))], {})],
    "polyval": [([arr((4,)), arr(SCALAR)], {}), ([arr((3,)), arr((2, 3), POS)], {}),
                ([const(np.array([1.0, -2.0, 0.5])), arr((3,))], {}),
                ([arr((1,)), arr((3,), POS)], {})],
}

# Registered by prims_numpy, without derivatives (tests, indices, factorisations).
NOT_DIFFERENTIABLE = {
    "logical_or", "logical_not", "isnan", "isinf", "isfinite", "argsort", "argmax", "argmin",
    "heaviside", "searchsorted",
}


@pytest.mark.parametrize("name,case", cases(TABLE))
def test_rule(name: str, case: int) -> None:
    check_row(TABLE, name, case, 4321)


def test_nan_entries_get_no_derivative() -> None:
    x = NAN.draw(np.random.default_rng(0), (2, 3))
    for name in ("nansum", "nanmean"):
        fn = _primitive_function(name, [x], [0], {"axis": 1})
        _, x_bar = _compile(verify(vjp(fn, [0], seed="param")))(x, np.ones(2))
        assert np.all(x_bar[np.isnan(x)] == 0.0)
        assert np.all(x_bar[~np.isnan(x)] != 0.0)


def test_fmax_tie_goes_to_the_first_argument() -> None:
    fn = _primitive_function("fmax", [1.0, 1.0], [0, 1], {})
    _, x_bar, y_bar = _compile(verify(vjp(fn, [0, 1], seed="param")))(1.0, 1.0, 1.0)
    assert (float(x_bar), float(y_bar)) == (1.0, 0.0)


def test_sinc_derivative_at_zero() -> None:
    fn = _primitive_function("sinc", [np.zeros(2)], [0], {})
    _, out_dot = _compile(verify(jvp(fn, [0])))(np.array([0.0, 1e-3]), np.ones(2))
    assert out_dot[0] == 0.0 and not np.any(np.isnan(out_dot))
    assert out_dot[1] == pytest.approx((np.sinc(2e-3) - np.sinc(0.0)) / 2e-3, abs=1e-6)



def _others(x: np.ndarray, axis: int | None) -> np.ndarray:
    """The product of the other entries of each slice, by brute force."""
    out = np.empty_like(x)
    for idx in np.ndindex(x.shape):
        y = x.copy()
        y[idx] = 1.0
        out[idx] = np.prod(y) if axis is None else np.prod(y, axis=axis)[
            idx[:axis] + idx[axis + 1:]]
    return out


_C = np.array([0.3, -1.2, 0.7])


def _prod_all(x):
    return np.prod(x)


def _prod_method(x):
    return x.prod()


def _prod_rows(x):
    return np.sum(np.prod(x, axis=1) * _C)


def _prod_columns_kept(x):
    return np.sum(np.prod(x, axis=0, keepdims=True) * _C)


def _nanprod_rows(x):
    return np.sum(np.nanprod(x, axis=1) * _C)


def test_products_with_zeros_have_exact_derivatives() -> None:
    # np.prod's derivative was ans / x: nan at a 0 (issue #12, F8 and fuzz seed 210)
    import s2sad
    x = np.array([[0.0, 2.0, 3.0], [1.0, 0.0, 0.0], [0.5, 1.5, 2.0]])
    cases = [(_prod_all, None), (_prod_method, None), (_prod_rows, 1),
             (_prod_columns_kept, 0), (_nanprod_rows, 1)]
    for fn, axis in cases:
        want = _others(x, axis) * (1.0 if axis is None else np.expand_dims(_C, axis))
        np.testing.assert_allclose(s2sad.grad(fn)(x), want, rtol=1e-12)
        t = np.random.default_rng(1).standard_normal(x.shape)
        np.testing.assert_allclose(s2sad.jvp(fn, (x,), (t,))[1], np.sum(want * t), rtol=1e-12)
    nan = x.copy()
    nan[2, 0] = np.nan  # np.nanprod counts it as 1, and gives it no derivative
    g = s2sad.grad(_nanprod_rows)(nan)
    want = _others(np.where(np.isnan(nan), 1.0, nan), 1) * np.expand_dims(_C, 1)
    want[2, 0] = 0.0
    np.testing.assert_allclose(g, want, rtol=1e-12)
    # second derivatives at one and at two zeros: d2 prod / dxi dxj is the product of the rest
    for y in (np.array([0.0, 2.0, 3.0, 0.5]), np.array([0.0, 0.0, 3.0, 0.5])):
        h = s2sad.hessian(_prod_all)(y)
        want = np.array([[0.0 if i == j else np.prod(np.delete(y, [i, j])) for j in range(4)]
                         for i in range(4)])
        np.testing.assert_allclose(h, want, rtol=1e-12)
