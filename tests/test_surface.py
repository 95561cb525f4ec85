"""What users write: Python operators, `math`, NumPy functions and methods, indexing.

Each function is differentiated with respect to all its float arguments in both modes
(`s2sad.check_grads`: forward against central differences, reverse against forward by the
inner-product identity) on Python floats and on arrays whose shapes broadcast.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import s2sad

rng = np.random.default_rng(0)
A = rng.uniform(0.5, 1.5, (3, 4))
B = rng.uniform(0.5, 1.5, (4,))
C = rng.uniform(0.5, 1.5, (3, 1))
M = rng.uniform(-1, 1, (4, 5))
U = rng.uniform(-0.8, 0.8, (3, 4))


def ops(x, y):
    return x + y - x * y / (y + 3.0) + -x


def powers(x, y):
    return x ** 2 + x ** 0.5 + y ** 3 + x ** y + 2.0 ** y


def builtins_abs(x, y):
    return abs(x - y) + max(x, y) + min(x, 2.0 * y)


def math_funcs(x, y):
    a = math.sin(x) * math.cos(y) + math.tan(x / 4) + math.exp(y / 3) + math.expm1(x / 5)
    b = math.log(x) + math.log(y, 2.0) + math.log1p(x) + math.log2(y) + math.log10(x)
    c = math.sqrt(x) + math.hypot(x, y) + math.atan2(y, x) + math.pow(x, 1.5) + math.erf(x)
    d = math.asin(x / 3) + math.acos(y / 3) + math.atan(x) + math.sinh(y) + math.cosh(x)
    return a + b + c + d + math.tanh(x * y) + math.fabs(x - 2.0) + math.pi * x


def np_elementwise(x, y):
    a = np.sin(x) * np.cos(y) + np.tan(x / 4) + np.exp(y / 3) + np.expm1(x / 5)
    b = np.log(x) + np.log1p(y) + np.log2(x) + np.log10(y) + np.sqrt(x * y)
    c = np.arcsin(x / 3) + np.arccos(y / 3) + np.arctan(x) + np.sinh(y) + np.cosh(x)
    d = np.tanh(x - y) + np.square(x) + np.reciprocal(y) + np.negative(x) + np.abs(x - y)
    e = np.arctan2(x, y) + np.hypot(x, y) + np.power(x, y) + np.maximum(x, y) + np.minimum(x, y)
    return np.sum(a + b + c + d + e)


def np_where_clip(x, y):
    return np.sum(np.where(x > y, x * y, x - y) + np.clip(x, 0.7, 1.2) * y)


def reductions(x):
    return (np.sum(x) + np.mean(x ** 2) + np.prod(x) + np.max(x) + np.min(x)
            + np.sum(np.sum(x, axis=0) ** 2) + np.sum(np.mean(x, axis=1, keepdims=True) * x)
            + np.sum(np.max(x, axis=1)) + np.sum(np.min(x, axis=0, keepdims=True))
            + np.sum(np.prod(x, axis=1)))


def methods(x, m):
    return x.sum() + x.mean() + x.T.sum(axis=0).dot(x.sum(axis=1)) + x.reshape(12).max() \
        + x.dot(m).min() + x.reshape(2, 6).prod(axis=0).sum() + x.ravel()[3] \
        + x.transpose().flatten()[0]


def linalg(x, m, b):
    return np.sum(np.dot(x, m)) + np.sum(x @ m @ m.T) + np.sum(np.outer(b, b)) \
        + np.matmul(b, m).sum() + np.sum(np.transpose(x) * 2.0) + np.sum(np.reshape(x, (4, 3))) \
        + b @ b


def indexing(x, b):
    return x[0, 1] * x[-1, -1] + np.sum(x[1:, ::2]) + np.sum(x[:, 0] ** 2) + np.sum(x[1]) \
        + b[1:3].sum() * x[2, 1:2].sum() + np.sum(x[None, :, 1]) + np.sum(x[..., 2])


def pack(x, y):
    v = np.array([x, y, x * y])
    w = np.array([[x, 1.0], [y, x]])
    return np.sum(v * v) + np.sum(w @ v[:2])


def shapes(x, b):
    n = x.shape[0]
    k = len(b)
    rows, cols = x.shape
    return np.sum(x) / n + np.sum(b) * k + x.size * np.mean(x) + rows * cols * 0.1 \
        + x.ndim * np.sum(x * x)


def broadcast(x, c, b):
    return np.sum((x + c) * b) + np.sum(np.exp(c - b)) + np.sum(x * 2.0 + c)


def lazy_then_reduce(x, b):
    """A cotangent that reaches np.sum(axis=2) with fewer axes than its result."""
    return np.sum(np.sum(x, axis=2) * b)


def softmax_xent(logits, y):
    m = np.max(logits, axis=1, keepdims=True)
    z = logits - m
    logp = z - np.log(np.sum(np.exp(z), axis=1, keepdims=True))
    return -np.mean(np.sum(logp * y, axis=1))


def helper(x, y=2.0):
    return x * y + np.sin(x)


def calls_helper(x, y):
    return np.sum(helper(x) + helper(x, y=y) * helper(y, 3.0))


def with_statements(x, y):
    """A docstring, annotations, augmented assignment, tuple unpacking, constants."""
    scale: float = 2.0
    a, b = x * scale, y
    a += b
    a *= x
    a -= 1.0
    a /= y + 4.0
    if scale > 1.0:
        a = a + 1.0
    else:
        a = a - 1.0
    return np.sum(a ** 2) + math.e * np.sum(b)


CASES = [
    (ops, (1.3, 0.7)), (ops, (A, B)), (ops, (A, 0.7)),
    (powers, (1.3, 0.7)), (powers, (A, C)),
    (builtins_abs, (1.3, 0.7)), (builtins_abs, (0.4, 1.1)),
    (math_funcs, (1.3, 0.7)),
    (np_elementwise, (1.3, 0.7)), (np_elementwise, (A, B)), (np_elementwise, (C, B)),
    (np_where_clip, (A, B)), (np_where_clip, (1.0, 0.8)),
    (reductions, (A,)),
    (methods, (A, M)),
    (linalg, (A.T, A, B[:3])),
    (indexing, (A, B)),
    (pack, (1.3, 0.7)),
    (shapes, (A, B)),
    (broadcast, (A, C, B)),
    (softmax_xent, (U, np.eye(4)[[0, 2, 1]])),
    (lazy_then_reduce, (rng.uniform(size=(4, 2, 3)), rng.uniform(size=(2,)))),
    (calls_helper, (A, 0.7)), (calls_helper, (1.2, 0.7)),
    (with_statements, (1.3, 0.7)), (with_statements, (A, B)),
]


@pytest.mark.parametrize("fn,args", CASES, ids=[f"{f.__name__}-{i}" for i, (f, _) in enumerate(CASES)])
def test_both_modes(fn, args):
    s2sad.check_grads(fn, *args)


@pytest.mark.parametrize("fn,args", CASES, ids=[f"{f.__name__}-{i}" for i, (f, _) in enumerate(CASES)])
def test_grad_matches_finite_differences(fn, args):
    """Reverse mode on its own against central differences, argument by argument."""
    floats = [i for i, a in enumerate(args) if isinstance(a, float) or
              (isinstance(a, np.ndarray) and a.dtype == float and (fn is not softmax_xent or i == 0))]
    out = fn(*args)
    if np.ndim(out) == 0:
        grads = s2sad.grad(fn, wrt=tuple(floats))(*args)
    else:  # an array result: the gradient of its sum, through vjp with a cotangent of ones
        all_grads = s2sad.vjp(fn, *args)[1](np.ones_like(out))
        grads = tuple(all_grads[i] for i in floats)
    for i, g in zip(floats, grads):
        x = args[i]
        assert np.shape(g) == np.shape(x)
        numeric = np.zeros_like(np.asarray(x, dtype=float))
        for idx in np.ndindex(numeric.shape):
            h = 1e-6

            def at(delta):
                shifted = list(args)
                if isinstance(x, float):
                    shifted[i] = x + delta
                else:
                    y = x.copy()
                    y[idx] += delta
                    shifted[i] = y
                return np.sum(fn(*shifted))
            numeric[idx] = (at(h) - at(-h)) / (2 * h)
        np.testing.assert_allclose(g, numeric, rtol=1e-5, atol=1e-6)


def test_float32_stays_float32():
    x = np.linspace(0.1, 1.0, 6, dtype=np.float32).reshape(2, 3)
    g = s2sad.grad(np_elementwise)(x, np.float32(0.7) * np.ones(3, dtype=np.float32))
    assert g.dtype == np.float32
