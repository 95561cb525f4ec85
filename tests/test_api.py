"""The public API: values, wrt handling, the cache, closures and globals, determinism."""

from __future__ import annotations

import functools
import importlib.util
import inspect
import linecache
import math
import os
import subprocess
import sys
import textwrap
import traceback

import numpy as np
import pytest

import s2sad
from s2sad.api import stats


def f(x, y):
    return x * x * y + y + 2


def g(x1, x2):
    return math.log(x1) + x1 * x2 - math.sin(x2)


def test_lecture_gradients():
    assert s2sad.grad(f, wrt=(0, 1))(3.0, 4.0) == (24.0, 10.0)
    gx1, gx2 = s2sad.grad(g, wrt=(0, 1))(2.0, 5.0)
    assert gx1 == pytest.approx(5.5, abs=1e-12)
    assert gx2 == pytest.approx(2.0 - math.cos(5.0), abs=1e-12)
    assert round(gx2, 4) == 1.7163


def test_lecture_forward_mode():
    out, out_dot = s2sad.jvp(g, (2.0, 5.0), (1.0, 0.0))
    assert out == pytest.approx(g(2.0, 5.0))
    assert out_dot == pytest.approx(5.5)
    _, y_dot = s2sad.jvp(f, (3.0, 4.0), (0.0, 1.0))
    assert y_dot == pytest.approx(10.0)


def test_value_and_grad_and_vjp():
    value, grads = s2sad.value_and_grad(f, wrt=(0, 1))(3.0, 4.0)
    assert value == f(3.0, 4.0) and grads == (24.0, 10.0)
    value, gx = s2sad.value_and_grad(f)(3.0, 4.0)
    assert (value, gx) == (42.0, 24.0)
    out, vjp_fn = s2sad.vjp(f, 3.0, 4.0)
    assert out == 42.0
    assert vjp_fn(2.0) == (48.0, 20.0)


def test_wrt_forms():
    assert s2sad.grad(f)(3.0, 4.0) == 24.0
    assert s2sad.grad(f, wrt=1)(3.0, 4.0) == 10.0
    assert s2sad.grad(f, wrt="y")(3.0, 4.0) == 10.0
    assert s2sad.grad(f, wrt=("y", "x"))(3.0, 4.0) == (10.0, 24.0)
    assert s2sad.grad(f, wrt=-1)(3.0, 4.0) == 10.0
    assert s2sad.grad(f, wrt=(0,))(3.0, 4.0) == (24.0,)


def test_decorator_forms():
    @s2sad.grad
    def h(x):
        return x ** 3

    @s2sad.grad(wrt=(0, 1))
    def k(x, y):
        return x * y

    assert h(2.0) == pytest.approx(12.0)
    assert k(2.0, 5.0) == (5.0, 2.0)


def test_keywords_and_defaults():
    def h(x, scale=3.0, power=2):
        return scale * x ** power

    dh = s2sad.grad(h)
    assert dh(2.0) == pytest.approx(12.0)
    assert dh(2.0, power=3) == pytest.approx(36.0)
    assert dh(x=2.0, scale=1.0) == pytest.approx(4.0)


def test_int_arguments_are_not_differentiated_but_usable():
    def h(x, n):
        return x ** n + n * x
    assert s2sad.grad(h)(2.0, 3) == pytest.approx(15.0)


def test_cache_reuses_and_specialises():
    def h(x, y):
        return np.sum(x * y)

    dh = s2sad.grad(h)
    before = stats["compiles"]
    dh(2.0, 3.0)
    dh(5.0, 7.0)
    assert stats["compiles"] == before + 1          # same signature: generated once
    dh(np.ones(3), 2.0)
    dh(np.zeros(3), 5.0)
    assert stats["compiles"] == before + 2          # arrays: one more specialisation
    np.testing.assert_allclose(dh(np.ones((2, 3)), np.arange(3.0)), np.tile(np.arange(3.0), (2, 1)))
    assert stats["compiles"] == before + 3          # another rank
    s2sad.grad(h)(1.0, 1.0)
    assert stats["compiles"] == before + 3          # a new wrapper shares the cache


def _load(tmp_path, name, source):
    path = tmp_path / f"{name}.py"
    path.write_text(textwrap.dedent(source))
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_redefinition_invalidates(tmp_path):
    m1 = _load(tmp_path, "model_v1", "def loss(x):\n    return x * x\n")
    assert s2sad.grad(m1.loss)(3.0) == 6.0
    m2 = _load(tmp_path, "model_v2", "def loss(x):\n    return x * x * x\n")
    assert s2sad.grad(m2.loss)(3.0) == 27.0
    assert s2sad.grad(m1.loss)(3.0) == 6.0


W = 2.0


def uses_global(x):
    return np.sum(W * x)


def test_module_globals_are_read_live_and_guarded():
    global W
    d = s2sad.grad(uses_global)
    np.testing.assert_allclose(d(np.ones(3)), [2.0, 2.0, 2.0])
    W = 5.0
    np.testing.assert_allclose(d(np.ones(3)), [5.0, 5.0, 5.0])
    W = np.array([1.0, 2.0, 3.0])  # a float became an array: the code is generated again
    np.testing.assert_allclose(d(np.ones(3)), [1.0, 2.0, 3.0])
    W = 2.0


def test_closures_over_arrays_and_constants():
    weights = np.array([1.0, -2.0, 3.0])
    scale = 0.5

    def loss(x):
        return scale * np.sum(weights * x ** 2)

    d = s2sad.grad(loss)
    np.testing.assert_allclose(d(np.ones(3)), [1.0, -2.0, 3.0])
    weights = np.array([1.0, 1.0, 1.0])  # noqa: F841 - the closure cell is read live
    np.testing.assert_allclose(d(np.ones(3)), [1.0, 1.0, 1.0])


def test_helper_functions_and_lambdas():
    square = lambda t: t * t  # noqa: E731

    def loss(x):
        return square(x) + helper(x)

    assert s2sad.grad(loss)(3.0) == pytest.approx(6.0 + 3.0 * 9.0)


def helper(x):
    return x ** 3


# A name bound to a value that already has a name (a helper's parameter holds the caller's
# temporary): naming the value after the copy must not leave the first name reading nothing.
def _copies_unused(b):
    u = b  # noqa: F841 - the copy nobody reads
    return b


def _copies_chain(b):
    u = b
    v = u
    return b * v


def _copies_tuple(b):
    u, w = b, b
    return b + u * w


def _copies_in_loop(b):
    s = b * 0.0
    for _ in range(3):
        u = b  # noqa: F841
        s = s + b
    return s


def _returns_two(b):
    return b, b


def copy_unused(x):
    return np.sum(_copies_unused(x * 2.0))


def copy_of_argument(x):
    return np.sum(_copies_unused(x) * 3.0)


def copy_of_call_results(x):
    return np.sum(_copies_unused(_copies_unused(x * 3.0)) * _copies_chain(np.sin(x)))


def copy_variants(x):
    t = x * 2.0
    a = b = x * 3.0
    return np.sum(_copies_tuple(_returns_two(x * 2.0)[0]) + _copies_in_loop(x * 1.5)
                  + a * b + t + _copies_chain(np.cos(x)))


def copy_in_main(x):
    y = np.sin(x) * 2.0
    u = y
    v = u
    w, z = v, y
    return np.sum(w * z + u)


@pytest.mark.parametrize("fn", [copy_unused, copy_of_argument, copy_of_call_results,
                                copy_variants, copy_in_main])
@pytest.mark.parametrize("x", [0.4, np.array([0.3, -0.7])], ids=["float", "array"])
def test_copies_of_a_named_value(fn, x):
    s2sad.check_grads(fn, x)


def where_reads_a_written_buffer(x):
    buf = x * 1.0
    buf[1] = 0.0
    return np.sum(np.where(x > 0.3, buf, x) + buf)


def where_reads_a_filled_buffer(x):
    buf = np.zeros(3)
    for i in range(3):
        buf[i] = x[i] ** 2
    return np.sum(np.where(buf > 0.1, buf, 0.0) * x)


@pytest.mark.parametrize("fn", [where_reads_a_written_buffer, where_reads_a_filled_buffer])
def test_a_written_buffer_read_by_where(fn):
    # the adjoint of the write is written in place into an adjoint folded into an expression
    s2sad.check_grads(fn, np.array([0.2, 0.5, 0.9]))


def test_an_unused_copy_in_a_helper_keeps_the_gradient():
    assert s2sad.grad(copy_unused)(0.4) == 2.0
    assert s2sad.jvp(copy_unused, (0.4,), (1.0,)) == (0.8, 2.0)
    assert "return 2.0" in s2sad.emit(copy_unused)


def test_stop_gradient():
    def h(x):
        return x * s2sad.stop_gradient(x)
    assert s2sad.grad(h)(3.0) == 3.0


def test_float_code_is_plain_arithmetic():
    src = s2sad.emit(f, wrt=(0, 1))
    assert "np." not in src and "unbroadcast" not in src and "zeros" not in src
    assert "math." not in src
    src = s2sad.emit(g, wrt=(0, 1))
    assert "np." not in src and "math.cos(x2)" in src


def test_inactive_values_are_not_differentiated():
    src = s2sad.emit(f, wrt=0)
    assert "y_bar" not in src
    src = s2sad.emit(f, mode="forward", wrt=1)
    assert "x_dot" not in src and "y_dot" in src


def test_identities_are_simplified():
    def h(x, y):
        return x * 1.0 + 0.0 + y - 0.0
    src = s2sad.emit(h, wrt=(0, 1))
    assert "* 1.0" not in src and "+ 0.0" not in src and "- 0.0" not in src


def test_generated_code_is_in_linecache_and_tracebacks():
    def h(x):
        return math.log(x)
    dh = s2sad.grad(h)
    dh(2.0)
    filename = dh.__code__.co_filename
    assert filename.startswith("<s2sad-generated")
    assert "def h_grad" in "".join(linecache.getlines(filename))
    with pytest.raises(ZeroDivisionError) as info:
        dh(0.0)
    text = "".join(traceback.format_exception(info.value))
    assert "1.0 / x" in text


def test_emit_is_deterministic_across_processes():
    a = s2sad.emit(g, wrt=(0, 1))
    assert a == s2sad.emit(g, wrt=(0, 1))
    code = ("import sys; sys.path.insert(0, {tests!r}); import test_api, s2sad; "
            "print(s2sad.emit(test_api.g, wrt=(0, 1)), end='')").format(
                tests=os.path.dirname(__file__))
    outs = set()
    for seed in ("0", "12345"):
        env = dict(os.environ, PYTHONHASHSEED=seed)
        outs.add(subprocess.run([sys.executable, "-c", code], env=env, check=True,
                                capture_output=True, text=True).stdout)
    assert outs == {a}


def test_emit_without_arguments_assumes_floats_and_array_emit():
    assert "def f_grad(x, y):" in s2sad.emit(f)
    src = s2sad.emit(lambda_free_sum, np.ones((2, 3)), np.ones(3))
    assert "np.sum(" in src


def lambda_free_sum(x, b):
    return np.sum(x + b)


def test_wengert_lists_one_primitive_per_line():
    import inspect
    line = inspect.getsourcelines(f)[1] + 1
    text = s2sad.wengert(f)
    assert text.splitlines()[1:] == [
        "v-1 = x             # float",
        "v0 = y              # float",
        f"v1 = mul(v-1, v-1)  # L{line}: return x * x * y + y + 2",
        "v2 = mul(v1, v0)",
        "v3 = add(v2, v0)",
        "v4 = add(v3, 2)",
        "return v4",
    ]


def test_emit_renders_in_jupyter_and_maps_lines():
    src = s2sad.emit(g, wrt=(0, 1))
    assert isinstance(src, str)
    html_text = src._repr_html_()
    assert "g_grad" in html_text and ("<pre" in html_text or "<div" in html_text)
    line = inspect.getsourcelines(g)[1] + 1
    mapping = s2sad.source_map(g, wrt=(0, 1))
    body = [n for n, text in enumerate(src.splitlines(), 1) if "_bar =" in text]
    assert body and all(mapping[n] == line for n in body)


def test_pdb_steps_into_generated_code():
    import pdb
    import io
    dg = s2sad.grad(g, wrt=(0, 1))
    dg(2.0, 5.0)
    commands = io.StringIO("step\nlist\ncontinue\n")
    out = io.StringIO()
    debugger = pdb.Pdb(stdin=commands, stdout=out)
    debugger.use_rawinput = False
    debugger.runcall(dg, 2.0, 5.0)
    assert "x1_bar" in out.getvalue() or "def g_grad" in out.getvalue()


SQUARE = True
ACTIVATION = "tanh"


def flagged(x):
    if SQUARE:
        y = x ** 2
    else:
        y = 3.0 * x
    return np.tanh(y) if ACTIVATION == "tanh" else y


def test_flags_and_options_in_globals_are_read_on_every_call():
    global SQUARE, ACTIVATION
    g = s2sad.grad(flagged)
    try:
        assert g(0.5) == pytest.approx(2 * 0.5 / np.cosh(0.25) ** 2)
        SQUARE = False
        assert g(0.5) == pytest.approx(3.0 / np.cosh(1.5) ** 2)
        ACTIVATION = "none"
        assert g(0.5) == pytest.approx(3.0)
        assert s2sad.grad(flagged)(0.5) == pytest.approx(3.0)
        assert s2sad.jvp(flagged, (0.5,), (1.0,))[1] == pytest.approx(3.0)
        SQUARE = True
        assert g(0.5) == pytest.approx(1.0)
        assert s2sad.hessian(flagged)(0.5) == pytest.approx(2.0)
    finally:
        SQUARE, ACTIVATION = True, "tanh"


def _square(x):
    return x * x


def _cube(x):
    return x * x * x


def _penalty_of(f):
    g = s2sad.grad(f)

    def pen(x):
        return g(x) * 2.0
    return pen


def test_a_new_closure_never_gets_the_code_of_a_dead_one():
    # the cache names closure cells by id; a collected closure's ids are free for reuse
    import gc
    for k in range(40):
        f = _square if k % 2 == 0 else _cube
        got = s2sad.grad(_penalty_of(f))(1.5)
        assert got == pytest.approx(4.0 if f is _square else 18.0)  # 2 f''(1.5)
        gc.collect()


def _double(x):
    return 2.0 * x


ACT = np.tanh
HELPER = _double


def uses_global_functions(x):
    return np.sum(ACT(HELPER(x)))


def test_rebinding_a_global_function_remakes_the_code():
    global ACT, HELPER
    x = np.array([0.3, -0.4])
    g = s2sad.grad(uses_global_functions)
    try:
        np.testing.assert_allclose(g(x), 2.0 / np.cosh(2 * x) ** 2)
        ACT = np.sin
        np.testing.assert_allclose(g(x), 2.0 * np.cos(2 * x))
        HELPER = _square
        np.testing.assert_allclose(g(x), 2 * x * np.cos(x * x))
    finally:
        ACT, HELPER = np.tanh, _double


def test_the_fast_path_checks_global_helpers_inline():
    global HELPER
    g = s2sad.grad(lambda x: HELPER(x) * 3.0)
    assert g(1.5) == 6.0 and g(1.5) == 6.0  # the second call runs the swapped entry code
    assert "id(HELPER) !=" in inspect.getsource(g) or "HELPER" in g.__code__.co_names
    try:
        HELPER = _square
        assert g(1.5) == pytest.approx(9.0)
    finally:
        HELPER = _double
    assert g(1.5) == 6.0


# ------------------------------------------------------------ the cache keys on identity
# Code objects of the same source compare equal across modules (their globals are not part
# of equality), so a cache keyed on them would hand one module's derivative to the other.


def _both_ways(m, x, want_grad, want_second):
    """Every transform of m.f at x, against the derivatives expected of m's own f."""
    assert s2sad.grad(m.f)(x) == pytest.approx(want_grad)
    assert s2sad.value_and_grad(m.f)(x) == pytest.approx((m.f(x), want_grad))
    assert s2sad.jvp(m.f, (x,), (1.0,)) == pytest.approx((m.f(x), want_grad))
    assert s2sad.vjp(m.f, x)[1](1.0) == pytest.approx((want_grad,))
    assert s2sad.hessian(m.f)(x) == pytest.approx(want_second)
    assert s2sad.hvp(m.f)(x, 2.0) == pytest.approx(2.0 * want_second)
    xs = np.array([x, x])
    np.testing.assert_allclose(s2sad.jacobian(m.f)(xs), np.diag([want_grad] * 2))
    np.testing.assert_allclose(s2sad.jacobian(m.f, mode="reverse")(xs), np.diag([want_grad] * 2))
    np.testing.assert_allclose(s2sad.grad(lambda v: np.sum(m.f(v)))(xs), [want_grad] * 2)
    s2sad.check_grads(m.f, x)
    s2sad.check_grads(m.f, xs)


def test_equal_code_in_two_modules_with_other_globals(tmp_path):
    source = "K = {k}\n\n\ndef f(x):\n    return K * x * x\n"
    a = _load(tmp_path, "same_code_a", source.format(k=2.0))
    b = _load(tmp_path, "same_code_b", source.format(k=3.0))
    assert a.f.__code__ == b.f.__code__  # the trap: equal, but not the same function
    for _ in range(2):  # and again, from the cache (the fast path too)
        _both_ways(a, 1.5, 2 * 2.0 * 1.5, 2 * 2.0)
        _both_ways(b, 1.5, 2 * 3.0 * 1.5, 2 * 3.0)


def test_equal_code_in_two_modules_with_other_helpers(tmp_path):
    a = _load(tmp_path, "same_helper_a", "def helper(t):\n    return t * t\n\n\n"
                                         "def f(x):\n    return helper(x)\n")
    b = _load(tmp_path, "same_helper_b", "def helper(t):\n    return t * t * t\n\n\n"
                                         "def f(x):\n    return helper(x)\n")
    assert a.f.__code__ == b.f.__code__
    for _ in range(2):
        _both_ways(a, 2.0, 4.0, 2.0)
        _both_ways(b, 2.0, 12.0, 12.0)
    assert "t * t * t" not in s2sad.emit(a.f) and s2sad.emit(a.f) != s2sad.emit(b.f)


def test_one_source_executed_into_two_namespaces(tmp_path):
    path = tmp_path / "shared_source.py"
    path.write_text("def f(x):\n    return np.sin(SCALE * x)\n")
    code = compile(path.read_text(), str(path), "exec")
    made = []
    for scale in (2.0, 5.0):
        namespace = {"np": np, "SCALE": scale}
        exec(code, namespace)  # noqa: S102
        made.append((namespace["f"], scale))
    for _ in range(2):
        for fn, scale in made:
            x = np.array([0.3, -0.7])
            np.testing.assert_allclose(s2sad.grad(lambda v: np.sum(fn(v)))(x),
                                       scale * np.cos(scale * x))
            assert s2sad.grad(fn)(0.3) == pytest.approx(scale * math.cos(scale * 0.3))


def test_a_function_redefined_in_a_notebook_cell():
    # IPython gives each cell its own linecache entry; the namespace stays the same
    namespace = {"np": np}
    for cell, (body, slope) in enumerate((("x * x", 6.0), ("x * x * x", 27.0),
                                          ("x * x", 6.0))):
        filename = f"<ipython-input-{cell}-s2sad>"
        text = f"def loss(x):\n    return {body}\n"
        linecache.cache[filename] = (len(text), None, text.splitlines(True), filename)
        exec(compile(text, filename, "exec"), namespace)  # noqa: S102
        loss = namespace["loss"]
        assert s2sad.grad(loss)(3.0) == pytest.approx(slope)
        assert s2sad.grad(lambda v: np.sum(loss(v)))(np.array([3.0])) == pytest.approx([slope])


def test_closures_of_one_factory_each_get_their_own_derivative():
    import gc

    def make(k):
        def f(x):
            return k * x * x
        return f
    for k in range(30):
        f = make(float(k))
        assert s2sad.grad(f)(1.5) == pytest.approx(3.0 * k)
        assert s2sad.jvp(f, (1.5,), (1.0,))[1] == pytest.approx(3.0 * k)
        del f
        gc.collect()


def test_a_replaced_code_object_is_differentiated_anew():
    def h(x):
        return x * x

    def other(x):
        return x * x * x
    assert s2sad.grad(lambda v: np.sum(h(v)))(np.array([2.0])) == pytest.approx([4.0])
    h.__code__ = other.__code__
    assert s2sad.grad(lambda v: np.sum(h(v)))(np.array([2.0])) == pytest.approx([12.0])
    assert s2sad.grad(h)(2.0) == pytest.approx(12.0)


def test_the_cache_is_bounded_least_recently_used_first():
    from s2sad.api import _CACHE

    def make(k):
        def f(x):
            return k * x * x
        return f
    keep = s2sad.config.cache_size
    s2sad.config.cache_size = 8
    try:
        hot = make(7.0)
        before = stats["evictions"]
        for k in range(40):
            assert s2sad.grad(make(float(k)))(1.0) == pytest.approx(2.0 * k)
            assert s2sad.grad(hot)(1.0) == 14.0  # used every time: never the one evicted
            assert len(_CACHE) <= 8
        assert stats["evictions"] > before
        compiles = stats["compiles"]
        assert s2sad.jvp(hot, (np.ones(2),), (np.ones(2),))[1] == pytest.approx([14.0, 14.0])
        assert s2sad.jvp(hot, (np.ones(2),), (np.ones(2),))[1] == pytest.approx([14.0, 14.0])
        assert stats["compiles"] == compiles + 1
    finally:
        s2sad.config.cache_size = keep


def test_a_derivative_follows_its_function_when_code_or_defaults_are_replaced():
    # IPython's autoreload edits functions in place: __code__ and __defaults__ replaced
    def h(x, y=2.0):
        return x * x * y

    def h_new(x, y=2.0):
        return x * x * x * y
    dh = s2sad.grad(h)
    for _ in range(2):  # the general path, then the entry's specialised fast path
        assert dh(1.5) == pytest.approx(2 * 1.5 * 2.0)
        assert dh(1.5, 3.0) == pytest.approx(2 * 1.5 * 3.0)
    h.__defaults__ = (5.0,)
    assert inspect.signature(dh).parameters["y"].default.__repr__() == "5.0"
    for _ in range(2):
        assert dh(1.5) == pytest.approx(2 * 1.5 * 5.0)
        assert dh(1.5, 3.0) == pytest.approx(2 * 1.5 * 3.0)
    h.__code__ = h_new.__code__
    for _ in range(2):
        assert dh(1.5, 3.0) == pytest.approx(3 * 1.5 ** 2 * 3.0)
        assert dh(1.5) == pytest.approx(3 * 1.5 ** 2 * 5.0)
        np.testing.assert_allclose(s2sad.jvp(dh, (1.5, 3.0), (1.0, 0.0))[1], 6 * 1.5 * 3.0)
    h.__defaults__ = None
    with pytest.raises(TypeError, match=r"h_grad\(\) missing 1 required positional argument: "
                       "'y'"):
        dh(1.5)
    assert dh(1.5, 1.0) == pytest.approx(3 * 1.5 ** 2)

    def h_other(x, z=1.0):
        return x * z
    h.__code__ = h_other.__code__
    with pytest.raises(s2sad.TypeMismatch, match="replaced by one with other parameters"):
        dh(1.5, 1.0)


def _scaled(fn):
    @functools.wraps(fn)
    def wrapper(x):
        return 3.0 * fn(x)
    return wrapper


def _logged(fn):
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        return fn(*args, **kwargs)
    return wrapper


def test_a_functools_wraps_wrapper_is_differentiated_not_skipped():
    def sq(x):
        return x * x
    scaled = _scaled(sq)
    assert s2sad.grad(scaled)(2.0) == pytest.approx(12.0)  # the wrapper's 3.0 counts
    assert s2sad.vjp(scaled, 2.0)[0] == pytest.approx(12.0)
    assert s2sad.jvp(scaled, (2.0,), (1.0,)) == pytest.approx((12.0, 12.0))
    assert "3.0" in s2sad.emit(scaled)
    s2sad.check_grads(scaled, 2.0)
    cached = functools.lru_cache(sq)  # a cache returns what the function returns
    assert s2sad.grad(cached)(2.0) == pytest.approx(4.0)
    with pytest.raises(s2sad.UnsupportedSyntax, match=r"`\*args` and `\*\*kwargs`") as info:
        s2sad.grad(_logged(sq))
    assert "__wrapped__" in str(info.value)


def _layers(x, acts):
    y = x
    for a in acts:
        y = y * y if a == "sq" else 3.0 * y
    return y


def test_an_option_list_changed_in_place_gets_code_of_its_own():
    acts = ["sq", "lin"]
    g = s2sad.grad(_layers)
    assert g(2.0, acts) == pytest.approx(6 * 2.0)             # 3 x^2
    acts[1] = "sq"
    assert g(2.0, acts) == pytest.approx(4 * 2.0 ** 3)        # x^4
    acts.append("lin")
    assert g(2.0, acts) == pytest.approx(12 * 2.0 ** 3)       # 3 x^4
    assert s2sad.api._frozen(("sq", 1)) != s2sad.api._frozen(("sq", 1.0))  # 1 == 1.0


def _packed_in_a_loop(x):
    v = x
    for j in range(3):
        v = np.stack([np.array([np.mean(x), j, j])])  # float32 and ints: a float64 array
    return np.sum(v * x)


def _promoted_by_a_float64(x):
    return np.sum(np.maximum(-np.where(True, 1.0, 1.0), x + x))


@pytest.mark.parametrize("fn", [_packed_in_a_loop, _promoted_by_a_float64])
def test_a_float32_argument_gets_a_float32_gradient_where_f_promotes_to_float64(fn):
    x = np.array([[0.5, -2.0, 1.5]], np.float32)
    # NumPy 2 promotes f to float64 (NumPy 1.26 keeps float32 for the second one); the
    # gradient keeps the argument's dtype either way
    g = s2sad.grad(fn)(x)
    assert g.dtype == np.float32 and g.shape == x.shape
    x64 = x.astype(np.float64)
    h = 1e-6
    fd = [(fn(x64 + h * e) - fn(x64 - h * e)) / (2 * h) for e in np.eye(3).reshape(3, 1, 3)]
    np.testing.assert_allclose(g.ravel(), fd, rtol=1e-4, atol=1e-5)
