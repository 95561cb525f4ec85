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
- ``svd`` has distinct, nonzero singular values.  With ``full_matrices=True`` (NumPy's
  default) and a non-square matrix, the singular values have a first derivative (the rules
  use the first min(m, n) columns of U and rows of V^T); U and V^T themselves, whose extra
  columns are not unique, have one only for square matrices, and otherwise NumPy raises a
  shape error inside the rule.
- ``slogdet``: the sign is piecewise constant, its derivative is zero.
- ``lstsq`` (``x, residuals, rank, sv = np.linalg.lstsq(a, b, rcond)``, ``a`` one matrix, ``b``
  a vector or a matrix of right-hand sides): the derivatives assume ``a`` has full rank (as
  autograd and JAX do) and that the rank does not change nearby, so ``x = pinv(a) b``: the
  least-squares solution for a tall or square ``a``, the minimum-norm one for a wide one.
  ``residuals`` (``sum(r**2, axis=0)`` with ``r = b - a x``) is filled only when ``a`` is tall
  and of full rank, and empty otherwise; the rules follow it at run time, so its derivative is
  empty too.  ``rank`` is an integer, and ``sv`` the singular values, with the rules of
  ``np.linalg.svd(a, compute_uv=False)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .ir import Array, Scalar, Ty
from .prims import _swap_last, expand_dims, matmul, outer, size, sum_
from .prims_numpy import (
    _concatenate,
    _drop_last_two,
    _inv,
    _lower_adjoint,
    _min_one,
    _ones_of,
    _svdvals_jvp,
    _svdvals_vjp,
    _sym_lower,
    _tril,
    _zeros,
)
from .rules import DYNAMIC, Emit, S, Sym, apply, axis_index, bind, const_value, defprim, promote
from .runtime import Dyn

DYN0 = Dyn(0)  # the one run-time operand of an index
from .runtime import Dyn

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


def _lstsq_type(types: Sequence[Ty], params: dict[str, Any]) -> tuple[Ty, ...]:
    """x shaped (n,) or (n, k) like b, the residuals (k of them, 1 for a vector b, or none),
    the rank (NumPy's C int) and the min(m, n) singular values of the m x n matrix a."""
    dt = promote(types, to_float=True)
    ao, bo = _ones_of(types[0]), _ones_of(types[1])
    m, n = ao if ao is not None and len(ao) == 2 else (None, None)
    x = Array(dt, (n,) + bo[1:]) if bo is not None and len(bo) in (1, 2) else Array(dt, None)
    return x, Array(dt, (None,)), Scalar("int32", weak=False), Array(dt, (_min_one(m, n),))


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
        k = axis_index(axis, len(ones))
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


def _reduced(u: Sym, s: Sym, vh: Sym) -> tuple[Sym, Sym]:
    """The first min(m, n) columns of U and rows of V^T, all the singular values speak of."""
    k = apply("getitem", apply("shape", s), spec=(-1,))
    return (apply("getitem", u, k, spec=(Ellipsis, slice(None, DYN0))),
            apply("getitem", vh, k, spec=(Ellipsis, slice(None, DYN0), slice(None))))


def _svd_jvp(g: Sym, ans: tuple[Sym, Sym, Sym], a: Sym,
             full_matrices: Any = True) -> tuple[Sym, Sym, Sym]:
    u, s, vh = ans
    ur, vhr = _reduced(u, s, vh) if full_matrices is not False else (u, vh)
    ds = sum_(ur * matmul(g, _swap_last(vhr)), axis=-2)  # diag(U^T dA V), also for a full U
    v = _swap_last(vh)
    f = _gaps(s * s)
    av = matmul(g, v)                                     # dA V
    p = matmul(_swap_last(u), av)                         # U^T dA V
    col, row = expand_dims(s, -2), expand_dims(s, -1)     # S on the right / on the left
    pt = _swap_last(p)
    du = matmul(u, f * (p * col + row * pt)) + (av - matmul(u, p)) / col
    atu = matmul(_swap_last(g), u)                        # dA^T U
    dv = matmul(v, f * (row * p + pt * col)) + (atu - matmul(v, pt)) / col
    return du, ds, _swap_last(dv)


def _svd_vjp(g: tuple[Sym | None, Sym | None, Sym | None], ans: tuple[Sym, Sym, Sym], a: Sym,
             full_matrices: Any = True) -> Sym:
    (gu, gs, gvh), (u, s, vh) = g, ans
    if gu is None and gvh is None and full_matrices is not False:  # singular values only
        u, vh = _reduced(u, s, vh)
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


def _columns_outer(u: Sym, v: Sym) -> Sym:
    """u v^T, column by column: np.outer for vectors (a vector b), u @ v.T for matrices."""
    return outer(u, v) if u.ndim == 1 else matmul(u, _swap_last(v))


def _lstsq_residual(a: Sym, b: Sym, x: Sym) -> tuple[Sym, bool]:
    """r = b - a x, and whether b is a vector (its residual is then a 1-vector)."""
    return b - matmul(a, x), b.ndim == 1


def _filled(full: Sym, res: Sym) -> Sym:
    """``full[:res.size]``: the tangent of the residuals where NumPy filled them (all k of
    them for a tall matrix of full rank), nothing where it returned an empty array."""
    return apply("getitem", full, size(res), spec=(slice(None, Dyn(0)),))


def _lstsq_jvp_a(g: Sym, ans: tuple[Sym, ...], a: Sym, b: Sym,
                 rcond: Any = None) -> tuple[Sym, Sym, None, Sym]:
    # dx = P (db - dA x) + P P^T dA^T r + (I - P A) dA^T P^T x, P = pinv(a), r = b - a x
    x, res, _rank, _sv = ans
    p = apply("pinv", a)
    r, vector = _lstsq_residual(a, b, x)
    gx = matmul(g, x)                                        # dA x
    w = matmul(_swap_last(g), matmul(_swap_last(p), x))      # dA^T P^T x
    dx = matmul(p, matmul(_swap_last(p), matmul(_swap_last(g), r)) - gx - matmul(a, w)) + w
    # d sum(r**2) = 2 r^T dr = 2 r^T (db - dA x), since a^T r = 0 when residuals are filled
    dres = -2.0 * sum_(r * gx, axis=0, keepdims=vector)
    return dx, _filled(dres, res), None, _svdvals_jvp(g, None, a)  # type: ignore[arg-type]


def _lstsq_jvp_b(g: Sym, ans: tuple[Sym, ...], a: Sym, b: Sym,
                 rcond: Any = None) -> tuple[Sym, Sym, None, None]:
    x, res, _rank, _sv = ans
    r, vector = _lstsq_residual(a, b, x)
    dres = 2.0 * sum_(r * g, axis=0, keepdims=vector)
    return matmul(apply("pinv", a), g), _filled(dres, res), None, None


def _lstsq_vjp(g: tuple[Sym | None, ...], ans: tuple[Sym, ...], a: Sym, b: Sym,
               wrt_a: bool) -> Sym | None:
    """The transpose of the tangent rules, with P = pinv(a) and r = b - a x:
    b_bar = q = P^T gx + 2 r gres, and a_bar = -q x^T + r (P P^T gx)^T + P^T x (gx - a^T P^T gx)^T
    (the last two from P P^T dA^T r + (I - P A) dA^T P^T x), plus the singular values' term."""
    (gx, gres, _grank, gsv), (x, _res, _rank, _sv) = g, ans
    q = pg = p = r = None
    vector = b.ndim == 1
    if gres is not None or (wrt_a and gx is not None):
        r, _ = _lstsq_residual(a, b, x)
    if gx is not None:
        p = apply("pinv", a)
        q = pg = matmul(_swap_last(p), gx)
    if gres is not None:
        assert r is not None
        full = sum_(r * r, axis=0, keepdims=vector)  # the residuals of a tall a of full rank
        # gres where NumPy filled the residuals, zeros for those it left out (all or none)
        padded = apply("scatter", gres, full, size(gres), spec=(slice(None, Dyn(0)),))
        q = 2.0 * r * padded if q is None else q + 2.0 * r * padded
    if not wrt_a:
        return q
    terms = [] if q is None else [-_columns_outer(q, x)]
    if gx is not None:
        assert p is not None and pg is not None and r is not None
        terms.append(_columns_outer(r, matmul(p, pg)))
        terms.append(_columns_outer(matmul(_swap_last(p), x), gx - matmul(_swap_last(a), pg)))
    if gsv is not None:
        terms.append(_svdvals_vjp(gsv, None, a))  # type: ignore[arg-type]
    total = None
    for term in terms:
        total = term if total is None else total + term
    return total


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
# rcond's default is one no call passes, so it is always printed (NumPy 1 warns without it).
defprim("lstsq", np.linalg.lstsq, arity=2, params=(("rcond", "warn"),), infer=_lstsq_type,
        emit=Emit("call", "np.linalg.lstsq"), jvp=[_lstsq_jvp_a, _lstsq_jvp_b],
        vjp=[lambda g, ans, a, b, rcond=None: _lstsq_vjp(g, ans, a, b, True),
             lambda g, ans, a, b, rcond=None: _lstsq_vjp(g, ans, a, b, False)], multi=True)
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


def _lstsq_surface(a: Any, b: Any, rcond: Any = None) -> Any:
    value = const_value(rcond)
    if not (value is None or isinstance(value, (int, float, np.integer, np.floating)) and
            not isinstance(value, (bool, np.bool_))):
        raise TypeError("np.linalg.lstsq takes rcond=None or a number known when the code is "
                        "generated")
    a, b = S(a), S(b)
    if a.ndim not in (None, 2) or b.ndim not in (None, 1, 2):
        raise TypeError("np.linalg.lstsq takes one matrix `a` and a vector or a matrix `b`")
    return apply("lstsq", a, b, rcond=None if value is None else float(value))


bind(np.split, _split("split"))
bind(np.array_split, _split("array_split"))
bind(np.hsplit, lambda x, s: _split("split", None)(x, s))
bind(np.vsplit, lambda x, s: _split("split", 0)(x, s))
bind(np.dsplit, lambda x, s: _split("split", 2)(x, s))
bind(np.linalg.eigh, _eigh_surface)
bind(np.linalg.qr, _qr_surface)
bind(np.linalg.svd, _svd_surface)
bind(np.linalg.slogdet, lambda a: apply("slogdet", a))
bind(np.linalg.lstsq, _lstsq_surface)
