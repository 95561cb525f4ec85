"""Oracles for the fuzzer: run one generated program through s2sad and classify the outcome.

``check_source(src)`` imports the module text (written to a real file, since s2sad reads the
source with `inspect`), builds its arguments with its ``make_args()``, and checks:

- primal equality: ``s2sad.jvp(f, ...)[0]`` and ``value_and_grad``'s value equal ``f(...)``
  (in-place code is where they could part);
- forward mode against central finite differences along a random direction, a mismatch
  counting only when both a 2-point stencil (step ``H2``) and a 4-point one (step ``H4``)
  disagree with it while agreeing with each other, and no branch decision of ``f`` (every
  comparison, and the side taken by ``abs``, ``max``, ``maximum``, ...) differs between the
  point and the shifted points: near a boundary other directions are tried, and forward mode
  is not judged there if none keeps clear of it (a note of the outcome);
- the inner-product identity ``<vjp(c), t> == <c, jvp(t)>`` between the two modes;
- ``grad`` and ``value_and_grad`` agree with ``vjp`` (scalar results), the gradients have the
  arguments' shapes, and no call changes the arguments;
- vector forward mode (``jvp(batched=True)``) and ``jacobian`` (forward and reverse) agree
  with one-direction jvps; ``grad(has_aux=True)`` agrees with vjp;
- float32 arrays in: each gradient has its argument's dtype, and the numbers are near the
  float64 ones (a loose tolerance, and only where rounding takes the same branches); a primal
  whose dtype is not f's is a note of the outcome, not a failure;
- optionally (``order2=True``) Hessian-vector products against differences of the gradient.

The outcome is one of ``pass``, ``located`` (an `s2sad.S2SADError` with a location, counted by
its kind), ``crash`` (any other exception, or an `S2SADError` without a location) and ``wrong``
(a wrong number or structure that the oracles confirm); ``harness`` is a failure of this
module itself.  s2sad's derivative cache is cleared before each program, so that one
program's derivative cannot answer for another's (see the F1 finding of issue #12).
``minimize(src, outcome)`` drops statements and subexpressions while the same failure
persists.
"""

from __future__ import annotations

import ast
import copy
import importlib.util
import itertools
import os
import re
import signal
import sys
import tempfile
import time
import traceback
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

import s2sad

H2 = 1e-6     # the step of the 2-point central difference
H4 = 1e-3     # the step of the 4-point stencil (error of order H4**4)
RTOL, ATOL = 1e-4, 1e-5
TIMEOUT = 30  # seconds for one program


@dataclass
class Outcome:
    cls: str                 # pass | located | crash | wrong | reject
    stage: str = ""          # which check: jvp, vjp, grad, fd, inner, primal, hvp, ...
    reason: str = ""         # one line
    detail: str = ""         # the traceback or the numbers
    notes: list[str] = field(default_factory=list)

    @property
    def signature(self) -> str:
        """What makes two failures the same cause, as best a string can tell."""
        return f"{self.cls}:{self.stage}:{_normalise(self.reason)}"

    def line(self) -> str:
        return f"{self.cls} [{self.stage}] {self.reason}"


def _normalise(reason: str) -> str:
    text = re.sub(r"\b(v|xs|buf|row|t|g|it|w)\d+\b", r"\1#", reason)
    text = re.sub(r"/\S+\.py:\d+:\d+", "FILE", text)
    text = re.sub(r"(?<![\w.])-?\d+(\.\d+)?(e-?\d+)?", "N", text)
    text = re.sub(r"array\(.*", "array(...)", text)
    return text[:160]


# -- values: leaves of arguments and results ----------------------------------------------------

def leaves(x: Any) -> list[Any]:
    if isinstance(x, dict):
        return [y for v in x.values() for y in leaves(v)]
    if isinstance(x, (list, tuple)):
        return [y for v in x for y in leaves(v)]
    return [x]


def rebuild(like: Any, flat: list[Any]) -> Any:
    it = iter(flat)

    def build(x: Any) -> Any:
        if isinstance(x, dict):
            return {k: build(v) for k, v in x.items()}
        if isinstance(x, (list, tuple)):
            items = [build(v) for v in x]
            return type(x)(*items) if hasattr(x, "_fields") else type(x)(items)
        return next(it)
    return build(like)


def is_float(x: Any) -> bool:
    return (isinstance(x, (float, np.floating)) and not isinstance(x, bool) or
            isinstance(x, np.ndarray) and x.dtype.kind == "f")


def float_arg(x: Any) -> bool:
    ls = leaves(x)
    return bool(ls) and all(is_float(v) for v in ls)


def shift(x: Any, t: Any, h: float) -> Any:
    if t is None:
        return copy.deepcopy(x)
    moved = [a + h * b for a, b in zip(leaves(x), leaves(t))]
    return rebuild(x, [type(a)(m) if isinstance(a, (float, np.floating)) else m
                       for a, m in zip(leaves(x), moved)])


def randlike(rng: np.random.Generator, x: Any) -> Any:
    return rebuild(x, [rng.standard_normal(np.shape(v)) if isinstance(v, np.ndarray)
                       else float(rng.standard_normal()) for v in leaves(x)])


def vdot(a: Any, b: Any) -> tuple[float, float]:
    """The inner product of two values of one structure, and the sum of |terms| (its scale)."""
    tot, mag = 0.0, 0.0
    for x, y in zip(leaves(a), leaves(b)):
        p = np.asarray(x, dtype=float) * np.asarray(y, dtype=float)
        tot += float(np.sum(p))
        mag += float(np.sum(np.abs(p)))
    return tot, mag


def same_structure(a: Any, b: Any) -> bool:
    if isinstance(a, dict) or isinstance(b, dict):
        return isinstance(a, dict) and isinstance(b, dict) and list(a) == list(b) and \
            all(same_structure(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)) or isinstance(b, (list, tuple)):
        return isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)) and \
            len(a) == len(b) and all(same_structure(x, y) for x, y in zip(a, b))
    return np.shape(a) == np.shape(b)


def close(got: Any, want: Any, rtol: float, atol: float) -> bool:
    for g, w in zip(leaves(got), leaves(want)):
        g, w = np.asarray(g, dtype=float), np.asarray(w, dtype=float)
        if g.shape != w.shape:
            return False
        scale = max(1.0, float(np.max(np.abs(w))) if w.size else 0.0)
        if not np.allclose(g, w, rtol=rtol, atol=atol * scale):
            return False
    return True


def worst(got: Any, want: Any) -> str:
    errs = [float(np.max(np.abs(np.asarray(g, float) - np.asarray(w, float)), initial=0.0))
            for g, w in zip(leaves(got), leaves(want))]
    return f"max abs difference {max(errs, default=0.0):.3g}"


# -- loading and instrumenting a program --------------------------------------------------------

_DIR = tempfile.mkdtemp(prefix="s2sad-fuzz-")
_count = itertools.count()


def load(src: str, tag: str = "p") -> Any:
    """Import `src` from a new file (s2sad reads the source through `inspect`)."""
    name = f"fz_{tag}_{next(_count)}"
    path = os.path.join(_DIR, name + ".py")
    with open(path, "w") as fh:
        fh.write(src)
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


def unload(mod: Any) -> None:
    sys.modules.pop(mod.__name__, None)
    try:
        os.remove(mod.__file__)
    except OSError:
        pass


_KINKS = {"abs", "maximum", "minimum", "max", "min", "amax", "amin", "clip", "sign", "fabs"}


class _Instrument(ast.NodeTransformer):
    """Record every branch decision: comparisons, and which side abs/max/maximum take."""

    def visit_Compare(self, node: ast.Compare) -> ast.AST:
        self.generic_visit(node)
        return ast.Call(ast.Name("_br", ast.Load()), [node], [])

    def visit_Call(self, node: ast.Call) -> ast.AST:
        self.generic_visit(node)
        fn = node.func
        name = fn.attr if isinstance(fn, ast.Attribute) else fn.id if isinstance(fn, ast.Name) \
            else ""
        if name not in _KINKS or not node.args and not isinstance(fn, ast.Attribute):
            return node
        if isinstance(fn, ast.Attribute) and not (isinstance(fn.value, ast.Name) and
                                                   fn.value.id in ("np", "math")):
            # a method: x.max(axis=1) -> _kink_m(x, "max", axis=1)
            return ast.Call(ast.Name("_kink_m", ast.Load()),
                            [fn.value, ast.Constant(name)] + node.args, node.keywords)
        return ast.Call(ast.Name("_kink", ast.Load()), [fn, ast.Constant(name)] + node.args,
                        node.keywords)


def instrument(src: str) -> str:
    tree = ast.parse(src)
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name != "make_args":
            _Instrument().visit(node)
    return ast.unparse(ast.fix_missing_locations(tree))


class _Recorder:
    def __init__(self) -> None:
        self.trace: list[Any] = []

    def br(self, c: Any) -> Any:
        self.trace.append(np.asarray(c).copy())
        return c

    def _side(self, name: str, args: tuple, kw: dict) -> None:
        if not args:
            return
        if name in ("maximum", "minimum") and len(args) == 2 or name in ("max", "min") and \
                len(args) == 2 and not kw:
            self.trace.append(np.sign(np.asarray(args[0], float) - np.asarray(args[1], float)))
        elif name in ("max", "min", "amax", "amin"):
            x = np.asarray(args[0] if len(args) == 1 else list(args), float)
            axis = kw.get("axis", args[1] if len(args) > 1 and not isinstance(args[1], (list,)) and
                          np.ndim(args[1]) == 0 and isinstance(args[1], int) else None)
            self.trace.append(np.argmax(x, axis=axis) if "max" in name else
                              np.argmin(x, axis=axis))
        elif name == "clip":
            x = np.asarray(args[0], float)
            lo = kw.get("a_min", args[1] if len(args) > 1 else None)
            hi = kw.get("a_max", args[2] if len(args) > 2 else None)
            self.trace.append((x < (lo if lo is not None else -np.inf)) * 1 +
                              (x > (hi if hi is not None else np.inf)) * 2)
        else:  # abs, sign, fabs
            self.trace.append(np.sign(np.asarray(args[0], float)))

    def kink(self, fn: Callable, name: str, *args: Any, **kw: Any) -> Any:
        self._side(name, args, kw)
        return fn(*args, **kw)

    def kink_m(self, obj: Any, name: str, *args: Any, **kw: Any) -> Any:
        if name in ("max", "min"):
            self._side(name, (obj,) + args, kw)
        return getattr(obj, name)(*args, **kw)


class _CleanS2SAD:
    """`s2sad` as the instrumented module sees it: transforms of the clean module's helpers."""

    def __init__(self, mod: Any) -> None:
        self.mod = mod

    def __getattr__(self, name: str) -> Any:
        real = getattr(s2sad, name)
        if not callable(real):
            return real

        def wrapped(fn: Any = None, *args: Any, **kw: Any) -> Any:
            if callable(fn) and hasattr(self.mod, getattr(fn, "__name__", "")):
                fn = getattr(self.mod, fn.__name__)
            return real(fn, *args, **kw)
        return wrapped


def decisions(imod: Any, args: tuple) -> list[Any]:
    rec = _Recorder()
    imod._br, imod._kink, imod._kink_m = rec.br, rec.kink, rec.kink_m
    imod.f(*copy.deepcopy(args))
    return rec.trace


def same_decisions(a: list[Any], b: list[Any]) -> bool:
    return len(a) == len(b) and all(np.shape(x) == np.shape(y) and np.array_equal(x, y)
                                    for x, y in zip(a, b))


# -- running the oracles ------------------------------------------------------------------------

class Timeout(Exception):
    pass


def _on_alarm(signum: int, frame: Any) -> None:
    raise Timeout(f"no answer within {TIMEOUT} s")


def _finite(out: Any) -> bool:
    try:
        return all(np.all(np.isfinite(np.asarray(v, dtype=float))) and
                   np.all(np.abs(np.asarray(v, dtype=float)) < 1e6) for v in leaves(out))
    except (TypeError, ValueError):
        return False


def accept(src: str) -> bool:
    """Does the program run in Python and give finite, moderate, float results?"""
    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            mod = load(src, "a")
            try:
                args = mod.make_args()
                out = mod.f(*copy.deepcopy(args))
                ok = out is not None and _finite(out) and \
                    all(is_float(v) or isinstance(v, float) for v in leaves(out))
            finally:
                unload(mod)
    except Exception:  # noqa: BLE001
        return False
    return bool(ok)


class _Stop(Exception):
    """A check found the outcome; the rest are not run."""

    def __init__(self, outcome: Outcome) -> None:
        self.outcome = outcome


def _error(stage: str, exc: BaseException) -> Outcome:
    if isinstance(exc, s2sad.S2SADError):
        first = exc.message.splitlines()[0] if exc.message else str(exc)
        if exc.loc is not None:
            return Outcome("located", stage, f"{exc.kind}: {first}", str(exc))
        return Outcome("crash", stage, f"{exc.kind} without a location: {first}", str(exc))
    tb = traceback.format_exception(type(exc), exc, exc.__traceback__)
    last = str(exc).strip().splitlines()[-1] if str(exc).strip() else ""
    where = ""
    for fr in reversed(traceback.extract_tb(exc.__traceback__)):
        if "/s2sad/" in fr.filename:
            where = f" (s2sad/{fr.filename.rsplit('/s2sad/', 1)[1]}:{fr.lineno} {fr.name})"
            break
    return Outcome("crash", stage, f"{type(exc).__name__}: {last}{where}"[:300], "".join(tb))


def _run(stage: str, fn: Callable[[], Any]) -> Any:
    try:
        return fn()
    except (_Stop, Timeout):
        raise
    except Exception as exc:  # every other failure of s2sad or its code is an outcome
        raise _Stop(_error(stage, exc)) from exc


def check_source(src: str, order2: bool = False, seed: int = 0) -> Outcome:
    """Classify one program (see the module docstring)."""
    old = signal.signal(signal.SIGALRM, _on_alarm) if hasattr(signal, "SIGALRM") else None
    if old is not None:
        signal.alarm(TIMEOUT)
    mod = imod = None
    # Programs of different seeds can define the same `f` over other helpers: s2sad's cache
    # (keyed by the code object, which compares equal across modules) must not carry one
    # program's derivative into the next.
    s2sad.api._CACHE.clear()
    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            mod = load(src)
            imod = load(instrument(src), "i")
            if hasattr(imod, "s2sad"):  # s2sad.grad(h) inside f: of the clean helper
                imod.s2sad = _CleanS2SAD(mod)
            return _check(mod, imod, order2, seed)
    except _Stop as stop:
        return stop.outcome
    except Timeout as exc:
        return Outcome("crash", "timeout", str(exc))
    except Exception as exc:  # noqa: BLE001 (the harness itself, or f at a shifted point)
        out = _error("harness", exc)
        out.cls = "harness"
        return out
    finally:
        if old is not None:
            signal.alarm(0)
            signal.signal(signal.SIGALRM, old)
        for m in (mod, imod):
            if m is not None:
                unload(m)


def _check(mod: Any, imod: Any, order2: bool, seed: int) -> Outcome:
    f = mod.f
    args = tuple(mod.make_args())
    saved = copy.deepcopy(args)
    out0 = f(*copy.deepcopy(args))
    flat0 = leaves(out0)
    scalar = not isinstance(out0, (tuple, list, dict)) and np.ndim(out0) == 0
    positions = tuple(i for i, a in enumerate(args) if float_arg(a))
    rng = np.random.default_rng(seed)
    notes: list[str] = []
    located: Outcome | None = None

    def untouched(stage: str) -> None:
        if not all(np.array_equal(a, b) for a, b in zip(leaves(args), leaves(saved))):
            raise _Stop(Outcome("wrong", stage, "the call changed its arguments"))

    def fwd(dirs: list[Any]) -> tuple[Any, Any]:
        return _run("jvp", lambda: s2sad.jvp(f, args, dirs))

    dirs = [randlike(rng, a) if i in positions else None for i, a in enumerate(args)]
    # forward mode: primal equality, then the tangent against finite differences
    try:
        out_j, dot = fwd(dirs)
    except _Stop as stop:
        if stop.outcome.cls != "located":
            raise
        located, out_j, dot = stop.outcome, None, None
    untouched("jvp")
    if out_j is not None:
        if not same_structure(out_j, out0):
            raise _Stop(Outcome("wrong", "primal", "jvp's result has another structure or "
                                f"shape than f's: {_shapes(out_j)} vs {_shapes(out0)}"))
        if not close(out_j, out0, 1e-7, 1e-9):
            raise _Stop(Outcome("wrong", "primal", f"jvp's primal differs from f: "
                                f"{worst(out_j, out0)}", f"got {out_j!r}\nwant {out0!r}"))
        if not same_structure(dot, out0):
            raise _Stop(Outcome("wrong", "jvp", f"the tangent's shapes {_shapes(dot)} are not "
                                f"the result's {_shapes(out0)}"))
        verdict, dirs, dot = _fd_check(f, imod, args, dirs, dot, rng, fwd, positions, notes)
        if verdict is not None:
            raise _Stop(verdict)
    # reverse mode: the inner-product identity, gradient shapes
    try:
        _, vjp_fn = _run("vjp", lambda: s2sad.vjp(f, *args))
        cts = [rng.standard_normal(np.shape(v)) if isinstance(v, np.ndarray)
               else float(rng.standard_normal()) for v in flat0]
        ct = rebuild(out0, cts) if isinstance(out0, (tuple, list, dict)) else cts[0]
        grads = _run("vjp", lambda: vjp_fn(ct))
    except _Stop as stop:
        if stop.outcome.cls != "located":
            raise
        return located or stop.outcome
    untouched("vjp")
    for i in positions:
        if not same_structure(grads[i], args[i]):
            raise _Stop(Outcome("wrong", "vjp", f"the gradient of argument {i} has shapes "
                                f"{_shapes(grads[i])}, the argument {_shapes(args[i])}"))
    if dot is not None:
        lhs, m1 = (sum(x) for x in zip(*[vdot(grads[i], dirs[i]) for i in positions])) \
            if positions else (0.0, 0.0)
        rhs, m2 = vdot(ct, dot)
        if not abs(lhs - rhs) <= 1e-7 * (m1 + m2) + 1e-9:
            judged = "" if any("forward mode not judged" in n for n in notes) else \
                " (forward mode agrees with finite differences)"
            raise _Stop(Outcome("wrong", "inner", f"<vjp(c), t> = {lhs:.6g} but "
                                f"<c, jvp(t)> = {rhs:.6g}{judged}"))
    else:
        # forward mode was refused: judge reverse mode by differences instead
        verdict = _fd_check_reverse(f, imod, args, dirs, grads, ct, scalar, positions, rng,
                                    notes)
        if verdict is not None:
            raise _Stop(verdict)
    if located is not None:
        return located
    if scalar and positions:
        g = _run("grad", lambda: s2sad.grad(f, wrt=positions)(*args))
        untouched("grad")
        g1 = _run("vjp", lambda: vjp_fn(1.0))
        want = [g1[i] for i in positions]
        if not close(list(g), want, 1e-7, 1e-9):
            raise _Stop(Outcome("wrong", "grad", f"grad differs from vjp: {worst(g, want)}"))
        val, g2 = _run("value_and_grad",
                       lambda: s2sad.value_and_grad(f, wrt=positions)(*args))
        untouched("value_and_grad")
        if not close(val, out0, 1e-7, 1e-9):
            raise _Stop(Outcome("wrong", "primal", f"value_and_grad's value differs from f: "
                                f"{worst(val, out0)}"))
        if not close(list(g2), want, 1e-7, 1e-9):
            raise _Stop(Outcome("wrong", "grad", "value_and_grad's gradient differs from vjp: "
                                f"{worst(g2, want)}"))
        if order2:
            verdict = _hvp_check(f, imod, args, positions, rng, notes)
            if verdict is not None:
                raise _Stop(verdict)
    if isinstance(out0, tuple) and len(out0) == 2 and np.ndim(out0[0]) == 0 and positions:
        # (value, aux): grad with has_aux is vjp with a zero cotangent on aux
        g, aux = _run("grad-aux", lambda: s2sad.grad(f, wrt=positions, has_aux=True)(*args))
        untouched("grad-aux")
        zero = rebuild(out0[1], [np.zeros(np.shape(v)) if isinstance(v, np.ndarray) else 0.0
                                 for v in leaves(out0[1])])
        full = _run("vjp", lambda: vjp_fn((1.0, zero)))
        want = [full[i] for i in positions]
        if not close(list(g), want, 1e-7, 1e-9):
            raise _Stop(Outcome("wrong", "grad-aux", f"grad(has_aux=True) differs from vjp: "
                                f"{worst(list(g), want)}"))
        if not same_structure(aux, out0[1]) or not close(aux, out0[1], 1e-7, 1e-9):
            raise _Stop(Outcome("wrong", "grad-aux", "grad(has_aux=True)'s aux is not f's"))
    if dot is not None and positions and \
            not any(isinstance(args[i], (dict, list, tuple)) for i in positions):
        _vector_checks(f, args, out0, positions, rng, fwd)
    if dot is not None and positions:
        _float32_check(f, imod, args, positions, dirs, dot, ct, grads, notes)
    return Outcome("pass", notes=notes)


def _float32_check(f: Any, imod: Any, args: tuple, positions: tuple, dirs: list[Any],
                   dot: Any, ct: Any, grads: Any, notes: list[str]) -> None:
    """float32 arrays in: the primal has f's dtypes, each gradient its argument's dtype, and
    the numbers are near the float64 ones."""
    def f32(x: Any) -> Any:
        return rebuild(x, [v.astype(np.float32) if isinstance(v, np.ndarray) else v
                           for v in leaves(x)])
    if not any(isinstance(v, np.ndarray) for i in positions for v in leaves(args[i])):
        return
    a32 = tuple(f32(a) if i in positions else a for i, a in enumerate(args))
    out32 = f(*copy.deepcopy(a32))
    if not _finite(out32):
        return
    t32 = [f32(d) if d is not None else None for d in dirs]
    o, d32 = _run("float32", lambda: s2sad.jvp(f, a32, t32))
    for got, want in zip(leaves(o), leaves(out32)):
        if np.result_type(got) != np.result_type(want):
            # a note, not a failure: the numbers agree, NumPy's promotion is not followed
            notes.append(f"float32: jvp's primal is {np.result_type(got)} where f gives "
                         f"{np.result_type(want)}")
            break
    _, fn = _run("float32", lambda: s2sad.vjp(f, *a32))
    # a cotangent of each result's dtype (a float64 one would promote the gradient)
    c32 = [np.asarray(c).astype(np.result_type(o)) if isinstance(c, np.ndarray)
           else np.result_type(o).type(c) for c, o in zip(leaves(ct), leaves(out32))]
    c32 = rebuild(ct, c32) if isinstance(ct, (tuple, list, dict)) else c32[0]
    g32 = _run("float32", lambda: fn(c32))
    for i in positions:
        for got, arg in zip(leaves(g32[i]), leaves(a32[i])):
            if isinstance(arg, np.ndarray) and np.result_type(got) != arg.dtype:
                raise _Stop(Outcome("wrong", "float32", f"the gradient of a {arg.dtype} "
                                    f"argument is {np.result_type(got)}"))
    try:
        same_path = same_decisions(decisions(imod, a32), decisions(imod, args))
    except Exception:  # noqa: BLE001 (f fails in float32: no numbers to compare)
        same_path = False
    if not same_path:
        return  # rounding to float32 took another branch: the numbers may differ
    if not close(leaves(d32), leaves(dot), 5e-2, 5e-3):
        raise _Stop(Outcome("wrong", "float32", f"float32 tangent far from float64's: "
                            f"{worst(leaves(d32), leaves(dot))}"))
    want = [x for i in positions for x in leaves(grads[i])]
    got = [x for i in positions for x in leaves(g32[i])]
    if not close(got, want, 5e-2, 5e-3):
        raise _Stop(Outcome("wrong", "float32", f"float32 gradient far from float64's: "
                            f"{worst(got, want)}"))


def _vector_checks(f: Any, args: tuple, out0: Any, positions: tuple,
                   rng: np.random.Generator, fwd: Callable) -> None:
    """Vector forward mode (`jvp(batched=True)`) and `jacobian` in both modes, against
    one-direction jvps (forward mode is already checked against finite differences)."""
    k = 2
    tans = [np.stack([np.asarray(randlike(rng, a)) for _ in range(k)]) if i in positions
            else None for i, a in enumerate(args)]
    _, dots = _run("batched", lambda: s2sad.jvp(f, args, tans, batched=True))
    for j in range(k):
        dj = [None if t is None else (float(t[j]) if isinstance(a, (float, np.floating))
                                      else t[j]) for t, a in zip(tans, args)]
        _, want = fwd(dj)
        got = [np.asarray(leaf)[j] if np.ndim(leaf) else leaf for leaf in leaves(dots)]
        if not close(got, leaves(want), 1e-7, 1e-9):
            raise _Stop(Outcome("wrong", "batched", f"jvp(batched=True) direction {j} differs "
                                f"from jvp: {worst(got, leaves(want))}"))
    if isinstance(out0, (tuple, list, dict)):
        return
    p0 = positions[0]
    only = [None] * len(args)
    only[p0] = randlike(rng, args[p0])
    _, want = fwd(only)
    for mode in ("forward", "reverse"):
        J = _run(f"jacobian-{mode}",
                 lambda mode=mode: s2sad.jacobian(f, wrt=p0, mode=mode)(*args))
        if np.shape(J) != np.shape(out0) + np.shape(args[p0]):
            raise _Stop(Outcome("wrong", f"jacobian-{mode}", f"the Jacobian has shape "
                                f"{np.shape(J)}, not {np.shape(out0) + np.shape(args[p0])}"))
        Jt = np.tensordot(np.asarray(J, float), np.asarray(only[p0], float),
                          axes=np.ndim(args[p0]))
        if not close(Jt, want, 1e-7, 1e-9):
            raise _Stop(Outcome("wrong", f"jacobian-{mode}", f"J @ t differs from jvp: "
                                f"{worst(Jt, want)}"))


def _shapes(x: Any) -> str:
    if isinstance(x, dict):
        return "{" + ", ".join(f"{k}: {_shapes(v)}" for k, v in x.items()) + "}"
    if isinstance(x, (list, tuple)):
        return "(" + ", ".join(_shapes(v) for v in x) + ")"
    return str(np.shape(x))


def _stencils(F: Callable[[float], Any]) -> tuple[list[Any], list[Any]]:
    """The 2-point and 4-point central differences of F at 0, leaf by leaf."""
    p, m = leaves(F(H2)), leaves(F(-H2))
    fd2 = [(np.asarray(a, float) - np.asarray(b, float)) / (2 * H2) for a, b in zip(p, m)]
    p1, m1, p2, m2 = (leaves(F(h)) for h in (H4, -H4, 2 * H4, -2 * H4))
    fd4 = [(8 * (np.asarray(a, float) - np.asarray(b, float)) -
            (np.asarray(c, float) - np.asarray(d, float))) / (12 * H4)
           for a, b, c, d in zip(p1, m1, p2, m2)]
    return fd2, fd4


def _smooth_here(imod: Any, args: tuple, dirs: list[Any]) -> bool:
    """f takes the same branches at every point the stencils visit."""
    try:
        base = decisions(imod, args)
        for h in (H2, -H2, H4, -H4, 2 * H4, -2 * H4):
            moved = tuple(shift(a, d, h) for a, d in zip(args, dirs))
            if not same_decisions(decisions(imod, moved), base):
                return False
    except Exception:  # noqa: BLE001 (f fails at a shifted point, a math domain error)
        return False
    return True


def _fd_check(f: Any, imod: Any, args: tuple, dirs: list[Any], dot: Any,
              rng: np.random.Generator, fwd: Callable, positions: tuple, notes: list[str],
              ) -> tuple[Outcome | None, list[Any], Any]:
    """The verdict, and the direction and tangent it was reached with."""
    first = dirs, dot
    for attempt in range(4):
        if attempt:
            dirs = [randlike(rng, a) if i in positions else None for i, a in enumerate(args)]
            _, dot = fwd(dirs)
        if not _smooth_here(imod, args, dirs):
            continue

        def F(h: float, dirs: list[Any] = dirs) -> Any:
            return f(*[shift(a, d, h) for a, d in zip(args, dirs)])
        fd2, fd4 = _stencils(F)
        got = leaves(dot)
        if close(got, fd2, RTOL, ATOL) or close(got, fd4, RTOL, ATOL):
            return None, dirs, dot
        if not close(fd2, fd4, RTOL * 10, ATOL * 10):
            continue  # the differences disagree with each other: not a point to judge at
        return (Outcome("wrong", "fd", f"forward mode disagrees with both finite-difference "
                        f"stencils: {worst(got, fd4)}",
                        f"jvp {got!r}\nfd2 {fd2!r}\nfd4 {fd4!r}"), dirs, dot)
    notes.append("forward mode not judged: every point tried was near a branch boundary")
    return None, first[0], first[1]


def _fd_check_reverse(f: Any, imod: Any, args: tuple, dirs: list[Any], grads: Any, ct: Any,
                      scalar: bool, positions: tuple, rng: np.random.Generator,
                      notes: list[str]) -> Outcome | None:
    if not positions:
        return None
    for attempt in range(4):
        if attempt:
            dirs = [randlike(rng, a) if i in positions else None for i, a in enumerate(args)]
        if not _smooth_here(imod, args, dirs):
            continue
        lhs, _ = (sum(x) for x in zip(*[vdot(grads[i], dirs[i]) for i in positions]))
        cts = leaves(ct)

        def F(h: float, dirs: list[Any] = dirs) -> Any:
            return f(*[shift(a, d, h) for a, d in zip(args, dirs)])
        fd2, fd4 = _stencils(F)
        r2, m2 = vdot(cts, fd2)
        r4, _ = vdot(cts, fd4)
        tol = RTOL * max(1.0, m2) + ATOL
        if abs(lhs - r2) <= tol or abs(lhs - r4) <= tol:
            return None
        if abs(r2 - r4) > 10 * tol:
            continue
        return Outcome("wrong", "fd-reverse", f"reverse mode disagrees with both stencils: "
                       f"<vjp(c), t> = {lhs:.6g}, <c, fd> = {r4:.6g}")
    notes.append("reverse mode not judged: every point tried was near a branch boundary")
    return None


def _hvp_check(f: Any, imod: Any, args: tuple, positions: tuple, rng: np.random.Generator,
               notes: list[str]) -> Outcome | None:
    g = s2sad.grad(f, wrt=positions)
    for attempt in range(3):
        vs = tuple(randlike(rng, args[i]) for i in positions)
        dirs = [None] * len(args)
        for i, v in zip(positions, vs):
            dirs[i] = v
        if not _smooth_here(imod, args, dirs):
            continue
        hv = _run("hvp", lambda vs=vs: s2sad.hvp(f, wrt=positions)(*args, vs))

        def G(h: float, dirs: list[Any] = dirs) -> Any:
            return list(g(*[shift(a, d, h) for a, d in zip(args, dirs)]))
        fd2, fd4 = _stencils(G)
        got = leaves(list(hv))
        if close(got, fd2, 1e-3, 1e-4) or close(got, fd4, 1e-3, 1e-4):
            return None
        if not close(fd2, fd4, 1e-2, 1e-3):
            continue
        return Outcome("wrong", "hvp", f"the Hessian-vector product disagrees with differences "
                       f"of the gradient: {worst(got, fd4)}")
    notes.append("second order not judged: near a branch boundary")
    return None


# -- minimising a failure -----------------------------------------------------------------------

def _bodies(tree: ast.Module) -> list[list[ast.stmt]]:
    out = []
    for top in tree.body:
        if isinstance(top, ast.FunctionDef) and top.name != "make_args":
            for node in ast.walk(top):
                for fld in ("body", "orelse"):
                    b = getattr(node, fld, None)
                    if isinstance(b, list) and b and isinstance(b[0], ast.stmt):
                        out.append(b)
    return out


def _candidates(src: str) -> list[str]:
    """Smaller programs: one statement dropped, a block flattened, a subexpression lifted."""
    out: list[str] = []
    tree = ast.parse(src)
    for k, top in enumerate(tree.body):  # a helper nothing calls any more
        if isinstance(top, ast.FunctionDef) and top.name not in ("f", "make_args"):
            t = ast.parse(src)
            del t.body[k]
            out.append(ast.unparse(t))
    n_bodies = len(_bodies(tree))
    for bi in range(n_bodies):
        for si in range(len(_bodies(ast.parse(src))[bi])):
            for how in ("drop", "flatten"):
                t = ast.parse(src)
                body = _bodies(t)[bi]
                node = body[si]
                if how == "drop":
                    if isinstance(node, ast.Return) and si == len(body) - 1:
                        continue
                    del body[si]
                    if not body:
                        body.append(ast.Pass())
                else:
                    inner = getattr(node, "body", None)
                    if not isinstance(node, (ast.If, ast.For, ast.While)) or not inner:
                        continue
                    body[si:si + 1] = inner
                out.append(ast.unparse(t))
    # subexpressions: a binary operation by one operand, a call by its first argument
    t0 = ast.parse(src)
    exprs = [n for top in t0.body if isinstance(top, ast.FunctionDef) and top.name != "make_args"
             for n in ast.walk(top) if isinstance(n, (ast.BinOp, ast.Call, ast.IfExp))]
    for k in range(len(exprs)):
        for side in ("left", "right"):
            t = ast.parse(src)
            nodes = [n for top in t.body if isinstance(top, ast.FunctionDef) and
                     top.name != "make_args" for n in ast.walk(top)
                     if isinstance(n, (ast.BinOp, ast.Call, ast.IfExp))]
            node = nodes[k]
            if isinstance(node, ast.BinOp):
                repl = getattr(node, side)
            elif isinstance(node, ast.IfExp):
                repl = node.body if side == "left" else node.orelse
            elif side == "left" and node.args and isinstance(node.func, ast.Attribute):
                repl = node.args[0]
            elif side == "right" and isinstance(node.func, ast.Attribute) and \
                    not (isinstance(node.func.value, ast.Name) and
                         node.func.value.id in ("np", "math")):
                repl = node.func.value  # x.sum() -> x
            else:
                continue
            if isinstance(repl, (ast.Tuple, ast.List)) or \
                    isinstance(repl, ast.Constant) and not isinstance(repl.value, float):
                continue  # np.ones((3, 1)) -> (3, 1) is not a smaller program of the kind
            _Replace(node, repl).visit(t)
            out.append(ast.unparse(t))
    return out


class _Replace(ast.NodeTransformer):
    def __init__(self, old: ast.AST, new: ast.AST) -> None:
        self.old, self.new = old, new

    def generic_visit(self, node: ast.AST) -> ast.AST:
        if node is self.old:
            return self.new
        return super().generic_visit(node)


def minimize(src: str, outcome: Outcome, budget: float = 60.0, seed: int = 0,
             order2: bool = False) -> str:
    """The smallest program found (within `budget` seconds) with the same failure signature
    (checked with the `seed` and `order2` the failure was found with)."""
    def check(s: str) -> Outcome:
        return check_source(s, order2=order2, seed=seed)
    want = outcome.signature
    best = ast.unparse(ast.parse(src))
    t0 = time.monotonic()
    changed = True
    while changed and time.monotonic() - t0 < budget:
        changed = False
        k = 0  # candidates before k failed on this pass: go on from there after a success
        while time.monotonic() - t0 < budget:
            cands = _candidates(best)[k:]
            for j, cand in enumerate(cands):
                if time.monotonic() - t0 > budget:
                    break
                if len(cand) >= len(best) or not accept(cand):
                    continue
                if check(cand).signature == want:
                    best, changed = cand, True
                    k += j
                    break
            else:
                break
    return best


TEST_SEEDS = range(120)  # the seeds tests/test_fuzz.py runs


def test_order2(seed: int) -> bool:
    """Which of the test's seeds also check second order (a quarter of them)."""
    return seed % 4 == 0


def program(seed: int, without: frozenset[str] | set[str] = frozenset(),
            tries: int = 20) -> str | None:
    """The first program generated for `seed` that runs in Python with finite results."""
    from fuzzgen import generate
    for k in range(tries):
        src = generate(seed * 1000 + k, without)
        if accept(src):
            return src
    return None
