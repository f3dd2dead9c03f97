"""Automatic scaling for lbfgs (gdsolve.optim.scaling): the factors, the scaled update, and runs that now converge.

Every reported quantity must stay in the user's variables: the result, each step given to a callback, the
trace; bounds hold on x; a row that is not badly scaled runs exactly as without scaling.
"""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from gdsolve import minimize, prepare
from gdsolve.api.solve import run
from gdsolve.core.errors import OptionError
from gdsolve.core.status import Status
from gdsolve.formula.objective import compile_objective
from gdsolve.optim import rowlbfgs, scaling

ROOT = Path(__file__).resolve().parent.parent
MISRA = str(ROOT / "examples" / "misra1a.csv")
MISRA_SSR = "sum((y - b1*(1-exp(-b2*x)))**2)"
MISRA_CERTIFIED = {"b1": 2.3894212918e02, "b2": 5.5015643181e-04}
ROSEN_THOUSANDTHS = "(1-x)**2 + 100*(y/1000 - x**2)**2"  # Rosenbrock with y in other units: minimum (1, 1000)
ROSEN = "(1-x)**2 + 100*(y-x**2)**2"
NLL = "sum(log(1+exp(b0 + b1*income)) - y*(b0 + b1*income))"


@pytest.fixture(scope="module")
def income() -> tuple[dict[str, list[float]], dict[str, float]]:
    """A logistic regression on an income column in dollars, and its maximum-likelihood coefficients
    (Newton's method on the standardized column, to convergence)."""
    rng = np.random.default_rng(0)
    inc = rng.uniform(2e4, 1e5, 200)
    y = (rng.uniform(size=200) < 1 / (1 + np.exp(3 - 5e-5 * inc))).astype(float)
    mu, sd = inc.mean(), inc.std()
    A = np.column_stack([np.ones(200), (inc - mu) / sd])
    beta = np.zeros(2)
    for _ in range(50):
        p = 1 / (1 + np.exp(-A @ beta))
        beta += np.linalg.solve(A.T @ (A * (p * (1 - p))[:, None]), A.T @ (y - p))
    return {"income": inc.tolist(), "y": y.tolist()}, {"b0": beta[0] - beta[1] * mu / sd, "b1": beta[1] / sd}


# --- the factors ---------------------------------------------------------------------------------------------

def test_hessian_is_autograds_and_its_diagonal_the_same():
    f = compile_objective("x**2*y + 3*y**3")
    X = torch.tensor([[1.0, 2.0], [-1.0, 0.5]], dtype=torch.float64)
    F, G, H = scaling.hessian(f, X)
    x, y = X[:, 0], X[:, 1]
    expected = torch.stack([torch.stack([2 * y, 2 * x], 1), torch.stack([2 * x, 18 * y], 1)], 1)
    assert torch.allclose(H, expected, rtol=1e-12)
    assert torch.allclose(G, torch.stack([2 * x * y, x**2 + 9 * y**2], 1), rtol=1e-12)
    assert torch.allclose(F, x**2 * y + 3 * y**3, rtol=1e-12)
    assert torch.allclose(scaling.hessian(f, X, diagonal=True)[2], torch.diagonal(H, dim1=1, dim2=2))


def test_factors_are_powers_of_two_giving_unit_curvature():
    h = torch.tensor([[2.0, 3e6, 50.0]], dtype=torch.float64)
    D = scaling.factors(h)
    e = torch.log2(D)
    assert torch.equal(e, torch.round(e))  # x / D * D is exact
    # within a factor sqrt(2) of 1/sqrt(h): the curvature in z, D**2 h, is within a factor 2 of 1 (ends included)
    assert bool(((D**2 * h >= 0.5) & (D**2 * h <= 2.0)).all())


def test_a_row_whose_curvatures_differ_by_less_than_the_spread_is_not_scaled():
    h = torch.tensor([[1.0, 0.9 * scaling.SPREAD], [1.0, 1.1 * scaling.SPREAD]], dtype=torch.float64)
    D = scaling.factors(h)
    assert D is not None and D[0].tolist() == [1.0, 1.0] and D[1].tolist() != [1.0, 1.0]
    assert scaling.factors(h[:1]) is None  # no row scaled: no scaling at all


def test_a_variable_without_curvature_gets_the_rows_typical_factor():
    D = scaling.factors(torch.tensor([[4.0, 0.0, 4.0**7, math.nan]], dtype=torch.float64))
    assert D is not None
    assert D[0].tolist() == [0.5, 2.0**-4, 2.0**-7, 2.0**-4]  # the mean exponent of the others, -4


def test_one_variable_or_no_second_derivative_means_no_scaling():
    assert scaling.initial(compile_objective("1e8*x**2"), torch.tensor([[1.0]], dtype=torch.float64)) is None
    linear = compile_objective("x + 1e8*y")  # no curvature anywhere: nothing to scale by
    assert scaling.initial(linear, torch.tensor([[1.0, 1.0]], dtype=torch.float64)) is None


def test_more_than_max_variables_are_not_scaled():
    n = scaling.MAX_VARIABLES + 1
    data = {"s": [10.0 ** (8 * i / n) for i in range(n)]}
    r = minimize("sum(s*(w-1)**2)", data=data, shape={"w": n}, x0={"w": 0}, method="lbfgs", max_iter=1)
    assert r.scaling is None
    r = minimize("sum(s*(w-1)**2)", data={"s": [1.0, 1e4, 1e8]}, shape={"w": 3}, x0={"w": 0}, method="lbfgs",
                 max_iter=1)
    assert r.scaling is not None  # the same kind of problem with three variables is


def test_the_scaled_update_gives_points_in_x_and_leaves_a_still_row_bit_for_bit():
    f = compile_objective("(x-1)**2 + 1e8*(y-2)**2")
    X = torch.tensor([[0.3, 0.7], [0.1, 0.1]], dtype=torch.float64)
    D = scaling.initial(f, X)
    assert D is not None
    Xg = X.clone().requires_grad_(True)
    F = f(Xg)
    (G,) = torch.autograd.grad(F.sum(), Xg)

    def evaluate(Xs: torch.Tensor, rows: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        Xs = Xs.detach().requires_grad_(True)
        Fs = f(Xs)
        return Fs.detach(), torch.autograd.grad(Fs.sum(), Xs)[0]

    active = torch.tensor([True, False])
    state = rowlbfgs.init(X, torch.tensor([10, 10]))
    out = scaling.update(state, X, G, F.detach(), 1.0, active, evaluate, D)
    assert torch.equal(out.X[1], X[1])  # the row that did not run keeps its x exactly
    assert float(f(out.X[:1])) < float(F[0].detach())  # the row that ran moved downhill, in x


# --- runs ---------------------------------------------------------------------------------------------------

def test_logistic_regression_on_dollars_converges_with_the_defaults(income):
    data, best = income
    r = minimize(NLL, x0={"b0": 0, "b1": 0}, data=data, method="lbfgs")
    assert r.status is Status.CONVERGED
    assert r.x["b0"] == pytest.approx(best["b0"], rel=1e-6) and r.x["b1"] == pytest.approx(best["b1"], rel=1e-6)
    assert r.scaling is not None and r.scaling["kind"] == "hessian-diagonal"
    old = minimize(NLL, x0={"b0": 0, "b1": 0}, data=data, method="lbfgs", scale="none")
    assert old.status is Status.STALLED and old.nit <= 3 and old.scaling is None  # the first try before


def test_misra1a_from_nists_first_start_reaches_the_certified_values():
    r = minimize(MISRA_SSR, x0={"b1": 500, "b2": 1e-4}, data=MISRA, method="lbfgs")
    assert r.status is Status.CONVERGED
    for name, value in MISRA_CERTIFIED.items():
        assert r.x[name] == pytest.approx(value, rel=1e-6)


def test_a_quadratic_with_curvatures_from_1_to_1e8_converges_in_fewer_iterations():
    text = " + ".join(f"{10 ** (8 * i / 9):.6g}*(x{i}-1)**2" for i in range(10)) + " + (" + "+".join(
        f"x{i}" for i in range(10)) + " - 10)**2"
    start = {f"x{i}": 0.0 for i in range(10)}
    r = minimize(text, x0=start, method="lbfgs")
    old = minimize(text, x0=start, method="lbfgs", scale="none")
    assert r.status is Status.CONVERGED and max(abs(v - 1) for v in r.x.values()) < 1e-6
    assert r.nit < old.nit / 2


def test_a_well_scaled_problem_runs_exactly_as_without_scaling():
    seen: dict[str, list] = {"auto": [], "none": []}
    for kind, steps in seen.items():
        r = minimize(ROSEN, x0={"x": -1.2, "y": 1}, method="lbfgs", scale=kind, callback=steps.append)
        assert r.scaling is None
    # every field of every step, to the bit (but the clock)
    assert [s._replace(elapsed=0) for s in seen["auto"]] == [s._replace(elapsed=0) for s in seen["none"]]


def test_steps_and_result_are_in_the_users_variables():
    steps: list = []
    r = minimize(ROSEN_THOUSANDTHS, x0={"x": -1.2, "y": 1000}, method="lbfgs", callback=steps.append)
    assert r.scaling is not None and r.scaling["factors"]["y"] > 1 > r.scaling["factors"]["x"]
    assert r.status is Status.CONVERGED and r.x["y"] == pytest.approx(1000, rel=1e-8)
    assert steps[0].x == (-1.2, 1000.0)
    f = compile_objective(ROSEN_THOUSANDTHS)
    for s in steps:  # f and the gradient each step reports are f's at the x it reports
        X = torch.tensor([s.x], dtype=torch.float64, requires_grad=True)
        F = f(X)
        (G,) = torch.autograd.grad(F.sum(), X)
        assert s.f == pytest.approx(float(F.detach()), rel=1e-12, abs=1e-300)
        assert s.grad == pytest.approx(tuple(G[0].tolist()), rel=1e-9, abs=1e-12)
    for a, b in itertools.pairwise(steps):  # the step norm is measured in x
        assert a.step_norm == pytest.approx(math.dist(a.x, b.x), rel=1e-9, abs=1e-15)


def test_bounds_hold_on_x_with_scaling():
    steps: list = []
    r = minimize(ROSEN_THOUSANDTHS, x0={"x": -1.2, "y": 1000}, method="lbfgs", bounds={"x": (-2, 0.5)},
                 callback=steps.append)
    assert r.scaling is not None and r.status is Status.CONVERGED
    assert r.x["x"] == 0.5 and r.x["y"] == pytest.approx(250, rel=1e-8) and r.active_bounds == {"x": "upper"}
    assert all(-2 <= s.x[0] <= 0.5 for s in steps)


def test_tensor_variables_are_scaled_per_element_and_the_json_nests_the_factors():
    r = minimize("sum(s*(w-c)**2)", data={"c": [1.0, 2.0, 3.0], "s": [1.0, 1e4, 1e8]}, shape={"w": 3},
                 x0={"w": 0}, method="lbfgs")
    assert r.status is Status.CONVERGED and r.x["w[2]"] == pytest.approx(3, rel=1e-9)
    factors = r.to_dict()["scaling"]["factors"]["w"]
    assert len(factors) == 3 and factors[0] > factors[1] > factors[2]


def test_a_batch_scales_each_row_and_its_trace_replays_the_same_path():
    descent = prepare(ROSEN_THOUSANDTHS, method="lbfgs", starts=6, bounds={"x": (-2, 2), "y": (-3000, 3000)})
    r = run(descent)
    assert r.status is Status.CONVERGED and r.scaling is not None
    assert r.rows is not None and r.rows["converged"] == 6
    best = descent.best_row
    replayed = [step for _, step in descent.replay([best])]
    alone: list = []  # the same start run alone computes its own factors: the same path
    x0 = dict(zip(("x", "y"), descent.batch.x0[best].tolist()))
    minimize(ROSEN_THOUSANDTHS, x0=x0, method="lbfgs", bounds={"x": (-2, 2), "y": (-3000, 3000)},
             callback=alone.append)
    assert len(replayed) == len(alone) and replayed[-1].x == pytest.approx(alone[-1].x, rel=1e-12)


def test_scale_auto_is_for_lbfgs_only():
    with pytest.raises(OptionError, match="applies to method lbfgs only"):
        minimize("(x-1)**2", scale="auto")
    r = minimize("(x-1)**2 + 1e8*(y-2)**2", x0={"x": 0, "y": 0}, lr=1e-9, max_iter=3)
    assert r.scaling is None and r.settings["scale"] == "none"  # gd's update stays x - lr * grad


def test_scale_must_be_auto_or_none():
    with pytest.raises(OptionError, match="scale must be one of auto, none"):
        minimize("(x-1)**2", method="lbfgs", scale="diagonal")


def test_a_large_batch_lets_stopped_rows_go_and_keeps_each_rows_factors():
    # 40 rows: the engine gathers the running rows as others stop, and the factors go with them
    r = minimize(ROSEN_THOUSANDTHS, method="lbfgs", starts=40, bounds={"x": (-2, 2), "y": (-3000, 3000)})
    assert r.rows is not None and r.rows["converged"] == 40
    assert r.x["x"] == pytest.approx(1, rel=1e-8) and r.x["y"] == pytest.approx(1000, rel=1e-8)
