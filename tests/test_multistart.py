"""Many starts and sweeps through the Python API."""

from __future__ import annotations

import math

import pytest
import torch

from gdsolve import GdsolveError, OptionError, compile_objective, maximize, minimize, prepare
from gdsolve.engine.multistart import MultiRun

HIMMELBLAU = "(x^2+y-11)^2+(x+y^2-7)^2"
ROSEN = "(1-x)**2 + 100*(y-x^2)**2"


def test_starts_find_every_minimum_and_keep_the_single_run_fields() -> None:
    r = minimize(HIMMELBLAU, method="lbfgs", starts=64)
    assert r.success and r.fun < 1e-12 and r.nit > 0 and r.message.startswith("converged")
    assert r.starts == 64 and r.device == "cpu" and sum(r.rows.values()) == 64
    assert len(r.minima) == 4 and sum(m.count for m in r.minima) == r.rows["converged"]
    assert [m.fun for m in r.minima] == sorted(m.fun for m in r.minima)
    assert r.minima[0].x == r.x
    found = sorted((round(m.x["x"], 4), round(m.x["y"], 4)) for m in r.minima)
    assert found == [(-3.7793, -3.2832), (-2.8051, 3.1313), (3.0, 2.0), (3.5844, -1.8481)]


def test_the_same_seed_gives_the_same_batch_and_the_starts_do_not_depend_on_dtype() -> None:
    a = prepare(HIMMELBLAU, starts=16, seed=5)
    b = prepare(HIMMELBLAU, starts=16, seed=5, dtype="float32")
    assert isinstance(a, MultiRun) and torch.equal(a.starts, b.starts)
    r1 = minimize(HIMMELBLAU, starts=16, seed=5, max_iter=300, lr=0.01)
    r2 = minimize(HIMMELBLAU, starts=16, seed=5, max_iter=300, lr=0.01)
    assert r1.x == r2.x and r1.rows == r2.rows
    assert not torch.equal(prepare(HIMMELBLAU, starts=16, seed=6).starts, a.starts)


def test_a_given_start_is_the_first_of_the_starts() -> None:
    run = prepare(HIMMELBLAU, starts=8, x0={"x": 0.5, "y": -0.5})
    assert run.starts[0].tolist() == [0.5, -0.5] and run.starts.shape == (8, 2)


def test_sweep_equals_the_same_settings_run_one_at_a_time() -> None:
    r = minimize(ROSEN, method="momentum", lr=[0.001, 0.0005], options={"momentum": [0.5, 0.9]},
                 x0={"x": -1, "y": 1}, max_iter=400)
    assert [run.values for run in r.runs] == [{"lr": 0.001, "momentum": 0.5}, {"lr": 0.001, "momentum": 0.9},
                                             {"lr": 0.0005, "momentum": 0.5}, {"lr": 0.0005, "momentum": 0.9}]
    for run in r.runs:
        alone = minimize(ROSEN, method="momentum", lr=run.values["lr"], options={"momentum": run.values["momentum"]},
                         x0={"x": -1, "y": 1}, max_iter=400)
        assert (run.result.x, run.result.nit, run.result.status, run.result.message) == \
            (alone.x, alone.nit, alone.status, alone.message)
    assert r.settings["sweep"] == {"lr": [0.001, 0.0005], "momentum": [0.5, 0.9]}


def test_sweep_of_a_random_start_uses_the_single_runs_start() -> None:
    r = minimize("(x-1)**2 + y**2", lr=[0.1, 0.2], seed=3)
    assert r.runs[0].result.x0 == minimize("(x-1)**2 + y**2", lr=0.1, seed=3).x0


def test_maximize_with_starts_reports_the_maximum() -> None:
    r = maximize("-(x^2-1)^2 - y^2 + 2", starts=16, method="lbfgs")
    assert abs(r.fun - 2) < 1e-9 and len(r.minima) == 2 and all(abs(m.fun - 2) < 1e-9 for m in r.minima)


def test_replayed_rows_retrace_the_batch() -> None:
    run = prepare(HIMMELBLAU, starts=12, method="lbfgs")
    list(run)
    r = run.result()
    rows = run.trace_rows(3)
    assert rows[0] == run.best_row and len(rows) == 4
    last = {}
    for row, step in run.replay(rows):
        last[row] = step
    for row in rows:
        assert last[row].k == int(run.batch.state.nit[row]) - 1
    assert r.x == dict(zip(("x", "y"), run.batch.X[run.best_row].tolist()))


def test_interrupting_a_batch() -> None:
    run = prepare(ROSEN, starts=8, lr=0.0001, max_iter=10_000, eps=0)
    for step in run:
        if step.k == 4:
            run.stop_requested = True
    r = run.result()
    assert r.status.value == "interrupted" and r.nit == 5 and r.rows["interrupted"] == 8


@pytest.mark.parametrize(("kw", "fragment"), [
    ({"starts": 0}, "starts must be an integer >= 1"),
    ({"starts": True}, "starts must be an integer >= 1"),
    ({"lr": []}, "empty list"),
    ({"lr": [0.1, "a"]}, "values must be finite numbers"),
    ({"lr": [0.1, -0.1]}, "lr must be a positive number"),
    ({"options": {"momentum": [0.5, 1.5]}, "method": "momentum"}, "momentum must be in [0, 1)"),
    ({"options": {"beta1": [0.5]}}, "beta1 does not apply to method gd"),
    ({"device": "tpu"}, "device must be one of"),
])
def test_bad_batch_settings_are_refused(kw: dict, fragment: str) -> None:
    with pytest.raises(OptionError) as exc:
        minimize("x**2", **kw)
    assert fragment in str(exc.value)


def test_a_diverging_start_does_not_spoil_the_batch() -> None:
    r = minimize("x - log(x)", starts=8, bounds={"x": (-1.0, 3.0)})
    assert r.success and abs(r.x["x"] - 1) < 1e-5
    assert r.rows["diverged"] >= 1 and r.rows["converged"] >= 1
    assert math.isfinite(r.fun)


def test_a_second_pass_is_refused() -> None:
    run = prepare("x**2", starts=2)
    list(run)
    with pytest.raises(GdsolveError):
        list(run)


RASTRIGIN3 = "30 + " + " + ".join(f"(x{i}**2 - 10*cos(2*pi*x{i}))" for i in (1, 2, 3))
BOX3 = {f"x{i}": (-5.12, 5.12) for i in (1, 2, 3)}


def test_basin_hopping_finds_the_global_minimum_that_the_starts_alone_miss() -> None:
    plain = minimize(RASTRIGIN3, starts=8, method="lbfgs", bounds=BOX3, seed=1)
    hopped = minimize(RASTRIGIN3, starts=8, method="lbfgs", bounds=BOX3, seed=1, hops=30)
    assert plain.fun > 1 and hopped.fun < 1e-9 and hopped.success
    assert hopped.total_nfev > plain.total_nfev and hopped.rows["converged"] >= 1
    # each chain's final descent starts at its best point and keeps the chain's scale for the check
    assert hopped.nit <= 3


def test_hop_settings_are_checked() -> None:
    with pytest.raises(OptionError, match="hops must be an integer >= 0"):
        minimize("x**2", hops=-1)
    with pytest.raises(OptionError, match="hop_size must be in"):
        minimize("x**2", hops=2, hop_size=2.0)
    with pytest.raises(OptionError, match="add hops=K"):
        minimize("x**2", starts=2, hop_size=0.2)


def test_mps_needs_float32() -> None:
    if not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        with pytest.raises(OptionError, match="no Apple GPU"):
            minimize("x**2", device="mps")
        return
    with pytest.raises(OptionError, match="mps has no float64"):
        minimize("x**2", device="mps")


def test_compile_refused_with_torchs_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args, **kwargs):
        raise RuntimeError("Windows not yet supported for torch.compile")

    monkeypatch.setattr(torch, "compile", broken)
    with pytest.raises(OptionError) as exc:
        minimize("x**2", starts=2, compile=True)
    assert "compile: torch cannot compile the formula here (Windows not yet supported" in str(exc.value)
    assert exc.value.cli_message().startswith("--compile: ")


@pytest.mark.compile
def test_compiled_batch_gives_the_eager_answer() -> None:
    # about 10 s on a 2-core machine: torch.compile generates and builds C++ for f and its gradient
    try:
        compiled = minimize("(x-1)**2 + (y+2)**2", starts=4, compile=True)
    except OptionError as exc:  # a machine without a C++ compiler
        pytest.skip(str(exc))
    eager = minimize("(x-1)**2 + (y+2)**2", starts=4)
    assert compiled.compile_time is not None and compiled.compile_time > 0 and eager.compile_time is None
    assert compiled.rows == eager.rows and abs(compiled.x["x"] - eager.x["x"]) < 1e-9


def best_of(expression: str, starts: list[float], **settings) -> tuple:
    """The result of a batch from exactly these starts: its start (which row it is), status, f, and every row's status."""
    from gdsolve.core.settings import Settings

    run = MultiRun(compile_objective(expression), [Settings(**settings)], [{}],
                   torch.tensor([[x] for x in starts], dtype=torch.float64), seed=None)
    for _ in run:
        pass
    r = run.result()
    return r.x0["x"], r.status.value, r.fun, run.statuses()


def test_the_best_row_is_the_lowest_f_and_a_converged_row_wins_a_tie() -> None:
    # x**2 at lr 0.5: one step from anywhere lands exactly on 0, so after one step every row ties at f = 0;
    # the row that started there has stopped (converged), the others are out of steps (max_iter)
    assert best_of("x**2", [3.0, -3.0, 0.0], lr=0.5, max_iter=1) == (
        0.0, "converged", 0.0, ["max_iter", "max_iter", "converged"])
    # lowest f, though not converged: 0 after one step from 3, against a converged row at f = 1
    assert best_of("min(x**2, (x-10)**2 + 1)", [10.0, 3.0], lr=0.5, max_iter=1) == (
        3.0, "max_iter", 0.0, ["converged", "max_iter"])
    # no row finite (f is nan at -6, inf at 0): the first row
    assert best_of("1/x**2 + log(x+5)", [-6.0, 0.0])[0] == -6.0
    assert best_of("1/x**2 + log(x+5)", [0.0, -6.0])[0] == 0.0
