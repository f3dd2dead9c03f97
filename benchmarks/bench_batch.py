"""Many problems per process: ``gdsolve batch`` against separate ``gdsolve minimize`` invocations.

Goal (issue 9): the per-problem cost of a batch is at most 5% of one
invocation. Measured side by side in one run:

* 200 distinct problems (10 families of real test functions -- sphere,
  Booth, Matyas, Rosenbrock, Himmelblau, Beale, three-hump camel, a
  badly scaled quadratic, Styblinski-Tang, a shifted 3-variable bowl --
  each with 20 different constants, so no two formulas are the same and
  the formula cache saves nothing) through one ``gdsolve batch`` process;
* 10 of the same problems (every 20th), each through its own
  ``gdsolve minimize ... --json`` process.

Prints the wall time per problem of each, and the ratio. Both write JSON to
a pipe that is read and thrown away.

Run: ``python benchmarks/bench_batch.py`` (about half a minute on 2 cores).
"""

from __future__ import annotations

import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

N = int(os.environ.get("BENCH_PROBLEMS", "200"))
SEPARATE = 10
GDSOLVE = shutil.which("gdsolve", path=os.path.dirname(sys.executable)) or "gdsolve"


def problems(n: int, seed: int = 0) -> list[dict]:
    rng = random.Random(seed)
    families = [
        lambda a, b: {"expression": f"(x-{a})**2 + (y-{b})**2", "x0": [0, 0]},
        lambda a, b: {"expression": f"(x+2*y-7-{a})**2 + (2*x+y-5-{b})**2", "method": "lbfgs", "x0": [0, 0]},
        lambda a, b: {"expression": f"0.26*((x-{a})**2+(y-{b})**2) - 0.48*(x-{a})*(y-{b})", "method": "lbfgs", "x0": [1, 1]},
        lambda a, b: {"expression": f"({1 + a / 10}-x)**2 + 100*(y-x**2)**2", "method": "lbfgs", "x0": [-1.2, 1]},
        lambda a, b: {"expression": f"(x^2+y-11-{a / 10})^2+(x+y^2-7-{b / 10})^2", "method": "lbfgs", "x0": [0, 0]},
        lambda a, b: {"expression": f"(1.5-x+x*y)**2 + (2.25-x+x*y**2)**2 + (2.625-x+x*y**3)**2 + {a}",
                      "method": "lbfgs", "x0": [1, 0.5 + b / 100]},
        lambda a, b: {"expression": f"2*x**2 - 1.05*x**4 + x**6/6 + x*y + y**2 + {a}", "method": "lbfgs", "x0": [1 + b / 10, 1]},
        lambda a, b: {"expression": f"1e4*(x-{a})**2 + 1e-2*(y-{b})**2", "method": "adam", "lr": 0.5, "max_iter": 500},
        lambda a, b: {"expression": f"(x**4-16*x**2+5*x + y**4-16*y**2+5*y)/2 + {a}", "method": "lbfgs", "x0": [b / 10, 0]},
        lambda a, b: {"expression": f"(x-{a})**2 + (y-{b})**2 + (z-{a + b})**2", "lr": 0.2, "x0": [0, 0, 0]},
    ]
    out = []
    for i in range(n):
        a, b = round(rng.uniform(-3, 3), 3), round(rng.uniform(-3, 3), 3)
        out.append({"id": i, **families[i % len(families)](a, b)})
    return out


def argv(problem: dict) -> list[str]:
    """The same problem as a ``gdsolve minimize`` command line."""
    args = [GDSOLVE, "minimize", problem["expression"], "--json"]
    if "x0" in problem:
        args += ["--x0", ",".join(str(v) for v in problem["x0"])]
    for key in ("method", "lr", "max_iter"):
        if key in problem:
            args += ["--" + key.replace("_", "-"), str(problem[key])]
    return args


def main() -> None:
    probs = problems(N)
    with tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False) as f:
        f.write("".join(json.dumps(p) + "\n" for p in probs))
        path = f.name
    try:
        t = time.perf_counter()
        p = subprocess.run([GDSOLVE, "batch", path], capture_output=True, text=True, check=False)
        batch_s = time.perf_counter() - t
        records = [json.loads(line) for line in p.stdout.splitlines()]
        assert len(records) == N and all(r["error"] is None for r in records), p.stderr
        converged = sum(r["result"]["success"] for r in records)
        separate = []
        for prob in probs[:: N // SEPARATE][:SEPARATE]:
            t = time.perf_counter()
            q = subprocess.run(argv(prob), capture_output=True, text=True, check=False)
            separate.append(time.perf_counter() - t)
            json.loads(q.stdout)
    finally:
        os.unlink(path)
    per_problem = batch_s / N
    per_call = statistics.mean(separate)
    print(f"gdsolve batch, {N} problems in one process: {batch_s:.2f} s, {per_problem * 1e3:.1f} ms per problem "
          f"({converged}/{N} converged)")
    print(f"gdsolve minimize, {SEPARATE} separate invocations: {per_call * 1e3:.0f} ms each "
          f"(min {min(separate) * 1e3:.0f}, max {max(separate) * 1e3:.0f})")
    print(f"per-problem cost of batch / one invocation: {per_problem / per_call:.1%} (goal <= 5%)")


if __name__ == "__main__":
    main()
