"""Rules as users reach them, through every mode: grad, jvp, Jacobians forward (vector mode)
and reverse, Hessians and Jacobians of gradients, each against central differences.

Rank combinations of the contractions, array-likes (lists of active numbers) as arguments,
repeated integer indices, and the conventions at kinks (README, "Conventions at kinks").
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import s2sad
from s2sad import api

rng = np.random.default_rng(11)


def numeric_jacobian(f, args, i, eps=1e-6):
    """Central differences of f with respect to argument i, shape out.shape + x.shape."""
    x = args[i]
    flat = np.atleast_1d(np.asarray(x, dtype=float)).ravel()
    cols = []
    for k in range(flat.size):
        step = np.zeros_like(flat)
        step[k] = eps
        moved = []
        for s in (step, -step):
            shifted = list(args)
            shifted[i] = float(flat[0] + s[0]) if np.ndim(x) == 0 else (flat + s).reshape(x.shape)
            moved.append(np.asarray(f(*shifted), dtype=float))
        cols.append((moved[0] - moved[1]) / (2 * eps))
    return np.stack(cols, axis=-1).reshape(np.shape(cols[0]) + np.shape(x))


def _close(got, want, what, tol):
    got = np.asarray(got, dtype=float)
    assert got.shape == want.shape, (what, got.shape, want.shape)
    scale = max(1.0, float(np.max(np.abs(want), initial=0.0)))
    np.testing.assert_allclose(got, want, rtol=tol, atol=tol * scale, err_msg=what)


def every_mode(f, *args, wrt=None, second=True, batched=True):
    """check_grads (both modes), the Jacobian in vector forward mode (no fallback to columns)
    and in reverse mode, and for a scalar f the Hessian, the Jacobian of the gradient in both
    modes and Hessian-vector products, all against central differences.  `batched=False`:
    a primitive without a batch rule, Jacobians made column by column."""
    if wrt is None:
        wrt = [i for i, a in enumerate(args) if isinstance(a, float) or
               isinstance(a, np.ndarray) and a.dtype.kind == "f"]
    s2sad.check_grads(f, *args, wrt=wrt)
    for i in wrt:
        want = numeric_jacobian(f, args, i)
        before = api.vector_stats["fallbacks"]
        _close(s2sad.jacobian(f, wrt=i, mode="forward")(*args), want, "jacobian forward", 1e-5)
        assert not batched or api.vector_stats["fallbacks"] == before, "vector mode fell back to columns"
        _close(s2sad.jacobian(f, wrt=i, mode="reverse")(*args), want, "jacobian reverse", 1e-5)
    if not second or np.ndim(f(*args)) != 0:
        return
    s2sad.check_grads(f, *args, wrt=wrt, order=2)
    for i in wrt:
        g = s2sad.grad(f, wrt=i)
        want = numeric_jacobian(g, args, i, eps=1e-5)
        _close(s2sad.hessian(f, wrt=i)(*args), want, "hessian", 1e-4)
        _close(s2sad.jacobian(g, wrt=i, mode="forward")(*args), want, "jacobian of grad", 1e-4)
        _close(s2sad.jacobian(g, wrt=i, mode="reverse")(*args), want, "jacobian of grad", 1e-4)


def _draw(shape):
    return float(rng.standard_normal()) if shape == () else rng.standard_normal(shape)


# ------------------------------------------------------------------ contractions of every rank

def dot(a, b, w):
    return np.sum(np.sin(np.dot(a, b)) * w)


def dot_method(a, b, w):
    return np.sum(np.sin(a.dot(b)) * w)


def matmul(a, b, w):
    return np.sum(np.sin(a @ b) * w)


def inner(a, b, w):
    return np.sum(np.sin(np.inner(a, b)) * w)


def outer(a, b, w):
    return np.sum(np.sin(np.outer(a, b)) * w)


def kron(a, b, w):
    return np.sum(np.sin(np.kron(a, b)) * w)


def vdot(a, b, w):
    return np.sin(np.vdot(a, b)) * w


def tensordot1(a, b, w):
    return np.sum(np.sin(np.tensordot(a, b, axes=1)) * w)


def tensordot_first(a, b, w):
    return np.sum(np.sin(np.tensordot(a, b, axes=([0], [0]))) * w)


def einsum_batch(a, b, w):
    return np.sum(np.sin(np.einsum("bij,bjk->bik", a, b)) * w)


LEFT = {0: (), 1: (3,), 2: (2, 3), 3: (4, 2, 3)}
RIGHT = {0: (), 1: (3,), 2: (3, 2), 3: (4, 3, 2)}
SAME = {0: (), 1: (3,), 2: (2, 3), 3: (4, 2, 3)}
FIRST = {1: (3,), 2: (3, 2), 3: (3, 2, 2)}
CONTRACTIONS = [(dot, np.dot, LEFT[i], RIGHT[j]) for i in range(4) for j in range(4)] + \
    [(dot_method, np.dot, (2, 3), (4, 3, 2)), (dot, np.dot, (3, 4), (2, 4, 5))] + \
    [(matmul, np.matmul, LEFT[i], RIGHT[j]) for i in range(1, 4) for j in range(1, 4)] + \
    [(matmul, np.matmul, a, b) for a, b in [((1, 2, 3), (4, 3, 2)), ((4, 1, 2, 3), (5, 3, 2)),
                                            ((3,), (5, 1, 3, 2)), ((5, 1, 2, 3), (3,)),
                                            ((2, 3), (4, 1, 3, 2)), ((4, 2, 3), (1, 3, 2))]] + \
    [(inner, np.inner, SAME[i], SAME[j]) for i in range(4) for j in range(4)] + \
    [(vdot, np.vdot, SAME[i], SAME[i]) for i in range(1, 4)] + \
    [(outer, np.outer, LEFT[i], RIGHT[j]) for i in range(4) for j in range(4)] + \
    [(kron, np.kron, LEFT[i], RIGHT[j]) for i in range(4) for j in range(4)] + \
    [(tensordot1, lambda a, b: np.tensordot(a, b, 1), LEFT[i], RIGHT[j])
     for i in range(1, 4) for j in range(1, 4)] + \
    [(tensordot_first, lambda a, b: np.tensordot(a, b, ([0], [0])), FIRST[i], FIRST[j])
     for i in range(1, 4) for j in range(1, 4)] + \
    [(einsum_batch, lambda a, b: np.einsum("bij,bjk->bik", a, b), (2, 2, 3), (2, 3, 2))]




def _numpy_takes(ref, sa, sb):
    try:
        ref(np.ones(sa), np.ones(sb))
    except ValueError:
        return False
    return True


@pytest.mark.parametrize("fn,ref,sa,sb", [pytest.param(*c, id=f"{c[0].__name__}-{c[2]}-{c[3]}")
                                          for c in CONTRACTIONS if _numpy_takes(*c[1:])])
def test_contractions_of_every_rank(fn, ref, sa, sb):
    # np.dot(2-D, 3-D) sums a's last axis with b's second-to-last (not matmul's batch); the
    # weights w tell a transposed result from the right one
    a, b = _draw(sa), _draw(sb)
    out = ref(a, b)
    w = _draw(np.shape(out))
    np.testing.assert_allclose(s2sad.value_and_grad(fn)(a, b, w)[0], fn(a, b, w))
    every_mode(fn, a, b, w, wrt=[0, 1], batched=fn is not kron or max(len(sa), len(sb)) < 2)


# ------------------------------------------------ array-likes: lists of active numbers as arrays

def append_lists(a, b):
    return np.sum(np.append([[a, b], [b, a]], [[a * b, a]], axis=0) ** 2)


def concatenate_nested(a, b):
    return np.sum(np.concatenate([[[a, b]], [[b, 1.0]]], axis=0) ** 2)


def stack_lists(a, b):
    return np.sum(np.stack([[a, b], [b, a]]) ** 3)


def dot_list(a, b):
    return np.dot([a, b], np.array([1.0, 2.0]) * a)


def sum_nested(a, b):
    return np.sum([[a, b], [a, a]]) * b


def sum_of_arrays(a, b):
    return np.sum(np.sum([np.array([a, b]), np.array([b, a])], axis=0) ** 3)


def maximum_list(a, b):
    return np.sum(np.maximum([a, b], 0.3) ** 2)


def where_nested(a, b):
    return np.sum(np.where(np.array([[True, False]]), [[a, b]], b) ** 2)


def exp_nested(a, b):
    return np.sum(np.exp([[a, b], [b, a]]))


def matmul_lists(a, b):
    return np.sum(np.matmul([[a, b], [b, a]], [a, b]))


def multiply_lists(a, b):
    return np.sum(np.multiply([a, b], [[a], [b]]))


def transpose_nested(a, b):
    return np.sum(np.transpose([[a, b], [1.0, a]]) * np.array([[1.0, 2.0], [3.0, 4.0]]))


def mean_tuple(a, b):
    return np.mean((a, b, a * b))


def method_on_list(a, b):
    return np.sum(np.array([1.0, 2.0]).dot([[a, b], [b, a]]) ** 2)


ARRAY_LIKES = [append_lists, concatenate_nested, stack_lists, dot_list, sum_nested, sum_of_arrays,
               maximum_list, where_nested, exp_nested, matmul_lists, multiply_lists,
               transpose_nested, mean_tuple, method_on_list]


@pytest.mark.parametrize("fn", ARRAY_LIKES, ids=lambda f: f.__name__)
def test_lists_of_active_numbers_are_arrays(fn):
    a, b = 0.7, 1.3
    value, grads = s2sad.value_and_grad(fn, wrt=(0, 1))(a, b)
    assert value == pytest.approx(fn(a, b))
    assert all(isinstance(g, float) for g in grads), grads  # no Sym(...) in a result
    every_mode(fn, a, b)


# -------------------------------------- contractions of fancy-indexed and run-time-sliced vectors

IDX = np.array([1, 2])


def fancy_dot(x, y):
    return np.dot(x[[0, 2]], y[IDX])


def fancy_matmul(x, a):
    return np.sum(x[[0, 2]] @ a[[1, 3], :])


def masked_matmul(x, a):
    return np.sum(x[x > 0] @ a[x > 0, :])


def sliced_matmul(x, a, n):
    return np.sum(x[:n] @ a[:n, :])


def sliced_matvec(m, x, n):
    return np.sum(m[:, :n] @ x[:n])


@pytest.mark.parametrize("fn,args", [
    (fancy_dot, (rng.standard_normal(4), rng.standard_normal(4))),
    (fancy_matmul, (rng.standard_normal(4), rng.standard_normal((4, 3)))),
    (masked_matmul, (np.array([0.5, -1.0, 2.0, 0.3]), rng.standard_normal((4, 3)))),
    (sliced_matmul, (rng.standard_normal(4), rng.standard_normal((4, 3)), 3)),
    (sliced_matvec, (rng.standard_normal((3, 4)), rng.standard_normal(4), 3)),
], ids=lambda v: getattr(v, "__name__", ""))
def test_contractions_after_fancy_indices_and_run_time_slices(fn, args):
    # the rank of x[[0, 2]] and x[mask] is known (an AxisError in generated code before)
    every_mode(fn, *args)


# ----------------------------------------------------------------- repeated integer indices

TWICE = np.array([0, 1, 0])
ZEROS = np.zeros((3, 2, 2), dtype=np.int64)


def read_twice(x):
    return np.sum(x[[0, 0]] ** 3)


def read_list(x):
    return np.sum(np.sin(x[[0, 1, 0]]) * x[TWICE] ** 2)


def read_rows(t):
    return np.sum(t[[0, 1, 2, 0], :, :] ** 3)


def read_columns(t):
    return np.sum(t[:, [1, 1], 0] ** 3) + np.sum(t[[0, 0], [1, 1]] ** 3)


def take_twice(x):
    return np.sum(np.take(x, [0, 0, 2]) ** 3 * np.take(x, TWICE))


def take_along(t):
    return np.sum(np.take_along_axis(t, ZEROS, axis=1) ** 3)


def write_twice(x):
    y = np.zeros(3)
    y[[0, 0, 1]] = x ** 2  # slot 0 keeps x[1] ** 2: x[0] has no effect
    return np.sum(y ** 2)


def add_twice(x):
    y = np.zeros(3)
    y[[0, 0, 1]] += x ** 2  # buffered, as in NumPy: y[0] = 0 + x[1] ** 2
    return np.sum(np.sin(y))


def write_number_twice(x, a):
    y = np.zeros(3)
    y[[0, 0, 1]] = a
    return np.sum(y ** 2 * x)


def write_rows_twice(x):
    y = np.zeros((3, 2))
    y[[2, 2], :] = np.outer(x[:2], x[1:])
    return np.sum(np.sin(y))


def gather_vector(x):
    return x[[0, 0, 1]] ** 3


@pytest.mark.parametrize("fn,args", [
    (read_twice, (rng.standard_normal(3),)), (read_list, (rng.standard_normal(3),)),
    (read_rows, (rng.standard_normal((3, 2, 2)),)), (read_columns, (rng.standard_normal((3, 2, 2)),)),
    (take_twice, (rng.standard_normal(3),)), (take_along, (rng.standard_normal((3, 2, 2)),)),
    (write_twice, (rng.standard_normal(3),)), (add_twice, (rng.standard_normal(3),)),
    (write_number_twice, (rng.standard_normal(3), 0.7)), (write_rows_twice, (rng.standard_normal(3),)),
    (gather_vector, (rng.standard_normal(3),)),
], ids=lambda v: getattr(v, "__name__", ""))
def test_repeated_indices_in_every_mode(fn, args):
    every_mode(fn, *args)


def test_a_slot_written_twice_keeps_the_last_item():
    x = np.array([0.5, 1.5, 2.0])
    np.testing.assert_allclose(s2sad.grad(write_twice)(x), [0.0, 4 * 1.5 ** 3, 4 * 2.0 ** 3])


# ------------------------------------------------------------------------ conventions at kinks

def power_op(x, y):
    return x ** y


def np_power(x, y):
    return np.sum(np.power(x, y))


def math_pow(x, y):
    return math.pow(x, y)


def math_hypot(x, y):
    return math.hypot(x, y)


def np_hypot(x, y):
    return np.sum(np.hypot(x, y))


def math_atan2(y, x):
    return math.atan2(y, x)


def np_arctan2(y, x):
    return np.sum(np.arctan2(y, x))


def np_maximum(x, y):
    return np.sum(np.maximum(x, y))


def np_minimum(x, y):
    return np.sum(np.minimum(x, y))


def builtin_max(x, y):
    return max(x, y)


def norm_of(x, y):
    return np.linalg.norm(x) * y


def std_of(x, y):
    return np.std(x) * y


def nanstd_of(x, y):
    return np.nanstd(x) * y


def std_columns(x, y):
    return np.sum(np.std(x, axis=0)) * y


def var_of(x, y):
    return np.var(x) * y


def clip_of(x, y):
    return np.sum(np.clip(x, 0.0, 1.0)) * y


def max_of(x, y):
    return np.max(x) * y


def sign_times(x, y):
    return np.sum(np.sign(x) * x) * y


Z2 = np.zeros(2)
KINKS = [  # function, point, gradient there (README, "Conventions at kinks")
    *[(f, (0.0, y), (y * 0.0 ** (y - 1) if y >= 1 else 0.0, 0.0))
      for f in (power_op, np_power, math_pow) for y in (0.0, 1.0, 2.0, 3.0)],
    *[(np_power, (Z2, y), (Z2 + (1.0 if y == 1 else 0.0), 0.0)) for y in (0.0, 1.0, 2.0)],
    (np_power, (Z2, np.array([0.0, 1.0])), (np.array([0.0, 1.0]), Z2)),
    (math_hypot, (0.0, 0.0), (0.0, 0.0)), (np_hypot, (0.0, 0.0), (0.0, 0.0)),
    (np_hypot, (Z2, Z2), (Z2, Z2)),
    (math_atan2, (0.0, 0.0), (0.0, 0.0)), (np_arctan2, (Z2, Z2), (Z2, Z2)),
    (norm_of, (np.zeros(3), 2.0), (np.zeros(3), 0.0)),
    (std_of, (np.ones(3), 2.0), (np.zeros(3), 0.0)),
    (var_of, (np.ones(3), 2.0), (np.zeros(3), 0.0)),
    (nanstd_of, (np.array([1.0, np.nan, 1.0]), 2.0), (np.zeros(3), 0.0)),
    (std_columns, (np.ones((3, 2)), 2.0), (np.zeros((3, 2)), 0.0)),
    (np_maximum, (1.0, 1.0), (1.0, 0.0)), (np_minimum, (1.0, 1.0), (1.0, 0.0)),
    (builtin_max, (1.0, 1.0), (1.0, 0.0)), (np_maximum, (Z2, Z2), (Z2 + 1, Z2)),
    (clip_of, (np.array([0.0, 1.0, 2.0]), 1.0), (np.array([1.0, 1.0, 0.0]), 2.0)),
    (max_of, (np.array([1.0, 1.0, 0.0]), 1.0), (np.array([0.5, 0.5, 0.0]), 1.0)),
    (sign_times, (0.0, 1.0), (0.0, 0.0)), (sign_times, (Z2, 1.0), (Z2, 0.0)),
]


@pytest.mark.parametrize("fn,args,want", KINKS, ids=lambda v: getattr(v, "__name__", None))
def test_conventions_at_kinks_in_both_modes(fn, args, want):
    got = s2sad.grad(fn, wrt=(0, 1))(*args)
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g, w)
    for i, w in enumerate(want):  # forward mode, one argument at a time
        tangents = [None, None]
        tangents[i] = np.ones_like(args[i]) if np.ndim(args[i]) else 1.0
        _, dot = s2sad.jvp(fn, args, tangents)
        np.testing.assert_allclose(dot, np.sum(w))


def test_sign_of_a_float_is_zero_at_zero():
    assert s2sad.value_and_grad(sign_times)(0.0, 1.0)[0] == 0.0
    assert s2sad.value_and_grad(sign_times)(-2.0, 1.0)[0] == 2.0


def test_infinite_slopes_stay_infinite_on_arrays():
    # sqrt and x ** 0.5 at 0: inf (JAX too); on floats Python raises ZeroDivisionError
    with np.errstate(divide="ignore"):
        np.testing.assert_array_equal(s2sad.grad(lambda x: np.sum(np.sqrt(x)))(Z2), [np.inf] * 2)
        np.testing.assert_array_equal(s2sad.grad(lambda x: np.sum(x ** 0.5))(Z2), [np.inf] * 2)


def cube(x):
    return x ** 3


def test_guards_stay_out_of_constant_powers():
    assert s2sad.emit(cube).splitlines()[-2].strip() == "x_bar = 3.0 * x ** 2"
    assert "x_bar = y * x ** (y - 1 + (y == 0))" in s2sad.emit(power_op, wrt=(0, 1))


def builtin_abs(x, y):
    return abs(x) * y


def math_fabs(x, y):
    return math.fabs(x) * y


def numpy_abs(x, y):
    return np.sum(np.abs(x) * y)


@pytest.mark.parametrize("fn", [builtin_abs, math_fabs, numpy_abs], ids=lambda f: f.__name__)
def test_abs_has_derivative_zero_at_zero(fn):
    # JAX's convention (jnp.abs: sign(x) * g); away from 0 the usual +-1
    for x in (0.0, np.zeros(3), np.array([-1.5, 0.0, 2.0])):
        if fn is not numpy_abs and np.ndim(x):
            continue
        y = 2.0
        dx = s2sad.grad(fn)(x, y)
        np.testing.assert_array_equal(dx, np.sign(x) * y)
        _, dot = s2sad.jvp(fn, (x, y), (np.ones_like(x) if np.ndim(x) else 1.0, 0.0))
        np.testing.assert_allclose(dot, np.sum(np.sign(x)) * y)
    every_mode(fn, 0.7, 1.3) if fn is not numpy_abs else every_mode(fn, np.array([-1.5, 2.0]), 1.3)


def test_abs_adjoint_prints_as_arithmetic():
    code = s2sad.emit(builtin_abs, wrt=(0, 1))
    assert "x_bar = y * (x > 0) - y * (x < 0)" in code


def test_ties_of_numbers_print_as_conditional_expressions():
    # np.where on numbers made 0-d arrays; the float path stays plain Python
    code = s2sad.emit(builtin_max, wrt=(0, 1))
    assert "np.where" not in code and "x_bar = 1.0 if t1 else 0.0" in code
    grads = s2sad.grad(builtin_max, wrt=(0, 1))(2.0, 1.0)
    assert grads == (1.0, 0.0) and all(type(g) is float for g in grads)
