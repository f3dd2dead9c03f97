"""The check behind converged vs stalled: the Newton distance to a stationary point, on the problem's own scale."""

from __future__ import annotations

import pytest

from gdsolve.objective import compile_objective
from gdsolve.stationarity import RTOL, RunFacts, check, diagnose


def verdict(text, x, seen=None):
    return check(compile_objective(text), x, seen or [abs(v) for v in x])


def test_tutorial_stop_is_stationary():
    v = verdict("(x-4)**2", [3.999996006])
    assert v.checked and v.stationary and v.relative == pytest.approx(1e-6, rel=1e-2)


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
    a = verdict("(x-4)**2 + (y-2)**2", [3.99, 1.9])
    b = verdict("(x-4)**2 + (1e-6*y-2)**2", [3.99, 1.9e6])
    assert a.relative == pytest.approx(b.relative, rel=1e-6) and a.worst == b.worst == 1


def test_saddle_and_valley_cannot_hide_distance():
    # |H|: a negative eigenvalue counts by its size, so a saddle is not a minimum's neighbourhood
    assert not verdict("x**2 - y**2", [0.0, 0.5]).stationary
    assert verdict("x**2 - y**2", [1e-12, 1e-12], seen=[1.0, 1.0]).stationary


def test_locally_linear_kink():
    assert verdict("abs(x-1) + abs(y)", [1.0, 0.0], seen=[1.0, 1.0]).stationary  # the bottom of the kink
    assert not verdict("abs(x-1)", [0.5]).stationary  # on a slope


def test_too_many_variables_is_said_not_hidden():
    from gdsolve.stationarity import MAX_VARIABLES

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
    v = verdict("(x-500)**2 + 1e10*(y-3e-4)**2", [300.0, 3e-4], seen=[500.0, 3e-4])
    text = diagnose(("x", "y"), v, RunFacts(method="lbfgs", schedule="constant", lr0=1.0, lr=1.0, eps=1e-6))
    assert "differ in size by a factor of 2e+06" in text and "write y as a multiple of 3e-04" in text


def test_a_cusp_is_not_called_stationary():
    # Bukin N.6 on its cusp valley: |grad| ~ 3e6, the curvature larger still, the Newton estimate tiny.
    v = verdict("100*sqrt(abs(y - 0.01*x**2)) + 0.01*abs(x + 10)", [0.6647974292614697, 0.00441955646544472])
    assert not v.stationary and not v.smooth and v.relative < RTOL
    text = diagnose(("x", "y"), v, RunFacts(method="lbfgs", schedule="constant", lr0=1.0, lr=1.0, eps=1e-6))
    assert "f is not smooth here" in text and "cusp" in text
