"""The batched engine: the same iterates as the single-start loop at B = 1, and rows that are truly independent."""

from __future__ import annotations

import pytest
import torch

from gdsolve.api.solve import prepare
from gdsolve.core.settings import Settings
from gdsolve.engine import loop as engine
from gdsolve.engine.loop import Batch
from gdsolve.formula.objective import compile_objective

ROSEN = "(1-x)**2 + 100*(y-x^2)**2"
MATRIX = [
    ("(x-4)**2", {}, {"x": 0.7421}),
    (ROSEN, {"lr": 0.001, "max_iter": 400}, {"x": -1, "y": 1}),
    (ROSEN, {"method": "lbfgs"}, {"x": -1.2, "y": 1}),
    ("(x^2+y-11)^2+(x+y^2-7)^2", {"method": "lbfgs", "history_size": 3}, {"x": 1, "y": 1.5}),
    (ROSEN, {"method": "momentum", "max_iter": 200}, {"x": -1, "y": 1}),
    (ROSEN, {"method": "nesterov", "max_iter": 200}, {"x": -1, "y": 1}),
    (ROSEN, {"method": "adam", "lr": 0.01, "max_iter": 200, "weight_decay": 0.01}, {"x": -1, "y": 1}),
    (ROSEN, {"method": "adamw", "lr": 0.01, "max_iter": 200}, {"x": -1, "y": 1}),
    (ROSEN, {"method": "rmsprop", "max_iter": 200, "momentum": 0.5}, {"x": -1, "y": 1}),
    (ROSEN, {"method": "adagrad", "lr": 0.1, "max_iter": 200}, {"x": -1, "y": 1}),
    (ROSEN, {"line_search": "armijo", "lr": 1, "max_iter": 200}, {"x": -1, "y": 1}),
    (ROSEN, {"method": "momentum", "line_search": "armijo", "lr": 1, "max_iter": 200}, {"x": -1, "y": 1}),
    ("(x-4)**2 + y**2", {"schedule": "exponential", "gamma": 0.9}, {"x": 0, "y": 1}),
    ("(x-4)**2 + y**2", {"schedule": "cosine", "ftol": 1e-12}, {"x": 0, "y": 1}),
    ("log(x)", {"lr": 1}, {"x": 0.5}),
    ("exp(x)", {"lr": 1, "max_iter": 300}, {"x": 0.0}),
    (ROSEN, {"method": "lbfgs", "gtol": 1e-8, "bounds": {"x": (-2, 0.5)}}, {"x": -1.2, "y": 1}),
    ("abs(x) + abs(y)", {"lr": 0.05, "gtol": 1e-9}, {"x": 0.33, "y": -0.2}),
    ("-(x-1)**2 - (y+2)**2", {"target": -1e-8}, {"x": 0, "y": 0}),
]
OPTIONS = ("momentum", "beta1", "beta2", "weight_decay", "alpha", "history_size")


def _run(expr: str, kw: dict, x0: dict):
    kw = dict(kw)
    opts = {k: kw.pop(k) for k in list(kw) if k in OPTIONS}
    sense = "maximize" if expr.startswith("-(") else "minimize"
    d = prepare(expr, x0=x0, sense=sense, options=opts, **kw)
    return list(d), d.result()


@pytest.mark.parametrize(("expr", "kw", "x0"), MATRIX, ids=[f"{i}-{k.get('method', 'gd')}" for i, (_, k, _) in enumerate(MATRIX)])
def test_reading_values_back_whole_or_reduced_gives_the_same_run(expr: str, kw: dict, x0: dict, monkeypatch) -> None:
    # A small batch on the CPU reads its values back whole and tests the rules on them; a large one
    # reduces tensors first. The two ways must decide the same stops at the same iterations.
    steps, r = _run(expr, kw, x0)
    monkeypatch.setattr(engine, "HOST_ROWS", 0)
    steps2, r2 = _run(expr, kw, x0)
    assert [s.x for s in steps] == [s.x for s in steps2]
    assert [s.step_norm for s in steps] == pytest.approx([s.step_norm for s in steps2], rel=1e-15, nan_ok=True)
    assert (r.status, r.stop_rule, r.nit, r.nfev, r.ngev, r.message, r.x, r.best) == \
        (r2.status, r2.stop_rule, r2.nit, r2.nfev, r2.ngev, r2.message, r2.x, r2.best)


def test_rows_freeze_when_they_stop() -> None:
    obj = compile_objective("(x-4)**2")
    X0 = torch.tensor([[3.9999], [-50.0], [4.0]], dtype=torch.float64)
    b = Batch(obj, [Settings()], torch.zeros(3, dtype=torch.long), X0)
    frozen_at: dict[int, float] = {}
    for bs in b:
        for i in range(3):
            if i in frozen_at:
                assert float(b.X[i, 0]) == frozen_at[i]  # never moves again
            elif int(bs.code[i]):
                frozen_at[i] = float(b.X[i, 0])
    assert [r.value for r in b.rules()] == ["eps", "eps", "eps"]
    assert int(b.state.nit[2]) < int(b.state.nit[0]) < int(b.state.nit[1])


def test_a_diverging_row_does_not_stop_or_poison_the_others() -> None:
    obj = compile_objective("x - log(x)")  # minimum at x = 1; nan where x < 0
    X0 = torch.tensor([[2.0], [-1.0], [0.5]], dtype=torch.float64)
    s = Settings(method="gd", lr=0.1, max_iter=500, eps=1e-10)
    b = Batch(obj, [s], torch.zeros(3, dtype=torch.long), X0)
    list(b)
    results = b.results(range(3))
    assert results[1].status.value == "diverged" and "at iteration 0" in results[1].message
    for r in (results[0], results[2]):
        assert r.status.value == "converged" and abs(r.x["x"] - 1) < 1e-6
    alone = Batch(obj, [s], torch.zeros(1, dtype=torch.long), X0[:1])
    list(alone)
    assert torch.equal(alone.X[0], b.X[0])


def test_sweep_rows_equal_the_same_settings_run_one_at_a_time() -> None:
    obj = compile_objective(ROSEN)
    combos = [Settings(method="momentum", lr=lr, options={"momentum": m}, max_iter=300)
              for lr in (0.001, 0.0005) for m in (0.5, 0.9)]
    X0 = torch.tensor([[-1.0, 1.0]] * 4, dtype=torch.float64)
    b = Batch(obj, combos, torch.arange(4), X0)
    list(b)
    for i, s in enumerate(combos):
        d = prepare(ROSEN, x0={"x": -1, "y": 1}, method="momentum", lr=s.lr, options=dict(s.options), max_iter=300)
        list(d)
        r = d.result()
        assert b.X[i].tolist() == list(r.x.values()) and int(b.state.nit[i]) == r.nit


def test_interrupt_stops_every_row_after_the_current_iteration() -> None:
    obj = compile_objective("(x-4)**2")
    b = Batch(obj, [Settings(max_iter=1000, eps=0)], torch.zeros(5, dtype=torch.long),
              torch.linspace(-5, 5, 5, dtype=torch.float64).unsqueeze(1))
    for bs in b:
        if bs.k == 6:
            b.stop_requested = True
    assert {r.value for r in b.rules()} == {"interrupted"}
    assert b.state.nit.tolist() == [7] * 5
    r = b.result(0)
    assert r.status.value == "interrupted" and r.best is not None


def test_a_finished_batch_refuses_a_second_pass() -> None:
    b = Batch(compile_objective("x**2"), [Settings()], torch.zeros(1, dtype=torch.long), torch.ones(1, 1))
    list(b)
    with pytest.raises(Exception, match="already been iterated"):
        list(b)


@pytest.mark.parametrize("rows", [1, 5])
def test_the_direct_gradient_is_autograds(rows: int) -> None:
    from gdsolve.engine.loop import gradient_of

    obj = compile_objective("sin(x)*y**2 + exp(-x*y)")
    X = torch.rand(rows, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(1)) * 4 - 2
    seed = torch.ones(rows, dtype=torch.float64)
    got = [gradient_of(compiled)(obj(Xg), Xg, seed) for compiled in (False, True)
           for Xg in [X.clone().requires_grad_(True)]]
    Xg = X.clone().requires_grad_(True)
    (expected,) = torch.autograd.grad(obj(Xg), Xg, seed)
    assert torch.equal(got[0], expected) and torch.equal(got[1], expected)
