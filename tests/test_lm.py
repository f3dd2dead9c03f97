"""Levenberg-Marquardt, batched: each row its own trust region, rules and stop."""

from __future__ import annotations

import math

import pytest
import torch

from gdsolve.core.errors import OptionError
from gdsolve.optim import lm

X = torch.linspace(0, 3, 20, dtype=torch.float64)
Y = 2.0 * torch.exp(0.5 * X)


def residuals(P: torch.Tensor) -> torch.Tensor:
    return Y - P[:, :1] * torch.exp(P[:, 1:] * X)


def test_solves_an_exact_model_to_the_last_digits():
    s = lm.solve(residuals, torch.tensor([[1.0, 0.1]], dtype=torch.float64))
    assert s.P[0].tolist() == pytest.approx([2.0, 0.5], rel=1e-12)
    assert lm.RULES[int(s.rule[0])] in ("ftol", "xtol", "gtol") and float(s.cost[0]) < 1e-25


def test_rows_are_independent_and_a_bad_start_stops_only_its_row():
    P0 = torch.tensor([[1.0, 0.1], [5.0, 1.0], [1.0, 1e3]], dtype=torch.float64)  # exp(3000) overflows
    s = lm.solve(residuals, P0)
    assert s.P[0].tolist() == pytest.approx([2.0, 0.5], rel=1e-10)
    assert s.P[1].tolist() == pytest.approx([2.0, 0.5], rel=1e-10)
    assert lm.RULES[int(s.rule[2])] == "nonfinite" and int(s.nit[2]) == 0
    alone = lm.solve(residuals, P0[1:2])
    assert torch.equal(alone.P[0], s.P[1]) and int(alone.nit[0]) == int(s.nit[1])


def test_jacobian_is_autograds():
    P = torch.tensor([[1.5, 0.2]], dtype=torch.float64)
    r, J = lm.jacobian(residuals, P)
    expected = torch.stack([-torch.exp(0.2 * X), -1.5 * X * torch.exp(0.2 * X)], dim=-1)
    assert torch.allclose(J[0], expected) and torch.allclose(r, residuals(P))


def test_bounds_hold_every_iterate():
    seen = []
    lower = torch.tensor([-math.inf, -math.inf], dtype=torch.float64)
    upper = torch.tensor([math.inf, 0.4], dtype=torch.float64)
    s = lm.solve(residuals, torch.tensor([[1.0, 0.1]], dtype=torch.float64), lower=lower, upper=upper,
                 callback=lambda st: seen.append(float(st.P[0, 1])))
    assert max(seen) <= 0.4 and float(s.P[0, 1]) == 0.4


def test_max_iter_and_time_limit_stop_with_their_rules():
    s = lm.solve(residuals, torch.tensor([[1.0, 0.1]], dtype=torch.float64), max_iter=2)
    assert lm.RULES[int(s.rule[0])] == "max_iter" and int(s.nit[0]) == 2
    s = lm.solve(residuals, torch.tensor([[1.0, 0.1]], dtype=torch.float64), time_limit=1e-9)
    assert lm.RULES[int(s.rule[0])] == "time_limit"


def test_interrupt_ends_the_running_rows():
    def stop(state):
        raise KeyboardInterrupt

    s = lm.solve(residuals, torch.tensor([[1.0, 0.1]], dtype=torch.float64), callback=stop)
    assert lm.RULES[int(s.rule[0])] == "interrupted" and int(s.nit[0]) == 1


@pytest.mark.parametrize("loss", lm.LOSSES)
def test_losses_agree_with_least_squares_for_small_residuals(loss):
    z = torch.tensor([1e-6, 0.5, 4.0], dtype=torch.float64)
    rho, d1, d2 = lm.loss_terms(z, loss)
    assert float(rho[0]) == pytest.approx(1e-6, rel=1e-5) and float(d1[0]) == pytest.approx(1, rel=1e-5)
    h = 1e-6  # the derivatives are those of rho
    up, down = lm.loss_terms(z + h, loss)[0], lm.loss_terms(z - h, loss)[0]
    assert torch.allclose((up - down) / (2 * h), d1, rtol=1e-5)
    up1, down1 = lm.loss_terms(z + h, loss)[1], lm.loss_terms(z - h, loss)[1]
    assert torch.allclose((up1 - down1) / (2 * h), d2, rtol=1e-4, atol=1e-9)


def test_bad_settings_are_refused():
    P0 = torch.tensor([[1.0, 0.1]], dtype=torch.float64)
    with pytest.raises(OptionError, match="loss"):
        lm.solve(residuals, P0, loss="l2")
    with pytest.raises(OptionError, match="f_scale"):
        lm.solve(residuals, P0, f_scale=0.0)
    with pytest.raises(OptionError, match="ftol"):
        lm.solve(residuals, P0, ftol=math.nan)
