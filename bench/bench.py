"""Speed of s2sad's generated gradients, against the function, a hand-written gradient and autograd.

Two workloads:

* ``scalar f(x,y)``: the lecture function ``f(x, y) = x*x*y + y + 2`` at (3.0, 4.0), Python floats.
* ``MLP 256x784-256-10``: the softmax cross-entropy loss of a 2-layer tanh MLP on a batch of 256
  (float64, seeded), differentiated with respect to (W1, b1, W2, b2).

For each workload we time the function itself, ``s2sad.grad(f, wrt=...)`` called the way a user
calls it (after one warm-up call that generates and caches the code), a gradient written by hand
in this file, and HIPS autograd's ``grad`` (skipped when autograd is not installed).  Before any
timing, the gradients are checked against each other with ``np.allclose``.

Last, the Jacobian of a function of a 100-vector in forward mode: vector mode (all 100
tangent directions in one sweep) against one forward sweep per column.

Timing uses ``timeit``: each candidate's loop count is chosen so that one measurement lasts at
least ~0.2 s (scalar) or ~0.1 s (MLP), then the candidates are measured in turn, round-robin, and
the best repeat is kept; interleaving keeps the ratios comparable on a noisy shared machine.
``--quick`` uses short measurements, for smoke runs.  The script always exits 0: it reports
whether the targets are met but is a measurement, not a test.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import timeit
import types
from collections.abc import Callable
from typing import Any

import numpy as np

import s2sad

try:
    import autograd
    import autograd.numpy as anp
except ImportError:
    autograd = None

# ------------------------------------------------------------------------------ the workloads


def f(x: float, y: float) -> float:
    return x * x * y + y + 2


def f_grad_hand(x: float, y: float) -> tuple[float, float]:
    return 2 * x * y, x * x + 1


def mlp_loss(W1: Any, b1: Any, W2: Any, b2: Any, X: Any, Y: Any) -> Any:
    h = np.tanh(X @ W1 + b1)
    logits = h @ W2 + b2
    m = np.max(logits, axis=1, keepdims=True)
    z = logits - m
    logp = z - np.log(np.sum(np.exp(z), axis=1, keepdims=True))
    return -np.mean(np.sum(logp * Y, axis=1))


def mlp_grad_hand(W1: np.ndarray, b1: np.ndarray, W2: np.ndarray, b2: np.ndarray,
                  X: np.ndarray, Y: np.ndarray) -> tuple[np.ndarray, ...]:
    """The usual backward pass; uses that each row of Y sums to 1 (one-hot labels)."""
    h = np.tanh(X @ W1 + b1)
    logits = h @ W2 + b2
    e = np.exp(logits - np.max(logits, axis=1, keepdims=True))
    d_logits = (e / np.sum(e, axis=1, keepdims=True) - Y) / X.shape[0]
    d_pre = (d_logits @ W2.T) * (1.0 - h * h)
    return X.T @ d_pre, np.sum(d_pre, axis=0), h.T @ d_logits, np.sum(d_logits, axis=0)


def mlp_data(seed: int = 0) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((256, 784))
    W1 = rng.standard_normal((784, 256)) / math.sqrt(784)
    b1 = 0.1 * rng.standard_normal(256)
    W2 = rng.standard_normal((256, 10)) / math.sqrt(256)
    b2 = 0.1 * rng.standard_normal(10)
    Y = np.eye(10)[rng.integers(0, 10, size=256)]
    return W1, b1, W2, b2, X, Y


def with_numpy(fn: Callable[..., Any], module: Any) -> Callable[..., Any]:
    """`fn` with the global name `np` bound to `module` (autograd.numpy): the same code object."""
    return types.FunctionType(fn.__code__, {**fn.__globals__, "np": module}, fn.__name__)


# ----------------------------------------------------------------------------------- timing


def best_time(candidates: dict[str, Callable[..., Any]], args: tuple[Any, ...],
              target: float, repeats: int) -> dict[str, float]:
    """Seconds per call of each candidate: best of `repeats`, measured round-robin."""
    call = "fn(" + ", ".join(f"a{i}" for i in range(len(args))) + ")"
    names = {f"a{i}": a for i, a in enumerate(args)}
    timers = {k: timeit.Timer(call, globals={"fn": fn, **names}) for k, fn in candidates.items()}
    loops = {}
    for key, timer in timers.items():  # calibrate: enough loops to last `target` seconds
        n = 1
        while (t := timer.timeit(n)) < target:
            n = math.ceil(n * min(10.0, 1.2 * target / max(t, 1e-9)))
        loops[key] = n
    best = {k: math.inf for k in timers}
    for _ in range(repeats):
        for key, timer in timers.items():
            best[key] = min(best[key], timer.timeit(loops[key]) / loops[key])
    return best


def check(name: str, got: tuple[Any, ...], want: tuple[Any, ...]) -> None:
    assert len(got) == len(want), f"{name}: {len(got)} gradients, expected {len(want)}"
    for i, (g, w) in enumerate(zip(got, want)):
        assert np.shape(g) == np.shape(w) and np.allclose(g, w, rtol=1e-7, atol=1e-10), \
            f"{name}: gradient {i} differs"


def fmt_time(t: float | None) -> str:
    if t is None:
        return "n/a"
    return f"{t * 1e6:.3g} µs" if t < 1e-3 else f"{t * 1e3:.3g} ms"


def ratio(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else a / b


def fmt_ratio(r: float | None) -> str:
    return "n/a" if r is None else f"{r:.2f}x"


# ------------------------------------------------------------------------------------- main


def run_case(fn: Callable[..., Any], hand: Callable[..., Any], args: tuple[Any, ...],
             wrt: tuple[int, ...], target: float, repeats: int) -> dict[str, float | None]:
    g = s2sad.grad(fn, wrt=wrt)
    ours = g(*args)  # the warm-up call: generates, compiles and caches the code
    check(f"s2sad vs hand-written ({fn.__name__})", ours, hand(*args))
    candidates = {"function": fn, "s2sad": g, "hand": hand}
    if autograd is not None:
        ag = autograd.grad(with_numpy(fn, anp), argnum=wrt)
        check(f"autograd vs s2sad ({fn.__name__})", tuple(ag(*args)), ours)
        candidates["autograd"] = ag
    times: dict[str, float | None] = {"autograd": None}
    times.update(best_time(candidates, args, target, repeats))
    return times


def energy(x: Any) -> Any:
    """A smooth function of a 1000-vector, for Hessian-vector products."""
    return np.sum(np.sin(x) * x ** 2) + 0.5 * np.sum(x ** 2) ** 2 + np.sum(np.tanh(x[1:] * x[:-1]))


def hvp_row(target: float, repeats: int) -> dict[str, float]:
    """HVP time / gradient time (forward over reverse), and a check against finite differences
    of the gradient, for a function of a 1000-vector."""
    rng = np.random.default_rng(1)
    x, v = rng.standard_normal(1000), rng.standard_normal(1000)
    grad, hvp = s2sad.grad(energy), s2sad.hvp(energy)
    eps = 1e-6
    numeric = (grad(x + eps * v) - grad(x - eps * v)) / (2 * eps)
    assert np.allclose(hvp(x, v), numeric, rtol=1e-5, atol=1e-6), "s2sad HVP disagrees"
    times = best_time({"grad": lambda a: grad(a), "hvp": lambda a: hvp(a, v),
                       "function": energy}, (x,), target, repeats)
    return times


def jac_target(x: Any) -> Any:
    """A function of a 100-vector with a 100-vector result, for Jacobians."""
    y = np.tanh(x) * x
    return np.cumsum(y) + np.sin(x[::-1]) * np.sum(x * x) + JAC_W @ y


JAC_W = np.random.default_rng(2).standard_normal((100, 100)) / 10.0


def jacobian_row(target: float, repeats: int) -> dict[str, float]:
    """Jacobian of a function of a 100-vector: vector forward mode (one sweep carrying all 100
    directions) against one forward sweep per column, checked against each other and reverse
    mode first."""
    x = np.random.default_rng(3).standard_normal(100)
    vector = s2sad.jacobian(jac_target, mode="forward")
    eye = np.eye(x.size)

    def columns(a: Any) -> Any:
        return np.stack([s2sad.jvp(jac_target, (a,), (e,))[1] for e in eye], axis=-1)
    J = vector(x)
    assert s2sad.api.vector_stats["fallbacks"] == 0, "vector mode fell back to columns"
    assert np.allclose(J, columns(x), rtol=1e-10, atol=1e-12), "vector and columns disagree"
    assert np.allclose(J, s2sad.jacobian(jac_target, mode="reverse")(x), rtol=1e-10,
                       atol=1e-12), "vector and reverse mode disagree"
    return best_time({"vector": vector, "columns": columns, "function": jac_target}, (x,),
                     target, repeats)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short measurements (smoke run)")
    opts = parser.parse_args()
    repeats, scale = (2, 0.05) if opts.quick else (5, 1.0)

    print(f"s2sad {s2sad.__version__}, NumPy {np.__version__}, "
          f"Python {platform.python_version()}, {os.cpu_count()} CPU(s)"
          + (", quick run" if opts.quick else ""))
    if autograd is None:
        print("autograd is not installed: its columns are skipped "
              "(pip install -e '.[bench]')")
    rows = {
        "scalar f(x,y)": run_case(f, f_grad_hand, (3.0, 4.0), (0, 1), 0.2 * scale, repeats),
        "MLP 256x784-256-10": run_case(mlp_loss, mlp_grad_hand, mlp_data(), (0, 1, 2, 3),
                                       0.1 * scale, repeats),
    }

    header = ["benchmark", "function", "s2sad grad", "hand grad", "autograd grad",
              "s2sad/function", "hand/function", "s2sad/hand", "autograd/s2sad"]
    lines = [header, ["---"] + ["---:"] * (len(header) - 1)]
    for name, t in rows.items():
        lines.append([name] + [fmt_time(t[k]) for k in ("function", "s2sad", "hand", "autograd")]
                     + [fmt_ratio(ratio(t[a], t[b])) for a, b in (
                         ("s2sad", "function"), ("hand", "function"), ("s2sad", "hand"),
                         ("autograd", "s2sad"))])
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    print()
    for line in lines:
        print("| " + " | ".join(c.ljust(w) for c, w in zip(line, widths)) + " |")

    scalar, mlp = rows["scalar f(x,y)"], rows["MLP 256x784-256-10"]
    targets = [  # (label, measured ratio, bound, whether the ratio must be at least the bound)
        ("scalar: s2sad/hand <= 1.5", ratio(scalar["s2sad"], scalar["hand"]), 1.5, False),
        ("scalar: autograd/s2sad >= 10", ratio(scalar["autograd"], scalar["s2sad"]), 10, True),
        ("MLP: s2sad/hand <= 1.2", ratio(mlp["s2sad"], mlp["hand"]), 1.2, False)]
    print("\nTargets:")
    for label, value, bound, at_least in targets:
        if value is None:
            verdict = "not measured (autograd not installed)"
        else:
            met = value >= bound if at_least else value <= bound
            verdict = f"{value:.2f} -> {'met' if met else 'MISSED'}"
        print(f"- {label}: {verdict}")

    h = hvp_row(0.1 * scale, repeats)
    print("\nHessian-vector product, f of a 1000-vector (forward over reverse):")
    print(f"- function {fmt_time(h['function'])}, gradient {fmt_time(h['grad'])}, "
          f"HVP {fmt_time(h['hvp'])}: HVP/gradient = {fmt_ratio(ratio(h['hvp'], h['grad']))}")

    j = jacobian_row(0.1 * scale, repeats)
    print("\nJacobian 100x100, f of a 100-vector (forward mode):")
    print(f"- function {fmt_time(j['function'])}, vector mode (one sweep) "
          f"{fmt_time(j['vector'])}, column by column (100 sweeps) {fmt_time(j['columns'])}: "
          f"columns/vector = {fmt_ratio(ratio(j['columns'], j['vector']))}")


if __name__ == "__main__":
    main()
