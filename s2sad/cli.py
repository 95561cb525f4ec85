"""The `s2sad` command.

    s2sad emit FILE [FUNC ...] [--mode reverse|forward] [--wrt NAMES] [--ir] [--no-optimize]
               [-o OUT]

FILE is read, never run: only its imports, function definitions and literal constants are
evaluated.  Exit status: 0 on success, 1 for a located differentiation error, 2 for usage.
"""

from __future__ import annotations

import argparse
import inspect
import os
import sys
from typing import Any

from .api import emit, wengert
from .errors import S2SADError
from .parse import definitions_only


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
    e.add_argument("-o", "--output", help="write to this file instead of standard output")
    return p


def load_definitions(path: str) -> dict[str, Any]:
    """The functions defined at the top level of `path`, without running its other code."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    filename = os.path.abspath(path)
    namespace: dict[str, Any] = {"__name__": "__s2sad_emit__", "__file__": filename}
    exec(definitions_only(text, filename), namespace)  # noqa: S102 - defs and imports only
    return {k: v for k, v in namespace.items()
            if inspect.isfunction(v) and v.__code__.co_filename == filename}


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        functions = load_definitions(args.file)
    except OSError as exc:
        print(f"s2sad: cannot read {args.file}: {exc.strerror}", file=sys.stderr)
        return 2
    except SyntaxError as exc:
        print(f"{args.file}:{exc.lineno}:{exc.offset}: SyntaxError: {exc.msg}", file=sys.stderr)
        return 1
    names = args.functions or list(functions)
    missing = [n for n in names if n not in functions]
    if missing:
        print(f"s2sad: {args.file} defines no function {', '.join(missing)} "
              f"(it defines: {', '.join(functions) or 'none'})", file=sys.stderr)
        return 2
    chunks: list[str] = []
    try:
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
    except S2SADError as exc:
        print(exc.render(), file=sys.stderr)
        return 1
    text = "\n\n".join(c.rstrip("\n") for c in chunks) + "\n"
    if args.output:
        with open(args.output, "w", encoding="utf-8") as f:
            f.write(text)
    else:
        sys.stdout.write(text)
    return 0
