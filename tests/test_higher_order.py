"""Hessians and Hessian-vector products (forward over reverse), Jacobians, has_aux.

Checked against finite differences of s2sad's gradient (itself checked elsewhere) and
against H @ v, on straight-line code, branches and loops.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import s2sad

rng = np.random.default_rng(5)


def lecture(x, y):
    return x * x * y + y + 2


def smooth(x):
    return np.sum(np.sin(x) * x ** 2) + np.prod(x) + np.sum(x) ** 3


def looped(x, w):
    for i in range(3):
        x = math.sin(x * w) + x
    return x * x


def branchy(x, w):
    if x > 0.5:
        y = x * x * w
    else:
        y = math.exp(x) * w * w
    return y * x


def array_loop(h, W):
    for t in range(3):
        h = np.tanh(W @ h)
    return np.sum(h ** 2)


def _fd_hessian(fn, args, wrt):
    """Central differences of s2sad's gradient, block by block."""
    g = s2sad.grad(fn, wrt=wrt)
    blocks = []
    for i in wrt:
        row = []
        for j in wrt:
            xj = np.asarray(args[j], dtype=float)
            cols = []
            for idx in np.ndindex(xj.shape or ()):
                def at(d):
                    y = xj.copy()
                    y[idx] += d
                    shifted = list(args)
                    shifted[j] = float(y) if np.ndim(args[j]) == 0 else y
                    return np.asarray(g(*shifted)[wrt.index(i)], dtype=float)
                cols.append((at(1e-5) - at(-1e-5)) / 2e-5)
            block = np.stack(cols, axis=-1).reshape(np.shape(args[i]) + np.shape(args[j]))
            row.append(block)
        blocks.append(row)
    return blocks


def test_lecture_hessian():
    H = s2sad.hessian(lecture, wrt=(0, 1))(3.0, 4.0)
    np.testing.assert_allclose(np.array(H, dtype=float), [[8.0, 6.0], [6.0, 0.0]])


@pytest.mark.parametrize("fn,args,wrt", [
    (smooth, (rng.standard_normal(3),), (0,)),
    (looped, (0.3, 0.8), (0, 1)),
    (branchy, (0.7, 1.3), (0, 1)),
    (branchy, (0.2, 1.3), (0, 1)),
    (array_loop, (rng.standard_normal(3) * 0.5, rng.standard_normal((3, 3)) * 0.5), (0, 1)),
])
def test_hessian_against_finite_differences_of_the_gradient(fn, args, wrt):
    H = s2sad.hessian(fn, wrt=wrt)(*args)
    want = _fd_hessian(fn, args, list(wrt))  # a tuple wrt gives a tuple of tuples of blocks
    for i in range(len(wrt)):
        for j in range(len(wrt)):
            np.testing.assert_allclose(H[i][j], want[i][j], rtol=1e-5, atol=1e-6)


def test_hvp_is_hessian_times_v():
    x = rng.standard_normal(4)
    v = rng.standard_normal(4)
    H = s2sad.hessian(smooth)(x)
    np.testing.assert_allclose(s2sad.hvp(smooth)(x, v), H @ v, rtol=1e-10, atol=1e-12)
    h, W = rng.standard_normal(3) * 0.5, rng.standard_normal((3, 3)) * 0.5
    vh, vW = rng.standard_normal(3), rng.standard_normal((3, 3))
    Hb = s2sad.hessian(array_loop, wrt=(0, 1))(h, W)
    got = s2sad.hvp(array_loop, wrt=(0, 1))(h, W, (vh, vW))
    want_h = Hb[0][0] @ vh + np.tensordot(Hb[0][1], vW, axes=2)
    np.testing.assert_allclose(got[0], want_h, rtol=1e-9, atol=1e-12)


def test_hvp_code_never_forms_the_hessian():
    src = s2sad.emit(looped, 0.3, 0.8, mode="hvp", wrt=(0, 1))
    assert "def looped_hvp(x, w, x_dot, w_dot):" in src
    assert "x_bar_dot" in src and "tape.append((t1, x, t2, x_dot))" in src


def vector_fn(x):
    return np.array([x[0] * x[1], np.sin(x[2]), x[0] ** 2, np.exp(x[1])])


def loop_vector(x, a):
    y = x
    for i in range(2):
        y = np.tanh(a * y) + y
    return y


@pytest.mark.parametrize("fn,args", [(vector_fn, (rng.standard_normal(3),)),
                                     (loop_vector, (rng.standard_normal(3), 0.7))])
def test_jacobian_in_every_mode(fn, args):
    x = args[0]
    want = np.stack([(fn(x + 1e-6 * e, *args[1:]) - fn(x - 1e-6 * e, *args[1:])) / 2e-6
                     for e in np.eye(x.size)], axis=-1)
    for mode in ("forward", "reverse", "auto"):
        np.testing.assert_allclose(s2sad.jacobian(fn, mode=mode)(*args), want,
                                   rtol=1e-6, atol=1e-8)


def test_jacobian_shapes_and_scalars():
    def f(x, y):
        return x * np.array([1.0, 2.0]) * y
    J = s2sad.jacobian(f, wrt=(0, 1))(2.0, 3.0)
    np.testing.assert_allclose(J[0], [3.0, 6.0])
    np.testing.assert_allclose(J[1], [2.0, 4.0])
    assert s2sad.jacobian(lecture)(3.0, 4.0) == pytest.approx(24.0)
    for mode in ("forward", "reverse", "auto"):  # an empty result has an empty Jacobian
        assert s2sad.jacobian(lambda x: x[:0] * 2.0, mode=mode)(np.ones(3)).shape == (0, 3)
    with pytest.raises(s2sad.TypeMismatch, match="mode must be"):
        s2sad.jacobian(f, mode="sideways")


def with_aux(x):
    loss = np.sum(x ** 2)
    return loss, (np.sqrt(loss), x * 2.0)


def test_has_aux():
    x = rng.standard_normal(3)
    g, (norm, doubled) = s2sad.grad(with_aux, has_aux=True)(x)
    np.testing.assert_allclose(g, 2 * x)
    assert norm == pytest.approx(np.linalg.norm(x))
    np.testing.assert_allclose(doubled, 2 * x)
    (value, aux), g2 = s2sad.value_and_grad(with_aux, has_aux=True)(x)
    assert value == pytest.approx(np.sum(x ** 2)) and aux[0] == pytest.approx(norm)
    np.testing.assert_allclose(g2, g)


def quartic(x):
    return x ** 4 + math.sin(x)


def test_grad_of_grad_and_third_derivatives():
    d1 = s2sad.grad(quartic)
    d2 = s2sad.grad(d1)
    d3 = s2sad.grad(d2)
    for x in (0.3, -1.2):
        assert d1(x) == pytest.approx(4 * x ** 3 + math.cos(x), rel=1e-12)
        assert d2(x) == pytest.approx(12 * x ** 2 - math.sin(x), rel=1e-12)
        assert d3(x) == pytest.approx(24 * x - math.cos(x), rel=1e-12)


def loop_scalar(x):
    y = x
    for i in range(3):
        y = math.sin(y) * x
    return y


def test_third_derivative_through_a_loop():
    d3 = s2sad.grad(s2sad.grad(s2sad.grad(loop_scalar)))
    d2 = s2sad.grad(s2sad.grad(loop_scalar))
    x, h = 0.7, 1e-5
    assert d3(x) == pytest.approx((d2(x + h) - d2(x - h)) / (2 * h), rel=1e-6)


def test_mixed_partials_and_forward_over_reverse():
    def two(x, y):
        return x * x * y + math.exp(x * y)
    want = 2 * 0.5 + math.exp(0.15) * (1 + 0.5 * 0.3)
    assert s2sad.grad(s2sad.grad(two), wrt=1)(0.5, 0.3) == pytest.approx(want, rel=1e-12)
    xs = rng.standard_normal(3)
    np.testing.assert_allclose(s2sad.jacobian(s2sad.grad(smooth))(xs), s2sad.hessian(smooth)(xs),
                               rtol=1e-10)
    v = rng.standard_normal(3)
    np.testing.assert_allclose(s2sad.jvp(s2sad.grad(smooth), (xs,), (v,))[1],
                               s2sad.hessian(smooth)(xs) @ v, rtol=1e-10)


def test_composed_code_reads_as_one_function():
    src = s2sad.emit(s2sad.grad(s2sad.grad(quartic)), 0.7)
    assert src.startswith("def quartic_grad_grad(x):") and "x_bar_dot" in src


def looped_arrays(x, n):
    y = x
    for i in range(n):
        y = np.sin(y) * x + 0.1 * y * y
    return np.sum(y)


LOOPED_GRAD = s2sad.grad(looped_arrays)


def gradient_penalty(x, n):
    g = LOOPED_GRAD(x, n)  # reverse mode inside reverse mode: the tapes are reversed too
    return np.sum(g * g)


def newton_sqrt(a):
    x = a
    i = 0
    while i < 30 and np.max(np.abs(x * x - a)) > 1e-12:
        x = 0.5 * (x + a / x)
        i += 1
    return np.sum(x * np.log(a))


NEWTON_GRAD = s2sad.grad(newton_sqrt)


def newton_penalty(a):
    return np.sum(NEWTON_GRAD(a) ** 2)


def nested_loops(x):
    y = x
    for i in range(2):
        for j in range(3):
            y = np.cos(y * x) + y
    return np.sum(y * y)


NESTED_GRAD = s2sad.grad(nested_loops)


def nested_penalty(x):
    return np.sum(np.sin(NESTED_GRAD(x)))


def _fd_grad(f, x, *rest, h=1e-6):
    return np.array([(f(x + h * e, *rest) - f(x - h * e, *rest)) / (2 * h)
                     for e in np.eye(x.size)]).reshape(x.shape)


@pytest.mark.parametrize("fn,args", [
    (gradient_penalty, (np.array([0.3, -0.5, 0.8]), 3)),
    (newton_penalty, (np.array([0.5, 2.0, 3.0]),)),
    (nested_penalty, (np.array([0.2, -0.4]),)),
], ids=["for", "while", "nested"])
def test_reverse_over_reverse_through_loops(fn, args):
    got = s2sad.grad(fn)(*args)
    np.testing.assert_allclose(got, _fd_grad(fn, *args), rtol=1e-6, atol=1e-8)
    s2sad.check_grads(fn, *args)  # forward over reverse agrees, and the identity holds


def test_reverse_over_reverse_equals_hessian_times_gradient():
    # d/dx |g(x)|^2 = 2 H g: reverse over reverse against forward over reverse
    x = np.array([0.3, -0.5, 0.8])
    g = LOOPED_GRAD(x, 4)
    want = 2.0 * s2sad.hessian(looped_arrays)(x, 4) @ g
    np.testing.assert_allclose(s2sad.grad(gradient_penalty)(x, 4), want, rtol=1e-10)


def test_reverse_over_reverse_reads_its_adjoint_tape():
    src = s2sad.emit(gradient_penalty, np.ones(3), 2)
    assert "tape_bar = []" in src
    assert "tape_bar.append(" in src and "tape_bar.pop()" in src
    # the backward sweep of the inner gradient runs forwards when reversed again
    backward = src.split("# backward sweep")[1]
    assert "for i in range(n):" in backward and "for i in reversed(range(n)):" in backward


@pytest.mark.parametrize("fn,args", [(smooth, (rng.standard_normal(3),)),
                                     (looped, (0.3, 0.8)), (branchy, (0.7, 1.3)),
                                     (array_loop, (rng.standard_normal(3) * 0.5,
                                                   rng.standard_normal((3, 3)) * 0.5))])
def test_check_grads_second_order(fn, args):
    s2sad.check_grads(fn, *args, order=2)


def test_check_grads_second_order_catches_a_wrong_rule():
    def cube(x):
        return x ** 3
    s2sad.custom_adjoint(cube, lambda g, ans, x: g * 3.0 * x * x)
    s2sad.custom_tangent(cube, lambda t, ans, x: t * 3.0 * x)  # wrong: should be 3 x^2

    def uses(x):
        return cube(x)
    with pytest.raises(s2sad.GradCheckError):
        s2sad.check_grads(uses, 0.7, order=2)


def lecture_grad_x(x, y):
    return LECTURE_GRAD(x, y)[0]


LECTURE_GRAD = s2sad.grad(lecture, wrt=(0, 1))


def sq_loss(w, x):
    return np.sum((w * x) ** 2)


SQ_GRAD = s2sad.grad(sq_loss)


def sgd_steps(lr, w, x):
    for i in range(3):
        w = w - lr * SQ_GRAD(w, x)
    return np.sum(w ** 2)


def test_calling_a_gradient_inside_differentiated_code():
    assert s2sad.grad(lecture_grad_x, wrt=(0, 1))(3.0, 4.0) == (8.0, 6.0)  # d(2xy) = (2y, 2x)
    w, x = np.array([1.0, 2.0]), np.array([0.5, -1.0])
    s2sad.check_grads(sgd_steps, 0.1, w, x)
    src = s2sad.emit(lecture_grad_x, 3.0, 4.0)
    assert src.count("backward sweep") == 1


# ------------------------------------------------------------- Jacobians of Jacobians (#5)

def _fd_jacobian(fn, x, h=1e-5):
    """Central differences of `fn` (a float or array function of one float or array)."""
    x = np.asarray(x, dtype=float)
    cols = []
    for idx in np.ndindex(x.shape):
        e = np.zeros_like(x)
        e[idx] = h
        shift = (lambda d: x + d) if x.shape else (lambda d: float(x + d))
        cols.append((np.asarray(fn(shift(e))) - np.asarray(fn(shift(-e)))) / (2 * h))
    return np.stack(cols, axis=-1).reshape(np.shape(fn(x if x.shape else float(x))) + x.shape)


def sin_times_first(x):
    return np.sin(x) * x[0]


def looped_map(x):
    for i in range(3):
        x = np.tanh(x * 1.3) + 0.1 * x[::-1]
    return x


@pytest.mark.parametrize("fn", [sin_times_first, looped_map])
@pytest.mark.parametrize("mode", ["forward", "reverse", "auto"])
def test_jacobian_of_a_jacobian(fn, mode):
    x = rng.standard_normal(3)
    J = s2sad.jacobian(fn)
    JJ = s2sad.jacobian(J, mode=mode)(x)
    assert JJ.shape == (3, 3, 3)
    np.testing.assert_allclose(JJ, _fd_jacobian(J, x), rtol=1e-6, atol=1e-8)


def test_nested_jacobians_give_third_and_fourth_derivatives():
    def quartic(x):
        return x ** 4
    d = quartic
    for want in (32.0, 48.0, 48.0, 24.0):  # 4x^3, 12x^2, 24x, 24 at x = 2
        d = s2sad.jacobian(d)
        assert d(2.0) == pytest.approx(want, rel=1e-12)
    third = s2sad.jacobian(s2sad.hessian(smooth))
    x = rng.standard_normal(3)
    T = third(x)
    np.testing.assert_allclose(T, _fd_jacobian(s2sad.hessian(smooth), x), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(T, np.swapaxes(T, 0, 2), rtol=1e-10, atol=1e-12)  # symmetric


def test_jacobian_of_a_hessian_by_name_and_tuple():
    H = s2sad.hessian(lecture)  # d2/dx2 of x*x*y + y + 2 is 2y
    dH = s2sad.jacobian(H, wrt=("x", "y"))(3.0, 4.0)
    assert dH == (pytest.approx(0.0), pytest.approx(2.0))


J_OF_MAP = s2sad.jacobian(looped_map)


def jacobian_penalty(x):
    return np.sum(J_OF_MAP(x) ** 2)


def test_a_jacobian_inside_differentiated_code():
    x = rng.standard_normal(3)
    s2sad.check_grads(jacobian_penalty, x)
    src = s2sad.emit(jacobian_penalty, x)
    assert "jacobian_seed(x)" in src and "jacobian_unblock(" in src
    assert "backward sweep" in src


def dict_params(p, x):
    return np.sum(np.tanh(p["w"] * x + p["b"]) ** 2)


def test_hessians_and_jacobians_of_containers_are_refused_with_a_pointer_to_hvp():
    p, x = {"w": np.array([0.5, -0.3]), "b": 0.2}, np.array([1.0, 2.0])
    for make in (s2sad.hessian, s2sad.jacobian, lambda f: s2sad.jacobian(s2sad.grad(f))):
        with pytest.raises(s2sad.TypeMismatch, match="with respect to argument 0, a dict") as info:
            make(dict_params)(p, x)
        assert "use s2sad.hvp" in str(info.value)
    v = {"w": np.array([1.0, 0.0]), "b": 0.0}
    hv = s2sad.hvp(dict_params)(p, x, v)
    h = 1e-6
    g = s2sad.grad(dict_params)
    plus = g({"w": p["w"] + h * v["w"], "b": p["b"]}, x)
    minus = g({"w": p["w"] - h * v["w"], "b": p["b"]}, x)
    np.testing.assert_allclose(hv["w"], (plus["w"] - minus["w"]) / (2 * h), rtol=1e-6)
    assert hv["b"] == pytest.approx((plus["b"] - minus["b"]) / (2 * h), rel=1e-6)


def sin_sq(x):
    return np.sum(np.sin(x) ** 2)


def made_inline(x):  # derivatives made where they are used, not at module level
    return np.sum(s2sad.grad(sin_sq)(x) ** 2) + np.sum(s2sad.jacobian(sin_times_first)(x)) \
        + np.sum(s2sad.hessian(sin_sq)(x)) + np.sum(s2sad.hvp(sin_sq)(x, x))


def made_inline_badly(x):
    return s2sad.grad(sin_sq, wrt=3)(x)


def test_derivatives_made_inside_differentiated_code():
    x = rng.standard_normal(3)
    s2sad.check_grads(made_inline, x)
    with pytest.raises(s2sad.TypeMismatch) as info:
        s2sad.grad(made_inline_badly)(x)
    msg = str(info.value)
    assert "wrt=3: sin_sq has 1 parameter(s)" in msg and "test_higher_order.py" in msg
    assert "return s2sad.grad(sin_sq, wrt=3)(x)" in msg


def scaled_sq(a, s=0.75):
    return np.sum(np.sin(a) ** 2 * s)


def scaled_map(a, s=2.0, shift=0.0):
    return np.tanh(a * s + shift)


def with_defaults(x):  # derivatives made inline take defaults and keywords as Python does
    return np.sum(s2sad.grad(scaled_sq)(x) ** 2) + np.sum(s2sad.grad(scaled_sq)(x, s=x[0]) * x) \
        + np.sum(s2sad.grad(scaled_sq)(s=0.5, a=x) * x) + s2sad.grad(scaled_sq, wrt="s")(x) \
        + np.sum(s2sad.jacobian(scaled_map)(x, shift=0.3)) + np.sum(s2sad.hessian(scaled_sq)(x)) \
        + np.sum(s2sad.hvp(scaled_sq)(x, x) * x) + np.sum(s2sad.hvp(scaled_sq)(x, x, s=1.5))


def with_defaults_by_hand(x):
    def g(a, s):  # d/da of sum(sin(a)^2 s)
        return 2.0 * np.sin(a) * np.cos(a) * s

    def h(a, s, v):  # its Hessian (diagonal) times v
        return 2.0 * np.cos(2.0 * a) * s * v
    j = (1.0 - np.tanh(x * 2.0 + 0.3) ** 2) * 2.0  # the diagonal Jacobian of scaled_map
    return np.sum(g(x, 0.75) ** 2) + np.sum(g(x, x[0]) * x) + np.sum(g(x, 0.5) * x) \
        + np.sum(np.sin(x) ** 2) + np.sum(j) + np.sum(2.0 * np.cos(2.0 * x) * 0.75) \
        + np.sum(h(x, 0.75, x) * x) + np.sum(h(x, 1.5, x))


def test_derivatives_made_inline_honour_defaults_and_keywords():
    x = rng.standard_normal(3)
    assert with_defaults(x) == pytest.approx(with_defaults_by_hand(x), rel=1e-12)
    s2sad.check_grads(with_defaults, x)
    np.testing.assert_allclose(s2sad.grad(with_defaults)(x), s2sad.grad(with_defaults_by_hand)(x),
                               rtol=1e-10)


def missing_argument(x):
    return np.sum(s2sad.grad(scaled_sq)(s=x[0]))


def unknown_keyword(x):
    return np.sum(s2sad.grad(scaled_sq)(x, scale=2.0))


def grad_of_a_map(x):
    return np.sum(s2sad.grad(scaled_map)(x))


@pytest.mark.parametrize("fn,words", [
    (missing_argument, "missing a required argument: 'a'"),
    (unknown_keyword, "unexpected keyword argument 'scale'"),
    (grad_of_a_map, "grad needs a function with one float scalar result")])
def test_a_bad_call_of_a_derivative_made_inline_points_at_the_call(fn, words):
    with pytest.raises(s2sad.TypeMismatch) as info:
        s2sad.grad(fn)(rng.standard_normal(3))
    msg = str(info.value)
    assert words in msg
    line = fn.__code__.co_firstlineno + 1  # the call, in the user's function
    assert f"test_higher_order.py:{line}:" in msg and "s2sad.grad(scaled_" in msg


def with_a_try(a, s=1.0):
    try:
        return np.sum(a * s)
    except ValueError:
        return 0.0


def calls_with_a_try(x):
    return np.sum(s2sad.grad(with_a_try)(x))


def test_an_error_in_the_code_of_a_derivative_made_inline_points_there_and_at_the_call():
    with pytest.raises(s2sad.UnsupportedSyntax) as info:
        s2sad.grad(calls_with_a_try)(np.ones(3))
    msg = str(info.value)
    assert f"test_higher_order.py:{with_a_try.__code__.co_firstlineno + 1}:" in msg
    assert "`try` statements" in msg
    assert f"called at {__file__}:{calls_with_a_try.__code__.co_firstlineno + 1}:" in msg


def with_dict_aux(x):
    loss = np.sum(x ** 2)
    return loss, {"norm": np.sqrt(loss), "scaled": x * 2.0}


def dict_valued(x):
    return {"a": x * 2.0, "b": np.sin(x)}


def test_dict_results_and_dict_aux():
    x = np.array([1.0, -2.0])
    g, aux = s2sad.grad(with_dict_aux, has_aux=True)(x)
    np.testing.assert_allclose(g, 2 * x)
    assert set(aux) == {"norm", "scaled"} and aux["norm"] == pytest.approx(np.sqrt(5.0))
    np.testing.assert_allclose(aux["scaled"], 2 * x)
    (value, aux2), g2 = s2sad.value_and_grad(with_dict_aux, has_aux=True)(x)
    assert value == pytest.approx(5.0) and aux2["norm"] == aux["norm"]
    out, dot = s2sad.jvp(dict_valued, (x,), (np.ones(2),))
    np.testing.assert_allclose(dot["b"], np.cos(x))
    np.testing.assert_allclose(dot["a"], [2.0, 2.0])
    _, pull = s2sad.vjp(dict_valued, x)
    np.testing.assert_allclose(pull({"a": np.ones(2), "b": np.ones(2)})[0], 2.0 + np.cos(x))


def dict_from_branches(x):
    if x > 0.0:
        return {"a": x * 2.0, "b": x}
    return {"a": x * 3.0, "b": -x}


def dict_keys_differ(x):
    if x > 0.0:
        return {"a": x}
    return {"b": x}


def test_dicts_returned_from_several_places():
    for x, slope in ((1.0, 2.0), (-1.0, 3.0)):
        out, dot = s2sad.jvp(dict_from_branches, (x,), (1.0,))
        assert out == {"a": slope * x, "b": abs(x)} and dot == {"a": slope, "b": np.sign(x)}
        _, pull = s2sad.vjp(dict_from_branches, x)
        assert pull({"a": 1.0, "b": 1.0}) == (pytest.approx(slope + np.sign(x)),)
    w = np.array([0.3, 0.5])
    s2sad.check_grads(dict_valued, w)
    with pytest.raises(s2sad.TypeMismatch, match="dict with the keys"):
        s2sad.vjp(dict_valued, w)[1]({"b": np.ones(2)})
    with pytest.raises(s2sad.TypeMismatch, match="one result"):
        s2sad.jacobian(dict_valued)(w)
    with pytest.raises(s2sad.TypeMismatch, match="different structures") as info:
        s2sad.jvp(dict_keys_differ, (1.0,), (1.0,))
    assert "test_higher_order.py" in str(info.value)


def grows_a_list(x, n):
    xs = []
    for i in range(n):
        x = np.sin(x) * 1.1
        xs.append(x)
    return np.sum(np.stack(xs), axis=0)


def test_a_jacobian_that_vector_mode_cannot_build_is_refused_with_a_hint():
    with pytest.raises(s2sad.NotDifferentiable) as info:
        s2sad.jacobian(s2sad.jacobian(grows_a_list))(np.ones(2), 3)
    msg = str(info.value)
    assert "built in vector forward mode" in msg and "xs.append(x)" in msg
    assert "s2sad.jacobian(s2sad.grad(f))" in msg
    J = s2sad.jacobian(grows_a_list)(np.array([0.3, -0.4]), 3)  # first order still works
    h = 1e-6
    x = np.array([0.3, -0.4])
    want = np.stack([(grows_a_list(x + h * e, 3) - grows_a_list(x - h * e, 3)) / (2 * h)
                     for e in np.eye(2)], axis=-1)
    np.testing.assert_allclose(J, want, rtol=1e-6, atol=1e-9)


# --------------------------------------- transforms of functions that return structures


def _two(x, y):
    return x * x * y + np.sin(y) * x


def _two_arrays(x, y):
    return np.sum(np.tanh(x) * y ** 2)


def _with_aux(x, y):
    return x * x * y, {"a": x * y, "b": (np.exp(y), x)}


def _with_array_aux(x, y):
    return np.sum(x * np.cos(y)), x * 2.0


def _params(p, x):
    return p["w"] * x ** 2 + np.sin(p["b"]) * x


def _fd(fn, args, dirs, eps=1e-6):
    """Central differences of every leaf of fn's result along `dirs`."""
    from s2sad.check import _flat
    plus = _flat(fn(*[a + eps * d for a, d in zip(args, dirs)]))
    minus = _flat(fn(*[a - eps * d for a, d in zip(args, dirs)]))
    return [(p - m) / (2 * eps) for p, m in zip(plus, minus)]


MADE = [
    (lambda: s2sad.grad(_two, wrt=(0, 1)), (1.5, 0.5)),
    (lambda: s2sad.grad(_two, wrt=(1, 0)), (1.5, 0.5)),
    (lambda: s2sad.grad(_two, wrt="y"), (1.5, 0.5)),
    (lambda: s2sad.value_and_grad(_two, wrt=(0, 1)), (1.5, 0.5)),
    (lambda: s2sad.value_and_grad(_two), (1.5, 0.5)),
    (lambda: s2sad.grad(_two_arrays, wrt=(0, 1)), (np.array([0.3, -0.2, 0.7]), np.array([1.1, 0.4, -0.5]))),
    (lambda: s2sad.grad(_two_arrays, wrt=(0, 1)), (np.array([[0.3, -0.2]]), 0.8)),
    (lambda: s2sad.value_and_grad(_two_arrays, wrt=(0, 1)), (np.array([0.3, -0.2]), np.array([1.1, 0.4]))),
    (lambda: s2sad.grad(_with_aux, wrt=(0, 1), has_aux=True), (1.5, 0.5)),
    (lambda: s2sad.value_and_grad(_with_aux, wrt=(0, 1), has_aux=True), (1.5, 0.5)),
    (lambda: s2sad.value_and_grad(_with_array_aux, has_aux=True), (np.array([0.3, -0.2]), 0.4)),
]


@pytest.mark.parametrize("make, args", MADE)
def test_jvp_and_vjp_of_functions_returning_tuples(make, args):
    from s2sad.check import _flat
    gf = make()
    rng = np.random.default_rng(3)
    dirs = [rng.standard_normal(np.shape(a)) if np.ndim(a) else float(rng.standard_normal())
            for a in args]
    out, out_dot = s2sad.jvp(gf, args, dirs)
    want = gf(*args)
    assert type(out) is type(want) and len(_flat(out)) == len(_flat(want))
    for got, w in zip(_flat(out), _flat(want)):
        np.testing.assert_allclose(got, w)
    for got, w in zip(_flat(out_dot), _fd(gf, args, dirs)):
        np.testing.assert_allclose(got, w, rtol=1e-5, atol=1e-6)
    s2sad.check_grads(gf, *args)  # forward against differences, and the inner product


def test_jvp_of_a_tuple_gradient_matches_the_same_composition_inside_a_function():
    gf = s2sad.grad(_two, wrt=(0, 1))

    def inside(x, y):
        a, b = gf(x, y)
        return a + 2.0 * b
    _, (da, db) = s2sad.jvp(gf, (1.5, 0.5), (1.0, -0.5))
    assert da + 2.0 * db == pytest.approx(s2sad.jvp(inside, (1.5, 0.5), (1.0, -0.5))[1])
    H = s2sad.hessian(_two, wrt=(0, 1))(1.5, 0.5)
    assert (da, db) == pytest.approx((H[0][0] - 0.5 * H[0][1], H[1][0] - 0.5 * H[1][1]))
    _, pullback = s2sad.vjp(gf, 1.5, 0.5)
    assert pullback((1.0, 0.0)) == pytest.approx((H[0][0], H[0][1]))
    assert pullback((0.0, 1.0)) == pytest.approx((H[1][0], H[1][1]))


def test_jvp_of_a_gradient_of_a_dict_argument_is_a_dict():
    p = {"w": 0.7, "b": 0.3}
    gp = s2sad.grad(_params)
    _, dot = s2sad.jvp(gp, (p, 1.5), ({"w": 1.0, "b": 0.0}, None))
    assert set(dot) == {"w", "b"}
    assert dot["w"] == pytest.approx(0.0) and dot["b"] == pytest.approx(0.0)
    _, dot = s2sad.jvp(gp, (p, 1.5), ({"w": 0.0, "b": 0.0}, 1.0))
    assert dot == pytest.approx({"w": 2 * 1.5, "b": math.cos(0.3)})
    out, pullback = s2sad.vjp(gp, p, 1.5)
    assert out == pytest.approx(gp(p, 1.5))
    assert pullback({"w": 1.0, "b": 0.0})[1] == pytest.approx(2 * 1.5)


def test_a_cotangent_not_structured_like_the_result_is_refused():
    _, pullback = s2sad.vjp(s2sad.grad(_two, wrt=(0, 1)), 1.5, 0.5)
    with pytest.raises(s2sad.TypeMismatch, match="the cotangent must be a tuple of 2, as the "
                       "result is; got a float"):
        pullback(1.0)
    _, pullback = s2sad.vjp(s2sad.value_and_grad(_two, wrt=(0, 1)), 1.5, 0.5)
    with pytest.raises(s2sad.TypeMismatch, match="tuple of 2, as the result is; got a tuple "
                       "of 3"):
        pullback((1.0, 2.0, 3.0))
    with pytest.raises(s2sad.TypeMismatch, match=r"the cotangent\[1\]\[0\] must be a float, "
                       r"as the result\[1\]\[0\] is; got an array of shape \(2,\)"):
        pullback((1.0, (np.ones(2), 1.0)))


def _cubic(x, y):
    return x ** 3 * y + np.sin(y) * x


@pytest.mark.parametrize("make", [
    lambda: s2sad.hessian(_cubic),
    lambda: s2sad.hessian(_cubic, wrt=(0, 1)),
    lambda: s2sad.jacobian(_cubic, wrt=(0, 1)),
    lambda: s2sad.jacobian(s2sad.grad(_cubic)),
])
def test_jvp_and_vjp_of_hessians_and_jacobians(make):
    from s2sad.check import _flat
    made = make()
    args, dirs = (1.5, 0.5), (0.7, -0.3)
    out, dot = s2sad.jvp(made, args, dirs)
    for got, want in zip(_flat(out), _flat(made(*args))):
        assert got == pytest.approx(want)
    for got, want in zip(_flat(dot), _fd(made, args, dirs)):
        assert got == pytest.approx(want, rel=1e-5, abs=1e-6)
    s2sad.check_grads(made, *args)


def test_jvp_of_an_hvp_is_refused_with_a_hint():
    with pytest.raises(s2sad.TypeMismatch, match=r"jvp of _cubic_hvp \(an hvp"):
        s2sad.jvp(s2sad.hvp(_cubic), (1.5, 0.5, 1.0), (1.0, 0.0, 0.0))
    with pytest.raises(s2sad.TypeMismatch, match=r"vjp of _cubic_hvp \(an hvp"):
        s2sad.vjp(s2sad.hvp(_cubic), 1.5, 0.5, 1.0)
