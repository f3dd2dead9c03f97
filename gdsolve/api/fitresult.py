"""What a fit reports, and the statistics behind it: standard errors, correlations, R^2, AIC, BIC.

The numbers are those gnuplot's ``fit``, lmfit's ``fit_report`` and scipy's
``curve_fit`` give, with the same definitions:

* ``rss``: the sum of squared (weighted) residuals, ``sum(((y - f)/sigma)**2)``;
  ``dof = n - p``; ``reduced_chisq = rss / dof``; ``residual_std = sqrt(reduced_chisq)``.
* the covariance is ``(J^T J)^-1`` from the Jacobian of the residuals at the
  answer, times ``reduced_chisq`` unless ``absolute_sigma`` (the sigmas are then
  taken as true errors, as in ``curve_fit(absolute_sigma=True)``); ``stderr``
  is the square root of its diagonal, ``correlation`` its normalised form.
* ``r2 = 1 - rss / tss`` with ``tss`` the (weighted) sum of squares about the
  (weighted) mean of the response.
* ``aic = n*log(rss/n) + 2*p`` and ``bic = n*log(rss/n) + log(n)*p`` (lmfit's).

A Jacobian whose smallest singular value is below ``max(n, p) * eps`` times
its largest is singular: the parameters are not determined separately, and
the standard errors are ``None`` with the reason, never an infinity.
"""

from __future__ import annotations

import csv
import math
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import torch

from ..core.errors import OptionError, render
from ..core.status import Status, StopRule
from ..core.streams import open_output
from ..formula.data import Table
from .spectrum import covariance_from_spectrum


@dataclass(frozen=True)
class Statistics:
    """The fit's statistics at the answer (see the module docstring for the definitions)."""

    n: int
    dof: int
    rss: float
    residual_std: float | None
    reduced_chisq: float | None
    r2: float | None
    aic: float | None
    bic: float | None
    stderr: dict[str, float | None]
    correlation: dict[str, dict[str, float]] | None
    stderr_reason: str | None = None


def _finite_or_none(v: float) -> float | None:
    return v if math.isfinite(v) else None


def statistics(names: tuple[str, ...], r: torch.Tensor, J: torch.Tensor, y: torch.Tensor,
               w: torch.Tensor | None, *, absolute_sigma: bool = False,
               held: Mapping[str, str] | None = None) -> Statistics:
    """The statistics of one fit: residuals ``r (n,)`` (already divided by sigma), Jacobian ``J (n, p)``,
    response ``y (n,)``, sigmas ``w (n,)`` or ``None``; ``held``: parameters on a bound, ``{name: "lower"|"upper"}``.

    A parameter held on its bound has no standard error: the fit did not let it
    vary, so the curvature there does not measure its uncertainty; the others'
    covariance is that of the free parameters (the held ones taken as fixed).
    """
    r, J, y = r.double().cpu(), J.double().cpu(), y.double().cpu()
    n, p = J.shape
    dof = n - p
    rss = float((r * r).sum())
    inv_var = None if w is None else 1 / w.double().cpu() ** 2
    if inv_var is None:
        tss = float(((y - y.mean()) ** 2).sum())
    else:
        mean = float((inv_var * y).sum() / inv_var.sum())
        tss = float((inv_var * (y - mean) ** 2).sum())
    reduced = rss / dof if dof > 0 else math.nan
    r2 = 1 - rss / tss if tss > 0 else math.nan
    aic = bic = math.nan
    if rss > 0:
        aic = n * math.log(rss / n) + 2 * p
        bic = n * math.log(rss / n) + math.log(n) * p
    stderr: dict[str, float | None] = dict.fromkeys(names)
    correlation = None
    held = dict(held or {})
    reasons = [f"{', '.join(f'{k} is held at its {v} bound' for k, v in held.items())}, so "
               f"{'it has' if len(held) == 1 else 'they have'} no standard error"] if held else []
    free = [i for i, name in enumerate(names) if name not in held]
    Jf = J[:, free]
    if dof <= 0 and not absolute_sigma:
        reasons = [f"no degrees of freedom: {n} data rows for {p} parameters (the fit passes through every point)"]
    elif not torch.isfinite(J).all():
        reasons = ["the Jacobian is not finite at the answer"]
    elif free:
        _, S, Vh = torch.linalg.svd(Jf, full_matrices=False)
        tol = max(n, p) * torch.finfo(torch.float64).eps * float(S[0]) if S.numel() else 0.0
        # J^T J = V S^2 V^T: the one rank test and inverse of minimize --stderr's Hessian, on S^2.
        cov, why = covariance_from_spectrum([names[f] for f in free], S**2, Vh.T, tol**2,
                                            matrix="Jacobian", by="the data")
        if cov is None:
            reasons.append(str(why))
        else:
            if not absolute_sigma:
                cov = cov * reduced
            se = cov.diagonal().clamp_min(0).sqrt()
            stderr.update({names[f]: float(se[i]) for i, f in enumerate(free)})
            outer = se.unsqueeze(0) * se.unsqueeze(1)
            corr = (cov / outer).clamp(-1, 1)
            correlation = {names[f]: {names[g]: float(corr[i, j]) for j, g in enumerate(free)}
                           for i, f in enumerate(free)}
    reason = "; ".join(reasons) or None
    return Statistics(
        n=n, dof=dof, rss=rss,
        residual_std=_finite_or_none(math.sqrt(reduced)),  # reduced is NaN without degrees of freedom
        reduced_chisq=_finite_or_none(reduced), r2=_finite_or_none(r2),
        aic=_finite_or_none(aic), bic=_finite_or_none(bic),
        stderr=stderr, correlation=correlation, stderr_reason=reason,
    )


#: A likelihood fit's numbers (:class:`~gdsolve.api.likelihood.Likelihood`), read through as attributes
#: of a :class:`FitResult` and written at the top of its JSON; ``None`` for a least-squares fit.
LIKELIHOOD_KEYS = ("family", "dispersion", "dispersion_fixed", "deviance", "null_deviance", "df_null", "loglik",
                   "pearson_chi2", "trials")

#: The confidence level of :attr:`FitResult.conf_int`.
CONF_LEVEL = 0.95


@dataclass(frozen=True)
class FitResult:
    """The outcome of :func:`gdsolve.fit`.

    Attributes:
        params: the fitted parameters ``{name: value}`` (``x`` is the same, scipy's name).
        stats: :class:`Statistics` at the answer (also as attributes: ``stderr``, ``rss``, ``r2``...).
        status, stop_rule, message: how the run ended, as for minimize.
        nit: steps tried by the best start; ``nfev``: residual evaluations.
        p0: where the best start began; ``starts``: how many starts ran.
        model, response, parameters, columns: the model as parsed.
        method, loss, f_scale, absolute_sigma, sigma: the fit's settings.
        cost: the minimized value, ``1/2 sum rho(r**2)``; ``elapsed`` seconds.
        source: where the data came from; ``dropped``: rows dropped for missing values.
        fitted, residuals: per data row (``y - fitted``, not divided by sigma).
        active_bounds: the parameters that end on a bound, ``{name: "lower"|"upper"}``
            (they have no standard error; ``stderr_reason`` says so).
        test, p_value, conf_int: each parameter's test against 0 and 95% interval (t or normal, see :attr:`test`).
        likelihood: a fit with a family: deviance, dispersion, log-likelihood (else ``None``).
    """

    params: dict[str, float]
    stats: Statistics
    status: Status
    stop_rule: StopRule
    message: str
    nit: int
    nfev: int
    p0: dict[str, float]
    starts: int
    model: str
    response: str
    parameters: tuple[str, ...]
    columns: tuple[str, ...]
    method: str
    loss: str
    f_scale: float
    absolute_sigma: bool
    sigma: str | None
    cost: float
    elapsed: float
    source: str
    dropped: int
    fitted: tuple[float, ...] = field(repr=False, default=())
    residuals: tuple[float, ...] = field(repr=False, default=())
    message_template: str = field(default="", repr=False, compare=False)
    settings: dict[str, Any] = field(default_factory=dict)
    #: parameters that end on a bound: ``{name: "lower"|"upper"}``
    active_bounds: dict[str, str] = field(default_factory=dict)
    #: the data table the fit read (for :meth:`write_residuals`; not in :meth:`to_dict`)
    table: Table | None = field(default=None, repr=False, compare=False)
    #: a fit with a family: its :class:`~gdsolve.api.likelihood.Likelihood` (deviance, dispersion...); None for least squares
    likelihood: Any = None

    @property
    def test(self) -> str:
        """``"t"``: the t distribution with ``dof`` degrees of freedom (least squares, and a family whose
        dispersion is estimated, as R's ``summary``); ``"z"``: the normal (binomial, poisson: phi is 1)."""
        return "z" if self.likelihood is not None and self.likelihood.dispersion_fixed else "t"

    @property
    def p_value(self) -> dict[str, float | None]:
        """Each parameter's two-sided p-value against 0 (see :attr:`test`); ``None`` without a standard error."""
        from ..core.probability import two_sided_normal_p, two_sided_t_p

        out: dict[str, float | None] = {}
        for k, t in self.t_value.items():
            if t is None or (self.test == "t" and self.stats.dof <= 0):
                out[k] = None
            else:
                out[k] = two_sided_normal_p(t) if self.test == "z" else two_sided_t_p(t, self.stats.dof)
        return out

    @property
    def conf_int(self) -> dict[str, tuple[float, float] | None]:
        """Each parameter's :data:`CONF_LEVEL` confidence interval, ``value -/+ q * stderr`` with ``q`` the
        quantile of :attr:`test`'s distribution (R's ``confint.default`` for z; ``confint.lm`` for t)."""
        from ..core.probability import normal_quantile, t_quantile

        q = None
        if self.test == "z":
            q = normal_quantile(0.5 + CONF_LEVEL / 2)
        elif self.stats.dof > 0:
            q = t_quantile(0.5 + CONF_LEVEL / 2, self.stats.dof)
        out: dict[str, tuple[float, float] | None] = {}
        for k, se in self.stats.stderr.items():
            v = self.params[k]
            out[k] = None if se is None or q is None else (v - q * se, v + q * se)
        return out

    @property
    def x(self) -> dict[str, float]:
        return self.params

    @property
    def success(self) -> bool:
        return self.status.success

    @property
    def stderr_percent(self) -> dict[str, float | None]:
        """Each standard error as a percentage of its parameter's size (``None`` without one, or at 0)."""
        return {k: (None if se is None or self.params[k] == 0 else 100 * se / abs(self.params[k]))
                for k, se in self.stats.stderr.items()}

    @property
    def t_value(self) -> dict[str, float | None]:
        """Each parameter over its standard error (``None`` without one)."""
        return {k: (None if not se else self.params[k] / se) for k, se in self.stats.stderr.items()}

    def __getattr__(self, name: str) -> Any:
        # stderr, rss, r2, ... read through to the statistics
        if name in Statistics.__dataclass_fields__:
            return getattr(self.stats, name)
        if name in LIKELIHOOD_KEYS:  # deviance, dispersion, ...: None for least squares
            return None if self.likelihood is None else getattr(self.likelihood, name)
        raise AttributeError(f"'FitResult' object has no attribute {name!r}")

    def message_for(self, *, cli: bool) -> str:
        return render(self.message_template or self.message, cli=cli)

    def to_dict(self, *, cli: bool = False) -> dict[str, Any]:
        """The JSON fields: the statistics at top level, then the run's usual fields.

        ``cli``: the message names options as the command line spells them (``--max-iter``), not as Python does.
        """
        stats = asdict(self.stats)
        out: dict[str, Any] = {
            "model": self.model, "params": dict(self.params), "stderr": stats["stderr"],
            "stderr_percent": self.stderr_percent, "t_value": self.t_value,
            "p_value": self.p_value, "conf_int": {k: (None if v is None else list(v)) for k, v in self.conf_int.items()},
            "conf_level": CONF_LEVEL, "test": self.test,
            "stderr_reason": stats["stderr_reason"], "correlation": stats["correlation"],
            "active_bounds": dict(self.active_bounds),
            "rss": self.stats.rss, "residual_std": self.stats.residual_std,
            "reduced_chisq": self.stats.reduced_chisq, "dof": self.stats.dof, "n": self.stats.n,
            "r2": self.stats.r2, "aic": self.stats.aic, "bic": self.stats.bic,
            "status": self.status.value, "stop_rule": self.stop_rule.value, "success": self.success,
            "message": self.message_for(cli=cli), "nit": self.nit, "nfev": self.nfev,
            "x": dict(self.params), "fun": self.cost, "p0": dict(self.p0), "starts": self.starts,
            "response": self.response, "parameters": list(self.parameters), "columns": list(self.columns),
            "method": self.method, "loss": self.loss, "f_scale": self.f_scale,
            "absolute_sigma": self.absolute_sigma, "sigma": self.sigma,
            "data": self.source, "dropped": self.dropped, "elapsed": self.elapsed,
            "settings": dict(self.settings),
        }
        # a family's numbers at top level (null for least squares): one schema for every fit
        out.update({k: getattr(self, k) for k in LIKELIHOOD_KEYS})
        return out

    def write_residuals(self, path: str | os.PathLike[str]) -> None:
        """Write the data with two more columns, ``fitted`` and ``residual`` (``y - fitted``), as CSV."""
        if self.table is None:
            raise OptionError("this result holds no data table to write residuals for")
        from ..formula.matrices import columns_record

        data = columns_record(self.table)  # text columns too, as they were written
        names = list(data)
        extra = [n for n in ("fitted", "residual") if n in names]
        if extra:
            raise OptionError(f"the data already has a column {extra[0]!r}; rename it to write {{residuals}}")
        shown_path = repr(os.fspath(path))
        fh = open_output(path, f"the residuals file {shown_path}", f"cannot write {{residuals}} file {shown_path}",
                         newline="")
        try:
            out = csv.writer(fh)
            out.writerow([*names, "fitted", "residual"])
            cols = list(data.values())
            for i in range(self.table.rows):
                out.writerow([*(c[i] if isinstance(c[i], str) else repr(c[i]) for c in cols), repr(self.fitted[i]),
                              repr(self.residuals[i])])
        finally:
            fh.close()

    def __repr__(self) -> str:
        ps = ", ".join(f"{k}={v:.6g}" for k, v in self.params.items())
        return f"FitResult(params={{{ps}}}, rss={self.stats.rss:.6g}, status={self.status.value!r})"
