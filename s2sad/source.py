"""Find a function's source text, its file and line, and resolve the names it uses.

The result of this stage is a :class:`Source`: the text of the function (dedented), where it
sits in its file, and a resolver that maps a free name to the object it denotes at the time of
the call (closure cell, module global, builtin), so later stages never guess.
"""

from __future__ import annotations

import builtins
import hashlib
import inspect
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .errors import SourceError

_MISSING = object()


@dataclass(frozen=True)
class Source:
    """A function's source text and the environment its free names resolve in."""

    text: str               # dedented source of the def (or of the line holding the lambda)
    file: str               # real file name, for diagnostics
    first_line: int         # 1-based line of `text`'s first line in `file`
    col_offset: int         # columns removed by dedenting
    lines: tuple[str, ...]  # the original (not dedented) lines, for diagnostics
    name: str
    is_lambda: bool
    lookup: Callable[[str], Any]  # free name -> object, or MISSING

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.text.encode()).hexdigest()[:16]

    def line_text(self, lineno: int) -> str:
        i = lineno - self.first_line
        return self.lines[i] if 0 <= i < len(self.lines) else ""


MISSING = _MISSING


def unwrap(fn: Any) -> Any:
    """The plain Python function behind an s2sad wrapper or functools.wraps chain."""
    while True:
        inner = getattr(fn, "__s2sad_wrapped__", None) or getattr(fn, "__wrapped__", None)
        if inner is None:
            return fn
        fn = inner


def get_source(fn: Any) -> Source:
    """Read the source of `fn`, raising :class:`SourceError` when Python has none."""
    fn = unwrap(fn)
    if not inspect.isfunction(fn):
        raise SourceError(f"{fn!r} is not a Python function",
                          hint="s2sad differentiates functions written in Python (def or lambda)")
    try:
        lines, first = inspect.getsourcelines(fn)
        file = inspect.getsourcefile(fn) or fn.__code__.co_filename
    except (OSError, TypeError) as exc:
        raise SourceError(f"cannot read the source of {fn.__qualname__}: {exc}",
                          hint="define the function in a file or notebook cell, not at a bare "
                          "interactive prompt") from None
    raw = "".join(lines)
    text = textwrap.dedent(raw)
    first_nonblank = next((ln for ln in lines if ln.strip()), "")
    col = len(first_nonblank) - len(first_nonblank.lstrip())
    return Source(text, file, max(first, 1), col, tuple(lines), fn.__name__,
                  fn.__name__ == "<lambda>", make_lookup(fn))


def make_lookup(fn: Any) -> Callable[[str], Any]:
    """Resolver for the free names of `fn`: closure cells, then globals, then builtins."""
    cells: dict[str, Any] = {}
    if fn.__closure__:
        for name, cell in zip(fn.__code__.co_freevars, fn.__closure__):
            try:
                cells[name] = cell.cell_contents
            except ValueError:  # an empty cell: the name is not bound yet
                pass
    glb = fn.__globals__

    def lookup(name: str) -> Any:
        if name in cells:
            return cells[name]
        if name in glb:
            return glb[name]
        return getattr(builtins, name, _MISSING)
    lookup.module_globals = glb  # type: ignore[attr-defined]  # (api.py: fast-path checks)
    lookup.cell_names = frozenset(cells)  # type: ignore[attr-defined]
    return lookup
