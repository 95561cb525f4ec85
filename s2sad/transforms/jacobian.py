"""The Jacobian as code: vector forward mode seeded with the identity, inside one function.

``s2sad.jacobian(f)`` called at the top level picks forward or reverse mode at run time and
falls back to column sweeps where it must.  When the Jacobian is itself differentiated
(``jacobian(jacobian(f))``, ``grad`` of a function that calls ``jacobian(f)``, a Hessian
differentiated again), s2sad needs it as IR.  This pass builds that IR: for each argument x
in `wrt`, the vector-mode tangent code of `fn` (:mod:`.jvp` then :mod:`.batch`) runs on the
unit directions of x, and the batch of output tangents is rearranged into ``out.shape +
x.shape``::

    x_dot = jacobian_seed(x)                 # (x.size,) + x.shape
    ... tangent code, a leading batch axis on every tangent ...
    J = jacobian_block(out_dot, out, x)       # out.shape + x.shape

The three helpers are primitives with rules (the seed is constant, block and unblock are each
other's transpose), so the result can be differentiated again in either mode.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..batching import BatchError
from ..errors import NotDifferentiable, TypeMismatch
from ..ir import Block, Function, Var, fresh_copy, is_float
from ..rules import Builder, Sym, apply, building
from .batch import batch
from .dce import dce
from .jvp import jvp
from .simplify import simplify


def jacobian(fn: Function, wrt: Sequence[int]) -> Function:
    """A function of `fn`'s parameters returning, for each result of `fn` and each parameter
    in `wrt`, the block d result / d parameter (nested as `fn`'s results, then by `wrt`)."""
    n, m = len(fn.params), len(fn.results)
    for r in fn.results:
        if not is_float(r.type):
            raise TypeMismatch(f"the Jacobian of a function with a {r.type} result: every result "
                               "must be a float or a float array")
    b = Builder(fn.loc)
    blocks: list[list[Any]] = [[] for _ in range(m)]
    with building(b):
        for i in wrt:
            try:
                sweep = vector_jvp(fn, [i])
            except BatchError as exc:
                raise NotDifferentiable(
                    f"a Jacobian of {fn.name} that is differentiated again or called inside "
                    f"differentiated code is built in vector forward mode, and {exc.message}",
                    exc.loc, "differentiate the function itself: s2sad.hessian(f), "
                    "s2sad.jacobian(s2sad.grad(f)), s2sad.grad(s2sad.grad(f))") from None
            x = fn.params[i]
            seed = apply("jacobian_seed", Sym(x), hint=f"{x.hint or 'x'}_dot")
            # each sweep recomputes the primal values, so it gets variables of its own
            body, renamed = fresh_copy(sweep.body.stmts, {sweep.params[n].id: seed.atom})
            b.stmts.extend(body)
            results = [renamed.get(a.id, a) if isinstance(a, Var) else a for a in sweep.results]
            for j in range(m):
                out, dot = results[j], results[m + j]
                name = fn.result_names[j] if j < len(fn.result_names) else None
                blocks[j].append(apply("jacobian_block", Sym(dot), Sym(out), Sym(x),
                                       hint=f"d{name or 'out'}_d{x.hint or 'x'}").atom)
    single = len(wrt) == 1
    leaf_tree = None if single else (None,) * len(wrt)
    if fn.result_tree is None and m == 1:
        tree = None if single else leaf_tree
    else:
        tree = _nest(fn.result_tree if fn.result_tree is not None else (None,) * m, leaf_tree)
    return fn.replace(name=f"{fn.name}_jacobian", body=Block(tuple(b.stmts)),
                      results=tuple(a for row in blocks for a in row), result_tree=tree,
                      result_names=(), mirrors=())


def vector_jvp(fn: Function, wrt: Sequence[int]) -> Function:
    """Vector forward mode: the tangent code of `fn` for the parameters `wrt`, each tangent
    a batch of directions along a new leading axis (the parameters after `fn`'s own, the
    results after its own)."""
    n, m = len(fn.params), len(fn.results)
    return batch(dce(simplify(jvp(fn, wrt))), range(n, n + len(wrt)), range(m, 2 * m))


def _nest(tree: Any, leaf: Any) -> Any:
    """`tree` with each leaf replaced by `leaf`."""
    if tree is None:
        return leaf
    return tuple(_nest(t, leaf) for t in tree)
