"""Exponential families for ``fit --family``: variance, deviance, log-likelihood and the valid ranges.

A family turns a mean ``mu`` (the model's value at each data row, any formula)
into a likelihood for the response ``y``. Everything a maximum-likelihood fit
and its report need is here, with the definitions R's ``glm`` and statsmodels'
``GLM`` use, so their numbers are ours:

==========  ==================  ============================================  ==========  ===============
family      variance V(mu)      unit deviance d(y, mu)                        mu range    y range
==========  ==================  ============================================  ==========  ===============
gaussian    1                   (y - mu)^2                                    any         any
binomial    mu (1 - mu)         2 [y log(y/mu) + (1-y) log((1-y)/(1-mu))]     (0, 1)      [0, 1]
poisson     mu                  2 [y log(y/mu) - (y - mu)]                    (0, inf)    [0, inf)
gamma       mu^2                2 [(y - mu)/mu - log(y/mu)]                   (0, inf)    (0, inf)
==========  ==================  ============================================  ==========  ===============

The dispersion ``phi`` is 1 for binomial and poisson; gaussian and gamma
estimate it, as R and statsmodels do, by Pearson's chi-square over the
residual degrees of freedom. A binomial response may be a proportion of
``trials`` per row (R's ``glm`` weights, statsmodels' ``n_trials``): each
row's unit deviance and information are then ``trials`` times one trial's. The log-likelihoods are statsmodels' (``GLM.llf``):
gaussian's at the maximum-likelihood variance ``deviance / n``, gamma's at the
Pearson dispersion, binomial's with the binomial coefficient of a proportion
(0 for a 0/1 response).

Example:
    >>> import torch
    >>> y, mu = torch.tensor([0.0, 1.0, 1.0]), torch.tensor([0.25, 0.5, 0.75])
    >>> round(float(FAMILIES["binomial"].deviance(y, mu).sum()), 6)
    2.537023
    >>> FAMILIES["poisson"].bad_response(torch.tensor([0.0, 3.0, -1.0]))
    2
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch

Fn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class Family:
    """One exponential family (see the module docstring for the formulas).

    Attributes:
        name: ``gaussian``, ``binomial``, ``poisson`` or ``gamma``.
        variance: ``mu -> V(mu)``.
        unit_deviance: ``(y, mu) -> d(y, mu)`` per row.
        fixed_dispersion: the dispersion is 1 (binomial, poisson), not estimated.
        response_rule: the valid response in words, for the error that refuses one.
        mean_rule: the valid mean in words, for the message of a fit that leaves it.
    """

    name: str
    variance: Callable[[torch.Tensor], torch.Tensor]
    unit_deviance: Fn
    loglik_obs: Callable[[torch.Tensor, torch.Tensor, float, torch.Tensor], torch.Tensor]
    valid_response: Callable[[torch.Tensor], torch.Tensor]
    valid_mean: Callable[[torch.Tensor], torch.Tensor]
    fixed_dispersion: bool
    response_rule: str
    mean_rule: str

    def deviance(self, y: torch.Tensor, mu: torch.Tensor) -> torch.Tensor:
        """The unit deviances ``(..., n)``; sum them over the last axis for the deviance."""
        return self.unit_deviance(y, mu)

    def loglik(self, y: torch.Tensor, mu: torch.Tensor, dispersion: float, trials: torch.Tensor | None = None) -> float:
        """The log-likelihood at ``mu`` (``dispersion``: the family's, 1 where it is fixed; ``trials``: a
        binomial proportion's number of trials per row, 1 when ``None``)."""
        return float(self.loglik_obs(y, mu, dispersion, torch.ones_like(y) if trials is None else trials).sum())

    def bad_response(self, y: torch.Tensor) -> int | None:
        """The index of the first response value outside the family's range, or ``None``."""
        bad = (~self.valid_response(y)).nonzero()
        return int(bad[0]) if bad.numel() else None

    def bad_mean(self, mu: torch.Tensor) -> int | None:
        """The index of the first mean outside the family's range (or not finite), or ``None``."""
        bad = (~(torch.isfinite(mu) & self.valid_mean(mu))).nonzero()
        return int(bad.flatten()[0]) if bad.numel() else None


def _xlogy_ratio(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``a log(a/b)``, 0 where ``a`` is 0 (the limit)."""
    return torch.xlogy(a, a) - torch.xlogy(a, b)


def _binomial_deviance(y: torch.Tensor, mu: torch.Tensor) -> torch.Tensor:
    return 2 * (_xlogy_ratio(y, mu) + _xlogy_ratio(1 - y, 1 - mu))


def _binomial_loglik(y: torch.Tensor, mu: torch.Tensor, dispersion: float, trials: torch.Tensor) -> torch.Tensor:
    # y = successes/trials; the binomial coefficient (R's logLik and statsmodels' with n_trials) is 0 for one trial
    k = y * trials
    coef = torch.lgamma(trials + 1) - torch.lgamma(k + 1) - torch.lgamma(trials - k + 1)
    return coef + torch.xlogy(k, mu) + torch.xlogy(trials - k, 1 - mu)


def _poisson_deviance(y: torch.Tensor, mu: torch.Tensor) -> torch.Tensor:
    return 2 * (_xlogy_ratio(y, mu) - (y - mu))


def _poisson_loglik(y: torch.Tensor, mu: torch.Tensor, dispersion: float, trials: torch.Tensor) -> torch.Tensor:
    return torch.xlogy(y, mu) - mu - torch.lgamma(y + 1)


def _gamma_deviance(y: torch.Tensor, mu: torch.Tensor) -> torch.Tensor:
    return 2 * ((y - mu) / mu - torch.log(y / mu))


def _gamma_loglik(y: torch.Tensor, mu: torch.Tensor, dispersion: float, trials: torch.Tensor) -> torch.Tensor:
    shape = 1 / dispersion  # statsmodels' Gamma.loglike_obs with the Pearson scale
    ratio = y / mu
    return shape * torch.log(shape * ratio) - shape * ratio - torch.log(y) - math.lgamma(shape)


def _gaussian_loglik(y: torch.Tensor, mu: torch.Tensor, dispersion: float, trials: torch.Tensor) -> torch.Tensor:
    # at the maximum-likelihood variance (statsmodels' GLM.llf for the identity link, R's logLik)
    var = float(((y - mu) ** 2).mean())
    return -0.5 * ((y - mu) ** 2 / var + math.log(2 * math.pi * var))


def _everywhere(t: torch.Tensor) -> torch.Tensor:
    return torch.isfinite(t)


#: The families by name (:data:`gdsolve.core.settings.FAMILY_NAMES` lists the same names, torch-free, for the CLI).
FAMILIES: dict[str, Family] = {
    "gaussian": Family("gaussian", lambda mu: torch.ones_like(mu), lambda y, mu: (y - mu) ** 2, _gaussian_loglik,
                       _everywhere, _everywhere, False, "any finite number", "finite"),
    "binomial": Family("binomial", lambda mu: mu * (1 - mu), _binomial_deviance, _binomial_loglik,
                       lambda y: (y >= 0) & (y <= 1), lambda mu: (mu > 0) & (mu < 1), True,
                       "a proportion between 0 and 1 (0/1 for a yes/no outcome)", "strictly between 0 and 1"),
    "poisson": Family("poisson", lambda mu: mu, _poisson_deviance, _poisson_loglik,
                      lambda y: torch.isfinite(y) & (y >= 0), lambda mu: mu > 0, True,
                      "a count (a number >= 0)", "positive"),
    "gamma": Family("gamma", lambda mu: mu * mu, _gamma_deviance, _gamma_loglik,
                    lambda y: torch.isfinite(y) & (y > 0), lambda mu: mu > 0, False,
                    "a positive number", "positive"),
}
