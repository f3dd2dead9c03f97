"""The Python API as a user calls it."""

from __future__ import annotations

import math

import pytest

import gdsolve
from gdsolve import ExpressionError, GdsolveError, OptionError, maximize, minimize
from gdsolve.jobs.lines import KEYS


def test_minimize_quickstart():
    r = minimize("(x-4)**2", lr=0.1, x0={"x": 0.5})
    assert r.x["x"] == pytest.approx(4, abs=1e-4) and r.success and r.nit > 0
    assert r.fun == pytest.approx(0, abs=1e-8) and r.jac == r.grad


def test_callback_sees_every_step():
    seen = []
    r = minimize("(x-4)**2", x0=0.0, callback=seen.append)
    assert [s.k for s in seen] == list(range(r.nit))
    assert seen[0].x == (0.0,) and seen[0].f == 16.0 and seen[0].grad == (-8.0,)


def test_maximize():
    r = maximize("-(x-1)**2 + 3", x0={"x": 0})
    assert r.fun == pytest.approx(3) and r.sense == "maximize"


def test_errors_are_library_classes():
    with pytest.raises(ExpressionError):
        minimize("x +")
    with pytest.raises(OptionError):
        minimize("x**2", lr=-1)
    assert issubclass(ExpressionError, gdsolve.GdsolveError) and issubclass(OptionError, ValueError)


def test_iterating_a_descent():
    d = gdsolve.prepare("(x-4)**2", x0=0.0, max_iter=5)
    ks = [s.k for s in d]
    assert ks == [0, 1, 2, 3, 4] and d.result().nit == 5


def test_result_repr_and_dict():
    r = minimize("(x-4)**2", x0=0.0)
    assert "converged" in repr(r)
    d = r.to_dict()
    assert d["status"] == "converged" and d["success"] is True


def test_unknown_keyword_is_gdsolves_own_error_listing_the_valid_ones():
    with pytest.raises(OptionError, match="unknown setting 'lrr'; did you mean 'lr'") as info:
        minimize("x**2", lrr=0.1)
    assert "max_iter" in str(info.value) and "x0" in str(info.value)


@pytest.mark.parametrize(("kw", "python", "cli"), [
    ({"lr": -1}, "lr must be a positive number", "--lr must be a positive number"),
    ({"max_iter": 0}, "max_iter must be an integer", "--max-iter must be an integer"),
    ({"x0": {"x": 1}, "variables": ["x", "y"]}, "variables lists x, y", "--vars lists x, y"),
    ({"x0": {"z": 1}}, "x0 names z", "--x0 names z"),
    ({"method": "adam", "options": {"beta1": 2}}, "beta1 must be in [0, 1) for method adam", "--beta1 must be in [0, 1)"),
])
def test_errors_name_keywords_in_python_and_flags_on_the_command_line(kw, python, cli):
    with pytest.raises(gdsolve.GdsolveError) as info:
        minimize("x**2", **kw)
    assert python in str(info.value) and "--" not in str(info.value)
    assert cli in info.value.cli_message()


def test_result_message_speaks_python():
    r = minimize("x**2 + y**2", x0={"x": 1, "y": 1}, lr=1.2, max_iter=5000)
    assert "lr=0.5" in r.message and "--lr" not in r.message
    assert "--lr 0.5" in r.message_for(cli=True)


# Every keyword of minimize, given a value of the wrong type or size, is refused with gdsolve's own
# error whose message stays short: never OverflowError (an int too big for a float), AttributeError
# (a list where a mapping belongs), or ValueError (an int too long to write in the message).
_HUGE = 10**400
_WRONG = [None, [None], "text", True, _HUGE, -_HUGE, 10**5000, [_HUGE, _HUGE], {"x": _HUGE}, {"x": [0, _HUGE]},
          {"x": [10**5000, 1]}, {"momentum": _HUGE}, "m" * 100_000, [math.nan], {"x": {"y": 1}}, [[1]]]
# Counts that may legitimately be huge (the run then goes until its time limit or Ctrl-C) are left out.
_UNBOUNDED = {"max_iter", "hops", "starts", "step_size", "t_max"}


@pytest.mark.parametrize("key", sorted(set(KEYS) - {"id", "expression"}))
def test_every_keyword_refuses_wrong_values_with_its_own_short_error(key):
    for value in _WRONG:
        if key in _UNBOUNDED and isinstance(value, int) and not isinstance(value, bool):
            continue
        kw = {"max_iter": 5, key: value}
        try:
            minimize("(x-4)**2 + y**2", **kw)
        except GdsolveError as exc:
            assert len(str(exc)) < 400, (key, str(exc)[:200])


def test_sense_is_not_a_keyword_of_minimize():
    with pytest.raises(OptionError, match="unknown setting 'sense'"):
        minimize("(x-4)**2", sense="maximize")


def test_one_number_x0_starts_every_variable_and_every_element_there():
    r = minimize("(x-1)**2 + sum((w-2)**2)", x0=0.5, shape={"w": 2}, method="lbfgs")
    assert r.x0 == {"x": 0.5, "w[0]": 0.5, "w[1]": 0.5}
    assert r.x == pytest.approx({"x": 1.0, "w[0]": 2.0, "w[1]": 2.0}, abs=1e-6)
