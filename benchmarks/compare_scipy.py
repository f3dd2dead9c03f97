"""gdsolve's methods against scipy.optimize.minimize (BFGS, L-BFGS-B), side by side.

Same problems, same start points, in one run. Prints iterations, function
evaluations, final error ``max|x - x*|`` and wall time. scipy is a
benchmark-only dependency: ``pip install -e ".[bench]"``.

Run: ``python benchmarks/compare_scipy.py``
"""

from __future__ import annotations

import time

import numpy as np
import sympy
from scipy.optimize import minimize as sp_minimize

from gdsolve import minimize
from gdsolve.formula.parse import parse_expression

PROBLEMS = {
    "rosenbrock": ("(1-x)**2 + 100*(y-x^2)**2", (1, 1), (-1.2, 1.0)),
    "booth": ("(x + 2*y - 7)**2 + (2*x + y - 5)**2", (1, 3), (0.0, 0.0)),
    "beale": ("(1.5 - x + x*y)**2 + (2.25 - x + x*y**2)**2 + (2.625 - x + x*y**3)**2", (3, 0.5), (1.0, 1.0)),
    "himmelblau": ("(x**2 + y - 11)**2 + (x + y**2 - 7)**2", (3, 2), (1.0, 1.5)),
}
OURS = {
    "gd+armijo": {"method": "gd", "line_search": "armijo", "lr": 1.0},
    "momentum+armijo": {"method": "momentum", "line_search": "armijo", "lr": 1.0},
    "adam lr 0.01": {"method": "adam", "lr": 0.01},
    "lbfgs": {"method": "lbfgs"},
}


def main() -> None:
    print(f"{'problem':11s} {'solver':18s} {'nit':>6s} {'nfev':>6s} {'error':>9s} {'time ms':>8s}")
    for name, (text, xmin, x0) in PROBLEMS.items():
        p = parse_expression(text)
        f = sympy.lambdify(p.symbols, p.expr, "numpy")
        grads = [sympy.lambdify(p.symbols, sympy.diff(p.expr, s), "numpy") for s in p.symbols]
        for method in ("BFGS", "L-BFGS-B"):
            t = time.perf_counter()
            r = sp_minimize(lambda v, f=f: f(*v), np.array(x0), jac=lambda v, gs=grads: np.array([g(*v) for g in gs]),
                            method=method, options={"gtol": 1e-6})
            ms = (time.perf_counter() - t) * 1e3
            err = float(np.max(np.abs(r.x - np.array(xmin))))
            print(f"{name:11s} {'scipy ' + method:18s} {r.nit:6d} {r.nfev:6d} {err:9.1e} {ms:8.1f}")
        for label, kw in OURS.items():
            t = time.perf_counter()
            r = minimize(text, x0=dict(zip(("x", "y"), x0)), max_iter=20000, gtol=1e-6, eps=0.0, **kw)
            ms = (time.perf_counter() - t) * 1e3
            err = max(abs(r.x["x"] - xmin[0]), abs(r.x["y"] - xmin[1]))
            print(f"{name:11s} {'gdsolve ' + label:18s} {r.nit:6d} {r.nfev:6d} {err:9.1e} {ms:8.1f}")


if __name__ == "__main__":
    main()
