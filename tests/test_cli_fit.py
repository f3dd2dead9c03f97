"""``gdsolve fit`` through CliRunner: the exit code and the parsed output together."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from typer.testing import CliRunner

from gdsolve.cli.app import app

ROOT = Path(__file__).resolve().parents[1]
MISRA = str(ROOT / "examples" / "misra1a.csv")
runner = CliRunner()


def invoke(*args, input=None):
    result = runner.invoke(app, list(args), input=input)
    return result.exit_code, result.stdout, result.stderr


def test_fit_json_has_the_documented_fields():
    code, out, err = invoke("fit", "y ~ b1*(1-exp(-b2*x))", "--data", MISRA, "--p0", "b1=500,b2=1e-4", "--json")
    doc = json.loads(out)
    assert code == 0 and err == ""
    for key in ("params", "stderr", "correlation", "rss", "residual_std", "dof", "n", "r2", "aic", "bic", "status",
                "nit", "message", "x", "fun", "success", "p0", "method"):
        assert key in doc
    assert doc["params"]["b1"] == pytest.approx(2.3894212918e02, rel=1e-9)
    assert doc["stderr"]["b2"] == pytest.approx(7.2668688436e-06, rel=1e-6)
    assert doc["rss"] == pytest.approx(1.2455138894e-01, rel=1e-8) and doc["dof"] == 12 and doc["n"] == 14
    assert doc["status"] == "converged" and doc["method"] == "lm"


def test_fit_report_shows_parameters_correlation_and_goodness_of_fit():
    code, out, _ = invoke("fit", "y ~ b1*(1-exp(-b2*x))", "--data", MISRA, "--p0", "b1=500,b2=1e-4")
    assert code == 0
    for words in ("Parameters", "std error", "t-value", "Correlation", "-0.999", "degrees of freedom",
                  "residual sum of squares", "0.12455139", "R^2", "AIC", "BIC", "converged"):
        assert words in out


def test_fit_reads_stdin_and_writes_residuals(tmp_path):
    res = tmp_path / "res.csv"
    code, out, _ = invoke("fit", "y ~ a*x + b", "--data", "-", "--residuals", str(res), "--json",
                          input="x y\n0 1\n1 3\n2 5.1\n")
    assert code == 0 and json.loads(out)["data"] == "<stdin>"
    assert res.read_text().splitlines()[0] == "x,y,fitted,residual"


@pytest.mark.parametrize(("args", "words"), [
    (["y ~ a*x", "--data", "nope.csv"], "data file 'nope.csv' does not exist"),
    (["y ~ a*x", "--data", MISRA, "--p0", "c=1"], "--p0 names 'c'"),
    (["y ~ a*x", "--data", MISRA, "--sigma", "e"], "has no column 'e' (--sigma)"),
    (["y ~ a*x", "--data", MISRA, "--absolute-sigma"], "--absolute-sigma takes"),
    (["y ~ a*x", "--data", MISRA, "--lr", "0.1"], "--lr is for the gradient methods"),
    (["a*x", "--data", MISRA], "has no '~'"),
    (["y ~ a*x", "--data", MISRA, "--residuals", "-"], "give it a path"),
    # a file that cannot be opened is a wrong option (exit 2); one that fills up is exit 74 (test_startup.py)
    (["y ~ a*x", "--data", MISRA, "--residuals", "/no/such/folder/r.csv"],
     "cannot write --residuals file '/no/such/folder/r.csv': No such file or directory"),
])
def test_bad_input_is_one_error_line_and_exit_2(args, words):
    code, out, err = invoke("fit", *args)
    assert code == 2 and out == ""
    assert words in err and len(err.strip().splitlines()) == 1 and err.startswith(("error:", "Usage"))


def test_usage_errors_through_main_are_one_line(capsys):
    from gdsolve.cli.app import main

    assert main(["fit", "y ~ a*x", "--data", MISRA, "--loss", "l2"]) == 2
    err = capsys.readouterr().err
    assert "l2" in err and len(err.strip().splitlines()) == 1
    assert main(["fit", "y ~ a*x"]) == 2
    assert "--data" in capsys.readouterr().err


def test_missing_values_in_the_file(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("x,y\n0,1\n1,NA\n2,5\n3,7\n")
    code, _, err = invoke("fit", "y ~ a*x + b", "--data", str(path))
    assert code == 2 and "1 row has missing values (the first at line 3, column 'y')" in err and "--drop-missing" in err
    code, out, _ = invoke("fit", "y ~ a*x + b", "--data", str(path), "--drop-missing", "--json")
    assert code == 0 and json.loads(out)["dropped"] == 1 and json.loads(out)["n"] == 3


def test_not_converged_and_diverged_exit_codes():
    code, out, _ = invoke("fit", "y ~ b1*(1-exp(-b2*x))", "--data", MISRA, "--max-iter", "1", "--json")
    assert code == 1 and json.loads(out)["status"] == "max_iter"
    code, out, _ = invoke("fit", "y ~ a*log(x - 100)", "--data", MISRA, "--json")
    assert code == 3 and json.loads(out)["status"] == "diverged"


DECAY = str(ROOT / "examples" / "decay.tsv")


def _decay_columns():
    rows = [line.split("\t") for line in Path(DECAY).read_text().splitlines()[1:] if line.strip()]
    return [float(r[0]) for r in rows], [float(r[1]) for r in rows]


def test_a_bounded_fit_reaches_the_constrained_optimum_and_reports_the_active_bound():
    # k held at 0.25 leaves a linear least-squares problem in a: a = sum(e*y)/sum(e*e), e = exp(-0.25 t).
    t, y = _decay_columns()
    e = [math.exp(-0.25 * v) for v in t]
    a = sum(p * q for p, q in zip(e, y)) / sum(p * p for p in e)
    rss = sum((q - a * p) ** 2 for p, q in zip(e, y))
    code, out, _ = invoke("fit", "y ~ a*exp(-k*t)", "--data", DECAY, "--bounds", "k=0:0.25", "--p0", "a=4,k=0.2",
                          "--json")
    doc = json.loads(out)
    assert code == 0 and doc["status"] == "converged"
    assert doc["params"]["a"] == pytest.approx(a, rel=1e-9) and doc["params"]["k"] == 0.25  # exactly on the bound
    assert doc["rss"] == pytest.approx(rss, rel=1e-10)
    assert doc["active_bounds"] == {"k": "upper"}
    assert doc["stderr"]["k"] is None and doc["t_value"]["k"] is None and doc["stderr"]["a"] > 0
    assert "k is held at its upper bound" in doc["stderr_reason"]
    code, out, _ = invoke("fit", "y ~ a*exp(-k*t)", "--data", DECAY, "--bounds", "k=0:0.25", "--p0", "a=4,k=0.2")
    assert code == 0 and "k at its upper bound" in out and "k is held at its upper bound" in out


@pytest.mark.parametrize(("args", "name", "expected", "held"), [
    # the constrained optima, by Newton's method on the free parameter in 40-digit arithmetic (mpmath)
    (["y ~ b1*(1-exp(-b2*x))", "--data", MISRA, "--bounds", "b1=0:200", "--p0", "b1=100,b2=1e-4"],
     "b2", 6.790593778031414e-04, {"b1": "upper"}),
    (["y ~ a*exp(-k*t)", "--data", DECAY, "--bounds", "a=:4.5"], "k", 0.24896639664063076, {"a": "upper"}),
])
def test_bounded_fits_against_the_constrained_optimum(args, name, expected, held):
    code, out, _ = invoke("fit", *args, "--json")
    doc = json.loads(out)
    assert code == 0 and doc["status"] == "converged" and doc["active_bounds"] == held
    assert doc["params"][name] == pytest.approx(expected, rel=1e-8)


def test_fewer_rows_than_parameters_is_a_clear_error():
    code, out, err = invoke("fit", "y ~ a*x**2 + b*x + c", "--data", "-", input="x,y\n0,1\n1,3\n")
    assert code == 2 and out == ""
    assert err.startswith("error:") and "2 data rows for 3 parameters (a, b, c)" in err
    assert len(err.strip().splitlines()) == 1


def test_absolute_sigma_with_a_sigma_column():
    code, out, err = invoke("fit", "y ~ a*exp(-k*t)", "--data", DECAY, "--sigma", "sigma", "--absolute-sigma", "--json")
    doc = json.loads(out)
    assert code == 0 and err == "" and doc["absolute_sigma"] is True and doc["sigma"] == "sigma"
    _, out, _ = invoke("fit", "y ~ a*exp(-k*t)", "--data", DECAY, "--sigma", "sigma", "--json")
    scaled = json.loads(out)
    # absolute: the covariance is not multiplied by the reduced chi-square
    ratio = scaled["stderr"]["k"] / doc["stderr"]["k"]
    assert ratio == pytest.approx(math.sqrt(scaled["reduced_chisq"]), rel=1e-9)


@pytest.mark.parametrize(("method", "lr", "advice"), [
    ("gd", "1e-12", "--method lm"),  # minimize's advice was: --line-search armijo, or a smaller --eps
    # ... or stop on the gradient with --gtol (which fit refuses with lbfgs); at its default rate lbfgs rescales
    # b1 and b2 and converges here (test_fit_with_lbfgs_rescales_misra1a...), so a tiny rate makes it stall
    ("lbfgs", "1e-12", "--method lm"),
    ("adam", "0.01", "try a smaller --lr (e.g. --lr 0.001)"),  # in CLI words under --json, not lr=0.001
])
def test_fit_messages_name_only_options_fit_takes_in_cli_words(method, lr, advice):
    _, out, _ = invoke("fit", "y ~ b1*(1-exp(-b2*x))", "--data", MISRA, "--p0", "b1=500,b2=1e-4",
                          "--method", method, "--lr", lr, "--json")
    message = json.loads(out)["message"]
    assert advice in message, message
    for foreign in ("--eps", "--line-search", "line_search", "--gtol", "--x0", "method=", "lr=", "{", "[["):
        assert foreign not in message, message


def test_fit_with_lbfgs_rescales_misra1a_and_reaches_the_certified_values():
    code, out, _ = invoke("fit", "y ~ b1*(1-exp(-b2*x))", "--data", MISRA, "--p0", "b1=500,b2=1e-4",
                          "--method", "lbfgs", "--json")
    doc = json.loads(out)
    assert code == 0 and doc["status"] == "converged"
    assert doc["params"]["b1"] == pytest.approx(2.3894212918e02, rel=1e-5)
    assert doc["params"]["b2"] == pytest.approx(5.5015643181e-04, rel=1e-5)
