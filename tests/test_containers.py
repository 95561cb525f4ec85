"""Containers as arguments: dicts of parameters, lists, tuples, namedtuples, dataclasses;
and lists the function grows at run time (``xs.append(x)`` in a loop whose trip count is known
only then).

The generated code takes one parameter per leaf; the gradient has the structure and type of
its argument.  Checked in both modes and against central differences.  The primitives on
lists grown at run time are tested here (not in the rule table, whose arguments are arrays).
"""

from __future__ import annotations

from collections import namedtuple
from dataclasses import dataclass

import numpy as np
import pytest

import s2sad
from golden_cases import grown_list

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


# ------------------------------------------------------------------ lists grown at run time


stack_then_index = grown_list  # the golden file's example: stack, then index the last item


def float_items(x, n):
    xs = []
    for i in range(n):
        xs.append(x * i + np.sin(x))
    return sum(xs) + x


def starts_with_an_item(x, n):
    xs = [x]
    for i in range(n):
        x = x * 0.9 + 0.1
        xs.append(x * x)
    return np.mean(np.array(xs)) * len(xs)


def recurrence(x, n):
    xs = [x]
    for i in range(n):
        xs.append(np.tanh(xs[-1] * 1.3 + 0.2))
    return np.sum(xs[-1] * xs[0]) + np.sum(xs[len(xs) // 2])


def while_items(x):
    xs = []
    while x < 5.0:
        x = x * 1.5 + 0.1
        xs.append(x)
    total = 0.0
    for y in xs:
        total = total + y * y
    return total


def kept_rows(X, w):
    rows = []
    for row in X:
        if np.sum(row) > 0.0:
            rows.append(row * w)
    if len(rows) == 0:
        return np.sum(w)
    return np.sum(np.stack(rows) ** 2)


def run_time_index(x, n, k):
    xs = []
    for i in range(n):
        xs.append(x ** (i + 1))
    return xs[k] * 2.0 + xs[-1 - k]


def nested_appends(x, n):
    xs = []
    for i in range(n):
        for j in range(i):
            xs.append(x * (i + j))
    return sum(xs) + 1.0


def two_lists(x, n):
    xs, ys = [], []
    for i in range(n):
        x = x * 1.1
        xs.append(x)
        ys.append(x * x)
    s = 0.0
    for i in range(len(xs)):
        s = s + xs[i] * ys[-1 - i]
    return s


def sum_of_squares(xs):
    return np.sum(np.stack(xs) ** 2)


def reads_in_a_helper(x, n):
    xs = []
    for i in range(n):
        xs.append(x * i)
    return sum_of_squares(xs)


def appends_after_the_loop(x, n):
    xs = [x]
    for i in range(n):
        xs.append(x * (i + 2))
    y = xs[-1]
    xs.append(y * 3.0)
    return y + xs[-1]


def stops_early(x, n):
    xs = []
    for i in range(n):
        x = x * 1.2
        if x > 3.0:
            break
        xs.append(x)
    return np.sum(np.array(xs)) + x


def numpy_of_a_list(x, n):
    xs = [x]
    for i in range(n):
        xs.append(np.cos(xs[-1]))
    return np.sum(xs) + np.mean(xs, axis=0)[1]


def appends_copies_of_a_buffer(x, n):
    xs = []
    h = np.zeros(2)
    for t in range(n):
        h[0] = x * t  # written in place each trip: the list holds copies
        h[1] = np.sin(x) * t
        xs.append(h.copy())
    return np.sum(np.stack(xs) ** 2)


V2 = np.array([0.2, -0.4])
V3 = np.array([0.3, 0.5, 0.7])
ROWS = np.array([[0.5, -0.1], [-1.0, 0.2], [0.3, 0.3]])
LIST_CASES = [
    (stack_then_index, (V3, 4)),
    (stack_then_index, (V3, 1)),
    (float_items, (0.7, 5)),
    (float_items, (0.7, 0)),                 # no trip: sum([]) is 0
    (starts_with_an_item, (0.7, 3)),
    (starts_with_an_item, (V2, 0)),
    (recurrence, (V2, 5)),
    (recurrence, (V2, 0)),
    (while_items, (1.0,)),
    (while_items, (6.0,)),                  # no trip
    (kept_rows, (ROWS, np.array([1.5, 0.5]))),
    (kept_rows, (ROWS[1:2], np.array([1.5, 0.5]))),   # no row kept
    (run_time_index, (1.1, 4, 1)),
    (run_time_index, (1.1, 4, -2)),
    (nested_appends, (0.7, 4)),
    (two_lists, (0.8, 4)),
    (reads_in_a_helper, (V2, 3)),
    (appends_after_the_loop, (0.8, 3)),
    (appends_after_the_loop, (0.8, 0)),
    (stops_early, (1.0, 10)),
    (stops_early, (1.0, 3)),
    (numpy_of_a_list, (V2, 3)),
    (appends_copies_of_a_buffer, (0.7, 3)),
]
LIST_IDS = [f"{f.__name__}-{i}" for i, (f, _) in enumerate(LIST_CASES)]


def _numeric(fn, args, i=0):
    x = np.asarray(args[i], dtype=float)
    out = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        def at(d, idx=idx):
            y = x.copy()
            y[idx] += d
            moved = list(args)
            moved[i] = float(y) if isinstance(args[i], float) else y
            return fn(*moved)
        out[idx] = (at(1e-6) - at(-1e-6)) / 2e-6
    return out


@pytest.mark.parametrize("fn,args", LIST_CASES, ids=LIST_IDS)
def test_run_time_lists_in_both_modes(fn, args):
    s2sad.check_grads(fn, *args, wrt=(0,))
    value, g = s2sad.value_and_grad(fn)(*args)
    assert value == pytest.approx(fn(*args), rel=1e-12, abs=1e-12)
    assert np.shape(g) == np.shape(args[0])
    np.testing.assert_allclose(g, _numeric(fn, args), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(s2sad.jacobian(fn, mode="forward")(*args), _numeric(fn, args),
                               rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("fn,args", [LIST_CASES[k] for k in (0, 2, 4, 6, 8, 10, 13, 15, 17, 19)],
                         ids=[LIST_IDS[k] for k in (0, 2, 4, 6, 8, 10, 13, 15, 17, 19)])
def test_run_time_lists_second_order(fn, args):
    s2sad.check_grads(fn, *args, wrt=(0,), order=2)


def test_run_time_list_hessian_against_differences_of_the_gradient():
    h = s2sad.hessian(stack_then_index)(V3, 4)
    numeric = np.stack([_numeric(lambda x, n, k=k: s2sad.grad(stack_then_index)(x, n)[k],
                                 (V3, 4)) for k in range(3)])
    np.testing.assert_allclose(h, numeric, rtol=1e-5, atol=1e-6)
    assert s2sad.hessian(float_items)(0.7, 0) == 0.0


def _penalty(fn):
    """A gradient penalty: reverse mode over reverse-mode code that pops list cotangents (the
    trip count an argument, so the lists are grown at run time there too)."""
    g = s2sad.grad(fn)

    def penalty(x, n):
        return np.sum(g(x, n) ** 2)

    def penalty_of_x(x):
        return np.sum(g(x) ** 2)
    made = penalty if fn.__code__.co_argcount == 2 else penalty_of_x
    _KEPT.append(made)  # s2sad caches by the ids of closure cells: keep them from being reused
    return made


_KEPT: list = []


@pytest.mark.parametrize("fn,args", [(stack_then_index, (V3, 4)), (float_items, (0.7, 5)),
                                     (recurrence, (V2, 5)), (while_items, (1.0,)),
                                     (appends_after_the_loop, (0.8, 3))],
                         ids=["stack", "sum", "recurrence", "while", "after"])
def test_gradient_of_a_gradient_through_a_list(fn, args):
    penalty = _penalty(fn)
    np.testing.assert_allclose(s2sad.grad(penalty)(*args), _numeric(penalty, args),
                               rtol=1e-5, atol=1e-6)


def test_every_rule_on_lists_runs(monkeypatch):
    from s2sad.rules import LIST_RULES, ListRules
    used = set()

    def spy(rule, tag):
        def run(*args, **params):
            used.add(tag)
            return rule(*args, **params)
        return run
    for name, rules in list(LIST_RULES.items()):
        monkeypatch.setitem(LIST_RULES, name, ListRules(spy(rules.jvp, (name, "jvp")),
                                                        spy(rules.vjp, (name, "vjp")),
                                                        rules.in_place))

    def f(x, n):  # a fresh function: nothing cached
        xs, ys = [x], []
        for i in range(n):
            xs.append(np.sin(xs[-1]) * 1.1)
            ys.append(xs[-1] * xs[-2])
        return np.sum(sum(xs)) + np.sum(np.stack(xs) ** 2) + np.sum(xs[-1] * xs[0]) + \
            np.sum(sum(ys))
    s2sad.check_grads(f, V2, 3, wrt=(0,), order=2)   # reverse, forward over reverse
    s2sad.check_grads(_penalty(f), V2, 3, wrt=(0,), order=2)  # reverse over reverse, and
    hvp = s2sad.hvp(f)                                        # forward over that

    def curvature(x, n):
        return np.sum(hvp(x, n, x) ** 2)
    s2sad.check_grads(curvature, V2, 3, wrt=(0,))  # both modes over forward over reverse
    assert used == {(name, mode) for name in LIST_RULES for mode in ("jvp", "vjp")}


def test_run_time_list_code_reads_as_written():
    src = s2sad.emit(stack_then_index, V3, 4)
    forward, backward = src.split("# backward sweep")
    assert "xs = []" in forward and "xs.append(x_1)" in forward
    assert "tape.append(x)" in forward  # the old x, for cos(x); never the list
    assert "xs_bar.pop()" in backward and "tape" not in backward.replace("tape.pop()", "")
    src = s2sad.emit(stack_then_index, V3, 4, mode="forward")
    assert "xs_dot = []" in src and "xs_dot.append(x_dot)" in src
    src = s2sad.emit(recurrence, V2, 5)
    assert "xs_bar[-1] = xs_bar[-1] +" in src


def test_lists_of_known_length_still_unroll():
    code = [line.strip() for line in s2sad.emit(appends, V2).splitlines()[1:]
            if not line.strip().startswith("#")]
    assert not any(line.startswith("for ") or ".append(" in line for line in code)


def test_append_to_an_alias_is_seen_by_both_names():
    def aliased(x):
        xs = [x]
        ys = xs
        ys.append(2.0 * x)
        return sum(xs)
    assert s2sad.grad(aliased)(1.0) == 3.0
