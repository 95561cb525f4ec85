"""NumPy functions with several results (``s2sad/prims_multi.py``), in both modes.

Each is checked by ``s2sad.check_grads``: forward mode against central differences of every
result, reverse mode by the inner-product identity, and, for scalar losses, second order
(forward over reverse) against differences of the gradient.  Matrices are drawn well
conditioned, with distinct eigen- and singular values, where the derivatives exist.
"""

from __future__ import annotations

import numpy as np
import pytest

import s2sad
from s2sad.errors import S2SADError

RNG = np.random.default_rng(7)


def sym(n: int, batch: tuple[int, ...] = ()) -> np.ndarray:
    m = RNG.normal(size=batch + (n, n))
    return m + np.swapaxes(m, -1, -2) + np.diag(np.arange(n) * 3.0)


def spd(n: int, batch: tuple[int, ...] = ()) -> np.ndarray:
    m = RNG.normal(size=batch + (n, n))
    return m @ np.swapaxes(m, -1, -2) + n * np.eye(n)


# ------------------------------------------------------------------------------ eigh


def eigh_both(a):
    return np.linalg.eigh(a)


def eigh_loss(a):
    w, v = np.linalg.eigh(a)
    return np.sum(w * w) + np.sum(v[:, 0] ** 3) + np.sum(np.sin(v[1, :]))


def eigh_values_only(a):
    w, v = np.linalg.eigh(a)
    return np.sum(np.exp(w / 10.0))


def eigh_vectors_only(a):
    w, v = np.linalg.eigh(a)
    return np.sum(v[0, :] * v[-1, :])


@pytest.mark.parametrize("shape", [(4,), (2, 3)], ids=["4x4", "batch2-3x3"])
def test_eigh_results(shape):
    a = sym(shape[-1], shape[:-1])
    s2sad.check_grads(eigh_both, a)


@pytest.mark.parametrize("fn", [eigh_loss, eigh_values_only, eigh_vectors_only])
def test_eigh_losses_second_order(fn):
    s2sad.check_grads(fn, sym(4), order=2)


def test_eigh_adjoint_lands_in_lower_triangle():
    # NumPy reads only the lower triangle, so the upper one has no influence
    g = s2sad.grad(eigh_loss)(sym(4))
    assert np.all(np.triu(g, 1) == 0.0)
    assert np.any(np.tril(g, -1) != 0.0)


def test_eigh_reads_only_what_the_loss_needs():
    text = s2sad.emit(eigh_values_only, sym(3))
    assert "w, v = np.linalg.eigh(a)" in text
    assert "w_bar" not in text or "v_bar" not in text
    # the eigenvector term (the gaps 1 / (w_j - w_i)) is not computed
    assert "== 0.0" not in text


def test_eigh_tangent_names():
    text = s2sad.emit(eigh_loss, sym(3), mode="forward")
    assert "w, v = np.linalg.eigh(a)" in text
    assert "w_dot" in text and "v_dot" in text


# -------------------------------------------------------------------------------- qr


def qr_both(a):
    return np.linalg.qr(a)


def qr_loss(a):
    q, r = np.linalg.qr(a)
    return np.sum(q[:, 0] * np.arange(q.shape[0])) + np.sum(np.diag(r) ** 2)


def qr_r_only(a):
    q, r = np.linalg.qr(a)
    return np.sum(np.log(np.abs(np.diagonal(r))))


@pytest.mark.parametrize("shape", [(4, 4), (5, 3), (2, 4, 3)], ids=["square", "tall", "batch"])
def test_qr_results(shape):
    s2sad.check_grads(qr_both, RNG.normal(size=shape))


@pytest.mark.parametrize("fn", [qr_loss, qr_r_only])
def test_qr_second_order(fn):
    s2sad.check_grads(fn, RNG.normal(size=(5, 3)), order=2)


def test_qr_log_det_identity():
    # log|det A| = sum log|R_ii|: the gradient is inv(A)^T
    a = RNG.normal(size=(4, 4))
    np.testing.assert_allclose(s2sad.grad(qr_r_only)(a), np.linalg.inv(a).T, rtol=1e-10)


def test_qr_complete_mode_is_located_error():
    def f(a):
        q, r = np.linalg.qr(a, mode="complete")
        return np.sum(q)

    with pytest.raises(S2SADError, match="reduced") as info:
        s2sad.grad(f)(RNG.normal(size=(3, 3)))
    assert "test_multi_output.py" in str(info.value)


# ------------------------------------------------------------------------------- svd


def svd_reduced(a):
    return np.linalg.svd(a, full_matrices=False)


def svd_square(a):
    return np.linalg.svd(a)


def svd_loss(a):
    u, s, vh = np.linalg.svd(a, full_matrices=False)
    return np.sum(s ** 3) + np.sum(u[:, 0] ** 2 * np.arange(u.shape[0])) + np.sum(vh[0] * vh[1])


def svd_rebuild(a):
    u, s, vh = np.linalg.svd(a, full_matrices=False)
    return np.sum(np.sin((u * s) @ vh))


@pytest.mark.parametrize("shape", [(5, 3), (3, 5), (2, 4, 3)], ids=["tall", "wide", "batch"])
def test_svd_results(shape):
    s2sad.check_grads(svd_reduced, RNG.normal(size=shape))


def test_svd_square_full_matrices():
    s2sad.check_grads(svd_square, RNG.normal(size=(4, 4)))


@pytest.mark.parametrize("fn", [svd_loss, svd_rebuild])
def test_svd_second_order(fn):
    s2sad.check_grads(fn, RNG.normal(size=(5, 3)), order=2)


def test_svd_rebuild_is_the_identity_map():
    # U S V^T = A, so the gradient of sum(sin(U S V^T)) is cos(A)
    a = RNG.normal(size=(4, 3))
    np.testing.assert_allclose(s2sad.grad(svd_rebuild)(a), np.cos(a), rtol=1e-9, atol=1e-12)


def svd_values_of_full(a):  # full_matrices=True is NumPy's default
    u, s, vh = np.linalg.svd(a)
    return np.sum(s ** 2) + np.sum(np.sqrt(s))


@pytest.mark.parametrize("shape", [(4, 3), (3, 4), (2, 4, 3)], ids=["tall", "wide", "batch"])
def test_svd_full_matrices_of_a_non_square_matrix_reading_the_values(shape):
    # U and V^T are square there and have more columns than singular values: the rules use
    # the first min(m, n) of them (this used to fail with a NumPy shape error)
    a = RNG.normal(size=shape)
    s2sad.check_grads(svd_values_of_full, a)
    np.testing.assert_allclose(s2sad.grad(svd_values_of_full)(a),
                               s2sad.grad(lambda b: np.sum(np.linalg.svd(b, compute_uv=False) ** 2)
                                          + np.sum(np.sqrt(np.linalg.svd(b, compute_uv=False))))(a),
                               rtol=1e-10)


def test_svd_values_still_single_result():
    def f(a):
        return np.sum(np.linalg.svd(a, compute_uv=False))

    s2sad.check_grads(f, RNG.normal(size=(4, 3)))


# ---------------------------------------------------------------------------- slogdet


def slogdet_both(a):
    return np.linalg.slogdet(a)


def slogdet_loss(a):
    sign, logdet = np.linalg.slogdet(a)
    return sign * logdet ** 2


@pytest.mark.parametrize("shape", [(4, 4), (3, 3, 3)], ids=["matrix", "batch"])
def test_slogdet_results(shape):
    s2sad.check_grads(slogdet_both, RNG.normal(size=shape) + 3 * np.eye(shape[-1]))


def test_slogdet_second_order_and_value():
    a = spd(4)
    s2sad.check_grads(slogdet_loss, a, order=2)

    def logdet(a):
        return np.linalg.slogdet(a)[1]

    np.testing.assert_allclose(s2sad.grad(logdet)(a), np.linalg.inv(a).T, rtol=1e-10)


# ------------------------------------------------------------------------------ split


def split_three(x):
    a, b, c = np.split(x, 3)
    return a * b + np.sin(c)


def split_indices(x):
    a, b, c = np.split(x, [1, 3], axis=1)
    return np.sum(a) * b, c ** 2


def array_split_uneven(x):
    parts = np.array_split(x, 3, axis=-1)
    return parts[0].sum() + 2.0 * parts[2].sum()


def hsplit_vector(x):
    a, b = np.hsplit(x, 2)
    return a @ b


def vsplit_rows(x):
    top, bottom = np.vsplit(x, 2)
    return np.sum(top * bottom, axis=0)


def dsplit_depth(x):
    a, b = np.dsplit(x, [1])
    return a * 3.0 + np.sum(b, axis=2, keepdims=True)


def split_unused_piece(x):
    a, b = np.split(x, 2)
    return np.sum(a ** 2)


@pytest.mark.parametrize("fn, shape", [
    (split_three, (6,)), (split_three, (6, 2)), (split_indices, (2, 5)),
    (array_split_uneven, (2, 7)), (hsplit_vector, (6,)), (vsplit_rows, (4, 3)),
    (dsplit_depth, (2, 2, 3)), (split_unused_piece, (4, 2)),
], ids=lambda v: getattr(v, "__name__", str(v)))
def test_split_family(fn, shape):
    s2sad.check_grads(fn, RNG.normal(size=shape))


def test_split_adjoint_fills_unused_pieces_with_zeros():
    g = s2sad.grad(split_unused_piece)(np.arange(8.0).reshape(4, 2))
    np.testing.assert_array_equal(g, np.vstack([2 * np.arange(4.0).reshape(2, 2),
                                                np.zeros((2, 2))]))


def test_split_in_a_loop_both_modes():
    def f(x, n):
        y = 0.0
        for i in range(n):
            a, b = np.split(x, 2)
            y = y + np.sum(a * b) * i
            x = np.sin(x)
        return y

    s2sad.check_grads(f, RNG.normal(size=6), 3, order=2)


def test_split_prints_as_numpy():
    text = s2sad.emit(split_three, RNG.normal(size=6), mode="forward")
    assert "a, b, c = np.split(x, 3)" in text


def test_run_time_sections_are_located_error():
    def f(x, k):
        a, b = np.split(x, [k])
        return np.sum(a)

    with pytest.raises(S2SADError, match="known when the code is generated"):
        s2sad.grad(f)(RNG.normal(size=4), 2)


# ----------------------------------------------------------------------------- lstsq

LSTSQ_SHAPES = [((4, 4), (4,)), ((6, 3), (6,)), ((6, 3), (6, 2)), ((3, 5), (3,)),
                ((3, 5), (3, 2))]
LSTSQ_IDS = ["square", "tall", "tall-matrix-b", "wide", "wide-matrix-b"]


def lstsq_args(shape_a, shape_b):
    a = RNG.normal(size=shape_a)
    return a + 2.0 * np.eye(*shape_a), RNG.normal(size=shape_b)  # well conditioned


def lstsq_results(a, b):
    x, residuals, rank, sv = np.linalg.lstsq(a, b, rcond=None)
    return x, residuals, sv


def lstsq_x_only(a, b):
    x, residuals, rank, sv = np.linalg.lstsq(a, b, rcond=None)
    return np.sum(np.sin(x)) + np.sum(x ** 2)


def lstsq_residuals_only(a, b):
    x, residuals, rank, sv = np.linalg.lstsq(a, b, rcond=1e-10)
    return np.sum(np.sqrt(residuals + 1.0))


def lstsq_sv_only(a, b):
    x, residuals, rank, sv = np.linalg.lstsq(a, b)
    return np.sum(sv ** 3)


def lstsq_everything(a, b):
    x, residuals, rank, sv = np.linalg.lstsq(a, b, rcond=None)
    return np.sum(x * np.cos(x)) + np.sum(residuals) * np.max(sv) + rank


@pytest.mark.parametrize("shapes", LSTSQ_SHAPES, ids=LSTSQ_IDS)
def test_lstsq_results(shapes):
    s2sad.check_grads(lstsq_results, *lstsq_args(*shapes))


@pytest.mark.parametrize("fn", [lstsq_x_only, lstsq_residuals_only, lstsq_sv_only,
                                lstsq_everything])
@pytest.mark.parametrize("shapes", LSTSQ_SHAPES, ids=LSTSQ_IDS)
def test_lstsq_losses_second_order(fn, shapes):
    s2sad.check_grads(fn, *lstsq_args(*shapes), order=2)


def test_lstsq_tangent_is_the_full_rank_formula():
    # dx = pinv(a) (db - da x) + (a^T a)^-1 da^T r, with r = b - a x
    a, b = lstsq_args((6, 3), (6, 2))
    da, db = RNG.normal(size=a.shape), RNG.normal(size=b.shape)
    (x, _, sv), (dx, _, _) = s2sad.jvp(lstsq_results, (a, b), (da, db))
    r = b - a @ x
    want = np.linalg.pinv(a) @ (db - da @ x) + np.linalg.solve(a.T @ a, da.T @ r)
    np.testing.assert_allclose(dx, want, rtol=1e-10, atol=1e-12)


def test_lstsq_residuals_gradient():
    # sum(r**2) with r = b - a x and a^T r = 0: the gradients are -2 r x^T and 2 r
    def total(a, b):
        return np.sum(np.linalg.lstsq(a, b, rcond=None)[1])

    a, b = lstsq_args((6, 3), (6,))
    ga, gb = s2sad.grad(total, wrt=(0, 1))(a, b)
    r = b - a @ np.linalg.lstsq(a, b, rcond=None)[0]
    np.testing.assert_allclose(ga, -2.0 * np.outer(r, np.linalg.lstsq(a, b, rcond=None)[0]),
                               rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(gb, 2.0 * r, rtol=1e-10, atol=1e-12)


def test_lstsq_wide_is_minimum_norm_and_has_no_residuals():
    a, b = lstsq_args((3, 5), (3,))
    x, res, sv = lstsq_results(a, b)
    assert res.shape == (0,)
    _, (_, res_dot, _) = s2sad.jvp(lstsq_results, (a, b), (a, b))
    assert np.shape(res_dot) == (0,)
    assert not np.any(s2sad.grad(lstsq_residuals_only, wrt=(0, 1))(a, b)[0])
    # the minimum-norm solution moves with b as pinv(a) does
    jac = s2sad.jacobian(lambda a, b: np.linalg.lstsq(a, b, rcond=None)[0], wrt=1)(a, b)
    np.testing.assert_allclose(jac, np.linalg.pinv(a), rtol=1e-10, atol=1e-12)


def test_lstsq_reads_only_what_the_loss_needs():
    a, b = lstsq_args((6, 3), (6,))
    text = s2sad.emit(lstsq_x_only, a, b, wrt=(0, 1))
    assert "x, residuals, rank, sv = np.linalg.lstsq(a, b, rcond=None)" in text
    assert "np.linalg.svd" not in text and "np.size(" not in text
    text = s2sad.emit(lstsq_sv_only, a, b)
    assert "np.linalg.svd(a, full_matrices=False)" in text and "pinv" not in text


def test_lstsq_tangent_names():
    text = s2sad.emit(lstsq_everything, *lstsq_args((6, 3), (6,)), mode="forward")
    assert "x_dot" in text and "residuals_dot" in text and "sv_dot" in text
    assert "rank_dot" not in text


def lstsq_run_time_rcond(a, b, c):
    return np.sum(np.linalg.lstsq(a, b, rcond=c)[0])


def lstsq_string_rcond(a, b, c):
    return np.sum(np.linalg.lstsq(a, b, rcond="warn")[0])


def lstsq_stack_of_matrices(a, b, c):
    return np.sum(np.linalg.lstsq(a[None], b)[0])


@pytest.mark.parametrize("fn, message", [
    (lstsq_run_time_rcond, "rcond=None or a number known when the code is generated"),
    (lstsq_string_rcond, "rcond=None or a number known when the code is generated"),
    (lstsq_stack_of_matrices, "one matrix `a` and a vector or a matrix `b`"),
], ids=lambda v: getattr(v, "__name__", "message"))
def test_lstsq_unsupported_calls_are_located_errors(fn, message):
    with pytest.raises(S2SADError, match="bad call to lstsq") as info:
        s2sad.grad(fn)(*lstsq_args((4, 3), (4,)), 1e-3)
    assert message in str(info.value)
    assert "test_multi_output.py" in str(info.value)
