"""`s2sad emit`, run as users run it: a subprocess."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

MODEL = '''\
import math
import numpy as np

open({marker!r}, "w").write("executed")  # must never run: emit only reads the file

SCALE = 2.0


def helper(t):
    return t * t


def loss(x, y):
    return SCALE * helper(x) * y + math.sin(y)


def mean_sq(w):
    return np.mean(w ** 2)
'''


def run(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "s2sad", *args], capture_output=True,
                          text=True, cwd=cwd)


@pytest.fixture
def model(tmp_path):
    marker = tmp_path / "executed.marker"
    path = tmp_path / "model.py"
    path.write_text(MODEL.format(marker=str(marker)))
    return path, marker


def test_emit_reads_without_executing(model):
    path, marker = model
    res = run("emit", str(path), "loss")
    assert res.returncode == 0, res.stderr
    assert not marker.exists()
    assert "def loss_grad(x, y):" in res.stdout
    assert "x_bar" in res.stdout and "y_bar" in res.stdout
    assert "# L14: return SCALE * helper(x) * y + math.sin(y)" in res.stdout


def test_emit_every_function_forward_and_ir(model, tmp_path):
    path, marker = model
    res = run("emit", str(path), "--mode", "forward", "--wrt", "x")
    assert res.returncode == 0, res.stderr
    assert "def loss_jvp(x, y, x_dot):" in res.stdout
    assert "# helper(t): skipped, it has none of the parameters --wrt names (x)" in res.stdout
    res = run("emit", str(path), "--mode", "forward")
    assert "def helper_jvp(t, t_dot):" in res.stdout and "def mean_sq_jvp(w, w_dot)" in res.stdout
    res = run("emit", str(path), "loss", "--ir")
    assert res.returncode == 0 and "# Wengert list of loss(x, y)" in res.stdout
    out = tmp_path / "out.py"
    res = run("emit", str(path), "loss", "--no-optimize", "-o", str(out))
    assert res.returncode == 0 and "def loss_grad" in out.read_text()
    assert not marker.exists()


def test_emit_error_exit_codes(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text(textwrap.dedent('''\
        def f(x):
            try:
                return x
            except ValueError:
                return x
        '''))
    res = run("emit", str(bad))
    assert res.returncode == 1
    assert f"{bad}:2:5: UnsupportedSyntax:" in res.stderr and "hint:" in res.stderr
    res = run("emit", str(bad), "nope")
    assert res.returncode == 2 and "defines no function nope" in res.stderr
    res = run("emit", str(tmp_path / "missing.py"))
    assert res.returncode == 2
    res = run("frobnicate")
    assert res.returncode == 2
