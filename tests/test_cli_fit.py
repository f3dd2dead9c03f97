"""``gdsolve fit`` through CliRunner: the exit code and the parsed output together."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from gdsolve.cli import app

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
                  "residual sum of squares", "0.1245513889", "R^2", "AIC", "BIC", "converged"):
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
])
def test_bad_input_is_one_error_line_and_exit_2(args, words):
    code, out, err = invoke("fit", *args)
    assert code == 2 and out == ""
    assert words in err and len(err.strip().splitlines()) == 1 and err.startswith(("error:", "Usage"))


def test_usage_errors_through_main_are_one_line(capsys):
    from gdsolve.cli import main

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
