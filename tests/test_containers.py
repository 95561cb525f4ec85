"""Containers as arguments: dicts of parameters, lists, tuples, namedtuples, dataclasses.

The generated code takes one parameter per leaf; the gradient has the structure and type of
its argument.  Checked in both modes and against central differences.
"""

from __future__ import annotations

from collections import namedtuple
from dataclasses import dataclass

import numpy as np
import pytest

import s2sad

rng = np.random.default_rng(7)
Layer = namedtuple("Layer", "W b")


@dataclass
class Params:
    scale: float
    w: np.ndarray


def mlp(params, x, y):
    h = np.tanh(x @ params["W1"] + params["b1"])
    out = h @ params["W2"] + params["b2"]
    return np.mean((out - y) ** 2)


def deep(layers, x):
    for layer in layers:
        x = np.tanh(x @ layer.W + layer.b)
    return np.sum(x ** 2)


def weighted(p, ws):
    s = 0.0
    for i, w in enumerate(ws):
        s = s + w * i
    return p.scale * np.sum(p.w ** 2) + sum(ws) + len(ws) * s


def pairs(xs, ys):
    total = 0.0
    for x, y in zip(xs, ys):
        total = total + np.sum(x * y)
    return total


def dict_items(d):
    s = 0.0
    for k, v in d.items():
        s = s + np.sum(v) ** 2
    return s + sum(d.values()).sum()


def nested(tree, x):
    a, (b, c) = tree
    return np.sum(a * x) + b * c["k"]


PARAMS = {"W1": rng.standard_normal((3, 4)), "b1": rng.standard_normal(4),
          "W2": rng.standard_normal((4, 2)), "b2": rng.standard_normal(2)}
LAYERS = [Layer(rng.standard_normal((3, 3)) * 0.5, rng.standard_normal(3)) for _ in range(3)]
CASES = [
    (mlp, (PARAMS, rng.standard_normal((5, 3)), rng.standard_normal((5, 2)))),
    (deep, (LAYERS, rng.standard_normal((2, 3)))),
    (weighted, (Params(1.5, rng.standard_normal(3)), [0.3, -0.7, 1.1])),
    (pairs, ((rng.standard_normal(2), rng.standard_normal(3)),
             [rng.standard_normal(2), rng.standard_normal(3)])),
    (dict_items, ({"a": rng.standard_normal(2), "b": rng.standard_normal(2)},)),
    (nested, ((rng.standard_normal(3), (0.5, {"k": 1.5})), rng.standard_normal(3))),
]


@pytest.mark.parametrize("fn,args", CASES, ids=[c[0].__name__ for c in CASES])
def test_both_modes(fn, args):
    s2sad.check_grads(fn, *args)


@pytest.mark.parametrize("fn,args", CASES, ids=[c[0].__name__ for c in CASES])
def test_gradient_has_the_argument_structure(fn, args):
    g = s2sad.grad(fn)(*args)
    assert type(g) is type(args[0])
    spec = s2sad.api.arg_spec(args[0])
    leaves, g_leaves = spec.flatten(args[0]), spec.flatten(g)
    for i, (x, gx) in enumerate(zip(leaves, g_leaves)):
        assert np.shape(gx) == np.shape(x)
        flat = list(leaves)

        def at(d):
            y = np.array(x, dtype=float)
            y.flat[0] += d
            flat[i] = float(y) if isinstance(x, float) else y
            return fn(spec.unflatten(flat), *args[1:])
        numeric = (at(1e-6) - at(-1e-6)) / 2e-6
        assert np.ravel(gx)[0] == pytest.approx(numeric, rel=1e-5, abs=1e-6)


def test_types_are_kept():
    g = s2sad.grad(deep)(*CASES[1][1])
    assert isinstance(g, list) and all(type(layer) is Layer for layer in g)
    p = s2sad.grad(weighted)(*CASES[2][1])
    assert type(p) is Params and p.w.shape == (3,)
    assert s2sad.grad(weighted, wrt=1)(*CASES[2][1]) == pytest.approx([1.0, 4.0, 7.0])


def test_value_and_grad_and_vjp_with_containers():
    value, g = s2sad.value_and_grad(mlp)(*CASES[0][1])
    assert value == pytest.approx(mlp(*CASES[0][1]))
    assert set(g) == set(PARAMS)
    out, vjp_fn = s2sad.vjp(mlp, *CASES[0][1])
    gp, gx, gy = vjp_fn(2.0)
    for k in PARAMS:
        np.testing.assert_allclose(gp[k], 2.0 * g[k])


def test_generated_code_names_leaves_by_path():
    src = s2sad.emit(mlp, *CASES[0][1])
    assert "def mlp_grad(params_W1, params_b1, params_W2, params_b2, x, y):" in src
    assert "params_W1_bar = x.T @" in src


def test_errors_for_containers():
    def uses_key(d):
        return d["missing"] * 2.0
    with pytest.raises(s2sad.TypeMismatch, match="no entry 'missing'"):
        s2sad.grad(uses_key)({"a": 1.0})
    with pytest.raises(s2sad.NotDifferentiable, match="not floats"):
        s2sad.grad(nested)((np.ones(3), (1, {"k": 2})), np.ones(3))


def comprehensions(xs, d):
    squares = [x * x for x in xs]
    weighted = {k: v * 2.0 for k, v in d.items() if k != "skip"}
    pairs = sum(a * b for a, b in zip(xs, xs[1:]))
    table = {"first": squares[0], "rest": sum(squares[1:])}
    return np.sum(table["first"]) + np.sum(table["rest"]) + sum(weighted.values()) \
        + np.sum(pairs) + np.sum(sum([i * xs[i] for i in range(len(xs))]))


def test_comprehensions_and_dict_literals():
    xs = [rng.standard_normal(2) for _ in range(3)]
    d = {"a": 0.5, "b": -1.5, "skip": 3.0}
    s2sad.check_grads(comprehensions, xs, d)
    g = s2sad.grad(comprehensions, wrt=1)(xs, d)
    assert g == pytest.approx({"a": 2.0, "b": 2.0, "skip": 0.0})


def nested_helpers(x, w):
    def layer(h, scale=2.0):
        return np.tanh(h * w) * scale
    act = lambda z: z * z  # noqa: E731
    h = layer(x)
    h = layer(h, scale=0.5)
    return np.sum(act(h))


def appends(x):
    outs = []
    for i in range(3):
        outs.append(x * i)
    return np.sum(np.stack(outs) ** 2) + sum(outs).sum()


def star_args(params, x):
    def f(a, b):
        return a * x + b
    return np.sum(f(*params))


@pytest.mark.parametrize("fn,args", [
    (nested_helpers, (rng.standard_normal(2), 0.7)),
    (appends, (rng.standard_normal(2),)),
    (star_args, ((rng.standard_normal(2), rng.standard_normal(2)), rng.standard_normal(2))),
])
def test_nested_functions_appends_and_star_args(fn, args):
    s2sad.check_grads(fn, *args)


def test_append_in_a_run_time_loop_is_refused():
    def grows(x, n):
        outs = []
        for i in range(n):
            outs.append(x * i)
        return sum(outs)
    with pytest.raises(s2sad.UnsupportedSyntax, match="preallocated array"):
        s2sad.grad(grows)(1.0, 3)
