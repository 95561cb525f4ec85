"""docs/numpy-coverage.md is what tools/coverage.py prints (run `make docs` after a change), the
same on every NumPy pyproject.toml admits (`make test-all` runs this on each)."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "numpy-coverage.md"
ROW = re.compile(r"^\| `([^`]+)`[^|]* \| .* \| (yes|no) \|$", flags=re.MULTILINE)


@pytest.fixture(scope="module")
def tool():
    spec = importlib.util.spec_from_file_location("coverage_tool", ROOT / "tools" / "coverage.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def rendered(tool):
    return tool.render()


def test_coverage_doc_is_up_to_date(rendered):
    if importlib.util.find_spec("scipy") is None:
        pytest.skip("generated with SciPy installed (the `test` extra), which is not")
    text = DOC.read_text()
    committed = {m.group(1) for m in ROW.finditer(text)}
    here = {m.group(1) for m in ROW.finditer(rendered)}
    assert text == rendered, (
        "docs/numpy-coverage.md is stale: run `make docs`. Names only in the document: "
        f"{sorted(committed - here)}; only here: {sorted(here - committed)}. A name this "
        "NumPy lacks or alone has belongs in VERSIONED in tools/coverage.py.")


def test_versioned_names_lower_like_their_stand_ins(tool):
    table = tool.functions()
    pairs = [(label, stand_in) for label, (stand_in, _) in tool.VERSIONED.items()
             if label in table and stand_in in table]
    assert pairs, "this NumPy has none of the pairs of names in VERSIONED"
    for label, stand_in in pairs:
        assert table[label] == table[stand_in], f"{label} does not lower like {stand_in}"


def test_coverage_counts_and_rows_agree(rendered):
    total = int(re.search(r"\*\*(\d+) callables in total\*\*", rendered).group(1))
    rows = ROW.findall(rendered)
    assert total == len(rows) >= 200
    assert ("np.linalg.inv", "yes") in rows and ("np.floor", "no") in rows
    assert ("x.cumsum()", "yes") in rows
    assert ("np.trapz", "yes") in rows and ("np.trapezoid", "yes") in rows  # either NumPy
