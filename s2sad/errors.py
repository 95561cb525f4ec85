"""Errors raised by s2sad.

Every error that concerns the user's code carries a :class:`Loc` and prints like a compiler
diagnostic::

    model.py:7:9: UnsupportedSyntax: `try` statements are not supported
        try:
        ^
    hint: move the try/except outside the differentiated function

This module is a leaf: it imports nothing from s2sad.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Loc:
    """A position in the user's source: file name, 1-based line, 1-based column, line text."""

    file: str
    line: int
    col: int
    text: str = ""

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}"


class S2SADError(Exception):
    """Base class of every error s2sad raises on purpose."""

    kind = "Error"

    def __init__(self, message: str, loc: Loc | None = None, hint: str | None = None) -> None:
        self.message = message
        self.loc = loc
        self.hint = hint
        super().__init__(self.render())

    def render(self) -> str:
        """The diagnostic: location, kind, message, source line with a caret, hint."""
        head = f"{self.kind}: {self.message}"
        if self.loc is None:
            lines = [head]
        else:
            lines = [f"{self.loc}: {head}"]
            if self.loc.text:
                raw = self.loc.text.rstrip("\n")
                stripped = raw.lstrip()
                indent = len(raw) - len(stripped)
                lines.append("    " + stripped)
                lines.append("    " + " " * max(0, self.loc.col - 1 - indent) + "^")
        if self.hint:
            lines.append(f"hint: {self.hint}")
        return "\n".join(lines)


class UnsupportedSyntax(S2SADError):
    """The function uses Python syntax that s2sad does not differentiate."""

    kind = "UnsupportedSyntax"


class NoRuleError(S2SADError):
    """A call to something that has no derivative rule and no Python source."""

    kind = "NoRuleError"


class NotDifferentiable(S2SADError):
    """A `wrt` argument (or a value that must be differentiated) is not a float or float array."""

    kind = "NotDifferentiable"


class TypeMismatch(S2SADError):
    """An operation received values of a kind it does not accept (e.g. a non-scalar to grad)."""

    kind = "TypeMismatch"


class SourceError(S2SADError):
    """The source of the function could not be read (e.g. defined in an interactive prompt)."""

    kind = "SourceError"


class GradCheckError(S2SADError, AssertionError):
    """`check_grads` found a derivative that disagrees with finite differences."""

    kind = "GradCheckError"


class IRError(S2SADError):
    """The IR verifier found a broken invariant: a bug in s2sad, never in the user's code."""

    kind = "IRError"


# The words of s2sad's own classes, as Python's TypeErrors print them, and the user's words
# for them: a message about the user's call never names Sym, Var or Static.
_INTERNAL = [
    (re.compile(r"Sym\(%[\w-]+: ([^)]*)\)"), r"a \1 value"),
    (re.compile(r"'(?:Sym|Var|Const)' object is not iterable"),
     "an array or number s2sad cannot iterate over here"),
    (re.compile(r"'(?:Sym|Var|Const)' object"), "a number or array"),
    (re.compile(r"'Static' object"), "a constant"),
    (re.compile(r"'TupleVal' object"), "a tuple"),
    (re.compile(r"'Record' object"), "a container"),
    (re.compile(r"'?<dynamic>'?|\b_Dynamic\b"), "a value known only at run time"),
    (re.compile(r"\b(?:Sym|Var|Static|TupleVal|Record)\b"), "value"),
]


_SIGNATURE = re.compile(r"(?:[\w.]*<locals>\.)?[\w<>.]+\(\) (?=missing|got|takes)")


def plain(message: str, callee: str | None = None) -> str:
    """`message` (usually a caught TypeError's) in the user's words: s2sad's own classes
    become what they stand for (``'Sym' object is not subscriptable`` -> ``a number or
    array is not subscriptable``), and the functions s2sad binds to a NumPy function are
    named as `callee` (``_diff() takes ...`` -> ``diff() takes ...``)."""
    for pattern, words in _INTERNAL:
        message = pattern.sub(words, message)
    if callee:
        message = _SIGNATURE.sub(f"{callee.strip('.()')}() ", message)
    return message
