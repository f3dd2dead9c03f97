"""What ``--verify`` adds to a run, measured side by side in one process.

For each formula: the same ``minimize`` with and without ``verify=True``
(best of 3 each), and the difference. The verify process starts with the
run, so on a formula sympy solves quickly most of its start-up is hidden;
on one with no closed form the difference is the budget.

    python benchmarks/bench_verify.py
"""

from __future__ import annotations

import time

from gdsolve import minimize

CASES = [
    ("Rosenbrock", "(1-x)**2 + 100*(y-x**2)**2", {"method": "lbfgs", "x0": [-1.2, 1.0]}),
    ("no closed form", "x**2 + exp(x) + sin(3*x)*cosh(x)", {"x0": 0.0}),
]


def best(expression: str, repeat: int = 3, **kw: object) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        result = minimize(expression, **kw)
        times.append(time.perf_counter() - t)
    return min(times), result


def main() -> None:
    minimize("x**2", x0=1)  # imports and first-call costs out of the way
    print(f"{'formula':16} {'plain':>9} {'--verify':>9} {'added':>9}  verify status")
    for name, expression, kw in CASES:
        plain, _ = best(expression, **kw)
        checked, result = best(expression, verify=True, **kw)
        print(f"{name:16} {plain:8.3f}s {checked:8.3f}s {checked - plain:8.3f}s  {result.verify['status']} "
              f"(budget 5 s; sympy's own time {result.verify['seconds']:.2f} s)")


if __name__ == "__main__":
    main()
