"""Cost of writing a trace: the same run with --quiet and with --trace FILE, side by side.

Goal (issue: traces): a trace costs at most 20% over the same run with --quiet.
Runs in-process through the same Outputs object the CLI uses, 20,000
iterations of Rosenbrock's function (two variables) with eps 0; best and
median of REPEATS, interleaved.

Run: ``python benchmarks/bench_trace.py``
"""

from __future__ import annotations

import io
import os
import statistics
import tempfile
import time

import torch

from gdsolve.api.solve import prepare, run
from gdsolve.cli.outputs import OutputOptions, Outputs

REPEATS = int(os.environ.get("BENCH_REPEATS", "7"))
N = 20_000
EXPR = "(1-x)**2 + 100*(y-x^2)**2"


def once(options: OutputOptions) -> float:
    d = prepare(EXPR, x0={"x": -1, "y": 1}, lr=1e-4, eps=0.0, max_iter=N)
    out = Outputs(d, options, stdout=io.StringIO(), stderr=io.StringIO())
    t = time.perf_counter()
    result = run(d, out.callback)
    out.finish(result)
    return time.perf_counter() - t


def main() -> None:
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        cases = {
            "--quiet": OutputOptions(quiet=True),
            "--quiet --trace FILE (jsonl)": OutputOptions(quiet=True, trace=os.path.join(tmp, "t.jsonl")),
            "--quiet --trace FILE --trace-format csv": OutputOptions(quiet=True, trace=os.path.join(tmp, "t.csv"),
                                                                     trace_format="csv"),
        }
        times: dict[str, list[float]] = {k: [] for k in cases}
        for _ in range(REPEATS):
            for name, opts in cases.items():
                times[name].append(once(opts))
        size = os.path.getsize(os.path.join(tmp, "t.jsonl"))
    base_best, base_med = min(times["--quiet"]), statistics.median(times["--quiet"])
    print(f"{N:,} iterations of {EXPR}, best and median of {REPEATS}")
    for name, ts in times.items():
        best, med = min(ts), statistics.median(ts)
        print(f"  {name:40s} best {best / N * 1e6:6.2f} us/iter ({best / base_best:.2f}x)   "
              f"median {med / N * 1e6:6.2f} ({med / base_med:.2f}x)")
    print(f"  jsonl trace size: {size / 1e6:.1f} MB ({size / N:.0f} bytes per step)")


if __name__ == "__main__":
    main()
