"""Peak memory of one ``gdsolve batch`` process over 200 and 5,000 lines, side by side.

Goal (issue 18): a long batch runs in bounded memory. The garbage collector
used to stay off for the whole of ``batch`` (it was switched back on only by
``minimize``, ``maximize`` and ``plot``), so every line's reference cycles
were kept: 500 lines left about 39,000 objects never collected. With the
collector back on in every command, 25 times more lines should cost about
the same peak memory.

The lines are the 200 distinct problems of ``bench_batch.py`` (10 families
of test functions with varied constants), repeated to 5,000. Each batch runs
as its own process (the installed ``gdsolve``), writing its JSON Lines to a
pipe that is read and thrown away; its peak resident set size is
``getrusage(RUSAGE_CHILDREN).ru_maxrss``, read by a fresh interpreter that
started only that one process.

Prints both peaks and their ratio.

Run: ``python benchmarks/bench_batch_memory.py`` (about a minute on 2 cores).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_batch import problems  # the same 200 problems

GDSOLVE = shutil.which("gdsolve", path=os.path.dirname(sys.executable)) or "gdsolve"
SIZES = (200, 5000)


def peak_rss_mib(n: int, folder: str) -> tuple[float, float, int]:
    """(peak RSS in MiB, wall seconds, lines written) of one ``gdsolve batch`` over ``n`` lines."""
    base = problems(200)
    path = os.path.join(folder, f"lines{n}.jsonl")
    with open(path, "w") as f:
        for i in range(n):
            f.write(json.dumps({**base[i % len(base)], "id": i}) + "\n")
    # A fresh interpreter per size: RUSAGE_CHILDREN's maximum covers only the child it waits for.
    probe = ("import resource, subprocess, sys;"
             "p = subprocess.run([sys.argv[1], 'batch', sys.argv[2]], stdout=subprocess.PIPE);"
             "print(p.stdout.count(b'\\n'), resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")
    t = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", probe, GDSOLVE, path], capture_output=True, text=True, check=True)
    wall = time.perf_counter() - t
    lines, kib = map(int, out.stdout.split())
    return kib / 1024, wall, lines


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        rows = [(n, *peak_rss_mib(n, folder)) for n in SIZES]
    for n, mib, wall, lines in rows:
        print(f"gdsolve batch, {n:>5} lines: peak RSS {mib:7.1f} MiB   ({lines} records, {wall:.1f} s)")
    (n0, m0, *_), (n1, m1, *_) = rows
    print(f"ratio {n1} / {n0} lines: {m1 / m0:.2f}x the peak memory for {n1 / n0:.0f}x the lines")


if __name__ == "__main__":
    main()
