"""gdsolve.api.verify: exact stationary points by sympy in a killable process, classified from the Hessian."""

from __future__ import annotations

import time

import pytest

from gdsolve import OptionError, maximize, minimize
from gdsolve.api.verify import Verification, classify, summary

NO_CLOSED_FORM = "x**2 + exp(x) + sin(3*x)*cosh(x)"


def verdict(expression: str, answer: dict[str, float], sense: str = "minimize", timeout: float = 30) -> dict:
    return Verification.start(expression, sense=sense, timeout=timeout).finish(answer)


def test_rosenbrock_minimum_is_exactly_1_1():
    doc = verdict("(1-x)**2 + 100*(y-x**2)**2", {"x": 0.9999, "y": 0.9998})
    assert doc["status"] == "found" and doc["count"] == 1
    point = doc["points"][0]
    assert point["x"] == {"x": "1", "y": "1"} and point["kind"] == "minimum" and point["f"] == 0.0
    assert doc["nearest"]["sought"] is True and doc["nearest"]["distance"] == pytest.approx(2.236e-4, rel=1e-3)


def test_saddle_of_x2_minus_y2():
    doc = verdict("x**2 - y**2", {"x": 0.0, "y": 0.0})
    assert doc["points"][0]["kind"] == "saddle" and doc["nearest"]["sought"] is False


def test_maximum_is_the_kind_sought_when_maximizing():
    doc = verdict("-(x-1)**2-(y+2)**2", {"x": 1.0, "y": -2.0}, sense="maximize")
    assert doc["points"][0]["x"] == {"x": "1", "y": "-2"} and doc["points"][0]["kind"] == "maximum"
    assert doc["nearest"] == {"distance": 0.0, "kind": "maximum", "sought": True}


def test_floats_are_made_exact_before_solving():
    doc = verdict("0.1*x**2 + 0.3*x", {"x": -1.5})
    assert doc["points"][0]["x"] == {"x": "-3/2"} and doc["points"][0]["f"] == pytest.approx(-0.225)


def test_a_family_of_stationary_points_is_met_at_the_answer():
    doc = verdict("(x+y)**2", {"x": 1.0, "y": -1.0})
    # the Hessian is singular along the line x = -y; f - 0 = (x+y)**2 >= 0 proves every member a minimum
    assert doc["points"][0]["family"] is True and doc["points"][0]["kind"] == "minimum"
    assert doc["nearest"]["distance"] == 0.0 and doc["nearest"]["sought"] is True


@pytest.mark.parametrize("expression, kind", [("x**4", "minimum"), ("-x**4", "maximum"), ("x**3", "saddle"),
                                              ("x**4 + y**2", "minimum")])
def test_a_singular_hessian_is_settled_by_exact_reasoning(expression, kind):
    doc = verdict(expression, {"x": 0.0, "y": 0.0} if "y" in expression else {"x": 0.0})
    assert doc["points"][0]["kind"] == kind and doc["nearest"]["sought"] is (kind == "minimum")


def test_a_point_no_test_can_classify_is_not_called_the_wrong_kind():
    # Peano's surface: the Hessian at 0 is semidefinite, every line through 0 has a minimum there, yet it is
    # not a minimum. Nothing sympy proves decides it, so no verdict is drawn.
    doc = verdict("(y-x**2)*(y-2*x**2)", {"x": 0.0, "y": 0.0})
    assert doc["points"][0]["kind"] == "degenerate" and doc["nearest"]["sought"] is None
    line = summary(doc, ["x", "y"])
    assert "cannot decide" in line and "not the kind sought" not in line


def test_a_periodic_formula_is_compared_with_the_nearest_copy():
    doc = verdict("sin(x) + y**2", {"x": -1.57, "y": 0.0})
    assert doc["periodic"] == ["x"] and doc["points"][0]["x"] == {"x": "-pi/2", "y": "0"}
    assert doc["points"][0]["kind"] == "minimum" and doc["nearest"]["sought"] is True


def test_no_closed_form_returns_within_its_budget_and_the_process_is_gone():
    t = time.monotonic()
    check = Verification.start(NO_CLOSED_FORM, timeout=2.0)
    doc = check.finish({"x": -0.3})
    elapsed = time.monotonic() - t
    assert doc["status"] == "timeout" and doc["reason"] == "no closed form found within 2 s"
    assert 2.0 <= elapsed < 2.5 and doc["points"] == [] and doc["nearest"] is None
    assert check.process.poll() is not None  # killed and reaped


def test_a_formula_sympy_cannot_solve_is_an_answer_not_a_crash():
    doc = verdict("abs(x-1)", {"x": 1.0})
    assert doc["status"] == "none" and "sympy cannot solve it" in doc["reason"]


def test_a_stop_request_ends_the_wait_at_once():
    check = Verification.start(NO_CLOSED_FORM, timeout=30)
    t = time.monotonic()
    doc = check.finish({"x": 0.0}, stop=lambda: time.monotonic() - t > 0.3)
    assert doc["status"] == "interrupted" and time.monotonic() - t < 1.5 and check.process.poll() is not None


@pytest.mark.parametrize("eig, kind", [([2, 200], "minimum"), ([-1, -3], "maximum"), ([2, -2], "saddle"),
                                       ([0, 1], "degenerate"), ([1e-12, 1.0], "degenerate"), ([], "degenerate")])
def test_classify(eig, kind):
    assert classify(eig) == kind


def test_minimize_with_verify_carries_it_into_the_result_and_the_json():
    from gdsolve.io.jsonio import result_document

    r = minimize("(1-x)**2 + 100*(y-x**2)**2", method="lbfgs", x0=[-1, 1], verify=True)
    assert r.verify["status"] == "found" and r.verify["nearest"]["kind"] == "minimum"
    assert r.verify["nearest"]["distance"] < 1e-6
    assert result_document(r)["verify"]["points"][0]["x"] == {"x": "1", "y": "1"}
    assert "nearest exact stationary point: minimum at x = 1, y = 1" in summary(r.verify, r.variables)
    assert "verify" not in result_document(minimize("x**2", x0=1))  # only when asked


def test_maximize_with_verify_seeks_a_maximum():
    r = maximize("-(x-1)**2-(y+2)**2", x0=[0, 0], verify=True)
    assert r.verify["nearest"]["sought"] is True


@pytest.mark.parametrize("kw, match", [
    ({"verify": "yes"}, "verify must be True or False"),
    ({"verify": True, "verify_timeout": 0}, r"verify_timeout must be a number of seconds in \(0, 3600\]"),
    ({"verify_timeout": 2}, "verify_timeout limits the time of verify; add verify=True"),
])
def test_bad_verify_settings_are_refused(kw, match):
    with pytest.raises(OptionError, match=match):
        minimize("x**2", x0=1, **kw)


def test_a_process_that_cannot_start_is_an_answer_not_a_crash(monkeypatch):
    import sys

    monkeypatch.setattr(sys, "executable", "/nonexistent/python")
    doc = Verification.start("x**2", timeout=5).finish({"x": 0.0})
    assert doc["status"] == "none" and doc["reason"].startswith("the solving process could not start")


def test_what_the_solving_process_prints_does_not_corrupt_its_answer(monkeypatch, tmp_path):
    # A sitecustomize that prints runs in every interpreter, before gdsolve's code.
    (tmp_path / "sitecustomize.py").write_text("print('hello from sitecustomize', 1 + 1)\n")
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    doc = verdict("(x-2)**2", {"x": 2.0})
    assert doc["points"][0]["x"] == {"x": "2"}


@pytest.mark.parametrize("expression, answer, point", [
    ("softplus(x) - 0.3*x", -0.85, {"x": "log(3/7)"}),  # sigmoid(x) = 3/10
    ("logsumexp(x, 0) - 0.25*x", -1.1, {"x": "-log(3)"}),
    ("-logsigmoid(x) - logsigmoid(-x)", 0.0, {"x": "0"}),
    ("log1p(x**2) + expm1(x**2)", 0.0, {"x": "0"}),
    ("x - xlogy(2, x)", 2.0, {"x": "2"}),
])
def test_stable_functions_are_solved_through_their_formulas(expression, answer, point):
    doc = verdict(expression, {"x": answer})
    assert doc["status"] == "found" and doc["points"][0]["x"] == point
    assert doc["points"][0]["kind"] == "minimum" and doc["nearest"]["sought"] is True
