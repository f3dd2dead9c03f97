"""The fit report on screen: parameters with standard errors, the correlations, the goodness of fit.

Laid out as gnuplot's ``fit`` and lmfit's ``fit_report`` are, so it reads
familiarly: one row per parameter (value, standard error, its percentage of
the value, t-value, p-value), the 95% confidence intervals, the correlation matrix with entries above
:data:`HIGHLIGHT` in absolute value in bold, then n, degrees of freedom,
RSS, residual standard deviation, reduced chi-square, R^2, AIC and BIC. A fit
with a family reads as R's ``summary(glm)``: z-values where the dispersion is
fixed, then the family, its dispersion, the deviance and null deviance with
their degrees of freedom, Pearson's chi-square, the log-likelihood, AIC and BIC.
"""

from __future__ import annotations

from typing import Any

from rich.console import Group
from rich.panel import Panel
from rich.table import Table

from ..api.fitresult import CONF_LEVEL, FitResult

#: Correlations above this (absolute) are highlighted, as lmfit's report does.
HIGHLIGHT = 0.1


#: Significant digits of the report's values. A fit's last bits differ between CPUs (vector width, thread
#: count), and its answer is only as exact as its stopping rule: 8 digits are the ones that hold everywhere
#: (NIST's certified values agree with every one of them on Misra1a). ``--json`` carries all 17.
DIGITS = 8


def _num(v: float | None, digits: int = DIGITS) -> str:
    return "n/a" if v is None else f"{v:.{digits}g}"


def _intervals(result: FitResult) -> Table:
    """Each parameter's confidence interval, as R's ``confint`` prints it (its own table: the parameter
    table stays within 80 columns)."""
    lo, hi = (f"{100 * q:g}%" for q in ((1 - CONF_LEVEL) / 2, (1 + CONF_LEVEL) / 2))  # R's headers
    dist = "t" if result.test == "t" else "normal"
    table = Table(title=f"{100 * CONF_LEVEL:g}% confidence intervals ({dist})", title_justify="left", show_edge=False)
    for col in ("name", lo, hi):
        table.add_column(col, justify="left" if col == "name" else "right")
    for name, interval in result.conf_int.items():
        table.add_row(name, *(("n/a", "n/a") if interval is None else (_num(interval[0]), _num(interval[1]))))
    return table


def _likelihood_rows(result: FitResult) -> list[tuple[str, str]]:
    """A family's goodness of fit, as R's ``summary(glm)`` gives it."""
    how = "fixed" if result.dispersion_fixed else "estimated"
    return [
        ("family", str(result.family)), ("dispersion", f"{_num(result.dispersion)} ({how})"),
        ("n (data rows)", str(result.n)),
        ("deviance", f"{_num(result.deviance)} on {result.dof} degrees of freedom"),
        ("null deviance", f"{_num(result.null_deviance)} on {result.df_null} degrees of freedom"),
        ("Pearson chi-square", _num(result.pearson_chi2)), ("log-likelihood", _num(result.loglik)),
        ("AIC", _num(result.aic)), ("BIC", _num(result.bic)),
    ]


def fit_view(result: FitResult, *, cli: bool = True) -> Any:
    """A rich renderable of the whole report."""
    colour = "green" if result.success else ("yellow" if result.status.value != "diverged" else "red")
    params = Table(title="Parameters", title_justify="left", show_edge=False)
    for col in ("name", "value", "std error", "error %", f"{result.test}-value", "p-value"):
        params.add_column(col, justify="left" if col == "name" else "right")
    pct, t, p = result.stderr_percent, result.t_value, result.p_value
    for name, value in result.params.items():
        params.add_row(name, _num(value), _num(result.stderr[name], 6),
                       "n/a" if pct[name] is None else f"{pct[name]:.3g}%", _num(t[name], 4), _num(p[name], 3))
    parts: list[Any] = [params, _intervals(result)]
    if result.active_bounds:
        parts.append("active bounds: " + ", ".join(f"{k} at its {v} bound" for k, v in result.active_bounds.items()))
    if result.stderr_reason:
        parts.append(f"[yellow]standard errors: n/a: {result.stderr_reason}[/yellow]")
    corr = result.correlation
    if corr and len(corr) > 1:
        table = Table(title="Correlation", title_justify="left", show_edge=False)
        table.add_column("")
        names = list(corr)  # the free parameters: one held on a bound has no correlation
        for n in names:
            table.add_column(n, justify="right")
        for a in names:
            cells = []
            for b in names:
                v = corr[a][b]
                text = f"{v:+.3f}"
                cells.append(f"[bold]{text}[/bold]" if a != b and abs(v) > HIGHLIGHT else text)
            table.add_row(a, *cells)
        parts.append(table)
    stats = Table(title="Goodness of fit", title_justify="left", show_header=False, show_edge=False)
    stats.add_column(style="dim")
    stats.add_column(justify="right")
    rows = _likelihood_rows(result) if result.family is not None else [
        ("n (data rows)", str(result.n)), ("degrees of freedom", str(result.dof)),
        ("residual sum of squares", _num(result.rss)),
        ("residual standard deviation", _num(result.residual_std)),
        ("reduced chi-square", _num(result.reduced_chisq)),
        ("R^2", _num(result.r2)), ("AIC", _num(result.aic, 8)), ("BIC", _num(result.bic, 8)),
    ]
    if result.loss != "linear":
        rows.append((f"cost ({result.loss}, f_scale {result.f_scale:g})", _num(result.cost)))
    for row in rows:
        stats.add_row(*row)
    parts.append(stats)
    extra = f"{result.nit} steps, {result.method}"
    if result.starts > 1:
        extra += f", best of {result.starts} starts"
    if result.dropped:
        extra += f", {result.dropped} rows with missing values dropped"
    parts.append(f"[{colour}]{result.message_for(cli=cli)}[/{colour}] ({extra})")
    return Panel(Group(*parts), title=f"fit {result.model}", title_align="left", expand=False)
