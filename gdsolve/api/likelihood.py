"""``fit(..., family=...)``: the maximum-likelihood fit of a mean formula, reported as R's ``summary(glm)``.

The model's right side is the mean ``mu`` of the response (any formula: a
logistic ``1/(1+exp(-(b0 + b1*x)))``, a probit ``0.5*erfc(-(b0 + b1*x)/sqrt(2))``,
a log-linear ``exp(b0 + b1*x)``); the family (:mod:`gdsolve.optim.family`) gives
the likelihood, and :mod:`gdsolve.optim.scoring` maximizes it. The report is
``glm``'s and statsmodels' ``GLM``'s:

* standard errors from the expected (Fisher) information
  ``I = J^T diag(1/V(mu)) J / phi`` (``J = dmu/dtheta``), general for any mean
  formula and equal to ``glm``'s for a link and a linear predictor;
* the dispersion ``phi``: 1 for binomial and poisson, Pearson's chi-square over
  the residual degrees of freedom for gaussian and gamma;
* the deviance, the null deviance (that of the constant mean ``mean(y)``, the
  maximum-likelihood constant, weighted by the trials of a binomial proportion) on ``n - 1`` degrees of freedom, the
  log-likelihood (:mod:`gdsolve.optim.family` says at which dispersion), and
  statsmodels' ``aic = -2 loglik + 2 p`` and ``bic = -2 loglik + log(n) p`` (its
  ``bic_llf``; R's ``AIC`` and ``BIC`` count the dispersion of gaussian and
  gamma as one more parameter, and take gamma's at ``deviance / n``).

Example:
    >>> from gdsolve import fit
    >>> r = fit("y ~ exp(b0 + b1*x)", {"x": [0, 1, 2, 3], "y": [1, 2, 4, 9]}, family="poisson")
    >>> {k: round(v, 5) for k, v in r.params.items()}, r.status.value
    ({'b0': -0.06051, 'b1': 0.74776}, 'converged')
    >>> round(r.stderr["b1"], 5), round(r.deviance, 5), r.dispersion
    (0.27669, 0.01518, 1.0)
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

import torch

from ..core.errors import OptionError, render, shown
from ..core.settings import FAMILY_NAMES
from ..core.status import StopRule, stop_message
from ..formula.data import DataError
from ..formula.model import FitModel
from ..optim import scoring
from ..optim.family import FAMILIES, Family
from .fitresult import FitResult, statistics

_RULE = {scoring.FTOL: StopRule.FTOL, scoring.XTOL: StopRule.XTOL, scoring.MAX_ITER: StopRule.MAX_ITER,
         scoring.NONFINITE: StopRule.NONFINITE, scoring.TIME_LIMIT: StopRule.TIME_LIMIT,
         scoring.INTERRUPTED: StopRule.INTERRUPTED}


#: The method a likelihood fit reports (``method`` in its JSON).
METHOD = "fisher-scoring"


@dataclass(frozen=True)
class Likelihood:
    """What a fit with a family adds to its report (see the module docstring for the definitions).

    Attributes:
        family: its name; ``dispersion``: phi (1 where fixed); ``dispersion_fixed``: not estimated.
        deviance, null_deviance: at the answer and at the constant mean; ``df_null``: ``n - 1``.
        loglik: the log-likelihood; ``pearson_chi2``: ``sum((y - mu)**2 / V(mu))`` (times the trials).
        trials: a binomial fit's column of trials per row, or ``None`` (one trial each).
    """

    family: str
    dispersion: float
    dispersion_fixed: bool
    deviance: float
    null_deviance: float | None
    df_null: int
    loglik: float | None
    pearson_chi2: float
    trials: str | None = None


def family_of(name: str) -> Family:
    """The family called ``name``, or an error that lists them."""
    if not isinstance(name, str) or name not in FAMILIES:
        raise OptionError(f"{{family}} {shown(name)} is unknown; choose one of {', '.join(FAMILY_NAMES)}")
    return FAMILIES[name]


def check_family_options(name: str, *, method: str, loss: str, sigma: str | None, absolute_sigma: bool,
                         bounds: Mapping[str, Any], gtol: float | None, f_scale: float | None,
                         trials: str | None = None) -> Family:
    """The family, after refusing the least-squares options a likelihood fit does not take."""
    family = family_of(name)
    if trials is not None and family.name != "binomial":
        raise OptionError(f"{{trials}} is the number of trials of a binomial proportion; with {{family}} {name}, "
                          "leave it out")
    why = {
        "method": method != "lm" and "a likelihood fit runs Fisher scoring (its own method); leave {method} out",
        "loss": loss != "linear" and "the family is the loss; leave {loss} out",
        "f_scale": f_scale is not None and "{f_scale} belongs to a robust loss; leave it out",
        "sigma": sigma is not None and "the family's variance comes from the mean (V(mu)); leave {sigma} out",
        "absolute_sigma": absolute_sigma and "the family fixes or estimates the dispersion; leave {absolute_sigma} out",
        "bounds": bool(bounds) and "Fisher scoring does not take {bounds}; write the mean so that every value "
                                   "is allowed (exp(...) for a positive one)",
        "gtol": gtol is not None and "Fisher scoring stops by {xtol} and {ftol}; leave {gtol} out",
    }
    for reason in why.values():
        if reason:
            raise OptionError(f"with {{family}} {name}: {reason}")
    return family


def trials_of(fm: FitModel, trials: str | None) -> torch.Tensor | None:
    """The ``trials`` column ``(n,)``, refused unless every value is a positive number."""
    if trials is None:
        return None
    values = fm.table.require(trials, "--trials")
    bad = next((i for i, v in enumerate(values) if not (v > 0 and math.isfinite(v))), None)
    if bad is not None:
        raise DataError(f"{fm.table.source}: trials column {shown(trials)} is {values[bad]:g} at data row {bad + 1}; "
                        "every row needs a positive number of trials: correct or drop that row")
    return fm.table.tensor(trials)


def check_response(fm: FitModel, family: Family, y: torch.Tensor) -> None:
    """Refuse a response outside the family's range, naming the row and the fix."""
    bad = family.bad_response(y)
    if bad is not None:
        what = (f"column {shown(fm.response_text)}" if fm.response_text in fm.table.names
                else f"response {shown(fm.response_text)}")
        raise DataError(f"{fm.table.source}: {what} is {float(y[bad]):g} at data row {bad + 1}; a {family.name} "
                        f"response must be {family.response_rule}: correct or drop that row, or choose another "
                        "family")


def default_starts(fm: FitModel, family: Family, where: str) -> dict[str, float]:
    """The start when none is given: 0 for every parameter (a logistic mean of 1/2, a log-linear mean of 1),
    else 1 (curve_fit's) where the mean is outside the family's range at 0 (an inverse link)."""
    mean = fm.predictor(torch.float64, where)
    p = len(fm.parameters)
    for value in (0.0, 1.0):
        mu = mean(torch.full((1, p), value, dtype=torch.float64, device=where))[0]
        if family.bad_mean(mu) is None:
            return dict.fromkeys(fm.parameters, value)
    return dict.fromkeys(fm.parameters, 0.0)


def fit_family(fm: FitModel, family: Family, P0: torch.Tensor, *, max_iter: int, ftol: float, xtol: float,
               time_limit: float | None, callback: Callable[[Any], None] | None,
               where: str, trials: torch.Tensor | None = None) -> tuple[scoring.ScoringResult, int]:
    """Run Fisher scoring from every start in ``P0 (B, p)``; the run with the lowest deviance and its row."""
    mean = fm.predictor(torch.float64, where)
    y = fm.observed(torch.float64, where)
    best: scoring.ScoringResult | None = None
    row = 0
    for b in range(P0.shape[0]):
        run = scoring.solve(mean, y, family, P0[b], max_iter=max_iter, ftol=ftol, xtol=xtol, time_limit=time_limit,
                            callback=callback, weights=None if trials is None else trials.to(where))
        if best is None or (math.isfinite(run.deviance) and not run.deviance >= best.deviance):
            best, row = run, b
        if run.rule == scoring.INTERRUPTED:
            break
    assert best is not None
    return best, row


def message(run: scoring.ScoringResult, family: Family, names: tuple[str, ...], ftol: float, xtol: float,
            time_limit: float | None) -> tuple[StopRule, str]:
    """The stop rule and its message (a template, see :mod:`gdsolve.core.errors`)."""
    rule = _RULE[run.rule]
    point = ", ".join(f"{k}={v:.6g}" for k, v in zip(names, run.P.tolist()))
    if rule is StopRule.NONFINITE:
        if run.bad_row is not None:
            mu = float(run.mu[run.bad_row])
            detail = (f"the mean of data row {run.bad_row + 1} is {mu:.6g} at {point}, but a {family.name} mean must "
                      f"be {family.mean_rule}; start where it is ([[--p0||p0=]]), or write the mean so it stays there")
        else:
            detail = f"the mean or its Jacobian is not finite at {point}; start elsewhere ([[--p0||p0=]])"
        return rule, stop_message(rule, detail=detail)
    if rule is StopRule.INTERRUPTED:
        return rule, f"interrupted after {run.nit} steps; params are the last point reached (the lowest deviance)"
    if rule is StopRule.XTOL and run.value == 0.0:
        return rule, (f"converged: no fraction of the Fisher-scoring step lowers the deviance after {run.nit} "
                      "steps (a minimum to rounding)")
    tol = {StopRule.FTOL: ftol, StopRule.XTOL: xtol, StopRule.TIME_LIMIT: time_limit or 0.0}.get(rule, math.nan)
    text = stop_message(rule, value=run.value, tol=tol, nit=run.nit,
                        detail="no stopping rule held yet" if rule is StopRule.MAX_ITER else "")
    return rule, text.replace("relative change in f", "relative change in the deviance")


def report(fm: FitModel, family: Family, run: scoring.ScoringResult, rule: StopRule, template: str,
           p0: dict[str, float], starts: int, settings: dict[str, Any], elapsed: float,
           trials: str | None = None) -> FitResult:
    """The result record: ``glm``'s statistics at the run's end (``trials``: the binomial's column, if any)."""
    names = fm.parameters
    P, mu, J = run.P.cpu(), run.mu.detach().cpu(), run.J.detach().cpu()
    y = fm.observed(torch.float64, "cpu")
    n, p = J.shape
    w = torch.ones_like(y) if trials is None else fm.table.tensor(trials)
    s = (family.variance(mu) / w).sqrt()
    pearson = (y - mu) / s
    stats = statistics(names, pearson, J / s.unsqueeze(-1), y, None, absolute_sigma=family.fixed_dispersion)
    pearson_chi2 = float((pearson**2).sum())
    dof = n - p
    dispersion = 1.0 if family.fixed_dispersion else (pearson_chi2 / dof if dof > 0 else math.nan)
    finite = math.isfinite(run.deviance) and math.isfinite(dispersion)
    loglik = family.loglik(y, mu, dispersion, w) if finite else math.nan
    ybar = (w * y).sum() / w.sum()  # the maximum-likelihood constant mean
    null = float((w * family.deviance(y, ybar.expand(n))).sum())
    aic, bic = -2 * loglik + 2 * p, -2 * loglik + math.log(n) * p
    resid = y - mu
    stats = replace(stats, rss=float((resid**2).sum()), residual_std=None, reduced_chisq=None, r2=None,
                    aic=aic if math.isfinite(aic) else None, bic=bic if math.isfinite(bic) else None)
    lik = Likelihood(family=family.name, dispersion=dispersion, dispersion_fixed=family.fixed_dispersion,
                     deviance=run.deviance, null_deviance=null if math.isfinite(null) else None, df_null=n - 1,
                     loglik=loglik if math.isfinite(loglik) else None, pearson_chi2=pearson_chi2, trials=trials)
    return FitResult(
        params=dict(zip(names, P.tolist())), stats=stats, status=rule.status, stop_rule=rule,
        message=render(template, cli=False), nit=run.nit, nfev=run.nfev, p0=p0, starts=starts, model=fm.text,
        response=fm.response_text, parameters=names, columns=fm.columns, method=settings["method"], loss="linear",
        f_scale=settings["f_scale"], absolute_sigma=False, sigma=None, cost=run.deviance / 2, elapsed=elapsed,
        source=fm.table.source, dropped=fm.table.dropped, fitted=tuple(mu.tolist()), residuals=tuple(resid.tolist()),
        message_template=template, settings=settings, table=fm.table, likelihood=lik,
    )

