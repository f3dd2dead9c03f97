"""Terminal rendering: the live table of steps and the summary panel.

This is the only module that draws for people. The solver hands it
:class:`~gdsolve.result.Step` records; it prints a bounded number of them
(about 50 rows whatever the run length: the first steps, evenly spaced rows,
and the last) and then a summary panel with the stop reason as measured
value against tolerance.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from rich.console import Console
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from .result import OptimizeResult, Step
from .status import Status, StopRule, format_pair

FIRST_ROWS = 10
SPACED_ROWS = 40
MAX_VAR_COLUMNS = 6
_STYLE = {
    Status.CONVERGED: "green",
    Status.MAX_ITER: "yellow",
    Status.TIME_LIMIT: "yellow",
    Status.DIVERGED: "red",
    Status.INTERRUPTED: "magenta",
}


def nice_every(max_iter: int, rows: int = SPACED_ROWS) -> int:
    """The row spacing (1, 2, 5, 10, 20, 50, ...) that shows about ``rows`` rows.

    >>> nice_every(100), nice_every(20000), nice_every(30)
    (5, 500, 1)
    """
    raw = max(1.0, (max_iter - FIRST_ROWS) / rows)
    if raw <= 1:
        return 1
    magnitude = 10 ** math.floor(math.log10(raw))
    for m in (1, 2, 5, 10):
        if m * magnitude >= raw:
            return int(m * magnitude)
    return int(10 * magnitude)  # pragma: no cover - the loop always returns


def fmt(value: float, digits: int = 6) -> str:
    """Compact number formatting; non-finite values print as inf/nan."""
    if value is None:
        return "-"
    if math.isnan(value):
        return "nan"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return f"{value:.{digits}g}"


class TableRenderer:
    """Prints steps as rows while the run goes, then the summary.

    Args:
        console: where to draw (a rich Console on stdout, usually).
        variables: variable names, for the column headers.
        max_iter: the iteration budget, to space the rows.
        every: print every N-th row after the first ones (default: chosen
            so that about 50 rows print in all).
        quiet: print only the summary.
    """

    def __init__(
        self,
        console: Console,
        variables: Sequence[str],
        *,
        max_iter: int,
        every: int | None = None,
        quiet: bool = False,
        extra: Sequence[str] = (),
    ) -> None:
        self.console = console
        self.variables = tuple(variables)
        self.every = every or nice_every(max_iter)
        self.quiet = quiet
        self.extra = tuple(extra)  # extra per-step columns: "lr" (scheduled rate), "t" (line-search step)
        self._header_done = False
        self._last_printed = -1
        fixed = [7, 13, 11, 10] + [10] * len(self.extra)
        n_vars = min(len(self.variables), MAX_VAR_COLUMNS)
        if console.is_terminal:  # fit the terminal: drop variable columns before wrapping
            room = console.width - sum(fixed) - 2 * len(fixed)
            n_vars = max(1, min(n_vars, room // 15))
        self.shown_vars = self.variables[:n_vars]
        self._widths = [7] + [13] * n_vars + fixed[1:]

    def _line(self, cells: Sequence[str], style: str = "") -> Text:
        parts = [c.rjust(w) for c, w in zip(cells, self._widths)]
        return Text("  ".join(parts), style=style)

    def header(self) -> None:
        names = list(self.shown_vars)
        if len(self.variables) > len(self.shown_vars):
            names[-1] = names[-1] + "…"
        cells = ["iter", *names, "f", "‖grad‖", "step", *self.extra]
        self.console.print(self._line(cells, "bold"))
        self.console.print(Text("─" * (sum(self._widths) + 2 * (len(self._widths) - 1)), style="dim"))
        self._header_done = True

    def wants(self, k: int) -> bool:
        """Whether row ``k`` is one of the displayed rows."""
        return k < FIRST_ROWS or k % self.every == 0

    def __call__(self, step: Step) -> None:
        if self.quiet or not self.wants(step.k):
            return
        self.row(step)

    def row(self, step: Step, style: str = "") -> None:
        if not self._header_done:
            self.header()
        cells = [str(step.k), *(fmt(v, 8) for v in step.x[: len(self.shown_vars)]),
                 fmt(step.f), fmt(step.grad_norm, 3),
                 "—" if math.isnan(step.step_norm) else fmt(step.step_norm, 3)]
        for name in self.extra:
            value = step.lr if name == "lr" else step.step_length
            cells.append("—" if value is None or math.isnan(value) else fmt(value, 3))
        self.console.print(self._line(cells, style))
        self._last_printed = step.k

    def finish(self, result: OptimizeResult) -> None:
        """Print the final point as the table's last row, then the summary panel."""
        if not self.quiet and self._last_printed != result.nit:
            final = Step(result.nit, tuple(result.x.values()), result.fun, tuple(result.grad.values()),
                         result.grad_norm, math.nan, math.nan, result.elapsed)
            self.row(final, "bold")
        self.console.print(summary_panel(result))


def summary_panel(result: OptimizeResult) -> Panel:
    """The end-of-run summary: solution, f, gradient, iterations, why it stopped, time."""
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column()
    xs = list(result.x.items())
    shown = ", ".join(f"{k} = {fmt(v, 10)}" for k, v in xs[:20])
    if len(xs) > 20:
        shown += f", … ({len(xs) - 20} more; use --json for all)"
    label = "maximum" if result.sense == "maximize" else "minimum"
    grid.add_row("solution", shown)
    grid.add_row(f"f ({label})", fmt(result.fun, 10))
    grid.add_row("‖grad‖", fmt(result.grad_norm, 3))
    grid.add_row("iterations", f"{result.nit}  (f evaluations {result.nfev}, gradients {result.ngev})")
    grid.add_row("stopped", Text(result.message, style=_STYLE[result.status]))
    for i, check in enumerate(result.checks):
        if check.rule is StopRule.MAX_ITER:
            value, tol = f"{check.value:.0f}", f"{check.tol:.0f}"
        else:
            value, tol = format_pair(check.value, check.tol)
        mark = "met" if check.met else "not met"
        grid.add_row("rules" if i == 0 else "", Text(f"{check.rule.value}: {value} vs {tol}  ({mark})", style="dim"))
    if result.best.k != result.nit and not _same(result.best.fun, result.fun):
        bx = ", ".join(f"{k} = {fmt(v, 8)}" for k, v in list(result.best.x.items())[:6])
        grid.add_row("best seen", f"f = {fmt(result.best.fun, 10)} at iteration {result.best.k} ({bx})")
    if result.active_bounds:
        grid.add_row("active bounds", ", ".join(f"{k} at its {v} bound" for k, v in result.active_bounds.items()))
    grid.add_row("method", _method_line(result.settings))
    grid.add_row("time", f"{result.elapsed:.3g} s")
    title = f"gdsolve {result.sense}: {result.status.value}"
    return Panel(grid, title=title, title_align="left", border_style=_STYLE[result.status], expand=False)


def _method_line(settings: dict) -> str:
    keys = ("momentum", "beta1", "beta2", "weight_decay", "alpha", "history_size")
    opts = ", ".join(f"{k} {settings[k]:g}" for k in keys if k in settings)
    line = f"{settings.get('method', 'gd')}, lr {settings.get('lr'):g}" + (f", {opts}" if opts else "")
    if settings.get("line_search", "none") != "none":
        line += f", line search {settings['line_search']}"
    if settings.get("schedule", "constant") != "constant":
        params = ", ".join(f"{k} {v:g}" for k, v in (settings.get("schedule_params") or {}).items())
        line += f", {settings['schedule']} schedule ({params})"
    return line


def _same(a: float, b: float) -> bool:
    return a == b or (math.isnan(a) and math.isnan(b))
