"""Element assignment: x[i] = v, x[i:j] += v, buffers filled in loops, and what is refused.

Checked in both modes and against central differences; the generated code writes in place
only when no other name can see the array, and loops filling a buffer tape nothing of it.
"""

from __future__ import annotations

import numpy as np
import pytest

import s2sad

rng = np.random.default_rng(11)


def fill_rows(x, w):
    buf = np.zeros((4, 3))
    for i in range(4):
        buf[i] = np.sin(x * i) * w
    return np.sum(buf ** 2)


def update_copy(x):
    y = x.copy()
    y[0] = y[1] * 3.0
    y[1:3] += x[:2] ** 2
    y[-1] *= y[0]
    return np.sum(y * y)


def aliased(x):
    a = np.zeros(3)
    b = a              # b and a are one array, as in Python
    b[0] = x * 2.0
    return a[0] * x + np.sum(b)


def overwrite_in_loop(x):
    v = np.ones(3) * x
    for i in range(3):
        v[i] = v[i] * v[(i + 1) % 3] + x
    return np.sum(v)


def time_stepping(u0, dt):
    n = u0.shape[0]
    history = np.zeros((5, n))
    u = u0.copy()
    for t in range(5):
        u = u + dt * (np.roll(u, 1) - 2.0 * u + np.roll(u, -1))
        history[t] = u
    return np.sum(history * history)


CASES = [
    (fill_rows, (0.7, rng.standard_normal(3))),
    (update_copy, (rng.standard_normal(5),)),
    (aliased, (1.3,)),
    (overwrite_in_loop, (0.6,)),
    (time_stepping, (rng.standard_normal(4), 0.1)),
]


@pytest.mark.parametrize("fn,args", CASES, ids=[c[0].__name__ for c in CASES])
def test_both_modes(fn, args):
    s2sad.check_grads(fn, *args)


@pytest.mark.parametrize("fn,args", CASES, ids=[c[0].__name__ for c in CASES])
def test_values_and_reverse_against_finite_differences(fn, args):
    value, g = s2sad.value_and_grad(fn)(*args)
    assert value == pytest.approx(fn(*args), rel=1e-12)
    x = np.array(args[0], dtype=float)
    numeric = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        def at(d):
            y = x.copy()
            y[idx] += d
            return fn(float(y) if isinstance(args[0], float) else y, *args[1:])
        numeric[idx] = (at(1e-6) - at(-1e-6)) / 2e-6
    np.testing.assert_allclose(g, numeric, rtol=1e-5, atol=1e-6)


def test_buffer_is_filled_in_place_and_not_taped():
    src = s2sad.emit(fill_rows, 0.7, np.ones(3), wrt=(0, 1))
    forward = src.split("backward sweep")[0]
    assert "buf[i] = " in forward and "copy()" not in forward
    assert "tape.append((t2, t1))" in forward  # two scalars a trip, nothing of buf
    jvp_src = s2sad.emit(fill_rows, 0.7, np.ones(3), mode="forward", wrt=(0, 1))
    assert "buf_dot[i] = " in jvp_src and "copy()" not in jvp_src


def test_the_callers_array_is_left_alone():
    x = rng.standard_normal(5)
    before = x.copy()
    s2sad.grad(update_copy)(x)
    np.testing.assert_array_equal(x, before)


def writes_argument(x):
    x[0] = 1.0
    return np.sum(x)


def writes_view(a):
    b = a * 1.0
    row = b[0]
    row[1] = 5.0
    return np.sum(b)


@pytest.mark.parametrize("fn,what", [(writes_argument, "writing into `x`"),
                                     (writes_view, "writing into `row`")])
def test_unfollowable_writes_are_refused(fn, what):
    with pytest.raises(s2sad.UnsupportedSyntax) as info:
        s2sad.grad(fn)(np.ones((3, 3)))
    text = str(info.value)
    assert what in text and "the caller would see the change" in text
    assert "hint: make a copy first" in text and __file__ in text
