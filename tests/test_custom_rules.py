"""User rules (custom_adjoint, custom_tangent) and stop_gradient."""

from __future__ import annotations

import numpy as np
import pytest

import s2sad
from s2sad.rules import RuleError


def log1pexp(x):
    """A numerically stable log(1 + exp(x)), whose naive derivative overflows."""
    return np.log1p(np.exp(-np.abs(x))) + np.maximum(x, 0.0)


@s2sad.custom_adjoint(log1pexp)
def log1pexp_adjoint(g, ans, x):
    return g / (1.0 + np.exp(-x))


@s2sad.custom_tangent(log1pexp)
def log1pexp_tangent(t, ans, x):
    return t / (1.0 + np.exp(-x))


def scaled_dist(a, b):
    return np.sqrt(np.sum((a - b) ** 2))


s2sad.custom_adjoint(scaled_dist,
                     lambda g, ans, a, b: g * (a - b) / ans,
                     lambda g, ans, a, b: g * (b - a) / ans)
s2sad.custom_tangent(scaled_dist,
                     lambda t, ans, a, b: np.sum(t * (a - b)) / ans,
                     lambda t, ans, a, b: np.sum(t * (b - a)) / ans)


def loss_in_loop(w, X):
    s = 0.0
    for i in range(3):
        s = s + np.sum(log1pexp(X @ w * (i + 1)))
    return s


def uses_distance(a, b):
    return scaled_dist(a * 2.0, b) ** 2


rng = np.random.default_rng(2)


@pytest.mark.parametrize("fn,args", [
    (loss_in_loop, (rng.standard_normal(2), rng.standard_normal((3, 2)))),
    (uses_distance, (rng.standard_normal(3), rng.standard_normal(3))),
])
def test_custom_rules_in_both_modes(fn, args):
    s2sad.check_grads(fn, *args)


def test_rule_is_used_and_visible():
    w = np.array([0.3, -0.2])
    X = np.array([[1.0, 2.0], [300.0, -1.0], [-500.0, 3.0]])  # exp overflows without the rule
    g = s2sad.grad(loss_in_loop)(w, X)
    assert np.all(np.isfinite(g))
    sig = 1.0 / (1.0 + np.exp(-np.clip(X @ w, -50, 50)))
    np.testing.assert_allclose(g, X.T @ sig * 1 + X.T @ (1.0 / (1.0 + np.exp(-np.clip(
        2 * X @ w, -50, 50)))) * 2 + X.T @ (1.0 / (1.0 + np.exp(-np.clip(3 * X @ w, -50, 50)))) * 3)
    src = s2sad.emit(loss_in_loop, w, X)
    assert "log1pexp(" in src and "return g / (1.0 + np.exp(-x))" in src


def only_adjoint(x):
    return x * 3.0


s2sad.custom_adjoint(only_adjoint, lambda g, ans, x: g * 3.0)


def calls_only_adjoint(x):
    return only_adjoint(x) * x


def test_missing_tangent_rule_is_a_located_error():
    assert s2sad.grad(calls_only_adjoint)(2.0) == pytest.approx(12.0)
    with pytest.raises(s2sad.NoRuleError, match="no tangent rule") as info:
        s2sad.jvp(calls_only_adjoint, (2.0,), (1.0,))
    assert "custom_tangent(only_adjoint)" in str(info.value) and __file__ in str(info.value)
    assert "which forward mode needs" in str(info.value)


def test_bad_registrations():
    with pytest.raises(RuleError, match="takes 1 argument"):
        s2sad.custom_adjoint(log1pexp, lambda g, ans, x: g, lambda g, ans, x: g)
    with pytest.raises(RuleError, match="not callable"):
        s2sad.custom_adjoint(log1pexp, "g * sigmoid(x)")
    with pytest.raises(RuleError, match="positional parameter"):
        s2sad.custom_adjoint(scaled_dist, lambda g, a: g, lambda g, ans, a, b: g)
    with pytest.raises(RuleError, match="a function to attach to"):
        s2sad.custom_adjoint(3.0, lambda g, ans, x: g)


def test_stop_gradient():
    def f(x):
        return x * s2sad.stop_gradient(x * x)
    assert s2sad.grad(f)(3.0) == pytest.approx(9.0)
    assert s2sad.jvp(f, (3.0,), (1.0,))[1] == pytest.approx(9.0)


def halved(x):
    y = x * x
    with s2sad.grad_of(y) as g:
        g = g * 0.5
    return y * 3.0


def identity_hook(h, W, xs):
    for t in range(xs.shape[0]):
        h = np.tanh(W @ h + xs[t])
        with s2sad.grad_of(h) as g:
            g = g * 1.0
    return np.sum(h ** 2)


def no_hook(h, W, xs):
    for t in range(xs.shape[0]):
        h = np.tanh(W @ h + xs[t])
    return np.sum(h ** 2)


def clipped(h, W, xs):
    for t in range(xs.shape[0]):
        h = np.tanh(W @ h + xs[t])
        with s2sad.grad_of(h) as g:
            g = np.clip(g, -0.01, 0.01)
    return np.sum(h ** 2)


def test_backward_hook_changes_the_gradient_only():
    assert halved(2.0) == 12.0                       # the function runs as written
    assert s2sad.grad(halved)(2.0) == pytest.approx(6.0)   # instead of 12
    assert s2sad.jvp(halved, (2.0,), (1.0,))[1] == pytest.approx(12.0)  # forward: no hook


def test_hook_in_a_loop():
    h, W, xs = rng.standard_normal(2) * 0.5, rng.standard_normal((2, 2)), rng.standard_normal((4, 2))
    for a, b in zip(s2sad.grad(identity_hook, wrt=(0, 1))(h, W, xs),
                    s2sad.grad(no_hook, wrt=(0, 1))(h, W, xs)):
        np.testing.assert_allclose(a, b, rtol=1e-12)
    src = s2sad.emit(clipped, h, W, xs, wrt=(0, 1))
    backward = src.split("backward sweep")[1]
    assert "np.clip(h_bar, -0.01, 0.01)" in backward and "for t in reversed" in backward
    gh, gW = s2sad.grad(clipped, wrt=(0, 1))(h, W, xs)
    assert np.all(np.abs(gh) <= 0.01 * np.abs(W).sum() + 1e-12)  # W.T @ (clipped * tanh')


def test_print_hook_and_bad_hooks(capsys):
    def shows(x):
        y = x * 2.0
        with s2sad.grad_of(y) as g:
            print("y_bar:", g)
        return y * y
    assert s2sad.grad(shows)(1.5) == pytest.approx(12.0)
    assert "y_bar: 6.0" in capsys.readouterr().out

    def assigns_other(x):
        y = x * 2.0
        with s2sad.grad_of(y) as g:
            z = g
        return y
    with pytest.raises(s2sad.UnsupportedSyntax, match="a hook may only assign `g`"):
        s2sad.grad(assigns_other)(1.0)
