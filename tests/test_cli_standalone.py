"""`s2sad emit FILE -o OUT` writes a module that imports and runs on its own."""

from __future__ import annotations

import importlib.util
import math
import subprocess
import sys
import textwrap

import pytest

import s2sad
from s2sad.cli import load_definitions, standalone_module

MODEL = '''\
import math
from math import pi
import numpy as np
from s2sad import stop_gradient

open({marker!r}, "w").write("executed")  # never run: emit only reads the file

SCALE = 2.0
OFFSET, UNUSED = (
    -0.5,
    3,
)
SCALE_TOO = SCALE * 2  # not a literal: never copied
LABEL = "unused"


def helper(t):
    return t * t


def loss(x, y):
    return SCALE * helper(x) * y + math.sin(y) + OFFSET * x


def smooth(x, y):
    return math.erf(x) * stop_gradient(x * y) + np.tanh(x * y)


def clipped(x, y):
    return np.where(x > y, x * y, y) + np.clip(x, -1.0, 1.0) * x


def wave(x, y):
    return pi * math.sin(x) * y
'''


def run(*args):
    return subprocess.run([sys.executable, "-m", "s2sad", *args], capture_output=True, check=False,
                          text=True, encoding="utf-8")


def load(path, name):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def model(tmp_path):
    marker = tmp_path / "executed.marker"
    path = tmp_path / "model.py"
    path.write_text(MODEL.format(marker=str(marker)))
    return path, marker


def test_written_module_imports_and_matches_grad(model, tmp_path):
    path, marker = model
    out = tmp_path / "model_grads.py"
    res = run("emit", str(path), "loss", "smooth", "clipped", "wave", "-o", str(out))
    assert res.returncode == 0, res.stderr
    assert res.stdout == "" and res.stderr == ""
    assert not marker.exists()
    text = out.read_text()
    head = text.split("\ndef ")[0]
    assert "import math\n" in head and "import numpy as np\n" in head
    assert "from s2sad.runtime import stop_gradient\n" in head
    assert "from math import pi\n" in head  # FILE's own import of a name the code reads
    # the literal constants the code reads, copied as FILE writes them; nothing else
    assert "SCALE = 2.0\nOFFSET, UNUSED = (\n    -0.5,\n    3,\n)\n" in head
    assert "SCALE_TOO" not in text and "LABEL" not in text and "open(" not in text

    mod = load(out, "model_grads")
    functions = load_definitions(str(path))
    for name, point in (("loss", (1.5, -0.7)), ("smooth", (0.3, 1.2)),
                        ("clipped", (0.5, 0.2)), ("clipped", (-2.0, 0.2)),
                        ("wave", (0.4, 3.0))):
        fn = getattr(mod, f"{name}_grad")
        expected = s2sad.grad(functions[name], wrt=(0, 1))(*point)
        assert fn(*point) == pytest.approx(expected, rel=1e-14, abs=1e-15)
    x, y = 1.5, -0.7
    assert mod.loss_grad(x, y) == pytest.approx(
        (2 * 2.0 * x * y - 0.5, 2.0 * x * x + math.cos(y)), rel=1e-14)
    assert mod.clipped_grad(0.5, 0.2) == pytest.approx((0.2 + 2 * 0.5, 0.5))
    assert mod.clipped_grad(-2.0, 0.2) == pytest.approx((-1.0, 1.0))
    assert mod.wave_grad(0.4, 3.0) == pytest.approx((math.pi * math.cos(0.4) * 3.0,
                                                     math.pi * math.sin(0.4)), rel=1e-14)


def test_forward_mode_module_and_every_function(model, tmp_path):
    path, _ = model
    out = tmp_path / "model_jvp.py"
    res = run("emit", str(path), "--mode", "forward", "-o", str(out))
    assert res.returncode == 0, res.stderr
    mod = load(out, "model_jvp")
    assert mod.helper_jvp(3.0, 1.0) == (9.0, 6.0)
    value, tangent = mod.loss_jvp(1.5, -0.7, 1.0, 0.0)
    assert value == pytest.approx(2.0 * 2.25 * -0.7 + math.sin(-0.7) - 0.75, rel=1e-14)
    assert tangent == pytest.approx(2 * 2.0 * 1.5 * -0.7 - 0.5, rel=1e-14)


def test_ir_output_is_not_a_module(model, tmp_path):
    path, _ = model
    out = tmp_path / "ir.txt"
    res = run("emit", str(path), "loss", "--ir", "-o", str(out))
    assert res.returncode == 0, res.stderr
    assert out.read_text().startswith("# Wengert list of loss(x, y)")


def test_standalone_module_imports_only_what_the_code_reads(tmp_path):
    path = tmp_path / "plain.py"
    path.write_text("RATE = 0.5\nSHIFT = -1\n\ndef f(x):\n    return RATE * x\n")
    functions = load_definitions(str(path))
    code = textwrap.dedent('''\
        def f_grad(x):
            t1 = unbroadcast(erf(x), x)
            return RATE * t1 + SHIFT + len(x) + MISSING
        ''')
    text = standalone_module([code], functions, str(path))
    assert "import math" not in text and "import numpy" not in text
    assert "from s2sad.runtime import erf, unbroadcast\n" in text
    assert "RATE = 0.5\nSHIFT = -1\n" in text
    assert "# not defined here (define before calling): MISSING" in text
    assert text.endswith(code)


def test_written_module_reads_a_helper_modules_globals(tmp_path, monkeypatch):
    (tmp_path / "gm_cli_helpers.py").write_text("K = 3.0\n\n\ndef h(x):\n    return x * x * K\n")
    path = tmp_path / "gm_cli_model.py"
    path.write_text("import gm_cli_helpers as hp\nK = 2.0\n\n\n"
                    "def f(x):\n    return hp.h(x) * K\n")
    out = tmp_path / "gm_cli_grads.py"
    res = subprocess.run([sys.executable, "-m", "s2sad", "emit", str(path), "-o", str(out)],
                         capture_output=True, text=True, cwd=tmp_path, check=False)
    assert res.returncode == 0 and res.stderr == "", res.stderr
    text = out.read_text()
    assert "import gm_cli_helpers as hp\n" in text and "hp.K" in text
    assert "# gm_cli_helpers.py:5: return x * x * K" in text
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        mod = load(out, "gm_cli_grads")
        assert mod.f_grad(1.5) == pytest.approx(2 * 1.5 * 3.0 * 2.0, rel=1e-14)
        sys.modules["gm_cli_helpers"].K = 4.0  # read live there too
        assert mod.f_grad(1.5) == pytest.approx(2 * 1.5 * 4.0 * 2.0, rel=1e-14)
    finally:
        sys.modules.pop("gm_cli_helpers", None)
