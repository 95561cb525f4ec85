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
