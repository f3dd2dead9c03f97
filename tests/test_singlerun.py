"""One start (the engine at one row): the tutorial number for number, known minima, divergence."""

from __future__ import annotations

import math

import pytest
import torch

from gdsolve.core.settings import Settings
from gdsolve.core.status import Status, StopRule
from gdsolve.engine.multistart import SingleRun
from gdsolve.engine.starts import check_start, random_start
from gdsolve.formula.objective import compile_objective


def one_run(objective, settings, x0):
    """A one-start run as prepare() makes it: the given start, or one drawn with the seed."""
    names = objective.variables
    lo, hi = check_start(names, settings.bounds, x0)
    point = [x0[n] for n in names] if x0 is not None else random_start(names, lo, hi, settings.seed)
    return SingleRun(objective, settings, point, seed=None if x0 is not None else settings.seed)


def run(text, x0, **kw):
    d = one_run(compile_objective(text), Settings(**kw), x0)
    steps = list(d)
    return steps, d.result()


def test_tutorial_single_step():
    # Tutorial cell 7: x = 0.2121, grad -7.5758, x - lr*grad = 0.9697.
    steps, _ = run("(x-4)**2", {"x": 0.2121}, dtype="float32", max_iter=2)
    assert round(steps[0].grad[0], 4) == -7.5758
    assert round(steps[1].x[0], 4) == 0.9697


def test_tutorial_converges_to_four():
    # Tutorial cell 8: from x0 = 0.7421 the run converges to 4.0000.
    _, r = run("(x-4)**2", {"x": 0.7421}, dtype="float32")
    assert f"{r.x['x']:.4f}" == "4.0000"
    assert r.status is Status.CONVERGED and r.stop_rule is StopRule.EPS


def test_same_iterates_as_tutorial_loop(tutorial):
    xs, n = tutorial(0.7421)
    steps, r = run("(x-4)**2", {"x": 0.7421}, dtype="float32")
    ours = [s.x[0] for s in steps[1:]] + [r.x["x"]]
    assert r.nit == n
    assert ours == pytest.approx(xs, abs=1e-6)


@pytest.mark.parametrize(
    ("text", "x0", "kw", "xmin", "fmin", "tol"),
    [
        ("(x-4)**2", {"x": 0.5}, {}, {"x": 4}, 0.0, 1e-4),
        ("(1-x)**2 + 100*(y-x^2)**2", {"x": -1, "y": 1}, {"method": "lbfgs"}, {"x": 1, "y": 1}, 0.0, 1e-6),
        ("(x + 2*y - 7)**2 + (2*x + y - 5)**2", {"x": 0, "y": 0}, {"lr": 0.05, "max_iter": 2000}, {"x": 1, "y": 3}, 0.0, 1e-4),
        ("(x**2 + y - 11)**2 + (x + y**2 - 7)**2", {"x": 0, "y": 0}, {"lr": 0.01, "max_iter": 2000}, {"x": 3, "y": 2}, 0.0, 1e-4),
        ("0.26*(x**2 + y**2) - 0.48*x*y", {"x": 3, "y": -2}, {"lr": 1.0, "max_iter": 5000}, {"x": 0, "y": 0}, 0.0, 1e-3),
        ("x1**2 + 2*x2**2 + 3*x3**2 + 4*x4**2 + 5*x5**2", {f"x{i}": 1 for i in range(1, 6)}, {"lr": 0.05, "max_iter": 2000},
         {f"x{i}": 0 for i in range(1, 6)}, 0.0, 1e-4),
    ],
    ids=["quadratic", "rosenbrock", "booth", "himmelblau", "matyas", "ellipsoid5"],
)
def test_known_minima(text, x0, kw, xmin, fmin, tol):
    _, r = run(text, x0, **kw)
    assert r.status is Status.CONVERGED, r.message
    for k, v in xmin.items():
        assert r.x[k] == pytest.approx(v, abs=tol)
    assert r.fun == pytest.approx(fmin, abs=tol)


def test_maximize_reports_true_objective():
    d = one_run(compile_objective("-(x-1)**2 - (y+2)**2 + 3", maximize=True), Settings(), {"x": 0, "y": 0})
    list(d)
    r = d.result()
    assert r.fun == pytest.approx(3.0, abs=1e-9) and r.sense == "maximize"
    assert r.x["x"] == pytest.approx(1, abs=1e-4) and r.x["y"] == pytest.approx(-2, abs=1e-4)
    assert r.grad["x"] == pytest.approx(-2 * (r.x["x"] - 1))  # gradient of f itself, not of -f


def test_max_iter_status_and_nit():
    _, r = run("(x-4)**2", {"x": 0}, max_iter=5)
    assert r.status is Status.MAX_ITER and r.nit == 5 and not r.success
    assert "max-iter 5" in r.message


def test_eps_zero_runs_all_iterations():
    steps, r = run("(x-4)**2", {"x": 0}, eps=0.0, max_iter=300)
    assert len(steps) == 300 and r.nit == 300 and r.status is Status.MAX_ITER


def test_random_start_is_seeded_and_reported():
    _, a = run("(x-1)**2 + y**2", None, seed=7)
    _, b = run("(x-1)**2 + y**2", None, seed=7)
    _, c = run("(x-1)**2 + y**2", None, seed=8)
    assert a.x0 == b.x0 and a.x0 != c.x0 and a.seed == 7


@pytest.mark.parametrize(
    ("text", "x0", "kw", "where"),
    [
        ("log(x)", {"x": 0.5}, {"lr": 1.0}, "iteration"),  # steps to x < 0
        ("1/x", {"x": 0.0}, {}, "iteration 0"),
        ("exp(1000*x)", {"x": 1.0}, {}, "iteration 0"),
        ("sqrt(x)", {"x": -1.0}, {}, "start point"),
    ],
)
def test_nonfinite_is_a_result(text, x0, kw, where):
    _, r = run(text, x0, **kw)
    assert r.status is Status.DIVERGED and r.stop_rule is StopRule.NONFINITE
    assert where in r.message


def test_blowup_detected_before_overflow():
    _, r = run("x**2", {"x": 1.0}, lr=1.5, max_iter=10000)
    assert r.status is Status.DIVERGED and r.stop_rule is StopRule.BLOWUP
    assert r.nit < 100 and "try lr=0.5" in r.message  # 1/lambda: f = (x-4)**2 has curvature 2


def test_best_point_tracked():
    _, r = run("x**2", {"x": 1.0}, lr=1.5, max_iter=10000)
    assert r.best.k == 0 and r.best.fun == 1.0


def test_float32_state():
    d = one_run(compile_objective("(x-4)**2"), Settings(dtype="float32"), {"x": 0.0})
    assert d.batch.X.dtype == torch.float32
    list(d)
    assert math.isclose(d.result().x["x"], 4.0, abs_tol=1e-4)


# --- converged means converged (issue: every word true) ---------------------------------

MISRA1A = [(10.07, 77.6), (14.73, 114.9), (17.94, 141.1), (23.93, 190.8), (29.61, 239.9), (35.18, 289.0),
           (40.02, 332.8), (44.82, 378.4), (50.76, 434.8), (55.05, 477.3), (61.01, 536.8), (66.40, 593.1),
           (75.47, 689.1), (81.78, 760.0)]  # NIST StRD Misra1a: y = b1*(1-exp(-b2*x)); b1 = 238.94, b2 = 5.5016e-4
MISRA1A_SSR = " + ".join(f"({y} - b1*(1-exp(-b2*{x})))**2" for y, x in MISRA1A)


def test_tutorial_run_unchanged_number_for_number(tutorial):
    xs, n = tutorial(0.7421)
    steps, r = run("(x-4)**2", {"x": 0.7421}, dtype="float32")
    assert [s.x[0] for s in steps[1:]] + [r.x["x"]] == pytest.approx(xs, abs=1e-6) and r.nit == n == 61
    assert r.status is Status.CONVERGED and r.message == "converged: step 9.5e-07 < eps 1e-06"
    _, r64 = run("(x-4)**2", {"x": 0.7421})
    assert r64.message == "converged: step 9.99e-07 < eps 1e-06" and r64.nit == 61 and r64.nfev == 62


@pytest.mark.parametrize(
    ("kw", "x_at", "cause"),
    [({"schedule": "cosine", "t_max": 10}, 2.79, "cosine schedule decayed the rate"),
     ({"schedule": "exponential", "gamma": 0.5}, 1.40, "exponential schedule decayed the rate")],
)
def test_decayed_rate_is_stalled_not_converged(kw, x_at, cause):
    _, r = run("(x-4)**2", {"x": 0.0}, **kw)
    assert r.status is Status.STALLED and not r.success and r.status.exit_status == 1
    assert r.stop_rule is StopRule.EPS and r.x["x"] == pytest.approx(x_at, abs=0.01)
    assert r.message.startswith("stalled: step") and cause in r.message and "gtol" in r.message
    assert r.stationarity["checked"] and not r.stationarity["stationary"]


@pytest.mark.parametrize("method", ["lbfgs", "adam"])
@pytest.mark.parametrize("start", [{"b1": 500, "b2": 1e-4}, {"b1": 250, "b2": 5e-4}])
def test_badly_scaled_fit_is_not_called_converged(method, start):
    # A parameter near 1e-4 beside one near 1e2: the step collapses far from the certified b1 = 238.94.
    _, r = run(MISRA1A_SSR, start, method=method, max_iter=2000)
    if r.status is Status.CONVERGED:  # allowed only where it is true
        assert r.x["b1"] == pytest.approx(238.94212918, rel=1e-3)
    else:
        assert r.status in (Status.STALLED, Status.MAX_ITER, Status.DIVERGED)
        assert abs(r.x["b1"] - 238.94) > 1


def test_badly_scaled_lbfgs_says_why():
    # without its automatic scaling, lbfgs stalls here, and the message says why and what to do
    _, r = run(MISRA1A_SSR, {"b1": 500, "b2": 1e-4}, method="lbfgs", scale="none")
    assert r.status is Status.STALLED and "differ in size" in r.message and "b2" in r.message
    assert "drop scale='none'" in r.message


def test_badly_scaled_lbfgs_converges_by_default():
    # the same start with the defaults: lbfgs rescales b1 and b2 (Hessian's diagonal) and reaches NIST's values
    _, r = run(MISRA1A_SSR, {"b1": 500, "b2": 1e-4}, method="lbfgs")
    assert r.status is Status.CONVERGED
    assert r.x["b1"] == pytest.approx(2.3894212918e02, rel=1e-6)
    assert r.x["b2"] == pytest.approx(5.5015643181e-04, rel=1e-6)


def test_adaptive_method_tiny_steps_are_stalled():
    _, r = run("(x-100)**2", {"x": 0.0}, method="adagrad", eps=1e-3, max_iter=10000)
    assert r.status is Status.STALLED and "adagrad's per-variable step sizes shrank" in r.message


def test_constant_rate_small_for_the_curvature_is_stalled():
    # the first step is already below eps, 100 from the minimizer: the tutorial's rule alone would say converged
    _, r = run("1e-6*(x-100)**2", {"x": 0.0}, eps=1e-4)
    assert r.nit == 1 and r.status is Status.STALLED
    assert "the rate 0.1 is small for this problem's curvature" in r.message and "about 100 away in x" in r.message


def test_honest_convergence_stays_converged():
    for text, x0, kw in [("(x-4)**2", {"x": 3.99}, {}), ("x**2", {"x": 1.0}, {}),
                         ("(1-x)**2 + 100*(y-x^2)**2", {"x": -1.2, "y": 1}, {"method": "lbfgs"}),
                         ("(x**2 + y - 11)**2 + (x + y**2 - 7)**2", {"x": 0, "y": 0}, {"method": "momentum", "max_iter": 5000}),
                         ("(x-4)**2 + 1000", {"x": 0.0}, {}), ("abs(x-1) + abs(y)", {"x": 0.3, "y": 0.2},
                                                              {"line_search": "armijo"})]:
        _, r = run(text, x0, **kw)
        assert r.status is Status.CONVERGED, (text, r.message)


def test_ftol_can_stall_too():
    _, r = run("(x-4)**2", {"x": 0.0}, eps=0.0, ftol=1e-3, schedule="exponential", gamma=0.5)
    assert r.stop_rule is StopRule.FTOL and r.status is Status.STALLED


# --- blow-up from behaviour, not from scale ----------------------------------------------

@pytest.mark.parametrize("method", ["gd", "lbfgs"])
@pytest.mark.parametrize(("text", "xmin", "kw"), [("(x-1e13)**2", 1e13, {"max_iter": 1000}),
                                                  ("(x-1e-8)**2", 1e-8, {"eps": 1e-16, "max_iter": 1000})])
def test_far_or_tiny_minimizers_are_not_divergence(method, text, xmin, kw):
    _, r = run(text, {"x": 0.0}, method=method, **kw)
    assert r.status is Status.CONVERGED, r.message
    assert r.x["x"] == pytest.approx(xmin, rel=1e-6)


@pytest.mark.parametrize(("text", "x0"), [("(x-1e-8)**2", 0.0), ("(x-4)**2", 3.9999)])
def test_absolute_eps_too_coarse_for_a_tiny_minimizer_says_so(text, x0):
    # the same geometry shifted: a travel of 1e-4 judged with eps 1e-6 ends 4% short, wherever the minimizer is
    _, r = run(text, {"x": x0})
    assert r.status is Status.STALLED and "eps 1e-06 is coarse for x" in r.message


# --- maximize speaks the user's sign ----------------------------------------------------

def test_maximize_nonfinite_says_plus_inf():
    d = one_run(compile_objective("exp(1000*x)", maximize=True), Settings(), {"x": 0.0})
    list(d)
    r = d.result()
    assert r.status is Status.DIVERGED and "f became inf" in r.message and "-inf" not in r.message
    assert r.best is not None and r.best.fun == 1.0  # the best point is a finite one


def test_maximize_blowup_says_f_fell():
    d = one_run(compile_objective("-x**2", maximize=True), Settings(lr=1.5, max_iter=1000), {"x": 1.0})
    steps = list(d)
    r = d.result()
    assert "f fell for 25 steps in a row, to -1.1259e+15" in r.message and steps[-1].f < -1e14


def test_best_is_never_nonfinite():
    _, r = run("log(x)", {"x": -1.0})
    assert r.status is Status.DIVERGED and r.best is None


# --- records are exact --------------------------------------------------------------------

def test_result_is_idempotent_and_counts_the_final_point_once():
    d = one_run(compile_objective("(x-4)**2"), Settings(gtol=1e-3), {"x": 0.0})
    list(d)
    r1, r2 = d.result(), d.result()
    assert r1 is r2 and r1.stop_rule is StopRule.GTOL
    assert r1.nfev == r1.nit + 1  # the loop evaluated the final point; result() did not again


def test_finished_run_refuses_a_second_pass():
    from gdsolve.core.errors import GdsolveError

    d = one_run(compile_objective("(x-4)**2"), Settings(), {"x": 0.0})
    list(d)
    with pytest.raises(GdsolveError, match="already been iterated"):
        list(d)


def test_armijo_failure_is_recorded_and_does_not_move():
    d = one_run(compile_objective("abs(x-1)"), Settings(line_search="armijo", max_iter=200), {"x": 0.3})
    steps = list(d)
    failed = [s for s in steps if s.line_search_failed]
    assert failed and all(s.step_norm == 0 for s in failed)


def test_settings_and_seed_mean_one_thing():
    d = one_run(compile_objective("(x-4)**2"), Settings(method="lbfgs"), {"x": 0.0})
    list(d)
    r = d.result()
    assert r.settings["line_search"] == "strong_wolfe" and r.settings["seed"] is None and r.seed is None
    assert r.settings == d.settings_dict() and {"params", "vars"} <= set(r.settings)
    d = one_run(compile_objective("(x-4)**2"), Settings(seed=5), None)
    list(d)
    assert d.result().seed == d.result().settings["seed"] == 5


def test_interrupt_message_names_last_and_best():
    d = one_run(compile_objective("(x-4)**2"), Settings(eps=0, max_iter=1000), {"x": 0.0})
    for s in d:
        if s.k == 5:
            d.stop_requested = True
    r = d.result()
    assert r.status is Status.INTERRUPTED and "x is the last point" in r.message and r.best is not None
    assert r.nit == 6 and r.x["x"] == d.batch.X.detach().tolist()[0][0]  # x is the last point, as the message says


def test_max_iter_message_without_eps():
    _, r = run("(x-4)**2", {"x": 0.0}, eps=0.0, max_iter=3)
    assert "eps" in r.message and "the step rule is off" in r.message and ">=" not in r.message
    _, r = run("(x-4)**2", {"x": 0.0}, max_iter=3)
    assert "last step 0.51 >= eps 1e-06" in r.message


def test_stationarity_not_checked_above_the_limit_says_so():
    from gdsolve.engine.stationarity import MAX_VARIABLES

    n = MAX_VARIABLES + 1
    text = " + ".join(f"(x{i}-1)**2" for i in range(n))
    _, r = run(text, {f"x{i}": 1.0 for i in range(n)}, max_iter=2)
    assert r.status is Status.CONVERGED and f"(not checked: more than {MAX_VARIABLES} variables)" in r.message
    assert r.stationarity == {"checked": False, "reason": f"not checked: more than {MAX_VARIABLES} variables"}


def test_a_small_last_step_into_nan_is_divergence_not_convergence():
    _, r = run("sqrt(x)", {"x": 0.01}, lr=1.0, eps=10.0)
    assert r.stop_rule is StopRule.NONFINITE and r.status is Status.DIVERGED and "f became nan" in r.message
    assert r.best is not None and r.best.fun == pytest.approx(0.1)  # the last finite point, not the nan one


@pytest.mark.parametrize("starts", [None, 4])
def test_message_says_the_line_search_backtracked_from_nonfinite_points(starts):
    from gdsolve import minimize

    # defined on (0, 1) only; lbfgs's first trial from 0.9 (a step of length 1) lands outside
    kw = {} if starts is None else {"starts": starts, "bounds": {"x": (0.05, 0.95)}}
    r = minimize("-log(x) - log(1-x)", x0={"x": 0.9}, method="lbfgs", **kw)
    assert r.status is Status.CONVERGED
    assert "the line search backtracked from" in r.message and "where f was not finite" in r.message
    clean = minimize("(x-0.5)**2", x0={"x": 0.9}, method="lbfgs")
    assert "backtracked" not in clean.message


def test_steps_builds_no_record_and_iterating_builds_step_records():
    # README: run.steps() iterates without building a record per step; iterating the run gives Step records.
    from gdsolve.core.batchstep import BatchStep
    from gdsolve.core.result import Step

    quiet = one_run(compile_objective("(x-4)**2"), Settings(), {"x": 0.0})
    raw = list(quiet.steps())
    assert raw and all(isinstance(s, BatchStep) for s in raw)
    watched = one_run(compile_objective("(x-4)**2"), Settings(), {"x": 0.0})
    records = list(watched)
    assert all(isinstance(s, Step) for s in records) and len(records) == len(raw)
    assert quiet.result().x == watched.result().x and quiet.result().nit == watched.result().nit
