"""The behaviour matrix of the descent engine: problems x methods x ways to run.

Prints one JSON line per case: status, stop rule, counts, message, x, f and
the best point. Run it on two versions of gdsolve and compare:

    PYTHONPATH=/path/to/old python benchmarks/engine_matrix.py > old.jsonl
    python benchmarks/engine_matrix.py > new.jsonl
    python benchmarks/engine_matrix.py --compare old.jsonl new.jsonl

``--compare`` reports every case whose status, rule, counts or message
differ, and the largest relative difference in x and f over the others.
"""

from __future__ import annotations

import json
import math
import sys

PROBLEMS = [
    ("quadratic", "(x-4)**2", {"x0": {"x": 0.7421}}),
    ("rosenbrock", "(1-x)**2 + 100*(y-x^2)**2", {"x0": {"x": -1.2, "y": 1.0}, "max_iter": 300}),
    ("himmelblau", "(x^2+y-11)^2+(x+y^2-7)^2", {"x0": {"x": 1.0, "y": 1.5}, "lr": 0.01}),
    ("quartic", "x**4 + y**2", {"x0": {"x": 1.0, "y": 1.0}}),
    ("log", "x - log(x)", {"x0": {"x": 3.0}}),
    ("unbounded", "x**3", {"x0": {"x": 1.0}}),
    ("sqrt0", "sqrt(x) + x**2", {"x0": {"x": 0.0}}),
    ("blowup", "x**2", {"x0": {"x": 1.0}, "lr": 1.5}),
    ("kink", "abs(x - 1) + 0.5*abs(y)", {"x0": {"x": 3.0, "y": 2.0}, "lr": 0.05}),
]
METHODS = [
    ("gd", {}), ("gd+armijo", {"line_search": "armijo"}), ("momentum", {"method": "momentum"}),
    ("momentum+armijo", {"method": "momentum", "line_search": "armijo"}), ("nesterov", {"method": "nesterov"}),
    ("adam", {"method": "adam", "lr": 0.05}), ("adamw", {"method": "adamw", "lr": 0.05}),
    ("rmsprop", {"method": "rmsprop", "lr": 0.01}), ("adagrad", {"method": "adagrad", "lr": 0.5}),
    ("lbfgs", {"method": "lbfgs"}),
]
EXTRA = [
    ("gtol", "(x-4)**2", {"x0": {"x": 0.0}, "gtol": 1e-3}),
    ("ftol", "(x-1)**2 + y**2", {"x0": {"x": 0.0, "y": 2.0}, "ftol": 1e-8}),
    ("target", "(x-4)**2", {"x0": {"x": 0.0}, "target": 0.01}),
    ("exp-schedule", "x**2 + 3*y**2", {"x0": {"x": 1.0, "y": 1.0}, "schedule": "exponential", "gamma": 0.9}),
    ("step-schedule", "x**2", {"x0": {"x": 1.0}, "schedule": "step", "step_size": 5, "gamma": 0.5, "lr": 0.05}),
    ("cosine", "x**2", {"x0": {"x": 1.0}, "schedule": "cosine", "t_max": 20}),
    ("bounds-gd", "(x-4)**2 + (y+1)**2", {"x0": {"x": 0.0, "y": 0.0}, "bounds": {"x": (-1, 2), "y": (0, 3)}}),
    ("bounds-lbfgs", "(x-4)**2 + (y+1)**2 + x*y", {"x0": {"x": 0.0, "y": 0.0}, "method": "lbfgs",
                                                    "bounds": {"x": (-1, 2), "y": (0, 3)}}),
    ("bounds-adam", "(x-4)**2", {"x0": {"x": 0.0}, "method": "adam", "lr": 0.3, "bounds": {"x": (-1, 2)}}),
    ("float32", "(x-4)**2 + (y-1)**2", {"x0": {"x": 0.0, "y": 0.0}, "dtype": "float32"}),
    ("seeded", "(x-4)**2 + (y-1)**2", {"seed": 3}),
    ("max-iter", "(1-x)**2 + 100*(y-x^2)**2", {"x0": {"x": -1.2, "y": 1.0}, "lr": 1e-3, "max_iter": 50}),
    ("eps0", "(x-4)**2", {"x0": {"x": 0.0}, "eps": 0.0, "max_iter": 40}),
]


def summary(r) -> dict:
    best = r.best
    out = {"status": r.status.value, "rule": r.stop_rule.value, "nit": r.nit, "nfev": r.nfev, "ngev": r.ngev,
           "message": r.message, "x": list(r.x.values()), "fun": r.fun,
           "best": None if best is None else [list(best.x.values()), best.fun, best.k], "final_lr": r.final_lr}
    if r.rows is not None:
        out["rows"] = r.rows
    if r.minima is not None:
        out["minima"] = len(r.minima)
    if r.runs is not None:
        out["runs"] = [[run.result.status.value, run.result.nit] for run in r.runs]
    return out


def cases():
    for pname, text, base in PROBLEMS:
        for mname, mkw in METHODS:
            kw = {**base, **mkw}
            if "lr" in base and "lr" in mkw:
                kw["lr"] = min(base["lr"], mkw["lr"])
            yield f"{pname}/{mname}", text, kw
    for name, text, kw in EXTRA:
        yield name, text, kw


def run_all() -> None:
    import gdsolve

    for name, text, kw in cases():
        for mode in ("one", "maximize", "starts", "sweep"):
            call = dict(kw)
            expr = text
            fn = gdsolve.minimize
            if mode == "maximize":
                fn, expr = gdsolve.maximize, f"-({text})"
                if "target" in call:
                    call["target"] = -call["target"]
            elif mode == "starts":
                call["starts"] = 3
            elif mode == "sweep":
                lr = call.get("lr") or {"adam": 0.001, "adamw": 0.001, "rmsprop": 0.01, "adagrad": 0.01,
                                        "lbfgs": 1.0}.get(call.get("method", "gd"), 0.1)
                call["lr"] = [lr, lr / 2]
            try:
                out = summary(fn(expr, **call))
            except gdsolve.GdsolveError as exc:
                out = {"error": str(exc)}
            print(json.dumps({"case": name, "mode": mode, **out}), flush=True)
    lines = [json.dumps({"expression": text, **{k: v for k, v in kw.items()}}) for _, text, kw in cases()
             if "bounds" not in kw]
    for rec in gdsolve.batch(lines):
        res = rec.get("result") or {}
        print(json.dumps({"case": f"batch-line-{rec['id']}", "mode": "batch", "status": res.get("status"),
                          "rule": res.get("stop_rule"), "nit": res.get("nit"), "nfev": res.get("nfev"),
                          "message": res.get("message"), "x": list((res.get("x") or {}).values()),
                          "fun": res.get("fun")}), flush=True)


def _rel(a, b) -> float:
    if a is None or b is None:
        return 0.0 if a == b else math.inf
    if isinstance(a, list):
        return max([_rel(u, v) for u, v in zip(a, b)] + [0.0 if len(a) == len(b) else math.inf])
    if isinstance(a, float) and math.isnan(a) and math.isnan(b):
        return 0.0
    if a == b:
        return 0.0
    return abs(a - b) / max(abs(a), abs(b), 1e-300)


def compare(old_path: str, new_path: str) -> int:
    old = {(r["case"], r["mode"]): r for r in map(json.loads, open(old_path))}
    new = {(r["case"], r["mode"]): r for r in map(json.loads, open(new_path))}
    differ = 0
    worst = (0.0, None)
    for key, a in old.items():
        b = new.get(key)
        if b is None:
            print(f"missing: {key}")
            differ += 1
            continue
        exact = [k for k in ("status", "rule", "nit", "nfev", "ngev", "message", "rows", "minima", "runs", "error")
                 if a.get(k) != b.get(k)]
        if exact:
            differ += 1
            print(f"{key[0]} [{key[1]}]: " + "; ".join(f"{k}: {a.get(k)!r} -> {b.get(k)!r}" for k in exact))
        for k in ("x", "fun", "best"):
            r = _rel(a.get(k), b.get(k))
            if r > worst[0]:
                worst = (r, f"{key} {k}")
    print(f"{len(old)} cases, {differ} with a different status, rule, count or message; "
          f"largest relative difference in x, f or best elsewhere: {worst[0]:.3g} ({worst[1]})")
    return 1 if differ else 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["--compare"]:
        raise SystemExit(compare(sys.argv[2], sys.argv[3]))
    run_all()
