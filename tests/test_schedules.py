"""Learning-rate schedules: torch's own, driving one multiplier of every row's rate."""

from __future__ import annotations

import warnings

import pytest
import torch

from gdsolve.core.settings import Settings
from gdsolve.optim.schedules import advance, schedule_on, stand_in


def test_a_constant_rate_has_no_scheduler():
    assert schedule_on(Settings(), stand_in(1.0)) is None


@pytest.mark.parametrize(("settings", "make"), [
    (Settings(schedule="exponential", gamma=0.9), lambda o: torch.optim.lr_scheduler.ExponentialLR(o, gamma=0.9)),
    (Settings(schedule="step", step_size=3, gamma=0.5), lambda o: torch.optim.lr_scheduler.StepLR(o, 3, gamma=0.5)),
    (Settings(schedule="cosine", t_max=7), lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=7)),
    (Settings(schedule="cosine", max_iter=9), lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=9)),
])
def test_the_multiplier_follows_torchs_scheduler_step_by_step(settings, make):
    ours = schedule_on(settings, stand_in(1.0))
    reference = make(stand_in(1.0))
    for _ in range(12):
        with warnings.catch_warnings():  # the stand-in never steps; torch warns of that order
            warnings.simplefilter("ignore")
            reference.step()
        expected = reference.optimizer.param_groups[0]["lr"]
        assert advance(ours) == pytest.approx(expected, rel=1e-15)


def test_a_sweep_scales_each_rows_base_rate_by_the_schedule():
    from gdsolve import minimize

    r = minimize("x**2 + y**2", x0={"x": 1, "y": 1}, lr=[0.1, 0.05], schedule="step", step_size=2, gamma=0.5,
                 max_iter=5, eps=0)
    assert [run.result.final_lr for run in r.runs] == pytest.approx([0.1 * 0.25, 0.05 * 0.25])
