"""gdsolve.optim.scoring: Fisher scoring's steps, halving and stops."""

from __future__ import annotations

import torch

from gdsolve.optim import scoring
from gdsolve.optim.family import FAMILIES

X = torch.tensor([0.0, 1.0, 2.0, 3.0, 4.0], dtype=torch.float64)
Y = torch.tensor([1.0, 2.0, 2.0, 5.0, 9.0], dtype=torch.float64)


def loglinear(P):
    return torch.exp(P[:, :1] + P[:, 1:] * X)


def identity(P):
    return P[:, :1] + P[:, 1:] * X


def test_the_score_is_zero_at_the_answer():
    run = scoring.solve(loglinear, Y, FAMILIES["poisson"], torch.zeros(2, dtype=torch.float64))
    assert scoring.RULES[run.rule] in ("xtol", "ftol")
    score = run.J.T @ ((Y - run.mu) / run.mu)
    assert float(score.abs().max()) < 1e-9


def test_a_start_outside_the_range_stops_at_once_naming_the_row():
    run = scoring.solve(identity, Y, FAMILIES["poisson"], torch.tensor([-1.0, 0.1], dtype=torch.float64))
    assert run.rule == scoring.NONFINITE and run.bad_row == 0 and run.nit == 0


def test_halving_keeps_the_mean_in_range():
    seen = []
    run = scoring.solve(identity, Y, FAMILIES["poisson"], torch.tensor([0.2, 0.05], dtype=torch.float64),
                        callback=lambda s: seen.append(identity(s.P)))
    assert scoring.RULES[run.rule] in ("xtol", "ftol")
    assert all(float(mu.min()) > 0 for mu in seen)


def test_the_deviance_never_rises():
    devs = []
    scoring.solve(loglinear, Y, FAMILIES["poisson"], torch.tensor([2.0, -1.0], dtype=torch.float64),
                  callback=lambda s: devs.append(float(s.cost[0])))
    assert devs == sorted(devs, reverse=True) and len(devs) > 2


def test_ctrl_c_ends_with_the_last_point():
    def stop(state):
        raise KeyboardInterrupt

    run = scoring.solve(loglinear, Y, FAMILIES["poisson"], torch.zeros(2, dtype=torch.float64), callback=stop)
    assert run.rule == scoring.INTERRUPTED and run.nit == 1 and torch.isfinite(run.P).all()


def test_time_limit_and_budget():
    run = scoring.solve(loglinear, Y, FAMILIES["poisson"], torch.zeros(2, dtype=torch.float64), time_limit=1e-12)
    assert run.rule == scoring.TIME_LIMIT
    run = scoring.solve(loglinear, Y, FAMILIES["poisson"], torch.zeros(2, dtype=torch.float64), max_iter=2)
    assert run.rule == scoring.MAX_ITER and run.nit == 2


def test_a_probit_runs_until_the_score_is_zero_not_until_the_deviance_is_flat():
    # a noncanonical link converges linearly: a deviance flat to 1e-15 still leaves the score at 1e-7
    x = torch.tensor([-2.0, -1.0, -0.5, 0.0, 0.5, 1.0, 1.5, 2.0], dtype=torch.float64)
    y = torch.tensor([0.0, 0.0, 1.0, 0.0, 1.0, 0.0, 1.0, 1.0], dtype=torch.float64)

    def probit(P):
        return 0.5 * (1 + torch.erf((P[:, :1] + P[:, 1:] * x) / 2**0.5))

    run = scoring.solve(probit, y, FAMILIES["binomial"], torch.zeros(2, dtype=torch.float64))
    assert run.rule == scoring.XTOL
    score = run.J.T @ ((y - run.mu) / (run.mu * (1 - run.mu)))
    assert float(score.abs().max()) < 1e-10
