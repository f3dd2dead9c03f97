"""The console script's first lines: the standard streams, the heavy imports, an early Ctrl-C.

Everything here happens once, in :func:`entry`, before the CLI is imported, so
every command (``minimize`` to ``--version``) goes through it:

* **The standard streams.** A file descriptor 0, 1 or 2 that the shell left
  closed (``>&-``, ``2>&-``) is opened on /dev/null first, as Unix tools do,
  so that no file opened later (a trace, a data file) takes its number and
  receives the other stream's text. stdout is then :class:`Output`: a write
  that fails -- stdout closed, a full disk (``> /dev/full``), an I/O error --
  raises :class:`~gdsolve.core.errors.OutputError`, which the CLI reports as one
  ``error: cannot write to stdout: <reason>`` line and exit 74
  (:attr:`~gdsolve.core.status.ExitStatus.IO_ERROR`); a pipe closed by its reader
  stays ``BrokenPipeError`` (exit 141, silently). stderr is :class:`Talk`: talk
  that cannot be written (stderr closed or full) is dropped, never sent to
  stdout, and the exit code still says what happened.
* **Garbage collection during the heavy imports.** Importing typer, rich,
  torch and sympy allocates about a million objects and makes almost no
  reference cycles, yet the cyclic collector walks them again and again while
  they load. :func:`pause_collector_on_heavy_imports` turns the collector off
  for the duration of each of those imports only, then moves what they made
  into the permanent generation (``gc.freeze``, so later passes never walk the
  libraries again) and turns it back on. The collector is therefore on
  whenever gdsolve's own code runs, in every command.
* **Ctrl-C while those imports load** is remembered, not raised in the middle
  of an import: :class:`gdsolve.cli.shell.stop_on_sigint` finds it and the run
  ends before its first step, printing what an interrupted run prints (the
  ``--json`` document with status ``interrupted``). A second Ctrl-C raises at
  once.

Library users (``import gdsolve``) are not affected: only the console script
and ``python -m gdsolve`` start here.
"""

from __future__ import annotations

import builtins
import errno
import gc
import os
import signal
import sys
from collections.abc import Callable, Collection
from typing import IO, Any

from ..core.errors import OutputError
from ..core.status import ExitStatus

#: Top-level packages whose import runs with the collector paused.
HEAVY = frozenset({"typer", "rich", "torch", "sympy"})

#: Set when Ctrl-C arrived while a heavy import was loading; :class:`gdsolve.cli.shell.stop_on_sigint` reads it.
early_interrupt = False

_importing = 0  # depth of heavy imports in progress


def entry() -> None:  # pragma: no cover - exercised through the installed command in tests/test_e2e.py
    """The ``gdsolve`` console script."""
    closed = claim_std_fds()
    guard_streams(closed)
    pause_collector_on_heavy_imports()
    try:
        from .app import main
    except KeyboardInterrupt:  # Ctrl-C between two imports, before the CLI could take it
        sys.stderr.write("error: interrupted\n")
        sys.exit(int(ExitStatus.INTERRUPTED))
    sys.exit(main())


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
    """Make ``sys.stdout`` a :class:`Output` and ``sys.stderr`` a :class:`Talk` (fds as :func:`claim_std_fds` left them)."""
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


class _Proxy:
    """A text stream that forwards everything it does not define to the stream it wraps."""

    def __init__(self, stream: IO[str]) -> None:
        self._stream = stream

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)


class Output(_Proxy):
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


class Talk(_Proxy):
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


def pause_collector_on_heavy_imports() -> None:
    """Run each import of a :data:`HEAVY` package with the collector off and Ctrl-C deferred (see the module doc)."""
    if getattr(builtins.__import__, "_gdsolve_pausing", False):
        return
    real = builtins.__import__

    def importing(name: str, globals: Any = None, locals: Any = None, fromlist: Any = (), level: int = 0) -> Any:
        global _importing
        top = name.partition(".")[0]
        if level or _importing or top not in HEAVY or top in sys.modules:
            return real(name, globals, locals, fromlist, level)
        was_on = gc.isenabled()
        gc.disable()
        previous = _defer_sigint()
        _importing += 1
        try:
            return real(name, globals, locals, fromlist, level)
        finally:
            _importing -= 1
            gc.freeze()  # what the library made is never walked again
            if was_on:
                gc.enable()
            _restore_sigint(previous)
            if HEAVY.issubset(sys.modules):
                builtins.__import__ = real

    importing._gdsolve_pausing = True  # type: ignore[attr-defined]
    builtins.__import__ = importing


def _early_sigint(signum: int, frame: Any) -> None:
    global early_interrupt
    if early_interrupt:
        raise KeyboardInterrupt
    early_interrupt = True


def _defer_sigint() -> Any:
    """Remember Ctrl-C instead of raising it, unless a handler of the command's own (a run's) already does that."""
    if signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        return None
    try:
        return signal.signal(signal.SIGINT, _early_sigint)
    except ValueError:  # not the main thread: Ctrl-C is not ours to defer
        return None


def _restore_sigint(previous: Any) -> None:
    if previous is not None:
        signal.signal(signal.SIGINT, previous)
