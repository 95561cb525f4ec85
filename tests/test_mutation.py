"""Element assignment: x[i] = v, x[i:j] += v, buffers filled in loops, and what is refused.

Checked in both modes and against central differences; the generated code writes in place
only when no other name can see the array, and loops filling a buffer tape nothing of it.
"""

from __future__ import annotations

import inspect

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



# NumPy aliasing: another name for the array written, or a view of it, sees the write.

def alias_filled_in_loop(x):
    y = np.zeros(3)
    z = y                      # z and y are one array: the loop's writes show through z
    for i in range(3):
        y[i] = x[i] * 2
    return np.sum(z * x)


def view_filled_in_loop(x):
    y = np.zeros(3)
    z = y[1:]                  # a view taken before the writes
    for i in range(3):
        y[i] = x[i] ** 2
    return np.sum(z * x[1:])


def view_then_write(x):
    y = np.zeros(3)
    z = y[1:]
    y[1] = x[0] ** 2
    return np.sum(z * x[1:])


def transpose_view(x):
    y = np.zeros((3, 3))
    z = y.T
    for i in range(3):
        y[i, 2] = x[i] * 3.0
    y[0, 1] = x[1] ** 2
    return np.sum(z * np.outer(x, x))


def row_and_diagonal_views(x):
    y = np.zeros((3, 3))
    row, d = y[0], np.diagonal(y)
    for i in range(3):
        y[i, i] = x[i] ** 2
    y[0, 2] = x[1]
    return np.sum(row * x) + np.sum(d * x) + np.sum(np.swapaxes(y, 0, 1)[2] * x)


def views_through_branches(x):
    y = np.zeros(3)
    z, w = y[1:], y
    if x[0] > 0.0:
        y[1] = x[0] ** 2
    else:
        y[2] = x[1]
    for i in range(3):
        if x[i] > 0.5:
            y[i] = y[i] + x[i]
    return np.sum(z * x[1:]) + np.sum(w * x)


def views_through_while_and_break(x):
    y = np.zeros(3)
    z = y[1:]
    s = 0.0
    i = 0
    while i < 3:
        s = s + np.sum(z * x[1:])  # reads the values the trips before wrote
        y[i] = x[i] ** 2
        i = i + 1
    for j in range(3):
        y[j] = y[j] * x[j]
        if x[j] > 10.0:
            break
    return s + np.sum(z * x[1:])


def update_rows(x):
    y = np.outer(x, x)
    row = y[0]
    for i in range(3):
        row = y[i]             # a view of the row, written back scaled
        y[i] = row * 2.0 + x[i]
    return np.sum(y ** 2) + np.sum(row * x)


def copies_are_not_views(x):
    y = np.zeros(3)
    a, b, c = y[[0, 1]], np.array(y), +y
    y[1] = x[0]
    return np.sum(a * x[:2]) + np.sum(b * x) + np.sum(c * x) + np.sum(y * x)


ALIASING = [
    (alias_filled_in_loop, (rng.standard_normal(3),)),
    (view_filled_in_loop, (rng.standard_normal(3),)),
    (view_then_write, (rng.standard_normal(3),)),
    (transpose_view, (rng.standard_normal(3),)),
    (row_and_diagonal_views, (rng.standard_normal(3),)),
    (views_through_branches, (np.array([0.7, 0.2, 1.1]),)),
    (views_through_branches, (np.array([-0.7, 0.9, 0.3]),)),
    (views_through_while_and_break, (rng.standard_normal(3),)),
    (update_rows, (rng.standard_normal(3),)),
    (copies_are_not_views, (rng.standard_normal(3),)),
]
CASES += ALIASING

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


def reshaped_then_write(x):
    y = np.zeros(4)
    z = y.reshape(2, 2)        # a view or a copy, as the memory layout has it
    y[1] = x[0] ** 2
    return np.sum(z)


def raveled_then_filled(x):
    y = np.zeros((2, 2))
    z = y.ravel()
    for i in range(2):
        y[i, i] = x[i] ** 2
    return np.sum(z)


def reshaped_then_written_in_branch(x):
    y = np.zeros(4)
    z = y.reshape(2, 2)
    if x[0] > 0.0:
        y[1] = x[0] ** 2
    return np.sum(z)


def one_of_two_arrays(x):
    y, w = np.zeros(3), np.ones(3)
    z = y if x[0] > 0.0 else w
    for i in range(3):
        y[i] = x[i]
    return np.sum(z * x)


def alias_until_rebound(x):
    y = np.zeros(3)
    z = y
    for i in range(3):
        y[i] = x[i]            # the first trip writes into z's array, the others do not
        y = y * 2.0
    return np.sum(z * x) + np.sum(y)


@pytest.mark.parametrize("fn,write", [
    (reshaped_then_write, "y[1] = x[0] ** 2"),
    (raveled_then_filled, "y[i, i] = x[i] ** 2"),
    (reshaped_then_written_in_branch, "y[1] = x[0] ** 2"),
    (one_of_two_arrays, "y[i] = x[i]"),
    (alias_until_rebound, "y[i] = x[i]"),
])
def test_reading_a_view_a_write_may_have_changed_is_refused(fn, write):
    lines, first = inspect.getsourcelines(fn)
    k = next(k for k, text in enumerate(lines) if text.strip().startswith(write))
    col = lines[k].index(write) + 1
    x = np.array([0.5, 1.5, 2.0, 1.0])
    for run in (lambda: s2sad.grad(fn)(x), lambda: s2sad.jvp(fn, (x,), (np.ones(4),))):
        with pytest.raises(s2sad.UnsupportedSyntax) as info:
            run()
        text = str(info.value)
        assert f"{__file__}:{first + k}:{col}: " in text, text
        assert "reading `z`" in text and "write into `y`" in text
        assert "hint: copy the view first" in text and "take `z` after the write" in text


def view_unused_after_write(x):
    y = np.ones((2, 2)) * x[0]
    z = y.ravel()
    y[0, 1] = x[1] ** 2
    z = x * 2.0                # rebinding the stale name is fine
    return np.sum(z) + np.sum(y)


def test_a_stale_name_that_is_not_read_is_fine():
    x = np.array([0.3, 1.2, -0.4, 2.0])
    s2sad.check_grads(view_unused_after_write, x)
    assert s2sad.value_and_grad(view_unused_after_write)(x)[0] == \
        pytest.approx(view_unused_after_write(x))


def container_of_a_view(x):
    y = np.zeros(3)
    t = (y[1:], 1.0)
    y[1] = x[0]
    return np.sum(t[0])


def test_writing_into_an_array_a_container_sees_is_refused():
    with pytest.raises(s2sad.UnsupportedSyntax) as info:
        s2sad.grad(container_of_a_view)(np.ones(3))
    assert "writing into an array that `t` also holds (or a view of it)" in str(info.value)


def rebinds_a_sliced_argument(x):
    x = (x[0, 1] * np.ones((3, 1))).T
    return np.sum(np.sum(x) * np.ones((2, 2)) @ np.ones((2, 3))) + np.sum(x ** 2)


def rebinds_a_sliced_argument_tuple(x):
    x = (x[0, 1] * np.ones((3, 1))).T
    return x ** 2, np.dot(np.sum(x) * np.ones((2, 2)), np.linspace(-1.0, 1.0, 6).reshape((2, 3)))


def test_a_written_array_is_not_named_like_a_value_its_write_still_reads():
    # The adjoint of x[0, 1] is printed `x_bar = np.zeros_like(x); x_bar[0, 1] = <value>`;
    # the value read the adjoint of the rebound x, also `x_bar`, after the first line had
    # replaced it: the gradient was silently zero (issue #12, fuzz seed 135).
    x = np.array([[0.1, 0.2, 0.3]])
    s2sad.check_grads(rebinds_a_sliced_argument, x)
    s2sad.check_grads(rebinds_a_sliced_argument_tuple, x)
    g = s2sad.grad(rebinds_a_sliced_argument)(x)
    want = np.zeros_like(x)
    want[0, 1] = 3 * 6 * 2 + 2 * 3 * x[0, 1]  # d/da of 6 * 2 * 3a + 3 a^2
    np.testing.assert_allclose(g, want, rtol=1e-12)
    _, back = s2sad.vjp(rebinds_a_sliced_argument_tuple, x)
    (g,) = back((np.ones((1, 3)), np.zeros((2, 3))))
    want[0, 1] = 6 * x[0, 1]  # d/da of sum(x ** 2) = 3 a^2
    np.testing.assert_allclose(g, want, rtol=1e-12)
    def rebinds_and_indexes(x):  # F7 of issue #12: both adjoints are element writes
        x = x[1] * np.ones(3)
        return x[2]
    np.testing.assert_array_equal(s2sad.grad(rebinds_and_indexes)(np.ones(3)), [0.0, 1.0, 0.0])
    src = s2sad.emit(rebinds_a_sliced_argument, x)
    assert "x_bar_1 = np.zeros_like(x)" in src and "x_bar_1[0, 1] = np.sum(x_bar.T" in src
