"""Control flow in both modes: branches, early returns, for and while loops, nesting.

Every function is checked with `s2sad.check_grads` (forward mode against central differences,
reverse mode against forward mode by the inner-product identity) and its reverse gradient
against central differences, on both sides of its branches, on floats and arrays.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import s2sad

rng = np.random.default_rng(3)


def piecewise(x, w):
    if x > 1.0:
        y = x * w
    elif x > 0.0:
        y = x * x + w
    else:
        y = -x * math.exp(w)
    return y * w


def early_return(x, y):
    if x > y:
        return x * x * y
    if x < -y:
        return math.sin(x)
    return x + y


def ternary_and_or(x, y):
    z = x * y if x > y and y > 0.0 else x - y
    w = z if z > 0.0 or x > 2.0 else 2.0 * z
    return w * x


def fixed_loop(x, w):
    for i in range(4):
        x = x * w + math.sin(x) + i
    return x


def range_forms(x):
    s = 0.0
    for i in range(1, 7, 2):
        s = s + x ** i
    for j in range(3):
        s = s * x
    return s


def fibonacci_like(a, b):
    for _ in range(5):
        a, b = b, a + b * 0.5
    return a * b


def newton_sqrt(a):
    x = a
    while abs(x * x - a) > 1e-13 * a:
        x = 0.5 * (x + a / x)
    return x


def newton_capped(a, tol=1e-10, maxit=4):
    x = a
    k = 0
    while abs(x * x - a) > tol and k < maxit:
        x = 0.5 * (x + a / x)
        k += 1
    return x


def branch_in_loop(x, w):
    for i in range(5):
        if x > 1.0:
            x = x / 2.0 * w
        else:
            x = x * x + w
    return x


def nested_loops(x, n):
    s = 0.0
    for i in range(n):
        y = x
        for j in range(i + 1):
            y = math.sin(y) * x
        s = s + y
    return s


def while_in_for(a, b):
    total = 0.0
    for k in range(3):
        x = a + k
        while x > b:
            x = x * 0.5
        total = total + x * a
    return total


def rnn(h, W, U, xs):
    for t in range(xs.shape[0]):
        h = np.tanh(W @ h + U @ xs[t])
    return np.sum(h ** 2)


def rows(X, w):
    total = 0.0
    for row in X:
        total = total + np.sum(row * w) ** 2
    return total


def accumulate_array(x, v):
    acc = np.zeros(3)
    for i in range(4):
        acc = acc * 0.5 + x[i] * v
    return np.sum(acc * acc)


def array_branch(x, w):
    s = np.sum(x * w)
    if s > 0.0:
        out = np.tanh(x) * w
    else:
        out = x * x
    return np.sum(out)


def def_in_a_branch_in_a_loop(x, w):
    y = x * 2.0
    for i in range(2):
        if np.sum(x) > 0.0:
            y = y + w
        else:
            def g(t):  # its `return` is g's, not a `return` of this function
                return t * 3.0
            y = g(y) * w
    return np.sum(y * y)


def def_with_branches_in_a_loop_that_returns(x, w):
    y = x * w
    for i in range(3):
        def g(t):
            if t[0] > 0.5:
                return t * 0.5
            return t + 1.0
        y = g(y)
        if i == 1:
            return np.sum(y * x)
    return np.sum(y * y)


def def_in_a_loop_over_a_tuple_with_break(x, w):
    for t in (x * 2.0, x * w):
        def g(u, s=1.5):  # the same function on every trip: it reads t as it is at the call
            return u * t * s
        if w > 0.5:
            x = g(x)
            break
    return np.sum(g(x))


CASES = [
    (piecewise, (1.5, 0.7)), (piecewise, (0.5, 0.7)), (piecewise, (-0.5, 0.7)),
    (early_return, (1.5, 0.7)), (early_return, (-1.5, 0.7)), (early_return, (0.2, 0.7)),
    (ternary_and_or, (1.5, 0.7)), (ternary_and_or, (0.5, 0.7)), (ternary_and_or, (2.5, -0.3)),
    (fixed_loop, (0.3, 0.8)),
    (range_forms, (1.1,)),
    (fibonacci_like, (0.3, 0.8)),
    (newton_sqrt, (2.0,)), (newton_capped, (3.0,)),
    (branch_in_loop, (1.5, 0.3)), (branch_in_loop, (0.5, 0.9)),
    (nested_loops, (0.7, 3)),
    (while_in_for, (1.3, 0.4)),
    (rnn, (rng.standard_normal(3) * 0.3, rng.standard_normal((3, 3)) * 0.5,
           rng.standard_normal((3, 2)) * 0.5, rng.standard_normal((4, 2)))),
    (rows, (rng.standard_normal((4, 3)), rng.standard_normal(3))),
    (accumulate_array, (rng.standard_normal(4), rng.standard_normal(3))),
    (array_branch, (rng.uniform(0.1, 1, 3), rng.uniform(0.1, 1, 3))),
    (array_branch, (-rng.uniform(0.1, 1, 3), rng.uniform(0.1, 1, 3))),
    (def_in_a_loop_over_a_tuple_with_break, (rng.standard_normal(3), 0.7)),
    (def_in_a_loop_over_a_tuple_with_break, (rng.standard_normal(3), 0.3)),
    (def_in_a_branch_in_a_loop, (rng.standard_normal(3) + 2.0, 0.7)),
    (def_in_a_branch_in_a_loop, (rng.standard_normal(3) - 2.0, 0.7)),
    (def_with_branches_in_a_loop_that_returns, (np.array([0.8, 0.2, -0.3]), 1.2)),
    (def_with_branches_in_a_loop_that_returns, (np.array([0.3, 0.2, -0.3]), 1.2)),
]
IDS = [f"{f.__name__}-{i}" for i, (f, _) in enumerate(CASES)]


def _floats(args):
    return [i for i, a in enumerate(args)
            if isinstance(a, float) or isinstance(a, np.ndarray) and a.dtype.kind == "f"]


@pytest.mark.parametrize("fn,args", CASES, ids=IDS)
def test_both_modes(fn, args):
    s2sad.check_grads(fn, *args, wrt=_floats(args))


@pytest.mark.parametrize("fn,args", CASES, ids=IDS)
def test_reverse_against_finite_differences(fn, args):
    wrt = tuple(_floats(args))
    grads = s2sad.grad(fn, wrt=wrt)(*args)
    for i, g in zip(wrt, grads):
        x = np.asarray(args[i], dtype=float)
        assert np.shape(g) == np.shape(args[i])
        numeric = np.zeros_like(x)
        for idx in np.ndindex(x.shape):
            def at(d):
                shifted = list(args)
                y = x.copy()
                y[idx] += d
                shifted[i] = float(y) if isinstance(args[i], float) else y
                return fn(*shifted)
            numeric[idx] = (at(1e-6) - at(-1e-6)) / 2e-6
        np.testing.assert_allclose(g, numeric, rtol=1e-5, atol=1e-6)


def test_newton_matches_the_implicit_function_theorem():
    # x(a) solves x*x = a, so dx/da = 1 / (2 x): the while loop differentiated in reverse mode
    for a in (0.5, 2.0, 9.0):
        assert s2sad.grad(newton_sqrt)(a) == pytest.approx(0.5 / math.sqrt(a), rel=1e-9)


def test_values_are_unchanged():
    for fn, args in CASES:
        value, _ = s2sad.value_and_grad(fn, wrt=tuple(_floats(args)))(*args)
        assert value == pytest.approx(fn(*args), rel=1e-12, abs=1e-12)


def test_reverse_mode_tapes_only_what_the_backward_sweep_reads():
    src = s2sad.emit(fixed_loop, 0.3, 0.8, wrt=(0, 1))
    assert src.count("tape.append(") == 1 and "tape.append(x)" in src
    src = s2sad.emit(range_forms, 1.1)
    assert src.count(".append(") == 1      # x ** i needs nothing but x; s * x needs the old s
    src = s2sad.emit(branch_in_loop, 1.5, 0.3, wrt=(0, 1))
    # the branch decision, the branch's own x / 2.0 (None on the other path), the old x
    assert "tape.append((t1, t2, x))" in src and "t2 = None" in src
    src = s2sad.emit(rows, *CASES[19][1], wrt=(1,))
    assert "tape" in src and "total" not in src.split("backward sweep")[1].split("return")[0] \
        .replace("total_bar", "")


def test_loop_variables_keep_their_names():
    src = s2sad.emit(fixed_loop, 0.3, 0.8, mode="forward", wrt=(0, 1))
    assert "x_dot" in src and "for i in range(4):" in src
    src = s2sad.emit(rnn, *CASES[18][1], wrt=(0, 1))
    assert "h_bar, W_bar" in src and "for t in reversed(range(" in src


def test_type_changing_loop_is_widened():
    def grows(x, v):
        acc = 0.0
        for i in range(3):
            acc = acc + x * v
        return np.sum(acc)
    s2sad.check_grads(grows, 0.7, np.arange(1.0, 4.0))


def count_positive(x, t):
    y = x * 2.0 if t > 0 else x * 3.0
    for i in range(3):  # adds constants: its branch decisions have no adjoint to steer
        if x[i] > 0.0:
            y = y + 1.0
    return np.sum(y)


def test_a_tape_nothing_reads_is_not_kept():
    x = np.array([0.5, -1.0, 2.0])
    s2sad.check_grads(count_positive, x, 1.0)
    src = s2sad.emit(count_positive, x, 1.0)
    assert "tape" not in src and "pop" not in src


# A loop whose tape has slots the backward sweep never reads (`buf[r] += ...` saves the old
# buffer, which only its own adjoint would need), where the pops name the tape by another
# variable than the pushes: a loop after an early return (it sits in the branch, which yields
# its tape), in a branch inside a loop, or inside another loop (whose tape carries it).
# Dropping such slots from the pops but not from the pushes crashed (issue #12, F3).


def buffer_after_return(y):
    if np.sum(y) <= 0.0:
        return 0.0
    buf = np.zeros(3)
    for r in range(3):
        buf[r] += np.sum(y) ** 2
    return buf[2] + buf[0] * y[1]


def buffers_in_nested_loops(y):
    s = 0.0
    for k in range(2):
        buf = np.zeros(3)
        for r in range(3):
            buf[r] += np.sum(y) ** 2 * y[k]
        s = s + buf[2] * y[0]
    return s


def _scaled_sin(a, b):
    return np.sin(a) * b


def helper_after_return(x, y):
    if x > 2.0:
        return x * 2.0
    buf = np.zeros(3)
    for r in range(3):
        buf[r] += _scaled_sin(y[r], x)
    return np.sum(buf * y)


def scaled_after_elif_return(x, y):
    if x > 2.0:
        return x
    elif x < -2.0:
        return x * x
    v = y * 1.0
    for r in range(3):
        v[0] *= x * np.cos(y[r])
    return np.sum(v * v)


def while_in_nested_branches(x, y):
    if x > 0.0:
        if np.sum(y) > 0.0:
            buf = np.zeros(3)
            k = 0
            while k < 3:
                buf[k] += x * y[k] ** 2
                if buf[k] > 5.0:
                    break
                k = k + 1
            return np.sum(buf) * x
        return x * np.sum(y)
    return -x


def branch_loop_in_loop(x, y):
    s = 0.0
    for k in range(3):
        if y[k] > 0.0:
            buf = np.zeros(2)
            for r in range(2):
                buf[r] += np.sin(x * y[k]) ** 2
            s = s + buf[1] * x
        else:
            s = s + x * y[k]
    return s


_Y = np.array([0.3, 0.5, 0.7])
TAPED_IN_BRANCHES = [
    (buffer_after_return, (_Y,)), (buffer_after_return, (-_Y,)),
    (buffers_in_nested_loops, (_Y,)),
    (helper_after_return, (0.7, _Y)), (helper_after_return, (2.5, _Y)),
    (scaled_after_elif_return, (0.7, _Y)), (scaled_after_elif_return, (-2.5, _Y)),
    (scaled_after_elif_return, (2.5, _Y)),
    (while_in_nested_branches, (0.7, _Y)), (while_in_nested_branches, (3.0, 3 * _Y)),
    (while_in_nested_branches, (0.7, -_Y)), (while_in_nested_branches, (-0.7, _Y)),
    (branch_loop_in_loop, (0.7, np.array([0.3, -0.5, 0.7]))),
]


@pytest.mark.parametrize("fn,args", TAPED_IN_BRANCHES,
                         ids=[f"{f.__name__}-{i}" for i, (f, _) in enumerate(TAPED_IN_BRANCHES)])
def test_loops_in_branches_and_loops_drop_unread_tape_slots_on_both_sides(fn, args):
    s2sad.check_grads(fn, *args, order=2)
    test_reverse_against_finite_differences(fn, args)
    if len(args) == 1:  # forward over reverse: the hessian, and the jacobian of the gradient
        hess = s2sad.hessian(fn)(*args)
        np.testing.assert_allclose(s2sad.jacobian(s2sad.grad(fn))(*args), hess, atol=1e-12)
        g = s2sad.grad(fn)
        x, eps = args[0], 1e-5
        numeric = np.stack([(g(x + eps * e) - g(x - eps * e)) / (2 * eps) for e in np.eye(3)])
        np.testing.assert_allclose(hess, numeric, rtol=1e-5, atol=1e-6)


def test_the_slots_dropped_from_a_tape_in_a_branch_are_its_unread_ones():
    src = s2sad.emit(buffer_after_return, _Y)
    pushes = [line.strip() for line in src.splitlines() if "tape.append(" in line]
    pops = [line.strip() for line in src.splitlines() if "tape.pop()" in line]
    assert len(pushes) == len(pops) == 1
    assert "buf" not in pushes[0] and "," not in pops[0].split("=")[0]  # one slot each


def test_a_gradient_with_a_tape_in_a_branch_called_inside_differentiated_code():
    # spliced into other code, the gradient's tapes are known from its statements alone
    def outer(x, y):
        return np.sum(s2sad.grad(branch_loop_in_loop, wrt=(0, 1))(x, y)[1] * y)

    def outer2(y):
        return np.sum(s2sad.grad(buffer_after_return)(y) ** 2)
    y = np.array([0.3, -0.5, 0.7])
    for fn, args in ((outer, (0.7, y)), (outer2, (_Y,)), (outer2, (-_Y,))):
        s2sad.check_grads(fn, *args, order=2)
        test_reverse_against_finite_differences(fn, args)


def test_an_argument_a_loop_replaces_gets_a_gradient_of_its_shape():
    # the loop widens v (x on entry, a fresh array after a trip): the adjoint of x it gives
    # back went through the run-time `unbroadcast`, which returned a number for an array
    # typed as x's shape; the gradient had shape () (fuzz seed 230)
    def replaced(x, y):
        v = x
        for k in range(1):
            v = np.zeros((3, 1))[::2] + y[k]
        return np.where(x > -0.4, np.mean(v), y)
    x, y = np.array([[0.3], [-0.7]]), np.array([0.5, -1.0, 2.0])
    _, back = s2sad.vjp(replaced, x, y)
    x_bar, y_bar = back(np.ones((2, 3)))
    assert x_bar.shape == (2, 1) and not np.any(x_bar)
    x_bar[0, 0] = 1.0  # a gradient the caller may write into
    s2sad.check_grads(replaced, x, y)
    s2sad.check_grads(replaced, np.array([[-0.3], [-0.7]]), y)


def writes_in_a_loop_in_a_branch(x, y):
    v1 = x * 1.0
    if y < -0.3:
        for j in range(2):
            v1[1:] = np.mean(v1) * v1[1:]
    return np.sum(v1)


def test_second_order_of_element_writes_in_a_loop_in_a_branch():
    # hvp crashed: the tape of the differentiated backward sweep lost slots on one side
    # (issue #12, F10, F3's cause at second order)
    for y in (-1.0, 0.5):
        s2sad.check_grads(writes_in_a_loop_in_a_branch, np.array([0.5, 1.0, 2.0]), y, order=2)


def replaced_by_a_slice(x, y, n):
    for k in range(n):
        y = x[1:] * 2.0
    return np.sum(y)


def replaced_in_a_while(x, y):
    k = 0
    while k < 2 and np.sum(x) > 10.0:
        y = x[1:] * 2.0
        k += 1
    return np.sum(y)


def test_an_argument_a_loop_carries_gets_a_gradient_of_its_shape():
    # the gradient of y was the number 1.0 or 0.0 (issue #12, F13)
    x, y = np.ones(3), np.ones(2)
    for n, want in ((0, np.ones(2)), (2, np.zeros(2))):
        gx, gy = s2sad.grad(replaced_by_a_slice, wrt=(0, 1))(x, y, n)
        assert gx.shape == (3,) and gy.shape == (2,)
        np.testing.assert_array_equal(gy, want)
    gx, gy = s2sad.grad(replaced_in_a_while, wrt=(0, 1))(x, y)
    assert gy.shape == (2,)
    np.testing.assert_array_equal(gy, np.ones(2))
    np.testing.assert_array_equal(s2sad.grad(replaced_in_a_while, wrt=1)(5 * x, y), np.zeros(2))


def two_defs_of_one_name(x, w):
    if w > 0.5:
        def g(u):
            return u * 2.0
    else:
        def g(u):
            return u * 3.0
    return np.sum(g(x))


def test_a_name_bound_to_two_functions_by_an_if_is_refused():
    with pytest.raises(s2sad.UnsupportedSyntax) as info:
        s2sad.grad(two_defs_of_one_name)(np.ones(3), 0.7)
    msg = str(info.value)
    assert "`g`, a function defined differently on the two paths of this `if`" in msg
    assert f"test_control_flow.py:{two_defs_of_one_name.__code__.co_firstlineno + 1}:" in msg
