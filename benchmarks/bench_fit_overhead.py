"""What a small fit costs end to end, against a trivial minimize, side by side.

Runs ``gdsolve fit`` on 12 rows and 2 parameters and ``gdsolve minimize
"(x-4)**2"`` as processes, alternately, REPEATS times each, and prints each
one's median wall time and their ratio (fit / minimize). The difference is
what fitting adds to start-up: reading the data, the model, the Jacobian.

Run: python benchmarks/bench_fit_overhead.py [REPEATS]      (default 7)
"""

from __future__ import annotations

import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time


def _gdsolve() -> list[str]:
    here = os.path.join(os.path.dirname(sys.executable), "gdsolve")
    if os.path.exists(here):
        return [here]
    found = shutil.which("gdsolve")
    return [found] if found else [sys.executable, "-m", "gdsolve"]


def _time(cmd: list[str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - t0


def main(argv: list[str]) -> int:
    repeats = int(argv[0]) if argv else 7
    exe = _gdsolve()
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "decay.csv")
        with open(path, "w") as fh:
            fh.write("t,y\n")
            for i in range(12):
                t = 0.5 * i
                fh.write(f"{t!r},{3.0 * math.exp(-0.4 * t) + 0.01 * (-1) ** i!r}\n")
        fit = [*exe, "fit", "y ~ a*exp(-k*t)", "--data", path, "--json"]
        minimize = [*exe, "minimize", "(x-4)**2", "--json"]
        _time(fit), _time(minimize)  # warm the file cache
        fits, mins = [], []
        for _ in range(repeats):
            fits.append(_time(fit))
            mins.append(_time(minimize))
    f, m = statistics.median(fits), statistics.median(mins)
    print(f"gdsolve fit (12 rows, 2 parameters): median {f:.3f} s over {repeats} runs")
    print(f"gdsolve minimize \"(x-4)**2\":         median {m:.3f} s over {repeats} runs")
    print(f"ratio fit / minimize: {f / m:.2f}x ({f - m:+.3f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
