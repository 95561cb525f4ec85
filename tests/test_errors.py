"""Every error path: a located message with the source line, a caret and a hint."""

from __future__ import annotations

import inspect
import linecache

import numpy as np
import pytest

import s2sad
from s2sad.errors import Loc
from s2sad.rules import RuleError, defprim

HERE = __file__


def _line_of(fn, text):
    lines, first = inspect.getsourcelines(fn)
    for i, line in enumerate(lines):
        if text in line:
            return first + i, line.index(text) + 1
    raise AssertionError(text)


def check(exc, fn, text, kind, hint_part):
    """The rendered error names this file, the line and column of `text`, and a hint."""
    line, col = _line_of(fn, text)
    rendered = str(exc)
    first = rendered.splitlines()[0]
    assert first.startswith(f"{HERE}:{line}:{col}: {kind}:"), first
    source, caret = rendered.splitlines()[1:3]
    raw = linecache.getline(HERE, line)
    indent = len(raw) - len(raw.lstrip())
    assert source == "    " + raw.strip()
    assert caret == " " * (4 + col - 1 - indent) + "^"  # under the construct
    assert "hint: " in rendered and hint_part in rendered


def uses_try(x):
    try:
        return x * 2
    except ValueError:
        return x


def uses_with(x):
    with open("f") as fh:
        return x


def uses_global(x):
    global W
    return x


def uses_del(x):
    y = x
    del y
    return x


def uses_yield(x):
    yield x


def uses_inner_lambda(x):
    h = lambda t: t  # noqa: E731
    return h(x)


def uses_import(x):
    import math
    return math.sin(x)


def uses_listcomp(x):
    n = int(x)
    return sum([x for _ in range(n)])


def uses_bitand(x):
    return (x > 0) & (x < 1)


def reseeds(x):
    np.random.seed(0)
    return x


def uses_setitem(x):
    x[0] = 1.0
    return np.sum(x)


def if_on_array(x):
    if x > 0:
        return np.sum(x)
    return 0.0


def uses_no_return(x):
    y = x


def uses_nonlocal(x):
    def inner():
        nonlocal x
    return x


UNSUPPORTED = [
    (uses_try, "try:", "move the try/except outside"),
    (uses_with, "with open", "only `with s2sad.grad_of(x) as g:`"),
    (uses_global, "global W", "pass the value in"),
    (uses_del, "del y", "out of scope"),
    (uses_yield, "yield x", "build a list"),
    (uses_import, "import math", "import at module level"),
    (uses_listcomp, "[x for", "xs.append(...)"),
    (uses_bitand, "(x > 0) & (x < 1)", "np.logical_and"),
    (reseeds, "np.random.seed(0)", "side effects"),
    (uses_setitem, "x[0]", "make a copy first: x = x.copy()"),
    (if_on_array, "if x > 0", "np.where"),
    (uses_no_return, "def uses_no_return", "return the value"),
    (uses_nonlocal, "nonlocal x", "return the new value"),
]


@pytest.mark.parametrize("fn,text,hint", UNSUPPORTED, ids=[u[0].__name__ for u in UNSUPPORTED])
def test_unsupported_syntax(fn, text, hint):
    with pytest.raises(s2sad.UnsupportedSyntax) as info:
        s2sad.grad(fn)(np.ones(2) if fn in (uses_setitem, if_on_array) else 2.0)
    check(info.value, fn, text, "UnsupportedSyntax", hint)
    assert isinstance(info.value, s2sad.S2SADError)


# Lists grown at run time (`xs.append` in a loop whose trip count is known only then): what
# they do not support.


def items_change_kind(x, n):
    xs = []
    y = x
    for i in range(n):
        xs.append(y)
        y = y * np.ones(2)
    return np.sum(np.array(xs))


def returns_a_list(x, n):
    xs = []
    for i in range(n):
        xs.append(x * i)
    return xs


def slices_a_list(x, n):
    xs = []
    for i in range(n):
        xs.append(x * i)
    return sum(xs[1:])


def max_of_a_list(x, n):
    xs = []
    for i in range(n):
        xs.append(x * i)
    return max(xs)


def concatenates_a_list(x, n):
    xs = []
    for i in range(n):
        xs.append(x * i)
    return np.sum(np.concatenate(xs))


def list_arithmetic(x, n):
    xs = []
    for i in range(n):
        xs.append(x * i)
    return np.sum(xs * 2)


def pops_a_list(x, n):
    xs = []
    for i in range(n):
        xs.append(x * i)
    return xs.pop()


def grows_while_walking(x, n):
    xs = [x]
    for i in range(n):
        xs.append(x * i)
    for y in xs:
        xs.append(y)  # noqa: PERF402
    return sum(xs)


def writes_into_an_appended_array(x, n):
    xs = []
    h = np.zeros(2)
    for i in range(n):
        h[0] = x * i
        xs.append(h)
    return np.sum(np.stack(xs))


def grows_under_two_names(x, n):
    xs = [x]
    ys = xs
    for i in range(n):
        xs.append(x * i)
    return sum(ys)


def appends_for_its_caller(xs, x):
    xs.append(x)
    return x


def lets_a_helper_append(x, n):
    xs = []
    for i in range(n):
        xs.append(x)
    y = appends_for_its_caller(xs, x)
    return sum(xs) + y


LIST_ERRORS = [
    (items_change_kind, items_change_kind, "xs.append(y)", "values of one kind"),
    (returns_a_list, returns_a_list, "return xs", "np.stack(xs)"),
    (slices_a_list, slices_a_list, "xs[1:]", "np.stack(xs)[a:b]"),
    (max_of_a_list, max_of_a_list, "max(xs)", "np.max(np.array(xs))"),
    (concatenates_a_list, concatenates_a_list, "np.concatenate(xs)", "np.stack(xs)"),
    (list_arithmetic, list_arithmetic, "xs * 2", "np.array(xs)"),
    (pops_a_list, pops_a_list, "xs.pop()", "xs.append(x)"),
    (grows_while_walking, grows_while_walking, "for y in xs", "append to another list"),
    (lets_a_helper_append, appends_for_its_caller, "xs.append(x)", "where the list is made"),
    (writes_into_an_appended_array, writes_into_an_appended_array, "h[0] = x * i",
     "xs.append(h.copy())"),
    (grows_under_two_names, grows_under_two_names, "for i in range(n)", "one name"),
]


@pytest.mark.parametrize("fn,where,text,hint", LIST_ERRORS,
                         ids=[e[0].__name__ for e in LIST_ERRORS])
def test_lists_grown_at_run_time(fn, where, text, hint):
    with pytest.raises(s2sad.UnsupportedSyntax) as info:
        s2sad.grad(fn)(1.5, 3)
    check(info.value, where, text, "UnsupportedSyntax", hint)


def calls_fft(x):
    return np.sum(np.fft.fft(x).real)


def calls_unknown_method(x):
    return np.sum(x.partition(1))


def reads_undefined(x):
    return x * not_defined_anywhere  # noqa: F821


def test_call_without_rule_or_source():
    with pytest.raises(s2sad.NoRuleError) as info:
        s2sad.grad(calls_fft)(np.ones(3))
    check(info.value, calls_fft, "np.fft.fft(x)", "NoRuleError", "s2sad.custom_adjoint")
    assert "fft" in str(info.value)


def test_method_without_rule():
    with pytest.raises(s2sad.NoRuleError) as info:
        s2sad.grad(calls_unknown_method)(np.ones(3))
    check(info.value, calls_unknown_method, "x.partition(1)", "NoRuleError", "supported methods")


def test_undefined_name():
    with pytest.raises(s2sad.NoRuleError) as info:
        s2sad.grad(reads_undefined)(1.0)
    check(info.value, reads_undefined, "not_defined_anywhere", "NoRuleError", "define it")


def two_args(x, n):
    return x * n


def test_integer_wrt_argument():
    with pytest.raises(s2sad.NotDifferentiable) as info:
        s2sad.grad(two_args, wrt=1)(2.0, 3)
    rendered = str(info.value)
    line = inspect.getsourcelines(two_args)[1]
    assert rendered.startswith(f"{HERE}:{line}:")
    assert "`n`" in rendered and "an int" in rendered and "3.0 rather than 3" in rendered
    assert "^" in rendered


def test_non_numeric_and_integer_array_wrt():
    with pytest.raises(s2sad.NotDifferentiable, match="str"):
        s2sad.grad(two_args)("a", 2.0)
    with pytest.raises(s2sad.NotDifferentiable, match="int64"):
        s2sad.grad(lambda_free, wrt=0)(np.arange(3))


def lambda_free(x):
    return np.sum(x * 1.5)


def vector_valued(x):
    return x * 2.0


def test_grad_of_non_scalar():
    with pytest.raises(s2sad.TypeMismatch, match="one float scalar result") as info:
        s2sad.grad(vector_valued)(np.ones(3))
    assert "s2sad.vjp" in str(info.value)
    with pytest.raises(s2sad.TypeMismatch, match="one float scalar result"):
        s2sad.grad(lambda x: np.sum(x, keepdims=True))(np.ones(3))  # shape (1,): not a number
    # a 0-d array is a number: its gradient is taken as for a float
    assert s2sad.grad(vector_valued)(np.array(3.0)) == 2.0
    np.testing.assert_allclose(s2sad.grad(lambda x: np.array(np.sum(x ** 2)))(np.ones(2)),
                               [2.0, 2.0])


def test_bad_wrt():
    with pytest.raises(s2sad.TypeMismatch, match="no parameter 'z'"):
        s2sad.grad(two_args, wrt="z")
    with pytest.raises(s2sad.TypeMismatch, match="2 parameter"):
        s2sad.grad(two_args, wrt=5)
    with pytest.raises(s2sad.TypeMismatch, match="wrt must be"):
        s2sad.grad(two_args, wrt=1.5)


def test_wrong_number_of_arguments():
    # the function users hold has the signature of the function it differentiates
    with pytest.raises(TypeError, match="missing 1 required positional argument: 'n'"):
        s2sad.grad(two_args)(1.0)


def with_default(x, y=2.0):
    return x * x * y


def _numbers(value):
    from s2sad.check import _flat
    return np.concatenate([np.ravel(v) for v in _flat(value)])


@pytest.mark.parametrize("make, name", [
    (lambda: s2sad.grad(with_default), "with_default_grad"),
    (lambda: s2sad.value_and_grad(with_default, wrt=(0, 1)), "with_default_value_and_grad"),
    (lambda: s2sad.grad(with_default, has_aux=False, wrt="y"), "with_default_grad"),
    (lambda: s2sad.hessian(with_default), "with_default_hessian"),
    (lambda: s2sad.jacobian(with_default), "with_default_jacobian"),
])
def test_arguments_that_do_not_fit_raise_pythons_type_error_under_the_derivatives_name(
        make, name):
    d = make()
    for _ in range(2):  # before and after the entry's code is specialised
        with pytest.raises(TypeError) as info:
            d(1.0, 2.0, 3.0)
        assert str(info.value) == \
            f"{name}() takes from 1 to 2 positional arguments but 3 were given"
        with pytest.raises(TypeError, match=rf"^{name}\(\) got an unexpected keyword argument 'z'"):
            d(1.0, z=3.0)
        with pytest.raises(TypeError, match=rf"^{name}\(\) missing 1 required positional "
                           "argument: 'x'"):
            d(y=3.0)
        with pytest.raises(TypeError, match=rf"^{name}\(\) got multiple values for "
                           "argument 'x'"):
            d(1.0, x=3.0)
        # keywords and defaults as in the user's function
        want = _numbers(d(1.5, 2.0))
        for got in (d(1.5), d(x=1.5), d(1.5, y=2.0), d(y=2.0, x=1.5)):
            np.testing.assert_allclose(_numbers(got), want)
        np.testing.assert_allclose(_numbers(d(2.0, y=3.0)), _numbers(d(2.0, 3.0)))
        assert not np.allclose(_numbers(d(2.0, y=3.0)), want)
        assert "__s2sad" not in repr(d) and d.__qualname__ == name


def test_transforms_taking_primals_name_the_users_function():
    with pytest.raises(TypeError, match=r"^with_default\(\) takes from 1 to 2 positional "
                       "arguments but 3 were given"):
        s2sad.vjp(with_default, 1.0, 2.0, 3.0)
    with pytest.raises(TypeError, match=r"^with_default_hvp\(\) got an unexpected keyword"):
        s2sad.hvp(with_default)(1.0, 1.0, z=2.0)
    assert s2sad.hvp(with_default)(1.5, 1.0, y=3.0) == pytest.approx(6.0)
    assert s2sad.jvp(with_default, (1.5,), (1.0,))[1] == pytest.approx(6.0)


def test_no_source():
    with pytest.raises(s2sad.SourceError, match="not a Python function"):
        s2sad.grad(np.sin)(1.0)
    namespace: dict = {}
    exec("def h(x):\n    return x * x\n", namespace)
    with pytest.raises(s2sad.SourceError, match="cannot read the source") as info:
        s2sad.grad(namespace["h"])
    assert "hint:" in str(info.value)


def test_bad_rule_registrations():
    with pytest.raises(RuleError, match="takes 2 argument"):
        defprim("bad_arity", np.add, arity=2, lin=[lambda g, ans, x, y: g])
    with pytest.raises(RuleError, match="positional parameter"):
        defprim("bad_signature", np.sin, lin=[lambda g, x: g])
    with pytest.raises(RuleError, match="not callable"):
        defprim("bad_callable", np.sin, lin=["g * cos(x)"])
    with pytest.raises(RuleError, match="already registered"):
        defprim("sin", np.sin, lin=[lambda g, ans, x: g])
    with pytest.raises(RuleError, match="both a tangent and an adjoint"):
        defprim("half_rule", np.sin, jvp=[lambda g, ans, x: g])


def test_error_rendering_without_location():
    err = s2sad.S2SADError("plain message", None, "a hint")
    assert str(err) == "Error: plain message\nhint: a hint"
    err = s2sad.UnsupportedSyntax("m", Loc("a.py", 3, 5, "    y = x\n"))
    assert str(err).splitlines() == ["a.py:3:5: UnsupportedSyntax: m", "    y = x", "    ^"]


def interp_with_moving_knots(x, xp):
    knots = xp * 2.0
    return np.sum(np.interp(x, knots, np.sin(xp)))


@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_argument_without_a_derivative_rule(mode):
    # np.interp has no derivative in its knots: an error, never a dropped term
    x, xp = np.array([0.5, 1.5]), np.array([0.0, 1.0, 2.0])
    with pytest.raises(s2sad.NotDifferentiable) as info:
        if mode == "reverse":
            s2sad.grad(interp_with_moving_knots, wrt=1)(x, xp)
        else:
            s2sad.jvp(interp_with_moving_knots, (x, xp), (np.zeros(2), np.ones(3)))
    check(info.value, interp_with_moving_knots, "return np.sum", "NotDifferentiable",
          "s2sad.stop_gradient")
    assert "knots `xp` of np.interp" in str(info.value)
    # with respect to x alone it differentiates: both points lie between knots 0 and 2
    np.testing.assert_allclose(s2sad.grad(interp_with_moving_knots)(x, xp),
                               np.full(2, np.sin(1.0) / 2.0))


def linspace_to_x(x):
    return np.sum(np.linspace(0.0, x, 4) ** 2)


def full_of_x(x, w):
    return np.sum(np.full((2, 3), x) * w)


@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_constructors_differentiate_their_fill_value_and_refuse_the_rest(mode):
    # np.full(shape, x) carries x's derivative (it used to be dropped: a zero gradient)
    w = np.arange(6.0).reshape(2, 3)
    if mode == "reverse":
        assert s2sad.grad(full_of_x)(1.5, w) == pytest.approx(15.0)
        np.testing.assert_allclose(s2sad.grad(full_of_x)(np.array([1.0, 2.0, 3.0]), w),
                                   [3.0, 5.0, 7.0])
    else:
        assert s2sad.jvp(full_of_x, (1.5, w), (1.0, None))[1] == pytest.approx(15.0)
    with pytest.raises(s2sad.NotDifferentiable) as info:
        if mode == "reverse":
            s2sad.grad(linspace_to_x)(1.0)
        else:
            s2sad.jvp(linspace_to_x, (1.0,), (1.0,))
    check(info.value, linspace_to_x, "return np.sum", "NotDifferentiable",
          "np.linspace(0.0, 1.0, n)")
    assert "argument 2 of np.linspace" in str(info.value)


def star_args(x, *rest):
    return x * x


def grad_of_a_lambda(w):
    return np.sum(s2sad.grad(lambda z: np.sum(np.sin(z)))(w))


def test_star_args_and_derivatives_of_lambdas_inside_are_located():
    for call in (lambda: s2sad.grad(star_args)(2.0), lambda: s2sad.grad(star_args)(2.0, 3.0)):
        with pytest.raises(s2sad.UnsupportedSyntax) as info:
            call()
        check(info.value, star_args, "def star_args", "UnsupportedSyntax", "name each parameter")
    with pytest.raises(s2sad.UnsupportedSyntax) as info:
        s2sad.grad(grad_of_a_lambda)(np.ones(2))
    check(info.value, grad_of_a_lambda, "s2sad.grad(lambda", "UnsupportedSyntax",
          "define the function at module level")


# ------------------------------------------ tangents and cotangents at the API boundary


def _dot_sum(x, y):
    return np.sum(x * y)


def _pair(x):
    return x * 2.0, {"s": np.sum(x)}


X3 = np.array([0.5, -1.0, 2.0])

TANGENT_ERRORS = [
    ((X3, 2.0), (np.ones(4), None), r"tangent of `x` must be a float array of shape \(3,\), "
     r"as `x` is; got an array of shape \(4,\)"),
    ((X3, 2.0), (np.ones((1, 3)), None), r"shape \(3,\), as `x` is; got an array of shape "
     r"\(1, 3\)"),  # broadcastable, but not the primal's shape
    ((X3, 2.0), (1.0, None), r"tangent of `x` must be a float array of shape \(3,\), as `x` "
     "is; got a float"),
    ((X3, 2.0), (None, np.ones(3)), r"tangent of `y` must be a float, as `y` is; got an "
     r"array of shape \(3,\)"),
    ((X3, 2.0), (None, np.ones(1)), r"`y` must be a float, as `y` is; got an array of shape "
     r"\(1,\)"),
    ((X3, 2.0), (None, 1), r"`y` must be a float, as `y` is; got an int \(integers; write 1.0"),
    ((X3, 2.0), (np.ones(3, dtype=int), None), r"got an array of shape \(3,\) and dtype int"),
    ((X3, 2.0), (np.ones(3) * 1j, None), r"complex numbers"),
    ((X3, 2.0), (None, True), r"`y` must be a float, as `y` is; got a bool"),
    ((X3, 2.0), ("a", None), r"`x` must be a float array of shape \(3,\), as `x` is; got a str"),
]


@pytest.mark.parametrize("primals, tangents, message", TANGENT_ERRORS)
def test_a_tangent_unlike_its_primal_is_refused(primals, tangents, message):
    with pytest.raises(s2sad.TypeMismatch, match=message):
        s2sad.jvp(_dot_sum, primals, tangents)


def test_container_tangents_must_have_the_primals_structure():
    p = {"w": np.ones(2), "b": 0.5}

    def loss(p):
        return np.sum(p["w"] * p["b"])
    with pytest.raises(s2sad.TypeMismatch, match=r"tangent of `p` must be a dict with the "
                       r"keys \['b', 'w'\], as `p` is; got a dict with keys \['w'\]"):
        s2sad.jvp(loss, (p,), ({"w": np.ones(2)},))
    with pytest.raises(s2sad.TypeMismatch, match=r"tangent of `p`\['w'\] must be a float "
                       r"array of shape \(2,\), as `p`\['w'\] is; got a float"):
        s2sad.jvp(loss, (p,), ({"w": 1.0, "b": 1.0},))
    with pytest.raises(s2sad.TypeMismatch, match=r"`p` must be a dict with the keys"):
        s2sad.jvp(loss, (p,), ((np.ones(2), 1.0),))
    _, dot = s2sad.jvp(loss, (p,), ({"b": 1.0, "w": np.array([1.0, -1.0])},))
    assert dot == pytest.approx(0.5 * 0.0 + 2.0)


def test_batched_tangents_have_k_directions_then_the_primals_shape():
    with pytest.raises(s2sad.TypeMismatch, match=r"`x` must be a float array of shape \(2, 3\), "
                       r"k=2 directions, each shaped like `x`; got an array of shape \(2, 4\)"):
        s2sad.jvp(_dot_sum, (X3, 2.0), (np.ones((2, 4)), None), batched=True)
    with pytest.raises(s2sad.TypeMismatch, match=r"`y` must be a float array of shape \(2,\), "
                       r"k=2 directions, each shaped like `y`; got an array of shape \(3,\)"):
        s2sad.jvp(_dot_sum, (X3, 2.0), (np.ones((2, 3)), np.ones(3)), batched=True)
    with pytest.raises(s2sad.TypeMismatch, match="directions along a leading axis"):
        s2sad.jvp(_dot_sum, (X3, 2.0), (None, 1.0), batched=True)
    V = np.array([[1.0, 0.0, 0.0], [0.0, 2.0, -1.0]])
    _, T = s2sad.jvp(_dot_sum, (X3, 2.0), (V, np.array([0.5, 0.0])), batched=True)
    np.testing.assert_allclose(T, [2.0 + 0.5 * np.sum(X3), 2.0 * (2.0 - 1.0)])


def test_a_cotangent_unlike_the_result_is_refused():
    _, pullback = s2sad.vjp(_pair, X3)
    with pytest.raises(s2sad.TypeMismatch, match=r"cotangent\[0\] must be a float array of "
                       r"shape \(3,\), as the result\[0\] is; got a float"):
        pullback((1.0, {"s": 1.0}))
    with pytest.raises(s2sad.TypeMismatch, match=r"cotangent\[1\] must be a dict with the "
                       r"keys \['s'\]"):
        pullback((np.ones(3), 1.0))
    with pytest.raises(s2sad.TypeMismatch, match=r"cotangent must be a tuple of 2, as the "
                       r"result is; got a tuple of 1"):
        pullback((np.ones(3),))
    with pytest.raises(s2sad.TypeMismatch, match=r"cotangent\[1\]\['s'\] must be a float, as "
                       r"the result\[1\]\['s'\] is; got an array of shape \(3,\)"):
        pullback((np.ones(3), {"s": np.ones(3)}))
    _, pullback = s2sad.vjp(_dot_sum, X3, 2.0)
    with pytest.raises(s2sad.TypeMismatch, match=r"cotangent must be a float, as the result "
                       r"is; got an array of shape \(3,\)"):
        pullback(np.ones(3))
    (gx,) = s2sad.vjp(_pair, X3)[1]((np.array([1.0, 0.0, -1.0]), {"s": 2.0}))
    np.testing.assert_allclose(gx, [4.0, 2.0, 0.0])


def test_an_hvp_direction_unlike_the_argument_is_refused():
    with pytest.raises(s2sad.TypeMismatch, match=r"_dot_sum_hvp: the direction v must be a "
                       r"float array of shape \(3,\), as `x` is; got a float"):
        s2sad.hvp(_dot_sum)(X3, 2.0, 1.0)
    with pytest.raises(s2sad.TypeMismatch, match=r"the direction v must be a tuple of 2, as "
                       r"\(`x`, `y`\) is; got an array"):
        s2sad.hvp(_dot_sum, wrt=(0, 1))(X3, 2.0, np.ones(3))
    with pytest.raises(s2sad.TypeMismatch, match=r"the direction v\[1\] must be a float, as "
                       r"\(`x`, `y`\)\[1\] is; got an array of shape \(3,\)"):
        s2sad.hvp(_dot_sum, wrt=(0, 1))(X3, 2.0, (np.ones(3), np.ones(3)))


def test_float_tangents_of_any_precision_and_0d_arrays_are_accepted():
    # a float primal takes a Python float, a NumPy float or a 0-d float array; any float
    # dtype (as floats of the same shape, nothing is broadcast); each gives the same numbers
    want = s2sad.jvp(_dot_sum, (X3, 2.0), (np.ones(3), 0.5))[1]
    eps = 1e-6
    fd = (_dot_sum(X3 + eps, 2.0 + 0.5 * eps) - _dot_sum(X3 - eps, 2.0 - 0.5 * eps)) / (2 * eps)
    assert want == pytest.approx(fd)
    for ty, ts in ((np.ones(3, np.float32), np.float32(0.5)), (np.ones(3), np.array(0.5)),
                   (np.ones(3), np.float64(0.5))):
        assert s2sad.jvp(_dot_sum, (X3, 2.0), (ty, ts))[1] == pytest.approx(want)


def test_batched_container_tangents_are_checked_leaf_by_leaf():
    def loss(p, x):
        return np.sum(p["w"] * x) + p["b"] * x[0]
    p, x = {"w": np.ones(3), "b": 0.5}, np.array([2.0, 1.0, -1.0])
    V = {"w": np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 1.0]]), "b": np.array([0.0, 2.0])}
    _, T = s2sad.jvp(loss, (p, x), (V, None), batched=True)
    np.testing.assert_allclose(T, [2.0, 1.0 - 1.0 + 2.0 * 2.0])
    with pytest.raises(s2sad.TypeMismatch, match=r"tangent of `p`\['b'\] must be a float array of "
                       r"shape \(2,\), k=2 directions, each shaped like `p`\['b'\]; got a float"):
        s2sad.jvp(loss, (p, x), ({"w": V["w"], "b": 1.0}, None), batched=True)


# Shape errors of operations the derivative does not need: the gradient of np.sum(x * y) is
# (y, x), which never forms x * y, yet Python raises on it; so must the derivative.
def product_sum(x, y):
    return np.sum(x * y)


def matvec_sum(x):
    return np.sum(x @ np.ones(4))


def dead_product(x, y):
    z = x * y  # noqa: F841 - never read, but it raises on these shapes
    return np.sum(x ** 2)


def through_elementwise(x, y):
    return np.sum(np.sin(x) * np.cos(y) + x)


def contracts(x, y):  # no cheap check: the einsum stays
    return np.einsum("i,i->", x, y) + np.sum(np.floor(x) // y)


SHAPE_CALLS = {
    "grad": lambda f, x, y: s2sad.grad(f, wrt=(0, 1))(x, y),
    "value_and_grad": lambda f, x, y: s2sad.value_and_grad(f, wrt=(0, 1))(x, y),
    "vjp": lambda f, x, y: s2sad.vjp(f, x, y)[1](1.0),
    "jvp": lambda f, x, y: s2sad.jvp(f, (x, y), (x, y)),
    "hessian": lambda f, x, y: s2sad.hessian(f, wrt=0)(x, y),
    "jacobian-forward": lambda f, x, y: s2sad.jacobian(f, mode="forward")(x, y),
}


@pytest.mark.parametrize("call", sorted(SHAPE_CALLS))
@pytest.mark.parametrize("fn", [product_sum, dead_product, through_elementwise, contracts],
                         ids=lambda f: f.__name__)
def test_shape_errors_of_left_out_operations_are_raised(fn, call):
    x, y = np.linspace(0.1, 0.9, 3), np.linspace(0.2, 0.8, 4)
    with pytest.raises(ValueError):
        fn(x, y)
    with pytest.raises(ValueError, match=r"broadcast.*\(4,\)"):
        SHAPE_CALLS[call](fn, x, y)
    y = np.linspace(0.2, 0.8, 3)  # fitting shapes: the check is silent, the values right
    s2sad.check_grads(fn, x, y)


def test_shape_errors_of_a_left_out_matmul_are_raised():
    with pytest.raises(ValueError):
        matvec_sum(np.ones(3))
    for call in (lambda: s2sad.grad(matvec_sum)(np.ones(3)),
                 lambda: s2sad.vjp(matvec_sum, np.ones(3))[1](1.0),
                 lambda: s2sad.hessian(matvec_sum)(np.ones(3))):
        with pytest.raises(ValueError, match="matmul"):
            call()
    s2sad.check_grads(matvec_sum, np.linspace(0.1, 0.4, 4))


def test_operands_known_to_fit_are_not_checked():
    # a length-1 axis broadcasts with anything; sin(x) has x's shape
    def scaled(x, b):
        return np.sum(np.sin(x) * x + b)
    src = s2sad.emit(scaled, np.ones(3), np.ones(1), wrt=(0, 1))
    assert "check_" not in src
    src = s2sad.emit(product_sum, np.ones(3), np.ones(3), wrt=(0, 1))
    assert "check_broadcast(x, y)" in src


# Index and unpacking errors Python raises, found when the code is generated (the rank of an
# array and the dtype of an index are part of the types), not as an IndexError inside it.
def unpacks_a_short_shape(x):
    n, m = x.shape
    return np.sum(x) * n


def unpacks_a_shape_in_a_helper(x):
    return np.sum(x) * _first_of_two(x.shape)


def _first_of_two(shape):
    n, m = shape
    return n


def indexes_past_the_shape(x):
    return np.sum(x) * x.shape[-2]


def indexes_with_floats(x):
    k = np.floor(x * 2.0)
    return np.sum(x[k])


def indexes_past_a_tuple(x):
    pair = (x, x * 2.0)
    return np.sum(pair[2])


INDEX_ERRORS = [
    (unpacks_a_short_shape, "n, m = x.shape", "rank 1 into 2 names", None),
    (_first_of_two, "n, m = shape", "rank 1 into 2 names", None),
    (indexes_past_the_shape, "x.shape[-2]", "index -2 is out of range", None),
    (indexes_with_floats, "k]", "must be integers (or booleans), not float64[n]", "astype(int)"),
    (indexes_past_a_tuple, "pair[2]", "tuple of 2 items", None),
]


@pytest.mark.parametrize("fn,text,words,hint", INDEX_ERRORS,
                         ids=[e[0].__name__ for e in INDEX_ERRORS])
@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_index_and_unpacking_errors_are_located(fn, text, words, hint, mode):
    x = np.linspace(0.1, 0.9, 3)
    with pytest.raises((ValueError, IndexError)):
        fn(x)
    target = unpacks_a_shape_in_a_helper if fn is _first_of_two else fn
    with pytest.raises(s2sad.TypeMismatch) as info:
        if mode == "reverse":
            s2sad.grad(target)(x)
        else:
            s2sad.jvp(target, (x,), (x,))
    line, col = _line_of(fn, text)
    assert str(info.value).startswith(f"{HERE}:{line}:{col}: TypeMismatch:")
    assert words in str(info.value)
    if hint:
        assert hint in str(info.value)
    assert s2sad.grad(unpacks_a_short_shape)(np.ones((2, 3)))[0, 0] == 2.0  # rank 2 fits


def rebuilds_a_list(x, n):
    hs = []
    for k in range(n):
        hs.append(x * k)
    for k in range(n):
        new = []
        for h in hs:
            new.append(h * 2.0)
        hs = new
    return sum(hs)


def test_a_list_a_loop_rebuilds_is_refused_in_reverse_mode_only():
    with pytest.raises(s2sad.UnsupportedSyntax) as info:
        s2sad.grad(rebuilds_a_list)(1.5, 3)
    line, col = _line_of(rebuilds_a_list, "for k in range(n):\n")  # the second loop
    assert "`hs`, a list grown at run time" in str(info.value)
    assert "hint: use forward mode" in str(info.value)
    assert f":{line + 2}:{col}: UnsupportedSyntax" in str(info.value).splitlines()[0]
    # forward mode carries the list: 3 doublings of [0, x, 2x] sum to 24x
    assert s2sad.jvp(rebuilds_a_list, (1.5, 3), (1.0, None)) == (36.0, 24.0)


# An axis out of range raises in NumPy; s2sad wrapped it around (axis 2 of a vector became
# axis 0), and a dropped reduction then differentiated code that cannot run.
def sums_axis_two(x):
    return np.sum(np.sum(x, axis=2))


def moves_axis_two(x):
    return np.sum(np.moveaxis(x, 0, 2))


def diffs_axis_one(x):
    return np.sum(np.diff(x, axis=1))


def takes_axis_one(x):
    return np.sum(np.take(x, [0], axis=1))


def maxes_axis_minus_two(x):
    return np.sum(x.max(axis=-2))


def sums_along_an_array(x):
    return np.sum(np.sum(x, axis=x))


def test_a_run_time_axis_must_be_an_integer():
    with pytest.raises(TypeError):
        sums_along_an_array(np.ones(3))
    with pytest.raises(s2sad.TypeMismatch, match="axis must be an integer, not a float64"):
        s2sad.grad(sums_along_an_array)(np.ones(3))


AXIS_ERRORS = [(sums_axis_two, "np.sum(x, axis=2)", "axis 2"),
               (moves_axis_two, "np.moveaxis", "axis 2"),
               (diffs_axis_one, "np.diff", "axis 1"),
               (takes_axis_one, "np.take", "axis 1"),
               (maxes_axis_minus_two, "x.max", "axis -2")]


@pytest.mark.parametrize("fn,text,axis", AXIS_ERRORS, ids=[e[0].__name__ for e in AXIS_ERRORS])
@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_an_axis_out_of_range_is_located(fn, text, axis, mode):
    x = np.linspace(0.1, 0.9, 3)
    with pytest.raises(ValueError):
        fn(x)
    with pytest.raises(s2sad.TypeMismatch) as info:
        if mode == "reverse":
            s2sad.grad(fn)(x)
        else:
            s2sad.jvp(fn, (x,), (x,))
    line, col = _line_of(fn, text)
    assert str(info.value).startswith(f"{HERE}:{line}:{col}: TypeMismatch:")
    assert f"{axis} is out of bounds for array of dimension 1" in str(info.value)
    s2sad.check_grads(fn, np.linspace(0.1, 0.9, 6).reshape(2, 3, 1) if fn is moves_axis_two
                      else np.linspace(0.1, 0.9, 6).reshape(2, 3) if fn is not sums_axis_two
                      else np.linspace(0.1, 0.9, 6).reshape(1, 2, 3))


def stacks_an_array(x):
    return np.sum(np.stack(x))


def a_run_time_dtype(x):
    return np.sum(np.array(x, dtype=x))


def indices_of_a_condition(x):
    return np.sum(np.where(x > 0.5)[0])


def diff_with_too_many_arguments(x):
    return np.sum(np.diff(x, 1, 0, 5))


@pytest.mark.parametrize("fn,words,hint", [
    (stacks_an_array, "an array or number s2sad cannot iterate over", "np.stack([a, b])"),
    (indices_of_a_condition, "where() missing 2 required positional arguments",
     "use np.where(cond, a, b)"),
    (diff_with_too_many_arguments, "diff() takes from 1 to 3 positional arguments", ""),
    (a_run_time_dtype, "a value known only at run time", "known when the code is generated"),
])
def test_messages_name_no_internal_types(fn, words, hint):
    with pytest.raises(s2sad.TypeMismatch) as info:
        s2sad.grad(fn)(np.ones((2, 3)))
    text = str(info.value)
    assert words in text and hint in text.split("hint: ")[-1]
    for internal in ("Sym", "Var", "Static", "_Dynamic", "<dynamic>", "<lambda>", "_diff"):
        assert internal not in text


def column_times_matrix(x, w):
    return np.sum(x @ w)


def divides_constants(x):
    n = 0
    return x / (1 / n)


def test_shapes_the_types_show_cannot_fit_are_located():
    # x has a length-1 last axis (part of its type), w's rows are known not to be 1
    with pytest.raises(s2sad.TypeMismatch) as info:
        s2sad.grad(column_times_matrix)(np.ones((3, 1)), np.ones((3, 3)))
    line, col = _line_of(column_times_matrix, "x @ w")
    assert str(info.value).startswith(f"{HERE}:{line}:{col}: TypeMismatch:")
    assert "float64[n,1] and a float64[n,n]" in str(info.value)
    s2sad.check_grads(column_times_matrix, np.ones((3, 2)), np.ones((2, 3)))
    with pytest.raises(s2sad.TypeMismatch, match="division by zero"):
        s2sad.grad(divides_constants)(1.0)
