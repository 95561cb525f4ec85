"""Find a function's source text, its file and line, and resolve the names it uses.

The result of this stage is a :class:`Source`: the text of the function (dedented), where it
sits in its file, and a resolver that maps a free name to the object it denotes at the time of
the call (closure cell, module global, builtin), so later stages never guess.
"""

from __future__ import annotations

import builtins
import functools
import hashlib
import inspect
import io
import os
import textwrap
import tokenize
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .errors import Loc, SourceError

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
    """The plain Python function behind an s2sad wrapper or a cache (``functools.cache``,
    ``lru_cache``), which return what the function returns.  A wrapper written in Python
    (``functools.wraps``) is differentiated itself: it may change the result."""
    while True:
        inner = getattr(fn, "__s2sad_wrapped__", None)
        if inner is None and isinstance(fn, _CACHES):
            inner = fn.__wrapped__
        if inner is None:
            return fn
        fn = inner


_CACHES = (type(functools.lru_cache(lambda: None)),)


def get_source(fn: Any) -> Source:
    """Read the source of `fn`, raising :class:`SourceError` when Python has none."""
    fn = unwrap(fn)
    if not inspect.isfunction(fn):
        raise SourceError(f"{fn!r} is not a Python function",
                          hint="s2sad differentiates functions written in Python (def or lambda)")
    try:
        # of the code itself: inspect would read the function a functools.wraps wrapper names
        lines, first = inspect.getsourcelines(fn.__code__)
        file = inspect.getsourcefile(fn.__code__) or fn.__code__.co_filename
    except (OSError, TypeError) as exc:
        path = fn.__code__.co_filename
        if os.path.isfile(path):
            read_file(path)  # a file Python cannot decode: say where, not "no source"
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
    """Resolver for the free names of `fn`: closure cells, then globals, then builtins.

    Cells are read when asked (a flag fixed in the code is checked again on each call, and
    must see the cell as it is then); `cells` names them, for code that reads them live."""
    cells: dict[str, Any] = dict(zip(fn.__code__.co_freevars, fn.__closure__ or ()))
    glb = fn.__globals__

    def lookup(name: str) -> Any:
        if name in cells:
            try:
                return cells[name].cell_contents
            except ValueError:  # an empty cell: the name is not bound yet
                return _MISSING
        if name in glb:
            return glb[name]
        return getattr(builtins, name, _MISSING)
    lookup.module_globals = glb  # type: ignore[attr-defined]  # (api.py: fast-path checks)
    lookup.cell_names = frozenset(cells)  # type: ignore[attr-defined]
    lookup.cells = cells  # type: ignore[attr-defined]
    return lookup


def read_file(path: str) -> str:
    """The text of the Python file `path`, decoded as Python decodes it (PEP 263: a BOM or
    a ``# -*- coding: latin-1 -*-`` line, else UTF-8), newlines made ``\\n``.

    Raises OSError when the file cannot be read, and a located :class:`SourceError` when
    its bytes are not in its encoding."""
    with open(path, "rb") as f:
        data = f.read()
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
    except SyntaxError as exc:  # an unknown encoding named, or one a BOM contradicts
        first = data.split(b"\n", 2)
        line = 2 if len(first) > 1 and b"coding" in first[1] and b"coding" not in first[0] \
            else 1
        raise SourceError(f"{exc}", Loc(path, line, 1, _line_of(data, line)),
                          "name an encoding Python knows (utf-8, latin-1, cp1252, ...)") \
            from None
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        col = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        declared = encoding not in ("utf-8", "utf-8-sig")
        raise SourceError(f"byte 0x{data[exc.start]:02x} is not {encoding}"
                          + ("" if declared else " (the file declares no encoding)"),
                          Loc(path, line, col, _line_of(data, line)),
                          "declare the file's encoding on its first or second line "
                          "(# -*- coding: latin-1 -*-), or save it as UTF-8") from None
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _line_of(data: bytes, line: int) -> str:
    lines = data.splitlines()
    return lines[line - 1].decode("utf-8", "replace") if 0 < line <= len(lines) else ""
