"""The start-up work every command needs, done once in :func:`start` before the CLI is imported.

The console script (:func:`gdsolve.cli.entry.entry`) calls :func:`start` first, so
every command (``minimize`` to ``--version``) goes through it:

* **The standard streams.** A file descriptor 0, 1 or 2 that the shell left
  closed (``>&-``, ``2>&-``) is opened on /dev/null first, as Unix tools do,
  so that no file opened later (a trace, a data file) takes its number and
  receives the other stream's text (:func:`gdsolve.core.streams.claim_std_fds`).
  stdout is then :class:`~gdsolve.core.streams.Output`: a write
  that fails -- stdout closed, a full disk (``> /dev/full``), an I/O error --
  raises :class:`~gdsolve.core.errors.OutputError`, which the CLI reports as one
  ``error: cannot write to stdout: <reason>`` line and exit 74
  (:attr:`~gdsolve.core.status.ExitStatus.IO_ERROR`); a pipe closed by its reader
  stays ``BrokenPipeError`` (exit 141, silently). stderr is :class:`~gdsolve.core.streams.Talk`: talk
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
import gc
import signal
import sys
from typing import Any

from ..core.streams import claim_std_fds, guard_streams

#: Top-level packages whose import runs with the collector paused.
HEAVY = frozenset({"typer", "rich", "torch", "sympy"})

#: Set when Ctrl-C arrived while a heavy import was loading; :class:`gdsolve.cli.shell.stop_on_sigint` reads it.
early_interrupt = False

_importing = 0  # depth of heavy imports in progress


def start() -> None:
    """Claim the standard streams, guard them, and pause the collector during heavy imports (see the module doc)."""
    guard_streams(claim_std_fds())
    pause_collector_on_heavy_imports()


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
