"""Golden tests: the emitted source of a few functions, byte for byte.

After an intended change of the output, rewrite the files with `make golden`
(``pytest tests/test_golden.py --update-golden``) and review the diff.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import golden_cases as gc
import s2sad

GOLDEN = Path(__file__).parent / "golden"
rng = np.random.default_rng(0)
MLP_ARGS = (rng.standard_normal((5, 4)), np.zeros(4), rng.standard_normal((4, 3)), np.zeros(3),
            rng.standard_normal((6, 5)), np.eye(3)[[0, 1, 2, 0, 1, 2]])

CASES = {
    "lecture_f_reverse": lambda: s2sad.emit(gc.lecture_f, wrt=(0, 1)),
    "lecture_f_forward": lambda: s2sad.emit(gc.lecture_f, mode="forward", wrt=(0, 1)),
    "lecture_g_reverse": lambda: s2sad.emit(gc.lecture_g, wrt=(0, 1)),
    "lecture_g_forward": lambda: s2sad.emit(gc.lecture_g, mode="forward", wrt=(0, 1)),
    "mlp_reverse": lambda: s2sad.emit(gc.mlp, *MLP_ARGS, wrt=(0, 1, 2, 3)),
    "bias_and_reduce_reverse": lambda: s2sad.emit(
        gc.bias_and_reduce, np.ones((3, 4)), np.ones(4), np.ones((3, 1)), wrt=(0, 1, 2)),
    "slices_reverse": lambda: s2sad.emit(gc.slices, np.ones((3, 2))),
    "scalar_chain_reverse": lambda: s2sad.emit(gc.scalar_chain, wrt=(0, 1)),
    "scalar_chain_forward": lambda: s2sad.emit(gc.scalar_chain, mode="forward", wrt=(0, 1)),
    "lecture_f_wengert": lambda: s2sad.wengert(gc.lecture_f),
    "branch_reverse": lambda: s2sad.emit(gc.branch, wrt=(0, 1)),
    "branch_forward": lambda: s2sad.emit(gc.branch, mode="forward", wrt=(0, 1)),
    "loop_reverse": lambda: s2sad.emit(gc.loop, np.zeros(3), np.eye(3), np.ones((4, 3)),
                                       wrt=(0, 1)),
    "loop_forward": lambda: s2sad.emit(gc.loop, np.zeros(3), np.eye(3), np.ones((4, 3)),
                                       mode="forward", wrt=(0, 1)),
    "newton_reverse": lambda: s2sad.emit(gc.newton),
    "newton_wengert": lambda: s2sad.wengert(gc.newton),
    "fill_buffer_reverse": lambda: s2sad.emit(gc.fill_buffer, 0.7, np.ones(3), wrt=(0, 1)),
    "fill_buffer_forward": lambda: s2sad.emit(gc.fill_buffer, 0.7, np.ones(3), mode="forward",
                                              wrt=(0, 1)),
    "newton_break_reverse": lambda: s2sad.emit(gc.newton_break, wrt=(0, 1)),
    "newton_break_forward": lambda: s2sad.emit(gc.newton_break, mode="forward", wrt=(0, 1)),
    "grown_list_reverse": lambda: s2sad.emit(gc.grown_list, np.ones(3), 4),
    "grown_list_forward": lambda: s2sad.emit(gc.grown_list, np.ones(3), 4, mode="forward"),
}


def _normalise(text: str) -> str:
    """Golden files name the cases module by its base name, wherever the checkout is."""
    return text.replace(str(Path(gc.__file__).resolve()), "golden_cases.py")


@pytest.mark.parametrize("name", sorted(CASES))
def test_golden(name: str, update_golden: bool) -> None:
    got = _normalise(CASES[name]())
    path = GOLDEN / f"{name}.golden"
    if update_golden:
        path.write_text(got)
    assert path.exists(), f"no golden file {path.name}: run `make golden`"
    assert got == path.read_text(), f"emitted source of {name} changed; review, then `make golden`"
