"""`check_grads`: test derivatives against central finite differences and each other.

Two oracles, as in autograd and JAX: forward mode against a central difference along a random
direction ``t`` (``(f(x + h t) - f(x - h t)) / 2h``), and the inner-product identity
``<vjp(c), t> == <c, jvp(t)>`` between the two modes for a random cotangent ``c``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .errors import GradCheckError


def _tree(x: Any) -> Any:
    from .api import Tree, arg_spec
    spec = arg_spec(x)
    return spec if isinstance(spec, Tree) else None


def _leaves(x: Any) -> list[Any]:
    t = _tree(x)
    return t.flatten(x) if t is not None else [x]


def _map(f: Any, *xs: Any) -> Any:
    """`f` applied leaf by leaf to values of the same structure (a container or a leaf)."""
    t = _tree(xs[0])
    if t is None:
        return f(*xs)
    return t.unflatten([f(*leaves) for leaves in zip(*[t.flatten(x) for x in xs])])


def _randlike(rng: np.random.Generator, x: Any) -> Any:
    def one(leaf: Any) -> Any:
        if isinstance(leaf, np.ndarray):
            return rng.standard_normal(leaf.shape).astype(leaf.dtype)
        return float(rng.standard_normal())
    return _map(one, x)


def _vdot(a: Any, b: Any) -> float:
    return float(sum(np.sum(np.asarray(x, dtype=float) * np.asarray(y, dtype=float))
                     for x, y in zip(_leaves(a), _leaves(b))))


def _is_float_arg(a: Any) -> bool:
    return all(isinstance(x, float) or isinstance(x, np.ndarray) and x.dtype.kind == "f"
               for x in _leaves(a))


def _flat(out: Any) -> list[Any]:
    """The leaves of a result: a number or an array, or a tuple or dict of them."""
    if isinstance(out, dict):
        out = tuple(out.values())
    return [x for o in out for x in _flat(o)] if isinstance(out, tuple) else [out]


def check_grads(fn: Callable[..., Any], *args: Any, wrt: Sequence[int] | None = None,
                modes: Sequence[str] = ("forward", "reverse"), order: int = 1,
                eps: float = 1e-6, rtol: float = 1e-5, atol: float = 1e-6, seed: int = 0) -> None:
    """Raise :class:`GradCheckError` unless s2sad's derivatives of `fn` at `args` are right.

    `wrt` defaults to every float argument.  Checks forward mode against finite differences,
    reverse mode against forward mode by the inner-product identity (and against finite
    differences when forward mode is not among `modes`).  With ``order=2`` (a function with
    one scalar result) it also checks Hessian-vector products (forward over reverse) against
    central differences of the gradient along a random direction.
    """
    if order >= 2:
        _check_second_order(fn, args, wrt, eps * 10, rtol, atol, seed)
    from .api import jvp, vjp  # the checker sits on top of the API

    rng = np.random.default_rng(seed)
    if wrt is None:
        wrt = [i for i, a in enumerate(args) if _is_float_arg(a)]
    dirs = [_randlike(rng, args[i]) if i in wrt else None for i in range(len(args))]

    def shifted(h: float) -> list[Any]:
        return _flat(fn(*[_map(lambda x, t: x + h * t, a, d) if d is not None else a
                          for a, d in zip(args, dirs)]))

    numeric = [(p - m) / (2 * eps) for p, m in zip(shifted(eps), shifted(-eps))]
    scale = max(1.0, max(float(np.max(np.abs(n))) if np.size(n) else 0.0 for n in numeric))
    if "forward" in modes:
        _, out_dot = jvp(fn, args, dirs)
        for k, (got, want) in enumerate(zip(_flat(out_dot), numeric)):
            if not np.allclose(got, want, rtol=rtol * 10 + 1e-4, atol=(atol + 1e-5) * scale):
                raise GradCheckError(f"forward mode disagrees with finite differences in "
                                     f"output {k}: got {got!r}, expected {want!r}")
    if "reverse" in modes:
        out, vjp_fn = vjp(fn, *args)
        cts = [_randlike(rng, o) for o in _flat(out)]
        ct: Any = _unflat(cts, out)
        grads = vjp_fn(ct)
        lhs = sum(_vdot(grads[i], dirs[i]) for i in wrt)
        if "forward" in modes:
            rhs = sum(_vdot(c, t) for c, t in zip(cts, _flat(out_dot)))
            tol = rtol * 10 * max(1.0, abs(rhs)) + atol
        else:
            rhs = sum(_vdot(c, n) for c, n in zip(cts, numeric))
            tol = (rtol * 10 + 1e-4) * max(1.0, abs(rhs)) + atol * scale
        if not abs(lhs - rhs) <= tol:
            raise GradCheckError(f"reverse mode fails the inner-product check: "
                                 f"<vjp(c), t> = {lhs!r} but <c, J t> = {rhs!r}")


def _check_second_order(fn: Callable[..., Any], args: tuple[Any, ...],
                        wrt: Sequence[int] | None, eps: float, rtol: float, atol: float,
                        seed: int) -> None:
    from .api import grad, hvp

    rng = np.random.default_rng(seed + 1)
    positions = tuple(wrt if wrt is not None else
                      [i for i, a in enumerate(args) if _is_float_arg(a)])
    dirs = tuple(_randlike(rng, args[i]) for i in positions)
    g = grad(fn, wrt=positions)

    def shifted(h: float) -> tuple[Any, ...]:
        moved = list(args)
        for i, d in zip(positions, dirs):
            moved[i] = _map(lambda x, t: x + h * t, args[i], d)
        return g(*moved)
    numeric = [_map(lambda p, m: (p - m) / (2 * eps), a, b)
               for a, b in zip(shifted(eps), shifted(-eps))]
    got = hvp(fn, wrt=positions)(*args, dirs)
    for k, (x, want) in enumerate(zip(got, numeric)):
        for xl, wl in zip(_leaves(x), _leaves(want)):
            scale = max(1.0, float(np.max(np.abs(wl))))
            if not np.allclose(xl, wl, rtol=rtol * 100, atol=(atol + 1e-4) * scale):
                raise GradCheckError(f"second order: Hessian-vector product for argument "
                                     f"{positions[k]} disagrees with differences of the "
                                     f"gradient: got {xl!r}, expected {wl!r}")


def _unflat(flat: list[Any], like: Any) -> Any:
    it = iter(flat)

    def build(x: Any) -> Any:
        if isinstance(x, dict):
            return {k: build(v) for k, v in x.items()}
        return tuple(build(i) for i in x) if isinstance(x, tuple) else next(it)
    return build(like)
