"""The public API.  The one place that composes the stages; see :func:`derive`.

Every transformed function is specialised on the kinds of its arguments (Python float or int,
NumPy scalar, array rank, dtype and which axes have length 1; other values such as strings are
baked in as constants) and cached, so the second call with the same kinds runs the generated
code straight away.
"""

from __future__ import annotations

import inspect
import types
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .batching import BatchError
from .codegen import RUNTIME_NAMES, Entry, Generated, generate, trampoline
from .compile import compile_entry, compile_generated, runtime_cells, swap_code
from .display import Source
from .errors import NotDifferentiable, TypeMismatch, UnsupportedSyntax
from .ir import Array, Function, Scalar, format_wengert, is_float
from .lower import (
    BAKED,
    KeyedTree,
    Static,
    Tree,
    baked_key,
    code_for,
    lower,
    param_locs,
    tree_spec,
)
from .parse import parse_function
from .rules import type_of_value
from .source import get_source, unwrap
from .transforms.cse import cse
from .transforms.dce import dce, user_operations
from .transforms.jacobian import jacobian as jacobian_transform
from .transforms.jacobian import vector_jvp
from .transforms.jvp import jvp as jvp_transform
from .transforms.simplify import simplify
from .transforms.vjp import vjp as vjp_transform
from .verify import verify

VERSION = "0.1.0"


@dataclass
class Config:
    """Global switches.  `verify` runs the IR verifier after every pass (the tests set it);
    `cache_size` bounds how many compiled specialisations are kept (least recently used go)."""

    verify: bool = False
    cache_size: int = 512


config = Config()

# ------------------------------------------------------------------------------- the pipeline

MODES = ("grad", "value_and_grad", "grad_aux", "value_and_grad_aux", "vjp", "jvp", "hvp",
         "primal", "vector", "jacobian")


def derive(fn: Callable[..., Any], mode: str, wrt: tuple[int, ...], specs: Sequence[Any],
           optimize: bool = True, returns: Any = None,
           chain: tuple[tuple[str, tuple[int, ...]], ...] = (), inlined: bool = False
           ) -> tuple[Function, Generated]:
    """source -> parse -> lower -> transforms -> simplify/dce -> codegen, for one signature.

    `chain` lists transforms applied before `mode` (grad of grad, jvp of grad, ...).
    `inlined`: the IR is inlined into code being made for another function.
    """
    with code_for(None if inlined else fn):
        return _derive(fn, mode, wrt, specs, optimize, returns, chain)


def _derive(fn: Callable[..., Any], mode: str, wrt: tuple[int, ...], specs: Sequence[Any],
            optimize: bool, returns: Any, chain: tuple[tuple[str, tuple[int, ...]], ...]
            ) -> tuple[Function, Generated]:
    for _, w in chain + ((mode, wrt),):
        _check_wrt(fn, w, specs)
    ir = user_operations(_check(lower(fn, specs), "lower"))
    for depth, (m, w) in enumerate(chain + ((mode, wrt),)):
        ir = _check(_transform(ir, m, _ir_positions(w, specs), nested=depth > 0), m)
        if optimize or depth < len(chain):
            ir = _check(dce(_check(cse(_check(simplify(ir), "simplify")), "cse")), "dce")
    name = _generated_name(fn.__name__, mode) if not chain else \
        "_".join([fn.__name__ if fn.__name__.isidentifier() else "f"] +
                 [m.removesuffix("_aux") for m, _ in chain + ((mode, wrt),)])
    cells = dict(zip(fn.__code__.co_freevars, fn.__closure__ or ()))

    def itself(other: Any) -> bool:  # s2sad's derivative this code is (a recursion's)
        d = getattr(other, "__s2sad_dispatcher__", None)
        return d is not None and d.fn is fn and d.chain == chain and \
            (d.ir_mode, d.wrt) == (mode, wrt)
    return ir, generate(ir, name, returns=returns,
                        cells={n: _contents(c) for n, c in cells.items()}, itself=itself)


def _transform(ir: Function, mode: str, wrt: tuple[int, ...], nested: bool = False) -> Function:
    if nested and mode in ("grad", "value_and_grad") and len(wrt) == 1 and \
            ir.params[wrt[0]].type == Scalar("float64") and len(ir.results) == 1:
        # the derivative of a derivative with respect to one float: one forward sweep
        d = jvp_transform(ir, wrt, unit=True)
        return d if mode == "grad" else d.replace(results=ir.results + d.results)
    if mode in ("grad", "grad_aux"):
        return vjp_transform(ir, wrt, seed="one", keep_value=False, aux=mode == "grad_aux")
    if mode in ("value_and_grad", "value_and_grad_aux"):
        return vjp_transform(ir, wrt, seed="one", aux=mode == "value_and_grad_aux")
    if mode == "hvp":  # forward over reverse: the tangent of the gradient along v is H v
        g = _check(dce(_check(simplify(vjp_transform(ir, wrt, seed="one", keep_value=False)),
                              "simplify")), "vjp")
        h = _check(jvp_transform(g, wrt), "jvp")
        return h.replace(name=ir.name, results=h.results[len(g.results):],
                         result_names=tuple(f"{ir.param_names[i]}_hvp" if i < len(ir.param_names)
                                            else None for i in wrt))
    if mode == "vjp":
        return vjp_transform(ir, wrt, seed="param")
    if mode == "jvp":
        return jvp_transform(ir, wrt)
    if mode == "vector":  # vector forward mode: the jvp on a batch of directions
        return vector_jvp(ir, wrt)
    if mode == "jacobian":
        return jacobian_transform(ir, wrt)
    return ir


def _check(ir: Function, after: str) -> Function:
    return verify(ir, after) if config.verify else ir


def _generated_name(name: str, mode: str) -> str:
    base = name if name.isidentifier() else "f"
    return {"grad": f"{base}_grad", "value_and_grad": f"{base}_value_and_grad",
            "grad_aux": f"{base}_grad", "value_and_grad_aux": f"{base}_value_and_grad",
            "vjp": f"{base}_vjp", "jvp": f"{base}_jvp", "hvp": f"{base}_hvp",
            "primal": base, "vector": f"{base}_jvp_vector",
            "jacobian": f"{base}_jacobian"}[mode]


# --------------------------------------------------------------------------- specialisation


def arg_spec(value: Any) -> Any:
    """What the generated code is specialised on for an argument: a type, a :class:`Tree`
    (a container of numbers and arrays), or a Static."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return Static(value)
    if isinstance(value, (float, int, np.ndarray)) or \
            (isinstance(value, np.generic) and np.dtype(value.dtype).kind in "biuf"):
        return type_of_value(value)
    tree = tree_spec(value, arg_spec)
    return tree if tree is not None else Static(value)


def _count(spec: Any) -> int:
    """How many IR parameters an argument with this spec becomes."""
    if isinstance(spec, Static):
        return 0
    if isinstance(spec, Tree):
        return len(spec.leaves())
    return 1


def regroup(flat: Sequence[Any], positions: Sequence[int], specs: Sequence[Any]) -> list[Any]:
    """Split the generated code's flat derivatives into one per argument in `positions`,
    each in the structure and type of its argument (the inverse of :func:`flat_args`)."""
    out, k = [], 0
    for i in positions:
        n = _count(specs[i])
        leaves, k = list(flat[k:k + n]), k + n
        out.append(specs[i].unflatten(leaves) if isinstance(specs[i], Tree) else leaves[0])
    return out


def flat_args(args: Sequence[Any], specs: Sequence[Any]) -> list[Any]:
    """The run-time values the generated code takes: numbers, arrays, container leaves."""
    out: list[Any] = []
    for a, s in zip(args, specs):
        if isinstance(s, Tree):
            out.extend(s.flatten(a))
        elif not isinstance(s, Static):
            out.append(a)
    return out


def _spec_key(spec: Any) -> Any:
    if isinstance(spec, Tree):
        return spec.key(_spec_key)
    if isinstance(spec, Static):
        try:
            return ("static", _frozen(spec.value))
        except TypeError:  # an object: itself (the entry keeps it alive, its id is not reused)
            return ("static-id", id(spec.value))
    return spec


def _frozen(value: Any) -> Any:
    """A hashable copy of a value baked into the code, by content and type (``1`` is not
    ``1.0``), so that a list of options changed in place gets code of its own.  TypeError
    for what has no such copy."""
    if isinstance(value, (list, tuple)):
        return type(value), tuple(_frozen(v) for v in value)
    if isinstance(value, dict):
        return dict, tuple((_frozen(k), _frozen(v)) for k, v in value.items())
    if isinstance(value, (set, frozenset)):
        return type(value), frozenset(_frozen(v) for v in value)
    hash(value)
    return type(value), value


def _ir_positions(wrt: tuple[int, ...], specs: Sequence[Any]) -> tuple[int, ...]:
    """The IR parameters of the `wrt` arguments (a container has one per leaf)."""
    starts, pos = [], 0
    for s in specs:
        starts.append(pos)
        pos += _count(s)
    return tuple(p for i in wrt for p in range(starts[i], starts[i] + _count(specs[i])))


def _check_wrt(fn: Any, wrt: tuple[int, ...], specs: Sequence[Any]) -> None:
    for i in wrt:
        spec = specs[i]
        if isinstance(spec, Tree) and all(is_float(leaf) for leaf in spec.leaves()):
            continue
        if not isinstance(spec, (Static, Tree)) and is_float(spec):
            continue
        names, locs = param_locs(fn)
        raise NotDifferentiable(
            f"cannot differentiate with respect to `{names[i]}`: it is {_describe(spec)}",
            locs[i], "pass a float or a float array (e.g. 3.0 rather than 3), or leave it out "
            "of wrt")


def _describe(spec: Any) -> str:
    if isinstance(spec, Tree):
        return f"a {spec.kind} holding values that are not floats"
    if isinstance(spec, Static):
        return f"a {type(spec.value).__name__} ({spec.value!r})"
    if isinstance(spec, Scalar):
        return {"int64": "an int", "bool": "a bool"}.get(spec.dtype, f"a {spec} scalar")
    if isinstance(spec, Array):
        return f"an array of dtype {spec.dtype}"
    return "not a number"


def _signature(fn: Any) -> inspect.Signature:
    """`fn`'s own parameters: not those of the function a functools.wraps wrapper names."""
    return inspect.signature(fn, follow_wrapped=False)


def resolve_wrt(fn: Any, wrt: int | str | Sequence[int | str]) -> tuple[tuple[int, ...], bool]:
    """`wrt` as parameter positions, and whether the caller asked for a single one."""
    names = list(_signature(root_and_chain(fn)[0]).parameters)
    if not isinstance(wrt, (int, str, tuple, list)):
        raise TypeMismatch(f"wrt must be an int, a parameter name or a tuple of them, not {wrt!r}")
    single = isinstance(wrt, (int, str))
    items = [wrt] if single else list(wrt)  # type: ignore[list-item]
    out: list[int] = []
    for w in items:
        if isinstance(w, str):
            if w not in names:
                raise TypeMismatch(f"wrt={w!r}: {getattr(fn, '__name__', fn)} has no parameter "
                                   f"{w!r} (parameters: {', '.join(names)})")
            out.append(names.index(w))
        elif isinstance(w, int) and not isinstance(w, bool):
            if not -len(names) <= w < len(names):
                raise TypeMismatch(f"wrt={w}: {getattr(fn, '__name__', fn)} has "
                                   f"{len(names)} parameter(s)")
            out.append(w % len(names))
        else:
            raise TypeMismatch(f"wrt must be an int, a parameter name or a tuple of them, "
                               f"not {w!r}")
    return tuple(out), single


# -------------------------------------------------------------------------------- the cache


@dataclass
class _Entry:
    compiled: Callable[..., Any]
    # globals and cells the code reads live, and their kinds: (globals or cell, name, kind)
    guards: tuple[tuple[Any, str, Any], ...]
    baked: tuple[tuple[Callable[[str], Any], str, Any], ...]  # free names fixed in the code
    ir: Function
    generated: Generated
    specs: tuple[Any, ...]
    alive: tuple[Any, ...] = ()  # what the key names by id: code, globals, closure cells


_CACHE: OrderedDict[Any, _Entry] = OrderedDict()  # least recently used first
stats = {"compiles": 0, "evictions": 0}


def _guard_key(value: Any) -> Any:
    return _spec_key(arg_spec(value))


def _contents(cell: Any) -> Any:
    try:
        return cell.cell_contents
    except ValueError:  # not filled yet
        return None


def _where(origin: Any) -> Any:
    """Where a value the code reads live is looked up: a module's globals, or a cell."""
    return origin.__dict__ if isinstance(origin, types.ModuleType) else origin


def _read(where: Any, name: str) -> Any:
    if isinstance(where, dict):
        return where.get(name)
    try:
        return where.cell_contents
    except ValueError:  # emptied
        return None


def _lookup(fn: Any, mode: str, wrt: tuple[int, ...], args: Sequence[Any],
            optimize: bool = True, returns: Any = None, specs: tuple[Any, ...] | None = None
            ) -> _Entry:
    """The compiled code of `fn` transformed by `mode` for arguments like `args` (cached).

    `fn` may itself be a function s2sad made (grad of grad): the transforms compose on the IR.
    """
    target, chain = root_and_chain(fn)
    specs = specs if specs is not None else tuple(arg_spec(a) for a in args)
    ident, alive = _identity(target)
    key = (ident, chain, mode, wrt, tuple(_spec_key(s) for s in specs), optimize, returns,
           VERSION)
    entry = _CACHE.get(key)
    if entry is not None and all(_guard_key(_read(where, n)) == k
                                 for where, n, k in entry.guards) and \
            all(baked_key(get(n)) == k for get, n, k in entry.baked):
        _CACHE.move_to_end(key)
        return entry
    mark = len(BAKED)
    try:
        ir, gen = derive(target, mode, wrt, specs, optimize, returns, chain)
        baked = tuple({(n, id(get)): (get, n, k) for get, n, k in BAKED[mark:]}.values())
    finally:
        del BAKED[mark:]
    stats["compiles"] += 1
    compiled = compile_generated(gen, target)
    glb = target.__globals__
    guards = tuple((glb, n, _guard_key(v)) for n, v in gen.constants
                   if glb.get(n, _MISSING) is v and not isinstance(v, types.ModuleType)) + \
        tuple((_where(origin), n, _guard_key(v)) for origin, n, v in gen.reads)
    entry = _Entry(compiled, guards, baked, ir, gen, specs, alive)
    _CACHE[key] = entry
    _CACHE.move_to_end(key)
    _bound(_CACHE)
    return entry


def _bound(cache: OrderedDict[Any, Any]) -> None:
    """Drop the least recently used entries beyond `config.cache_size`.  An entry goes with
    its key, and with it what kept the key's ids from being reused."""
    while len(cache) > max(1, config.cache_size):
        cache.popitem(last=False)
        stats["evictions"] += 1


def _identity(fn: Any) -> tuple[tuple[Any, ...], tuple[Any, ...]]:
    """What the code made for `fn` depends on besides its arguments, by identity: its code
    object (equal code of two modules, of one source exec'd twice, or of a function whose
    ``__code__`` was replaced, is not the same), its globals (the code runs with them and
    reads them), and its closure cells and what they hold (the code may have fixed them).
    Also those objects, which the cache entry keeps alive so no other function can reuse
    their ids while the key names them."""
    code, glb = fn.__code__, fn.__globals__
    cells, alive = _closure_key(fn)
    return (id(code), id(glb), code.co_filename, cells), (code, glb) + alive


def _closure_key(fn: Any) -> tuple[tuple[int, ...], tuple[Any, ...]]:
    """The identities of `fn`'s closure cells and of what they hold, and those objects."""
    alive: list[Any] = []
    for cell in fn.__closure__ or ():
        alive.append(cell)
        try:
            alive.append(cell.cell_contents)
        except ValueError:  # a cell not filled yet
            alive.append(None)
    return tuple(id(a) for a in alive), tuple(alive)


_MISSING = object()


def root_and_chain(fn: Any) -> tuple[Any, tuple[tuple[str, tuple[int, ...]], ...]]:
    """The user's function behind `fn`, and the transforms s2sad applied to get `fn`."""
    d = getattr(fn, "__s2sad_dispatcher__", None)
    if d is None:
        return unwrap(fn), ()
    return d.fn, d.chain + ((d.ir_mode, d.wrt),)


def _bind_args(fn: Any, args: tuple[Any, ...], kwargs: dict[str, Any],
               name: str | None = None) -> tuple[Any, ...]:
    """`args` and `kwargs` as the positional arguments of the user's function behind `fn`,
    defaults filled in.  Arguments that do not fit raise the TypeError Python raises for
    the user's function, under the name `name` (the derivative's)."""
    target = root_and_chain(fn)[0]  # a derivative takes the arguments of its user function
    if not kwargs:
        code = target.__code__
        if len(args) == code.co_argcount:
            return args
    sig = _signature(target)
    try:
        bound = sig.bind(*args, **kwargs)
    except TypeError:
        _signature_of(sig, name or target.__name__)(*args, **kwargs)
        raise  # (the stand-in accepted what inspect did not: inspect's message then)
    bound.apply_defaults()
    return tuple(bound.arguments.values())


def _signature_of(sig: inspect.Signature, name: str) -> Callable[..., None]:
    """A function that does nothing, with the parameters of `sig` and the name `name`:
    calling it with arguments that do not fit raises Python's own TypeError
    (``f_hessian() takes 2 positional arguments but 3 were given``)."""
    empty = inspect.Parameter.empty
    params = [p.replace(annotation=empty, default=empty if p.default is empty else None)
              for p in sig.parameters.values()]
    text = f"def {name if name.isidentifier() else 'f'}" \
        f"{sig.replace(parameters=params, return_annotation=empty)}: pass"
    namespace: dict[str, Any] = {}
    exec(compile(text, "<s2sad signature>", "exec"), namespace)  # noqa: S102 - a bare def
    return next(iter(v for k, v in namespace.items() if k != "__builtins__"))


# ----------------------------------------------------------------------- transformed entries

_FALLBACK = "__s2sad__"
_FUNCTION, _CODE = "__s2sad_fn__", "__s2sad_code__"  # the user's function, its code


class _Default:
    """A default argument of an entry: the user's function's default at the call."""

    __slots__ = ("fn", "index")

    def __init__(self, fn: Any, index: int) -> None:
        self.fn, self.index = fn, index

    def __repr__(self) -> str:  # what help() and inspect.signature of the entry show
        defaults = self.fn.__defaults__ or ()
        return repr(defaults[self.index]) if -len(defaults) <= self.index < 0 else "?"
_GUARDABLE = {Scalar("float64"): "float", Scalar("int64"): "int"}


class _Dispatcher:
    """The general path behind a transformed function: specialise, cache, call.

    Users hold :attr:`entry`, a plain Python function.  After the first call with Python
    numbers only, its code becomes that specialisation itself, behind an inline type check
    (``type(x) is float``), so later calls cost what the derivative code costs; any other
    kinds of argument fall back here.
    """

    def __init__(self, fn: Callable[..., Any], mode: str, wrt: Any, has_aux: bool = False) -> None:
        self.inner = fn  # the function transformed: the user's, or one s2sad made
        self.fn, self.chain = root_and_chain(fn)  # grad(grad(f)): f, and the inner grad
        get_source(self.fn)  # fail now, at the decorator, if there is no source to differentiate
        self.mode = mode
        self.has_aux = has_aux
        self.ir_mode = mode + "_aux" if has_aux else mode
        self.wrt, single = resolve_wrt(self.fn, wrt)
        self.single = single
        n = len(self.wrt)
        grads: Any = 0 if single else tuple(range(n))
        self.returns = grads if mode == "grad" else \
            (0, 1 if single else tuple(range(1, n + 1)))
        kinds = {p.kind for p in _signature(self.fn).parameters.values()}
        if kinds - {inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD}:
            try:
                parse_function(get_source(self.fn))  # *args, keyword-only: the located refusal
            except UnsupportedSyntax as exc:
                if not hasattr(self.fn, "__wrapped__"):
                    raise
                raise UnsupportedSyntax(exc.message, exc.loc, f"{exc.hint}; s2sad "
                                        "differentiates a functools.wraps wrapper's own code: "
                                        "give it named parameters, or differentiate the "
                                        "function it wraps (`__wrapped__`)") from None
        self.params = tuple(_signature(self.fn).parameters)
        self.keep = tuple(sorted(set(self.fn.__code__.co_freevars) | set(RUNTIME_NAMES) |
                                 {_FALLBACK, _FUNCTION, _CODE}))
        self.specialised = False
        self.alive: list[Any] = []  # functions whose ids the fast path checks
        base = getattr(self.fn, "__name__", "f")
        name = f"{base if base.isidentifier() else 'f'}_{mode}"
        self.entry_doc = f"{mode} of {self.fn.__qualname__}, generated by s2sad"
        cells = runtime_cells()
        cells[_FALLBACK] = types.CellType(self)
        cells[_FUNCTION] = types.CellType(self.fn)
        # the code the entry is for: the fast path checks it is still the function's (IPython's
        # autoreload, for one, replaces __code__ in place), and runs no stale derivative
        self.code_cell = cells[_CODE] = types.CellType(self.fn.__code__)
        self.defaults = self.fn.__defaults__
        self.entry = compile_entry(trampoline(name, self.params, self._entry_spec(())), name,
                                   self.keep, self.fn, cells, self._markers())
        self.entry.__doc__ = self.entry_doc
        self.entry.__s2sad_dispatcher__ = self  # type: ignore[attr-defined]

    def _markers(self) -> tuple[Any, ...] | None:
        """The entry's defaults: markers that the dispatcher replaces with the function's
        defaults as they are at the call (a marker fails the fast path's type checks)."""
        n = len(self.defaults or ())
        return tuple(_Default(self.fn, k - n) for k in range(n)) or None

    def _current(self, args: tuple[Any, ...]) -> tuple[Any, ...]:
        """`args` with the markers of defaults replaced; the entry follows a function whose
        ``__code__`` or ``__defaults__`` was replaced."""
        fn = self.fn
        if fn.__code__ is not self.code_cell.cell_contents:
            code = fn.__code__
            if tuple(_signature(fn).parameters) != self.params or \
                    code.co_freevars != self.code_cell.cell_contents.co_freevars:
                raise TypeMismatch(f"the code of {fn.__qualname__} was replaced by one with "
                                   f"other parameters or free names after s2sad made "
                                   f"{self.entry.__name__}", hint="make the derivative again")
            self.code_cell.cell_contents = code  # the fast path made for the old code goes
            self.specialised = False
            swap_code(self.entry, trampoline(self.entry.__name__, self.params,
                                             self._entry_spec(())), self.keep)
        if fn.__defaults__ is not self.defaults:
            self.defaults = fn.__defaults__
            self.entry.__defaults__ = self._markers()
        if any(isinstance(a, _Default) for a in args):
            have = self.defaults or ()
            out = list(args)
            for i, a in enumerate(args):
                if isinstance(a, _Default):
                    k = i - len(args) + len(have)
                    if k < 0:
                        raise TypeError(f"{self.entry.__name__}() missing 1 required "
                                        f"positional argument: '{self.params[i]}'")
                    out[i] = have[k]
            args = tuple(out)
        return args

    def derivative_ir(self, specs: Sequence[Any]) -> tuple[Function, Any]:
        """The IR of this derivative for arguments of these kinds, and how its results nest
        (used when differentiated code calls a function s2sad made)."""
        if self.has_aux or any(isinstance(s, Tree) for s in specs):
            raise TypeMismatch("calling a gradient with has_aux or container arguments inside "
                               "differentiated code is not supported yet")
        ir, _ = derive(self.fn, self.ir_mode, self.wrt, specs, True, self.returns, self.chain,
                       inlined=True)
        return ir, self.returns

    def _entry_spec(self, guards: tuple[tuple[str, str], ...]) -> Entry:
        return Entry(guards, self.keep, _FALLBACK)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        args = self._current(_bind_args(self.fn, args, kwargs))
        specs = tuple(arg_spec(a) for a in args)
        trees = self.has_aux or any(isinstance(specs[i], Tree) for i in self.wrt)
        entry = _lookup(self.inner, self.ir_mode, self.wrt, args, specs=specs,
                        returns=None if trees else self.returns)
        if not self.specialised and not self.has_aux:
            self._specialise(entry)
        if self.mode == "value_and_grad" and entry.ir.result_tree is not None and \
                not self.has_aux:
            raise TypeMismatch("value_and_grad needs a function with one scalar result")
        out = entry.compiled(*flat_args(args, specs))
        if not trees:
            return out
        return self.assemble(out if isinstance(out, tuple) else (out,), specs,
                             entry.ir.result_tree)

    def assemble(self, flat: Sequence[Any], specs: Sequence[Any], tree: Any) -> Any:
        """What this function returns, from the flat results of its code (`tree` is the
        nesting of the user function's result): the gradient, one per `wrt` argument in its
        structure, after the value and the aux where asked for.  Transforms of this
        function (jvp, vjp) return their results in the same structure."""
        flat = list(flat)
        value = flat.pop(0) if self.mode == "value_and_grad" else None
        aux = None
        if self.has_aux and isinstance(tree, tuple):  # f returned (value, aux): aux passes
            n_aux = _tree_size(tree[1])               # through, not differentiated
            aux, flat = _restructure(tuple(flat[:n_aux]), tree[1]), flat[n_aux:]
        grads = regroup(flat, self.wrt, specs)
        g = grads[0] if self.single else tuple(grads)
        if self.has_aux:
            return (g, aux) if self.mode == "grad" else ((value, aux), g)
        return g if self.mode == "grad" else (value, g)

    def flatten(self, value: Any, specs: Sequence[Any], tree: Any) -> list[Any]:
        """The inverse of :meth:`assemble`: a value structured like this function's results
        (a cotangent, checked by :func:`_check_like`) as its code's flat results."""
        value_part, aux, g = None, None, value
        if self.has_aux and self.mode == "grad":
            g, aux = value
        elif self.has_aux:
            (value_part, aux), g = value
        elif self.mode == "value_and_grad":
            value_part, g = value
        grads = [g] if self.single else g
        out: list[Any] = [value_part] if self.mode == "value_and_grad" else []
        if self.has_aux and isinstance(tree, tuple):
            out += _flatten_tree(aux, tree[1])
        for i, gi in zip(self.wrt, grads):
            out += specs[i].flatten(gi) if isinstance(specs[i], Tree) else [gi]
        return out

    def _fixed(self, entry: _Entry) -> tuple[tuple[str, str, Any], ...] | None:
        """The checks the fast path makes of the free names `entry` fixed (a helper function,
        a flag), or None when one cannot be checked inline (a closure's, another module's,
        a container)."""
        out = []
        for get, name, _ in entry.baked:
            if getattr(get, "module_globals", None) is not self.fn.__globals__ or \
                    name in get.cell_names or name in self.keep:  # type: ignore[attr-defined]
                return None
            value = get(name)
            if callable(value):
                out.append((name, "id", id(value)))
                self.alive.append(value)  # while the fast path checks its id, it stays alive
            elif value is None or isinstance(value, bool):
                out.append((name, "is", value))
            elif type(value) is str:
                out.append((name, "eq", value))
            else:
                return None
        return tuple(out)

    def _specialise(self, entry: _Entry) -> None:
        """Make the entry's own code this specialisation, if it is for Python numbers only."""
        self.specialised = True
        kinds = [_GUARDABLE.get(s) if isinstance(s, (Scalar, Array)) else None
                 for s in entry.specs]
        fixed = self._fixed(entry)
        if None in kinds or entry.guards or fixed is None or \
                any(n not in self.fn.__code__.co_freevars for n, _ in entry.generated.constants):
            return
        guards = tuple(zip(self.params, kinds))
        fixed = ((_FUNCTION, "attr", ("__code__", _CODE)),) + fixed
        gen = generate(entry.ir, self.entry.__name__, returns=self.returns,
                       entry=Entry(guards, self.keep, _FALLBACK, fixed))
        swap_code(self.entry, gen.source, self.keep)


class _Composable:
    """What `jacobian(f)` and `hessian(f)` tell s2sad about themselves, so that they can be
    differentiated again or called inside differentiated code: the user's function, the
    transforms behind them, and the IR that computes them (:mod:`.transforms.jacobian`)."""

    def __init__(self, fn: Callable[..., Any], mode: str, wrt: tuple[int, ...],
                 extra: int = 0) -> None:
        self.fn, self.chain = root_and_chain(fn)
        self.ir_mode, self.wrt = mode, wrt
        self.extra = extra  # arguments after the function's own (the direction v of hvp)

    def derivative_ir(self, specs: Sequence[Any]) -> tuple[Function, Any]:
        if any(isinstance(s, Tree) for s in specs):
            raise TypeMismatch(f"calling a {self.ir_mode} with container arguments inside "
                               "differentiated code is not supported yet")
        specs = specs[:len(specs) - self.extra]
        ir, _ = derive(self.fn, self.ir_mode, self.wrt, specs, True, None, self.chain,
                       inlined=True)
        count = iter(range(len(ir.results)))

        def number(tree: Any) -> Any:
            return next(count) if tree is None else tuple(number(t) for t in tree)
        return ir, number(ir.result_tree)


def _restructure(flat: Any, tree: Any) -> Any:
    items = list(flat) if isinstance(flat, tuple) else [flat]
    if tree is None:
        return items[0]
    it = iter(items)

    def build(t: Any) -> Any:
        if t is None:
            return next(it)
        if isinstance(t, KeyedTree):
            return dict(zip(t.keys, (build(s) for s in t)))
        return tuple(build(s) for s in t)
    return build(tree)


def grad(fn: Callable[..., Any] | None = None, wrt: Any = 0, has_aux: bool = False) -> Any:
    """The gradient of scalar function `fn` with respect to argument(s) `wrt`.

    `wrt` is a position, a parameter name, or a tuple of them; with a tuple the result is a
    tuple of gradients.  Each gradient has the shape (and for containers the structure) of its
    argument.  With ``has_aux=True``, `fn` returns ``(value, aux)`` and the result is
    ``(gradient, aux)``, aux not differentiated.  Usable as ``@grad`` and
    ``@grad(wrt=(0, 1))``.
    """
    if fn is None:
        return lambda f: grad(f, wrt, has_aux)
    return _Dispatcher(fn, "grad", wrt, has_aux).entry


def value_and_grad(fn: Callable[..., Any] | None = None, wrt: Any = 0,
                   has_aux: bool = False) -> Any:
    """Like :func:`grad`, but returns ``(fn(*args), gradient)`` (with ``has_aux``:
    ``((value, aux), gradient)``)."""
    if fn is None:
        return lambda f: value_and_grad(f, wrt, has_aux)
    return _Dispatcher(fn, "value_and_grad", wrt, has_aux).entry


def hvp(fn: Callable[..., Any], wrt: Any = 0) -> Callable[..., Any]:
    """``hvp(f, wrt)(*args, v)`` is the Hessian of scalar `f` times `v`, by forward-over-
    reverse differentiation; the Hessian is never formed.  `v` is shaped like the `wrt`
    argument (a tuple of such for a tuple `wrt`)."""
    positions, single = resolve_wrt(fn, wrt)

    def run(*args: Any, **kwargs: Any) -> Any:
        if not args:
            raise TypeMismatch("hvp(f)(*args, v): the direction v comes last")
        primals = _bind_args(fn, tuple(args[:-1]), kwargs, run.__name__)
        names = list(_signature(root_and_chain(fn)[0]).parameters)
        if single:
            _check_like(args[-1], primals[positions[0]],
                        f"{run.__name__}: the direction v", f"`{names[positions[0]]}`")
            vs = (args[-1],)
        else:
            _check_like(args[-1], tuple(primals[i] for i in positions),
                        f"{run.__name__}: the direction v",
                        f"({', '.join(f'`{names[i]}`' for i in positions)})")
            vs = tuple(args[-1])
        specs = tuple(arg_spec(a) for a in primals)
        entry = _lookup(fn, "hvp", positions, primals, specs=specs)
        out = entry.compiled(*flat_args(primals, specs),
                             *flat_args(vs, [specs[i] for i in positions]))
        parts = regroup(out if isinstance(out, tuple) else (out,), positions, specs)
        return parts[0] if single else tuple(parts)
    run.__name__ = run.__qualname__ = f"{_base_name(fn)}_hvp"
    if single:  # callable inside differentiated code, with v one array like the argument
        run.__s2sad_dispatcher__ = _Composable(fn, "hvp", positions, 1)  # type: ignore[attr-defined]
    return run


def _base_name(fn: Any) -> str:
    name = getattr(fn, "__name__", "f")
    return name if name.isidentifier() else "f"


def _blocks_of(what: str, fn: Any, primals: Sequence[Any], positions: Sequence[int]) -> None:
    """Hessians and Jacobians come in blocks, one per pair of float or array arguments."""
    for i in positions:
        if not isinstance(primals[i], (float, np.ndarray, np.floating)):
            raise TypeMismatch(f"{what} of {getattr(fn, '__name__', fn)} with respect to "
                               f"argument {i}, a {type(primals[i]).__name__}: {what}s are "
                               "taken with respect to floats and arrays",
                               hint="use s2sad.hvp (it takes containers), or pass the leaves "
                               "as separate arguments")


def _basis(x: Any) -> Any:
    """Unit directions shaped like `x` (a float or an array), one per entry."""
    if isinstance(x, np.ndarray):
        for k in range(x.size):
            e = np.zeros(x.size, dtype=x.dtype)
            e[k] = 1.0
            yield e.reshape(x.shape)
    else:
        yield 1.0


def _zero_like(x: Any) -> Any:
    return np.zeros_like(x) if isinstance(x, np.ndarray) else 0.0


def _stack(columns: list[Any], out_shape: tuple[int, ...], in_shape: tuple[int, ...],
           scalar: bool) -> Any:
    if scalar:
        return columns[0]
    arr = np.stack([np.asarray(c) for c in columns], axis=-1)
    return arr.reshape(out_shape + in_shape)


def hessian(fn: Callable[..., Any], wrt: Any = 0) -> Callable[..., Any]:
    """The Hessian of scalar `fn`: one Hessian-vector product (forward over reverse) per entry
    of the `wrt` argument(s).  For one argument of shape s the result has shape s + s; for a
    tuple `wrt` it is a tuple of tuples of blocks, ``H[i][j]`` for arguments i and j."""
    positions, single = resolve_wrt(fn, wrt)
    product = hvp(fn, tuple(positions))

    def run(*args: Any, **kwargs: Any) -> Any:
        primals = _bind_args(fn, args, kwargs, run.__name__)
        _blocks_of("Hessian", fn, primals, positions)
        xs = [primals[i] for i in positions]
        blocks: list[list[Any]] = [[None] * len(xs) for _ in xs]
        for j, xj in enumerate(xs):
            columns: list[list[Any]] = [[] for _ in xs]
            for e in _basis(xj):
                v = tuple(e if k == j else _zero_like(x) for k, x in enumerate(xs))
                hv = product(*primals, v)
                for i in range(len(xs)):
                    columns[i].append(hv[i])
            for i, xi in enumerate(xs):
                blocks[i][j] = _stack(columns[i], np.shape(xi), np.shape(xj),
                                      not isinstance(xi, np.ndarray) and
                                      not isinstance(xj, np.ndarray))
        return blocks[0][0] if single else tuple(tuple(row) for row in blocks)
    run.__name__ = run.__qualname__ = f"{_base_name(fn)}_hessian"
    run.__s2sad_dispatcher__ = _Composable(grad(fn, wrt), "jacobian",  # type: ignore[attr-defined]
                                           positions)
    return run


def jacobian(fn: Callable[..., Any], wrt: Any = 0, mode: str = "auto") -> Callable[..., Any]:
    """The Jacobian of `fn` (one result, a float or an array) with respect to `wrt`.

    ``mode="forward"`` builds it in one sweep of vector forward mode (the tangents of all n
    input components at once, along a leading axis of length n), ``"reverse"`` row by row
    with vjp, ``"auto"`` picks forward where an argument has no more components than the
    result.  Code that vector mode cannot batch is differentiated column by column instead.
    The result has shape ``out.shape + x.shape`` (a tuple of those for a tuple `wrt`).
    """
    if mode not in ("auto", "forward", "reverse"):
        raise TypeMismatch(f"jacobian mode must be 'auto', 'forward' or 'reverse', not {mode!r}")
    positions, single = resolve_wrt(fn, wrt)

    def run(*args: Any, **kwargs: Any) -> Any:
        primals = _bind_args(fn, args, kwargs, run.__name__)
        _blocks_of("Jacobian", fn, primals, positions)
        out: Any = _MISSING
        if mode == "auto":
            out = _one_result(unwrap(fn)(*primals))
        forward = [i for i in positions if mode == "forward" or
                   mode == "auto" and np.size(primals[i]) <= np.size(out)]
        blocks: dict[int, Any] = {}
        if forward:
            got = _jacobian_vector(fn, primals, forward)
            if got is not None:
                value, parts = got
                blocks.update(zip(forward, parts))
                out = value if out is _MISSING else out
        if out is _MISSING:
            out = _one_result(unwrap(fn)(*primals))
        for i in positions:
            if i in blocks:
                continue
            x = primals[i]
            scalar = not isinstance(x, np.ndarray) and not isinstance(out, np.ndarray)
            if i in forward:  # not batched: one forward sweep per column
                cols = []
                for e in _basis(x):
                    tangents = [None] * len(primals)
                    tangents[i] = e
                    cols.append(jvp(fn, primals, tangents)[1])
                blocks[i] = _stack(cols, np.shape(out), np.shape(x), scalar)
            else:
                _, pullback = vjp(fn, *primals)
                dtype = _float_dtype(x)
                rows = [np.asarray(pullback(c)[i], dtype=dtype).reshape(-1)
                        for c in _basis(out)]
                blocks[i] = rows[0].reshape(np.shape(x)) if not isinstance(out, np.ndarray) \
                    else np.array(rows, dtype=dtype).reshape(np.shape(out) + np.shape(x)) \
                    if not scalar else rows[0][0]
        return blocks[positions[0]] if single else tuple(blocks[i] for i in positions)
    run.__name__ = run.__qualname__ = f"{_base_name(fn)}_jacobian"
    run.__s2sad_dispatcher__ = _Composable(fn, "jacobian", positions)  # type: ignore[attr-defined]
    return run


def _one_result(out: Any) -> Any:
    if isinstance(out, (tuple, list, dict)):
        raise TypeMismatch("jacobian needs a function with one result (a float or an array)")
    return out


vector_stats = {"fallbacks": 0}  # vector-mode sweeps that fell back to one sweep per direction
_VECTOR_FAILED: OrderedDict[Any, tuple[Any, ...]] = OrderedDict()  # key -> what it names


def _vector_sweep(fn: Any, primals: tuple[Any, ...], wrt: tuple[int, ...],
                  seeds: Sequence[Any]) -> tuple[_Entry, tuple[Any, ...], tuple[Any, ...]] | None:
    """One sweep of vector forward mode: the results, and their tangents for the batch of
    directions `seeds` (flat, one per IR tangent parameter); None when the code cannot be
    batched (the caller then makes one sweep per direction)."""
    specs = tuple(arg_spec(a) for a in primals)
    target, chain = root_and_chain(fn)
    ident, alive = _identity(target)
    key = (ident, chain, wrt, tuple(_spec_key(s) for s in specs))
    if key in _VECTOR_FAILED:
        _VECTOR_FAILED.move_to_end(key)
        vector_stats["fallbacks"] += 1
        return None
    try:
        entry = _lookup(fn, "vector", wrt, primals, specs=specs)
    except BatchError:
        _VECTOR_FAILED[key] = alive
        _bound(_VECTOR_FAILED)
        vector_stats["fallbacks"] += 1
        return None
    res = entry.compiled(*flat_args(primals, specs), *seeds)
    n = len(entry.ir.results) // 2
    flat = res if isinstance(res, tuple) else (res,)
    return entry, tuple(flat[:n]), tuple(flat[n:])


def _float_dtype(x: Any) -> Any:
    dt = np.result_type(x)
    return dt if dt.kind == "f" else np.dtype("float64")


def _jacobian_vector(fn: Any, primals: tuple[Any, ...],
                     positions: Sequence[int]) -> tuple[Any, list[Any]] | None:
    """The value of `fn` and its Jacobian blocks for `positions`, from one vector-mode sweep
    seeded with the identity (None where vector mode is not available)."""
    xs = [primals[i] for i in positions]
    if not all(isinstance(x, (float, np.ndarray, np.floating)) for x in xs):
        return None
    sizes = [int(np.size(x)) for x in xs]
    n = sum(sizes)
    seeds, off = [], 0
    for x, size in zip(xs, sizes):
        e = np.zeros((n, size), dtype=_float_dtype(x))
        e[off:off + size] = np.eye(size, dtype=e.dtype)
        seeds.append(e.reshape((n,) + np.shape(x)))
        off += size
    got = _vector_sweep(fn, primals, tuple(positions), seeds)
    if got is None:
        return None
    entry, outs, dots = got
    if entry.ir.result_tree is not None or len(outs) != 1:
        raise TypeMismatch("jacobian needs a function with one result (a float or an array)")
    out, tangent = outs[0], np.asarray(dots[0])
    blocks, off = [], 0
    for x, size in zip(xs, sizes):
        J = np.moveaxis(tangent[off:off + size], 0, -1).reshape(np.shape(out) + np.shape(x))
        blocks.append(J[()] if J.ndim == 0 else J)
        off += size
    return out, blocks


def _not_of_hvp(what: str, fn: Any) -> None:
    made = getattr(fn, "__s2sad_dispatcher__", None)
    if isinstance(made, _Composable) and made.extra:
        raise TypeMismatch(f"{what} of {getattr(fn, '__name__', fn)} (an hvp, which takes the "
                           "direction v after the arguments) is not supported",
                           hint="differentiate s2sad.grad of the function, or its hessian")


def _leaves_of(value: Any) -> list[Any]:
    """The numbers and arrays in a value (containers walked)."""
    if isinstance(value, dict):
        return [x for v in value.values() for x in _leaves_of(v)]
    if isinstance(value, (tuple, list)):
        return [x for v in value for x in _leaves_of(v)]
    spec = arg_spec(value)
    return spec.flatten(value) if isinstance(spec, Tree) else [value]


def _check_like(given: Any, like: Any, what: str, of: str, lead: int | None = None) -> None:
    """Refuse a tangent, cotangent or direction `given` unless it is structured like `like`
    (a primal argument, or a result): the same containers (a tuple or a list for either;
    dicts with the same keys; the same namedtuple or dataclass), and at each leaf a float
    (Python, NumPy, or a 0-d array) for a number, an array of the same shape for an array,
    with a float dtype (any precision).  Nothing is broadcast.  With `lead`, each leaf has
    `lead` directions stacked in front (``jvp(..., batched=True)``).  `what` names `given`
    and `of` names `like` in the error."""
    import dataclasses as dc

    def fail(path: str, expected: str, got: str) -> None:
        like = f"as {of}{path} is" if lead is None else \
            f"k={lead} directions, each shaped like {of}{path}"
        raise TypeMismatch(f"{what}{path} must be {expected}, {like}; got {got}",
                           hint="tangents and cotangents have the structure, "
                           "shape and (float) kind of their primal; nothing is broadcast")

    def walk(g: Any, x: Any, path: str) -> None:
        if isinstance(x, dict):
            if not isinstance(g, dict) or set(g) != set(x):
                fail(path, f"a dict with the keys {sorted(map(str, x))}", _shape_of(g))
            for k in x:
                walk(g[k], x[k], f"{path}[{k!r}]")
        elif isinstance(x, tuple) and hasattr(x, "_fields") and type(g) is type(x):
            for k in x._fields:
                walk(getattr(g, k), getattr(x, k), f"{path}.{k}")
        elif isinstance(x, (tuple, list)):  # a namedtuple also as a plain tuple
            if not isinstance(g, (tuple, list)) or hasattr(g, "_fields") or len(g) != len(x):
                fail(path, f"a {type(x).__name__} of {len(x)}", _shape_of(g))
            for k, (gk, xk) in enumerate(zip(g, x)):
                walk(gk, xk, f"{path}[{k}]")
        elif dc.is_dataclass(x) and not isinstance(x, type):
            if type(g) is not type(x):
                fail(path, f"a {type(x).__name__}", _shape_of(g))
            for field in dc.fields(x):
                walk(getattr(g, field.name), getattr(x, field.name), f"{path}.{field.name}")
        else:
            shape = np.shape(x) if lead is None else (lead,) + np.shape(x)
            expected = "a float" if shape == () else f"a float array of shape {shape}"
            if isinstance(g, (bool, np.bool_)) or \
                    not isinstance(g, (float, int, np.ndarray, np.generic)):
                fail(path, expected, _shape_of(g))
            kind = np.result_type(g).kind
            if kind != "f":
                what_kind = {"i": "integers", "u": "integers", "b": "booleans",
                             "c": "complex numbers"}.get(kind, f"dtype {np.result_type(g)}")
                fail(path, expected, f"{_shape_of(g)} ({what_kind}"
                     f"{'; write 1.0 for 1' if isinstance(g, int) else ''})")
            if np.shape(g) != shape:
                fail(path, expected, _shape_of(g))
    walk(given, like, "")


def jvp(fn: Callable[..., Any], primals: Sequence[Any], tangents: Sequence[Any],
        batched: bool = False) -> tuple[Any, Any]:
    """Forward mode: ``(fn(*primals), J @ tangents)``.

    Every float argument needs a tangent; give ``None`` for arguments not to differentiate.
    With ``batched=True`` each tangent holds k directions stacked along a leading axis (shape
    ``(k, *x.shape)``), all carried in one sweep of vector forward mode, and the output
    tangent has shape ``(k, *out.shape)``.
    """
    primals, tangents = tuple(primals), tuple(tangents)
    _not_of_hvp("jvp", fn)
    if len(primals) != len(tangents):
        raise TypeMismatch(f"jvp: {len(primals)} primal(s) but {len(tangents)} tangent(s)")
    full = _bind_args(fn, primals, {})  # parameters left out take their defaults
    tangents = tangents + (None,) * (len(full) - len(primals))
    primals = full
    wrt = tuple(i for i, t in enumerate(tangents) if t is not None)
    names = list(_signature(root_and_chain(fn)[0]).parameters)
    lead = None
    if batched and wrt:  # k directions: every tangent's leading axis has length k
        lead = next((len(leaf) for i in wrt for leaf in _leaves_of(tangents[i])
                     if np.ndim(leaf) > 0), None)
        if lead is None:
            raise TypeMismatch(f"jvp(batched=True): the tangent of `{names[wrt[0]]}` must "
                               "have the directions along a leading axis, shape (k, ...)")
    for i in wrt:
        if is_float(arg_spec(primals[i])) or isinstance(arg_spec(primals[i]), Tree):
            _check_like(tangents[i], primals[i], f"jvp: the tangent of `{names[i]}`",
                        f"`{names[i]}`", lead)
    if batched:
        return _jvp_batched(fn, primals, tangents, wrt)
    specs = tuple(arg_spec(a) for a in primals)
    entry = _lookup(fn, "jvp", wrt, primals, specs=specs)
    dots = flat_args([tangents[i] for i in wrt], [specs[i] for i in wrt])
    out = entry.compiled(*flat_args(primals, specs), *dots)
    n = len(entry.ir.results) // 2
    flat = out if isinstance(out, tuple) else (out,)
    return _structured(fn, flat[:n], specs, entry), _structured(fn, flat[n:], specs, entry)


def _structured(fn: Any, flat: Sequence[Any], specs: Sequence[Any], entry: _Entry) -> Any:
    """Results of a transform of `fn` in the structure of `fn`'s own results: a function
    s2sad made (a tuple of gradients, value and gradient, aux) or the user's (a tree)."""
    made = getattr(fn, "__s2sad_dispatcher__", None)
    if isinstance(made, _Dispatcher):
        return made.assemble(flat, specs, entry.ir.result_tree)
    return _restructure(tuple(flat), entry.ir.result_tree)


def _jvp_batched(fn: Any, primals: tuple[Any, ...], tangents: tuple[Any, ...],
                 wrt: tuple[int, ...]) -> tuple[Any, Any]:
    specs = tuple(arg_spec(a) for a in primals)
    dots = flat_args([tangents[i] for i in wrt], [specs[i] for i in wrt])
    got = _vector_sweep(fn, primals, wrt, dots) if wrt else None
    if got is not None:
        entry, outs, douts = got
        return _structured(fn, outs, specs, entry), _structured(fn, douts, specs, entry)
    if any(isinstance(specs[i], Tree) for i in wrt):
        raise TypeMismatch("jvp(batched=True) of this function takes arrays, not containers")
    k = len(tangents[wrt[0]]) if wrt else 0
    sweeps = [jvp(fn, primals, [None if t is None else t[j] for t in tangents]) for j in range(k)]
    if not sweeps:
        raise TypeMismatch("jvp(batched=True) needs at least one direction")

    def stack(parts: list[Any]) -> Any:
        if isinstance(parts[0], tuple):
            return tuple(stack([p[m] for p in parts]) for m in range(len(parts[0])))
        return np.stack([np.asarray(p) for p in parts])
    return sweeps[0][0], stack([s[1] for s in sweeps])


def vjp(fn: Callable[..., Any], *primals: Any) -> tuple[Any, Callable[..., tuple[Any, ...]]]:
    """Reverse mode: ``(fn(*primals), vjp_fn)``; ``vjp_fn(cotangent)`` gives one adjoint per
    argument (``None`` for arguments that are not floats)."""
    given = len(primals)
    _not_of_hvp("vjp", fn)
    primals = _bind_args(fn, primals, {})  # parameters left out take their defaults
    specs = tuple(arg_spec(p) for p in primals)
    wrt = tuple(i for i, s in enumerate(specs[:given])
                if isinstance(s, Tree) and all(is_float(leaf) for leaf in s.leaves()) or
                not isinstance(s, (Static, Tree)) and is_float(s))
    entry = _lookup(fn, "vjp", wrt, primals, specs=specs)
    n_out = len(entry.ir.results) - len(_ir_positions(wrt, specs))
    dyn = flat_args(primals, specs)
    value = unwrap(fn)(*primals)

    made = getattr(fn, "__s2sad_dispatcher__", None)

    def vjp_fn(cotangent: Any) -> tuple[Any, ...]:
        _check_like(cotangent, value, "vjp: the cotangent", "the result")
        cts = made.flatten(cotangent, specs, entry.ir.result_tree) \
            if isinstance(made, _Dispatcher) else _flatten_tree(cotangent, entry.ir.result_tree)
        if len(cts) != n_out:
            raise TypeMismatch(f"vjp_fn expects {n_out} cotangent(s), got {len(cts)}")
        out = entry.compiled(*dyn, *cts)
        flat = out[n_out:] if isinstance(out, tuple) else (out,)
        by_pos = dict(zip(wrt, regroup(flat, wrt, specs)))
        return tuple(by_pos.get(i) for i in range(given))
    return value, vjp_fn


def _shape_of(value: Any) -> str:
    """A value's structure and shape, for error messages: ``float``, ``float64[3]``,
    ``tuple of 2``, ``dict with keys ['a', 'b']``."""
    if isinstance(value, dict):
        return f"a dict with keys {sorted(map(str, value))}"
    if isinstance(value, (tuple, list)):
        return f"a {type(value).__name__} of {len(value)}"
    if isinstance(value, np.ndarray):
        return f"an array of shape {value.shape} and dtype {value.dtype}"
    name = type(value).__name__
    return f"{'an' if name[0] in 'aeiou' else 'a'} {name}"


def _tree_size(tree: Any) -> int:
    """How many leaves a result tree (None for a leaf) has."""
    return 1 if tree is None else sum(_tree_size(t) for t in tree)


def _flatten_tree(value: Any, tree: Any) -> list[Any]:
    if tree is None:
        return [value]
    if isinstance(tree, KeyedTree):
        if not isinstance(value, dict) or set(value) != set(tree.keys):
            raise TypeMismatch(f"the cotangent must be a dict with the keys "
                               f"{sorted(map(str, tree.keys))}, like the result")
        value = [value[k] for k in tree.keys]
    return [x for v, t in zip(value, tree) for x in _flatten_tree(v, t)]


def emit(fn: Callable[..., Any], *args: Any, mode: str = "reverse", wrt: Any = 0,
         optimize: bool = True) -> str:
    """The source of the derivative s2sad generates for `fn` called with `args`.

    Without `args`, every parameter is taken to be a Python float.
    """
    target, chain = root_and_chain(fn)
    if not args:
        args = tuple(1.0 for _ in _signature(target).parameters)
    specs = [arg_spec(a) for a in args]
    if chain:  # a function s2sad made (grad(grad(f))): its own code
        _, gen = derive(target, chain[-1][0], chain[-1][1], specs, optimize, chain=chain[:-1])
        return Source(gen.source)
    positions, _ = resolve_wrt(target, wrt)
    m = {"reverse": "grad", "forward": "jvp"}.get(mode, mode)
    if m not in MODES:
        raise TypeMismatch(f"mode must be 'reverse', 'forward' or one of {MODES}, not {mode!r}")
    _, gen = derive(target, m, positions, specs, optimize)
    return Source(gen.source)


def source_map(fn: Callable[..., Any], *args: Any, mode: str = "reverse",
               wrt: Any = 0) -> dict[int, int]:
    """Line numbers of the code `emit` prints (1-based) -> the user's source lines they
    compute (the lines tracebacks and pdb show, less the two-line factory header).  Code
    inlined from a function of another file is not mapped: its comments name that file
    (``# helpers.py:4: return x * K``)."""
    return emit(fn, *args, mode=mode, wrt=wrt).source_map()


def wengert(fn: Callable[..., Any], *args: Any) -> str:
    """The Wengert list (evaluation trace) of `fn` for arguments like `args` (floats if none)."""
    target, chain = root_and_chain(fn)
    if not args:
        args = tuple(1.0 for _ in _signature(target).parameters)
    specs = [arg_spec(a) for a in args]
    if chain:  # a function s2sad made: the list of its derivative code
        ir, _ = derive(target, chain[-1][0], chain[-1][1], specs, chain=chain[:-1])
        return format_wengert(ir)
    return format_wengert(lower(target, specs))


# Called inside differentiated code on a function (``s2sad.grad(f)(x)``), these run when the
# code is generated and their result is differentiated as a function s2sad made.
for _maker in (grad, value_and_grad, hvp, hessian, jacobian):
    _maker.__s2sad_maker__ = True  # type: ignore[attr-defined]
