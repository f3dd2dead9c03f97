"""Badly scaled problems with the default settings: lbfgs with its automatic scaling, without it, and scipy.

Each problem has variables whose natural sizes (or curvatures) differ by many
orders of magnitude, as a first model written without rescaling has: a
logistic regression on an income column in dollars, a quadratic whose
curvatures span 1e8, Rosenbrock with one variable in other units, NIST's
Misra1a (an exponential rise with a rate near 1e-4) written as a sum of
squares. Every solver starts from the same point with its default settings:

* ``gdsolve lbfgs``: ``minimize(..., method="lbfgs")``, which rescales the
  variables by the Hessian's diagonal at the start (``scale="auto"``);
* ``gdsolve lbfgs, scale none``: the same without it (the path before scaling);
* ``scipy L-BFGS-B``: ``scipy.optimize.minimize(method="L-BFGS-B")`` with the
  exact gradient (autograd), its defaults (scipy is a benchmark-only extra:
  ``pip install -e ".[bench]"``).

scipy's status is its own ``success`` flag. ``error`` is the largest relative error of a variable against the known
minimum (NIST's certified values; Newton's method to convergence for the
logistic regressions); ``f - f*`` the excess objective. Run::

    python benchmarks/scaling.py            # the table, in Markdown
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
from scipy.optimize import minimize as sp_minimize

from gdsolve import minimize
from gdsolve.formula.objective import compile_objective

ROOT = Path(__file__).resolve().parent


def logistic_data(n: int, columns: dict[str, tuple[float, float]], coef: dict[str, float],
                  seed: int) -> dict[str, list[float]]:
    """Covariates drawn uniformly in their ranges, and y ~ Bernoulli(sigmoid(b0 + sum b_j x_j))."""
    rng = np.random.default_rng(seed)
    data = {name: rng.uniform(lo, hi, n) for name, (lo, hi) in columns.items()}
    eta = coef["b0"] + sum(coef[name] * data[name] for name in columns)
    data["y"] = (rng.uniform(size=n) < 1 / (1 + np.exp(-eta))).astype(float)
    return {k: v.tolist() for k, v in data.items()}


def logistic_minimum(data: dict[str, list[float]], columns: list[str]) -> np.ndarray:
    """The maximum-likelihood coefficients (intercept first) by Newton's method on standardized columns."""
    X = np.column_stack([np.asarray(data[c]) for c in columns])
    mu, sd = X.mean(0), X.std(0)
    A = np.column_stack([np.ones(len(X)), (X - mu) / sd])
    y = np.asarray(data["y"])
    beta = np.zeros(A.shape[1])
    for _ in range(100):
        p = 1 / (1 + np.exp(-A @ beta))
        step = np.linalg.solve(A.T @ (A * (p * (1 - p))[:, None]), A.T @ (y - p))
        beta += step
        if np.max(np.abs(step)) < 1e-15:
            break
    slopes = beta[1:] / sd
    return np.concatenate([[beta[0] - slopes @ mu], slopes])


def misra1a() -> dict[str, list[float]]:
    rows = [line.split() for line in (ROOT / "nist_strd" / "Misra1a.dat").read_text().split("Data:")[-1].splitlines()[1:]]
    rows = [r for r in rows if r]
    return {"y": [float(r[0]) for r in rows], "x": [float(r[1]) for r in rows]}


def problems() -> list[tuple[str, str, dict | None, dict[str, float], dict[str, float]]]:
    """``(name, formula, data, start, minimum)``."""
    one = logistic_data(200, {"income": (2e4, 1e5)}, {"b0": -3.0, "income": 5e-5}, seed=0)
    m1 = logistic_minimum(one, ["income"])
    two = logistic_data(500, {"age": (20, 70), "income": (2e4, 1.5e5)},
                        {"b0": -4.0, "age": 0.03, "income": 3e-5}, seed=1)
    m2 = logistic_minimum(two, ["age", "income"])
    nll1 = "sum(log(1+exp(b0 + b1*income)) - y*(b0 + b1*income))"
    nll2 = "sum(log(1+exp(b0 + b1*age + b2*income)) - y*(b0 + b1*age + b2*income))"
    curv = [10 ** (8 * i / 9) for i in range(10)]
    quad = " + ".join(f"{c:.6g}*(x{i}-1)**2" for i, c in enumerate(curv)) + " + (" + "+".join(
        f"x{i}" for i in range(10)) + " - 10)**2"
    return [
        ("logistic, income in dollars (n=200)", nll1, one, {"b0": 0.0, "b1": 0.0}, {"b0": m1[0], "b1": m1[1]}),
        ("logistic, age and income (n=500)", nll2, two, {"b0": 0.0, "b1": 0.0, "b2": 0.0},
         {"b0": m2[0], "b1": m2[1], "b2": m2[2]}),
        ("quadratic, curvatures 1 to 1e8 (d=10)", quad, None, {f"x{i}": 0.0 for i in range(10)},
         {f"x{i}": 1.0 for i in range(10)}),
        ("Rosenbrock, y in thousandths", "(1-x)**2 + 100*(y/1000 - x**2)**2", None, {"x": -1.2, "y": 1000.0},
         {"x": 1.0, "y": 1000.0}),
        ("Misra1a as a sum of squares (NIST start 1)", "sum((y - b1*(1-exp(-b2*x)))**2)", misra1a(),
         {"b1": 500.0, "b2": 1e-4}, {"b1": 2.3894212918e02, "b2": 5.5015643181e-04}),
    ]


def scipy_run(formula: str, data: dict | None, start: dict[str, float]) -> tuple[str, int, np.ndarray]:
    objective = compile_objective(formula, data=data)

    def fun(v: np.ndarray) -> tuple[float, np.ndarray]:
        X = torch.tensor(v[None, :], dtype=torch.float64, requires_grad=True)
        F = objective(X).sum()
        (G,) = torch.autograd.grad(F, X)
        return float(F.detach()), G[0].numpy().copy()

    names = objective.variables
    r = sp_minimize(fun, np.array([start[n] for n in names]), jac=True, method="L-BFGS-B")
    return ("success" if r.success else "failure"), int(r.nit), r.x


def main() -> None:
    print("| problem | solver | status | iterations | error | f - f* |")
    print("| --- | --- | --- | ---: | ---: | ---: |")
    for name, formula, data, start, best in problems():
        objective = compile_objective(formula, data=data)
        names = objective.variables
        xstar = np.array([best[n] for n in names])
        fstar = float(objective(torch.tensor(xstar[None, :], dtype=torch.float64)).sum())
        rows = []
        for label, kw in (("gdsolve lbfgs", {}), ("gdsolve lbfgs, scale none", {"scale": "none"})):
            r = minimize(formula, x0=start, data=data, method="lbfgs", **kw)
            rows.append((label, r.status.value, r.nit, np.array([r.x[n] for n in names]), r.fun))
        status, nit, x = scipy_run(formula, data, start)
        rows.append(("scipy L-BFGS-B", status, nit, x,
                     float(objective(torch.tensor(x[None, :], dtype=torch.float64)).sum())))
        for i, (label, status, nit, x, f) in enumerate(rows):
            error = float(np.max(np.abs(x - xstar) / np.abs(xstar)))
            excess = f - fstar if math.isfinite(f) else math.inf
            print(f"| {name if i == 0 else ''} | {label} | {status} | {nit} | {error:.1e} | {excess:.1e} |")


if __name__ == "__main__":
    main()
