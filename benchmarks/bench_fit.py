"""Fitting at scale: read a CSV of N rows, fit a 3-parameter model, side by side with scipy's least_squares.

Prints the seconds to read the file, to fit (gdsolve lm) and, when scipy is
installed, scipy's least_squares (trf, exact Jacobian from the same torch
model) on the same data, with the ratio, and the peak memory of this process.

Run: python benchmarks/bench_fit.py [ROWS] [DEVICE]      (default 1000000 cpu)
"""

from __future__ import annotations

import math
import os
import random
import resource
import sys
import tempfile
import time


def main(argv: list[str]) -> int:
    rows = int(argv[0]) if argv else 1_000_000
    device = argv[1] if len(argv) > 1 else "cpu"
    from gdsolve import fit
    from gdsolve.formula.data import read_table

    rng = random.Random(0)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "data.csv")
        with open(path, "w") as fh:
            fh.write("t,y\n")
            for i in range(rows):
                t = 10 * i / rows
                fh.write(f"{t!r},{3.0 * math.exp(-0.4 * t) + 0.5 + rng.gauss(0, 0.05)!r}\n")
        t0 = time.perf_counter()
        table = read_table(path)
        t_read = time.perf_counter() - t0
    model = "y ~ a*exp(-k*t) + c"
    t0 = time.perf_counter()
    r = fit(model, table, p0={"a": 1, "k": 1, "c": 0}, device=device)
    t_fit = time.perf_counter() - t0
    print(f"rows {rows:,} on {device}: read {t_read:.2f} s, fit {t_fit:.2f} s ({r.nit} steps, {r.status.value}); "
          f"a={r.params['a']:.5f} k={r.params['k']:.5f} c={r.params['c']:.5f}, stderr k {r.stderr['k']:.2e}")
    try:
        import numpy as np
        import torch
        from scipy.optimize import least_squares

        from gdsolve.formula.model import parse_model

        fm = parse_model(model, table)
        res = fm.residuals()
        t0 = time.perf_counter()
        out = least_squares(lambda p: -res(torch.tensor(p[None]))[0].numpy(), np.array([1.0, 1.0, 0.0]),
                            jac=lambda p: -torch.func.jacfwd(lambda q: res(q[None])[0])(torch.tensor(p)).numpy(),
                            method="trf", x_scale="jac")
        t_sp = time.perf_counter() - t0
        print(f"scipy least_squares: {t_sp:.2f} s ({out.nfev} evaluations); gdsolve/scipy time ratio {t_fit / t_sp:.2f}; "
              f"largest parameter difference {max(abs(a - b) for a, b in zip(out.x, r.params.values())):.2e}")
    except ImportError:
        print("scipy is not installed: no side-by-side run")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory of this process: {peak:.0f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
