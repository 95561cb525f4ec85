"""`break`, `continue` and `return` inside `for` and `while` loops, in both modes; the `else`
part of a loop (run when no `break` left it); `return` inside a loop over a tuple or list.

Each function runs on inputs where the exit happens early and on inputs where the loop runs
to its end (or the exit never fires), on floats and on arrays.  Forward and reverse mode are
checked against central differences (`s2sad.check_grads` also checks them against each other),
and where the derivative is known in closed form, against that.
"""

from __future__ import annotations

import inspect
import math
import re

import numpy as np
import pytest

import s2sad

rng = np.random.default_rng(7)


# ------------------------------------------------------------------------------- functions


def newton_for(a, x, steps):
    """sqrt(a) by Newton's method: at most `steps` steps, fewer once a step is tiny."""
    for i in range(steps):
        step = (x * x - a) / (2.0 * x)
        x = x - step
        if abs(step) < 1e-12:
            break
    return x


def newton_while(a):
    x = a
    k = 0
    while k < 100:
        step = (x * x - a) / (2.0 * x)
        x = x - step
        if abs(step) < 1e-12:
            break
        k += 1
    return x


def forever_until(x, w):
    while True:
        x = x * w + 0.5
        if x > 10.0:
            break
    return x


def break_mid_body(x):
    while x < 100.0:
        x = x * 1.5 + 1.0
        if x > 90.0:
            break
        x = x * 1.2 + math.sin(x)
    return x


def skip_trips(x, w, n):
    for i in range(n):
        if x * i > 3.0:
            continue
        x = math.sin(x) * w + x
    return x


def skip_in_while(x):
    k = 0
    s = 0.0
    while k < 6:
        k += 1
        if x * k > 2.0:
            continue
        s = s + x ** k
    return s


def first_above(x, w):
    for i in range(10):
        x = x * w
        if x > 3.0:
            return x * x
    return -x


def nested_return(x, w):
    for i in range(3):
        for j in range(4):
            x = x * w + 0.1 * i
            if x > 5.0:
                return x * w, x
    return x, w


def inner_break(x, w):
    s = 0.0
    for i in range(3):
        y = x + i
        for j in range(10):
            y = y * w
            if y > 4.0:
                break
        s = s + y
    return s


def break_and_continue(x, w):
    s = 0.0
    for i in range(8):
        if i % 3 == 0:
            continue
        s = s + x * w ** i
        if s > 4.0:
            break
    return s


def fixed_point(x, b):
    """Iterate y <- tanh(y * x + b) on arrays (b broadcasts over the rows of x) until the
    largest change is small."""
    y = np.zeros_like(x)
    for i in range(200):
        y_new = np.tanh(0.5 * y * x + b)
        delta = np.max(np.abs(y_new - y))
        y = y_new
        if delta < 1e-13:
            break
    return np.sum(y * y)


def rows_until(X, w):
    total = 0.0
    for row in X:
        total = total + np.sum(np.sin(row) * w)
        if total > 1.0:
            break
    return total


def row_search(X, w):
    for row in X:
        if np.sum(row * w) > 0.5:
            return np.sum(row * row * w)
    return np.sum(w)


def poly_until(x):
    y = 0.0
    for c in (1.0, 2.0, 3.0, 4.0):
        y = y * x + c
        if y > 5.0:
            break
    return y


def poly_skip(x):
    y = 0.0
    for c in (1.0, -2.0, 3.0):
        if c < 0:
            continue
        y = y * x + c
    return y


CASES = [
    # (function, args, wrt, the exit fires?)
    (newton_for, (2.0, 1.0, 50), (0, 1), True),
    (newton_for, (2.0, 1.0, 3), (0, 1), False),
    (newton_while, (3.0,), (0,), True),
    (forever_until, (1.0, 1.5), (0, 1), True),
    (break_mid_body, (1.0,), (0,), True),
    (break_mid_body, (57.0,), (0,), False),
    (break_mid_body, (40.0,), (0,), True),
    (skip_trips, (0.7, 0.8, 6), (0, 1), True),
    (skip_trips, (0.1, 0.3, 4), (0, 1), False),
    (skip_in_while, (0.7,), (0,), True),
    (skip_in_while, (0.3,), (0,), False),
    (first_above, (1.0, 1.5), (0, 1), True),
    (first_above, (0.1, 1.1), (0, 1), False),
    (nested_return, (1.1, 1.3), (0, 1), True),
    (nested_return, (0.1, 1.05), (0, 1), False),
    (inner_break, (1.1, 1.3), (0, 1), True),
    (inner_break, (0.1, 1.05), (0, 1), False),
    (break_and_continue, (1.2, 1.1), (0, 1), True),
    (break_and_continue, (0.1, 0.9), (0, 1), False),
    (fixed_point, (rng.uniform(-1, 1, (2, 3)), rng.uniform(-1, 1, 3)), (0, 1), True),
    (rows_until, (rng.uniform(0.5, 1.5, (5, 3)), np.full(3, 0.2)), (0, 1), True),
    (rows_until, (rng.uniform(0.5, 1.5, (5, 3)), np.full(3, 0.01)), (0, 1), False),
    (row_search, (np.array([[0.1, 0.2], [0.9, 0.8], [1.0, 0.3]]), np.array([0.5, 0.4])),
     (0, 1), True),
    (row_search, (np.array([[0.1, 0.2], [0.2, 0.1]]), np.array([0.5, 0.4])), (0, 1), False),
    (poly_until, (1.5,), (0,), True),
    (poly_until, (0.2,), (0,), False),
    (poly_skip, (0.7,), (0,), True),
]
IDS = [f"{f.__name__}-{'exits' if fired else 'runs'}-{i}" for i, (f, _, _, fired) in
       enumerate(CASES)]


def _numeric(fn, args, i):
    """Central differences of the first result of `fn` with respect to argument `i`."""
    x = np.asarray(args[i], dtype=float)
    out = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        def at(d, idx=idx):
            shifted = list(args)
            y = x.copy()
            y[idx] += d
            shifted[i] = float(y) if isinstance(args[i], float) else y
            r = fn(*shifted)
            return r[0] if isinstance(r, tuple) else r
        out[idx] = (at(1e-6) - at(-1e-6)) / 2e-6
    return out


@pytest.mark.parametrize("fn,args,wrt,fired", CASES, ids=IDS)
def test_both_modes(fn, args, wrt, fired):
    s2sad.check_grads(fn, *args, wrt=wrt)


@pytest.mark.parametrize("fn,args,wrt,fired", CASES, ids=IDS)
def test_reverse_against_finite_differences(fn, args, wrt, fired):
    f = fn if not isinstance(fn(*args), tuple) else _scalar_of(fn)
    grads = s2sad.grad(f, wrt=wrt)(*args)
    for i, g in zip(wrt, grads):
        assert np.shape(g) == np.shape(args[i])
        np.testing.assert_allclose(g, _numeric(fn, args, i), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("fn,args,wrt,fired", CASES, ids=IDS)
def test_forward_against_finite_differences(fn, args, wrt, fired):
    f = fn if not isinstance(fn(*args), tuple) else _scalar_of(fn)
    for i in wrt:
        jac = s2sad.jacobian(f, wrt=i, mode="forward")(*args)
        np.testing.assert_allclose(jac, _numeric(fn, args, i), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("fn,args,wrt,fired", CASES, ids=IDS)
def test_values_are_unchanged(fn, args, wrt, fired):
    f = fn if not isinstance(fn(*args), tuple) else _scalar_of(fn)
    value, _ = s2sad.value_and_grad(f, wrt=wrt)(*args)
    expected = f(*args)
    assert value == pytest.approx(expected, rel=1e-12, abs=1e-12)


def nested_return_first(x, w):
    """`grad` needs one float: the first result of `nested_return`."""
    a, _ = nested_return(x, w)
    return a


def _scalar_of(fn):
    assert fn is nested_return
    return nested_return_first


# ------------------------------------------------------------------------ exact derivatives


def test_newton_matches_the_implicit_function_theorem():
    # x(a) solves x * x = a, so dx/da = 1 / (2 x), and the starting point does not matter
    for a in (0.5, 2.0, 9.0):
        da, dx0 = s2sad.grad(newton_for, wrt=(0, 1))(a, 1.0, 50)
        assert da == pytest.approx(0.5 / math.sqrt(a), rel=1e-9)
        assert dx0 == pytest.approx(0.0, abs=1e-9)
        fwd = s2sad.jacobian(newton_for, wrt=0, mode="forward")(a, 1.0, 50)
        assert fwd == pytest.approx(0.5 / math.sqrt(a), rel=1e-9)
        assert s2sad.grad(newton_while)(a) == pytest.approx(0.5 / math.sqrt(a), rel=1e-9)


def test_newton_cut_short_is_the_derivative_of_the_steps_taken():
    # one step from x0: x1 = x0 - (x0^2 - a) / (2 x0) = x0 / 2 + a / (2 x0)
    da, dx0 = s2sad.grad(newton_for, wrt=(0, 1))(2.0, 1.0, 1)
    assert (da, dx0) == pytest.approx((0.5, 0.5 - 1.0))


def test_return_inside_a_loop_on_both_sides():
    # returns x_k^2 with x_k = x w^k for the first k with x w^k > 3, else -x w^10
    x, w = 1.0, 1.5          # 1.5^3 = 3.375 > 3: returns (x w^3)^2
    gx, gw = s2sad.grad(first_above, wrt=(0, 1))(x, w)
    assert gx == pytest.approx(2 * x * w ** 6) and gw == pytest.approx(6 * x * x * w ** 5)
    x, w = 0.1, 1.1          # never above 3: -x w^10
    gx, gw = s2sad.grad(first_above, wrt=(0, 1))(x, w)
    assert gx == pytest.approx(-(w ** 10)) and gw == pytest.approx(-10 * x * w ** 9)
    dots = s2sad.jvp(first_above, (1.0, 1.5), (1.0, 0.0))[1]
    assert dots == pytest.approx(2 * 1.5 ** 6)


def test_break_leaves_only_the_innermost_loop():
    # each outer trip runs its inner loop until y > 4, then adds y
    x, w = 1.1, 1.3
    expected = 0.0
    for i in range(3):
        y = x + i
        k = 0
        while k < 10:
            y, k = y * w, k + 1
            if y > 4.0:
                break
        expected += y
    assert inner_break(x, w) == pytest.approx(expected)
    assert s2sad.value_and_grad(inner_break)(x, w)[0] == pytest.approx(expected)


def test_tuple_results_of_a_return_in_a_nested_loop():
    primal, tangent = s2sad.jvp(nested_return, (1.1, 1.3), (1.0, 0.0))
    assert primal == pytest.approx(nested_return(1.1, 1.3))
    h = 1e-6
    hi, lo = nested_return(1.1 + h, 1.3), nested_return(1.1 - h, 1.3)
    assert tangent[0] == pytest.approx((hi[0] - lo[0]) / (2 * h), rel=1e-6)
    assert tangent[1] == pytest.approx((hi[1] - lo[1]) / (2 * h), rel=1e-6)


def test_broadcasting_fixed_point_on_arrays():
    x, b = CASES[19][1]
    gx, gb = s2sad.grad(fixed_point, wrt=(0, 1))(x, b)
    assert gx.shape == (2, 3) and gb.shape == (3,)
    np.testing.assert_allclose(gb, _numeric(fixed_point, (x, b), 1), rtol=1e-6, atol=1e-8)


# ----------------------------------------------------------------------- generated code


def test_newton_tapes_the_trip_count_and_the_step_values_only():
    src = s2sad.emit(newton_for, 2.0, 1.0, 50, wrt=(0, 1))
    forward, backward = src.split("# backward sweep")
    assert "while going:" in forward and "going = False" in forward
    assert forward.count("tape.append(") == 1 and "n = n + 1" in forward
    assert "going" not in forward.split("tape.append(")[1].split(")")[0]
    assert "for trip in reversed(range(n)):" in backward and "going" not in backward
    assert "if " not in backward  # the branch that breaks moves no derivative


def test_forward_mode_carries_the_flag_beside_the_tangents():
    src = s2sad.emit(newton_for, 2.0, 1.0, 50, mode="forward", wrt=(0,))
    assert "while going:" in src and "x_dot" in src and "tape" not in src


def test_continue_keeps_a_counted_loop():
    src = s2sad.emit(skip_trips, 0.7, 0.8, 6, wrt=(0, 1))
    assert "for i in range(n):" in src and "going" not in src
    src = s2sad.emit(skip_trips, 0.7, 0.8, 6, mode="forward", wrt=(0, 1))
    assert "for i in range(n):" in src and "going" not in src


def caps_by_option(x, mode):
    for i in range(5):
        x = x * 1.1 + 0.1
        if mode == "once":
            break
    return x


def no_exit(x, mode):
    for i in range(5):
        x = x * 1.1 + 0.1
    return x


def test_a_break_decided_now_keeps_the_loop_simple():
    # never taken: the same code as without the `break`
    plain = s2sad.emit(no_exit, 1.0, "all").replace("no_exit", "caps_by_option")
    got = s2sad.emit(caps_by_option, 1.0, "all")
    assert re.sub(r"# L\d+", "", got) == re.sub(r"# L\d+", "", plain)
    # always taken on the first trip: no loop at all
    src = s2sad.emit(caps_by_option, 1.0, "once", mode="forward")
    assert "while" not in src and "for" not in src
    assert s2sad.grad(caps_by_option)(1.0, "once") == pytest.approx(1.1)
    assert s2sad.grad(caps_by_option)(1.0, "all") == pytest.approx(1.1 ** 5)


def test_comments_point_at_the_users_lines():
    src = s2sad.emit(break_mid_body, 1.0)
    first = break_mid_body.__code__.co_firstlineno
    assert f"# L{first + 1}: while x < 100.0:" in src
    assert f"# L{first + 3}: if x > 90.0:" in src


# ------------------------------------------------------------------------ what stays out


def unreachable_after_break(x):
    for i in range(3):
        x = x * 2.0
        break
        x = x + 1.0
    return x


def unreachable_in_else(x):
    for i in range(3):
        x = x * 2.0
    else:  # noqa: PLW0120
        return x
        x = x + 1.0
    return x


@pytest.mark.parametrize("fn,text,hint", [
    (unreachable_after_break, "x = x + 1.0", "remove the unreachable"),
    (unreachable_in_else, "x = x + 1.0", "remove the unreachable"),
])
def test_still_unsupported_with_a_located_error(fn, text, hint):
    with pytest.raises(s2sad.UnsupportedSyntax) as info:
        s2sad.grad(fn)(1.0)
    message = str(info.value)
    lines, first = inspect.getsourcelines(fn)
    line = first + next(i for i, t in enumerate(lines) if text in t)
    assert f"{__file__}:{line}:" in message.splitlines()[0]
    assert text in message and hint in message


# ------------------------------------------------------------------ loops left by `return`


def doubles_until(x):
    k = 0.0
    while True:
        k = k + 2.0 * x
        if k > 5.0:
            return k * x


def first_trip_returns(x, n):
    for i in range(n):
        return x * 2.0
    return x


def climb(x, w):
    for i in range(10):
        x = x * w
        if x > 3.0:
            return x
    return -x


def calls_climb(x, w):
    return climb(x, w) * 2.0 + climb(w, x)


@pytest.mark.parametrize("fn,args,expected", [
    (doubles_until, (1.3,), 8 * 1.3),           # k = 4x > 5: returns 4x * x
    (first_trip_returns, (1.0, 2), 2.0),        # returns in the first trip
    (first_trip_returns, (1.0, 0), 1.0),        # the loop never runs
    (calls_climb, (1.0, 1.5), None),            # a helper with a `return` in a loop, inlined
])
def test_functions_left_only_by_return(fn, args, expected):
    s2sad.check_grads(fn, *args, wrt=(0,))
    g = s2sad.grad(fn)(*args)
    assert g == pytest.approx(_numeric(fn, args, 0), rel=1e-6)
    if expected is not None:
        assert g == pytest.approx(expected)


# ------------------------------------------------------------------- the `else` of a loop


def for_else(x):
    for i in range(3):
        x = x * 1.5
        if x > 100.0:
            break
    else:
        x = x + 1.0
    return x


def for_else_no_break(x, n):
    for i in range(n):
        x = x * 1.5
    else:  # noqa: PLW0120  (no `break`: the else part always runs)
        x = x * x
    return x


def while_else(x):
    while x < 10.0:
        x = x * 2.0
        if x > 7.0:
            break
    else:
        x = -x
    return x


def search(x, w):
    y = 0.0
    for c in (1.0, 2.0, 3.0):
        if x * c > 4.0:
            y = x * c * w
            break
    else:
        y = w * w
    return y


def else_returns(x, n):
    for i in range(n):
        x = x * 1.1
        if x > 3.0:
            break
    else:
        return x * 10.0
    return x


def else_breaks_outer(x):
    s = 0.0
    for i in range(4):
        for j in range(3):
            x = x * 1.2
            if x > 2.0:
                break
        else:
            break  # the inner loop ran out: leave the outer one too
        s = s + x
        x = x * 0.5
    return s + x


def rows_else(X, w):
    total = np.sum(w)
    for row in X:
        if np.sum(row * w) > 1.0:
            total = total + np.sum(row * row)
            break
    else:
        total = total * np.sum(w * w)
    return total


ELSE_CASES = [
    # (function, args, does the else part run?)
    (for_else, (2.0,), True),
    (for_else, (80.0,), False),
    (for_else_no_break, (1.1, 3), True),
    (for_else_no_break, (1.1, 0), True),        # no trip: the else part still runs
    (while_else, (1.0,), False),
    (while_else, (11.0,), True),                # no trip
    (while_else, (0.5,), False),
    (search, (1.0, 0.5), True),
    (search, (3.0, 0.5), False),
    (else_returns, (1.0, 3), True),
    (else_returns, (2.9, 3), False),
    (else_returns, (1.0, 0), True),
    (else_breaks_outer, (1.0,), True),
    (else_breaks_outer, (0.3,), True),
    (else_breaks_outer, (1.9,), False),
    (rows_else, (np.array([[0.1, 0.2], [2.0, 1.0]]), np.array([0.5, 0.4])), False),
    (rows_else, (np.array([[0.1, 0.2], [0.3, 0.1]]), np.array([0.5, 0.4])), True),
    (rows_else, (np.zeros((0, 2)), np.array([0.5, 0.4])), True),
]
ELSE_IDS = [f"{f.__name__}-{'else' if ran else 'broke'}-{i}"
            for i, (f, _, ran) in enumerate(ELSE_CASES)]


@pytest.mark.parametrize("fn,args,ran", ELSE_CASES, ids=ELSE_IDS)
def test_loop_else_in_both_modes(fn, args, ran):
    wrt = tuple(i for i, a in enumerate(args) if not isinstance(a, int))
    s2sad.check_grads(fn, *args, wrt=wrt)
    value, grads = s2sad.value_and_grad(fn, wrt=wrt)(*args)
    assert value == pytest.approx(fn(*args), rel=1e-12, abs=1e-12)
    for i, g in zip(wrt, grads):
        np.testing.assert_allclose(g, _numeric(fn, args, i), rtol=1e-5, atol=1e-6)
        fwd = s2sad.jacobian(fn, wrt=i, mode="forward")(*args)
        np.testing.assert_allclose(fwd, _numeric(fn, args, i), rtol=1e-5, atol=1e-6)


def test_loop_else_exact_derivatives_and_second_order():
    assert s2sad.grad(for_else)(2.0) == pytest.approx(1.5 ** 3)       # (1.5^3 x + 1)'
    assert s2sad.grad(for_else)(80.0) == pytest.approx(1.5)           # broke in trip 1
    assert s2sad.grad(for_else_no_break)(1.1, 2) == pytest.approx(2 * 1.1 * 1.5 ** 4)
    # second order, forward over reverse: (x 1.5^n)^2 has second derivative 2 * 1.5^(2n)
    assert s2sad.hessian(for_else_no_break)(1.1, 3) == pytest.approx(2 * 1.5 ** 6)
    assert s2sad.hessian(for_else_no_break)(1.1, 0) == pytest.approx(2.0)
    s2sad.check_grads(search, 1.0, 0.5, order=2)
    s2sad.check_grads(rows_else, *ELSE_CASES[16][1], order=2)


def test_loop_else_code_tests_a_flag():
    src = s2sad.emit(for_else, 2.0, mode="forward")
    forward = src.split("while going:")[1]
    assert "broke, going = True, False" in forward and "if not broke:" in forward
    # no `break`: the else part simply follows the loop, no flag
    src = s2sad.emit(for_else_no_break, 1.1, 3)
    assert "broke" not in src and "for i in range(n):" in src
    # the flag decides no derivative: the backward sweep does not test it
    src = s2sad.emit(for_else, 2.0)
    assert "if" not in src.split("# backward sweep")[1]


# ---------------------------------------------------- `return` in a loop over a tuple or list


def first_scaled_above(x):
    for c in (1.0, 2.0, 3.0):
        if x * c > 4.0:
            return x * c
    return x


def first_pair_above(x, w):
    for c in (1.0, 2.0):
        x = x * w + c
        if x > 3.0:
            return x * x, w
    return -x, x


def first_pair_product(x, w):
    a, b = first_pair_above(x, w)
    return a * b


def tuple_loop_in_range_loop(x, n):
    s = 0.0
    for i in range(n):
        for c in (0.5, 1.5):
            s = s + x * c
            if s > 5.0:
                return s * s
    return s


def range_loop_in_tuple_loop(x, n):
    for c in (1.0, 2.0):
        k = 0
        while k < n:
            x = x * c + 0.1
            if x > 4.0:
                return x * x
            k = k + 1
    return x


def empty_tuple_loop(x):
    for c in ():
        return x * c
    return x * 2.0


def returns_on_first_item(x):
    for c in (3.0, 2.0):
        return x * c
    return x


def pick_component(v):
    for k in (0, 1, 2):
        if v[k] > 0.5:
            return np.sum(v * v) * v[k]
    return np.sum(v)


RETURN_CASES = [
    (first_scaled_above, (1.0,)),          # never above 4: returns x
    (first_scaled_above, (3.0,)),          # on the second item
    (first_scaled_above, (5.0,)),          # on the first
    (first_pair_product, (1.0, 1.5)),
    (first_pair_product, (0.1, 0.5)),
    (tuple_loop_in_range_loop, (0.7, 5)),
    (tuple_loop_in_range_loop, (0.1, 3)),
    (tuple_loop_in_range_loop, (0.1, 0)),
    (range_loop_in_tuple_loop, (1.0, 5)),
    (range_loop_in_tuple_loop, (1.0, 2)),
    (empty_tuple_loop, (1.0,)),
    (returns_on_first_item, (1.0,)),
    (pick_component, (np.array([0.1, 0.7, 0.2]),)),
    (pick_component, (np.array([0.1, 0.2, 0.3]),)),
]


@pytest.mark.parametrize("fn,args", RETURN_CASES,
                         ids=[f"{f.__name__}-{i}" for i, (f, _) in enumerate(RETURN_CASES)])
def test_return_in_a_tuple_loop_in_both_modes(fn, args):
    s2sad.check_grads(fn, *args, wrt=(0,))
    value, g = s2sad.value_and_grad(fn)(*args)
    assert value == pytest.approx(fn(*args), rel=1e-12, abs=1e-12)
    np.testing.assert_allclose(g, _numeric(fn, args, 0), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(s2sad.jacobian(fn, mode="forward")(*args),
                               _numeric(fn, args, 0), rtol=1e-5, atol=1e-6)


def test_return_in_a_tuple_loop_exact_and_second_order():
    assert [s2sad.grad(first_scaled_above)(x) for x in (1.0, 3.0, 5.0)] == [1.0, 2.0, 1.0]
    assert s2sad.jvp(first_scaled_above, (3.0,), (1.0,)) == pytest.approx((6.0, 2.0))
    assert s2sad.grad(returns_on_first_item)(1.0) == 3.0
    # (x c)^2 once x c > 5: second derivative 2 c^2
    assert s2sad.hessian(tuple_loop_in_range_loop)(0.7, 5) == pytest.approx(
        _numeric(s2sad.grad(tuple_loop_in_range_loop), (0.7, 5), 0), rel=1e-5)
    s2sad.check_grads(pick_component, np.array([0.1, 0.7, 0.2]), order=2)
    s2sad.check_grads(first_pair_product, 1.0, 1.5, order=2)


def test_return_in_a_tuple_loop_code_tests_returned():
    src = s2sad.emit(first_scaled_above, 1.0, mode="forward")
    assert "if returned:" in src
    assert not any(line.strip().startswith(("for ", "while ")) for line in src.splitlines())


# ------------------------------------------ reverse-mode loops that only save, differentiated


def sum_of_sines(x):
    s = 0.0
    for i in range(len(x)):  # the gradient's forward sweep keeps only x[i], on a tape
        s = s + np.sin(x[i])
    return s


_grad_of_sines = s2sad.grad(sum_of_sines)


def sines_penalty(x):
    return np.sum(_grad_of_sines(x) ** 2)


def test_a_loop_that_only_tapes_is_differentiated_again():
    x = np.array([0.3, 0.8, -0.4])
    np.testing.assert_allclose(s2sad.hessian(sum_of_sines)(x), np.diag(-np.sin(x)))
    # d/dx sum(cos(x)^2) = -2 cos(x) sin(x): reverse over the loop that fills the tape
    np.testing.assert_allclose(s2sad.grad(sines_penalty)(x), -2 * np.cos(x) * np.sin(x))


def loops_with_else_in_an_else(x, n):
    v = -x
    for i in range(n):
        v = v * 2.0
    else:
        for j in range(n):
            v = v + x * x
        else:
            v = v * 3.0
    return np.sum(v)


def return_in_the_else_of_an_else(x, n):
    v = -x
    for i in range(n):
        pass
    else:
        for j in range(n):
            v = v * x
        else:
            return np.sum(v)
    return x[2]


def test_a_loop_with_else_inside_the_else_of_another():
    # the inner loop's else part used to be dropped: the value of another program, silently
    x = np.array([0.5, -1.5, 2.0])
    for n in (0, 1, 3):
        want = np.sum(((-x * 2.0 ** n) + n * x * x) * 3.0)
        out, _ = s2sad.jvp(loops_with_else_in_an_else, (x, n), (np.ones(3), None))
        assert out == pytest.approx(want)
        s2sad.check_grads(loops_with_else_in_an_else, x, n, wrt=(0,))
        g = s2sad.grad(loops_with_else_in_an_else)(x, n)
        np.testing.assert_allclose(g, 3.0 * (-(2.0 ** n) + 2 * n * x))
    with pytest.raises(s2sad.UnsupportedSyntax, match="code after `return`"):
        s2sad.grad(return_in_the_else_of_an_else)(x, 1)
