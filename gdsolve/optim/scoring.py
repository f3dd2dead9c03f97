"""Fisher scoring with step halving: the maximum-likelihood fit of any mean formula in an exponential family.

For a mean ``mu(theta)`` at every data row and a family with variance
``V(mu)`` (:mod:`gdsolve.optim.family`), the score and the expected (Fisher)
information are::

    U = J^T (y - mu) / V(mu)          I = J^T diag(1 / V(mu)) J          (J = dmu/dtheta, by autograd)

and a Fisher-scoring step solves ``I delta = U``. That is the least-squares
problem ``min ||(J delta - (y - mu)) / sqrt(V)||``, solved here through the SVD
of ``J / sqrt(V)`` (never by forming ``I``, which squares its condition
number). For a link and a linear predictor it is R's ``glm`` and statsmodels'
IRLS step; for any other mean formula it is the same Gauss-Newton step on
the likelihood. As ``glm`` does, a step that raises the deviance or leaves the
family's range (a negative Poisson mean, a probability past 1) is halved,
up to :data:`HALVINGS` times.

The run stops when the step is small relative to the parameters (``xtol``,
MINPACK's rule on the columns of ``J / sqrt(V)``). A small change in the
deviance is not enough (it is quadratic at the answer: a relative change of
1e-15 leaves the parameters 1e-8 off, where glm's and statsmodels' rule stops);
only :data:`FLAT_STEPS` full steps in a row that change it by less than
``ftol`` (rounding noise) end the run on ``ftol``.

Example:
    >>> import torch
    >>> from gdsolve.optim.family import FAMILIES
    >>> x = torch.tensor([0.0, 1.0, 2.0, 3.0], dtype=torch.float64)
    >>> y = torch.tensor([1.0, 2.0, 4.0, 9.0], dtype=torch.float64)
    >>> def mean(P): return torch.exp(P[:, :1] + P[:, 1:] * x)
    >>> s = solve(mean, y, FAMILIES["poisson"], torch.zeros(2, dtype=torch.float64))
    >>> [round(v, 6) for v in s.P.tolist()], RULES[s.rule]
    ([-0.06051, 0.747759], 'xtol')
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, NamedTuple

import torch

from ..core.settings import FIT_FTOL, FIT_MAX_ITER, FIT_XTOL
from .family import Family
from .lm import FTOL, INTERRUPTED, MAX_ITER, NONFINITE, RULES, TIME_LIMIT, XTOL, jacobian

Mean = Callable[[torch.Tensor], torch.Tensor]

#: Full steps in a row whose deviance change is below ftol before the run stops on ftol (see :func:`solve`).
FLAT_STEPS = 5

#: How many times a step is halved before the run stops there (glm's step halving; 2**-60 is below rounding).
HALVINGS = 60

__all__ = ["FLAT_STEPS", "FTOL", "HALVINGS", "INTERRUPTED", "MAX_ITER", "NONFINITE", "RULES", "TIME_LIMIT", "XTOL",
           "ScoringState", "ScoringResult", "solve", "score_step"]


class ScoringState(NamedTuple):
    """One step for a callback, shaped as :class:`~gdsolve.optim.lm.LMState`'s best row is read:
    ``P (1, p)`` and ``cost (1,)`` (half the deviance: the least-squares cost for the gaussian family)."""

    P: torch.Tensor
    cost: torch.Tensor


class ScoringResult(NamedTuple):
    """The end of a run.

    Attributes:
        P: the parameters ``(p,)``; ``mu`` the mean ``(n,)`` and ``J`` its Jacobian ``(n, p)`` there.
        deviance: the family's deviance at ``P`` (``nan`` where the mean is outside the family's range).
        rule: index into :data:`~gdsolve.optim.lm.RULES`; ``value``: what the rule measured.
        nit: accepted steps; ``nfev``: evaluations of the mean.
        bad_row: for ``nonfinite``, the data row (0-based) whose mean left the family's range.
    """

    P: torch.Tensor
    mu: torch.Tensor
    J: torch.Tensor
    deviance: float
    rule: int
    value: float
    nit: int
    nfev: int
    bad_row: int | None = None


def _deviance(family: Family, y: torch.Tensor, mu: torch.Tensor, w: torch.Tensor | None) -> float:
    """The deviance, or ``nan`` where a mean is outside the family's range."""
    if family.bad_mean(mu) is not None:
        return float("nan")
    d = family.deviance(y, mu)
    return float((d if w is None else w * d).sum())


def score_step(family: Family, y: torch.Tensor, mu: torch.Tensor, J: torch.Tensor,
               w: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """The Fisher-scoring step ``delta (p,)`` and the scales ``D (p,)`` (column norms of ``J / sqrt(V/w)``;
    ``w``: prior weights, a binomial's trials)."""
    s = family.variance(mu).sqrt() if w is None else (family.variance(mu) / w).sqrt()
    A = J / s.unsqueeze(-1)
    b = (y - mu) / s
    U, S, Vh = torch.linalg.svd(A, full_matrices=False)
    tol = max(A.shape) * torch.finfo(A.dtype).eps * (float(S[0]) if S.numel() else 0.0)
    inv = torch.where(S > tol, 1 / S, torch.zeros_like(S))  # a singular direction takes no step (the minimum-norm one)
    return Vh.T @ (inv * (U.T @ b)), A.norm(dim=0)


def solve(mean: Mean, y: torch.Tensor, family: Family, P0: torch.Tensor, *, max_iter: int = FIT_MAX_ITER,
          ftol: float = FIT_FTOL, xtol: float = FIT_XTOL, time_limit: float | None = None,
          callback: Callable[[Any], None] | None = None, weights: torch.Tensor | None = None) -> ScoringResult:
    """Maximize the likelihood of ``y (n,)`` with mean ``mean(P (1, p)) -> (1, n)`` from ``P0 (p,)``.

    ``weights (n,)``: prior weights (a binomial's trials per row), 1 when ``None``.
    Never raises for the numbers: a start where the mean is outside the
    family's range ends at once with rule ``nonfinite`` and the row; Ctrl-C ends
    with ``interrupted`` at the last accepted point.
    """
    t0 = time.perf_counter()
    P = P0.clone()
    mu, J = (t[0] for t in jacobian(mean, P.unsqueeze(0)))
    nfev, nit, flat = 1, 0, 0
    bad = family.bad_mean(mu)
    if bad is not None or not torch.isfinite(J).all():
        return ScoringResult(P, mu, J, float("nan"), NONFINITE, float("nan"), 0, nfev, bad)
    dev = _deviance(family, y, mu, weights)
    try:
        while True:
            if nit >= max_iter:
                return ScoringResult(P, mu, J, dev, MAX_ITER, float("nan"), nit, nfev)
            if time_limit is not None and time.perf_counter() - t0 >= time_limit:
                return ScoringResult(P, mu, J, dev, TIME_LIMIT, time.perf_counter() - t0, nit, nfev)
            delta, D = score_step(family, y, mu, J, weights)
            if not torch.isfinite(delta).all():
                return ScoringResult(P, mu, J, dev, NONFINITE, float("nan"), nit, nfev)
            t = 1.0
            for _ in range(HALVINGS):
                trial = P + t * delta
                new_mu = mean(trial.unsqueeze(0))[0]
                nfev += 1
                new_dev = _deviance(family, y, new_mu, weights)
                # a full step that moves the deviance by rounding only is taken: the parameters still settle
                if new_dev <= dev or (t == 1.0 and new_dev - dev <= 1e-14 * (abs(dev) + 1)):
                    break
                t *= 0.5
            else:
                # no fraction of the step lowers the deviance: the point is a minimum to rounding
                return ScoringResult(P, mu, J, dev, XTOL, 0.0, nit, nfev)
            step = t * delta
            relative = float((D * step).norm() / (xtol + (D * P).norm()))
            change = abs(dev - new_dev) / (abs(new_dev) + 0.1)  # glm's denominator: a deviance can be 0
            new_mu, new_J = (t_[0] for t_ in jacobian(mean, trial.unsqueeze(0)))
            P, mu, J = trial, new_mu, new_J
            nfev += 1
            dev, nit = new_dev, nit + 1
            if callback is not None:
                callback(ScoringState(P.unsqueeze(0), torch.tensor([dev / 2], dtype=P.dtype)))
            if not torch.isfinite(J).all():
                return ScoringResult(P, mu, J, dev, NONFINITE, float("nan"), nit, nfev)
            if relative <= xtol:
                return ScoringResult(P, mu, J, dev, XTOL, relative, nit, nfev)
            # The deviance is quadratic at the answer: a change of 1e-15 leaves the parameters ~1e-8 off, so it
            # is not a stopping rule by itself. Only full steps that no longer lower it (rounding noise) several
            # times in a row end the run, where steps from noise would never shrink below xtol.
            flat = flat + 1 if t == 1.0 and change <= ftol else 0
            if flat >= FLAT_STEPS:
                return ScoringResult(P, mu, J, dev, FTOL, change, nit, nfev)
    except KeyboardInterrupt:
        return ScoringResult(P, mu, J, dev, INTERRUPTED, float("nan"), nit, nfev)
