"""The library's own error classes, speaking the caller's language.

Every error a user can cause derives from :class:`GdsolveError`. Messages name
the bad input and say how to fix it. The same mistake is made through two
doors, so a message is written once as a *template* and rendered for each:

* ``str(error)`` speaks Python: options are keyword arguments (``lr``,
  ``max_iter``, ``x0={'x': 0}``);
* :meth:`GdsolveError.cli_message` speaks the command line: ``--lr``,
  ``--max-iter``, ``--x0 x=0``. Only the CLI calls it; it prints the result as
  one ``error:`` line and exits with :attr:`gdsolve.core.status.ExitStatus.USAGE`.

Template markup (kept tiny on purpose): ``{lr}`` names an option; ``[[cli
text||python text]]`` gives the two spellings of an example.

>>> e = OptionError("{max_iter} must be an integer >= 1, got 0; try [[--max-iter 100||max_iter=100]]")
>>> str(e)
'max_iter must be an integer >= 1, got 0; try max_iter=100'
>>> e.cli_message()
'--max-iter must be an integer >= 1, got 0; try --max-iter 100'
"""

from __future__ import annotations

import errno
import math
import re

#: Python keyword -> command-line flag, where the flag is not just the name with dashes.
_FLAGS = {"variables": "--vars", "params": "--param", "output": "-o"}
_OPTION = re.compile(r"\{([a-z][a-z0-9_]*)\}")
_ALTERNATIVE = re.compile(r"\[\[(.*?)\|\|(.*?)\]\]", re.S)


#: The most characters of a user's value an error message quotes.
SHOWN_CHARS = 80


def shown(value: object) -> str:
    """``repr(value)`` for an error message, safe for any value a caller can pass.

    A message quotes the bad value, and the value is the caller's: a
    100,000-character string or list is cut to :data:`SHOWN_CHARS`, and an
    integer too long for ``repr`` (Python refuses more than 4,300 digits) is
    described by its size instead of raising ``ValueError`` in the middle of
    reporting another error.

    >>> shown("lbfgs"), shown(0.5)
    ("'lbfgs'", '0.5')
    >>> shown("x" * 500)
    "'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx... (502 characters)"
    >>> shown(10**5000)
    'an integer of 5001 digits'
    """
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 4000:
        return f"an integer of {_digits(value)} digits"
    try:
        text = repr(value)
    except ValueError:  # an int nested in a list or dict, too long to write
        return f"a {type(value).__name__} holding an integer too long to write"
    if len(text) > SHOWN_CHARS:
        return f"{text[:SHOWN_CHARS - 3]}... ({len(text):,} characters)"
    return text


def _digits(value: int) -> int:
    """Decimal digits of a huge int without writing it out."""
    n = int(abs(value).bit_length() * math.log10(2)) + 1
    return n if 10 ** (n - 1) <= abs(value) else n - 1


def flag(name: str) -> str:
    """The command-line flag of a Python keyword.

    >>> flag("max_iter"), flag("variables")
    ('--max-iter', '--vars')
    """
    return _FLAGS.get(name, "--" + name.replace("_", "-"))


def render(template: str, *, cli: bool) -> str:
    """Render an error template for the command line (``cli=True``) or for Python."""
    text = _ALTERNATIVE.sub(lambda m: m.group(1) if cli else m.group(2), template)
    return _OPTION.sub(lambda m: flag(m.group(1)) if cli else m.group(1), text)


class GdsolveError(Exception):
    """Base class of every error gdsolve raises for bad input or usage.

    Args:
        template: the message, with ``{option}`` names and ``[[cli||python]]``
            alternatives (see the module docstring).
    """

    def __init__(self, template: str = "") -> None:
        self.template = template
        super().__init__(render(template, cli=False))

    def cli_message(self) -> str:
        """The message as the command line says it (flags instead of keywords)."""
        return render(self.template, cli=True)


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


#: errno values that mean "the output could not be written" (not a bug in gdsolve): exit 74.
WRITE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EIO, errno.EFBIG, errno.EROFS})


class OutputError(OSError):
    """Output could not be written: stdout closed, a full disk, an I/O error (exit 74 on the command line).

    Not a :class:`GdsolveError`: the input was fine, the place the answer goes was not.
    Raised by the command's stdout (:class:`gdsolve.core.streams.Output`, also for the trace file); ``errno``
    and ``strerror`` are the system's.

    >>> str(OutputError("stdout", 28, "No space left on device"))
    'cannot write to stdout: No space left on device'
    """

    def __init__(self, target: str, code: int | None, reason: str | None) -> None:
        super().__init__(code, reason)
        #: What could not be written: ``stdout``, or a file's name.
        self.target = target

    def __str__(self) -> str:
        return f"cannot write to {self.target}: {self.strerror or 'write failed'}"
