"""The stopping rules of the engine, as functions of its values that return data.

Each rule takes the tensors of one iteration and the rows still running, and
returns a :class:`Fired`: which rows it stops, what it measured there and
the tolerance. The engine tests them in one order, for every row alike (one
row included), and writes their codes (:data:`gdsolve.core.status.STOP_CODES`)
into its state; :mod:`gdsolve.engine.outcome` turns a row's code into its message
through the one table of stop messages (:data:`gdsolve.core.status.STOP_MESSAGES`).

Before the update, at ``x_k``: a value that is not finite, ``target``,
``gtol``, ``ftol``, the time limit, a blow-up. After it: a step that is not
finite, ``eps`` (the tutorial's rule), a row's own budget (a replay).

Example:
    >>> import torch
    >>> step = torch.tensor([1e-7, 0.5], dtype=torch.float64)
    >>> eps(step, 1e-6, torch.ones(2, dtype=torch.bool)).rows.tolist()
    [True, False]
"""

from __future__ import annotations

from typing import NamedTuple

import torch

from ..core.status import StopRule
from ..optim.box import Box

#: Blow-up: f worse than at the step before this many steps in a row, and worse than at the start.
#: Judged on f, never on the size of x: a minimizer may be far away (1e13) or near zero (1e-8).
BLOWUP_RISES = 25


class Fired(NamedTuple):
    """What one rule found at one iteration."""

    rule: StopRule
    rows: torch.Tensor  # (B,) bool: the running rows it stops
    value: torch.Tensor | None = None  # (B,) what it measured, where it measures something
    tol: float | None = None


def not_finite(F: torch.Tensor, G: torch.Tensor, running: torch.Tensor) -> Fired:
    """f or its gradient at ``x_k`` is not finite (overflow, a pole, outside the formula's domain)."""
    # (G * 0) @ 1 is 0 on a row of finite values and nan on any other: a matrix-vector product, where
    # a reduction along a short row (``all(1)``) costs ten elementwise passes on a CPU
    rows = (G * 0) @ torch.ones(G.shape[1], dtype=G.dtype, device=G.device)
    return Fired(StopRule.NONFINITE, running & ~torch.isfinite(F + rows))


def target(F: torch.Tensor, tol: float, running: torch.Tensor) -> Fired:
    """The minimized f reached the target (the user's target, in the minimized sign)."""
    return Fired(StopRule.TARGET, running & (F <= tol), F, tol)


def gradient_norm(G: torch.Tensor, X: torch.Tensor, box: Box | None) -> torch.Tensor:
    """``||grad f||`` per row, without the components a bound holds (the projected gradient)."""
    if box is not None:
        G = G.masked_fill(box.outward(X, G), 0.0)
    return torch.linalg.vector_norm(G, dim=1)


def gtol(gnorm: torch.Tensor, tol: float, running: torch.Tensor) -> Fired:
    return Fired(StopRule.GTOL, running & (gnorm < tol), gnorm, tol)


def f_change(F: torch.Tensor, f_prev: torch.Tensor) -> torch.Tensor:
    """``|f_new - f_old| / max(|f_new|, |f_old|, 1)`` per row."""
    return (F - f_prev).abs() / F.abs().maximum(f_prev.abs()).clamp(min=1.0)


def ftol(change: torch.Tensor, tol: float, running: torch.Tensor) -> Fired:
    return Fired(StopRule.FTOL, running & (change <= tol), change, tol)


def time_limit(now: float, limit: float, running: torch.Tensor) -> Fired:
    return Fired(StopRule.TIME_LIMIT, running if now >= limit else running & False)


def blowup(rises: torch.Tensor, F: torch.Tensor, f_start: torch.Tensor, running: torch.Tensor) -> Fired:
    """f rose :data:`BLOWUP_RISES` steps in a row and is worse than at the start."""
    return Fired(StopRule.BLOWUP, running & (rises >= BLOWUP_RISES) & (F > f_start))


def step_not_finite(step: torch.Tensor, running: torch.Tensor) -> Fired:
    """The update made x non-finite (an overflowing step)."""
    return Fired(StopRule.NONFINITE, running & ~torch.isfinite(step))


def eps(step: torch.Tensor, tol: float, running: torch.Tensor) -> Fired:
    """The tutorial's rule: ``||x_new - x_old|| < eps``."""
    return Fired(StopRule.EPS, running & (step < tol), step, tol)


def budget(k: int, cap: torch.Tensor, running: torch.Tensor) -> Fired:
    """A row's own budget of updates (a replay retraces a row for exactly its updates)."""
    return Fired(StopRule.MAX_ITER, running & (k + 1 >= cap))
