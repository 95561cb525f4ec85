"""docs/numpy-coverage.md is what tools/coverage.py prints (run `make docs` after a change)."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "numpy-coverage.md"


def _tool():
    spec = importlib.util.spec_from_file_location("coverage_tool", ROOT / "tools" / "coverage.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_coverage_doc_is_up_to_date():
    text = DOC.read_text()
    major = re.search(r"with NumPy (\d+)", text)
    assert major, "the coverage document names the NumPy it was generated with"
    if major.group(1) != np.__version__.split(".")[0]:
        pytest.skip(f"generated with NumPy {major.group(1)}, running {np.__version__}")
    if importlib.util.find_spec("scipy") is None:
        pytest.skip("generated with SciPy installed (the `test` extra), which is not")
    assert text == _tool().render(), "docs/numpy-coverage.md is stale: run `make docs`"


def test_coverage_counts_and_rows_agree():
    text = _tool().render()
    total = int(re.search(r"\*\*(\d+) callables in total\*\*", text).group(1))
    rows = re.findall(r"^\| `([^`]+)` \| .* \| (yes|no) \|$", text, flags=re.MULTILINE)
    assert total == len(rows) >= 200
    assert ("np.linalg.inv", "yes") in rows and ("np.floor", "no") in rows
    assert ("x.cumsum()", "yes") in rows
