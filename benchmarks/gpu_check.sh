#!/usr/bin/env bash
# A short prepared check on a machine with a GPU: correctness first, then throughput.
#
#   bash benchmarks/gpu_check.sh            (from the repository root, with the venv's python on PATH or .venv/)
#
# 1. The same seed gives the same starts on cpu and cuda, and the batch finds the same minima
#    with the same best f (to float64 rounding) on both.
# 2. gdsolve batch on cuda gives the records it gives on cpu.
# 3. bench_scale.py on cuda: ns per start-iteration, ours beside a hand-written loop.
# Exits 0 with a note when torch sees no GPU (CI never has one).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-$( [ -x .venv/bin/python ] && echo .venv/bin/python || echo python3 )}

if ! "$PY" -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)"; then
  echo "no CUDA GPU visible to torch: nothing to check here"
  exit 0
fi

"$PY" - <<'PY'
import math
from gdsolve import minimize

expr = "(x^2+y-11)^2+(x+y^2-7)^2"
cpu = minimize(expr, method="lbfgs", starts=4096, device="cpu", seed=7)
gpu = minimize(expr, method="lbfgs", starts=4096, device="cuda", seed=7)
assert gpu.device == "cuda" and cpu.device == "cpu"
assert cpu.x0 == gpu.x0, "a seed must give the same starts on every device"
assert len(cpu.minima) == len(gpu.minima) == 4, (len(cpu.minima), len(gpu.minima))
for a, b in zip(cpu.minima, gpu.minima):
    assert all(abs(a.x[k] - b.x[k]) < 1e-6 for k in a.x), (a, b)
assert abs(cpu.fun - gpu.fun) < 1e-12 and gpu.success
rastrigin = "20 + " + " + ".join(f"(x{i}**2 - 10*cos(2*pi*x{i}))" for i in (1, 2))
r = minimize(rastrigin, starts=100_000, method="lbfgs", device="cuda", bounds={"x1": (-5.12, 5.12), "x2": (-5.12, 5.12)})
assert r.success and abs(r.fun) < 1e-8, r
print(f"correctness: ok (4 minima on cpu and cuda; Rastrigin from 100,000 starts on cuda: f = {r.fun:.3g}, "
      f"{r.elapsed:.2f} s)")
PY

"$PY" - <<'PY'
import gdsolve

# 2. gdsolve batch on the GPU: the same records as on the CPU (statuses, ids, x to 1e-8).
problems = [line for line in open("examples/problems.jsonl")]
cpu = list(gdsolve.batch(problems, device="cpu"))
gpu = list(gdsolve.batch(problems, device="cuda"))
for a, b in zip(cpu, gpu):
    assert a["id"] == b["id"] and (a["error"] is None) == (b["error"] is None), (a, b)
    if a["result"]:
        assert a["result"]["status"] == b["result"]["status"], (a["id"], a["result"]["status"], b["result"]["status"])
        assert all(abs(a["result"]["x"][k] - b["result"]["x"][k]) < 1e-8 for k in a["result"]["x"]), a["id"]
print(f"batch: {len(gpu)} records, cpu and cuda agree")
PY

"$PY" benchmarks/bench_scale.py --device cuda --repeat 2
