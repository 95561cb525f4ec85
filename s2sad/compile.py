"""Compile generated source into a function, with a `linecache` entry for tracebacks and pdb.

The generated function runs with the user's own module globals, so module-level values it
reads (weights, constants) are looked up live, as in the user's code.  The names s2sad
provides (``np``, ``math``, runtime helpers) and the user's closure cells reach it as closure
variables: the source is compiled inside a factory function whose parameters are those names.
"""

from __future__ import annotations

import builtins
import itertools
import linecache
import math
import textwrap
import types
from typing import Any

import numpy as np

from . import runtime
from .codegen import RUNTIME_NAMES, Generated

_counter = itertools.count(1)
FACTORY = "__s2sad_factory__"


def runtime_values() -> dict[str, Any]:
    values = {"np": np, "math": math}
    for name in RUNTIME_NAMES:
        if name not in values:
            values[name] = getattr(runtime, name)
    return values


def compile_generated(gen: Generated, user_fn: Any | None) -> Any:
    """Turn `gen` into a function object whose globals are `user_fn`'s."""
    user_globals: dict[str, Any] = user_fn.__globals__ if user_fn is not None else \
        {"__builtins__": builtins}
    user_cells: dict[str, Any] = {}
    if user_fn is not None and user_fn.__closure__:
        user_cells = dict(zip(user_fn.__code__.co_freevars, user_fn.__closure__))
    values = runtime_values()
    for name, value in gen.constants:
        if name in user_cells:
            continue
        if user_globals.get(name, _MISSING) is value:
            continue  # read live from the user's module
        values[name] = value
    params = list(values) + list(user_cells)
    text = f"def {FACTORY}({', '.join(params)}):\n" + textwrap.indent(gen.source, "    ") + \
        f"    return {gen.name}\n"
    filename = f"<s2sad-generated {gen.name} #{next(_counter)}>"
    linecache.cache[filename] = (len(text), None, text.splitlines(True), filename)
    namespace: dict[str, Any] = {"__builtins__": builtins}
    exec(compile(text, filename, "exec"), namespace)  # noqa: S102 - our own generated code
    inner = namespace[FACTORY](*values.values(), *[_cell_value(c) for c in user_cells.values()])
    closure = tuple(user_cells[n] if n in user_cells else types.CellType(values[n])
                    for n in inner.__code__.co_freevars)
    fn = types.FunctionType(inner.__code__, user_globals, gen.name, None, closure or None)
    fn.__s2sad_source__ = gen.source  # type: ignore[attr-defined]
    return fn


_MISSING = object()


def _cell_value(cell: Any) -> Any:
    try:
        return cell.cell_contents
    except ValueError:
        return None
