"""Terminal rendering of a batch (many starts, a sweep): the run as a whole.

A batch is too many rows to print row by row; the table shows, per printed
iteration, the best f over all rows and how many rows are running, have
stopped on a rule (converged or stalled: judged at the end), or diverged.
Rows are thinned as the single-run table's are (the first 10, a 1-2-5
ladder, every N-th, the last). The summary is the best row's panel, then a
panel of the batch: rows by status, the top minima, and a sweep's runs.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Console, Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from ..core.batchstep import BatchStep
from ..core.result import OptimizeResult
from ..core.status import CODE, StopRule
from .render import FIRST_ROWS, fmt, log_rows, nice_every, stderr_view, summary_panel

TOP_MINIMA = 5
_DIVERGED = (CODE[StopRule.NONFINITE], CODE[StopRule.BLOWUP])


class BatchTable:
    """A BatchStep callback that prints the batch's progress, then the summary."""

    def __init__(self, console: Console, *, rows: int, max_iter: int, every: int | None = None,
                 quiet: bool = False, cli: bool = False, hops: int = 0) -> None:
        self.console = console
        self.hops = hops
        self.rows = rows
        self.every = every or nice_every(max_iter)
        self.quiet = quiet
        self.cli = cli
        self._ladder = log_rows(max_iter)
        self._header_done = False
        self._last: BatchStep | None = None
        self._printed = -1
        w = max(4, len(str(max_iter)))
        n = max(7, len(f"{rows:,}"))
        self._widths = [w, 14, n, n, n]

    def _line(self, cells: Sequence[str], style: str = "") -> Text:
        return Text("  ".join(c.rjust(w) for c, w in zip(cells, self._widths)), style=style)

    def __call__(self, step: BatchStep) -> None:
        if self.quiet:
            return
        if step.hop and step.k == 0:  # basin hopping: a new descent of every chain begins
            self.console.print(Text(f"hop {step.hop}" if step.hop <= self.hops else "final descent", style="dim"))
        self._last = step
        if step.k < FIRST_ROWS or step.k % self.every == 0 or step.k in self._ladder:
            self.row(step)

    def row(self, step: BatchStep, style: str = "") -> None:
        if not self._header_done:
            self.console.print(self._line(["iter", "best f", "running", "stopped", "diverged"], "bold"))
            self.console.print(Text("─" * (sum(self._widths) + 2 * (len(self._widths) - 1)), style="dim"))
            self._header_done = True
        best = step.best_f()
        code = step.code
        diverged = int(((code == _DIVERGED[0]) | (code == _DIVERGED[1])).sum())
        stopped = self.rows - step.running - diverged
        self.console.print(self._line([str(step.k), fmt(None if best is None else step.f),
                                       f"{step.running:,}", f"{stopped:,}", f"{diverged:,}"], style))
        self._printed = step.k

    def finish(self, result: OptimizeResult) -> None:
        if not self.quiet and self._last is not None and (self._printed != self._last.k or self._last.hop):
            self.row(self._last, "bold")
        self.console.print(summary_panel(result, cli=self.cli))
        self.console.print(batch_panel(result))
        view = stderr_view(result)
        if view is not None:
            self.console.print(view)


def batch_panel(result: OptimizeResult) -> Panel:
    """Rows by status, the top distinct minima, and a sweep's runs."""
    parts = []
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column()
    counts = result.rows or {}
    total = sum(counts.values())
    grid.add_row("rows", f"{total:,} ({result.starts:,} start{'s' if result.starts != 1 else ''}"
                 + (f" x {len(result.runs)} settings" if result.runs else "") + f", on {result.device})")
    if result.compile_time is not None:
        grid.add_row("compile", f"{result.compile_time:.3g} s (torch.compile, before the run; not in its time)")
    grid.add_row("outcomes", ", ".join(f"{name} {n:,}" for name, n in counts.items() if n) or "none")
    if result.minima is not None:
        found = len(result.minima)
        grid.add_row("minima", f"{found} distinct" + (f" (best {TOP_MINIMA} shown; --json lists all)"
                                                      if found > TOP_MINIMA else ""))
        for m in result.minima[:TOP_MINIMA]:
            xs = ", ".join(f"{k} = {fmt(v, 8)}" for k, v in list(m.x.items())[:6])
            grid.add_row("", f"f = {fmt(m.fun, 10)}  at {xs}  ({m.count:,} start{'s' if m.count != 1 else ''})")
    parts.append(grid)
    if result.runs:
        table = Table(box=None, padding=(0, 2), show_edge=False)
        names = list(result.runs[0].values)
        for name in [*names, "status", "f", "iterations"]:
            table.add_column(name.replace("_", "-"), justify="right")
        for run in result.runs:
            r = run.result
            table.add_row(*[f"{run.values[n]:g}" for n in names], r.status.value, fmt(r.fun, 8), str(r.nit))
        parts.append(Text(""))
        parts.append(table)
    title = "sweep" if result.runs else "starts"
    return Panel(Group(*parts), title=title, title_align="left", expand=False)
