"""What a diverged or budget-spent run is told to try: only advice that helps (from the command line).

The command lines run through the CLI's ``main`` in this process (the installed command's own
start-up, streams and signals are test_e2e's and test_launch's); a command line several tests
read is run once.
"""

from __future__ import annotations

import contextlib
import functools
import io
import json
import re

import pytest

from gdsolve.cli.app import main
from gdsolve.engine.advice import nice_rate, top_curvature
from gdsolve.formula.objective import compile_objective
from gdsolve.formula.parse import parse_expression

ROSEN = "(1-x)**2 + 100*(y-x^2)**2"


@functools.cache
def json_of(*args: str) -> str:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main([*args, "--json"])
    assert code in (0, 1, 3) and err.getvalue() == "", (args, code, err.getvalue())
    return out.getvalue()


def run(*args: str) -> dict:
    return json.loads(json_of(*args))


def suggested_rate(message: str) -> float:
    m = re.search(r"try --lr (\S+?)\)?$", message)
    assert m, message
    return float(m.group(1))


@pytest.mark.parametrize("args", [("minimize", "-x**2"), ("minimize", "-x**2", "--starts", "2"),
                                  ("minimize", "x"), ("maximize", "x**2"),
                                  ("minimize", "-x**2", "--method", "lbfgs")])
def test_a_formula_without_a_minimum_is_not_told_to_lower_the_rate(args):
    doc = run(*args)
    which = "above" if args[0] == "maximize" else "below"
    assert doc["status"] in ("max_iter", "diverged")
    assert f"unbounded {which}" in doc["message"] and "--bounds" in doc["message"]
    assert "smaller --lr" not in doc["message"]


@pytest.mark.parametrize(("args", "lr"), [((ROSEN,), None), ((ROSEN, "--starts", "3"), None), (("(x-4)**2",), "1.5")])
def test_a_diverged_run_is_told_a_rate_that_does_not_diverge(args, lr):
    doc = run("minimize", *args, *(("--lr", lr) if lr else ()))
    assert doc["status"] == "diverged" and "largest eigenvalue" in doc["message"]
    again = run("minimize", *args, "--lr", str(suggested_rate(doc["message"])))
    assert again["status"] != "diverged", again["message"]


def test_rosenbrocks_suggestion_is_below_two_over_the_top_curvature_at_the_start():
    doc = run("minimize", ROSEN)
    obj = compile_objective(parse_expression(ROSEN))
    lam = top_curvature(obj, [list(doc["x0"].values())])
    assert lam == pytest.approx(3106, rel=0.01)  # the old advice, lr / 10 = 0.01, diverges too
    assert suggested_rate(doc["message"]) < 2 / lam


def test_steps_of_constant_size_at_max_iter_say_the_rate_is_too_large():
    doc = run("minimize", "(x-4)**2", "--lr", "0.99")
    assert doc["status"] == "max_iter" and "kept their size" in doc["message"]
    again = run("minimize", "(x-4)**2", "--lr", str(suggested_rate(doc["message"])))
    assert again["status"] == "converged"


@pytest.mark.parametrize("args", [("(x-4)**2", "--lr", "0.001"), (ROSEN, "--lr", "0.001", "--max-iter", "200"),
                                  ("exp(-x) + x**2/100", "--lr", "0.01")])
def test_a_merely_slow_run_gets_no_advice_it_does_not_need(args):
    doc = run("minimize", *args)
    assert doc["status"] == "max_iter" and doc["message"].endswith(">= eps 1e-06)"), doc["message"]


def test_nice_rate_rounds_down_to_one_digit():
    assert nice_rate(3.2e-4) == pytest.approx(3e-4) and nice_rate(0.5) == 0.5 and nice_rate(0.0999) == pytest.approx(0.09)
