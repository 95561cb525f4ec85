"""s2sad: source-to-source automatic differentiation for Python and NumPy.

    >>> import s2sad
    >>> def f(x, y):
    ...     return x * x * y + y + 2
    >>> s2sad.grad(f, wrt=(0, 1))(3.0, 4.0)
    (24.0, 10.0)
"""

from .api import VERSION as __version__
from .api import (
    config,
    emit,
    grad,
    hessian,
    hvp,
    jacobian,
    jvp,
    source_map,
    value_and_grad,
    vjp,
    wengert,
)
from .check import check_grads
from .custom import custom_adjoint, custom_tangent
from .errors import (
    GradCheckError,
    IRError,
    NoRuleError,
    NotDifferentiable,
    S2SADError,
    SourceError,
    TypeMismatch,
    UnsupportedSyntax,
)
from .explain import explain
from .runtime import grad_of, stop_gradient

__all__ = [
    "GradCheckError",
    "IRError",
    "NoRuleError",
    "NotDifferentiable",
    "S2SADError",
    "SourceError",
    "TypeMismatch",
    "UnsupportedSyntax",
    "__version__",
    "check_grads",
    "config",
    "custom_adjoint",
    "custom_tangent",
    "emit",
    "explain",
    "grad",
    "grad_of",
    "hessian",
    "hvp",
    "jacobian",
    "jvp",
    "source_map",
    "stop_gradient",
    "value_and_grad",
    "vjp",
    "wengert",
]
