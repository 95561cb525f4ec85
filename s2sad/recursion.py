"""Recursion whose depth is known only at run time.

A call to a user function is inlined (see :meth:`Lowering.inline`), and so is a recursive
call while its depth is known when the code is generated (recursion over the items of a
tuple, on a constant count).  When it is not (``if n == 0: ...`` on an argument, ``if x <
1.0: ...`` on data), inlining would never end: after a few levels the lowering gives up on
that call, throws away what it unrolled, and emits a call to the user's function instead.
Its derivatives are then calls to derivatives s2sad generates for the same function, made
and cached at run time when first reached::

    t2 = halve(t1)                # forward sweep: the user's own function
    ...
    t1_bar = halve_vjp(t1, t2_bar)  # backward sweep: the adjoint of that call

Each level of the recursion thus runs the generated derivative of the level below.  In
reverse mode a level's adjoint reruns the forward pass below it, so a recursion n deep does
O(n^2) primal work (the price of not taping a call stack).  For a function returning a
number, the tangent and the adjoint are ``g * halve_grad(t1)``, a call to s2sad's gradient,
which can itself be differentiated: derivatives of any order compose.  For a function
returning an array they call helpers running s2sad's jvp and vjp, first order only: a second
derivative there raises a located NotDifferentiable.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .errors import S2SADError, TypeMismatch
from .ir import Array, Scalar, Ty, is_float
from .rules import REGISTRY, Emit, Sym, apply, defprim, no_derivative, owned_name

PREFIX = "recursive:"  # registry names of the calls

_ONE_RESULT = ("{} recurses to a depth known only at run time, which s2sad supports for "
               "functions returning one number or array")
_TYPES: dict[Any, Ty] = {}  # (function, argument types) -> the type assumed while lowering


def result_type(fn: Any, types: Sequence[Ty]) -> Ty:
    """The type of ``fn(*args)`` for arguments of `types`: lower `fn` for them, assuming a
    type for the recursive calls inside, until the assumption is what comes out."""
    from .lower import lower
    key = (fn, tuple(types))  # the function, not its code: equal code may read other globals
    if key in _TYPES:
        return _TYPES[key]
    guess: Ty = Scalar("float64")  # the least type: the branches widen it as needed
    for _ in range(4):
        _TYPES[key] = guess
        try:
            ir = lower(fn, list(types))
        except S2SADError as exc:  # e.g. unpacking a result assumed to be a number
            raise TypeMismatch(_ONE_RESULT.format(fn.__qualname__) +
                               f" (assuming a {guess} result: {exc.message})") from None
        finally:
            del _TYPES[key]
        if ir.result_tree is not None or len(ir.results) != 1 or \
                not isinstance(ir.results[0].type, (Scalar, Array)):
            raise TypeMismatch(_ONE_RESULT.format(fn.__qualname__))
        got = ir.results[0].type
        if got == guess:
            return got
        wider = got if isinstance(got, Scalar) or got.ndim is None else \
            Array(got.dtype, tuple(None for _ in got.ones or ()))  # lengths may vary by depth
        if wider == guess:  # assuming `wider` gave something at least as precise: it holds
            return guess
        guess = wider
    raise TypeMismatch(f"the result type of recursive {fn.__qualname__} does not settle")


def call(fn: Any, args: Sequence[Sym], out: Ty | None = None, label: str | None = None) -> Sym:
    """``fn(*args)`` as one equation whose rules call s2sad's derivatives of `fn`: the user's
    recursive function, or (with its result type `out` and printed name `label`) a gradient
    s2sad made of it, which is how second derivatives go through the recursion."""
    label = label or fn.__name__
    name = owned_name(f"{PREFIX}{fn.__module__}.{label}", fn)  # by identity: two functions
    if name not in REGISTRY or REGISTRY[name].impl is not fn:   # of one name are two calls
        REGISTRY.pop(name, None)
        n = len(args)
        several = sum(1 for a in args if is_float(a.type)) > 1
        defprim(name, fn, arity=n,
                infer=(lambda ts, ps: out) if out is not None else
                (lambda ts, ps: result_type(fn, ts)),
                emit=Emit("custom", label), foldable=False,
                jvp=[_rule(fn, name, label, "jvp", i, n, several) for i in range(n)],
                vjp=[_rule(fn, name, label, "vjp", i, n, several) for i in range(n)],
                doc=f"a call to {label}, which recurses")
    return apply(name, *args)


_GRADIENTS: dict[Any, Any] = {}  # (function, argument, label) -> its gradient, made once


def _rule(fn: Any, base: str, label: str, mode: str, argnum: int, n: int,
          several: bool) -> Any:
    """The tangent or adjoint rule of argument `argnum`.  For a function returning a number
    both are a call to s2sad's gradient of `fn` (itself differentiable, so derivatives of
    any order compose, vector mode included) times g; otherwise they call a helper that runs
    s2sad's jvp or vjp of `fn` at run time (first order only)."""
    import inspect
    params = list(inspect.signature(fn).parameters)
    suffix = f"_{params[argnum]}" if several and argnum < len(params) else ""
    name = f"{base}.{mode}{argnum}"  # (`base`: the call's registry name)
    helper = _helper(fn, mode, argnum, n)
    helper.__name__ = helper.__qualname__ = f"{label}_{mode}{suffix}"
    if name in REGISTRY:
        REGISTRY.pop(name)
    second = no_derivative(f"the arguments of {helper.__name__}, the "
                           f"{'tangent' if mode == 'jvp' else 'adjoint'} of a recursion whose "
                           "depth is known only at run time",
                           "derivatives of this order through recursion whose depth is known "
                           "only at run time are not supported; unroll it or use a loop")
    defprim(name, helper, arity=n + 1,
            infer=(lambda ts, ps: ts[argnum]) if mode == "vjp" else
            (lambda ts, ps: REGISTRY[base].infer(ts[:n], ps)),
            emit=Emit("custom", helper.__name__), foldable=False,
            jvp=[second] * (n + 1), vjp=[second] * (n + 1),
            doc=f"the {mode} of {label} (which recurses) for argument {argnum}")

    def rule(g: Sym, ans: Sym, *args: Sym) -> Sym:
        if isinstance(ans.type, Scalar) and is_float(ans.type):
            key = (fn, argnum, label)
            if key not in _GRADIENTS:
                from .api import grad
                made = grad(fn, wrt=argnum)
                made.__name__ = f"{label}_grad{suffix}"
                _GRADIENTS[key] = made
            made = _GRADIENTS[key]
            t = args[argnum].type  # a float or float array: only those have derivatives
            slope = call(made, args, t, made.__name__)
            if mode == "vjp" or isinstance(t, Scalar):
                return g * slope
            return apply("sum", g * slope)  # the tangent: <gradient, direction>
        return apply(name, *args, g)
    return rule


def _helper(fn: Any, mode: str, argnum: int, n: int) -> Any:
    if mode == "jvp":
        def helper(*args: Any) -> Any:
            from .api import jvp
            tangents = [None] * n
            tangents[argnum] = args[n]
            return jvp(fn, args[:n], tangents)[1]
    else:
        def helper(*args: Any) -> Any:
            from .api import vjp
            return vjp(fn, *args[:n])[1](args[n])[argnum]
    return helper
