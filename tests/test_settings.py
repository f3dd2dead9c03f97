"""Settings and start-point validation: every mistake names the option."""

from __future__ import annotations

import re

import pytest

from gdsolve.cmdline import parse_assignments
from gdsolve.errors import OptionError
from gdsolve.settings import Settings, resolve_x0


@pytest.mark.parametrize(
    ("kw", "fragment"),
    [
        ({"lr": 0}, "^lr must be a positive number, got 0; try lr=0.1$"),
        ({"lr": -0.1}, "^lr "),
        ({"lr": float("nan")}, "^lr "),
        ({"lr": float("inf")}, "^lr "),
        ({"lr": "0.1"}, "^lr "),
        ({"eps": -1e-6}, "^eps "),
        ({"eps": float("nan")}, "^eps "),
        ({"eps": float("inf")}, "^eps "),
        ({"max_iter": 0}, "^max_iter "),
        ({"max_iter": 2.5}, "^max_iter "),
        ({"max_iter": True}, "^max_iter "),
        ({"dtype": "float16"}, "^dtype "),
        ({"dtype": ["float64"]}, "^dtype "),
        ({"method": ["gd"]}, "^method "),
        ({"seed": -1}, "^seed "),
        ({"gtol": "1e-6"}, "^gtol "),
    ],
)
def test_bad_settings(kw, fragment):
    with pytest.raises(OptionError, match=fragment):
        Settings(**kw)


def test_cli_wording_of_the_same_errors():
    with pytest.raises(OptionError) as info:
        Settings(max_iter=0)
    assert info.value.cli_message() == "--max-iter must be an integer >= 1, got 0"
    with pytest.raises(OptionError) as info:
        Settings(method="adam", options={"beta2": 1.0})
    assert info.value.cli_message() == "--beta2 must be in [0, 1) for --method adam, got 1.0"
    assert str(info.value) == "beta2 must be in [0, 1) for method adam, got 1.0"


def test_lbfgs_reports_its_line_search():
    assert Settings(method="lbfgs").line_search == "strong_wolfe"
    assert Settings(method="lbfgs").as_dict()["line_search"] == "strong_wolfe"


def test_defaults_are_the_tutorials():
    s = Settings()
    assert (s.lr, s.eps, s.max_iter, s.dtype) == (0.1, 1e-6, 100, "float64")


def test_resolve_x0_forms():
    assert resolve_x0(("x", "y"), {"y": 2, "x": 1}) == {"x": 1.0, "y": 2.0}
    assert resolve_x0(("x", "y"), [1, 2]) == {"x": 1.0, "y": 2.0}
    assert resolve_x0(("x",), 3) == {"x": 3.0}
    assert resolve_x0(("x",), None) is None


@pytest.mark.parametrize(
    ("x0", "fragment"),
    [
        ({"x": 1, "z": 2}, "names z"),
        ({"x": 1}, "missing y"),
        (1.0, "one number"),
        ([1, 2, 3], "3 values"),
        ({"x": float("inf"), "y": 0}, "finite"),
        ({"x": "a", "y": 0}, "not a number"),
        ("1,2", "mapping"),
    ],
)
def test_bad_x0(x0, fragment):
    with pytest.raises(OptionError, match=fragment):
        resolve_x0(("x", "y"), x0)


def test_parse_assignments():
    assert parse_assignments("x=1,y=-2", "--x0") == {"x": 1.0, "y": -2.0}
    assert parse_assignments("1, 2", "--x0") == [1.0, 2.0]
    for bad, frag in [("x=1,2", "mixes"), ("x=a", "not a number"), ("", "empty"), ("x=1,,y=2", "empty"),
                      ("x=1,x=2", "twice"), ("1x=2", "not a variable"), ("x=inf", "finite")]:
        with pytest.raises(OptionError, match=frag):
            parse_assignments(bad, "--x0")
    with pytest.raises(OptionError, match=re.escape("--param 'a': expected name=value, e.g. --param a=2")):
        parse_assignments("a", "--param", names_required=True)
