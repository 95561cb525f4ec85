"""Recursion (issue 3): unrolled while its depth is known when the code is generated, and
otherwise a call to the user's function whose derivatives are s2sad's own, made at run time.

Each case is checked in both modes against central differences (check_grads), on floats and
on arrays, where the recursion ends at once and where it goes deep.
"""

from __future__ import annotations

import numpy as np
import pytest

import s2sad


def power(x, n):
    if n == 0:
        return 1.0
    return x * power(x, n - 1)


def halve(x):  # depth decided by the data
    if x < 1.0:
        return x * x
    return 2.0 * halve(x / 2.0)


def horner(c, x, k):  # an array of coefficients, a float point, an int position
    if k == len(c) - 1:
        return c[k]
    return c[k] + x * horner(c, x, k + 1)


def shrink(v, w):  # array arguments, a condition on an array's norm
    if np.sum(v * v) < 1.0:
        return np.sum(np.sin(v) * w)
    return 2.0 * shrink(v * 0.5, w)


def relax(v, n):  # an array result
    if n == 0:
        return v
    return relax(np.tanh(v) * 1.1 + 0.1, n - 1)


def accumulate(x, n):  # an array result that adds the argument at every level
    if n <= 0:
        return x
    return np.tanh(accumulate(x, n - 1)) + x * 0.1


def even(x, n):  # mutual recursion
    if n == 0:
        return x
    return np.sin(odd(x, n - 1))


def odd(x, n):
    if n == 0:
        return x * x
    return even(x, n - 1) * 1.1


def tree_sum(xs):  # recursion over a tuple: its depth is known, so it is unrolled
    if len(xs) == 1:
        return xs[0] * xs[0]
    half = len(xs) // 2
    return tree_sum(xs[:half]) + tree_sum(xs[half:])


def fib_like(x, n):  # two recursive calls per level
    if n < 2:
        return x
    return fib_like(x, n - 1) * 0.5 + np.sin(fib_like(x, n - 2))


def calls_power(x, y):  # a recursive helper called from a function that is not recursive
    return power(x, 3) * y + power(y, 0)


V = np.array([3.0, -2.0, 1.5])
CASES = [
    (power, (1.3, 0)), (power, (1.3, 1)), (power, (1.3, 9)),
    (halve, (0.5,)), (halve, (37.0,)),
    (horner, (np.array([1.0, 2.0, 3.0, 0.5]), 0.7, 0)),
    (shrink, (V, np.array([0.3, 0.2, 0.1]))), (shrink, (V * 0.1, np.array([0.3, 0.2, 0.1]))),
    (relax, (V, 0)), (relax, (V, 5)), (accumulate, (V * 0.1, 4)),
    (even, (0.7, 9)), (even, (0.7, 0)),
    (fib_like, (0.3, 7)),
    (calls_power, (1.2, 0.8)),
]


@pytest.mark.parametrize("fn,args", CASES, ids=lambda v: getattr(v, "__name__", None))
def test_recursion_in_both_modes(fn, args):
    s2sad.check_grads(fn, *args)


def test_known_values():
    assert s2sad.grad(power)(1.3, 4) == pytest.approx(4 * 1.3 ** 3, rel=1e-12)
    assert s2sad.grad(halve)(5.0) == pytest.approx(2 * 5.0 / 8.0, rel=1e-12)  # x^2 / 8
    np.testing.assert_allclose(s2sad.grad(horner, wrt=0)(np.ones(4), 0.7, 0),
                               0.7 ** np.arange(4.0), rtol=1e-12)
    J = s2sad.jacobian(relax)(V, 3)
    h = 1e-6
    want = np.stack([(relax(V + h * e, 3) - relax(V - h * e, 3)) / (2 * h) for e in np.eye(3)],
                    axis=-1)
    np.testing.assert_allclose(J, want, rtol=1e-6, atol=1e-9)


def test_run_time_recursion_calls_generated_derivatives():
    rev, fwd = s2sad.emit(halve, 37.0), s2sad.emit(halve, 37.0, mode="forward")
    assert "halve_grad(" in rev and "halve(" not in rev.replace("halve_", "")
    assert "relax_vjp(" in s2sad.emit(lambda v, n: np.sum(relax(v, n)), V, 3)  # array result
    assert "halve_jvp(" in fwd and "2.0 * halve(t1)" in fwd
    # unrolled when the depth is known: no call remains
    assert "tree_sum(" not in s2sad.emit(tree_sum, (1.0, 2.0, 3.0)).replace("tree_sum_grad(", "")
    xs = (1.0, 2.0, 3.0, 4.0, 5.0)
    assert s2sad.grad(tree_sum)(xs) == pytest.approx(tuple(2 * x for x in xs))


@pytest.mark.parametrize("fn,args", [(power, (1.3, 6)), (halve, (37.0,)), (even, (0.7, 9)),
                                     (shrink, (V, np.array([0.3, 0.2, 0.1]))),
                                     (calls_power, (1.2, 0.8))],
                         ids=lambda v: getattr(v, "__name__", None))
def test_second_derivatives_through_run_time_recursion(fn, args):
    # the adjoint of a call is g * (s2sad's gradient of the function), itself differentiable
    s2sad.check_grads(fn, *args, order=2)


def test_hessians_of_recursions_have_known_values():
    assert s2sad.hessian(halve)(37.0) == pytest.approx(2.0 / 64.0, rel=1e-12)  # x^2 / 64
    assert s2sad.hessian(power, wrt=0)(1.3, 5) == pytest.approx(20 * 1.3 ** 3, rel=1e-12)
    assert s2sad.grad(s2sad.grad(halve))(37.0) == pytest.approx(2.0 / 64.0, rel=1e-12)
    assert "2.0 * halve_grad(t2)" in s2sad.emit(halve, 37.0)


def relax_sum(v, n):
    return np.sum(relax(v, n))


def test_third_derivatives_and_jacobians_of_jacobians_through_run_time_recursion():
    assert s2sad.grad(s2sad.grad(s2sad.grad(power)))(1.3, 5) == \
        pytest.approx(60 * 1.3 ** 2, rel=1e-10)
    assert s2sad.jacobian(s2sad.jacobian(halve))(3.0) == pytest.approx(0.5, rel=1e-12)  # x^2/2


def test_second_derivatives_of_recursions_returning_arrays_are_refused():
    with pytest.raises(s2sad.NotDifferentiable) as info:
        s2sad.hessian(relax_sum)(V, 3)
    msg = str(info.value)
    assert "relax_vjp, the adjoint of a recursion whose depth is known only at run time" in msg
    assert "unroll it or use a loop" in msg and "test_recursion.py" in msg


def tuple_result(x, n):
    if n == 0:
        return x, x
    a, b = tuple_result(x * 0.5, n - 1)
    return a + b, b


def test_recursion_returning_a_tuple_is_refused_where_it_is_written():
    with pytest.raises(s2sad.TypeMismatch) as info:
        s2sad.grad(lambda x, n: tuple_result(x, n)[0])(1.0, 3)
    msg = str(info.value)
    assert "recurses to a depth known only at run time, which s2sad supports for functions " \
        "returning one number or array" in msg
    assert "tuple_result(x * 0.5, n - 1)" in msg


def test_a_jacobian_of_a_jacobian_through_an_array_recursion_is_refused():
    # vector mode runs relax's tangent once per direction; that helper has no derivative,
    # which used to be taken as zero (a silently zero Jacobian)
    with pytest.raises(s2sad.NotDifferentiable) as info:
        s2sad.jacobian(s2sad.jacobian(relax))(V, 2)
    assert "run on each direction of a batch (vector forward mode)" in str(info.value)
    assert "s2sad.hessian(f)" in str(info.value)
