"""SciPy special functions as users write them (``s2sad/prims_scipy.py``).

Differentiated by `s2sad.check_grads` in both modes, on Python floats and on broadcasting
arrays; the generated code calls SciPy by its public name and runs also where the user's
module imported only the function (``from scipy.special import expit``).
"""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

import s2sad

pytestmark = pytest.mark.skipif(importlib.util.find_spec("scipy") is None,
                                reason="SciPy is not installed")
if importlib.util.find_spec("scipy") is not None:
    import scipy.special
    from scipy.special import expit, gammaln, logsumexp, softmax

rng = np.random.default_rng(11)
A = rng.uniform(0.2, 0.8, (3, 4))
B = rng.uniform(0.2, 0.8, (4,))


def elementwise(x, y):
    sp = scipy.special
    return np.sum(expit(x) + sp.logit(y) + sp.erf(x) + sp.erfc(y) + sp.erfinv(x - 0.5)
                  + sp.erfcinv(y + 0.5) + gammaln(x + 1.0) + sp.digamma(y + 1.0)
                  + sp.psi(x + 2.0) + sp.polygamma(1, x + 1.0) + sp.polygamma(2, y + 1.0)
                  + sp.xlogy(x, y) + sp.xlog1py(y, x) + sp.entr(x))


def reductions(x):
    sp = scipy.special
    return logsumexp(x) + np.sum(logsumexp(x, axis=1) ** 2) \
        + np.sum(logsumexp(x, axis=0, keepdims=True) * x) + np.sum(softmax(x) * x) \
        + np.sum(softmax(x, axis=1) ** 2) + np.sum(sp.log_softmax(x, axis=0) * x) \
        + np.sum(sp.log_softmax(x[0]) ** 2)


@pytest.mark.parametrize("fn,args", [(elementwise, (0.3, 0.6)), (elementwise, (A, B)),
                                     (elementwise, (A[:, :1], B)), (reductions, (A,))])
def test_both_modes(fn, args):
    s2sad.check_grads(fn, *args)


def test_second_order():
    h = s2sad.hessian(lambda x: logsumexp(x) + np.sum(expit(x) * gammaln(x + 1.0)))(B)
    e = 1e-5
    f = s2sad.grad(lambda x: logsumexp(x) + np.sum(expit(x) * gammaln(x + 1.0)))
    numeric = np.stack([(f(B + e * u) - f(B - e * u)) / (2 * e) for u in np.eye(4)])
    np.testing.assert_allclose(h, numeric, rtol=1e-6, atol=1e-8)


def only_imported_names(x):
    return expit(x) * logsumexp(np.array([x, 2.0 * x]))


def test_generated_code_names_scipy_and_runs_without_the_module_name():
    """The user's module has `expit` but need not have `scipy`: s2sad provides it."""
    text = s2sad.emit(only_imported_names, 0.4)
    assert "scipy.special.expit(" in text and "scipy.special.logsumexp(" in text
    fn = only_imported_names
    saved = fn.__globals__.pop("scipy")
    try:
        g = s2sad.grad(fn)
        for _ in range(2):  # the general path, then the entry's own specialisation
            assert g(0.4) == pytest.approx(
                (fn(0.4 + 1e-6) - fn(0.4 - 1e-6)) / 2e-6, rel=1e-6)
    finally:
        fn.__globals__["scipy"] = saved
