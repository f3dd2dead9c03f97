"""Where a run's output goes: table, progress bar, trace, JSON, summary.

The CLI describes what the user asked for in :class:`OutputOptions`;
:class:`Outputs` turns that into one step callback for the solver and, at the
end, the closing output. The rules it enforces:

* stdout is data: with ``--json`` it holds one JSON document; with
  ``--trace -`` it holds the trace (then the summary, which is talk, goes to
  stderr, and no table rows are drawn at all);
* the progress bar appears only at a terminal, never with ``--json`` or
  ``--trace -``;
* colour follows rich's rules: none when stdout is not a terminal or when
  ``NO_COLOR`` is set.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO, Any

from ..core.errors import OptionError, shown
from ..core.result import OptimizeResult, Step
from .launch import Output


@dataclass(frozen=True)
class OutputOptions:
    """What the user asked to see. ``trace`` is a file name, ``"-"`` for stdout, or ``None``.

    An option that would have no effect in the combination given is refused,
    never silently ignored: ``trace_format`` without ``trace``; ``every``
    when no table rows are drawn (``json``, ``quiet``, ``trace="-"``);
    ``quiet`` with ``json``.
    """

    json: bool = False
    quiet: bool = False
    every: int | None = None
    trace: str | None = None
    trace_format: str | None = None  # None: jsonl

    def __post_init__(self) -> None:
        if self.every is not None and (isinstance(self.every, bool) or not isinstance(self.every, int) or self.every < 1):
            raise OptionError(f"{{every}} must be an integer >= 1, got {shown(self.every)}")
        if self.trace_format is not None and self.trace is None:
            raise OptionError("{trace_format} applies to a trace; add [[--trace FILE||trace='run.jsonl']]")
        rows_off = next((why for why, on in (("{json} prints no table", self.json),
                                              ("{quiet} prints no table rows", self.quiet),
                                              ("[[--trace -||trace='-']] prints no table rows", self.trace == "-"))
                         if on), None)
        if self.every is not None and rows_off:
            raise OptionError(f"{{every}} spaces the table's rows, but {rows_off}; leave one of them out")
        if self.quiet and self.json:
            raise OptionError("{quiet} has no effect with {json}, which prints only the JSON document; leave it out")

    @property
    def format(self) -> str:
        return self.trace_format or "jsonl"


class Outputs:
    """Builds the step callback for a run and writes the closing output."""

    def __init__(self, descent: Any, options: OutputOptions, *, stdout: IO[str] | None = None,
                 stderr: IO[str] | None = None) -> None:
        from ..io.trace import TraceWriter, check_format

        self.options = options
        self.stdout = stdout or sys.stdout
        self.stderr = stderr or sys.stderr
        trace_to_stdout = options.trace == "-"
        if trace_to_stdout and options.json:
            raise OptionError("{json} and [[--trace -||trace='-']] both write to stdout; "
                              "send the trace to a file ([[--trace run.jsonl||trace='run.jsonl']])")
        check_format(options.format)  # before a trace file is created
        callbacks: list[Callable[[Step], None]] = []
        s = descent.settings
        self.table = None
        self.console = None
        if not options.json:  # rich is imported only when something is drawn
            from ..present.render import TableRenderer
            from .shell import pipe_console

            # soft_wrap: a row is never folded at 80 columns when piped to a file.
            self.console = pipe_console(file=self.stdout, soft_wrap=True)
            self.talk = pipe_console(file=self.stderr, soft_wrap=True) if trace_to_stdout else self.console
            extra = [name for name, on in (("lr", s.schedule != "constant"),
                                           ("t", s.line_search != "none" or s.method == "lbfgs")) if on]
            rows_off = options.quiet or trace_to_stdout
            self.table = TableRenderer(self.talk, descent.objective.variables, max_iter=s.max_iter,
                                       every=options.every, quiet=rows_off, extra=extra, cli=True)
            if not rows_off:
                callbacks.append(self.table)
        self.trace = None
        self._trace_file: IO[str] | None = None
        if options.trace is not None:
            if trace_to_stdout:
                stream = self.stdout
            else:
                stream = self._trace_file = open_trace(options.trace)
            self.trace = TraceWriter(stream, descent, options.format, flush=trace_to_stdout, cli=True)
            callbacks.append(self.trace)
        self.progress = _progress(self.console, s.max_iter, trace_to_stdout, callbacks)
        self.callback = _combine(callbacks)

    def finish(self, result: OptimizeResult) -> None:
        """Close the progress bar and the trace, then print the JSON or the summary."""
        if self.progress is not None:
            self.progress.close()
        if self.trace is not None:
            self.trace.close(result)
        if self._trace_file is not None:
            self._trace_file.close()
        if self.options.json:
            from ..io.jsonio import dumps

            self.stdout.write(dumps(result, cli=True) + "\n")
            self.stdout.flush()
        elif self.table is not None and not (self.options.quiet and self.options.trace == "-"):
            self.table.finish(result)

    def abandon(self) -> None:
        """Close what is open after a failure (a closed pipe, an error)."""
        if self.progress is not None:
            self.progress.close()
        if self._trace_file is not None:
            self._trace_file.close()


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
    return open_output(path, f"the trace file {path!r}", f"cannot write the trace to {path}")


def _progress(console: Any, max_iter: int, trace_to_stdout: bool, callbacks: list) -> Any:
    """A progress bar at a terminal (never when the trace streams on stdout); added to ``callbacks``."""
    if console is None or not console.is_terminal or trace_to_stdout:
        return None
    from ..present.progress import ProgressReporter

    bar = ProgressReporter(console, max_iter)
    callbacks.append(bar)
    return bar


def _combine(callbacks: list[Callable[[Step], None]]) -> Callable[[Step], None] | None:
    # The solver calls this once per iteration: no loop when there is one sink.
    if not callbacks:
        return None
    if len(callbacks) == 1:
        return callbacks[0]
    sinks = tuple(callbacks)

    def all_of(step: Step) -> None:
        for sink in sinks:
            sink(step)

    return all_of


class BatchOutputs:
    """The outputs of a batch (many starts, a sweep): the batch table, JSON, and a trace of chosen rows.

    The trace is written when the batch ends: which row is best is known
    only then. The rows chosen (the best, ``trace_rows`` more) are replayed
    alone -- rows are independent, so the replay retraces their paths -- and
    every step record carries its ``row`` (and, in a sweep, the row's values).
    """

    def __init__(self, run: Any, options: OutputOptions, *, trace_rows: int | None = None,
                 stdout: IO[str] | None = None, stderr: IO[str] | None = None) -> None:
        from ..io.trace import check_format

        self.run = run
        self.options = options
        self.stdout = stdout or sys.stdout
        self.stderr = stderr or sys.stderr
        if trace_rows is not None and (isinstance(trace_rows, bool) or not isinstance(trace_rows, int) or trace_rows < 0):
            raise OptionError(f"{{trace_rows}} must be an integer >= 0, got {shown(trace_rows)}")
        if trace_rows is not None and options.trace is None:
            raise OptionError("{trace_rows} chooses the rows a trace records; add [[--trace FILE||trace='run.jsonl']]")
        self.trace_rows = trace_rows or 0
        trace_to_stdout = options.trace == "-"
        if trace_to_stdout and options.json:
            raise OptionError("{json} and [[--trace -||trace='-']] both write to stdout; "
                              "send the trace to a file ([[--trace run.jsonl||trace='run.jsonl']])")
        check_format(options.format)
        s = run.settings
        callbacks: list[Callable[[Any], None]] = []
        self.table = None
        self.console = None
        if not options.json:
            from ..present.render_batch import BatchTable
            from .shell import pipe_console

            self.console = pipe_console(file=self.stdout, soft_wrap=True)
            talk = pipe_console(file=self.stderr, soft_wrap=True) if trace_to_stdout else self.console
            rows_off = options.quiet or trace_to_stdout
            self.table = BatchTable(talk, rows=run.rows, max_iter=s.max_iter,
                                    every=options.every, quiet=rows_off, cli=True, hops=run.hops)
            if not rows_off:
                callbacks.append(self.table)
        self._trace_file: IO[str] | None = None
        if options.trace is not None and not trace_to_stdout:
            self._trace_file = open_trace(options.trace)
        self.progress = _progress(self.console, s.max_iter, trace_to_stdout, callbacks)
        self.callback = _combine(callbacks)

    def finish(self, result: OptimizeResult) -> None:
        if self.progress is not None:
            self.progress.close()
        if self.options.trace is not None:
            self._write_trace(result)
        if self.options.json:
            from ..io.jsonio import dumps

            self.stdout.write(dumps(result, cli=True) + "\n")
            self.stdout.flush()
        elif self.table is not None and not (self.options.quiet and self.options.trace == "-"):
            self.table.finish(result)

    def _write_trace(self, result: OptimizeResult) -> None:
        from ..io.trace import TraceWriter

        run = self.run
        stream = self._trace_file if self._trace_file is not None else self.stdout
        header = _Header(run.objective, result.settings, result.x0, result.seed)
        writer = TraceWriter(stream, header, self.options.format, flush=self._trace_file is None, cli=True, rows=True)
        rows = run.trace_rows(self.trace_rows)
        swept = bool(run.swept)
        for row, step in run.replay(rows):
            writer.write(step, row, run.combo_values(row) if swept else None)
        writer.close(result, row=run.best_row)
        if self._trace_file is not None:
            self._trace_file.close()
            self._trace_file = None

    def abandon(self) -> None:
        if self.progress is not None:
            self.progress.close()
        if self._trace_file is not None:
            self._trace_file.close()


@dataclass(frozen=True)
class _Header:
    """What a trace header needs, for a batch whose settings are known only at its end."""

    objective: Any
    settings: dict
    x0: dict
    seed: int | None

    def settings_dict(self) -> dict:
        return self.settings
