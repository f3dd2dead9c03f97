"""Settings and start-point validation: every mistake names the option."""

from __future__ import annotations

import math
import re

import pytest

from gdsolve.cli.cmdline import parse_assignments, parse_bounds
from gdsolve.core.errors import OptionError
from gdsolve.core.settings import Settings, resolve_x0


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
    assert resolve_x0(("x", "y", "w[0]"), 0.5) == {"x": 0.5, "y": 0.5, "w[0]": 0.5}  # one number: every variable


@pytest.mark.parametrize(
    ("x0", "fragment"),
    [
        ({"x": 1, "z": 2}, "names z"),
        ({"x": 1}, "missing y"),
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
    for bad, frag in [("x=1,2", "mixes"), ("x=a", "cannot depend on a variable"), ("", "empty"), ("x=1,,y=2", "empty"),
                      ("x=1,x=2", "twice"), ("1x=2", "not a variable"), ("x=inf", "finite")]:
        with pytest.raises(OptionError, match=frag):
            parse_assignments(bad, "--x0")
    with pytest.raises(OptionError, match=re.escape("--param 'a': expected name=value, e.g. --param a=2")):
        parse_assignments("a", "--param", names_required=True)


def test_assignments_and_bounds_take_constant_expressions():
    assert parse_assignments("a=sqrt(2), b=1e-3*pi, c=atan2(1, 1)", "--x0") == pytest.approx(
        {"a": math.sqrt(2), "b": 1e-3 * math.pi, "c": math.pi / 4}, rel=1e-15)
    assert parse_assignments("pi, -E", "--x0") == pytest.approx([math.pi, -math.e], rel=1e-15)
    assert parse_assignments("x=[[1,2],[pi,4]],b=log(2)", "--x0") == {"x": [[1.0, 2.0], [math.pi, 4.0]],
                                                                       "b": math.log(2)}
    assert parse_assignments("a=pi/4", "--param", names_required=True) == {"a": math.pi / 4}
    assert parse_bounds(["shift=-pi/2:pi/2", "s=:2*sqrt(2)"]) == {"shift": (-math.pi / 2, math.pi / 2),
                                                                  "s": (-math.inf, 2 * math.sqrt(2))}


@pytest.mark.parametrize("call, message", [
    (lambda: parse_assignments("a=b+1", "--x0"),
     "--x0 a: 'b+1' names b, but a value here cannot depend on a variable; write a number or a constant "
     "expression such as pi/2, sqrt(2) or 1e-3*pi"),
    (lambda: parse_assignments("a=exp(1000)", "--x0"), "--x0 a: 'exp(1000)' cannot be evaluated: exp() of a "
                                                        "constant is undefined or overflows here"),
    (lambda: parse_assignments("a=1/0", "--p0", names_required=True), "--p0 a: '1/0' cannot be evaluated: division by zero"),
    (lambda: parse_assignments("a=inf", "--x0"), "--x0: 'inf' for a must be a finite number, such as 1e300 or pi/2"),
    (lambda: parse_assignments("a=-inf*1", "--x0"), "--x0 a: '-inf*1' is not a finite number"),
    (lambda: parse_assignments("a=__import__('os')", "--x0"), "--x0 a: \"__import__('os')\" cannot be evaluated: "
                                                               "name '__import__' is not allowed"),
    (lambda: parse_assignments("x=[[1,2],[pi,y]]", "--x0"), "--x0 x: '[[1,2],[pi,y]]' names y"),
    (lambda: parse_assignments("x=[[pi,2],[]]", "--x0"), "--x0 x: '[[pi,2],[]]' has an empty list"),
    (lambda: parse_bounds(["x=sin(:1"]), "--bounds x: 'sin(': syntax error"),
    (lambda: parse_bounds(["x=2*pi:pi"]), "is empty: 6.28319 > 3.14159"),
])
def test_constant_expressions_refused_name_the_option_the_text_and_the_fix(call, message):
    with pytest.raises(OptionError, match=re.escape(message)):
        call()


# --- every default is written once, and "not given" is not a value ----------------------------------------

def test_the_command_lines_defaults_are_the_librarys():
    import typer

    from gdsolve.cli.app import app
    from gdsolve.core import settings

    command = typer.main.get_command(app)
    params = {p.name: p for p in command.commands["minimize"].params}
    assert params["eps"].default == settings.DEFAULT_EPS == settings.Settings().eps
    assert params["max_iter"].default == settings.DEFAULT_MAX_ITER == settings.Settings().max_iter
    assert params["seed"].default == settings.DEFAULT_SEED == settings.Settings().seed
    for name in ("verify_timeout", "hop_size", "lr", "gtol", "ftol"):  # options whose absence means something
        assert params[name].default is None, name
    fit = {p.name: p for p in command.commands["fit"].params}
    for name in ("f_scale", "ftol", "xtol", "gtol", "max_iter"):
        assert fit[name].default is None, name


@pytest.mark.parametrize(("call", "fragment"), [
    (lambda g: g.minimize("x**2", verify_timeout=5.0), "verify_timeout limits the time of verify"),
    (lambda g: g.minimize("x**2", hop_size=0.05), "hop_size sizes the hops of basin hopping"),
])
def test_an_option_given_at_its_default_value_is_still_given(call, fragment):
    import gdsolve

    with pytest.raises(OptionError, match=fragment):
        call(gdsolve)


def test_a_fit_option_given_at_its_default_value_is_still_given():
    from gdsolve import fit

    data = {"x": [0.0, 1.0, 2.0, 3.0], "y": [1.0, 3.1, 4.9, 7.2]}
    with pytest.raises(OptionError, match="f_scale sets where a robust loss"):
        fit("y ~ a + b*x", data, f_scale=1.0)
    with pytest.raises(OptionError, match="ftol is a stopping rule of lm"):
        fit("y ~ a + b*x", data, method="adam", ftol=1e-14)
    assert fit("y ~ a + b*x", data).params["b"] == pytest.approx(10.2 / 5, rel=1e-9)  # Sxy / Sxx


def test_scale_is_auto_for_lbfgs_none_for_the_others_and_in_the_settings():
    assert Settings(method="lbfgs").as_dict()["scale"] == "auto"
    assert Settings(method="lbfgs", scale="none").as_dict()["scale"] == "none"
    assert Settings(method="adam").scale == Settings(method="adam", scale="none").scale == "none"
    with pytest.raises(OptionError, match="applies to method lbfgs only"):
        Settings(method="adam", scale="auto")
