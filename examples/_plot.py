"""Optional plotting for the examples: matplotlib if it is installed, otherwise nothing.

    plt = pyplot()          # matplotlib.pyplot with the non-interactive Agg backend, or None
    save(fig, __file__)     # writes examples/NAME.png next to the script and says so

The examples compute and check their numbers without matplotlib; the figures are extra.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


def pyplot() -> Any:
    """matplotlib.pyplot on the Agg backend (no window), or None when matplotlib is missing."""
    try:
        import matplotlib
    except ImportError:
        print("(matplotlib is not installed: no figure)")
        return None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save(fig: Any, script: str) -> Path:
    """Save `fig` as the PNG named after `script` (examples/NAME.py -> examples/NAME.png)."""
    path = Path(script).resolve().with_suffix(".png")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    print(f"figure saved to {path}")
    return path
