"""What the command needs from its shell: argv checks, signals, pipes and exit codes.

The CLI (:mod:`gdsolve.cli.app`) parses options and calls the library; this
module holds the pieces around that which make it behave as a Unix tool:

* :class:`errors` turns every exception into one ``error:`` line and the
  documented :class:`~gdsolve.core.status.ExitStatus` (bad input is 2, a closed
  pipe 141, Ctrl-C 130, output that cannot be written 74; only a bug is 70);
* a closed pipe ends quietly with 141 in every mode
  (:meth:`~gdsolve.core.streams.Environment.silence_stdout`, and
  :func:`gdsolve.present.console.pipe_console`, whose closed pipe raises
  instead of rich's own exit 1, which a script would read as "max-iter");
* :class:`stop_on_sigint` lets Ctrl-C end a run after the current iteration;
* :func:`scan_argv` lets a formula start with ``-`` and refuses an option
  given twice (click would silently keep the last one).

Nothing here imports torch, sympy or rich at module level (typer is the CLI's own).
"""

from __future__ import annotations

import re
import sys
import traceback
import warnings
from collections.abc import Callable
from typing import Any

from typer import Exit  # click's Exit: typer's CliRunner and click's main both read its code

from ..core.errors import WRITE_ERRNOS, GdsolveError, OutputError
from ..core.status import ExitStatus
from ..core.streams import Environment
from . import startup


def fail(message: str, code: ExitStatus = ExitStatus.USAGE) -> int:
    """Print one ``error:`` line on stderr; return the exit code."""
    sys.stderr.write(f"error: {' '.join(message.split())}\n")
    sys.stderr.flush()
    return int(code)


def cannot_write(exc: OSError) -> int:
    """Report output that could not be written (:class:`OutputError`, or a write's OSError): exit 74.

    When stdout is what failed, it is pointed at /dev/null first, so that
    Python's own flush at exit does not fail a second time.
    """
    if isinstance(exc, OutputError):
        if exc.target == "stdout":
            Environment.current().silence_stdout()
        return fail(str(exc), ExitStatus.IO_ERROR)
    where = f" {exc.filename}" if exc.filename else " output"
    return fail(f"cannot write{where}: {exc.strerror}", ExitStatus.IO_ERROR)


def is_write_failure(exc: BaseException) -> bool:
    """Whether ``exc`` says output could not be written (exit 74), not that gdsolve has a bug."""
    return isinstance(exc, OutputError) or (isinstance(exc, OSError) and exc.errno in WRITE_ERRNOS)


class errors:
    """Context manager: every exception -> one ``error:`` line and its exit code.

    ``GdsolveError`` (bad input, including a file the user named that could
    not be read) is 2, worded for the command line; output that cannot be
    written (:func:`is_write_failure`) is 74; a closed pipe is 141, silently;
    Ctrl-C is 130; ``MemoryError`` is 2, with advice to ask for less; anything
    else is a bug: 70, with the traceback under ``--debug``.
    """

    def __init__(self, debug: bool) -> None:
        self.debug = debug
        self._warnings = warnings.catch_warnings()

    def __enter__(self) -> None:
        self._warnings.__enter__()
        if not self.debug:  # only our own words reach stderr
            warnings.simplefilter("ignore")

    def __exit__(self, etype: Any, exc: BaseException | None, tb: Any) -> bool:
        self._warnings.__exit__(etype, exc, tb)
        if exc is None and startup.early_interrupt:
            # Ctrl-C came while the libraries loaded and no run was there to stop: it still ends the command.
            startup.early_interrupt = False
            raise Exit(fail("interrupted", ExitStatus.INTERRUPTED))
        if exc is None or isinstance(exc, Exit):
            return False
        if isinstance(exc, BrokenPipeError):
            # The reader went away (| head): say nothing, and keep Python from
            # complaining when it flushes stdout at exit.
            Environment.current().silence_stdout()
            raise Exit(int(ExitStatus.BROKEN_PIPE)) from None
        if self.debug:
            traceback.print_exception(etype, exc, tb)
        if is_write_failure(exc):
            raise Exit(cannot_write(exc)) from None  # type: ignore[arg-type]
        if isinstance(exc, GdsolveError):
            raise Exit(fail(exc.cli_message())) from None
        if isinstance(exc, KeyboardInterrupt):
            raise Exit(fail("interrupted", ExitStatus.INTERRUPTED)) from None
        if isinstance(exc, MemoryError):
            raise Exit(fail("out of memory: the request is too large for this machine; ask for less "
                            "(fewer iterations or variables, a smaller picture)")) from None
        if isinstance(exc, Exception):
            raise Exit(fail(f"internal error: {type(exc).__name__}: {exc} (a bug in gdsolve; rerun with --debug "
                            "and report the traceback)", ExitStatus.INTERNAL_ERROR)) from None
        return False


class StopFlag:
    """A target for :class:`stop_on_sigint` that only remembers the request (a command with no run object)."""

    stop_requested = False


class stop_on_sigint:
    """Ctrl-C sets ``target.stop_requested`` (the run ends after the current
    iteration, so the trace, the JSON and the summary come out whole); a
    second Ctrl-C raises KeyboardInterrupt at once. A Ctrl-C that came while
    the libraries were loading (:data:`gdsolve.cli.startup.early_interrupt`) counts
    as the first: the run ends before its first step."""

    def __init__(self, target: Any) -> None:
        self.target = target
        self.previous: Any = None

    def _handler(self, signum: int, frame: Any) -> None:
        if self.target.stop_requested:
            raise KeyboardInterrupt
        self.target.stop_requested = True

    def __enter__(self) -> None:
        import signal
        import threading

        if threading.current_thread() is threading.main_thread():
            self.previous = signal.signal(signal.SIGINT, self._handler)
        if startup.early_interrupt:
            startup.early_interrupt = False
            self.target.stop_requested = True

    def __exit__(self, *exc: Any) -> None:
        import signal

        if self.previous is not None:
            signal.signal(signal.SIGINT, self.previous)


_OPTION_SHAPE = re.compile(r"--?[A-Za-z][A-Za-z0-9-]*")


def scan_argv(command: Any, argv: list[str], refuse: Callable[[str], Exception]) -> list[str]:
    """Check a sub-command's argv before click parses it; return it, rearranged.

    * A token after the sub-command that starts with ``-`` but is neither one
      of its options nor an option's value is the formula (``gdsolve maximize
      "-(x-1)**2"``): it is moved behind a ``--`` so it is read as the
      positional argument.
    * An option that takes one value, given twice (``--lr 0.1 --lr 0.2``),
      is refused through ``refuse(message)``: click would keep the last one
      without a word. Repeatable options (``--param``, ``--bounds``) may repeat.
    """
    if not argv or not hasattr(command, "commands") or argv[0] not in command.commands:
        return argv
    sub = command.commands[argv[0]]
    takes_value: dict[str, str] = {}
    flags: dict[str, str] = {"--help": "--help", "-h": "--help"}
    repeatable: set[str] = set()
    for p in sub.params:
        # Duck-typed: typer has shipped both click's classes and its own.
        if getattr(p, "param_type_name", "") == "option":
            names = [*p.opts, *p.secondary_opts]
            canonical = max(names, key=len)
            for n in names:
                (flags if p.is_flag or p.count else takes_value)[n] = canonical
            if getattr(p, "multiple", False) or p.count:
                repeatable.add(canonical)
    seen: set[str] = set()
    out, moved, i = [argv[0]], [], 1
    while i < len(argv):
        a = argv[i]
        if a == "--":
            out.extend(argv[i:])
            break
        name = a.split("=", 1)[0]
        canonical = takes_value.get(name) or flags.get(name)
        if canonical is not None:
            if canonical in seen and canonical not in repeatable:
                raise refuse(f"{canonical} is given twice; give it once")
            seen.add(canonical)
        if name in takes_value:
            out.append(a)
            if "=" not in a and i + 1 < len(argv):
                out.append(argv[i + 1])
                i += 1
        elif a.startswith("-") and len(a) > 1 and name not in flags and not (
            a.startswith("--") and _OPTION_SHAPE.fullmatch(name)
        ):
            moved.append(a)
        else:
            out.append(a)
        i += 1
    if moved:
        if "--" in out:
            idx = out.index("--")
            out[idx + 1:idx + 1] = moved
        else:
            out.extend(["--", *moved])
    return out
