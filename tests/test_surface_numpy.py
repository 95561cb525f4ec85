"""The NumPy callables of ``s2sad/prims_numpy.py`` as users write them.

Each function is differentiated with respect to its float arguments in both modes by
`s2sad.check_grads` (forward against central differences, reverse against forward by the
inner-product identity), on Python floats where NumPy takes them and on broadcasting arrays.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import s2sad

rng = np.random.default_rng(7)
A = rng.uniform(0.5, 1.5, (3, 4))
B = rng.uniform(0.5, 1.5, (4,))
C = rng.uniform(0.5, 1.5, (3, 1))
Q = rng.uniform(-1, 1, (3, 3))
SPD = Q @ Q.T + 3 * np.eye(3)
V3 = rng.uniform(-1, 1, (3,))
T = rng.uniform(-1, 1, (2, 3, 4))
_trapezoid = getattr(np, "trapezoid", None) or getattr(np, "trapz")  # by NumPy version
HAS_ROW_STACK = hasattr(np, "row_stack")
HAS_CUMULATIVE = hasattr(np, "cumulative_sum")
HAS_VECTOR_NORM = hasattr(np.linalg, "vector_norm")


def elementwise(x, y):
    a = np.exp2(x) + np.cbrt(x - 2.0) + np.float_power(x, y) + np.logaddexp(x, y)
    b = np.logaddexp2(x, -y) + np.sinc(x) + np.deg2rad(x) + np.rad2deg(y) + np.radians(x)
    c = np.degrees(y) + np.fmax(x, y) + np.fmin(x, 2.0 * y) + np.arcsinh(x) + np.arccosh(y + 1.0)
    d = np.arctanh(x / 3) + np.absolute(x - y) + np.fabs(y - 1.0) + np.positive(x)
    e = np.mod(x, 0.3) * y + np.remainder(y, 0.65)
    return np.sum(a + b + c + d + e)


def math_more(x, y):
    return math.asinh(x) + math.acosh(y + 1.0) + math.atanh(x / 3) + math.radians(x) \
        + math.degrees(y) + x * math.trunc(y * 3) + y * round(x)


def zero_derivative(x, y):
    s = np.sign(x - 1.0) + np.floor(x) + np.ceil(y) + np.round(x) + np.around(y) \
        + np.trunc(x) + np.rint(y) + np.fix(x - 1.0) + np.floor_divide(x, 0.25)
    return np.sum(s * x * y)


def nan_aware(x):
    """NaN entries must not reach other operations: 0 * NaN is NaN in any derivative."""
    keep = np.where(np.logical_not(np.isnan(x)), 1.0, 0.0)
    finite = np.where(np.logical_or(np.isinf(x), np.isfinite(x)), 1.0, 0.0)
    return np.nansum(x) ** 2 + np.sum(np.nanmean(x, axis=0) ** 2) \
        + np.sum(keep + finite) * np.nansum(x, axis=1, keepdims=True).sum()


def statistics(x, w):
    return np.var(x) + np.std(x, axis=0).sum() + np.var(x, axis=1, ddof=1).sum() \
        + np.std(x, keepdims=True).sum() + x.var() + x.std(axis=1).sum() \
        + np.average(x) + np.average(x, axis=1, weights=w).sum() \
        + np.average(x, weights=x).sum() + np.ptp(x) + np.ptp(x, axis=0).sum()


def cumulative(x):
    return np.sum(np.cumsum(x) * np.arange(12.0)) + np.sum(np.cumsum(x, axis=1) ** 2) \
        + np.sum(np.cumprod(x, axis=0)) + np.sum(np.cumprod(x)) + x.cumsum().sum() \
        + x.cumprod(axis=1).sum()


def shapes(x, b):
    y = np.expand_dims(x, 0)
    a = np.squeeze(y) * 2.0 + np.moveaxis(y, 0, -1)[:, :, 0] + y.squeeze(0)
    s = np.concatenate([x, x * 2.0], axis=0).sum(axis=0) @ b \
        + np.concatenate((b, b * b)).sum() + np.concatenate([x, x], axis=None)[::5].sum()
    t = np.sum(np.stack([b, b * 2.0, b ** 2]) * np.stack([b, b, b], axis=1).T) \
        + np.sum(np.hstack([x, x]) ** 2) + np.sum(np.hstack([b, b * 3.0])) \
        + np.sum(np.vstack([x, b])) + np.sum(np.vstack([b, b]) ** 2) \
        + np.sum(np.append(b, x)) + np.sum(np.append(x, x, axis=1) ** 2)
    u = np.sum(np.tile(b, 2) * np.arange(8.0)) + np.sum(np.tile(x, (2, 1)) ** 2) \
        + np.sum(np.repeat(b, 2) * np.arange(8.0)) + np.sum(np.repeat(x, 3, axis=1) ** 2) \
        + np.sum(x.repeat(2, axis=0) ** 3)
    v = np.sum(np.broadcast_to(b, (3, 4)) * x) + np.sum(np.flip(x) * x) + np.sum(np.flip(x, 0)[0]) \
        + np.sum(np.fliplr(x)[:, 0]) + np.sum(np.flipud(x)[0]) + np.sum(np.roll(b, 1) * b) \
        + np.sum(np.roll(x, -1, axis=1)[:, 0]) + np.sum(np.pad(x, 1) ** 2) \
        + np.sum(np.pad(b, (2, 1), constant_values=1.0) ** 2)
    return np.sum(a * a) + s + t + u + v


def atleast(x, b, s):
    return np.sum(np.atleast_1d(s) * 2.0) + np.sum(np.atleast_2d(b) ** 2) \
        + np.sum(np.atleast_2d(s)) + np.sum(np.atleast_3d(x) ** 2) + np.sum(np.atleast_3d(b)) \
        + np.sum(np.atleast_3d(s)) + np.sum(np.atleast_1d(b) * b)


def matrices(m, v):
    return np.sum(np.tril(m) ** 2) + np.sum(np.triu(m, 1) * m) + np.sum(np.diag(v) @ m) \
        + np.sum(np.diag(m)) + np.sum(np.diag(v, 1) ** 2) + np.trace(m @ m) + m.trace() \
        + np.sum(np.diagonal(m, 1)) + np.sum(m.diagonal()) + np.trace(m, -1)


def diagonal_3d(t):
    return np.sum(np.diagonal(t[:, :, :2], 0, 1, 2) ** 2) + np.sum(np.trace(t[:2, :2], axis1=0, axis2=1) ** 2)


def indexing(x, b):
    idx = np.array([2, 0, 0, 1])
    order = np.argsort(b)
    return np.sum(np.take(x, idx, axis=1) ** 2) + np.sum(np.take(b, [3, 3])) + np.take(x, 5) \
        + np.sum(np.take_along_axis(x, np.argsort(x, axis=1), axis=1) * np.arange(4.0)) \
        + np.sum(np.take_along_axis(x, np.argsort(x, axis=0), axis=0) * C) \
        + np.sum(np.sort(b) * np.arange(4.0)) + np.sum(np.sort(x) * np.arange(4.0)) \
        + np.sum(np.sort(x, axis=0) * C) + np.sum(np.take(b, order) * b) + x.take(1) \
        + np.sum(np.sort(x, axis=None) * np.arange(12.0)) + b[np.argmax(b)] + b[np.argmin(b)] \
        + x[0, x[0].argmax()] + np.sum(x.argsort() * x)


def constants(x, y):
    return np.sum(np.zeros_like(x) + np.ones_like(x) * x + np.full_like(x, 2.0) * x) \
        + np.sum(np.full_like(x, y) * x) + np.sum(np.copy(x) ** 2) + np.sum(x.copy() * y)


def contractions(x, m, b):
    return np.einsum("ij,jk->", x, m) + np.sum(np.einsum("ij,j", x, b)) + np.einsum("ii", m @ m.T) \
        + np.sum(np.einsum("ij,kj->ik", x, x)) + np.sum(np.tensordot(x, m.T, axes=1)) \
        + np.tensordot(x, x) + np.sum(np.tensordot(T, x, axes=([1, 2], [0, 1])) * b[:2]) \
        + np.inner(b, b) + np.sum(np.inner(x, b)) + np.sum(np.inner(x, x)) + np.inner(2.0, b[0]) \
        + np.vdot(b, b) + np.vdot(x, x) + np.sum(np.kron(b, b[:2])) \
        + np.sum(np.kron(x, m[:2, :2]) ** 2) + np.sum(np.einsum("i,i->i", b, b))


def linalg(a, v, w):
    return np.sum(np.linalg.inv(a)) + np.sum(np.linalg.solve(a, v)) \
        + np.sum(np.linalg.solve(a, np.outer(v, w[:2]))) + np.linalg.det(a) \
        + np.linalg.norm(v) + np.linalg.norm(a) + np.linalg.norm(a, "fro") \
        + np.sum(np.linalg.norm(a, axis=0)) + np.sum(np.linalg.norm(a, axis=1, keepdims=True)) \
        + np.linalg.norm(v, 1) + np.linalg.norm(v, np.inf) + np.linalg.norm(w, 2) \
        + np.sum(np.linalg.cholesky(a)) + np.sum(np.linalg.eigvalsh(a) ** 2) \
        + np.sum(np.linalg.svd(a + w[:3], compute_uv=False)) + np.linalg.norm(a, "nuc") \
        + np.linalg.norm(a, 2) + np.sum(np.linalg.matrix_power(a, 3)) \
        + np.sum(np.linalg.matrix_power(a, -2)) + np.sum(np.linalg.matrix_power(a, 0) * a)


def batched_linalg(t, s):
    return np.sum(np.linalg.inv(s)) + np.sum(np.linalg.det(s) ** 2) \
        + np.sum(np.linalg.solve(s, t[:, :3, :2])) + np.sum(np.linalg.cholesky(s) ** 2)


def more_numpy(x, b):
    """The second batch of issue 4: stacking, differences, NaN-aware statistics, quantiles."""
    m = x[:, :3]
    s = np.sum(np.select([x > 1.0, x < 0.7], [x ** 2, 2.0 * x], default=x)) \
        + np.sum(np.linalg.multi_dot([x, x.T, b[:3]])) + np.sum(np.dstack([x, x * b]) ** 2) \
        + np.sum(np.column_stack([b[:3], m]) ** 2) + np.sum(np.diff(x) ** 2) \
        + np.sum(np.diff(x, 2, axis=0) ** 2) + np.sum(np.diff(b, n=2)) + np.sum(np.diff(x, axis=0) ** 2)
    t = np.sum(np.cross(m, b[:3]) ** 2) + np.sum(np.rot90(x) ** 2 * np.arange(12.0).reshape(4, 3)) + np.sum(np.rot90(x, 2) * x) \
        + np.sum(np.rot90(x, -1) ** 2) + np.sum(np.rot90(x, 3, axes=(1, 0))[0]) \
        + np.sum(np.diagflat(b) @ b) + np.sum(np.diagflat(m, 1) ** 2)
    u = np.sum(np.nanmax(x, axis=0)) + np.nanmin(x) + np.nanprod(b) + np.sum(np.nanvar(x, axis=1)) \
        + np.nanstd(x) + np.sum(np.copysign(x, b - 1.0)) + np.sum(np.fmod(x, 0.3)) \
        + np.sum(np.ldexp(x, 2)) + np.sum(np.nan_to_num(x) ** 2) + np.sum(np.real(x) * np.conj(x)) \
        + np.sum(np.conjugate(b) * x.conj() * x.conjugate()) + np.sum(np.heaviside(x - 1.0, 0.5) * x)
    v = np.sum(np.convolve(b, x[0]) ** 2) + np.sum(np.convolve(b, x[1, :2], "valid") ** 2) \
        + np.sum(np.convolve(b, x[2], mode="same") ** 2) \
        + np.sum(np.interp(x, [0.4, 0.9, 1.6], b[:3])) + np.interp(b[0], np.array([0.0, 2.0]), b[1:3]) \
        + np.median(x) + np.sum(np.median(x, axis=0)) + np.sum(np.quantile(x, [0.2, 0.9], axis=1)) \
        + np.percentile(b, 40.0) + np.sum(np.quantile(x, 0.3, axis=1, keepdims=True) * C) \
        + np.sum(np.polyval(b, x)) + np.polyval([1.0, -2.0, 3.0], b[0])
    w = np.sum(np.linalg.pinv(x) ** 2) + np.sum(_trapezoid(x) ** 2) + _trapezoid(b, b * b) \
        + np.sum(_trapezoid(x, b, axis=1)) + np.sum(_trapezoid(x, dx=0.5, axis=0))
    if HAS_ROW_STACK:
        w = w + np.sum(np.row_stack([x, b]) ** 2)
    if HAS_CUMULATIVE:
        w = w + np.sum(np.cumulative_sum(b) ** 2) + np.sum(np.cumulative_prod(x, axis=1))
    if HAS_VECTOR_NORM:
        w = w + np.linalg.vector_norm(x) + np.sum(np.linalg.vector_norm(x, axis=0)) \
            + np.sum(np.linalg.vector_norm(x, ord=1, axis=1, keepdims=True)) \
            + np.linalg.matrix_norm(x) + np.linalg.matrix_norm(x, ord="nuc")
    return s + t + u + v + w


def more_scalars(x, y):
    return np.copysign(x, -y) + math.copysign(y, x) + np.fmod(x, 0.3) + math.fmod(y, 0.25) \
        + np.ldexp(x, 3) + math.ldexp(y, -1) + np.real(x) * np.conj(y)


BATCH = np.stack([SPD, SPD + np.eye(3)])

CASES = [
    (elementwise, (1.3, 0.7)), (elementwise, (A, B)), (elementwise, (C, B)),
    (math_more, (0.6, 0.8)),
    (zero_derivative, (1.3, 0.7)), (zero_derivative, (A, B)),
    (nan_aware, (np.where(A > 1.2, np.nan, A),)),
    (statistics, (A, B)),
    (cumulative, (A,)),
    (shapes, (A, B)),
    (atleast, (A, B, 0.7)),
    (matrices, (SPD, V3)),
    (diagonal_3d, (T,)),
    (indexing, (A, B)),
    (constants, (A, 0.7)),
    (contractions, (A, rng.uniform(-1, 1, (4, 4)), B)),
    (linalg, (SPD, V3, B)),
    (batched_linalg, (rng.uniform(-1, 1, (2, 3, 4)), BATCH)),
    (more_numpy, (A, B)),
    (more_scalars, (1.3, 0.7)),
]


@pytest.mark.filterwarnings("ignore:`row_stack` alias is deprecated:DeprecationWarning")
@pytest.mark.parametrize("fn,args", CASES, ids=[f"{f.__name__}-{i}" for i, (f, _) in enumerate(CASES)])
def test_both_modes(fn, args):
    s2sad.check_grads(fn, *args)


def rounding(x):
    return np.sum(np.floor(x) + np.round(x) + np.fix(x) + np.sign(x)) * 2.0


def test_zero_derivatives_are_zero():
    g = s2sad.grad(rounding)(A)
    np.testing.assert_array_equal(g, np.zeros_like(A))


def test_values_match_numpy():
    """The lowered surface functions compute what NumPy does (not only derivatives)."""
    def f(x, b):
        return (np.sort(x, axis=0), np.take_along_axis(x, np.argsort(x), axis=1),
                np.concatenate([x, x], axis=1), np.stack([b, b], axis=1), np.hstack([b, b]),
                np.vstack([x, b]), np.kron(x, x[:2, :2]), np.einsum("ij,kj", x, x),
                np.tensordot(x, x.T, 1), np.linalg.matrix_power(x[:, :3], 2),
                np.average(x, axis=0, weights=b[:3]), np.trace(x), np.diag(x, 1),
                np.moveaxis(x[None], 0, 2), np.exp2(x), np.float_power(x, b))
    out, _ = s2sad.vjp(f, A, B)
    want = (np.sort(A, axis=0), np.take_along_axis(A, np.argsort(A), axis=1),
            np.concatenate([A, A], axis=1), np.stack([B, B], axis=1), np.hstack([B, B]),
            np.vstack([A, B]), np.kron(A, A[:2, :2]), np.einsum("ij,kj", A, A),
            np.tensordot(A, A.T, 1), np.linalg.matrix_power(A[:, :3], 2),
            np.average(A, axis=0, weights=B[:3]), np.trace(A), np.diag(A, 1),
            np.moveaxis(A[None], 0, 2), np.exp2(A), np.float_power(A, B))
    assert len(out) == len(want)
    for got, expected in zip(out, want):
        assert np.shape(got) == np.shape(expected)
        np.testing.assert_allclose(got, expected, rtol=1e-12)


def test_values_match_numpy_second_batch():
    def f(x, b):
        return (np.select([x > 1.0], [x * 2.0], 0.5), np.linalg.multi_dot([x, x.T, b[:3]]),
                np.dstack([x, x]), np.column_stack([b[:3], x]), np.diff(x, 2), np.diff(x, axis=0),
                np.rot90(x), np.rot90(x, 2), np.rot90(x, 3), np.rot90(x, 1, axes=(1, 0)),
                np.diagflat(x[:2, :2], -1), _trapezoid(x), _trapezoid(x, b, axis=1),
                _trapezoid(x, dx=0.5, axis=0), np.median(x), np.median(x, axis=1),
                np.quantile(x, [0.1, 0.5, 1.0], axis=0), np.percentile(b, 30.0, keepdims=False),
                np.quantile(x, 0.7, axis=1, keepdims=True), np.interp(x, [0.4, 0.9, 1.6], b[:3]),
                np.polyval(b, x), np.convolve(b, x[0, :3], "same"), np.linalg.pinv(x))
    out, _ = s2sad.vjp(f, A, B)
    want = (np.select([A > 1.0], [A * 2.0], 0.5), np.linalg.multi_dot([A, A.T, B[:3]]),
            np.dstack([A, A]), np.column_stack([B[:3], A]), np.diff(A, 2), np.diff(A, axis=0),
            np.rot90(A), np.rot90(A, 2), np.rot90(A, 3), np.rot90(A, 1, axes=(1, 0)),
            np.diagflat(A[:2, :2], -1), _trapezoid(A), _trapezoid(A, B, axis=1),
            _trapezoid(A, dx=0.5, axis=0), np.median(A), np.median(A, axis=1),
            np.quantile(A, [0.1, 0.5, 1.0], axis=0), np.percentile(B, 30.0),
            np.quantile(A, 0.7, axis=1, keepdims=True), np.interp(A, [0.4, 0.9, 1.6], B[:3]),
            np.polyval(B, A), np.convolve(B, A[0, :3], "same"), np.linalg.pinv(A))
    assert len(out) == len(want)
    for got, expected in zip(out, want):
        assert np.shape(got) == np.shape(expected)
        np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-14)


def test_quantile_ties_and_nan_statistics_skip_nan():
    """Quantiles of tied entries send the derivative to the entries np.argsort puts at the
    interpolated positions; NaN entries get no derivative from the nan* statistics."""
    g = s2sad.grad(lambda x: np.median(x))(np.array([1.0, 1.0, 1.0, 2.0]))
    assert g.sum() == pytest.approx(1.0) and g[3] == 0.0
    x = np.where(A > 1.2, np.nan, A)
    for fn in (np.nanmax, np.nanmin, np.nanprod, np.nanvar, np.nanstd):
        g = s2sad.grad(lambda x, fn=fn: fn(x))(x)
        assert np.all(g[np.isnan(x)] == 0.0) and not np.any(np.isnan(g))


def round_decimals(x):
    return np.sum(np.round(x, 2))


def repeat_array(x):
    return np.sum(np.repeat(x, [1, 2, 1]))


def pad_edge(x):
    return np.sum(np.pad(x, 1, "edge"))


def einsum_ellipsis(x):
    return np.sum(np.einsum("...i->...", x))


def norm_ord3(x):
    return np.linalg.norm(x, 3)


def svd_hermitian(x):
    return np.sum(np.linalg.svd(x, hermitian=True)[1])


def average_returned(x):
    return np.sum(np.average(x, weights=x, returned=True))


@pytest.mark.parametrize("fn", [round_decimals, repeat_array, pad_edge, einsum_ellipsis,
                                norm_ord3, svd_hermitian, average_returned])
def test_unsupported_forms_say_so(fn):
    with pytest.raises(s2sad.TypeMismatch, match="bad call"):
        s2sad.grad(fn)(A)


def rows_by_list(x):
    return np.sum(x[[0, 2]] ** 2)


def concat_with_number_list(a, x):
    return np.sum(np.concatenate([a, [np.dot(x, x), 1.0]]) ** 2)


def test_list_of_indices_is_an_integer_array_index():
    # x[[0, 2]] picks rows 0 and 2 (not the element x[0, 2]), in both modes
    m = np.arange(1.0, 13.0).reshape(4, 3)
    want = np.zeros_like(m)
    want[[0, 2]] = 2 * m[[0, 2]]
    np.testing.assert_array_equal(s2sad.grad(rows_by_list)(m), want)
    s2sad.check_grads(rows_by_list, m)
    s2sad.check_grads(rows_by_list, np.arange(1.0, 5.0))


def test_list_of_numbers_inside_an_array_call_keeps_its_derivative():
    a, x = np.array([1.0, 2.0]), np.array([0.5, 1.5])
    np.testing.assert_allclose(s2sad.grad(concat_with_number_list, wrt=1)(a, x),
                               4 * np.dot(x, x) * x)
    s2sad.check_grads(concat_with_number_list, a, x)


def constants_of_modules(x):
    # module constants (np.pi, +np.inf) and NumPy / math calls on constants are constants
    return np.sum(x * np.float64(3.0)) * np.pi + math.factorial(3) * np.linalg.norm(x, +np.inf)


def cast_to_float32(x):
    return np.sum(np.float32(x) ** 2)


def test_constants_from_modules_and_casts():
    x = np.array([0.5, -2.0, 1.5])
    s2sad.check_grads(constants_of_modules, x)
    np.testing.assert_allclose(s2sad.grad(constants_of_modules)(x),
                               3 * np.pi + 6 * np.array([0.0, -1.0, 0.0]))
    g = s2sad.grad(cast_to_float32)(x.astype(np.float32))
    assert g.dtype == np.float32
    np.testing.assert_allclose(g, 2 * x, rtol=1e-6)
    assert s2sad.grad(cast_to_float32)(np.float32(1.5)) == pytest.approx(3.0)
    with pytest.raises(s2sad.UnsupportedSyntax, match=r"np.float32\(x\) of a Python float"):
        s2sad.grad(cast_to_float32)(1.5)


def joins(a, b, c):
    z = np.concatenate([a, b * 2.0, c], axis=1)
    s = np.stack([a[:, 0], b[:, 0], c[:, 0]], axis=1)
    return np.sum(z ** 2) + np.sum(s * np.arange(3.0)) + np.sum(np.hstack([a[0], c[0]]) ** 3)


def test_joins_are_one_call_each():
    a, b, c = rng.uniform(-1, 1, (2, 3)), rng.uniform(-1, 1, (2, 1)), rng.uniform(-1, 1, (2, 4))
    s2sad.check_grads(joins, a, b, c, order=2)
    src = s2sad.emit(joins, a, b, c)
    assert "np.concatenate([a, b * 2.0, c], axis=1)" in src
    assert "np.stack([" in src and "np.append" not in src
    J = s2sad.jacobian(lambda x: np.stack([x, 2.0 * x, x[::-1]]), mode="forward")(a[0])
    np.testing.assert_allclose(J, np.stack([np.eye(3), 2.0 * np.eye(3), np.eye(3)[::-1]]))


def grows_float32(x, n):
    xs = []
    for i in range(n):
        x = np.sin(x)
        xs.append(x)
    return np.sum(np.stack(xs))


def cubes(x):
    return np.sum(x ** 3)


def test_float32_in_float32_out_through_lists_hessians_and_jacobians():
    x = np.array([0.3, 0.5], dtype=np.float32)
    assert s2sad.grad(grows_float32)(x, 3).dtype == np.float32
    assert s2sad.hessian(cubes)(x).dtype == np.float32
    for mode in ("forward", "reverse"):
        J = s2sad.jacobian(lambda v: v ** 2, mode=mode)(x)
        assert J.dtype == np.float32
        np.testing.assert_allclose(J, np.diag(2 * x), rtol=1e-6)
