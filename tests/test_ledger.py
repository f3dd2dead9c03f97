"""The engine's ledger: rows that stop are written by index and let go of, with the same results."""

from __future__ import annotations

import pytest
import torch

from gdsolve.core.settings import Settings
from gdsolve.engine import loop as engine
from gdsolve.engine.loop import Batch
from gdsolve.formula.objective import compile_objective

ROSEN = "(1-x)**2 + 100*(y-x^2)**2"


def _batch(text: str, settings: Settings, n: int, seed: int = 0) -> Batch:
    X0 = torch.rand(n, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(seed)) * 8 - 4
    return Batch(compile_objective(text), [settings], torch.zeros(n, dtype=torch.long), X0)


def _outcome(b: Batch) -> list:
    return [(r.status, r.stop_rule, r.nit, r.nfev, r.message, r.x, r.best) for r in b.results(range(b.B))]


@pytest.mark.parametrize("settings", [
    Settings(lr=2e-3, max_iter=300),  # rows converge, stall, blow up and overflow at different iterations
    Settings(method="lbfgs", max_iter=60, gtol=1e-9),
    Settings(line_search="armijo", lr=1.0, max_iter=80),
    Settings(method="adam", lr=0.05, max_iter=200, ftol=1e-12, bounds={"x": (-2.0, 2.0)}),
])
def test_letting_stopped_rows_go_changes_no_result(settings, monkeypatch):
    kept = _batch(ROSEN, settings, 64)
    monkeypatch.setattr(engine, "COMPACT", 0.0)  # never let go
    list(kept)
    monkeypatch.undo()
    let_go = _batch(ROSEN, settings, 64)
    held = [s.rows is not None for s in let_go]
    assert _outcome(let_go) == _outcome(kept)
    assert torch.equal(let_go.X, kept.X)
    if settings.method == "gd" and settings.line_search == "none":  # rows stopped at different times: it did shrink
        assert any(held)


def test_a_consumer_that_stops_listening_leaves_every_point_in_the_state():
    b = _batch("(x-1)**2 + (y+2)**2", Settings(lr=0.2, max_iter=500), 32)
    for step in b:
        if step.k == 3:
            break
    assert b.X.shape == (32, 2) and bool(torch.isfinite(b.X).all())
    alone = _batch("(x-1)**2 + (y+2)**2", Settings(lr=0.2, max_iter=4, eps=0), 32)
    list(alone)
    assert torch.equal(b.X, alone.X)


def test_a_row_whose_f_runs_to_minus_infinity_keeps_its_last_finite_point_as_best():
    b = Batch(compile_objective("-exp(x)"), [Settings(lr=50.0)], torch.zeros(12, dtype=torch.long),
              torch.linspace(-2, 2, 12, dtype=torch.float64).unsqueeze(1))
    list(b)
    for r in b.results(range(12)):
        assert r.status.value == "diverged" and r.best is not None and r.best.fun > -float("inf")
