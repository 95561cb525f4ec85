"""Helpers from other modules and closures: the values they read are their own, read live.

Generated code runs with the globals of the user's function.  A helper it inlines may come
from another module with globals of the same names, or be a closure over its own cells;
the code must read what the helper reads (``helpers.K``, the helper's cell), as it is at each
call, and remake itself when a flag the helper reads changes.
"""

import importlib
import linecache
import math
import re
import sys
import textwrap

import numpy as np
import pytest

import s2sad
from s2sad.api import stats


@pytest.fixture
def modules(tmp_path, monkeypatch):
    """``modules(name=source, ...)``: write the modules to `tmp_path` and import them (in
    order); they leave sys.modules and sys.path after the test."""
    monkeypatch.syspath_prepend(str(tmp_path))
    made = []

    def make(**sources):
        for name, source in sources.items():
            (tmp_path / f"{name}.py").write_text(textwrap.dedent(source))
        importlib.invalidate_caches()
        made.extend(sources)
        return [importlib.import_module(name) for name in sources]
    yield make
    for name in made:
        sys.modules.pop(name, None)


def _fd(f, x, h=1e-6):
    return (f(x + h) - f(x - h)) / (2 * h)


def _every_way(f, x, want_grad, want_second=None):
    """grad (twice: the cached and specialised code), value_and_grad, jvp, vjp and the
    Hessian of f at x, against the expected values and finite differences."""
    assert want_grad == pytest.approx(_fd(f, x), rel=1e-6)
    g = s2sad.grad(f)
    assert g(x) == pytest.approx(want_grad, rel=1e-12)
    assert g(x) == pytest.approx(want_grad, rel=1e-12)
    assert s2sad.value_and_grad(f)(x) == pytest.approx((f(x), want_grad), rel=1e-12)
    assert s2sad.jvp(f, (x,), (1.0,)) == pytest.approx((f(x), want_grad), rel=1e-12)
    assert s2sad.vjp(f, x)[1](1.0) == pytest.approx((want_grad,), rel=1e-12)
    if want_second is not None:
        assert s2sad.hessian(f)(x) == pytest.approx(want_second, rel=1e-12)
    s2sad.check_grads(f, x)
    xs = np.array([x, -0.5 * x])
    s2sad.check_grads(lambda v: np.sum(f(v)), xs)


# ------------------------------------------------------- a helper's globals are its own


def test_globals_of_a_helper_module_do_not_clash_with_the_users(modules):
    (helpers, user) = modules(
        gm_clash_helpers="""\
            K = 3.0
            W = 5.0


            def h(x):
                return x * x * K * W
            """,
        gm_clash_user="""\
            import gm_clash_helpers
            K = 2.0


            def f(x):
                return gm_clash_helpers.h(x) * K
            """)
    x = 1.5
    _every_way(user.f, x, 2 * x * 3.0 * 5.0 * 2.0, 2 * 3.0 * 5.0 * 2.0)
    for mode in ("reverse", "forward"):
        text = s2sad.emit(user.f, x, mode=mode)
        assert "gm_clash_helpers.K" in text and "gm_clash_helpers.W" in text
        assert re.search(r"(?<![.\w])K\b", text)  # the user's own K, by its bare name


def test_a_helper_module_imported_under_another_name(modules):
    (deep, _, user) = modules(
        gm_alias_deep="K = 7.0\n\n\ndef k(x):\n    return x * K\n",
        gm_alias_helpers="import gm_alias_deep\nK = 3.0\n\n\n"
                         "def h(x):\n    return gm_alias_deep.k(x) * K\n",
        gm_alias_user="import gm_alias_helpers as hp\nK = 2.0\n\n\n"
                      "def f(x):\n    return hp.h(x) * x * K\n")
    _every_way(user.f, 1.25, 2 * 1.25 * 7.0 * 3.0 * 2.0, 2 * 7.0 * 3.0 * 2.0)
    text = s2sad.emit(user.f, 1.25)  # by the user's name for it, else by its own
    assert "hp.K" in text and "gm_alias_deep.K" in text
    g = s2sad.grad(user.f)
    deep.K = 5.0  # a module the user's does not import: read live all the same
    assert g(1.25) == pytest.approx(2 * 1.25 * 5.0 * 3.0 * 2.0)


def test_a_local_of_a_helper_does_not_take_the_name_of_a_global(modules):
    (user,) = modules(gm_local_user="""\
        K = 2.0


        def h(x):
            K = x * 3.0
            return K * K


        def f(x):
            return h(x) * K
        """)
    _every_way(user.f, 1.0, 2 * 9.0 * 1.0 * 2.0, 2 * 9.0 * 2.0)
    text = s2sad.emit(user.f, 1.0)
    assert "K_1 = x * 3.0" in text


# ------------------------------------------------------------- read live, and guarded


def test_globals_of_a_helper_module_are_read_live(modules):
    (helpers, user) = modules(
        gm_live_helpers="import numpy as np\nK = 3.0\nW = 5.0\n\n\n"
                        "def h(x):\n    return x * x * K * W\n",
        gm_live_user="import numpy as np\nimport gm_live_helpers\n\n\n"
                     "def f(x):\n    return np.sum(gm_live_helpers.h(x) * 2.0)\n")
    g = s2sad.grad(user.f)
    assert g(1.0) == pytest.approx(2 * 3.0 * 5.0 * 2.0)
    before = stats["compiles"]
    helpers.K = 4.0  # a number changed: read live, nothing remade
    assert g(1.0) == pytest.approx(2 * 4.0 * 5.0 * 2.0)
    assert s2sad.grad(user.f)(1.0) == pytest.approx(2 * 4.0 * 5.0 * 2.0)
    assert s2sad.jvp(user.f, (1.0,), (1.0,))[1] == pytest.approx(2 * 4.0 * 5.0 * 2.0)
    assert stats["compiles"] == before + 1  # (the jvp)
    helpers.K = np.array([1.0, -2.0])  # a number became an array: the code is remade
    assert g(1.5) == pytest.approx(_fd(user.f, 1.5), rel=1e-6)
    assert g(1.5) == pytest.approx(2 * 1.5 * 5.0 * 2.0 * (1.0 - 2.0))
    s2sad.check_grads(user.f, 1.5)
    helpers.K[1] = 7.0  # changed in place: the same array, read live
    assert g(1.5) == pytest.approx(2 * 1.5 * 5.0 * 2.0 * (1.0 + 7.0))


def test_globals_of_a_namespace_that_is_no_module_are_checked_on_each_call(tmp_path):
    path = tmp_path / "gm_namespace.py"
    path.write_text("def h(x):\n    return x * x * K\n")
    namespace = {"K": 3.0}
    exec(compile(path.read_text(), str(path), "exec"), namespace)  # noqa: S102
    h = namespace["h"]

    def f(x):
        return h(x) + x
    g = s2sad.grad(f)
    assert g(2.0) == 13.0
    namespace["K"] = 5.0  # fixed in the code, which is remade
    assert g(2.0) == 21.0
    assert s2sad.jvp(f, (2.0,), (1.0,)) == (22.0, 21.0)
    namespace["K"] = np.array([1.0, 2.0])
    gs = s2sad.grad(lambda x: np.sum(f(x) * 2.0))
    assert gs(2.0) == pytest.approx(2 * (2 * 2.0 * 3.0 + 2.0))
    namespace["K"][1] = 4.0  # changed in place: the same array, seen
    assert gs(2.0) == pytest.approx(2 * (2 * 2.0 * 5.0 + 2.0))
    assert "* K" in s2sad.emit(f, 2.0, mode="forward")  # by its name, not folded in


def test_module_attributes_the_user_writes_are_read_live(modules):
    (helpers, user) = modules(
        gm_attr_helpers="K = 3.0\n",
        gm_attr_user="import gm_attr_helpers\n\n\n"
                     "def f(x):\n    return x * x * gm_attr_helpers.K\n")
    g = s2sad.grad(user.f)
    assert g(2.0) == 12.0
    helpers.K = 5.0
    assert g(2.0) == 20.0
    assert s2sad.jvp(user.f, (2.0,), (1.0,)) == (20.0, 20.0)


def test_an_objects_field_fixed_in_the_code_is_checked_on_each_call():
    class Config:
        scale = 3.0
    cfg = Config()

    def f(x):
        return x * x * cfg.scale
    g = s2sad.grad(f)
    assert g(2.0) == 12.0
    cfg.scale = 5.0
    assert g(2.0) == 20.0


def test_a_flag_of_a_helper_module_remakes_the_code(modules):
    (helpers, user) = modules(
        gm_flag_helpers="""\
            SQUARE = True
            MODE = "plain"


            def h(x):
                if SQUARE:
                    y = x * x
                else:
                    y = x * x * x
                if MODE == "double":
                    return 2.0 * y
                return y
            """,
        gm_flag_user="import gm_flag_helpers\n\n\n"
                     "def f(x):\n    return gm_flag_helpers.h(x) + x\n")
    g = s2sad.grad(user.f)
    assert g(2.0) == 4.0 + 1.0
    helpers.SQUARE = False
    assert g(2.0) == 12.0 + 1.0
    assert s2sad.jvp(user.f, (2.0,), (1.0,)) == (10.0, 13.0)
    helpers.MODE = "double"
    assert g(2.0) == 24.0 + 1.0
    assert s2sad.hessian(user.f)(2.0) == pytest.approx(2.0 * 6 * 2.0)


def test_a_helper_of_a_helper_module_replaced_remakes_the_code(modules):
    (helpers, user) = modules(
        gm_fn_helpers="def inner(x):\n    return x * x\n\n\n"
                      "def h(x):\n    return inner(x) * 3.0\n",
        gm_fn_user="import gm_fn_helpers\n\n\n"
                   "def f(x):\n    return gm_fn_helpers.h(x)\n")
    g = s2sad.grad(user.f)
    assert g(2.0) == 12.0
    helpers.inner = lambda x: x * x * x
    assert g(2.0) == 36.0


# ------------------------------------------------------------------- closures as helpers


def _factory(c):
    def h(x):
        return x * c

    def set_c(v):
        nonlocal c
        c = v
    return h, set_c


def test_closures_called_by_the_users_function_read_their_own_cells():
    h3, set3 = _factory(3.0)
    h5, _ = _factory(5.0)
    c = 2.0

    def f(x):
        return np.sum(h3(x) * x) * c + h5(x)  # three cells named c
    _every_way(f, 1.5, 2 * 3.0 * 2.0 * 1.5 + 5.0, 2 * 3.0 * 2.0)
    text = s2sad.emit(f, 1.5)
    assert "c_2" in text and "c_3" in text  # each cell under a name of its own
    g = s2sad.grad(f)
    set3(4.0)  # the helper's cell changed: read live
    assert g(1.5) == pytest.approx(2 * 4.0 * 2.0 * 1.5 + 5.0)
    assert s2sad.jvp(f, (1.5,), (1.0,))[1] == pytest.approx(2 * 4.0 * 2.0 * 1.5 + 5.0)
    set3(np.array([1.0, 4.0]))  # now an array: remade
    assert g(1.5) == pytest.approx(2 * 5.0 * 2.0 * 1.5 + 5.0)
    s2sad.check_grads(f, 1.5)


def test_a_flag_in_a_closure_cell_remakes_the_code():
    def make(square):
        def h(x):
            if square:
                return x * x
            return x * x * x

        def flip():
            nonlocal square
            square = not square
        return h, flip
    h, flip = make(True)

    def f(x):
        return h(x)
    g = s2sad.grad(f)
    assert g(2.0) == 4.0
    flip()
    assert g(2.0) == 12.0


# -------------------------------------------------------------- comments name the file


def test_code_inlined_from_another_file_names_it(modules):
    (_, user) = modules(
        gm_file_helpers="import math\nK = 3.0\n\n\ndef h(x):\n    return math.log(x) * K\n",
        gm_file_user="import gm_file_helpers\n\n\ndef f(x):\n"
                     "    y = gm_file_helpers.h(x)\n    return y * y\n")
    text = s2sad.emit(user.f, 1.0)
    assert "# gm_file_helpers.py:6: return math.log(x) * K" in text
    assert "# L6: return y * y" in s2sad.emit(user.f, 1.0, mode="forward")  # the user's
    assert "# L6: return math.log(x)" not in text
    assert s2sad.source_map(user.f, 1.0) == {}  # every line computes the helper's line
    forward = s2sad.emit(user.f, 1.0, mode="forward").splitlines()
    mapping = s2sad.source_map(user.f, 1.0, mode="forward")
    assert set(mapping.values()) == {6}
    assert [n for n, t in enumerate(forward, 1) if n in mapping] == \
        [n for n, t in enumerate(forward, 1) if forward.index("    # L6: return y * y") < n - 1]
    assert "gm_file_helpers.py:6: return math.log(x) * K" in s2sad.wengert(user.f, 1.0)
    traces = str(s2sad.explain(user.f)(2.0))
    assert "# gm_file_helpers.py:6: return math.log(x) * K" in traces
    assert "# L6: return y * y" in traces  # and the user's own lines as before
    with pytest.raises(ValueError) as info:  # math.log(0.0): the traceback shows the code
        s2sad.grad(user.f)(0.0)
    generated = info.traceback[-1].frame.code.raw.co_filename
    assert "# gm_file_helpers.py:6:" in "".join(linecache.getlines(generated))


# ------------------------------------------------ functions of equal code or one name


def test_recursion_across_modules_of_equal_code(modules):
    body = textwrap.dedent("""\
        K = {k}


        def r(x, n):
            if n <= 0:
                return other(x) * K
            return r(x, n - 1) * 1.5
        """)
    (inner, outer) = modules(
        gm_rec_inner="import math\n" + body.format(k=3.0) + "\n\ndef other(x):\n    return x\n",
        gm_rec_outer="import gm_rec_inner\n" + body.format(k=2.0)[:-1] +
                     "\n\ndef other(x):\n    return gm_rec_inner.r(x, 3)\n")
    assert inner.r.__code__ == outer.r.__code__  # the trap: equal, but two functions
    for n in (0, 1, 8):
        want = 3.0 * 1.5 ** 3 * 2.0 * 1.5 ** n

        def f(x, n=n):
            return outer.r(x, n)
        assert outer.r(1.0, n) == pytest.approx(want)
        _every_way(f, 1.0, want, 0.0)
    want = 3.0 * 1.5 ** 8
    assert s2sad.grad(inner.r)(1.0, 8) == pytest.approx(want)
    assert s2sad.grad(outer.r)(1.0, 8) == pytest.approx(2.0 * 1.5 ** 11 * 3.0)


def _closures(k):
    def r(x, n):
        if n <= 0:
            return x * x * k
        return r(x, n - 1) * 1.5

    def scaled(x):
        return x * k
    s2sad.custom_adjoint(scaled, lambda g, ans, x: g * k)
    s2sad.custom_tangent(scaled, lambda g, ans, x: g * k)
    return r, scaled


def test_two_closures_of_one_name_are_two_functions():
    r2, s2 = _closures(2.0)
    r3, s3 = _closures(3.0)

    def f(x, n):
        return r2(x, n) + r3(x, n)

    def twice(x):
        return f(x, 8)
    want = 2 * 1.0 * (2.0 + 3.0) * 1.5 ** 8
    assert s2sad.grad(f)(1.0, 8) == pytest.approx(want)
    assert s2sad.jvp(twice, (1.0,), (1.0,))[1] == pytest.approx(want)
    assert s2sad.hessian(twice)(1.0) == pytest.approx(2 * (2.0 + 3.0) * 1.5 ** 8)
    s2sad.check_grads(twice, 1.3)
    text = s2sad.emit(f, 1.0, 8)  # two gradients and two cells, each under its own name
    assert "r_grad(x, " in text and "r_grad_2(x, " in text and "k * x" in text and \
        "k_2 * x" in text

    def g(x):
        return s2(x) + s3(x) * x
    assert s2sad.grad(g)(1.5) == pytest.approx(2.0 + 2 * 3.0 * 1.5)
    assert s2sad.jvp(g, (1.5,), (1.0,))[1] == pytest.approx(2.0 + 2 * 3.0 * 1.5)
    assert math.isclose(s2sad.grad(s2)(1.0), 2.0) and math.isclose(s2sad.grad(s3)(1.0), 3.0)


def test_run_time_recursions_of_equal_code_have_their_own_result_types(modules):
    body = textwrap.dedent("""\
        import numpy as np
        K = {k}


        def r(x, n):
            if n <= 0:
                return other(x, n) * K
            return r(x, n - 1) * 1.5
        """)
    (inner, outer) = modules(  # inner.r returns an array, outer.r a number
        gm_rtype_inner="import math\n" + body.format(k="np.array([1.0, 2.0])") +
        "\n\ndef other(x, n):\n    return x\n",
        gm_rtype_outer="import gm_rtype_inner\n" + body.format(k=2.0)[:-1] +
        "\n\ndef other(x, n):\n    return np.sum(gm_rtype_inner.r(x, n + 3))\n")
    assert inner.r.__code__ == outer.r.__code__
    for n in (0, 2, 9):
        want = 1.5 ** (n + 3) * 2.0 * 3.0
        assert outer.r(1.0, n) == pytest.approx(want)
        assert s2sad.grad(outer.r)(1.0, n) == pytest.approx(want)
        assert s2sad.jvp(outer.r, (1.0, n), (1.0, None))[1] == pytest.approx(want)
        assert _fd(lambda x: outer.r(x, n), 1.0) == pytest.approx(want, rel=1e-6)


class _Config:
    def __init__(self, scale):
        self.scale = scale


CFG = _Config(2.0)
WEIGHTS = [1.0, 2.0]


def _scaled(x):
    return x * CFG.scale


def _weighted(x):
    return x * WEIGHTS[0] + WEIGHTS[1]


def test_a_global_object_rebound_remakes_the_code():
    global CFG
    g, old = s2sad.grad(_scaled), CFG
    assert g(1.0) == 2.0
    try:
        CFG = _Config(5.0)  # another object: its field is not the one the code was made for
        assert g(1.0) == 5.0
        CFG.scale = 7.0
        assert g(1.0) == 7.0
        CFG.scale = np.array([1.0, -2.0])  # the field changes kind: the code is remade
        out, out_dot = s2sad.jvp(_scaled, (3.0,), (1.0,))
        np.testing.assert_array_equal(out_dot, [1.0, -2.0])
    finally:
        CFG = old


def test_a_global_list_rebound_remakes_the_code_even_where_its_id_is_reused():
    global WEIGHTS
    g, old = s2sad.value_and_grad(_weighted), WEIGHTS
    try:
        for k in range(30):  # each old list is freed: a new one may take its id
            WEIGHTS = [float(k), 1.0]
            assert g(2.0) == (2.0 * k + 1.0, float(k))
    finally:
        WEIGHTS = old
