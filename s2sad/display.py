"""Showing derivative code to people: highlighted source, and where each line came from.

Pygments is optional: with it, code is highlighted in terminals and in Jupyter; without it,
it is plain text (escaped HTML in Jupyter).
"""

from __future__ import annotations

import html
import re
from typing import Any

_LINE = re.compile(r"^\s*# L(\d+): ")
_OTHER_FILE = re.compile(r"^\s*# [^:]+:\d+: ")  # code inlined from another file


class Source(str):
    """Generated source: a ``str`` that Jupyter renders as highlighted code."""

    def _repr_html_(self) -> str:
        return highlight(str(self), "html")

    def source_map(self) -> dict[int, int]:
        """Generated line number (1-based) -> the user's line it computes."""
        return source_map_of(str(self))


def source_map_of(text: str) -> dict[int, int]:
    out: dict[int, int] = {}
    current: int | None = None
    for n, line in enumerate(text.splitlines(), start=1):
        m = _LINE.match(line)
        if m:
            current = int(m.group(1))
        elif _OTHER_FILE.match(line):
            current = None  # not a line of the user's file
        elif line.strip() == "# backward sweep" or line.startswith("def "):
            current = None
        elif current is not None and line.strip() and not line.lstrip().startswith("#"):
            out[n] = current
    return out


def highlight(text: str, fmt: str) -> str:
    """`text` highlighted as Python for "terminal" or "html"; plain without Pygments."""
    try:
        from pygments import highlight as _highlight
        from pygments.formatters import HtmlFormatter, TerminalFormatter
        from pygments.lexers import PythonLexer
    except ImportError:
        return text if fmt == "terminal" else f"<pre>{html.escape(text)}</pre>"
    formatter: Any = TerminalFormatter() if fmt == "terminal" else HtmlFormatter(noclasses=True)
    return str(_highlight(text, PythonLexer(), formatter))
