"""SciPy special functions (issue 4), registered only when SciPy is installed.

SciPy is not a dependency of s2sad: :mod:`s2sad.prims_numpy` imports this module from its
last line only when ``import scipy.special`` succeeds.  The conventions are those of
:mod:`s2sad.prims`: one ``defprim`` entry per primitive, with its type, printing and rules,
then the callables users write bound at the end.  Generated code calls SciPy by its public
name (``scipy.special.expit(x)``); it gets the name ``scipy`` from s2sad (see
:mod:`s2sad.compile`), so it runs also where the user's module did
``from scipy.special import expit`` only.

``scipy.special.erf`` is the ``erf`` primitive of :mod:`s2sad.prims` (which already calls
SciPy's erf on arrays when SciPy is installed).
"""

from __future__ import annotations

import math
from typing import Any

import scipy.special

from .prims import _reduce_float_type, _regrow, exp, log, sum_, where
from .rules import Emit, S, Sym, apply, bind, defprim, same_as_first


def _special(name: str) -> Emit:
    return Emit("call", f"scipy.special.{name}")


def _eq0(x: Sym) -> Sym:
    return apply("eq", x, 0.0)


# ------------------------------------------------------------------------------ elementwise

_SQRT_PI = math.sqrt(math.pi)

# expit(x) = 1 / (1 + exp(-x)), whose derivative is expit(x) (1 - expit(x)).
defprim("expit", scipy.special.expit, emit=_special("expit"),
        lin=[lambda g, ans, x: g * (ans * (1.0 - ans))])
# logit(p) = log(p / (1 - p)) on (0, 1).
defprim("logit", scipy.special.logit, emit=_special("logit"),
        lin=[lambda g, ans, p: g / (p * (1.0 - p))])
defprim("erfc", scipy.special.erfc, emit=_special("erfc"),
        lin=[lambda g, ans, x: g * (-2.0 / _SQRT_PI) * exp(-(x * x))])
# The inverses: erf(y) = x gives dy/dx = sqrt(pi) / 2 exp(y^2) (erfinv on (-1, 1), erfcinv on
# (0, 2), with the opposite sign).
defprim("erfinv", scipy.special.erfinv, emit=_special("erfinv"),
        lin=[lambda g, ans, x: g * (_SQRT_PI / 2.0) * exp(ans * ans)])
defprim("erfcinv", scipy.special.erfcinv, emit=_special("erfcinv"),
        lin=[lambda g, ans, x: g * (-_SQRT_PI / 2.0) * exp(ans * ans)])
# log |Gamma(x)| and its derivatives: gammaln' = digamma, digamma' = polygamma(1, .), and
# polygamma(n, .)' = polygamma(n + 1, .).  polygamma is differentiated in x only (n is an order).
defprim("polygamma", scipy.special.polygamma, arity=2, emit=_special("polygamma"),
        lin=[None, lambda g, ans, n, x: g * apply("polygamma", S(n) + 1, x)])
defprim("digamma", scipy.special.digamma, emit=_special("digamma"),
        lin=[lambda g, ans, x: g * apply("polygamma", 1, x)])
defprim("gammaln", scipy.special.gammaln, emit=_special("gammaln"),
        lin=[lambda g, ans, x: g * apply("digamma", x)])


def _nonzero_over(x: Sym, y: Sym) -> Sym:
    """``x / y``, and 0 where x is 0 (also where y is): xlogy(0, y) is 0 for every y."""
    return x / where(_eq0(x), 1.0, y)


# xlogy(x, y) = x log(y) and xlog1py(x, y) = x log1p(y), both 0 where x = 0 whatever y is;
# there the derivative in y is 0 too (convention: the value does not move along x = 0).
defprim("xlogy", scipy.special.xlogy, arity=2, emit=_special("xlogy"),
        lin=[lambda g, ans, x, y: g * log(y), lambda g, ans, x, y: g * _nonzero_over(x, y)])
defprim("xlog1py", scipy.special.xlog1py, arity=2, emit=_special("xlog1py"),
        lin=[lambda g, ans, x, y: g * apply("log1p", y),
             lambda g, ans, x, y: g * _nonzero_over(x, 1.0 + y)])
# entr(x) = -x log(x) for x > 0 (0 at 0, where the derivative is +inf).
defprim("entr", scipy.special.entr, emit=_special("entr"),
        lin=[lambda g, ans, x: -g * (log(x) + 1.0)])

# ------------------------------------------------------------------------ reductions and axes

_LSE = (("axis", None), ("keepdims", False))


def _lse_weights(ans: Sym, x: Sym, axis: Any, keepdims: bool) -> Sym:
    """``exp(x - logsumexp(x))`` with the reduced axes kept: softmax over those axes."""
    return exp(x - _regrow(ans, x, axis, keepdims))


# logsumexp(x) = log(sum(exp(x))): its gradient is the softmax of x over the reduced axes.
defprim("logsumexp", scipy.special.logsumexp, params=_LSE, infer=_reduce_float_type,
        emit=_special("logsumexp"),
        jvp=[lambda g, ans, x, axis=None, keepdims=False:
             sum_(g * _lse_weights(ans, x, axis, keepdims), axis=axis, keepdims=keepdims)],
        vjp=[lambda g, ans, x, axis=None, keepdims=False:
             _regrow(g, x, axis, keepdims) * _lse_weights(ans, x, axis, keepdims)])


# softmax(x) = exp(x) / sum(exp(x)) over `axis` (every entry when None); its Jacobian
# diag(s) - s s^T is symmetric, so both modes share one rule.
def _softmax_rule(g: Sym, ans: Sym, x: Sym, axis: Any = None) -> Sym:
    return ans * (g - sum_(g * ans, axis=axis, keepdims=True))


defprim("softmax", scipy.special.softmax, params=(("axis", None),), infer=same_as_first,
        emit=_special("softmax"), jvp=[_softmax_rule], vjp=[_softmax_rule])
# log_softmax(x) = x - logsumexp(x): the tangent subtracts the softmax average of g; the
# adjoint subtracts softmax times the sum of g.
defprim("log_softmax", scipy.special.log_softmax, params=(("axis", None),), infer=same_as_first,
        emit=_special("log_softmax"),
        jvp=[lambda g, ans, x, axis=None: g - sum_(g * exp(ans), axis=axis, keepdims=True)],
        vjp=[lambda g, ans, x, axis=None: g - exp(ans) * sum_(g, axis=axis, keepdims=True)])

# ------------------------------------------------------------------ surface: what users call


def _unary(name: str) -> Any:
    return lambda x: apply(name, x)


def _logsumexp(a: Any, axis: Any = None, b: Any = None, keepdims: bool = False,
               return_sign: bool = False) -> Sym:
    if b is not None or return_sign:
        raise TypeError("scipy.special.logsumexp with b= or return_sign=True is not supported")
    return apply("logsumexp", a, axis=tuple(axis) if isinstance(axis, list) else axis,
                 keepdims=keepdims)


def _polygamma(n: Any, x: Any) -> Sym:
    return apply("polygamma", apply("stop_gradient", n) if isinstance(n, Sym) else n, x)


for _prim, _objs in [
    ("expit", (scipy.special.expit,)), ("logit", (scipy.special.logit,)),
    ("erf", (scipy.special.erf,)), ("erfc", (scipy.special.erfc,)),
    ("erfinv", (scipy.special.erfinv,)), ("erfcinv", (scipy.special.erfcinv,)),
    ("gammaln", (scipy.special.gammaln,)),
    ("digamma", (scipy.special.digamma,)),  # also scipy.special.psi
    ("entr", (scipy.special.entr,)),
]:
    bind(_objs, _unary(_prim))
bind(scipy.special.xlogy, lambda x, y: apply("xlogy", x, y))
bind(scipy.special.xlog1py, lambda x, y: apply("xlog1py", x, y))
bind(scipy.special.polygamma, _polygamma)
bind(scipy.special.logsumexp, _logsumexp)
bind(scipy.special.softmax, lambda x, axis=None: apply("softmax", x, axis=axis))
bind(scipy.special.log_softmax, lambda x, axis=None: apply("log_softmax", x, axis=axis))
