"""The rich console every table, panel and bar is drawn on: one for stdout, one for stderr.

A closed pipe (``gdsolve ... | head``) must end the command with exit 141
and no words; rich's own handler prints nothing but exits with status 1,
which a script would read as "not converged". :func:`pipe_console` raises
``BrokenPipeError`` instead, which :class:`gdsolve.cli.shell.errors` turns
into 141.
"""

from __future__ import annotations

import functools
from typing import Any

from ..core.streams import Environment


@functools.lru_cache(maxsize=1)
def _pipe_console_class() -> Any:
    from rich.console import Console

    class PipeConsole(Console):
        def on_broken_pipe(self) -> None:
            self.quiet = True
            raise BrokenPipeError

    return PipeConsole


def pipe_console(**kw: Any) -> Any:
    """A rich Console whose closed pipe raises BrokenPipeError (to become exit 141), not rich's ``SystemExit(1)``."""
    return _pipe_console_class()(**kw)


def console(env: Environment | None = None, *, stderr: bool = False, soft_wrap: bool = True) -> Any:
    """The console on ``env``'s stdout (data: tables, reports) or stderr (talk: bars, summaries).

    ``soft_wrap`` (tables): a row is never folded at 80 columns when piped to a
    file. Reports (``grad``, ``explain``, ``fit``) are wrapped to the width instead.
    """
    env = env or Environment.current()
    return pipe_console(file=env.stderr if stderr else env.stdout, soft_wrap=soft_wrap)
