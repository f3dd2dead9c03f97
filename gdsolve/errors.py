"""The library's own error classes.

Every error a user can cause derives from :class:`GdsolveError`. Messages name
the bad input and say how to fix it; the CLI prints them as one ``error:`` line
and exits with :attr:`gdsolve.status.ExitStatus.USAGE`. Library callers catch
``GdsolveError`` (or the more specific classes) and never see a sympy or torch
exception for a mistake in their input.
"""

from __future__ import annotations


class GdsolveError(Exception):
    """Base class of every error gdsolve raises for bad input or usage."""


class ExpressionError(GdsolveError, ValueError):
    """The expression text is malformed, unsafe, too large or unsupported."""

    def __init__(self, message: str, text: str | None = None, offset: int | None = None) -> None:
        super().__init__(message)
        #: The offending expression text, when known.
        self.text = text
        #: 0-based character offset into ``text`` of the problem, when known.
        self.offset = offset


class OptionError(GdsolveError, ValueError):
    """A setting (learning rate, start point, bounds, method option...) is invalid."""
