"""The rule table of the primitives in ``s2sad/prims_scipy.py`` (SciPy special functions).

Checked as in test_rules: forward mode against central differences, reverse mode by the
inner-product identity, forward over reverse against central differences of reverse mode.
``tests/test_rules.py`` merges this table into its check that every registered primitive has
a row.  SciPy is in the ``test`` extra; the tests skip only as a safety net without it.
"""

from __future__ import annotations

import importlib.util
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

from s2sad.transforms.vjp import vjp
from s2sad.verify import verify

HAVE_SCIPY = importlib.util.find_spec("scipy") is not None
pytestmark = pytest.mark.skipif(not HAVE_SCIPY, reason="SciPy is not installed")

PROB = Dom("prob", 0.1, 0.9)
TWO = Dom("(0,2)", 0.2, 1.8)


def arr(shape: Any, dom: Dom = R) -> tuple[Dom, Any]:
    return (dom, shape)


TABLE: dict[str, list[Any]] = {
    "expit": unary(R), "logit": unary(PROB),
    "erfc": unary(R), "erfinv": unary(UNIT), "erfcinv": unary(TWO),
    "gammaln": unary(POS), "digamma": unary(POS),
    "polygamma": [([const(0), arr(SCALAR, POS)], {}), ([const(1), arr((2, 3), POS)], {}),
                  ([const(np.array([0, 1, 2])), arr((2, 3), POS)], {})],
    "xlogy": binary(R, POS) + [([const(np.array([0.0, 1.0, 0.0])), arr((2, 3), POS)], {})],
    "xlog1py": binary(R, POS),
    "entr": unary(POS),
    "logsumexp": [([arr((2, 3))], {}), ([arr((2, 3))], {"axis": 1}),
                  ([arr((2, 3, 4))], {"axis": (0, 2), "keepdims": True}),
                  ([arr((4,))], {"axis": 0}), ([arr(SCALAR)], {})],
    "softmax": [([arr((2, 3))], {}), ([arr((2, 3))], {"axis": 1}),
                ([arr((2, 3, 4))], {"axis": (0, 2)}), ([arr((4,))], {})],
    "log_softmax": [([arr((2, 3))], {}), ([arr((2, 3))], {"axis": 0}), ([arr((4,))], {})],
}

NOT_DIFFERENTIABLE: set[str] = set()


@pytest.mark.parametrize("name,case", cases(TABLE))
def test_rule(name: str, case: int) -> None:
    check_row(TABLE, name, case, 5678)


def test_xlogy_where_x_is_zero() -> None:
    """xlogy(0, y) is 0 for every y, also y = 0: the derivative in y is 0 there, not NaN."""
    fn = _primitive_function("xlogy", [np.zeros(2), np.zeros(2)], [0, 1], {})
    with np.errstate(divide="ignore"):  # x_bar[0] is log(0) = -inf
        _, x_bar, y_bar = _compile(verify(vjp(fn, [0, 1], seed="param")))(
            np.array([0.0, 2.0]), np.array([0.0, 0.5]), np.ones(2))
    assert y_bar[0] == 0.0 and y_bar[1] == pytest.approx(4.0)
    assert x_bar[1] == pytest.approx(np.log(0.5))
