"""Where a run's output goes: table, progress bar, trace, JSON, summary -- one pipeline for every run.

The CLI describes what the user asked for in :class:`OutputOptions`;
:class:`Outputs` turns that into one step callback for the run and, at the
end, the closing output, for one start, a batch (many starts, a sweep) and a
fit alike: the table or report is the run's, the rest is shared --
the streams (:class:`~gdsolve.core.streams.Environment`), the one JSON emitter
(:func:`~gdsolve.io.jsonio.emit`), the one trace writer
(:class:`~gdsolve.io.trace.TraceWriter`, or a fit's
:class:`~gdsolve.io.fittrace.FitTraceWriter`, both over :class:`~gdsolve.io.jsonio.JsonLines`)
and the one progress bar. The rules it enforces:

* stdout is data: with ``--json`` it holds one JSON document; with
  ``--trace -`` it holds the trace (then the summary, which is talk, goes to
  stderr, and no table rows are drawn at all);
* the progress bar appears only at a terminal, never with ``--json`` or
  ``--trace -``;
* colour follows rich's rules: none when stdout is not a terminal or when
  ``NO_COLOR`` is set.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..core.errors import OptionError, shown
from ..core.result import OptimizeResult
from ..core.streams import Environment


@dataclass(frozen=True)
class OutputOptions:
    """What the user asked to see. ``trace`` is a file name, ``"-"`` for stdout, or ``None``.

    An option that would have no effect in the combination given is refused,
    never silently ignored: ``trace_format`` without ``trace``; ``every``
    when no table rows are drawn (``json``, ``quiet``, ``trace="-"``);
    ``quiet`` with ``json``; and ``json`` with ``trace="-"``, which would both
    write to stdout.
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
        if self.json and self.trace == "-":
            raise OptionError("{json} and [[--trace -||trace='-']] both write to stdout; "
                              "send the trace to a file ([[--trace run.jsonl||trace='run.jsonl']])")

    @property
    def format(self) -> str:
        return self.trace_format or "jsonl"


class Outputs:
    """Builds the step callback for a run and writes the closing output: one pipeline for every kind of run.

    Args:
        run: what is run: a prepared :class:`~gdsolve.engine.multistart.SingleRun`
            or :class:`~gdsolve.engine.multistart.MultiRun` (``run.single`` picks
            the table), or a fit's bound model (:class:`~gdsolve.formula.model.FitModel`,
            with ``fit`` given).
        options: what the user asked to see.
        trace_rows: a batch's trace: this many rows besides the best.
        fit: the fit's settings for its trace header (``{"method": "lm"}``): ``run`` is a fit.
        fit_max_iter: a fit's step budget, the total of its progress bar.
        env: the streams (default: the process's).

    What differs between kinds is only what draws and what records: one
    start's table (:class:`~gdsolve.present.render.TableRenderer`) and its
    trace written step by step; a batch's table
    (:class:`~gdsolve.present.render_batch.BatchTable`) and its trace written
    when the batch ends -- which row is best is known only then; the rows
    chosen (the best, ``trace_rows`` more) are replayed alone, rows being
    independent, and every step record carries its ``row`` (and, in a sweep,
    the row's values); a fit's report (:func:`~gdsolve.present.render_fit.fit_view`)
    and its trace (:class:`~gdsolve.io.fittrace.FitTraceWriter`). Where stdout
    and stderr go, the JSON, the progress bar, and what a failure closes are
    decided here once for all of them.
    """

    def __init__(self, run: Any, options: OutputOptions, *, trace_rows: int | None = None,
                 fit: dict[str, Any] | None = None, env: Environment | None = None,
                 fit_max_iter: int | None = None) -> None:
        from ..io.trace import check_format

        self.run = run
        self.options = options
        self.env = env = env or Environment.current()
        self.kind = "fit" if fit is not None else "single" if run.single else "batch"
        if trace_rows is not None and self.kind != "batch":
            raise OptionError("{trace_rows} applies to a batch; add [[--starts N||starts=N]] or sweep a setting "
                              "([[--lr 0.1,0.01||lr=(0.1, 0.01)]])")
        if trace_rows is not None and (isinstance(trace_rows, bool) or not isinstance(trace_rows, int) or trace_rows < 0):
            raise OptionError(f"{{trace_rows}} must be an integer >= 0, got {shown(trace_rows)}")
        if trace_rows is not None and options.trace is None:
            raise OptionError("{trace_rows} chooses the rows a trace records; add [[--trace FILE||trace='run.jsonl']]")
        self.trace_rows = trace_rows or 0
        check_format(options.format)  # before a trace file is created
        trace_to_stdout = options.trace == "-"
        callbacks: list[Callable[[Any], None]] = []
        self.table: Any = None
        self.console: Any = None
        if not options.json and self.kind != "fit":  # rich is imported only when something is drawn
            from ..present.console import console

            self.console = console(env)
            talk = console(env, stderr=True) if trace_to_stdout else self.console
            rows_off = options.quiet or trace_to_stdout
            self.table = self._table(talk, rows_off)
            if not rows_off:
                callbacks.append(self.table)
        self.trace: Any = None
        self._batch_file: Any = None
        if options.trace is not None:
            if self.kind == "fit":  # the file is made at the first record: a refused fit leaves none
                from ..io.fittrace import FitTraceWriter

                self.trace = FitTraceWriter(options.trace, run, fit or {}, env=env)
                callbacks.append(self.trace)
            elif self.kind == "single":  # written as the run goes
                from ..io.trace import TraceWriter

                self.trace = TraceWriter(options.trace, run, options.format, cli=True, env=env)
                callbacks.append(self.trace)
            elif not trace_to_stdout:  # opened now: a file that cannot be opened is refused before the run
                from ..io.jsonio import JsonLines

                self._batch_file = JsonLines(options.trace, env=env)
                self._batch_file.open()
        self.progress: Any = None
        if self.console is not None and not trace_to_stdout and env.stdout_isatty:
            from ..present.progress import ProgressReporter

            self.progress = ProgressReporter(self.console, run.settings.max_iter)
            callbacks.append(self.progress)
        elif self.kind == "fit" and not options.json and not trace_to_stdout and env.stdout_isatty:
            from ..present.console import console
            from ..present.progress import FitProgress

            self.progress = FitProgress(console(env, soft_wrap=False), fit_max_iter)
            callbacks.append(self.progress)
        self.callback = _combine(callbacks)

    def _table(self, console: Any, rows_off: bool) -> Any:
        every = self.options.every
        if self.kind == "single":
            from ..present.render import TableRenderer

            s = self.run.settings
            extra = [name for name, on in (("lr", s.schedule != "constant"),
                                           ("t", s.line_search != "none" or s.method == "lbfgs")) if on]
            return TableRenderer(console, self.run.objective.variables, max_iter=s.max_iter, every=every,
                                 quiet=rows_off, extra=extra, cli=True)
        from ..present.render_batch import BatchTable

        return BatchTable(console, rows=self.run.rows, max_iter=self.run.settings.max_iter, every=every,
                          quiet=rows_off, cli=True, hops=self.run.hops)

    def finish(self, result: Any) -> None:
        """Close the progress bar and the trace, then print the JSON or the summary."""
        if self.progress is not None:
            self.progress.close()
        if self.kind == "fit":
            self._finish_fit(result)
            return
        if self.trace is not None:
            self.trace.close(result)
        elif self.options.trace is not None:
            self._write_batch_trace(result)
        if self.options.json:
            from ..io.jsonio import emit

            emit(result, self.env)
        elif self.table is not None and not (self.options.quiet and self.options.trace == "-"):
            self.table.finish(result)

    def _finish_fit(self, result: Any) -> None:
        doc = result.to_dict(cli=True)
        if self.trace is not None:
            self.trace.close(doc)
        if self.options.json:
            from ..io.jsonio import emit

            emit(doc, self.env)
        elif self.options.trace != "-":  # stdout holds the trace: a report would break its JSON Lines
            from ..present.console import console
            from ..present.render_fit import fit_view

            console(self.env, soft_wrap=False).print(fit_view(result))

    def _write_batch_trace(self, result: OptimizeResult) -> None:
        from ..io.trace import TraceWriter

        run = self.run
        target = self._batch_file
        header = _Header(run.objective, result.settings, result.x0, result.seed)
        writer = TraceWriter(target.stream if target is not None else "-", header, self.options.format, cli=True,
                             rows=True, env=self.env)
        swept = bool(run.swept)
        for row, step in run.replay(run.trace_rows(self.trace_rows)):
            writer.write(step, row, run.combo_values(row) if swept else None)
        writer.close(result, row=run.best_row)
        if target is not None:
            target.close()

    def abandon(self) -> None:
        """Close what is open after a failure (a closed pipe, an error)."""
        if self.progress is not None:
            self.progress.close()
        if self.trace is not None:
            self.trace.abandon()
        if self._batch_file is not None:
            self._batch_file.release()


def _combine(callbacks: list[Callable[[Any], None]]) -> Callable[[Any], None] | None:
    # The engine calls this once per iteration: no loop when there is one sink.
    if not callbacks:
        return None
    if len(callbacks) == 1:
        return callbacks[0]
    sinks = tuple(callbacks)

    def all_of(step: Any) -> None:
        for sink in sinks:
            sink(step)

    return all_of


@dataclass(frozen=True)
class _Header:
    """What a trace header needs, for a batch whose settings are known only at its end."""

    objective: Any
    settings: dict
    x0: dict
    seed: int | None

    def settings_dict(self) -> dict:
        return self.settings
