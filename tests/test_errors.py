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
