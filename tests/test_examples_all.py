"""Every lecture example in examples/ runs to the end and prints its key result.

Each example checks its own numbers with assertions, so exit code 0 already means s2sad gave
the right derivatives there; the lines below make sure the example got as far as printing its
result. Matplotlib is optional: without it the examples print and skip their figure.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TIMEOUT = 120  # seconds; each example takes a few seconds on a 2-core machine

# example -> lines its output must contain
EXPECTED = {
    "quickstart": ["gradient of f at (3, 4): (24, 10)",
                   "gradient of g at (2, 5): (5.5000, 1.7163)",
                   "Hessian of f at (3, 4), by",
                   "def f_grad(x, y):",
                   "def f_jvp(x, y, x_dot, y_dot):"],
    "finite_differences": ["best central:", "best one-sided:"],
    "dual_numbers": ["gradient of g at (2, 5) from two dual-number passes: (5.5000, 1.7163)",
                     "def g_jvp(x1, x2, x1_dot, x2_dot):"],
    "xor_mlp": ["all optimisers reach 100% accuracy on XOR"],
    "logistic_regression": ["train accuracy", "test accuracy"],
    "fluid_simulation": ["central difference", "of the start) in"],
    "hyperparameter_optimization": ["d/dlog_lr: s2sad", "hypergradient steps"],
    "bayes_by_backprop": ["exact posterior mean", "max |mean error| ="],
    "newton_while": ["dE/dM: s2sad", "tape.append(", "for trip in reversed(range(n)):"],
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_example_runs(name):
    script = ROOT / "examples" / f"{name}.py"
    res = subprocess.run([sys.executable, str(script)], cwd=ROOT, capture_output=True,
                         text=True, timeout=TIMEOUT, check=False)
    assert res.returncode == 0, f"{name} failed:\n{res.stdout[-3000:]}\n{res.stderr[-3000:]}"
    for line in EXPECTED[name]:
        assert line in res.stdout, f"{name}: {line!r} not in its output:\n{res.stdout[-3000:]}"


def test_every_example_is_tested():
    scripts = {p.stem for p in (ROOT / "examples").glob("*.py")}
    untested = scripts - set(EXPECTED) - {"lecture", "_plot"}   # lecture: test_examples.py
    assert not untested, f"examples without a test here: {sorted(untested)}"
