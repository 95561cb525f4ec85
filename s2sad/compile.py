"""Compile generated source into a function, with a `linecache` entry for tracebacks and pdb.

The generated function runs with the user's own module globals, so module-level values it
reads (weights, constants) are looked up live, as in the user's code.  Another module's
globals (read by a helper defined there) are read as its attributes, ``helpers.K``, the
module bound by its name (live from the user's globals when they hold it by that name), and a
helper's closure cells are that very cell.  The names s2sad
provides (``np``, ``math``, runtime helpers, and ``scipy`` when s2sad registered SciPy's
special functions) and the user's closure cells reach it as closure variables: the source is
compiled inside a factory function whose parameters are those names.
"""

from __future__ import annotations

import builtins
import itertools
import linecache
import math
import sys
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
    values.update(optional_modules())
    return values


def optional_modules() -> dict[str, Any]:
    """Modules generated code may name besides np and math: ``scipy`` once s2sad has
    registered SciPy's special functions (printed as ``scipy.special.expit(x)``)."""
    if "s2sad.prims_scipy" in sys.modules:
        return {"scipy": sys.modules["scipy"]}
    return {}


def compile_generated(gen: Generated, user_fn: Any | None) -> Any:
    """Turn `gen` into a function object whose globals are `user_fn`'s."""
    user_globals: dict[str, Any] = user_fn.__globals__ if user_fn is not None else \
        {"__builtins__": builtins}
    user_cells: dict[str, Any] = {}
    if user_fn is not None and user_fn.__closure__:
        user_cells = dict(zip(user_fn.__code__.co_freevars, user_fn.__closure__))
    values = {n: v for n, v in runtime_values().items()
              if n not in user_cells or n not in optional_modules()}
    for name, value in gen.constants:
        if name in user_cells:
            continue
        if isinstance(value, types.CellType):  # a closure cell of a helper: read live
            user_cells = {**user_cells, name: value}
            continue
        if user_globals.get(name, _MISSING) is value:
            continue  # read live from the user's module
        values[name] = value
    code = _factory_code(gen.source, gen.name, tuple(values) + tuple(user_cells))
    closure = tuple(user_cells[n] if n in user_cells else types.CellType(values[n])
                    for n in code.co_freevars)
    fn = types.FunctionType(code, user_globals, gen.name, None, closure or None)
    fn.__qualname__ = gen.name  # not the factory's local: `f_grad() takes 2 positional ...`
    return fn


def compile_entry(text: str, name: str, keep: tuple[str, ...], user_fn: Any,
                  cells: dict[str, Any], defaults: tuple[Any, ...] | None = None) -> Any:
    """Compile an entry version (see :class:`s2sad.codegen.Entry`) as a new function.

    Its closure holds one cell per name in `keep`: the user's own closure cells (so they are
    read live) and the cells in `cells`.  Later versions replace its ``__code__``
    (:func:`swap_code`); they read the same names, so the closure fits them all.
    `defaults` are its parameters' defaults.
    """
    code = _factory_code(text, name, keep)
    user_cells = dict(zip(user_fn.__code__.co_freevars, user_fn.__closure__ or ()))
    user_cells.update(cells)
    closure = tuple(user_cells[n] for n in code.co_freevars)
    fn = types.FunctionType(code, user_fn.__globals__, name, defaults, closure)
    fn.__qualname__ = name
    return fn


def swap_code(entry: Any, text: str, keep: tuple[str, ...]) -> bool:
    """Make `entry` run the entry version `text`; False if its free names do not fit (also
    when it reads an optional module that is not among `keep`: it stays on the general path)."""
    extra = tuple(n for n in optional_modules() if n not in keep)
    code = _factory_code(text, entry.__name__, keep + extra)
    if code.co_freevars != entry.__code__.co_freevars:
        return False
    entry.__code__ = code
    return True


def _factory_code(text: str, name: str, free: tuple[str, ...]) -> Any:
    """The code object of function `name` in `text`, compiled inside a factory whose
    parameters are `free`, so it reads those names from its closure.  The factory's source is
    registered in linecache: tracebacks and pdb show it."""
    src = f"def {FACTORY}({', '.join(free)}):\n" + textwrap.indent(text, "    ") + \
        f"    return {name}\n"
    filename = f"<s2sad-generated {name} #{next(_counter)}>"
    linecache.cache[filename] = (len(src), None, src.splitlines(True), filename)
    namespace: dict[str, Any] = {"__builtins__": builtins}
    exec(compile(src, filename, "exec"), namespace)  # noqa: S102 - our own generated code
    inner = namespace[FACTORY](*[None] * len(free))
    code = inner.__code__
    if hasattr(code, "co_qualname"):  # Python 3.11+: errors about its arguments name it so
        code = code.replace(co_qualname=name)
    return code


def runtime_cells() -> dict[str, Any]:
    return {n: types.CellType(v) for n, v in runtime_values().items()}


_MISSING = object()
