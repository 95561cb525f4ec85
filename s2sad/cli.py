"""The `s2sad` command.

    s2sad emit FILE [FUNC ...] [--mode reverse|forward] [--wrt NAMES] [--ir] [--no-optimize]
               [-o OUT]
    s2sad explain FILE FUNC --at 2,5 [--direction 1,0]

FILE is read, never run: only its imports, function definitions and literal constants are
evaluated.  ``emit -o OUT`` writes a standalone module: the imports the derivative code needs
and the constants of FILE it reads, then the code.  ``explain`` prints the evaluation traces of
FUNC at a point (see :mod:`s2sad.explain`).  FILE is decoded as Python does (PEP 263).
Exit status: 0 on success, 1 for a located error in FILE (differentiation, syntax,
encoding, a failing import), 2 for usage (no such file or function, nothing to emit).
"""

from __future__ import annotations

import argparse
import builtins
import inspect
import json
import os
import sys
import traceback
from collections.abc import Sequence
from typing import Any

import gast
import numpy as np

from .api import VERSION, emit, wengert
from .codegen import RUNTIME_NAMES
from .display import highlight
from .errors import Loc, S2SADError, SourceError
from .explain import explain
from .parse import definitions_only, parse_module
from .source import read_file


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="s2sad", description="source-to-source AD for Python/NumPy")
    sub = p.add_subparsers(dest="command", required=True)
    e = sub.add_parser("emit", help="print the derivative source of functions in FILE")
    e.add_argument("file", metavar="FILE")
    e.add_argument("functions", metavar="FUNC", nargs="*",
                   help="functions to differentiate (default: every top-level function)")
    e.add_argument("--mode", choices=("reverse", "forward"), default="reverse")
    e.add_argument("--wrt", help="comma-separated parameter names (default: all)")
    e.add_argument("--ir", action="store_true", help="print the Wengert list instead")
    e.add_argument("--no-optimize", action="store_true", help="skip simplify and dce")
    e.add_argument("-o", "--output", help="write a standalone module to this file instead of "
                   "printing the code")
    x = sub.add_parser("explain", help="print the primal, tangent and adjoint traces of FUNC")
    x.add_argument("file", metavar="FILE")
    x.add_argument("function", metavar="FUNC")
    x.add_argument("--at", required=True, metavar="ARGS",
                   help="the point: one value per parameter, e.g. 2,5 or '[1, 2, 3], 0.5'")
    x.add_argument("--direction", metavar="TANGENTS",
                   help="the tangent of each parameter (default: the first one's unit vector)")
    return p


def load_definitions(path: str) -> dict[str, Any]:
    """The functions defined at the top level of `path`, without running its other code.

    Raises OSError (the file cannot be read), SyntaxError, and :class:`SourceError` for a
    file that does not decode or whose imports fail."""
    text = read_file(path)
    filename = os.path.abspath(path)
    namespace: dict[str, Any] = {"__name__": "__s2sad_emit__", "__file__": filename}
    code = definitions_only(text, filename)
    try:
        exec(code, namespace)  # noqa: S102 - defs and imports only
    except Exception as exc:  # noqa: BLE001 - an import that fails, a default that raises
        line = next((fr.lineno for fr in reversed(traceback.extract_tb(exc.__traceback__))
                     if fr.filename == filename), None) or 1
        lines = text.splitlines()
        raise SourceError(f"{type(exc).__name__}: {exc}, while importing what {path} "
                          "imports (s2sad runs only its imports and definitions)",
                          Loc(path, line, 1, lines[line - 1] if line <= len(lines) else ""),
                          "make the import work in this environment") from None
    return {k: v for k, v in namespace.items()
            if inspect.isfunction(v) and v.__code__.co_filename == filename}


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        functions = load_definitions(args.file)
    except OSError as exc:
        print(f"s2sad: cannot read {args.file}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    except SyntaxError as exc:
        where = ":".join(str(n) for n in (args.file, exc.lineno, exc.offset) if n is not None)
        print(f"{where}: SyntaxError: {exc.msg}", file=sys.stderr)
        return 1
    except ValueError as exc:  # compile's refusals (null bytes, on some versions)
        print(f"{args.file}: SyntaxError: {exc}", file=sys.stderr)
        return 1
    except S2SADError as exc:
        print(exc.render(), file=sys.stderr)
        return 1
    if not functions:
        print(f"s2sad: {args.file} defines no top-level functions", file=sys.stderr)
        return 2
    names = [args.function] if args.command == "explain" else args.functions or list(functions)
    missing = [n for n in names if n not in functions]
    if missing:
        print(f"s2sad: {args.file} defines no function {', '.join(missing)} "
              f"(it defines: {', '.join(functions)})", file=sys.stderr)
        return 2
    try:
        if args.command == "explain":
            return _explain(args, functions[args.function])
        return _emit(args, functions, names)
    except S2SADError as exc:
        print(exc.render(), file=sys.stderr)
        return 1
    except OSError as exc:  # -o OUT that cannot be written
        print(f"s2sad: cannot write {exc.filename or args.output}: {exc.strerror or exc}",
              file=sys.stderr)
        return 2


def _emit(args: argparse.Namespace, functions: dict[str, Any], names: list[str]) -> int:
    chunks: list[str] = []
    for name in names:
        fn = functions[name]
        params = list(inspect.signature(fn).parameters)
        asked = [w.strip() for w in args.wrt.split(",")] if args.wrt else params
        wrt = tuple(w for w in asked if w in params)
        if args.ir:
            chunks.append(wengert(fn))
        elif not wrt:
            chunks.append(f"# {name}({', '.join(params)}): skipped, it has none of the "
                          f"parameters --wrt names ({args.wrt})")
        else:
            chunks.append(emit(fn, mode=args.mode, wrt=wrt, optimize=not args.no_optimize))
    if args.output and not args.ir:
        text = standalone_module(chunks, functions, args.file)
    else:
        text = "\n\n".join(c.rstrip("\n") for c in chunks) + "\n"
    if args.output:
        with open(args.output, "w", encoding="utf-8") as f:
            f.write(text)
    else:
        # highlighted on a terminal when Pygments is installed (the optional `highlight` extra)
        sys.stdout.write(highlight(text, "terminal") if sys.stdout.isatty() else text)
    return 0


# ------------------------------------------------------------------------- emit -o OUT


def standalone_module(chunks: Sequence[str], functions: dict[str, Any], path: str = "") -> str:
    """The generated functions in `chunks` as a module that needs neither FILE nor a session.

    A header imports what the code reads (``math``, ``numpy as np``, helpers from
    :mod:`s2sad.runtime`, and FILE's own imports of names the code reads, such as
    ``from math import pi``), then copies the literal constants of FILE the code reads, as
    they are written in FILE (``SCALE = 2.0``).
    """
    code = "\n\n\n".join(c.strip("\n") for c in chunks) + "\n"
    free = _free_names(parse_module(code))
    source = os.path.basename(path) or "FILE"
    doc = (f'"""Derivatives generated by s2sad {VERSION} from {source} (`s2sad emit`); '
           'regenerate rather than edit."""')
    lines = [doc, ""]
    if "math" in free:
        lines.append("import math")
    if "np" in free:
        lines.append("import numpy as np")
    if "scipy" in free:  # SciPy's special functions print as scipy.special.expit(x)
        lines.append("import scipy.special")
    helpers = sorted(n for n in free if n in RUNTIME_NAMES and n not in ("np", "math"))
    if helpers:
        lines.append(f"from s2sad.runtime import {', '.join(helpers)}")
    wanted = [n for n in free if n not in RUNTIME_NAMES and n != "scipy"]
    imports, constants, missing = _definitions(wanted, functions, path)
    lines += imports
    if constants:
        lines += ["", f"# constants of {source} the code reads"] + constants
    for name in missing:
        print(f"s2sad: warning: the generated code reads `{name}`, which is neither imported "
              f"nor a literal constant in {path or 'FILE'}; define it in the written module",
              file=sys.stderr)
    if missing:
        lines += ["", f"# not defined here (define before calling): {', '.join(missing)}"]
    return "\n".join(lines) + "\n\n\n" + code


def _free_names(tree: Any) -> list[str]:
    """Names the top-level functions of `tree` read but neither define nor get as builtins."""
    bound = {n.name for n in tree.body if isinstance(n, gast.FunctionDef)}
    read: list[str] = []
    for node in gast.walk(tree):
        if isinstance(node, gast.Name):
            if isinstance(node.ctx, gast.Load):
                if node.id not in read:
                    read.append(node.id)
            else:
                bound.add(node.id)
    return [n for n in read if n not in bound and not hasattr(builtins, n)]


def _definitions(names: list[str], functions: dict[str, Any],
                 path: str) -> tuple[list[str], list[str], list[str]]:
    """FILE's top-level imports and literal assignments that bind `names`, as written in FILE,
    and the names bound by neither."""
    if not names:
        return [], [], []
    filename = next(iter(functions.values())).__code__.co_filename if functions else path
    text = read_file(filename)
    lines = text.splitlines()
    imports: list[str] = []
    constants: list[str] = []
    found: set[str] = set()
    for node in parse_module(text).body:
        if isinstance(node, (gast.Import, gast.ImportFrom)):
            bound = {a.asname or a.name.split(".")[0] for a in node.names}
            into = imports
        elif isinstance(node, gast.Assign) and _is_literal(node.value):
            bound = {t.id for target in node.targets for t in gast.walk(target)
                     if isinstance(t, gast.Name)}
            into = constants
        else:
            continue
        if bound & set(names):
            end = getattr(node, "end_lineno", None) or node.lineno
            into.extend(lines[node.lineno - 1:end])
            found |= bound
    return imports, constants, [n for n in names if n not in found]


def _is_literal(node: Any) -> bool:
    """Whether `node` is a literal as :func:`ast.literal_eval` reads them (signed numbers too)."""
    if isinstance(node, gast.UnaryOp) and isinstance(node.op, (gast.USub, gast.UAdd)):
        return isinstance(node.operand, gast.Constant) and \
            isinstance(node.operand.value, (int, float, complex))
    if isinstance(node, gast.Dict):
        return all(k is not None and _is_literal(k) for k in node.keys) and \
            all(_is_literal(v) for v in node.values)
    if isinstance(node, (gast.Tuple, gast.List, gast.Set)):
        return all(_is_literal(e) for e in node.elts)
    return isinstance(node, gast.Constant)


# ------------------------------------------------------------------------------- explain


def _explain(args: argparse.Namespace, fn: Any) -> int:
    params = list(inspect.signature(fn).parameters)
    try:
        at = _values(args.at, "--at")
        direction = _values(args.direction, "--direction") if args.direction else None
    except ValueError as exc:
        print(f"s2sad: {exc}", file=sys.stderr)
        return 2
    for what, values in (("--at", at), ("--direction", direction)):
        if values is not None and len(values) != len(params):
            print(f"s2sad: {what} gives {len(values)} value(s) but {args.function} takes "
                  f"{len(params)} ({', '.join(params)})", file=sys.stderr)
            return 2
    sys.stdout.write(str(explain(fn)(*at, direction=direction)))
    return 0


def _values(text: str, what: str) -> list[Any]:
    """``2,5`` -> [2.0, 5.0]; ``[1, 2], 3`` -> [array([1., 2.]), 3.0]: numbers are floats."""
    try:
        items = json.loads(f"[{text}]") if "[" in text else \
            [float(t) for t in text.split(",")]
    except ValueError:
        raise ValueError(f"{what} {text!r}: expected comma-separated numbers, arrays as "
                         "[1, 2, 3]") from None

    def value(v: Any) -> Any:
        if isinstance(v, list):
            return np.array(v, dtype=float)
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            return float(v)
        raise ValueError(f"{what} {text!r}: {v!r} is not a number")
    return [value(v) for v in items]
