"""Terminal rendering: the live table of steps and the summary panel.

The view of a single run (a batch's is :mod:`gdsolve.present.render_batch`, a
fit's :mod:`gdsolve.present.render_fit`, grad's and explain's
:mod:`gdsolve.present.render_grad`). :class:`TableRenderer` is a step callback
that :func:`gdsolve.api.solve.run` hands each :class:`~gdsolve.core.result.Step`
record (the CLI wires it in, :mod:`gdsolve.cli.outputs`); it prints a bounded number of them
(the first steps, a 1-2-5 ladder of iterations, evenly spaced rows, and the
last ones) and then a summary panel with the stop reason as measured value
against tolerance. At a terminal it never wraps a row: it drops columns.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence
from typing import Any

from rich.console import Console, Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from ..core.result import OptimizeResult, Step
from ..core.status import Status, StopRule, format_pair

FIRST_ROWS = 10
SPACED_ROWS = 40
TAIL_ROWS = 3
MAX_VAR_COLUMNS = 6
_STYLE = {
    Status.CONVERGED: "green",
    Status.STALLED: "yellow",
    Status.MAX_ITER: "yellow",
    Status.TIME_LIMIT: "yellow",
    Status.DIVERGED: "red",
    Status.INTERRUPTED: "magenta",
}


def nice_every(max_iter: int, rows: int = SPACED_ROWS) -> int:
    """The row spacing (1, 2, 5, 10, 20, 50, ...) that shows about ``rows`` rows over ``max_iter``.

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


def log_rows(limit: int) -> frozenset[int]:
    """Iterations on a 1-2-5 ladder up to ``limit``: the shape of a run of any length.

    >>> sorted(log_rows(600))
    [10, 20, 50, 100, 200, 500]
    """
    out, magnitude = set(), 10
    while magnitude <= limit:
        out.update(m * magnitude for m in (1, 2, 5) if m * magnitude <= limit)
        magnitude *= 10
    return frozenset(out)


def fmt(value: float | None, digits: int = 6) -> str:
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

    Which rows: the first 10; iterations 10, 20, 50, 100, 200, 500, ... (so a
    run that ends long before ``max_iter`` still shows its shape); every N-th
    (``every``, default: about 40 rows over ``max_iter``); then, at the end,
    the steps since the last row printed (up to ``TAIL_ROWS``) and the final point itself.

    Args:
        console: where to draw (a rich Console on stdout, usually).
        variables: variable names, for the column headers.
        max_iter: the iteration budget, to space the rows.
        every: print every N-th row after the first ones.
        quiet: print only the summary.
        extra: extra per-step columns: ``"lr"`` (scheduled rate), ``"t"`` (line-search step).
        cli: speak the command line's language in messages (``--lr``, not ``lr``).
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
        cli: bool = False,
    ) -> None:
        self.console = console
        self.variables = tuple(variables)
        self.every = every or nice_every(max_iter)
        self.quiet = quiet
        self.cli = cli
        self._ladder = log_rows(max_iter)
        self._tail: deque[Step] = deque(maxlen=TAIL_ROWS)
        self._header_done = False
        self._last_printed = -1
        self._layout(max(4, len(str(max_iter))), tuple(extra))

    def _layout(self, iter_width: int, extra: tuple[str, ...]) -> None:
        """Choose the columns: at a terminal, drop what does not fit rather than wrap."""
        n_vars = min(len(self.variables), MAX_VAR_COLUMNS)
        self.extra, gap = extra, 2
        if self.console.is_terminal:
            room = self.console.width

            def total(nv: int, ex: int, g: int) -> int:
                widths = [iter_width, *[13] * nv, 12, 9, 9, *[9] * ex]
                return sum(widths) + g * (len(widths) - 1)

            while n_vars > 0 and total(n_vars, len(self.extra), gap) > room:
                n_vars -= 1
            if n_vars == 0:
                iter_width = max(iter_width, 5)  # room for the "iter…" mark
            while self.extra and total(0, len(self.extra), gap) > room:
                self.extra = self.extra[:-1]
            if total(n_vars, len(self.extra), gap) > room:
                gap = 1
        self.gap = gap
        self.shown_vars = self.variables[:n_vars]
        self._widths = [iter_width, *[13] * n_vars, 12, 9, 9, *[9] * len(self.extra)]

    def _line(self, cells: Sequence[str], style: str = "") -> Text:
        parts = [c.rjust(w) for c, w in zip(cells, self._widths)]
        return Text((" " * self.gap).join(parts), style=style)

    def header(self) -> None:
        names = list(self.shown_vars)
        first = "iter"
        if len(self.variables) > len(self.shown_vars):  # say that columns were left out
            if names:
                names[-1] = names[-1] + "…"
            else:
                first = "iter…"
        cells = [first, *names, "f", "‖grad‖", "step", *self.extra]
        self.console.print(self._line(cells, "bold"))
        self.console.print(Text("─" * (sum(self._widths) + self.gap * (len(self._widths) - 1)), style="dim"))
        self._header_done = True

    def wants(self, k: int) -> bool:
        """Whether row ``k`` is printed as it comes."""
        return k < FIRST_ROWS or k % self.every == 0 or k in self._ladder

    def __call__(self, step: Step) -> None:
        if self.quiet:
            return
        if self.wants(step.k):
            self._tail.clear()
            self.row(step)
        else:
            self._tail.append(step)

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
        """Print the last steps and the final point as the table's last rows, then the summary panel."""
        if not self.quiet:
            for step in self._tail:
                self.row(step)
            self._tail.clear()
            if self._last_printed != result.nit:
                final = Step(result.nit, tuple(result.x.values()), result.fun, tuple(result.grad.values()),
                             result.grad_norm, math.nan, math.nan, result.elapsed)
                self.row(final, "bold")
        self.console.print(summary_panel(result, cli=self.cli))
        view = stderr_view(result)
        if view is not None:
            self.console.print(view)


def summary_panel(result: OptimizeResult, *, cli: bool = False) -> Panel:
    """The end-of-run summary: the point, f, gradient, iterations, why it stopped, the checks, time.

    The first rows are labelled by the outcome: "solution" and "f (minimum)"
    only for a converged run; otherwise "last point" and "f".
    """
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column()
    xs = list(result.x.items())
    shown = ", ".join(f"{k} = {fmt(v, 10)}" for k, v in xs[:20])
    if len(xs) > 20:
        shown += f", … ({len(xs) - 20} more; use --json for all)"
    if result.status is Status.CONVERGED:
        point, value = "solution", f"f ({'maximum' if result.sense == 'maximize' else 'minimum'})"
    else:
        point, value = "last point", "f"
    grid.add_row(point, shown)
    grid.add_row(value, fmt(result.fun, 10))
    grid.add_row("‖grad‖", fmt(result.grad_norm, 3))
    grid.add_row("iterations", f"{result.nit}  (f evaluations {result.nfev}, gradients {result.ngev})")
    grid.add_row("stopped", Text(result.message_for(cli=cli), style=_STYLE[result.status]))
    for i, check in enumerate(result.checks):
        if check.rule is StopRule.MAX_ITER:
            value_s, tol = f"{check.value:.0f}", f"{check.tol:.0f}"
        elif math.isnan(check.value):
            value_s, tol = "not measured (no step was made)", f"{check.tol:g}"
        else:
            value_s, tol = format_pair(check.value, check.tol)
        mark = "met" if check.met else "not met"
        grid.add_row("rules" if i == 0 else "", Text(f"{check.rule.value}: {value_s} vs {tol}  ({mark})", style="dim"))
    st = result.stationarity
    if st is not None and st.get("checked"):
        rel, tol = format_pair(st["relative_distance"], st["tol"])
        mark = "met" if st["stationary"] else "not met"
        grid.add_row("stationary", Text(f"distance {rel} of {st['variable']}'s travel vs {tol}  ({mark})",
                                        style="dim"))
    best = result.best
    if best is not None and (result.status is Status.INTERRUPTED or (best.k != result.nit and not _same(best.fun, result.fun))):
        bx = ", ".join(f"{k} = {fmt(v, 8)}" for k, v in list(best.x.items())[:6])
        grid.add_row("best seen", f"f = {fmt(best.fun, 10)} at iteration {best.k} ({bx})")
    if result.active_bounds:
        grid.add_row("active bounds", ", ".join(f"{k} at its {v} bound" for k, v in result.active_bounds.items()))
    if result.verify is not None:
        from ..api.verify import summary

        found = result.verify["status"] == "found"
        style = "green" if found and result.verify["nearest"]["sought"] else ("yellow" if found else "dim")
        grid.add_row("verify", Text(summary(result.verify, result.variables), style=style))
    grid.add_row("method", _method_line(result.settings))
    if result.scaling:
        grid.add_row("scaling", scaling_line(result.scaling))
    grid.add_row("time", f"{result.elapsed:.3g} s")
    title = f"gdsolve {result.sense}: {result.status.value}"
    return Panel(grid, title=title, title_align="left", border_style=_STYLE[result.status], expand=False)


def _method_line(settings: dict) -> str:
    keys = ("momentum", "beta1", "beta2", "weight_decay", "alpha", "history_size")
    opts = ", ".join(f"{k.replace('_', '-')} {settings[k]:g}" for k in keys if k in settings)
    line = f"{settings.get('method', 'gd')}, lr {settings.get('lr'):g}" + (f", {opts}" if opts else "")
    if settings.get("line_search", "none") != "none":
        line += f", line search {settings['line_search'].replace('_', ' ')}"
    if settings.get("schedule", "constant") != "constant":
        params = ", ".join(f"{k} {v:g}" for k, v in (settings.get("schedule_params") or {}).items())
        line += f", {settings['schedule']} schedule ({params})"
    return line


def scaling_line(scaling: dict, most: int = 6) -> str:
    """The change of variables a run made, for the summary: each variable over its factor (``x = factor * z``).

    >>> print(scaling_line({"kind": "hessian-diagonal", "factors": {"b0": 0.125, "b1": 2.0 ** -17}}))
    iterated in b0/0.125, b1/7.63e-06 (the Hessian's diagonal at the start)
    """
    factors = scaling["factors"]
    parts = [f"{name}/{d:.3g}" for name, d in list(factors.items())[:most]]
    more = len(factors) - most
    if more > 0:
        parts.append(f"... ({more} more in --json)")
    return f"iterated in {', '.join(parts)} (the Hessian's diagonal at the start)"


def _same(a: float, b: float) -> bool:
    return a == b or (math.isnan(a) and math.isnan(b))


#: The most rows the standard-error table shows (a shaped variable can have thousands); --json has all.
STDERR_ROWS = 40


def p_text(p: float | None) -> str:
    """A p-value as a report shows it: 3 significant digits, and below float64's range ``<1e-300``.

    >>> p_text(0.0412), p_text(0.0), p_text(None)
    ('0.0412', '<1e-300', '-')
    """
    if p is None:
        return "-"
    return "<1e-300" if p < 1e-300 else f"{p:.3g}"


def stderr_view(result: OptimizeResult) -> Group | None:
    """``--stderr``'s report (``None`` without it): estimate, standard error, z, p and the 95% interval per
    variable, why any is missing, and the correlations (:func:`~gdsolve.present.correlation.correlation_view`);
    each part fits the screen (:mod:`gdsolve.present.narrow`)."""
    if result.stderr is None:
        return None
    from .correlation import correlation_view
    from .narrow import fitted_table

    rows = []
    for name, value in list(result.x.items())[:STDERR_ROWS]:
        ci = (result.conf_int or {}).get(name)
        rows.append([name, fmt(value, 8), fmt(result.stderr.get(name), 6), fmt((result.z_value or {}).get(name), 4),
                     p_text((result.p_value or {}).get(name)), "-" if ci is None else fmt(ci[0], 6),
                     "-" if ci is None else fmt(ci[1], 6)])
    parts: list[Any] = []
    if any(v is not None for v in result.stderr.values()):  # all refused: the reason alone says it
        parts.append(fitted_table("Standard errors", ["name", "estimate", "std error", "z", "P>|z|", "[0.025",
                                                      "0.975]"], rows, keep=3))
    if parts and len(result.x) > STDERR_ROWS:
        parts.append(Text(f"… {len(result.x) - STDERR_ROWS} more variables; --json has all", style="dim"))
    if result.stderr_reason:
        parts.append(Text(f"standard errors: n/a: {result.stderr_reason}", style="yellow"))
    corr = correlation_view(result.correlation)
    if corr is not None:
        parts.append(corr)
    of = "the inverse of -Hessian of f (valid when f is a log-likelihood)" if result.sense == "maximize" else \
        "the inverse Hessian of f (valid when f is a negative log-likelihood)"
    parts.append(Text(f"covariance: {of}; z and p from the normal", style="dim"))
    return Group(*parts)
