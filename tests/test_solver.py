"""The descent loop: the tutorial number for number, known minima, divergence."""

from __future__ import annotations

import math

import pytest
import torch

from gdsolve.objective import compile_objective
from gdsolve.settings import Settings
from gdsolve.solver import Descent
from gdsolve.status import Status, StopRule


def run(text, x0, **kw):
    d = Descent(compile_objective(text), Settings(**kw), x0)
    steps = list(d)
    return steps, d.result()


def test_tutorial_single_step():
    # Tutorial cell 7: x = 0.2121, grad -7.5758, x - lr*grad = 0.9697.
    steps, _ = run("(x-4)**2", {"x": 0.2121}, dtype="float32", max_iter=2)
    assert round(steps[0].grad[0], 4) == -7.5758
    assert round(steps[1].x[0], 4) == 0.9697


def test_tutorial_converges_to_four():
    # Tutorial cell 8: from x0 = 0.7421 the run converges to 4.0000.
    _, r = run("(x-4)**2", {"x": 0.7421}, dtype="float32")
    assert f"{r.x['x']:.4f}" == "4.0000"
    assert r.status is Status.CONVERGED and r.stop_rule is StopRule.EPS


def test_same_iterates_as_tutorial_loop(tutorial):
    xs, n = tutorial(0.7421)
    steps, r = run("(x-4)**2", {"x": 0.7421}, dtype="float32")
    ours = [s.x[0] for s in steps[1:]] + [r.x["x"]]
    assert r.nit == n
    assert ours == pytest.approx(xs, abs=1e-6)


@pytest.mark.parametrize(
    ("text", "x0", "kw", "xmin", "fmin", "tol"),
    [
        ("(x-4)**2", {"x": 0.5}, {}, {"x": 4}, 0.0, 1e-4),
        ("(1-x)**2 + 100*(y-x^2)**2", {"x": -1, "y": 1}, {"lr": 0.001, "max_iter": 20000}, {"x": 1, "y": 1}, 0.0, 2e-2),
        ("(x + 2*y - 7)**2 + (2*x + y - 5)**2", {"x": 0, "y": 0}, {"lr": 0.05, "max_iter": 2000}, {"x": 1, "y": 3}, 0.0, 1e-4),
        ("(x**2 + y - 11)**2 + (x + y**2 - 7)**2", {"x": 0, "y": 0}, {"lr": 0.01, "max_iter": 2000}, {"x": 3, "y": 2}, 0.0, 1e-4),
        ("0.26*(x**2 + y**2) - 0.48*x*y", {"x": 3, "y": -2}, {"lr": 1.0, "max_iter": 5000}, {"x": 0, "y": 0}, 0.0, 1e-3),
        ("x1**2 + 2*x2**2 + 3*x3**2 + 4*x4**2 + 5*x5**2", {f"x{i}": 1 for i in range(1, 6)}, {"lr": 0.05, "max_iter": 2000},
         {f"x{i}": 0 for i in range(1, 6)}, 0.0, 1e-4),
    ],
    ids=["quadratic", "rosenbrock", "booth", "himmelblau", "matyas", "ellipsoid5"],
)
def test_known_minima(text, x0, kw, xmin, fmin, tol):
    _, r = run(text, x0, **kw)
    assert r.status is Status.CONVERGED, r.message
    for k, v in xmin.items():
        assert r.x[k] == pytest.approx(v, abs=tol)
    assert r.fun == pytest.approx(fmin, abs=tol)


def test_maximize_reports_true_objective():
    d = Descent(compile_objective("-(x-1)**2 - (y+2)**2 + 3", maximize=True), Settings(), {"x": 0, "y": 0})
    list(d)
    r = d.result()
    assert r.fun == pytest.approx(3.0, abs=1e-9) and r.sense == "maximize"
    assert r.x["x"] == pytest.approx(1, abs=1e-4) and r.x["y"] == pytest.approx(-2, abs=1e-4)
    assert r.grad["x"] == pytest.approx(-2 * (r.x["x"] - 1))  # gradient of f itself, not of -f


def test_max_iter_status_and_nit():
    _, r = run("(x-4)**2", {"x": 0}, max_iter=5)
    assert r.status is Status.MAX_ITER and r.nit == 5 and not r.success
    assert "max-iter 5" in r.message


def test_eps_zero_runs_all_iterations():
    steps, r = run("(x-4)**2", {"x": 0}, eps=0.0, max_iter=300)
    assert len(steps) == 300 and r.nit == 300 and r.status is Status.MAX_ITER


def test_random_start_is_seeded_and_reported():
    _, a = run("(x-1)**2 + y**2", None, seed=7)
    _, b = run("(x-1)**2 + y**2", None, seed=7)
    _, c = run("(x-1)**2 + y**2", None, seed=8)
    assert a.x0 == b.x0 and a.x0 != c.x0 and a.seed == 7


@pytest.mark.parametrize(
    ("text", "x0", "kw", "where"),
    [
        ("log(x)", {"x": 0.5}, {"lr": 1.0}, "iteration"),  # steps to x < 0
        ("1/x", {"x": 0.0}, {}, "iteration 0"),
        ("exp(1000*x)", {"x": 1.0}, {}, "iteration 0"),
        ("sqrt(x)", {"x": -1.0}, {}, "start point"),
    ],
)
def test_nonfinite_is_a_result(text, x0, kw, where):
    _, r = run(text, x0, **kw)
    assert r.status is Status.DIVERGED and r.stop_rule is StopRule.NONFINITE
    assert where in r.message


def test_blowup_detected_before_overflow():
    _, r = run("x**2", {"x": 1.0}, lr=1.5, max_iter=10000)
    assert r.status is Status.DIVERGED and r.stop_rule is StopRule.BLOWUP
    assert r.nit < 100 and "try a smaller --lr" in r.message


def test_best_point_tracked():
    _, r = run("x**2", {"x": 1.0}, lr=1.5, max_iter=10000)
    assert r.best.k == 0 and r.best.fun == 1.0


def test_float32_state():
    d = Descent(compile_objective("(x-4)**2"), Settings(dtype="float32"), {"x": 0.0})
    assert d.X.dtype == torch.float32
    list(d)
    assert math.isclose(d.result().x["x"], 4.0, abs_tol=1e-4)
