"""Learning-rate schedules: ``torch.optim.lr_scheduler`` driving a multiplier of every row's rate.

The engine keeps each row's base rate (a sweep gives rows different ones)
and multiplies it by one factor that a torch scheduler moves: the scheduler
drives the rate of a stand-in optimizer that starts at 1 and never steps.
So the schedule is torch's own, not a re-derivation, and one schedule serves
every row.

Example:
    >>> from gdsolve.core.settings import Settings
    >>> sched = schedule_on(Settings(schedule="step", step_size=2, gamma=0.5), stand_in(1.0))
    >>> [advance(sched) for _ in range(4)]
    [1.0, 0.5, 0.5, 0.25]
"""

from __future__ import annotations

import warnings

import torch

from ..core.settings import Settings


def stand_in(lr: float) -> torch.optim.Optimizer:
    """An optimizer that never steps, whose rate a scheduler drives (read it with :func:`advance`)."""
    return torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=lr)


def schedule_on(settings: Settings, holder: torch.optim.Optimizer) -> torch.optim.lr_scheduler.LRScheduler | None:
    """``settings.schedule`` as a torch scheduler of ``holder``'s rate (the one place schedules are built)."""
    if settings.schedule == "constant":
        return None
    p = settings.schedule_params()
    sched = torch.optim.lr_scheduler
    if settings.schedule == "exponential":
        return sched.ExponentialLR(holder, gamma=p["gamma"])
    if settings.schedule == "step":
        return sched.StepLR(holder, step_size=p["step_size"], gamma=p["gamma"])
    return sched.CosineAnnealingLR(holder, T_max=p["t_max"])


def advance(scheduler: torch.optim.lr_scheduler.LRScheduler) -> float:
    """Step ``scheduler`` once and return its new rate."""
    # torch warns when a scheduler steps before its optimizer; for the stand-in
    # optimizer, which never steps, that order is intended.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        scheduler.step()
    return float(scheduler.optimizer.param_groups[0]["lr"])
