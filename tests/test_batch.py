"""Vector forward mode: Jacobians in one sweep, checked against finite differences and reverse
mode; the generated code; the fallbacks."""

from __future__ import annotations

import math

import numpy as np
import pytest

import s2sad
from s2sad import api
from s2sad.batching import BatchError

rng = np.random.default_rng(7)


def numeric_jacobian(f, args, i, eps=1e-6):
    """Central differences of f with respect to argument i, shape out.shape + x.shape."""
    args = [np.asarray(a, dtype=float) if isinstance(a, np.ndarray) else a for a in args]
    x = args[i]
    scalar = not isinstance(x, np.ndarray)
    flat = np.atleast_1d(np.asarray(x, dtype=float)).ravel()
    cols = []
    for k in range(flat.size):
        step = np.zeros_like(flat)
        step[k] = eps
        hi, lo = list(args), list(args)
        hi[i] = float(flat[0] + eps) if scalar else (flat + step).reshape(x.shape)
        lo[i] = float(flat[0] - eps) if scalar else (flat - step).reshape(x.shape)
        cols.append((np.asarray(f(*hi), dtype=float) - np.asarray(f(*lo), dtype=float)) / (2 * eps))
    return np.stack(cols, axis=-1).reshape(np.shape(cols[0]) + np.shape(x))


def check(f, *args, wrt=0, rtol=1e-6, atol=1e-8):
    """The vector-mode Jacobian (no fallback) agrees with finite differences and reverse mode."""
    before = api.vector_stats["fallbacks"]
    got = s2sad.jacobian(f, wrt=wrt, mode="forward")(*args)
    assert api.vector_stats["fallbacks"] == before, "vector mode fell back to columns"
    rev = s2sad.jacobian(f, wrt=wrt, mode="reverse")(*args)
    positions = (wrt,) if isinstance(wrt, int) else wrt
    gots = (got,) if isinstance(wrt, int) else got
    revs = (rev,) if isinstance(wrt, int) else rev
    for i, g, r in zip(positions, gots, revs):
        want = numeric_jacobian(f, args, i)
        assert np.shape(g) == np.shape(want)
        np.testing.assert_allclose(g, want, rtol=rtol, atol=atol * 100)
        np.testing.assert_allclose(g, r, rtol=1e-9, atol=1e-12)
    return got


# ------------------------------------------------------------------------------ the functions


def elementwise(x):
    return np.sin(x) * x ** 2 + np.exp(-x) / (1.0 + x * x) - np.tanh(3.0 * x)


def reductions(X):
    return np.sum(X ** 2, axis=0) + np.mean(np.cos(X), axis=0) * np.prod(X, axis=0) \
        + np.max(X, axis=0) + np.sum(np.exp(X), axis=-2)


def keepdims(X):
    return X / np.sum(X * X, axis=1, keepdims=True) + np.mean(X)


def layer(x, W, b):
    return np.tanh(W @ x + b)


def layer_rows(X, W):
    return np.tanh(X @ W) @ W.T


IDX = np.array([0, 3])


def indexing(x):
    return np.array([x[0] * x[1], x[2] ** 2]) + x[1:3] * x[:-2] + x[::-1][:2] + x[IDX]


def columns(X):
    return X[:, 0] * X[1] + X[0, 1:] @ X[:, 1:].T


def broadcast(x, A):
    return A * x + x - np.sum(A * A, axis=0)


def loop(x, a):
    y = x
    for i in range(3):
        y = np.tanh(a * y) + y * x
    return y


def accumulate(x):
    s = 0.0
    for i in range(3):
        s = s + np.sum(x * x) * x  # widens s from a float to an array
    return s


def while_loop(x):
    y = x
    n = 0
    while n < 4:
        y = np.sin(y) * x + 0.1 * y
        n = n + 1
    return y


def branches(x):
    if np.sum(x) > 0.0:
        y = x * x
    else:
        y = np.cos(x)
    if x[0] > 10.0:
        z = np.ones(3)  # not varied on this path
    else:
        z = x * 2.0
    return y + z


def helper(v):
    return v * np.sin(v)


def with_helper(x):
    return helper(x) + helper(2.0 * x)


def buffer(x):
    out = np.zeros(4)
    for i in range(4):
        out[i] = x[i] * x[(i + 1) % 4]
    return out


def shapes(x):
    M = x.reshape(2, 3)
    return np.concatenate([M.T.ravel(), np.expand_dims(M, 0).sum(axis=(0, 1)),
                           np.squeeze(M[:1]), np.broadcast_to(x[:3], (2, 3)).ravel()])


def linalg(x):
    A = x.reshape(3, 3) + 3.0 * np.eye(3)
    b = np.arange(3.0)
    return np.concatenate([np.linalg.solve(A, b), np.linalg.inv(A).ravel(),
                           np.array([np.linalg.det(A), np.trace(A), np.linalg.norm(A)])])


def contractions(x, W):
    return np.concatenate([np.einsum("ij,j->i", W, x), np.outer(x, x[:2]).ravel(),
                           np.tensordot(W, x, axes=1), np.inner(W, x), np.array([np.dot(x, x)])])


def more_numpy(x):
    return np.concatenate([np.cumsum(x), np.where(x > 0, x, 0.1 * x), np.maximum(x, 0.2),
                           np.clip(x, -0.5, 0.5), np.flip(x), np.roll(x, 1), np.tile(x, 2),
                           np.repeat(x, 2), np.pad(x, 1), np.sort(x), np.take(x, [2, 0]),
                           np.array([np.var(x), np.std(x)]), np.triu(np.outer(x, x)).ravel()])


def stats(X):
    return np.var(X, axis=0) + np.std(X, axis=1).sum() + np.linalg.norm(X, axis=1).sum()


def scalar_in(t):
    return np.array([math.sin(t), t * t, math.exp(-t)])


def scalar_both(x, y):
    return x * x * y + math.sin(y)


# ------------------------------------------------------------------------------------ tests

CASES = [
    (elementwise, (rng.standard_normal(5),), 0),
    (reductions, (rng.standard_normal((2, 3)),), 0),
    (keepdims, (rng.standard_normal((2, 3)),), 0),
    (layer, (rng.standard_normal(3), rng.standard_normal((4, 3)), rng.standard_normal(4)), 0),
    (layer, (rng.standard_normal(3), rng.standard_normal((4, 3)), rng.standard_normal(4)),
     (0, 1, 2)),
    (layer_rows, (rng.standard_normal((2, 3)), rng.standard_normal((3, 4))), (0, 1)),
    (indexing, (rng.standard_normal(4),), 0),
    (columns, (rng.standard_normal((3, 3)),), 0),
    (broadcast, (rng.standard_normal(3), rng.standard_normal((2, 3))), 0),
    (broadcast, (rng.standard_normal(3), rng.standard_normal((2, 3))), 1),
    (broadcast, (rng.standard_normal(3), rng.standard_normal((2, 3))), (0, 1)),
    (loop, (rng.standard_normal(3), 0.7), 0),
    (loop, (rng.standard_normal(3), 0.7), (0, 1)),
    (accumulate, (rng.standard_normal(3),), 0),
    (while_loop, (rng.standard_normal(3),), 0),
    (branches, (np.array([0.5, -0.2, 0.3]),), 0),
    (branches, (np.array([-0.5, -0.2, 0.3]),), 0),
    (with_helper, (rng.standard_normal(3),), 0),
    (buffer, (rng.standard_normal(4),), 0),
    (shapes, (rng.standard_normal(6),), 0),
    (linalg, (0.3 * rng.standard_normal(9),), 0),
    (contractions, (rng.standard_normal(3), rng.standard_normal((2, 3))), (0, 1)),
    (more_numpy, (rng.standard_normal(4),), 0),
    (stats, (rng.standard_normal((3, 4)),), 0),
    (scalar_in, (0.4,), 0),
    (scalar_both, (0.4, 1.3), (0, 1)),
]


@pytest.mark.parametrize("fn,args,wrt", CASES, ids=[f"{c[0].__name__}-{c[2]}" for c in CASES])
def test_vector_jacobian_matches_differences_and_reverse_mode(fn, args, wrt):
    check(fn, *args, wrt=wrt)


def directions(f, x, k=3):
    """`jvp(batched=True)` of k random directions equals the k one-direction jvps."""
    V = rng.standard_normal((k,) + np.shape(x))
    out, T = s2sad.jvp(f, (x,), (V,), batched=True)
    np.testing.assert_allclose(out, f(x))
    ones = np.stack([np.asarray(s2sad.jvp(f, (x,), (V[j],))[1]) for j in range(k)])
    assert np.shape(T) == np.shape(ones)
    np.testing.assert_allclose(T, ones, rtol=1e-10, atol=1e-12)


# an axis as an int, a tuple, negative, None, with keepdims: each batch rule shifts it
AXES = [
    ("np.squeeze(x, axis=0) * 2.0", (1, 3)), ("np.squeeze(x, 0)", (1, 1, 3)),
    ("np.squeeze(x, axis=-2)", (2, 1, 3)), ("x.squeeze(1)", (2, 1, 3)),
    ("np.squeeze(x, (0, 2))", (1, 3, 1)), ("np.squeeze(x, axis=(-1,))", (3, 1)),
    ("np.squeeze(x, axis=None)", (2, 1, 3)), ("np.squeeze(x, 0)", (1,)),
    ("np.sum(x, axis=-1)", (2, 1, 3)), ("np.sum(x, axis=(0, -1), keepdims=True)", (2, 1, 3)),
    ("np.mean(x, 1, keepdims=True)", (2, 3)), ("np.max(x, axis=None, keepdims=True)", (2, 3)),
    ("np.prod(x, axis=(-2,))", (2, 3)), ("np.var(x, axis=0, ddof=1)", (2, 3)),
    ("x.std(axis=-1, keepdims=True)", (2, 3)), ("np.linalg.norm(x, axis=-1, keepdims=True)", (2, 3)),
    ("np.cumsum(x, axis=-1)", (2, 3)), ("np.cumprod(x, axis=None)", (2, 3)),
    ("np.expand_dims(x, -1)", (2, 3)), ("np.expand_dims(x, (0, -1))", (2, 3)),
    ("np.transpose(x, (-1, 0, 1))", (2, 1, 3)), ("np.swapaxes(x, 0, -1)", (2, 1, 3)),
    ("np.moveaxis(x, -1, 0)", (2, 1, 3)), ("np.flip(x, (0, -1))", (2, 3)),
    ("np.roll(x, -1, -1)", (2, 3)), ("np.roll(x, 1, axis=None)", (2, 3)),
    ("np.repeat(x, 2, axis=-1)", (2, 3)), ("np.take(x, [1, 0], axis=-2)", (2, 3)),
    ("np.concatenate([x, x * 2.0], axis=-1)", (2, 3)), ("np.append(x, np.ones((2, 3)))", (2, 3)),
    ("np.stack([x, np.ones((2, 3))], axis=-1)", (2, 3)), ("np.diagonal(x, 0, -1, 0)", (2, 3, 2)),
    ("np.split(x, 3, axis=-1)[1] * np.split(x, 3, axis=1)[2]", (2, 3)),
    ("np.array_split(x, [1], axis=0)[1]", (3, 2)), ("np.hsplit(x, 3)[2]", (2, 3)),
]


@pytest.mark.parametrize("src,shape", AXES, ids=[a[0] for a in AXES])
def test_batch_rules_take_every_form_of_an_axis(src, shape, tmp_path, monkeypatch):
    (tmp_path / "axis_case.py").write_text(f"import numpy as np\n\ndef f(x):\n    return {src}\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    import importlib
    import sys
    sys.modules.pop("axis_case", None)
    f = importlib.import_module("axis_case").f
    x = rng.standard_normal(shape) + 2.0
    check(f, x)
    directions(f, x)


def write_into_number_plus_zeros(x):
    v = x[0] + np.zeros(3)      # a tangent broadcast lazily, then written into
    v[1] = 1.0
    return v


def write_into_sum_plus_zeros(x):
    v = np.sum(x) + np.zeros((2, 3))
    v[1] = x[2] ** 2
    return v * x[0]


def write_into_broadcast_rows(x):
    v = np.ones((2, 1)) * x
    v[..., 0] = x[1] * 3.0
    v[-1] *= x[0]
    return v


def write_into_a_broadcast_copy(x):
    v = np.broadcast_to(x, (2, 3)) * 1.0
    v[1] = 1.0
    return v * x[2]


def writes_in_a_loop_into_full(x):
    v = np.full(3, x[0])
    for i in range(2):
        v[i] = v[i] * x[i + 1]
    return v


@pytest.mark.parametrize("fn", [write_into_number_plus_zeros, write_into_sum_plus_zeros,
                                write_into_broadcast_rows, write_into_a_broadcast_copy,
                                writes_in_a_loop_into_full])
def test_writes_into_broadcast_values(fn):
    x = rng.standard_normal(3) + 0.5
    check(fn, x)
    directions(fn, x)


def test_auto_mode_uses_vector_mode_for_few_inputs():
    x = rng.standard_normal(3)
    before = api.vector_stats["fallbacks"]
    J = s2sad.jacobian(elementwise)(x)
    np.testing.assert_allclose(J, numeric_jacobian(elementwise, (x,), 0), rtol=1e-6, atol=1e-8)
    assert api.vector_stats["fallbacks"] == before


def test_scalar_to_scalar_is_a_number():
    J = s2sad.jacobian(scalar_both, wrt=(0, 1), mode="forward")(0.4, 1.3)
    assert np.ndim(J[0]) == 0 and J[0] == pytest.approx(2 * 0.4 * 1.3)
    assert J[1] == pytest.approx(0.4 * 0.4 + math.cos(1.3))


def test_float32_in_float32_out():
    x = rng.standard_normal(4).astype(np.float32)
    W = rng.standard_normal((3, 4)).astype(np.float32)
    for fn, args in [(elementwise, (x,)), (layer, (x, W, np.zeros(3, np.float32))),
                     (accumulate, (x[:3],)), (branches, (x[:3],)), (indexing, (x,))]:
        J = s2sad.jacobian(fn, mode="forward")(*args)
        assert J.dtype == np.float32, fn.__name__
        want = numeric_jacobian(fn, [np.asarray(a, float) for a in args], 0)
        np.testing.assert_allclose(J, want, rtol=2e-3, atol=2e-3)


def test_one_sweep_in_the_generated_code():
    x, W, b = rng.standard_normal(3), rng.standard_normal((4, 3)), rng.standard_normal(4)
    src = s2sad.emit(layer, x, W, b, mode="vector")
    assert "def layer_jvp_vector(x, W, b, x_dot):" in src
    code = _code(src)
    assert code.count("np.tanh(") == 1         # the primal runs once for all directions
    assert "for " not in code                  # and there is no loop over the directions
    assert "x_dot @ W.T" in code               # tangent rows times W transposed
    code = _code(s2sad.emit(loop, x, 0.7, mode="vector"))
    assert code.count("np.tanh(") == 1 and code.count("for i in range(3)") == 1


def _code(src):
    return "\n".join(line for line in str(src).splitlines() if not line.strip().startswith("#"))


def test_jacobian_of_a_gradient_through_a_loop():
    def energy(x):
        y = x
        for i in range(2):
            y = np.tanh(0.7 * y) + y
        return np.sum(y * y) + np.sum(np.sin(x) * x)
    x = rng.standard_normal(4)
    before = api.vector_stats["fallbacks"]
    H = s2sad.jacobian(s2sad.grad(energy))(x)
    assert api.vector_stats["fallbacks"] == before
    np.testing.assert_allclose(H, s2sad.hessian(energy)(x), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(H, H.T, rtol=1e-9, atol=1e-12)


def test_batched_jvp():
    x, a = rng.standard_normal(3), 0.7
    V = rng.standard_normal((5, 3))
    out, T = s2sad.jvp(loop, (x, a), (V, None), batched=True)
    np.testing.assert_allclose(out, loop(x, a))
    assert T.shape == (5, 3)
    for j in range(5):
        np.testing.assert_allclose(T[j], s2sad.jvp(loop, (x, a), (V[j], None))[1], rtol=1e-12)


def test_primitive_without_batch_rule_runs_per_direction():
    def f(x):
        return np.kron(x, np.array([1.0, 2.0])) + np.diag(x).ravel()[:6]
    x = rng.standard_normal(3)
    check(f, x)
    src = s2sad.emit(f, x, mode="vector")
    assert "batched_kron(" in src and "batched_diag(" in src


def kron_of_a_vector(x):
    return np.sum(np.sin(np.kron(x, np.array([1.0, 2.0]))) ** 2)


def kron_of_a_matrix(x):
    return np.sum(np.sin(np.kron(x.reshape(2, 2), np.eye(2))) ** 2)


def test_a_per_direction_helper_serves_results_of_any_rank():
    # one helper, batched_kron (in the Hessian's code), for both: each result has its own rank
    for fn in (kron_of_a_vector, kron_of_a_matrix):
        x = rng.standard_normal(4)
        before = api.vector_stats["fallbacks"]
        H = s2sad.jacobian(s2sad.grad(fn))(x)
        assert api.vector_stats["fallbacks"] == before, "vector mode fell back to columns"
        np.testing.assert_allclose(H, numeric_jacobian(s2sad.grad(fn), (x,), 0), rtol=1e-6,
                                   atol=1e-7)


def test_fallback_to_columns_when_vector_mode_is_unavailable(monkeypatch):
    def g(x):
        return np.diag(x) @ x  # its batch needs the generic rule, which we make fail

    def refuse(c, aligned=False):
        raise BatchError("no batch rule (test)")
    monkeypatch.setattr("s2sad.transforms.batch.generic", refuse)
    x = rng.standard_normal(3)
    before = api.vector_stats["fallbacks"]
    J = s2sad.jacobian(g, mode="forward")(x)
    assert api.vector_stats["fallbacks"] == before + 1
    np.testing.assert_allclose(J, 2 * np.diag(x), rtol=1e-12)
    _, T = s2sad.jvp(g, (x,), (np.eye(3),), batched=True)
    np.testing.assert_allclose(T, 2 * np.diag(x), rtol=1e-12)


def test_jacobian_of_a_tuple_result_is_an_error():
    def two(x):
        return x, x
    with pytest.raises(s2sad.TypeMismatch, match="one result"):
        s2sad.jacobian(two, mode="forward")(np.ones(2))
