"""The check behind converged vs stalled: the Newton distance to a stationary point, on the problem's own scale."""

from __future__ import annotations

import json
import math

import pytest
import torch

from gdsolve.engine.stationarity import RTOL, TESTS, RunFacts, check, diagnose, judge
from gdsolve.formula.objective import compile_objective


def verdict(text, x, x0=None):
    return check(compile_objective(text), x, x0 or [0.0] * len(x))


def test_tutorial_stop_is_stationary():
    v = verdict("(x-4)**2", [3.999996006], [0.7421])
    # 4e-6 left of a travel of 4 - 0.7421
    assert v.checked and v.stationary and v.relative == pytest.approx(3.994e-6 / 3.2579, rel=1e-2)


@pytest.mark.parametrize("x", [2.79, 1.40])
def test_far_from_the_minimum_is_not_stationary(x):
    v = verdict("(x-4)**2", [x])
    assert not v.stationary and v.distance[0] == pytest.approx(4 - x)


def test_invariant_to_scaling_and_shifting_f():
    base = verdict("(x-4)**2 + (y+1)**2", [3.9, -1.05]).relative
    assert verdict("1e-9*((x-4)**2 + (y+1)**2)", [3.9, -1.05]).relative == pytest.approx(base, rel=1e-9)
    assert verdict("1e9*((x-4)**2 + (y+1)**2) + 123456", [3.9, -1.05]).relative == pytest.approx(base, rel=1e-6)


def test_invariant_to_the_units_of_a_variable():
    # y measured in units 1e6 times smaller: the same problem, the same verdict
    a = verdict("(x-4)**2 + (y-2)**2", [3.99, 1.9], [0.0, 1.0])
    b = verdict("(x-4)**2 + (1e-6*y-2)**2", [3.99, 1.9e6], [0.0, 1e6])
    assert a.relative == pytest.approx(b.relative, rel=1e-6) and a.worst == b.worst == 1


def test_saddle_and_valley_cannot_hide_distance():
    # |H|: a negative eigenvalue counts by its size, so a saddle is not a minimum's neighbourhood
    assert not verdict("x**2 - y**2", [0.0, 0.5]).stationary
    assert verdict("x**2 - y**2", [1e-12, 1e-12], [1.0, 1.0]).stationary  # a start on f's level set


def test_locally_linear_kink():
    assert verdict("abs(x-1) + abs(y)", [1.0, 0.0], [0.3, 0.2]).stationary  # the bottom of the kink
    assert not verdict("abs(x-1)", [0.5]).stationary  # on a slope


def test_too_many_variables_is_said_not_hidden():
    from gdsolve.engine.stationarity import MAX_VARIABLES

    n = MAX_VARIABLES + 1
    text = " + ".join(f"x{i}**2" for i in range(n))
    v = verdict(text, [0.1] * n)
    assert not v.checked and v.stationary and "more than" in v.reason


def test_diagnose_names_cause_and_fix():
    v = verdict("(x-4)**2", [2.79])
    facts = RunFacts(method="gd", schedule="cosine", lr0=0.1, lr=1e-3, eps=1e-6)
    text = diagnose(("x",), v, facts)
    assert "cosine schedule decayed the rate from 0.1 to 0.001" in text and "{gtol}" in text
    assert RTOL == 1e-3


@pytest.mark.parametrize(("facts", "fragment"), [
    ({"collapsed": True}, "the line search shrank the step far below its first trial"),
    ({"ls_failed": True}, "the line search found no decrease"),
    ({"ls_nonfinite": True, "method": "lbfgs"}, "trial points where f is not finite"),
    ({"method": "adagrad"}, "adagrad's per-variable step sizes shrank"),
    ({"method": "gd"}, "the rate 0.1 is small for this problem's curvature"),
    ({"schedule": "step", "lr": 0.01}, "a larger {step_size}, or {gamma} closer to 1"),
])
def test_each_cause_has_its_own_words(facts, fragment):
    base = {"method": "gd", "schedule": "constant", "lr0": 0.1, "lr": 0.1, "eps": 1e-6}
    v = verdict("(x-4)**2 + (y-1)**2", [2.0, 0.5])
    assert fragment in diagnose(("x", "y"), v, RunFacts(**{**base, **facts}))


def test_badly_scaled_variables_are_named():
    v = verdict("(x-500)**2 + 1e10*(y-3e-4)**2", [300.0, 3e-4], [500.0, 3e-4])
    text = diagnose(("x", "y"), v, RunFacts(method="lbfgs", schedule="constant", lr0=1.0, lr=1.0, eps=1e-6))
    assert "differ in size by a factor of 2e+06" in text and "write y as a multiple of 3e-04" in text


def test_a_cusp_is_not_called_stationary():
    # Bukin N.6 on its cusp valley: |grad| ~ 3e6, the curvature larger still, the Newton estimate tiny.
    v = verdict("100*sqrt(abs(y - 0.01*x**2)) + 0.01*abs(x + 10)", [0.6647974292614697, 0.00441955646544472],
                [0.0, 1.0])
    assert not v.stationary and not v.smooth and v.failed == "model" and v.relative < RTOL
    text = diagnose(("x", "y"), v, RunFacts(method="lbfgs", schedule="constant", lr0=1.0, lr=1.0, eps=1e-6))
    assert "f is not smooth here" in text and "cusp" in text


# --- one rule, whatever the conditioning, the shape of the minimum or the origin --------------


def solve(*args: str) -> dict:
    """``gdsolve minimize ARGS --json`` through the CLI's ``main``, in this process."""
    import contextlib
    import io

    from gdsolve.cli.app import main

    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        main(["minimize", *args, "--json"])
    return json.loads(out.getvalue())


@pytest.mark.parametrize("expr", ["x**4", "(x**2+y**2)**2"])
def test_a_degenerate_minimum_is_a_minimum(expr):
    # lbfgs ends at f ~ 1e-19, |grad| ~ 1e-14: a Newton step there shrinks the gradient by (2/3)**3 only
    d = solve(expr, "--method", "lbfgs")
    assert d["status"] == "converged", d["message"]
    assert d["stationarity"]["stationary"] and d["stationarity"]["failed"] is None and d["fun"] < 1e-12


def test_degenerate_minimum_point_passes_every_test():
    v = verdict("(x-2)**6", [1.9996977245857366], [0.0])
    assert v.stationary and v.failed == "" and v.smooth


@pytest.mark.parametrize("shift", [1.0, 1000.0, -1e6])
def test_shifting_the_origin_keeps_the_verdict(shift):
    # 0.4 left of a travel of 1: stalled wherever the minimum lies (at 1000 it used to pass: 0.4 / 1000 < 0.1%)
    d = solve(f"(x-({shift}))**2", "--x0", f"{shift - 0.4}", "--lr", "1e-6")
    assert d["stop_rule"] == "eps" and d["status"] == "stalled", d["message"]
    st = d["stationarity"]
    assert st["failed"] == "distance" and st["relative_distance"] == pytest.approx(1.0, rel=1e-3)


def test_shifted_verdicts_agree_in_the_library():
    base = verdict("(x-1)**2", [0.5], [0.0])
    moved = verdict("(x-1000)**2", [999.5], [999.0])
    assert not base.stationary and not moved.stationary
    assert moved.relative == pytest.approx(base.relative, rel=1e-9) and moved.decrease == pytest.approx(0.25, rel=1e-9)


# A sum of squares whose Hessian has a condition near 1e170: b2 multiplies exp(-b3*270) ~ 4e85. b2 sits
# where the third residual is 0; b1 is 28 from its best value (its gradient -112) and f can fall by 1568.
ILL = "(30 - b1 + b2*exp(-b3*0))**2 + (30 - b1 + b2*exp(-b3*10))**2 + (3 - b1 + b2*exp(-b3*270))**2"
ILL_X = [2.0, -1 / math.exp(0.73 * 270), -0.73]


def test_huge_curvature_in_one_variable_does_not_hide_another():
    v = check(compile_objective(ILL), ILL_X, [0.0, 0.0, 0.0])
    assert not v.stationary and v.failed == "distance"
    assert v.distance[0] == pytest.approx(28.0, rel=1e-6) and v.decrease == pytest.approx(1568.0, rel=1e-6)


def test_huge_curvature_from_the_command_line_is_stalled():
    # a rate so small the run stops on ftol where it started: the check alone decides
    start = ",".join(f"{n}={v!r}" for n, v in zip(("b1", "b2", "b3"), ILL_X))
    d = solve(ILL, "--x0", start, "--lr", "1e-200", "--eps", "0", "--ftol", "1e-12")
    assert d["stop_rule"] == "ftol" and d["status"] == "stalled", d["message"]
    assert d["stationarity"]["variable"] == "b1" and "28 away in b1" in d["message"]


@pytest.mark.parametrize(("expression", "named"), [("(x-1)**2 + 100*(y-1)**2", 1), ("100*(x-1)**2 + (y-1)**2", 0)])
def test_variables_equally_far_are_told_apart_by_what_each_would_gain(expression, named):
    # a start that did not move: each variable is its whole travel away (relative distance 1, up to the
    # last digit, which differs between CPUs); the one named is the one whose move alone lowers f most
    X = torch.zeros(1, 2, dtype=torch.float64)
    j = judge(compile_objective(expression), X, X.clone())
    assert j.relative[0].item() == pytest.approx(1.0, rel=1e-12)
    assert int(j.worst[0]) == named


def test_a_coordinate_alone_is_tested():
    # the joint Newton step of |H| can be short where one variable alone still has far to go (a saddle's
    # |H| step); the coordinate test names it
    obj = compile_objective("x**2 + 10*x*y + y**2")
    j = judge(obj, torch.tensor([[0.3, 0.0]], dtype=torch.float64), torch.tensor([[1.0, 1.0]], dtype=torch.float64))
    assert not bool(j.stationary[0]) and TESTS[int(j.failed[0]) - 1] in ("distance", "coordinate")


def test_the_json_names_the_failed_test():
    d = solve("(x-4)**2", "--x0", "0", "--schedule", "exponential", "--gamma", "0.5")
    assert d["status"] == "stalled" and d["stationarity"]["failed"] == "distance"
    assert d["stationarity"]["travel"]["x"] == pytest.approx(4.0, rel=1e-3)
