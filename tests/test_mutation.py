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


# In-place operators write into the array (NumPy's memory semantics): every other name for
# it, and every view of it, sees the new values; a write into a view changes its base.

def iadd_through_alias(x):
    w = x * 1.0
    a = w
    a += 1.0
    return np.sum(a * w)       # sum((x + 1) ** 2)


def iadd_seen_by_a_view(x):
    t = x * 1.0
    v = t[0:2]
    t += 1.0
    return np.sum(v * t[0:2])


def iadd_into_a_view(x):
    t = x * 1.0
    v = t[1:]
    v += 1.0                   # changes t
    v *= x[:2]
    return np.sum(t * x) + np.sum(v)


def every_operator(x, b):
    a = np.outer(x, b) + 2.0   # (2, 3), b: (3,)
    c = a
    d = a.T
    a += b
    a -= 0.5 * b
    a *= b
    a /= 1.0 + b * b
    a **= 2.0
    return np.sum(c * x[:, None]) + np.sum(d[1] * b[1])


def matmul_in_place(m):
    a = m * 1.0
    alias = a
    a @= m
    return np.sum(alias * m)


def floordiv_and_mod(x):
    a = x * 3.0
    b = a
    a //= 0.7                  # piecewise constant: zero derivative through it
    a %= 0.25                  # x mod c: derivative 1 where it is smooth
    return np.sum(b) + np.sum(x * x)


def element_ops_through_aliases(x):
    t = x * 2.0
    v = t[1:]
    u = t
    v[0] += x[0] ** 2          # t[1] and u[1] see it
    u[2] *= x[1]
    return np.sum(t * x) + np.sum(v) + np.sum(u)


def write_into_a_view(a):
    b = a * 1.0
    row = b[0]
    row[1] = a[1, 1] ** 2      # b[0, 1] changes
    row += a[2]                # b[0] changes
    return np.sum(b * a) + np.sum(row)


def write_into_a_transposed_view(x):
    t = np.outer(x, x)
    v = t.T[1:]
    v[0] = x ** 3              # t[:, 1] changes
    return np.sum(t * np.outer(x, x[::-1])) + np.sum(v)


def write_into_a_view_with_negative_axes(x):
    t = x * 1.0
    v = np.transpose(t, (-1, 0, 1))  # undone by the axes (1, 2, 0), never (0, 1, 2)
    v[0] = x[0] ** 2
    return np.sum(t * x)


def a_broadcast_sees_a_write(x):
    a = x * 2.0
    b = np.broadcast_to(a, (2, 3))   # a view of a: the write shows in it
    a[0] = x[1] ** 2
    return np.sum(b * x)


def write_into_a_broadcast_times_one(x):
    b = np.broadcast_to(x[0], (3,)) * 1.0   # a new array (`* 1.0` is not dropped for it)
    b[0] = x[2] * 5.0
    return np.sum(b * x)


def out_arguments(x, b):
    a = np.outer(x, b)
    c = a
    np.add(a, b, out=a)        # c sees it
    buf = np.zeros((2, 3))
    r = np.multiply(a, x[:, None], out=buf)
    np.sin(buf, out=buf)
    return np.sum(c * b) + np.sum(r * buf) + np.sum(buf)


def asarray_is_an_alias(x):
    t = x * 1.0
    a = np.asarray(t)
    b = np.array(t, copy=False)
    c = np.array(t)            # a copy
    a += x
    b[0] = x[1] ** 2
    return np.sum(t * x) + np.sum(c * x)


def in_place_in_loops_and_branches(x, b):
    a = np.outer(x, b)
    keep = a
    v = a[0]
    for i in range(3):
        a += b * 0.5
        if x[0] > 0.0:
            v *= 1.5
        else:
            a[1] -= v
    j = 0
    while j < 2:
        keep[j] /= 2.0 + x[j] ** 2
        j = j + 1
    return np.sum(keep * keep) + np.sum(v)


def scalars_rebind(x):
    s = x[0] * 1.0             # a NumPy scalar: += rebinds
    t = s
    s += 1.0
    f = 2.0
    g = f
    f *= x[1]
    return s * t + f * g


def float_grows_into_an_array(x):
    s = 0.0                    # a float on the first trip: += rebinds it, then writes
    for row in x:
        s += row * row
    return np.sum(s * x[0])


def written_after_a_product(x):
    w = x * 3.0                # its adjoint is folded nowhere: the write needs its name
    w[0] = 5.0
    return np.sum(w * w)


def reshape_views_of_c_ordered_arrays(x):
    y = np.zeros(4)
    z = y.reshape(2, 2)        # a view: y is C-contiguous
    y[1] = x[0] ** 2
    t = x * 2.0                # a fresh 1-d result: C-contiguous too
    r = t.ravel()
    m = t.reshape(2, 2)
    m[1] += x[:2]              # writes into t, which r sees
    b = np.outer(x, x)
    flat = b.ravel()
    flat[::5] = x ** 3         # the diagonal of b, through a view
    return np.sum(z * m) + np.sum(r * x) + np.sum(b * b)


IN_PLACE = [
    (reshape_views_of_c_ordered_arrays, (rng.standard_normal(4),)),
    (written_after_a_product, (rng.standard_normal(3),)),
    (float_grows_into_an_array, (rng.standard_normal((3, 2)),)),
    (iadd_through_alias, (rng.standard_normal(3),)),
    (iadd_seen_by_a_view, (rng.standard_normal(3),)),
    (iadd_into_a_view, (rng.standard_normal(3),)),
    (every_operator, (rng.standard_normal(2), rng.standard_normal(3))),
    (matmul_in_place, (rng.standard_normal((3, 3)),)),
    (floordiv_and_mod, (np.array([0.31, 1.13, 2.07]),)),
    (element_ops_through_aliases, (rng.standard_normal(3),)),
    (write_into_a_view, (rng.standard_normal((3, 3)),)),
    (write_into_a_transposed_view, (rng.standard_normal(3),)),
    (write_into_a_view_with_negative_axes, (rng.standard_normal((2, 2, 2)),)),
    (a_broadcast_sees_a_write, (rng.standard_normal(3),)),
    (write_into_a_broadcast_times_one, (rng.standard_normal(3),)),
    (out_arguments, (rng.standard_normal(2), rng.standard_normal(3))),
    (asarray_is_an_alias, (rng.standard_normal(3),)),
    (in_place_in_loops_and_branches, (np.array([0.8, -0.3]), rng.standard_normal(3))),
    (in_place_in_loops_and_branches, (np.array([-0.8, 0.3]), rng.standard_normal(3))),
    (scalars_rebind, (rng.standard_normal(3),)),
]
CASES += IN_PLACE


@pytest.mark.parametrize("fn,args", IN_PLACE, ids=[c[0].__name__ for c in IN_PLACE])
def test_jvp_value_is_what_python_computes(fn, args):
    copies = [np.array(a, copy=True) for a in args]
    want = fn(*copies)
    out, _ = s2sad.jvp(fn, tuple(np.array(a, copy=True) for a in args),
                       tuple(np.ones_like(a) for a in args))
    assert out == pytest.approx(want, rel=1e-12)
    assert s2sad.value_and_grad(fn)(*args)[0] == pytest.approx(want, rel=1e-12)

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


def iadd_argument(x):
    a = x
    a += 1.0
    return np.sum(a)


def iadd_view_of_argument(x):
    v = x[1:]
    v *= 2.0
    return np.sum(v)


def out_argument(x):
    np.exp(x, out=x)
    return np.sum(x)


def writes_broadcast(x):
    y = np.broadcast_to(x[0], (2, 3))  # NumPy makes it read-only
    y[0] = 1.0
    return np.sum(y)


def writes_reshaped(x):
    y = x * 1.0
    z = y.reshape(9)           # a view or a copy, as the memory layout has it
    z[0] = 1.0
    return np.sum(y)


@pytest.mark.parametrize("fn,what", [(writes_argument, "writing into `x`"),
                                     (iadd_argument, "writing into `a`"),
                                     (iadd_view_of_argument, "writing into `v`"),
                                     (out_argument, "writing into `x`"),
                                     (writes_reshaped, "writing into `z`"),
                                     (writes_broadcast, "writing into `y`")])
def test_unfollowable_writes_are_refused(fn, what):
    with pytest.raises(s2sad.UnsupportedSyntax) as info:
        s2sad.grad(fn)(np.ones((3, 3)))
    text = str(info.value)
    assert what in text and "the caller would see the change" in text
    assert "hint: make a copy first" in text and __file__ in text


def reshaped_then_write(x):
    y = np.outer(x, x).T * 1.0  # F-ordered: its reshape is a copy (of a C-ordered one, a view)
    z = y.reshape(16)
    y[1] = x[0] ** 2
    return np.sum(z)


def raveled_then_filled(x):
    y = np.zeros((2, 2))
    z = y.ravel()
    for i in range(2):
        y[i, i] = x[i] ** 2
    return np.sum(z)


def reshaped_then_written_in_branch(x):
    y = np.outer(x, x) + 1.0   # layout as NumPy chooses it: not followed
    z = y.reshape(16)
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


def helper_writes(a):
    a += 1.0
    return a * 2.0


def calls_a_writing_helper(x):
    w = x * 1.0
    y = helper_writes(w)       # w changes too, as in Python
    return np.sum(w * y)


def nested_def_writes(x):
    w = x * 1.0

    def bump(i):
        w[i] = 0.0             # the enclosing w changes
        return w[i]
    return bump(0) + np.sum(w * x)


def step(u, dt):
    u += dt * np.sin(u)
    return u


def steps_through_a_helper(x):
    u = x * 1.0
    v = u[1:]                  # sees every step
    for i in range(3):
        u = step(u, 0.1)
    return np.sum(u * u) + np.sum(v * x[1:])


def scale(a):
    a *= 2.0
    return 0.0


def total_after_scaling(b):
    scale(b)                   # called for its write
    return np.sum(b)


def writes_two_calls_down(x):
    w = x * 1.0
    if x[0] > 0.0:
        s = total_after_scaling(w)
    else:
        s = 0.0
    return s + np.sum(w * x)


HELPERS = [
    (calls_a_writing_helper, (rng.standard_normal(3),)),
    (nested_def_writes, (rng.standard_normal(3),)),
    (steps_through_a_helper, (rng.standard_normal(3),)),
    (writes_two_calls_down, (np.array([0.5, -1.0, 2.0]),)),
    (writes_two_calls_down, (np.array([-0.5, -1.0, 2.0]),)),
]


@pytest.mark.parametrize("fn,args", HELPERS, ids=[c[0].__name__ for c in HELPERS])
def test_writes_in_called_functions_are_seen_by_the_caller(fn, args):
    s2sad.check_grads(fn, *args)
    want = fn(*[np.array(a, copy=True) for a in args])
    assert s2sad.value_and_grad(fn)(*args)[0] == pytest.approx(want, rel=1e-12)
    assert s2sad.jvp(fn, args, tuple(np.ones_like(a) for a in args))[0] == \
        pytest.approx(want, rel=1e-12)


def zero_first_two(a):
    for i in range(2):
        a[i] = 0.0
    return a


def calls_a_helper_writing_in_a_loop(x):
    w = x * 1.0
    zero_first_two(w)
    return np.sum(w)


def test_a_called_function_writing_into_its_callers_array_in_a_loop_is_refused():
    with pytest.raises(s2sad.UnsupportedSyntax) as info:
        s2sad.grad(calls_a_helper_writing_in_a_loop)(np.ones(3))
    text = str(info.value)
    assert "an array the calling function passed in or encloses" in text
    assert "inside a loop or branch of the called function" in text
    assert "\n    a[i] = 0.0\n" in text and "hint: make a copy first" in text
    assert __file__ in text


def int_array_iadd_float(x):
    k = np.arange(3)
    k += 0.5
    return np.sum(x * k)


def iadd_grows_the_array(x):
    a = x * 1.0                # (3,)
    a += np.ones((2, 3))
    return np.sum(a)


def out_of_a_view_expression(x):
    a = x * 1.0
    np.add(a, 1.0, out=a[1:])
    return np.sum(a)


@pytest.mark.parametrize("fn,what", [
    (int_array_iadd_float, "`k += ...` on a int64 array with a float64 result"),
    (iadd_grows_the_array, "`a += ...` whose result has a larger shape than `a`"),
    (out_of_a_view_expression, "`out=` of add that is not a named array"),
])
def test_in_place_writes_numpy_refuses_are_located_errors(fn, what):
    with pytest.raises((TypeError, ValueError)):
        fn(np.ones(3))         # NumPy refuses these too
    with pytest.raises(s2sad.UnsupportedSyntax) as info:
        s2sad.grad(fn)(np.ones(3))
    assert what in str(info.value) and __file__ in str(info.value)


def _random_program(rs):
    """A random function of aliases, views and in-place writes of a (2, 3) array."""
    arrays, views, lines = ["a"], [], ["def f(x, y):", "    a = x * 1.0"]
    for k in range(int(rs.integers(3, 10))):
        c, src = int(rs.integers(0, 12)), str(rs.choice(arrays))
        op = str(rs.choice(["+=", "-=", "*="]))
        if c == 0:
            lines.append(f"    b{k} = {src}")
            arrays.append(f"b{k}")
        elif c == 1:
            index = str(rs.choice(["[0]", "[:, 1:]", "[0:1]", ".T", "[:, ::2]", "[1, 0:2]"]))
            lines.append(f"    v{k} = {src}{index}")
            views.append(f"v{k}")
        elif c == 2:
            lines.append(f"    {src} {op} {rs.choice(['y', '1.5', 'np.sin(y)'])}")
        elif c == 3 and views:
            lines.append(f"    {rs.choice(views)} {op} 0.5")
        elif c == 4 and views:
            lines.append(f"    {rs.choice(views)}[0] = np.sum(y) * 0.5")
        elif c == 5:
            lines.append(f"    {src}[0, 1] = y[1] * {src}[1, 2]")
        elif c == 6:
            lines.append(f"    {src} = {src} * 1.0 + y")
        elif c == 7:
            lines.append(f"    np.multiply({src}, y, out={src})")
        elif c == 8:
            lines.append(f"    if np.sum(y) > 0.0:\n        {src} += y\n    else:\n"
                         f"        {src} *= 2.0")
        elif c == 9:
            lines.append(f"    for i in range(2):\n        {src}[i] {op} y * {src}[1 - i]")
        elif c == 10:
            lines.append(f"    bump({src}, y)")   # writes into the caller's array
        else:
            lines.append(f"    {src} @= np.eye(3) * 0.5 + np.outer(y, y) * 0.1")
    terms = [f"np.sum({n} * {n})" for n in arrays] + [f"np.sum(np.sin({n}))" for n in views]
    return "\n".join(lines + ["    return " + " + ".join(terms)]) + "\n"


@pytest.mark.parametrize("seed", range(30))
def test_random_aliasing_programs_match_python(seed, tmp_path):
    import importlib.util
    rs = np.random.default_rng(seed)
    path = tmp_path / f"random_{seed}.py"
    path.write_text("import numpy as np\n\n\ndef bump(u, y):\n    u += y\n    return u\n\n\n"
                    + _random_program(rs))
    spec = importlib.util.spec_from_file_location(f"random_{seed}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    f = module.f
    x, y = rs.standard_normal((2, 3)), rs.standard_normal(3)
    want = f(x.copy(), y.copy())
    value, (gx, gy) = s2sad.value_and_grad(f, wrt=(0, 1))(x.copy(), y.copy())
    out, out_dot = s2sad.jvp(f, (x.copy(), y.copy()), (np.ones_like(x), np.ones_like(y)))
    numeric = (f(x + 1e-6, y + 1e-6) - f(x - 1e-6, y - 1e-6)) / 2e-6
    assert value == pytest.approx(want, rel=1e-10) and out == pytest.approx(want, rel=1e-10)
    assert out_dot == pytest.approx(numeric, rel=1e-5, abs=1e-6)
    assert np.sum(gx) + np.sum(gy) == pytest.approx(out_dot, rel=1e-8, abs=1e-8)


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


def writes_the_rows_it_walks(x):
    v = np.ones((2, 1)) * x
    for row in v:
        row = 0.3 * row
        v[[0, 1]] = np.outer(np.ones((2,)), row)
    return np.mean(v)


def writes_an_alias_of_what_it_walks(x):
    v = np.ones((2, 3)) * x
    w = v
    for row in v:
        if np.sum(row) > 100.0:
            break
        w[0, 0] = 5.0
    return np.sum(v)


def adds_into_what_it_walks(x):
    v = np.outer(np.ones(3) * x, np.ones(2))  # no other name: `+=` would be a rebinding
    for row in v:
        v += 0.9 * row
    return np.mean(v)


def rebinds_what_it_walks(x):
    v = np.ones((2, 3)) * x
    s = 0.0
    for row in v:
        v = v * 2.0  # the loop still walks the array it started on, as in Python
        s = s + np.sum(row * v)
    return s


@pytest.mark.parametrize("fn", [writes_the_rows_it_walks, writes_an_alias_of_what_it_walks,
                                adds_into_what_it_walks])
def test_writing_into_the_array_a_loop_walks_is_refused(fn):
    # Python reads each row when its trip starts, so later rows see the write (fuzz 1003461)
    with pytest.raises(s2sad.UnsupportedSyntax, match=r"while the loop at line \d+ walks its "
                       r"rows") as info:
        s2sad.grad(fn)(1.5)
    assert "test_mutation.py:" in str(info.value) and "x.copy()" in str(info.value)


def test_rebinding_the_array_a_loop_walks_is_followed():
    value, g = s2sad.value_and_grad(rebinds_what_it_walks)(1.5)
    assert value == pytest.approx(rebinds_what_it_walks(1.5))
    assert g == pytest.approx((rebinds_what_it_walks(1.5 + 1e-6) -
                               rebinds_what_it_walks(1.5 - 1e-6)) / 2e-6, rel=1e-6)
    s2sad.check_grads(rebinds_what_it_walks, 1.5)
