"""The fit report on screen: parameters with standard errors, the correlations, the goodness of fit.

Laid out as gnuplot's ``fit`` and lmfit's ``fit_report`` are, so it reads
familiarly: one row per parameter (value, standard error, its percentage of
the value, t-value, p-value), the 95% confidence intervals, the correlations
(:func:`~gdsolve.present.correlation.correlation_view`: the matrix, or where it does not fit the
largest pairs), then n, degrees of freedom, RSS, residual standard deviation, reduced chi-square,
R^2, AIC and BIC. A fit with a family reads as R's ``summary(glm)``: z-values where the dispersion
is fixed, then the family, its dispersion, the deviance and null deviance with their degrees of
freedom, Pearson's chi-square, the log-likelihood, AIC and BIC. Each part fits the screen: columns
are dropped or rows stacked, never a number cut (:mod:`gdsolve.present.narrow`).
"""

from __future__ import annotations

from typing import Any

from rich.markup import escape

from ..api.fitresult import CONF_LEVEL, FitResult
from .correlation import correlation_view
from .narrow import fitted_table, titled_panel

#: Significant digits of the report's values. A fit's last bits differ between CPUs (vector width, thread
#: count), and its answer is only as exact as its stopping rule: 8 digits are the ones that hold everywhere
#: (NIST's certified values agree with every one of them on Misra1a). ``--json`` carries all 17.
DIGITS = 8


def _num(v: float | None, digits: int = DIGITS) -> str:
    return "n/a" if v is None else f"{v:.{digits}g}"


def fit_view(result: FitResult, *, cli: bool = True) -> Any:
    """A rich renderable of the whole report; it fits the width it is drawn at (:mod:`gdsolve.present.narrow`)."""
    colour = "green" if result.success else ("yellow" if result.status.value != "diverged" else "red")
    parts: list[Any] = [parameter_table(result), interval_table(result)]
    if result.active_bounds:
        parts.append("active bounds: " + ", ".join(f"{escape(k)} at its {v} bound"
                                                   for k, v in result.active_bounds.items()))
    if result.stderr_reason:
        parts.append(f"[yellow]standard errors: n/a: {escape(result.stderr_reason)}[/yellow]")  # w[age] is text
    corr = correlation_view(result.correlation)  # the free parameters: one held on a bound has no correlation
    if corr is not None:
        parts.append(corr)
    parts.append(goodness_table(result))
    extra = f"{result.nit} steps, {result.method}"
    if result.starts > 1:
        extra += f", best of {result.starts} starts"
    if result.dropped:
        extra += f", {result.dropped} rows with missing values dropped"
    parts.append(f"[{colour}]{result.message_for(cli=cli)}[/{colour}] ({extra})")
    return titled_panel(f"fit {result.model}", parts, short="fit")


def parameter_table(result: FitResult) -> Any:
    """One row per parameter: value, standard error, its percentage, t- (or z-) value, p-value (the last
    columns dropped, or the rows stacked, where the screen is narrow)."""
    pct, t, p = result.stderr_percent, result.t_value, result.p_value
    rows = [[name, _num(value), _num(result.stderr[name], 6), "n/a" if pct[name] is None else f"{pct[name]:.3g}%",
             _num(t[name], 4), _num(p[name], 3)] for name, value in result.params.items()]
    return fitted_table("Parameters", ["name", "value", "std error", "error %", f"{result.test}-value", "p-value"],
                        rows, keep=3)


def interval_table(result: FitResult) -> Any:
    """Each parameter's confidence interval, as R's ``confint`` prints it (its own table: the parameter
    table stays within 80 columns)."""
    lo, hi = (f"{100 * q:g}%" for q in ((1 - CONF_LEVEL) / 2, (1 + CONF_LEVEL) / 2))  # R's headers
    dist = "t" if result.test == "t" else "normal"
    rows = [[name, *(("n/a", "n/a") if interval is None else (_num(interval[0]), _num(interval[1])))]
            for name, interval in result.conf_int.items()]
    return fitted_table(f"{100 * CONF_LEVEL:g}% confidence intervals ({dist})", ["name", lo, hi], rows, keep=2)


def _likelihood_rows(result: FitResult) -> list[tuple[str, str]]:
    """A family's goodness of fit, as R's ``summary(glm)`` gives it."""
    how = "fixed" if result.dispersion_fixed else "estimated"
    return [
        ("family", str(result.family)), ("dispersion", f"{_num(result.dispersion)} ({how})"),
        ("n (data rows)", str(result.n)),
        # the degrees of freedom go with the label: the value column holds numbers only, so it never wraps
        (f"deviance ({result.dof} degrees of freedom)", _num(result.deviance)),
        (f"null deviance ({result.df_null} degrees of freedom)", _num(result.null_deviance)),
        ("Pearson chi-square", _num(result.pearson_chi2)), ("log-likelihood", _num(result.loglik)),
        ("AIC", _num(result.aic)), ("BIC", _num(result.bic)),
    ]


def goodness_table(result: FitResult) -> Any:
    """n, degrees of freedom, RSS, residual standard deviation, reduced chi-square, R^2, AIC, BIC (and the cost);
    with a family, its dispersion, deviances, Pearson's chi-square and log-likelihood instead."""
    rows = _likelihood_rows(result) if result.family is not None else [
        ("n (data rows)", str(result.n)), ("degrees of freedom", str(result.dof)),
        ("residual sum of squares", _num(result.rss)),
        ("residual standard deviation", _num(result.residual_std)),
        ("reduced chi-square", _num(result.reduced_chisq)),
        ("R^2", _num(result.r2)), ("AIC", _num(result.aic, 8)), ("BIC", _num(result.bic, 8)),
    ]
    if result.loss != "linear":
        rows.append((f"cost ({result.loss}, f_scale {result.f_scale:g})", _num(result.cost)))
    return fitted_table("Goodness of fit", ["statistic", "value"], [list(r) for r in rows],
                        styles=[["dim", ""]] * len(rows), header=False,
                        wrap_first=True)
