"""The standard streams and the terminal, as one object: what a closed, full or non-terminal stream does.

What a stream does when it fails is decided here, in one code path, and
every command reads its streams and the terminal's facts from one
:class:`Environment` (httpie's is the model):

* **Closed by the shell** (``>&-``, ``2>&-``): :func:`claim_std_fds` opens
  /dev/null on the missing descriptor first (as Unix tools do), so a file
  opened later cannot take its number; stdout then raises
  :class:`~gdsolve.core.errors.OutputError` on its first write (exit 74),
  stderr drops what it is given.
* **Full or failing** (``> /dev/full``, an I/O error): :class:`Output` turns
  the ``OSError`` of a write, flush or close into ``OutputError`` naming the
  stream or file (exit 74); :class:`Talk` (stderr) drops it: talk never
  breaks a run, and the exit code still says what happened.
* **A pipe closed by its reader** (``| head``): stays ``BrokenPipeError``;
  :meth:`Environment.silence_stdout` points stdout at /dev/null so that
  nothing more is written or complained about (exit 141, silently).
* **Not a terminal**: :attr:`Environment.stdout_isatty` and
  :attr:`Environment.stderr_isatty` answer for a closed stream too (False);
  the output pipeline draws a progress bar only where they say True
  (colour is rich's to decide: none off a terminal or with ``NO_COLOR``).

Nothing here imports torch, sympy or rich: every command, ``--help`` included,
goes through it.

Example:
    >>> import io
    >>> env = Environment(stdin=io.StringIO(), stdout=io.StringIO(), stderr=io.StringIO())
    >>> env.stdout_isatty, env.write_data("1\\n"), env.stdout.getvalue()
    (False, None, '1\\n')
"""

from __future__ import annotations

import errno
import os
import sys
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import IO, Any

from .errors import OptionError, OutputError


class Proxy:
    """A text stream that forwards everything it does not define to the stream it wraps."""

    def __init__(self, stream: IO[str]) -> None:
        self._stream = stream

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)


class Output(Proxy):
    """An output stream whose failed writes raise :class:`OutputError` naming it (``target``: stdout, or a
    file such as the trace); a pipe closed by its reader stays ``BrokenPipeError``."""

    def __init__(self, stream: IO[str], closed: bool = False, target: str = "stdout") -> None:
        super().__init__(stream)
        self.closed_by_shell = closed
        self.target = target

    def write(self, text: str) -> int:
        if self.closed_by_shell:
            raise OutputError(self.target, errno.EBADF, "it is closed")
        return self._checked(self._stream.write, text)

    def flush(self) -> None:
        self._checked(self._stream.flush)

    def close(self) -> None:
        self._checked(self._stream.close)  # flushes what is buffered: a full disk is found here too

    def _checked(self, call: Callable[..., Any], *args: Any) -> Any:
        """``call(*args)``, an ``OSError`` from it turned into :class:`OutputError` naming the target."""
        try:
            return call(*args)
        except BrokenPipeError:  # the reader left: the CLI ends quietly, as ``head`` expects
            raise
        except OSError as exc:
            raise OutputError(self.target, exc.errno, exc.strerror) from None

    def isatty(self) -> bool:
        return not self.closed_by_shell and self._stream.isatty()


class Talk(Proxy):
    """stderr that drops what cannot be written (stderr closed, full or gone): talk never breaks a run."""

    def write(self, text: str) -> int:
        try:
            return self._stream.write(text)
        except (OSError, ValueError):
            return len(text)

    def flush(self) -> None:
        try:
            self._stream.flush()
        except (OSError, ValueError):
            pass


def claim_std_fds() -> set[int]:
    """Open /dev/null on each of fds 0, 1 and 2 that is closed; return the numbers of those that were."""
    closed: set[int] = set()
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
        except OSError:
            closed.add(fd)
            null = os.open(os.devnull, os.O_RDONLY if fd == 0 else os.O_WRONLY)
            if null != fd:
                os.dup2(null, fd)
                os.close(null)
    return closed


def guard_streams(closed: Collection[int] = ()) -> None:
    """Make ``sys.stdout`` an :class:`Output` and ``sys.stderr`` a :class:`Talk` (fds as :func:`claim_std_fds` left them)."""
    if sys.stdin is None:
        sys.stdin = open(0, encoding="utf-8", closefd=False)
    if not isinstance(sys.stdout, Output):
        out = sys.stdout if sys.stdout is not None and 1 not in closed else open(
            1, "w", encoding="utf-8", closefd=False)
        sys.stdout = Output(out, closed=1 in closed)
    if not isinstance(sys.stderr, Talk):
        err = sys.stderr if sys.stderr is not None else open(
            2, "w", encoding="utf-8", errors="backslashreplace", closefd=False)
        sys.stderr = Talk(err)


def open_output(path: str | os.PathLike[str], target: str, refusal: str, *, newline: str | None = None) -> IO[str]:
    """Open a file a run writes into (a trace, a fit's residuals), for both ways it can fail.

    The file cannot be opened (no such folder, no permission): :class:`OptionError`
    ``"<refusal>: <reason>"``, exit 2, the option was wrong. A write, flush or close
    fails later (a full disk): :class:`~gdsolve.core.errors.OutputError` naming ``target``,
    exit 74, the input was fine.
    """
    try:
        stream = open(path, "w", encoding="utf-8", newline=newline)
    except OSError as exc:
        raise OptionError(f"{refusal}: {exc.strerror}") from None
    return Output(stream, target=target)  # type: ignore[return-value]


def open_trace(path: str) -> IO[str]:
    """:func:`open_output` for a trace file (``--trace FILE``), with the words every trace uses."""
    return open_output(path, f"the trace file {path!r}", f"cannot write the trace to {path}")


def _isatty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, OSError, ValueError):  # closed, detached, or not a real stream
        return False


def _stat(stream: Any) -> Any:
    try:
        return os.fstat(stream.fileno())
    except (AttributeError, OSError, ValueError):
        return None


@dataclass
class Environment:
    """The streams a command reads and writes, and what the terminal is.

    ``Environment.current()`` reads them from :mod:`sys` at the time of the
    call (after :func:`guard_streams`, in the console script); tests pass
    their own streams.
    """

    stdin: IO[str] = field(default_factory=lambda: sys.stdin)
    stdout: IO[str] = field(default_factory=lambda: sys.stdout)
    stderr: IO[str] = field(default_factory=lambda: sys.stderr)

    @classmethod
    def current(cls) -> Environment:
        return cls(sys.stdin, sys.stdout, sys.stderr)

    @property
    def stdout_isatty(self) -> bool:
        return _isatty(self.stdout)

    @property
    def stderr_isatty(self) -> bool:
        return _isatty(self.stderr)

    def write_data(self, text: str) -> None:
        """Write ``text`` on stdout (data) and flush, so a failure is found here and a reader sees it at once."""
        self.stdout.write(text)
        self.stdout.flush()

    def talk(self, text: str) -> None:
        """Write ``text`` on stderr (talk); a stderr that cannot take it drops it."""
        self.stderr.write(text)
        self.stderr.flush()

    def stdout_stat(self) -> Any:
        """An fstat of stdout (None without a descriptor), to compare with :meth:`stdout_went_quiet`."""
        return _stat(self.stdout)

    def stdout_went_quiet(self, before: Any) -> bool:
        """Whether stdout was pointed at /dev/null since ``before`` (as rich does on a closed pipe)."""
        now = self.stdout_stat()
        try:
            return (before is not None and now is not None and not os.path.samestat(now, before)
                    and os.path.samestat(now, os.stat(os.devnull)))
        except OSError:
            return False

    def silence_stdout(self) -> None:
        """After a reader closed the pipe: point stdout at /dev/null so nothing more is written or complained about."""
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, self.stdout.fileno())
        except (AttributeError, OSError, ValueError):  # stdout has no file descriptor (a test harness)
            pass
