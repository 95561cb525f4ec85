"""Print docs/numpy-coverage.md: every callable and array method s2sad has a rule for.

Usage: ``python tools/coverage.py > docs/numpy-coverage.md`` (``make docs``).
``tests/test_docs.py`` fails when the file differs from this output.

Each bound callable (``s2sad.rules.SURFACE``) and array method (``s2sad.rules.METHODS``) is
traced once on symbolic arguments (matrices, or Python floats for scalar functions), and the
primitives it emits are listed.  It counts as differentiable when one of them has derivative
rules; the others (``np.floor``, ``np.argsort``, ...) have zero derivatives or none.
"""

from __future__ import annotations

import builtins
import math
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

import s2sad
from s2sad.ir import Array, Scalar, Var
from s2sad.custom import USER_RULES
from s2sad.rules import METHODS, REGISTRY, SURFACE, Builder, Sym, building

NAMESPACES = (("np", np), ("np.linalg", np.linalg), ("math", math), ("builtins", builtins),
              ("s2sad", s2sad))
try:  # SciPy's special functions have rules when SciPy is installed (the `test` extra)
    import scipy.special
except ImportError:  # pragma: no cover - depends on the environment
    pass
else:
    NAMESPACES += (("scipy.special", scipy.special),)


def _matrix(dtype: str = "float64") -> Sym:
    return Sym(Var(Array(dtype, (False, False)), "x"))


def _vector() -> Sym:
    return Sym(Var(Array("float64", (False,)), "v"))


def _float() -> Sym:
    return Sym(Var(Scalar("float64"), "s"))


# Arguments for the callables that do not take one to three matrices or floats.
SAMPLES: dict[str, Callable[[], tuple[tuple[Any, ...], dict[str, Any]]]] = {
    "np.einsum": lambda: (("ij,jk->ik", _matrix(), _matrix()), {}),
    "np.concatenate": lambda: (((_matrix(), _matrix()),), {}),
    "np.stack": lambda: (((_matrix(), _matrix()),), {}),
    "np.hstack": lambda: (((_matrix(), _matrix()),), {}),
    "np.vstack": lambda: (((_matrix(), _matrix()),), {}),
    "np.array": lambda: (([_float(), _float()],), {}),
    "np.tile": lambda: ((_matrix(), (2, 1)), {}),
    "np.repeat": lambda: ((_matrix(), 2), {}),
    "np.pad": lambda: ((_matrix(), 1), {}),
    "np.roll": lambda: ((_matrix(), 1), {}),
    "np.broadcast_to": lambda: ((_vector(), (2, 3)), {}),
    "np.moveaxis": lambda: ((_matrix(), 0, 1), {}),
    "np.swapaxes": lambda: ((_matrix(), 0, 1), {}),
    "np.expand_dims": lambda: ((_matrix(), 0), {}),
    "np.reshape": lambda: ((_matrix(), (-1,)), {}),
    "np.take": lambda: ((_matrix(), _matrix("int64")), {"axis": 1}),
    "np.take_along_axis": lambda: ((_matrix(), _matrix("int64"), 1), {}),
    "np.full_like": lambda: ((_matrix(), 1.0), {}),
    "np.clip": lambda: ((_matrix(), 0.0, 1.0), {}),
    "np.linalg.matrix_power": lambda: ((_matrix(), 3), {}),
    "np.split": lambda: ((_matrix(), 2), {}),
    "np.array_split": lambda: ((_matrix(), 2), {}),
    "np.hsplit": lambda: ((_matrix(), 2), {}),
    "np.vsplit": lambda: ((_matrix(), 2), {}),
    "np.dsplit": lambda: ((Sym(Var(Array("float64", (False,) * 3), "x")), 2), {}),
    "np.average": lambda: ((_matrix(),), {"weights": _matrix()}),
    "np.select": lambda: (([_matrix("bool")], [_matrix()]), {}),
    "np.linalg.multi_dot": lambda: (([_matrix(), _matrix(), _vector()],), {}),
    "np.dstack": lambda: (((_matrix(), _matrix()),), {}),
    "np.column_stack": lambda: (((_vector(), _matrix()),), {}),
    "np.row_stack": lambda: (((_matrix(), _vector()),), {}),
    "np.convolve": lambda: ((_vector(), _vector()), {}),
    "np.interp": lambda: ((_matrix(), _vector(), _vector()), {}),
    "np.polyval": lambda: ((_vector(), _matrix()), {}),
    "np.quantile": lambda: ((_matrix(), 0.25), {"axis": 0}),
    "np.percentile": lambda: ((_matrix(), 25.0), {}),
    "np.cumulative_sum": lambda: ((_matrix(),), {"axis": 1}),
    "np.cumulative_prod": lambda: ((_matrix(),), {"axis": 1}),
    "scipy.special.polygamma": lambda: ((1, _matrix()), {}),
    ".reshape": lambda: ((_matrix(), -1), {}),
    ".astype": lambda: ((_matrix(), "float32"), {}),
    ".swapaxes": lambda: ((_matrix(), 0, 1), {}),
    ".repeat": lambda: ((_matrix(), 2), {}),
    ".take": lambda: ((_matrix(), _matrix("int64")), {"axis": 1}),
}
DEFAULTS = [((_matrix,), {}), ((_matrix, _matrix), {}), ((_matrix, _matrix, _matrix), {}),
            ((_float,), {}), ((_float, _float), {})]


def names() -> dict[int, list[str]]:
    """Every public name under which the namespaces offer each object, by the object's id."""
    found: dict[int, list[str]] = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for prefix, module in NAMESPACES:
            for attr in sorted(dir(module)):
                if attr.startswith("_"):
                    continue
                try:
                    obj = getattr(module, attr)
                except AttributeError:
                    continue
                found.setdefault(id(obj), []).append(f"{prefix}.{attr}")
    return found


def trace(labels: list[str], fn: Callable[..., Any]) -> list[str]:
    """The primitives `fn` (called by any of `labels`) emits on sample arguments, in order."""
    attempts = [SAMPLES[label] for label in labels if label in SAMPLES]
    for makers, kwargs in DEFAULTS:
        attempts.append(lambda makers=makers, kwargs=kwargs: (tuple(m() for m in makers), kwargs))
    for make in attempts:
        args, kwargs = make()
        b = Builder()
        try:
            with building(b):
                fn(*args, **kwargs)
        except Exception:  # noqa: BLE001,S112 - this sample does not fit; try the next
            continue
        return list(dict.fromkeys(e.prim for e in b.stmts))
    raise RuntimeError(f"no sample arguments fit {labels[0]}; add some to SAMPLES")


def _row(label: str, prims: list[str]) -> str:
    diff = any(REGISTRY[p].differentiable for p in prims)
    lowers = ", ".join(f"`{p}`" for p in prims) if prims else "(no operation)"
    if not prims:
        diff = True  # the identity (np.positive): its derivative is the input's
    return f"| {label} | {lowers} | {'yes' if diff else 'no'} |"


def render() -> str:
    by_id = names()
    rows: list[tuple[str, str, bool]] = []
    objects = 0
    for key, (obj, fn) in SURFACE.items():
        if key in USER_RULES or obj in (print, breakpoint):  # not NumPy coverage: users' own
            continue                                            # rules, and debugging aids
        labels = by_id.get(key, [getattr(obj, "__qualname__", repr(obj))])
        objects += 1
        prims = trace(labels, fn)
        for label in labels:
            line = _row(f"`{label}`", prims)
            rows.append((label, line, line.endswith("| yes |")))
    rows.sort()
    methods = []
    for name in sorted(METHODS):
        line = _row(f"`x.{name}()`", trace([f".{name}"], METHODS[name]))
        methods.append((name, line, line.endswith("| yes |")))
    n_diff = sum(1 for r in rows if r[2])
    m_diff = sum(1 for r in methods if r[2])
    out = [
        "# NumPy, math and builtin coverage",
        "",
        (f"Generated by `tools/coverage.py` (`make docs`) with NumPy "
         f"{np.__version__.split('.')[0]}; do not edit by hand."),
        "",
        (f"**{len(rows) + len(methods)} callables in total**: {len(rows)} names of functions "
         f"({objects} distinct objects), {n_diff} of them differentiable, and {len(methods)} "
         f"array methods, {m_diff} of them differentiable."),
        "",
        ("Differentiable callables have tangent and adjoint rules, tested in both modes; the "
         "others are usable in differentiated code with a zero derivative (rounding, tests) or "
         "none (indices)."),
        "",
        ("Functions with several results (`np.linalg.eigh`, `np.linalg.qr`, `np.linalg.svd`, "
         "`np.linalg.slogdet`, `np.linalg.lstsq`, `np.split` and its kin) are one primitive "
         "each, printed as NumPy writes them (`w, v = np.linalg.eigh(a)`); their rules skip "
         "the results nothing reads. The derivatives of `np.linalg.lstsq` (tall, square or "
         "wide `a`, `rcond=None` or a constant) assume `a` of full rank, as autograd and JAX "
         "do; its residuals, filled only for a tall `a` of full rank, are differentiable where "
         "NumPy fills them."),
        "",
        ("Not covered yet: `np.linalg.qr` modes other than `reduced`, `np.linalg.svd` with "
         "`hermitian=True`, `np.einsum` with `...`, `np.pad` modes other than `constant`, "
         "array `repeats`."),
        "",
        "## Functions",
        "",
        "| callable | lowers to | differentiable |",
        "| --- | --- | --- |",
        *[r[1] for r in rows],
        "",
        "## Array methods",
        "",
        "| method | lowers to | differentiable |",
        "| --- | --- | --- |",
        *[m[1] for m in methods],
    ]
    return "\n".join(out) + "\n"


def main() -> None:
    print(render(), end="")


if __name__ == "__main__":
    main()
