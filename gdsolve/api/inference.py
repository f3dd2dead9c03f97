"""Standard errors from curvature: the covariance of ``minimize --stderr``, and the one rank test behind it and ``fit``.

When the objective is a negative log-likelihood, its Hessian at the minimum is the *observed
information*, and its inverse estimates the covariance of the estimates (the Cramér-Rao / Wald
theory statsmodels' ``MLE`` results and R's ``optim(hessian=TRUE)`` rely on). So, at a converged
point ``x`` of a minimized objective (for :func:`~gdsolve.api.solve.maximize` of a log-likelihood,
the engine's ``-f``: the covariance is then the inverse of the *negative* Hessian of ``f``):

* ``covariance = H^-1`` (autograd's Hessian, float64, the same one the stationarity check reads:
  :func:`gdsolve.optim.scaling.hessian`); ``stderr`` the square roots of its diagonal;
  ``correlation`` its normalised form;
* ``z_value = x / stderr`` and ``p_value = P(|Z| >= |z|)`` for a standard normal ``Z``, and the 95%
  interval ``conf_int = x -/+ 1.96 stderr`` (:mod:`gdsolve.core.probability`).

This is valid for a negative log-likelihood (or ``-log L`` plus a constant) at a minimum with no
variable on a bound. Otherwise the result says why in ``stderr_reason``, and gives no number it
cannot stand behind:

* a run that did not converge, or stopped on ``target``: no standard errors (its point is not known to be
  a minimum);
* a variable held on a bound (``active_bounds``): that variable has none, the others' covariance is
  that of the free variables with it fixed, as ``fit`` does;
* a Hessian that is not positive definite (a saddle, a maximum): none, and the variables along the
  negative curvature are named;
* a singular Hessian: none, and the variables that are not determined separately are named.

The rank test is :func:`gdsolve.api.spectrum.covariance_from_spectrum`, shared with ``fit``'s Jacobian
(:func:`gdsolve.api.fitresult.statistics`): one implementation of "which parameters are undetermined".

Example (n = 4 draws of a normal; the NLL in the mean ``mu`` and the standard deviation ``s``;
``stderr(mu) = s/sqrt(n)`` and ``stderr(s) = s/sqrt(2n)`` at the MLE ``s = sqrt(mean((y-mu)^2)) = sqrt(5)``):
    >>> from gdsolve import minimize
    >>> nll = "4*log(s) + ((1-mu)**2 + (3-mu)**2 + (5-mu)**2 + (7-mu)**2)/(2*s**2)"
    >>> r = minimize(nll, x0={"mu": 1, "s": 1}, method="lbfgs", stderr=True)
    >>> round(r.stderr["mu"], 6), round(5 ** 0.5 / 2, 6)
    (1.118034, 1.118034)
    >>> round(r.stderr["s"], 6), round(5 ** 0.5 / 8 ** 0.5, 6)
    (0.790569, 0.790569)
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import Any

import torch

from ..core.probability import normal_quantile, two_sided_normal_p
from ..core.result import OptimizeResult
from ..core.status import StopRule
from ..engine.stationarity import MAX_VARIABLES
from ..optim.scaling import hessian
from .spectrum import covariance_from_spectrum

#: A scaled Hessian eigenvalue below this fraction of the largest, times the number of variables, is zero:
#: the curvature of the Hessian's rounding (autograd's float64 sums over the data), not of the problem.
SINGULAR_RTOL = 1e-10
#: The level of the interval in ``conf_int``.
CONFIDENCE = 0.95


@dataclasses.dataclass(frozen=True)
class Inference:
    """The standard errors of a point and what follows from them (the fields :class:`OptimizeResult` gets)."""

    stderr: dict[str, float | None]
    z_value: dict[str, float | None]
    p_value: dict[str, float | None]
    conf_int: dict[str, list[float] | None]
    covariance: dict[str, dict[str, float]] | None
    correlation: dict[str, dict[str, float]] | None
    stderr_reason: str | None


def _refused(names: Sequence[str], reason: str) -> Inference:
    none: dict[str, Any] = dict.fromkeys(names)
    return Inference(none, dict(none), dict(none), dict(none), None, None, reason)


def infer(objective: Any, result: OptimizeResult) -> Inference:
    """The covariance, standard errors, z- and p-values, intervals and correlations at ``result.x``
    of the minimized ``objective`` (a compiled :class:`~gdsolve.formula.objective.Objective`); see the
    module docstring for when each is refused."""
    names = tuple(objective.variables)
    if not result.success:
        return _refused(names, f"the run did not converge (status {result.status.value}), so its point is not "
                               "known to be a minimum; standard errors need one")
    if result.stop_rule is StopRule.TARGET:
        return _refused(names, "the run stopped because f reached its target, which says f is low enough, not "
                               "that the point is a minimum; standard errors need one")
    held = dict(result.active_bounds)
    reasons = [f"{', '.join(f'{k} is held at its {v} bound' for k, v in held.items())}, so "
               f"{'it has' if len(held) == 1 else 'they have'} no standard error"] if held else []
    free = [i for i, n in enumerate(names) if n not in held]
    if len(free) > MAX_VARIABLES:
        return _refused(names, f"more than {MAX_VARIABLES} free variables: the Hessian is not computed")
    stderr: dict[str, float | None] = dict.fromkeys(names)
    cov_doc = corr_doc = None
    if free:
        X = torch.tensor([[result.x[n] for n in names]], dtype=torch.float64)
        try:
            _, _, H = hessian(objective, X)
        except RuntimeError as exc:  # an operation without a second derivative
            return _refused(names, f"the Hessian cannot be computed at the answer ({exc})")
        H = H[0]
        H = (H + H.T) / 2
        Hf = H[free][:, free]
        free_names = [names[i] for i in free]
        if not bool(torch.isfinite(Hf).all()):
            return _refused(names, "; ".join([*reasons, "the Hessian is not finite at the answer"]))
        # Scaled to a unit diagonal, so the rank test does not depend on each variable's units.
        hd = Hf.diagonal().abs()
        D = torch.where(hd > 0, hd.rsqrt(), torch.ones_like(hd))
        lam, V = torch.linalg.eigh(D[:, None] * Hf * D[None, :])
        tol = SINGULAR_RTOL * len(free) * float(lam.abs().max())
        cov_s, why = covariance_from_spectrum(free_names, lam, V, tol, matrix="Hessian", by="the objective")
        if cov_s is None:
            return _refused(names, "; ".join([*reasons, str(why)]))
        cov = D[:, None] * cov_s * D[None, :]
        se = cov.diagonal().clamp_min(0).sqrt()
        corr = (cov / (se[:, None] * se[None, :])).clamp(-1, 1)
        stderr.update(zip(free_names, se.tolist()))
        cov_doc = {a: dict(zip(free_names, row)) for a, row in zip(free_names, cov.tolist())}
        corr_doc = {a: dict(zip(free_names, row)) for a, row in zip(free_names, corr.tolist())}
    q = normal_quantile(0.5 + CONFIDENCE / 2)
    z: dict[str, float | None] = {}
    p: dict[str, float | None] = {}
    ci: dict[str, list[float] | None] = {}
    for n in names:
        se_n = stderr[n]
        if se_n is None or not se_n > 0 or not math.isfinite(se_n):
            z[n] = p[n] = ci[n] = None
            continue
        z[n] = result.x[n] / se_n
        p[n] = two_sided_normal_p(z[n])
        ci[n] = [result.x[n] - q * se_n, result.x[n] + q * se_n]
    return Inference(stderr, z, p, ci, cov_doc, corr_doc, "; ".join(reasons) or None)


def with_stderr(objective: Any, result: OptimizeResult) -> OptimizeResult:
    """``result`` with :func:`infer`'s fields filled in (``stderr``, ``z_value``, ``p_value``, ``conf_int``,
    ``covariance``, ``correlation``, ``stderr_reason``)."""
    return dataclasses.replace(result, **dataclasses.asdict(infer(objective, result)))
