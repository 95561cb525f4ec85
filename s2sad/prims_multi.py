"""NumPy functions with several results: factorisations and splits (issue 4).

Each is one primitive with one equation and several results, printed as NumPy writes it
(``w, v = np.linalg.eigh(a)``).  Its tangent rule returns one tangent per result, and its
adjoint rule receives the tuple of the results' cotangents, None for a result that no
cotangent reached, so a loss that reads only the eigenvalues pays nothing for the vectors.

Conventions, as in the literature (Giles 2008, "An extended collection of matrix derivative
results"; Townsend 2016, "Differentiating the singular value decomposition"):

- ``eigh`` reads the lower triangle only (as LAPACK does), so derivatives treat the input as
  the symmetric matrix that triangle stands for and adjoints land in that triangle.
  Eigenvalues are assumed distinct; with a repeated eigenvalue the vectors have no derivative
  and the rules divide by zero (NumPy then gives inf or nan, never a quiet wrong number).
- ``qr`` is the reduced factorisation of a square or tall matrix; for a wide one the rules'
  solve with the non-square R raises NumPy's LinAlgError.
- ``svd`` has distinct, nonzero singular values; with ``full_matrices=True`` only square
  matrices have a derivative (the extra columns of U or V are not unique), otherwise NumPy
  raises a shape error inside the rule.
- ``slogdet``: the sign is piecewise constant, its derivative is zero.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .ir import Array, Scalar, Ty
from .prims import _swap_last, expand_dims, matmul, sum_
from .prims_numpy import (
    _concatenate,
    _drop_last_two,
    _inv,
    _lower_adjoint,
    _min_one,
    _ones_of,
    _sym_lower,
    _tril,
    _zeros,
)
from .rules import DYNAMIC, Emit, S, Sym, apply, bind, defprim, promote

# ------------------------------------------------------------------------------------- types


def _float_dtype(t: Ty) -> str:
    return promote([t], to_float=True)


def _matrix_dims(a: Ty) -> tuple[str, tuple[bool | None, ...] | None, bool | None, bool | None]:
    """dtype, batch axes, and whether each of the last two lengths is 1."""
    ones = _ones_of(a)
    if ones is None or len(ones) < 2:
        return _float_dtype(a), None, None, None
    return _float_dtype(a), ones[:-2], ones[-2], ones[-1]


def _eigh_type(types: Sequence[Ty], params: dict[str, Any]) -> tuple[Ty, ...]:
    dt, batch, _, n = _matrix_dims(types[0])
    if batch is None:
        return Array(dt, None), Array(dt, None)
    return Array(dt, batch + (n,)), Array(dt, batch + (n, n))


def _qr_type(types: Sequence[Ty], params: dict[str, Any]) -> tuple[Ty, ...]:
    dt, batch, m, n = _matrix_dims(types[0])
    if batch is None:
        return Array(dt, None), Array(dt, None)
    k = _min_one(m, n)
    return Array(dt, batch + (m, k)), Array(dt, batch + (k, n))


def _svd_type(types: Sequence[Ty], params: dict[str, Any]) -> tuple[Ty, ...]:
    dt, batch, m, n = _matrix_dims(types[0])
    if batch is None:
        return Array(dt, None), Array(dt, None), Array(dt, None)
    k = _min_one(m, n)
    full = params.get("full_matrices") is not False
    return (Array(dt, batch + (m, m if full else k)), Array(dt, batch + (k,)),
            Array(dt, batch + (n if full else k, n)))


def _slogdet_type(types: Sequence[Ty], params: dict[str, Any]) -> tuple[Ty, ...]:
    t = _drop_last_two(types, params)
    return t, t


def _pieces(params: dict[str, Any]) -> int:
    sections = params["sections"]
    return sections if isinstance(sections, int) else len(sections) + 1


def _split_type(types: Sequence[Ty], params: dict[str, Any]) -> tuple[Ty, ...]:
    x, axis = types[0], params["axis"]
    ones = _ones_of(x)
    dt = x.dtype if isinstance(x, (Array, Scalar)) else "float64"
    if ones is None or axis is DYNAMIC:
        piece = Array(dt, None)
    else:
        k = axis % len(ones)
        piece = Array(dt, tuple(None if i == k else o for i, o in enumerate(ones)))
    return (piece,) * _pieces(params)


# ------------------------------------------------------------------------------------- rules


def _gaps(w: Sym) -> Sym:
    """F with F[i, j] = 1 / (w[j] - w[i]) off the diagonal and 0 on it."""
    d = expand_dims(w, -2) - expand_dims(w, -1)
    return d / (d * d + apply("eq", d, 0.0))


def _eigh_jvp(g: Sym, ans: tuple[Sym, Sym], a: Sym) -> tuple[Sym, Sym]:
    w, v = ans
    ev = matmul(_sym_lower(g), v)
    return sum_(v * ev, axis=-2), matmul(v, _gaps(w) * matmul(_swap_last(v), ev))


def _eigh_vjp(g: tuple[Sym | None, Sym | None], ans: tuple[Sym, Sym], a: Sym) -> Sym:
    (gw, gv), (w, v) = g, ans
    terms = []
    if gw is not None:
        terms.append(matmul(v * expand_dims(gw, -2), _swap_last(v)))
    if gv is not None:
        terms.append(matmul(matmul(v, _gaps(w) * matmul(_swap_last(v), gv)), _swap_last(v)))
    return _lower_adjoint(terms[0] if len(terms) == 1 else terms[0] + terms[1])


def _qr_jvp(g: Sym, ans: tuple[Sym, Sym], a: Sym) -> tuple[Sym, Sym]:
    q, r = ans
    x = matmul(g, _inv(r))             # dA R^-1
    c = matmul(_swap_last(q), x)       # Q^T dA R^-1 = (skew part) + (upper part)
    low = _tril(c, -1)
    omega = low - _swap_last(low)
    return matmul(q, omega - c) + x, matmul(c - omega, r)


def _qr_vjp(g: tuple[Sym | None, Sym | None], ans: tuple[Sym, Sym], a: Sym) -> Sym:
    (gq, gr), (q, r) = g, ans
    m = matmul(r, _swap_last(gr)) if gr is not None else None
    if gq is not None:
        m = -matmul(_swap_last(gq), q) if m is None else m - matmul(_swap_last(gq), q)
    b = matmul(q, _sym_lower(m))  # type: ignore[arg-type]
    if gq is not None:
        b = gq + b
    return matmul(b, _swap_last(_inv(r)))


def _svd_jvp(g: Sym, ans: tuple[Sym, Sym, Sym], a: Sym,
             full_matrices: Any = True) -> tuple[Sym, Sym, Sym]:
    u, s, vh = ans
    v = _swap_last(vh)
    f = _gaps(s * s)
    av = matmul(g, v)                                     # dA V
    p = matmul(_swap_last(u), av)                         # U^T dA V
    col, row = expand_dims(s, -2), expand_dims(s, -1)     # S on the right / on the left
    pt = _swap_last(p)
    du = matmul(u, f * (p * col + row * pt)) + (av - matmul(u, p)) / col
    atu = matmul(_swap_last(g), u)                        # dA^T U
    dv = matmul(v, f * (row * p + pt * col)) + (atu - matmul(v, pt)) / col
    return du, sum_(u * av, axis=-2), _swap_last(dv)


def _svd_vjp(g: tuple[Sym | None, Sym | None, Sym | None], ans: tuple[Sym, Sym, Sym], a: Sym,
             full_matrices: Any = True) -> Sym:
    (gu, gs, gvh), (u, s, vh) = g, ans
    v = _swap_last(vh)
    f = _gaps(s * s)
    col, row = expand_dims(s, -2), expand_dims(s, -1)
    inner: Sym | None = None
    outer: Sym | None = None
    if gu is not None:
        ug = matmul(_swap_last(u), gu)
        inner = (f * (ug - _swap_last(ug))) * col
        outer = matmul((gu - matmul(u, ug)) / col, vh)  # (I - U U^T) dU S^-1 V^T
    if gs is not None:
        d = v * expand_dims(gs, -2)
        term = matmul(u, _swap_last(d))
        outer = term if outer is None else outer + term
    if gvh is not None:
        gv = _swap_last(gvh)
        vg = matmul(vh, gv)
        side = row * (f * (vg - _swap_last(vg)))
        inner = side if inner is None else inner + side
        term = matmul(u / col, _swap_last(gv - matmul(v, vg)))  # U S^-1 dV^T (I - V V^T)
        outer = term if outer is None else outer + term
    if inner is not None:
        term = matmul(matmul(u, inner), vh)
        outer = term if outer is None else outer + term
    return outer  # type: ignore[return-value]


def _slogdet_jvp(g: Sym, ans: tuple[Sym, Sym], a: Sym) -> tuple[None, Sym]:
    return None, sum_(_swap_last(_inv(a)) * g, axis=(-2, -1))


def _slogdet_vjp(g: tuple[Sym | None, Sym | None], ans: tuple[Sym, Sym], a: Sym) -> Sym | None:
    glog = g[1]
    if glog is None:
        return None  # only the sign has a cotangent, and its derivative is zero
    if glog.is_array:
        glog = expand_dims(glog, (-2, -1))
    return glog * _swap_last(_inv(a))


def _split_rules(name: str) -> tuple[Any, Any]:
    def tangent(g: Sym, ans: tuple[Sym, ...], x: Sym, sections: Any = None,
                axis: Any = 0) -> tuple[Sym, ...]:
        return apply(name, g, sections=sections, axis=axis)  # type: ignore[return-value]

    def adjoint(g: tuple[Sym | None, ...], ans: tuple[Sym, ...], x: Sym, sections: Any = None,
                axis: Any = 0) -> Sym:
        return _concatenate([gi if gi is not None else _zeros(p) for gi, p in zip(g, ans)], axis)
    return tangent, adjoint


defprim("eigh", np.linalg.eigh, infer=_eigh_type, emit=Emit("call", "np.linalg.eigh"),
        jvp=[_eigh_jvp], vjp=[_eigh_vjp], multi=True)
defprim("qr", np.linalg.qr, infer=_qr_type, emit=Emit("call", "np.linalg.qr"),
        jvp=[_qr_jvp], vjp=[_qr_vjp], multi=True)
defprim("svd", np.linalg.svd, params=(("full_matrices", True),), infer=_svd_type,
        emit=Emit("call", "np.linalg.svd"), jvp=[_svd_jvp], vjp=[_svd_vjp], multi=True)
defprim("slogdet", np.linalg.slogdet, infer=_slogdet_type,
        emit=Emit("call", "np.linalg.slogdet"), jvp=[_slogdet_jvp], vjp=[_slogdet_vjp],
        multi=True)
for _name, _impl in (("split", np.split), ("array_split", np.array_split)):
    _tangent, _adjoint = _split_rules(_name)
    defprim(_name, _impl, params=(("sections", None), ("axis", 0)), infer=_split_type,
            emit=Emit("call", f"np.{_name}", positional=("sections",)), jvp=[_tangent],
            vjp=[_adjoint], multi=True)

# ------------------------------------------------------------------ surface: what users call


def _split(name: str, default_axis: int | None = 0) -> Any:
    def surface(x: Any, indices_or_sections: Any, axis: int | None = default_axis) -> tuple[Sym, ...]:
        x = S(x)
        if axis is None:  # hsplit: the columns, or the items of a vector
            axis = 0 if x.ndim == 1 else 1
        if isinstance(indices_or_sections, (list, tuple)) and \
                all(isinstance(i, (int, np.integer)) for i in indices_or_sections):
            sections: Any = tuple(int(i) for i in indices_or_sections)
        elif isinstance(indices_or_sections, (int, np.integer)):
            sections = int(indices_or_sections)
        else:
            raise TypeError("the sections must be a number or a list of indices known when the "
                            "code is generated")
        return apply(name, x, sections=sections, axis=axis)  # type: ignore[return-value]
    return surface


def _svd_surface(a: Any, full_matrices: bool = True, compute_uv: bool = True,
                 hermitian: bool = False) -> Any:
    if hermitian:
        raise TypeError("hermitian=True is not supported; use np.linalg.eigh")
    if not compute_uv:
        return apply("svdvals", a, compute_uv=False)
    return apply("svd", a, full_matrices=bool(full_matrices))


def _qr_surface(a: Any, mode: str = "reduced") -> Any:
    if mode != "reduced":
        raise TypeError(f"np.linalg.qr(mode={mode!r}) is not supported; the reduced mode is")
    return apply("qr", a)


def _eigh_surface(a: Any, UPLO: str = "L") -> Any:
    if UPLO != "L":
        raise TypeError("only np.linalg.eigh(a, UPLO='L') is supported")
    return apply("eigh", a)


bind(np.split, _split("split"))
bind(np.array_split, _split("array_split"))
bind(np.hsplit, lambda x, s: _split("split", None)(x, s))
bind(np.vsplit, lambda x, s: _split("split", 0)(x, s))
bind(np.dsplit, lambda x, s: _split("split", 2)(x, s))
bind(np.linalg.eigh, _eigh_surface)
bind(np.linalg.qr, _qr_surface)
bind(np.linalg.svd, _svd_surface)
bind(np.linalg.slogdet, lambda a: apply("slogdet", a))
