"""Global minimization: gdsolve --starts against scipy's global methods, side by side.

    python benchmarks/compare_global.py              # every problem, 2 to 10 variables
    python benchmarks/compare_global.py --quick      # the 2-variable ones
    python benchmarks/compare_global.py --runs 256,64:100   # gdsolve runs: STARTS or STARTS:HOPS

On classic multimodal test functions (the virtual library of Surjanovic &
Bingham, https://www.sfu.ca/~ssurjano/optimization.html: Ackley, Rastrigin,
Griewank, Levy, Schwefel, Michalewicz, Styblinski-Tang, Shubert, Eggholder,
Holder table, Cross-in-tray, Easom) in their usual boxes, it runs:

* gdsolve ``--starts N --method lbfgs --bounds ...`` (one batch, seed 0),
  and with ``--hops K`` (basin hopping: every start a chain, all chains in
  one tensor);
* scipy ``basinhopping`` (100 hops of L-BFGS-B, from the box centre's
  neighbourhood: a random point, seed 0), ``differential_evolution``
  (defaults, seed 0), and a loop of L-BFGS-B from 256 uniform random starts.

Success: ``|f - f*| <= 1e-4 * max(1, |f*|)``. Evaluations count every f
(with gradient, for the gradient methods) the method asked for; times are
wall-clock on this machine. scipy is a benchmark-only dependency
(``pip install -e ".[bench]"``).
"""

from __future__ import annotations

import argparse
import math
import sys
import time

import numpy as np

sys.path.insert(0, ".")

from gdsolve import minimize

PI = math.pi


def _sum(d: int, term: str) -> str:
    return " + ".join("(" + term.replace("X", f"x{i}").replace("I", str(i)) + ")" for i in range(1, d + 1))


def ackley(d: int) -> tuple[str, callable]:
    text = (f"-20*exp(-0.2*sqrt(({_sum(d, 'X**2')})/{d})) - exp(({_sum(d, 'cos(2*pi*X)')})/{d}) + 20 + E")

    def f(x):
        return -20 * np.exp(-0.2 * np.sqrt(np.mean(x ** 2))) - np.exp(np.mean(np.cos(2 * PI * x))) + 20 + math.e
    return text, f


def rastrigin(d: int):
    return f"{10 * d} + " + _sum(d, "X**2 - 10*cos(2*pi*X)"), lambda x: 10 * d + np.sum(x ** 2 - 10 * np.cos(2 * PI * x))


def griewank(d: int):
    prod = "*".join(f"cos(x{i}/sqrt({i}))" for i in range(1, d + 1))

    def f(x):
        return 1 + np.sum(x ** 2) / 4000 - np.prod(np.cos(x / np.sqrt(np.arange(1, d + 1))))
    return f"1 + ({_sum(d, 'X**2')})/4000 - {prod}", f


def levy(d: int):
    w = [f"(1 + (x{i} - 1)/4)" for i in range(1, d + 1)]
    mid = " + ".join(f"({w[i]} - 1)**2*(1 + 10*sin(pi*{w[i]} + 1)**2)" for i in range(d - 1))
    text = f"sin(pi*{w[0]})**2 + {mid} + ({w[-1]} - 1)**2*(1 + sin(2*pi*{w[-1]})**2)"

    def f(x):
        wv = 1 + (x - 1) / 4
        return (np.sin(PI * wv[0]) ** 2 + np.sum((wv[:-1] - 1) ** 2 * (1 + 10 * np.sin(PI * wv[:-1] + 1) ** 2))
                + (wv[-1] - 1) ** 2 * (1 + np.sin(2 * PI * wv[-1]) ** 2))
    return text, f


def schwefel(d: int):
    return (f"{418.9828872724338 * d!r} - (" + _sum(d, "X*sin(sqrt(abs(X)))") + ")",
            lambda x: 418.9828872724338 * d - np.sum(x * np.sin(np.sqrt(np.abs(x)))))


def michalewicz(d: int):
    return ("-(" + _sum(d, "sin(X)*sin(I*X**2/pi)**20") + ")",
            lambda x: -np.sum(np.sin(x) * np.sin(np.arange(1, d + 1) * x ** 2 / PI) ** 20))


def styblinski(d: int):
    return "0.5*(" + _sum(d, "X**4 - 16*X**2 + 5*X") + ")", lambda x: 0.5 * np.sum(x ** 4 - 16 * x ** 2 + 5 * x)


def shubert(d: int):
    parts = ["(" + " + ".join(f"{j}*cos({j + 1}*x{i} + {j})" for j in range(1, 6)) + ")" for i in range(1, d + 1)]

    def f(x):
        j = np.arange(1, 6)
        return np.prod([np.sum(j * np.cos((j + 1) * xi + j)) for xi in x])
    return "*".join(parts), f


def eggholder(d: int):
    text = "-(x2 + 47)*sin(sqrt(abs(x2 + x1/2 + 47))) - x1*sin(sqrt(abs(x1 - (x2 + 47))))"
    return text, lambda x: (-(x[1] + 47) * np.sin(np.sqrt(abs(x[1] + x[0] / 2 + 47)))
                            - x[0] * np.sin(np.sqrt(abs(x[0] - (x[1] + 47)))))


def holder(d: int):
    text = "-abs(sin(x1)*cos(x2)*exp(abs(1 - sqrt(x1**2 + x2**2)/pi)))"
    return text, lambda x: -abs(np.sin(x[0]) * np.cos(x[1]) * np.exp(abs(1 - np.sqrt(x[0] ** 2 + x[1] ** 2) / PI)))


def cross_in_tray(d: int):
    text = "-0.0001*(abs(sin(x1)*sin(x2)*exp(abs(100 - sqrt(x1**2 + x2**2)/pi))) + 1)**0.1"
    return text, lambda x: -0.0001 * (abs(np.sin(x[0]) * np.sin(x[1]) * np.exp(abs(100 - np.sqrt(x[0] ** 2 + x[1] ** 2) / PI))) + 1) ** 0.1


def easom(d: int):
    text = "-cos(x1)*cos(x2)*exp(-((x1 - pi)**2 + (x2 - pi)**2))"
    return text, lambda x: -np.cos(x[0]) * np.cos(x[1]) * np.exp(-((x[0] - PI) ** 2 + (x[1] - PI) ** 2))


# name, builder, dimensions, box, f* (per dimension where it depends on it)
PROBLEMS = [
    ("Ackley", ackley, (2, 5, 10), (-32.768, 32.768), lambda d: 0.0),
    ("Rastrigin", rastrigin, (2, 5, 10), (-5.12, 5.12), lambda d: 0.0),
    ("Griewank", griewank, (2, 5, 10), (-600.0, 600.0), lambda d: 0.0),
    ("Levy", levy, (2, 5, 10), (-10.0, 10.0), lambda d: 0.0),
    ("Schwefel", schwefel, (2, 5, 10), (-500.0, 500.0), lambda d: 0.0),
    ("Michalewicz", michalewicz, (2, 5, 10), (0.0, PI), {2: -1.8013034, 5: -4.687658, 10: -9.66015}.get),
    ("Styblinski-Tang", styblinski, (2, 5, 10), (-5.0, 5.0), lambda d: -39.16616570377142 * d),
    ("Shubert", shubert, (2,), (-10.0, 10.0), lambda d: -186.7309088),
    ("Eggholder", eggholder, (2,), (-512.0, 512.0), lambda d: -959.6406627),
    ("Holder table", holder, (2,), (-10.0, 10.0), lambda d: -19.2085026),
    ("Cross-in-tray", cross_in_tray, (2,), (-10.0, 10.0), lambda d: -2.0626118708),
    ("Easom", easom, (2,), (-100.0, 100.0), lambda d: -1.0),
]


def solved(f: float, fstar: float) -> bool:
    return math.isfinite(f) and abs(f - fstar) <= 1e-4 * max(1.0, abs(fstar))


def run_gdsolve(text: str, d: int, lo: float, hi: float, starts: int, method: str, hops: int) -> tuple[float, int, float]:
    bounds = {f"x{i}": (lo, hi) for i in range(1, d + 1)}
    t0 = time.perf_counter()
    r = minimize(text, starts=starts, method=method, bounds=bounds, max_iter=1000, seed=0, hops=hops,
                 lr=None if method == "lbfgs" else 0.01)
    return r.fun, r.total_nfev, time.perf_counter() - t0


def run_scipy(f, d: int, lo: float, hi: float, kind: str) -> tuple[float, int, float]:
    from scipy import optimize

    bounds = [(lo, hi)] * d
    rng = np.random.default_rng(0)
    count = [0]

    def fc(x):
        count[0] += 1
        return float(f(np.asarray(x)))

    t0 = time.perf_counter()
    if kind == "basinhopping":
        x0 = rng.uniform(lo, hi, d)
        res = optimize.basinhopping(fc, x0, niter=100, seed=0, stepsize=0.05 * (hi - lo),
                                    minimizer_kwargs={"method": "L-BFGS-B", "bounds": bounds})
        best = res.fun
    elif kind == "differential_evolution":
        best = optimize.differential_evolution(fc, bounds, seed=0).fun
    else:  # L-BFGS-B from 256 random starts
        best = math.inf
        for _ in range(256):
            best = min(best, optimize.minimize(fc, rng.uniform(lo, hi, d), method="L-BFGS-B", bounds=bounds).fun)
    return float(best), count[0], time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--runs", default="256,4096,64:100",
                    help="gdsolve runs: STARTS or STARTS:HOPS (basin hopping), comma-separated")
    ap.add_argument("--method", default="lbfgs")
    args = ap.parse_args()
    runs = [tuple(int(v) for v in spec.split(":")) for spec in args.runs.split(",")]
    solvers = [f"gdsolve {args.method} --starts {r[0]}" + (f" --hops {r[1]}" if len(r) > 1 else "") for r in runs] + [
        "scipy basinhopping", "scipy differential_evolution", "scipy L-BFGS-B x256"]
    wins = {s: 0 for s in solvers}
    total = 0
    print("| problem | d | solver | solved | f | f* | evaluations | s |")
    print("| --- | ---: | --- | :---: | ---: | ---: | ---: | ---: |")
    for name, build, dims, (lo, hi), fstar_of in PROBLEMS:
        for d in dims:
            if args.quick and d > 2:
                continue
            text, f = build(d)
            fstar = fstar_of(d)
            total += 1
            for solver in solvers:
                if solver.startswith("gdsolve"):
                    words = solver.split()
                    n = int(words[words.index("--starts") + 1])
                    h = int(words[words.index("--hops") + 1]) if "--hops" in words else 0
                    best, evals, wall = run_gdsolve(text, d, lo, hi, n, args.method, h)
                else:
                    best, evals, wall = run_scipy(f, d, lo, hi, solver.split(" ", 1)[1].split(" ")[0]
                                                  if "x256" not in solver else "multistart")
                ok = solved(best, fstar)
                wins[solver] += ok
                print(f"| {name} | {d} | {solver} | {'yes' if ok else 'no'} | {best:.6g} | {fstar:.6g} | "
                      f"{evals:,} | {wall:.2f} |", flush=True)
    print()
    print(f"solved, of {total} problems:")
    for solver, n in wins.items():
        print(f"  {solver}: {n}")


if __name__ == "__main__":
    main()
