"""Print docs/numpy-coverage.md: every callable and array method s2sad has a rule for.

Usage: ``python tools/coverage.py > docs/numpy-coverage.md`` (``make docs``).
``tests/test_docs.py`` fails when the file differs from this output, on every NumPy the
project admits (``make test-all``): names only some releases have are listed in ``VERSIONED``.

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
from s2sad.custom import USER_RULES
from s2sad.ir import Array, Scalar, Var
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
    "np.row_stack": lambda: (((_matrix(), _matrix()),), {}),  # as np.vstack, which it is
    "np.convolve": lambda: ((_vector(), _vector()), {}),
    "np.interp": lambda: ((_matrix(), _vector(), _vector()), {}),
    "np.polyval": lambda: ((_vector(), _matrix()), {}),
    "np.quantile": lambda: ((_matrix(), 0.25), {"axis": 0}),
    "np.percentile": lambda: ((_matrix(), 25.0), {}),
    "np.cumulative_sum": lambda: ((_matrix(),), {"axis": 1}),
    "np.cumulative_prod": lambda: ((_matrix(),), {"axis": 1}),
    "np.linalg.vector_norm": lambda: ((_vector(),), {}),
    "scipy.special.polygamma": lambda: ((1, _matrix()), {}),
    ".reshape": lambda: ((_matrix(), -1), {}),
    ".astype": lambda: ((_matrix(), "float32"), {}),
    ".swapaxes": lambda: ((_matrix(), 0, 1), {}),
    ".repeat": lambda: ((_matrix(), 2), {}),
    ".take": lambda: ((_matrix(), _matrix("int64")), {"axis": 1}),
}
DEFAULTS = [((_matrix,), {}), ((_matrix, _matrix), {}), ((_matrix, _matrix, _matrix), {}),
            ((_float,), {}), ((_float, _float), {})]

# Names that only some of the NumPy releases pyproject.toml admits (1.26 to 2.x) have, each with
# the name that does the same where it is absent. The document lists them whatever NumPy runs,
# marked, so it is the same on every version; tests/test_docs.py checks, where both names
# exist, that their rows agree. A new such name shows as a stale document under `make test-all`
# on the releases that lack it: add it here.
NUMPY_2 = "NumPy 2 only"
NUMPY_1 = "NumPy 1; deprecated in 2, removed since"
VERSIONED: dict[str, tuple[str, str]] = {
    "np.acos": ("np.arccos", NUMPY_2),
    "np.acosh": ("np.arccosh", NUMPY_2),
    "np.asin": ("np.arcsin", NUMPY_2),
    "np.asinh": ("np.arcsinh", NUMPY_2),
    "np.atan": ("np.arctan", NUMPY_2),
    "np.atan2": ("np.arctan2", NUMPY_2),
    "np.atanh": ("np.arctanh", NUMPY_2),
    "np.concat": ("np.concatenate", NUMPY_2),
    "np.cumulative_prod": ("np.cumprod", NUMPY_2),
    "np.cumulative_sum": ("np.cumsum", NUMPY_2),
    "np.linalg.matrix_norm": ("np.linalg.norm", NUMPY_2),
    "np.linalg.vector_norm": ("np.linalg.norm", NUMPY_2),
    "np.permute_dims": ("np.transpose", NUMPY_2),
    "np.pow": ("np.power", NUMPY_2),
    "np.trapezoid": ("np.trapz", NUMPY_2),
    "np.trapz": ("np.trapezoid", NUMPY_1),
    "np.row_stack": ("np.vstack", NUMPY_1),
}


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


def _lowering(prims: list[str]) -> tuple[str, bool]:
    """The "lowers to" cell of a callable emitting `prims`, and whether it is differentiable."""
    if not prims:  # the identity (np.positive): its derivative is the input's
        return "(no operation)", True
    return ", ".join(f"`{p}`" for p in prims), any(REGISTRY[p].differentiable for p in prims)


def functions() -> dict[str, tuple[str, bool]]:
    """Each name of a bound callable in the running NumPy, math and SciPy: its lowering."""
    by_id = names()
    table: dict[str, tuple[str, bool]] = {}
    for key, (obj, fn) in SURFACE.items():
        if key in USER_RULES or obj in (print, breakpoint):  # not NumPy coverage: users' own
            continue                                            # rules, and debugging aids
        labels = by_id.get(key, [getattr(obj, "__qualname__", repr(obj))])
        cell = _lowering(trace(labels, fn))
        for label in labels:
            table[label] = cell
    return table


def documented() -> dict[str, tuple[str, bool]]:
    """`functions()` with every name of `VERSIONED`, the absent ones lowered as their stand-in."""
    table = functions()
    for label, (stand_in, _) in VERSIONED.items():
        if label not in table:
            if stand_in not in table:
                raise RuntimeError(f"neither {label} nor {stand_in} has a rule here")
            table[label] = table[stand_in]
    return table


def _row(label: str, cell: tuple[str, bool]) -> str:
    note = f" ({VERSIONED[label][1]})" if label in VERSIONED else ""
    return f"| `{label}`{note} | {cell[0]} | {'yes' if cell[1] else 'no'} |"


def render() -> str:
    table = documented()
    rows = [_row(label, table[label]) for label in sorted(table)]
    methods = {f"x.{name}()": _lowering(trace([f".{name}"], METHODS[name]))
               for name in sorted(METHODS)}
    n_diff = sum(1 for cell in table.values() if cell[1])
    m_diff = sum(1 for cell in methods.values() if cell[1])
    out = [
        "# NumPy, math and builtin coverage",
        "",
        "Generated by `tools/coverage.py` (`make docs`); do not edit by hand.",
        "",
        (f"**{len(rows) + len(methods)} callables in total**: {len(rows)} names of functions, "
         f"{n_diff} of them differentiable, and {len(methods)} array methods, {m_diff} of "
         "them differentiable."),
        "",
        ("The same for every NumPy from 1.26 to 2.x: names that only some of these releases "
         "have are marked, and lower like the name they stand for."),
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
        *rows,
        "",
        "## Array methods",
        "",
        "| method | lowers to | differentiable |",
        "| --- | --- | --- |",
        *[_row(name, cell) for name, cell in methods.items()],
    ]
    return "\n".join(out) + "\n"


def main() -> None:
    print(render(), end="")


if __name__ == "__main__":
    main()
