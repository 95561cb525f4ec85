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


def _no_traceback(res):
    assert "Traceback" not in res.stderr and res.stdout == ""


def test_emit_honours_a_coding_line_and_a_bom(tmp_path):
    declared = tmp_path / "latin.py"
    declared.write_bytes(b"# -*- coding: latin-1 -*-\nK = 3.0\n\n\ndef f(x):\n"
                         b"    return K * x * x  # caf\xe9\n")
    res = run("emit", str(declared))
    assert res.returncode == 0, res.stderr
    assert "def f_grad(x):" in res.stdout and "caf\u00e9" in res.stdout
    out = tmp_path / "out.py"
    res = run("emit", str(declared), "-o", str(out))
    assert res.returncode == 0, res.stderr
    namespace = {}
    exec(out.read_text(encoding="utf-8"), namespace)  # noqa: S102
    assert namespace["f_grad"](2.0) == 12.0
    bom = tmp_path / "bom.py"
    bom.write_bytes(b"\xef\xbb\xbfdef f(x):\n    return x * x\n")
    res = run("emit", str(bom))
    assert res.returncode == 0 and "def f_grad(x):" in res.stdout, res.stderr


def test_emit_of_a_file_not_in_its_encoding_is_a_located_source_error(tmp_path):
    bad = tmp_path / "notutf8.py"
    bad.write_bytes(b"def f(x):\n    return x * 2.0  # caf\xe9\n")
    for args in (("emit", str(bad)), ("emit", str(bad), "--ir"),
                 ("explain", str(bad), "f", "--at", "1")):
        res = run(*args)
        assert res.returncode == 1
        _no_traceback(res)
        assert res.stderr.startswith(f"{bad}:2:26: SourceError: byte 0xe9 is not utf-8 "
                                     "(the file declares no encoding)")
        assert "hint: declare the file's encoding" in res.stderr
    unknown = tmp_path / "unknown.py"
    unknown.write_bytes(b"# coding: klingon\ndef f(x):\n    return x\n")
    res = run("emit", str(unknown))
    assert res.returncode == 1 and f"{unknown}:1:1: SourceError: unknown encoding" in \
        res.stderr
    _no_traceback(res)


@pytest.mark.parametrize("name, content, status, message", [
    ("syntax.py", "def f(x):\n    return x *\n", 1, "{path}:2:15: SyntaxError: invalid syntax"),
    ("empty.py", "", 2, "s2sad: {path} defines no top-level functions"),
    ("nofunctions.py", "X = 1.0\n", 2, "s2sad: {path} defines no top-level functions"),
    ("imports.py", "import no_such_module_s2sad\n\n\ndef f(x):\n    return x\n", 1,
     "{path}:1:1: SourceError: ModuleNotFoundError: No module named 'no_such_module_s2sad', "
     "while importing what {path} imports"),
    ("nul.py", "def f(x):\n    return x\0\n", 1, "SyntaxError: source code string cannot "
     "contain null bytes"),
])
def test_emit_failures_are_one_diagnostic_and_an_exit_status(tmp_path, name, content, status,
                                                            message):
    path = tmp_path / name
    path.write_text(content)
    res = run("emit", str(path))
    assert res.returncode == status
    _no_traceback(res)
    assert message.format(path=path) in res.stderr.splitlines()[0]


def test_emit_of_what_is_not_a_readable_file(tmp_path, model):
    path, _ = model
    for target, why in ((tmp_path / "missing.py", "No such file or directory"),
                        (tmp_path, "Is a directory")):
        res = run("emit", str(target))
        assert res.returncode == 2 and res.stderr == f"s2sad: cannot read {target}: {why}\n"
        _no_traceback(res)
    res = run("emit", str(path), "loss", "nope")
    assert res.returncode == 2
    assert res.stderr == f"s2sad: {path} defines no function nope (it defines: helper, " \
        "loss, mean_sq)\n"
    res = run("emit", str(path), "loss", "-o", str(tmp_path / "no_dir" / "out.py"))
    assert res.returncode == 2 and "s2sad: cannot write" in res.stderr
    _no_traceback(res)
