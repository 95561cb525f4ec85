"""Parse a function's source with `gast` and hold the language fence.

This is the only module that parses Python.  :func:`parse_function` returns the gast node of
the function with line and column numbers made absolute in the user's file, after checking
every node against a whitelist; anything outside it raises :class:`UnsupportedSyntax` with the
file, line, column, source line and a hint.  Nothing is dropped silently.
"""

from __future__ import annotations

from typing import Any

import gast

from .errors import Loc, UnsupportedSyntax
from .source import Source

# Syntax that lowering understands.  Kept as a whitelist: new syntax is unsupported by default.
_ALLOWED: tuple[type, ...] = (
    gast.FunctionDef, gast.Lambda, gast.arguments, gast.Return, gast.Assign, gast.AugAssign,
    gast.AnnAssign, gast.Expr, gast.Pass,
    gast.Name, gast.Constant, gast.BinOp, gast.UnaryOp, gast.BoolOp, gast.Compare, gast.Call,
    gast.keyword, gast.Attribute, gast.Subscript, gast.Slice, gast.Tuple, gast.List,
    gast.IfExp, gast.If, gast.For, gast.While, gast.Break, gast.Continue,
    gast.ListComp, gast.DictComp, gast.GeneratorExp, gast.comprehension, gast.Dict,
    gast.With, gast.withitem,
    gast.Load, gast.Store, gast.Param,
    gast.Add, gast.Sub, gast.Mult, gast.Div, gast.Pow, gast.MatMult, gast.FloorDiv, gast.Mod,
    gast.USub, gast.UAdd, gast.Not, gast.And, gast.Or,
    gast.Lt, gast.LtE, gast.Gt, gast.GtE, gast.Eq, gast.NotEq, gast.Is, gast.IsNot,
)

# What to tell the user instead, per unsupported construct.
_HINTS: dict[str, tuple[str, str]] = {
    "Try": ("`try` statements", "move the try/except outside the differentiated function"),
    "Global": ("`global` statements", "pass the value in as an argument and return the result"),
    "Nonlocal": ("`nonlocal` statements", "return the new value instead of rebinding it"),
    "Delete": ("`del` statements", "let the name go out of scope instead"),
    "Yield": ("generators (`yield`)", "build a list and return it"),
    "YieldFrom": ("generators (`yield from`)", "build a list and return it"),
    "AsyncFunctionDef": ("`async def`", "differentiate a plain `def` function"),
    "Await": ("`await`", "differentiate synchronous code"),
    "AsyncFor": ("`async for`", "differentiate synchronous code"),
    "AsyncWith": ("`async with`", "differentiate synchronous code"),
    "ClassDef": ("class definitions", "define the class outside the function"),
    "Import": ("`import` inside the function", "import at module level"),
    "ImportFrom": ("`import` inside the function", "import at module level"),
    "Raise": ("`raise`", "check inputs before calling the differentiated function"),
    "Assert": ("`assert`", "check inputs before calling the differentiated function"),
    "SetComp": ("set comprehensions", "use a list"),
    "Set": ("sets", "use a list or a tuple"),
    "Starred": ("`*` unpacking", "pass the elements explicitly"),
    "NamedExpr": ("the walrus operator `:=`", "assign on a line of its own"),
    "JoinedStr": ("f-strings", "format values outside the differentiated function"),
    "Match": ("`match` statements", "use if/elif"),
    "BitAnd": ("the `&` operator", "use np.logical_and"),
    "BitOr": ("the `|` operator", "use np.logical_or"),
    "BitXor": ("the `^` operator", "use np.logical_xor"),
    "LShift": ("the `<<` operator", "use integer arithmetic outside the function"),
    "RShift": ("the `>>` operator", "use integer arithmetic outside the function"),
    "Invert": ("the `~` operator", "use np.logical_not"),
    "In": ("the `in` operator", "compare values explicitly"),
    "NotIn": ("the `not in` operator", "compare values explicitly"),
}


def loc_of(node: Any, src: Source) -> Loc:
    """The user-file location of a node parsed from `src`."""
    line = getattr(node, "lineno", 1) + src.first_line - 1
    col = getattr(node, "col_offset", 0) + src.col_offset + 1
    return Loc(src.file, line, col, src.line_text(line))


def unsupported(node: Any, src: Source, what: str, hint: str) -> UnsupportedSyntax:
    """The error for construct `what` at `node`, e.g. "`try` statements: not supported"."""
    return UnsupportedSyntax(f"{what}: not supported in differentiated code", loc_of(node, src),
                             hint)


def parse_function(src: Source) -> gast.FunctionDef | gast.Lambda:
    """Parse `src` and return its function node, checked against the language fence."""
    if src.is_lambda:
        node = _find_lambda(_parse_lambda_lines(src.text), src)
        check_fence(node, src)
        return node
    tree = gast.parse(src.text)
    if src.is_lambda:
        node = _find_lambda(tree, src)
    else:
        node = next((n for n in tree.body if isinstance(n, gast.FunctionDef)), None)
        if node is None:
            raise UnsupportedSyntax(f"could not find the definition of {src.name}",
                                    Loc(src.file, src.first_line, 1, src.line_text(src.first_line)))
    check_fence(node, src)
    return node


def parse_module(text: str) -> gast.Module:
    """Parse a whole file (used by `s2sad emit`, which never executes the file)."""
    return gast.parse(text)


def _parse_lambda_lines(text: str) -> gast.Module:
    """The lines holding a lambda may belong to a larger statement (``f(a,\n lambda x: x)``):
    drop text at either end until what is left parses."""
    lines = text.strip()
    for start in range(len(lines)):
        head = lines[start:]
        if not head.lstrip().startswith(("lambda", "(")) and start:
            continue
        for end in range(len(head), 0, -1):
            try:
                return gast.parse(head[:end].strip())
            except SyntaxError:
                continue
    raise SyntaxError("cannot isolate the lambda")


def _find_lambda(tree: gast.Module, src: Source) -> gast.Lambda:
    lambdas = [n for n in gast.walk(tree) if isinstance(n, gast.Lambda)]
    if not lambdas:
        raise UnsupportedSyntax("could not find the lambda's source",
                                Loc(src.file, src.first_line, 1, src.line_text(src.first_line)))
    if len(lambdas) > 1:
        raise UnsupportedSyntax("several lambdas on one line; s2sad cannot tell which is meant",
                                loc_of(lambdas[1], src), "put each lambda on a line of its own")
    return lambdas[0]


def _walk_located(node: Any, where: Any) -> Any:
    """Every node below `node` with the nearest node that has a position (operators have none)."""
    here = node if hasattr(node, "lineno") else where
    yield node, here
    for child in gast.iter_child_nodes(node):
        yield from _walk_located(child, here)


def check_fence(fn_node: Any, src: Source) -> None:
    """Raise :class:`UnsupportedSyntax` at the first node outside the supported subset."""
    for node, where in _walk_located(fn_node, fn_node):
        if node is fn_node:
            if isinstance(node, gast.FunctionDef):
                _check_signature(node, src)
            continue
        if isinstance(node, gast.FunctionDef):  # a nested helper: inlined where it is called
            if node.decorator_list:
                raise unsupported(node, src, "a decorated nested function",
                                  "define it at module level")
            _check_signature(node, src)
            continue
        if isinstance(node, gast.Lambda):
            if node.args.vararg is not None or node.args.kwarg is not None:
                raise unsupported(node, src, "`*args` and `**kwargs` in a lambda",
                                  "name each parameter")
            continue
        if isinstance(node, gast.Starred) and isinstance(node.ctx, gast.Load):
            continue  # `f(*args)`; lowering reports other places
        if isinstance(node, _ALLOWED):
            continue
        name = type(node).__name__
        what, hint = _HINTS.get(name, (f"`{name}` syntax",
                                       "rewrite it with the supported subset listed in the README"))
        raise unsupported(where, src, what, hint)


def _check_signature(node: gast.FunctionDef, src: Source) -> None:
    args = node.args
    if args.vararg is not None or args.kwarg is not None:
        raise unsupported(node, src, "`*args` and `**kwargs` parameters",
                          "name each parameter")
    if args.kwonlyargs:
        raise unsupported(node, src, "keyword-only parameters", "use ordinary parameters")


def definitions_only(text: str, filename: str) -> Any:
    """Compile the parts of a module that define things, without its other top-level code.

    Kept: imports, function definitions (decorators removed, since they run code), and
    assignments of literal constants.  Used by ``s2sad emit FILE``, which must not execute
    FILE; the functions keep FILE's name and line numbers, so their source can be read back.
    """
    import ast

    tree = gast.gast_to_ast(gast.parse(text))
    keep: list[ast.stmt] = []
    for node in tree.body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            keep.append(node)
        elif isinstance(node, ast.FunctionDef):
            node.decorator_list = []
            keep.append(node)
        elif isinstance(node, ast.Assign) and _is_literal(node.value):
            keep.append(node)
    module = ast.Module(body=keep, type_ignores=[])
    return compile(module, filename, "exec")


def _is_literal(node: Any) -> bool:
    import ast
    try:
        ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, RecursionError):
        return False
    return True
