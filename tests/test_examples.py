"""The examples run, and print what they promise (each checks its own numbers too)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_lecture_demo():
    res = subprocess.run([sys.executable, str(ROOT / "examples" / "lecture.py")],
                         capture_output=True, text=True, check=True)
    assert "gradient of f at (3.0, 4.0): (24, 10)" in res.stdout
    assert "gradient of g at (2.0, 5.0): (5.5, 1.71634)" in res.stdout
    assert "# Wengert list of f(x, y)" in res.stdout
    assert "def f_grad(x, y):" in res.stdout
