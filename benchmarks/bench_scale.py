"""Throughput of the batched engine: nanoseconds per start-iteration, beside a hand-written loop.

    python benchmarks/bench_scale.py            # 10^3 .. 10^6 starts, float64 and float32, eager and compiled
    python benchmarks/bench_scale.py --quick    # 10^3 and 10^4, eager only
    python benchmarks/bench_scale.py --eager --sizes 1e4,1e5,1e6
    python benchmarks/bench_scale.py --device cuda

For each size it runs, in the same process and on the same machine (each
loop once untimed first, then timed, best of ``--repeat``), 2-D
Rosenbrock from N starts with the tutorial's rule (gd, lr 1e-4, eps 0 so no
row stops: pure throughput):

* gdsolve through the Python API (``gdsolve.prepare(..., starts=N)``), timing
  the descent alone (``batch.elapsed``: every row's checks, best point,
  counters and freezing included);
* a hand-written batched torch loop of the same rule: f, autograd, the
  update, the step norm and the per-row eps freeze, nothing else.

With ``--compile`` rows (the default run includes them), f and its gradient
go through ``torch.compile`` in both loops; compile time is excluded and
printed. The ratio column is ours / hand-written (lower is better).
"""

from __future__ import annotations

import argparse
import sys
import time

import torch

sys.path.insert(0, ".")

from gdsolve import prepare
from gdsolve.formula.objective import compile_objective

ROSEN = "(1-x)**2 + 100*(y-x^2)**2"
LR = 1e-4


def iterations(n: int) -> int:
    return {10**3: 300, 10**4: 200, 10**5: 60, 10**6: 15}.get(n, max(10, int(2e7 // n)))


def ours(n: int, dtype: str, compile_: bool, device: str) -> tuple[float, float | None]:
    run = prepare(ROSEN, starts=n, lr=LR, eps=0, max_iter=iterations(n), dtype=dtype, device=device, compile=compile_)
    for _ in run:
        pass
    if device == "cuda":
        torch.cuda.synchronize()
    return run.batch.elapsed, run.batch.compile_time


def hand(n: int, dtype: str, compile_: bool, device: str) -> tuple[float, float | None]:
    dt = torch.float64 if dtype == "float64" else torch.float32
    obj = compile_objective(ROSEN)
    fn = obj._fn
    compile_time = None
    X = (torch.rand(n, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(0)) * 20 - 10).to(device, dt)
    if compile_:
        t0 = time.perf_counter()
        fn = torch.compile(fn, dynamic=True)
        Xw = X.clone().requires_grad_(True)
        torch.autograd.grad(fn(*Xw.unbind(1)).sum(), Xw)
        compile_time = time.perf_counter() - t0
    active = torch.ones(n, dtype=torch.bool, device=device)
    ones = torch.ones(n, dtype=dt, device=device)
    eps = 0.0
    t0 = time.perf_counter()
    for _ in range(iterations(n)):
        Xg = X.detach().requires_grad_(True)
        F = fn(*Xg.unbind(1))
        (G,) = torch.autograd.grad(F, Xg, ones)
        with torch.no_grad():
            X_new = X - LR * G
            step = torch.linalg.vector_norm(X_new - X, dim=1)
            X = torch.where(active.unsqueeze(1), X_new, X)
            active &= step >= eps
    if device == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - t0, compile_time


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--eager", action="store_true", help="eager only (no torch.compile rows)")
    ap.add_argument("--sizes", default=None, help="comma list of start counts, e.g. 10000,1000000")
    args = ap.parse_args()
    sizes = [10**3, 10**4] if args.quick else [10**3, 10**4, 10**5, 10**6]
    if args.sizes:
        sizes = [int(float(v)) for v in args.sizes.split(",")]
    modes = [False] if args.quick or args.eager else [False, True]
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, device {args.device}")
    print(f"{'starts':>9} {'dtype':>8} {'mode':>8} {'ours ns':>9} {'hand ns':>9} {'ratio':>6}  compile s (ours/hand)")
    for compile_ in modes:
        for dtype in ("float64", "float32"):
            for n in sizes:
                best_o = best_h = float("inf")
                comp = (None, None)
                # One untimed run of each first: the first run at a size pays the memory allocator's page
                # faults (glibc hands large blocks back to the system until its threshold has grown),
                # which would otherwise fall on whichever loop happens to run first.
                ours(n, dtype, compile_, args.device)
                hand(n, dtype, compile_, args.device)
                for _ in range(args.repeat):
                    to, co = ours(n, dtype, compile_, args.device)
                    th, ch = hand(n, dtype, compile_, args.device)
                    best_o, best_h = min(best_o, to), min(best_h, th)
                    comp = (co, ch) if comp[0] is None else comp
                k = iterations(n)
                o_ns, h_ns = best_o / (n * k) * 1e9, best_h / (n * k) * 1e9
                ctext = "" if not compile_ else f"  {comp[0]:.1f} / {comp[1]:.1f}"
                print(f"{n:>9,} {dtype:>8} {'compile' if compile_ else 'eager':>8} {o_ns:>9.1f} {h_ns:>9.1f} "
                      f"{o_ns / h_ns:>6.2f}{ctext}", flush=True)


if __name__ == "__main__":
    main()
