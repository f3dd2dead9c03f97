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


def _ten_columns(tmp_path) -> str:
    """A synthetic 10-feature regression with a text column, as a CSV file."""
    names = ["age", "sex", "bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s6"]
    lines = [",".join([*names, "group", "y"])]
    for i in range(40):
        row = [math.sin(i * (j + 1)) * (j + 1) for j in range(10)]
        group = ("a", "b")[i % 2]
        y = 2 + sum((j - 4.5) / 5 * v for j, v in enumerate(row)) + (0.5 if group == "b" else 0) + 0.01 * math.cos(i)
        lines.append(",".join([*(repr(v) for v in row), group, repr(y)]))
    path = tmp_path / "ten.csv"
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def test_fit_a_matrix_names_coefficients_by_column(tmp_path):
    path = _ten_columns(tmp_path)
    code, out, err = invoke("fit", "y ~ b0 + X @ w + group @ g", "--data", path, "--matrix", "X=age..s6",
                            "--shape", "w=10", "--json")
    assert code == 0, err
    doc = json.loads(out)
    assert list(doc["params"]) == ["b0", "g[b]", "w[age]", "w[sex]", "w[bmi]", "w[bp]", "w[s1]", "w[s2]", "w[s3]",
                                   "w[s4]", "w[s5]", "w[s6]"]
    assert doc["params"]["g[b]"] == pytest.approx(0.5, abs=0.02) and doc["params"]["w[s6]"] == pytest.approx(0.9, abs=0.02)
    code, out, _ = invoke("fit", "y ~ b0 + X @ w", "--data", path, "--matrix", "X=s?")
    assert code == 0 and "w[s1]" in out and "w[s6]" in out  # names are text in the report, not rich markup
    code, out, err = invoke("fit", "y ~ .", "--data", path, "--json")
    assert code == 0, err
    assert "b[groupb]" in json.loads(out)["params"] and "b[age]" in json.loads(out)["params"]


@pytest.mark.parametrize(("args", "words"), [
    (["y ~ b0 + X @ w", "--matrix", "X=age..s6", "--shape", "w=3"],
     "X is 40 rows x 10 columns (age..s6) but w has 3 elements: --shape w=10"),
    (["y ~ b0 + c*group"], "group is a text column (levels a, b), not numbers; use it as a factor: group[b]"),
    (["y ~ b0 + X @ w", "--matrix", "X=s6..age"], "runs backwards"),
])
def test_fit_matrix_and_factor_errors_say_what_to_write(tmp_path, args, words):
    code, _, err = invoke("fit", args[0], "--data", _ten_columns(tmp_path), *args[1:])
    assert code == 2 and words in err and "Traceback" not in err


def test_fit_one_sided_and_vector_p0_from_the_command_line(tmp_path):
    path = _ten_columns(tmp_path)
    code, out, err = invoke("fit", "~ y - b0 - X @ w", "--data", path, "--matrix", "X=age..bmi",
                            "--p0", "b0=1,w=[0.1,0.2,0.3]", "--bounds", "w=-5:5", "--json")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["p0"] == {"b0": 1.0, "w[age]": 0.1, "w[sex]": 0.2, "w[bmi]": 0.3}
    assert doc["response"] == "" and set(doc["params"]) == {"b0", "w[age]", "w[sex]", "w[bmi]"}


def test_residuals_file_keeps_a_text_column_as_written(tmp_path):
    path = _ten_columns(tmp_path)
    res = tmp_path / "res.csv"
    code, _, err = invoke("fit", "y ~ b0 + group @ g", "--data", path, "--residuals", str(res))
    assert code == 0, err
    lines = res.read_text().splitlines()
    assert lines[0].split(",")[-4:] == ["group", "y", "fitted", "residual"] and lines[1].split(",")[10] == "a"


def test_p0_and_bounds_take_constant_expressions():
    code, out, _ = invoke("fit", "y ~ a*exp(-k*t)", "--data", DECAY, "--p0", "a=2*E,k=1/pi", "--bounds", "k=0:pi/8",
                          "--json")
    doc = json.loads(out)
    assert code == 0 and doc["p0"] == pytest.approx({"a": 2 * math.e, "k": 1 / math.pi}, rel=1e-15)
    code, out, err = invoke("fit", "y ~ a*exp(-k*t)", "--data", DECAY, "--p0", "a=k,k=1")
    assert code == 2 and err.startswith("error: --p0 a: 'k' names k, but a value here cannot depend on a variable")


ANES = str(ROOT / "examples" / "anes96.csv")
STRIKES = str(ROOT / "tests" / "data" / "strikes.csv")
LOGIT = "vote ~ 1/(1+exp(-(b0 + b1*age + b2*educ + b3*income + b4*selfLR)))"


def test_family_binomial_json_has_the_likelihood_fields():
    code, out, err = invoke("fit", LOGIT, "--data", ANES, "--family", "binomial", "--json")
    doc = json.loads(out)
    assert code == 0 and err == ""
    assert doc["family"] == "binomial" and doc["method"] == "fisher-scoring" and doc["test"] == "z"
    assert doc["params"]["b4"] == pytest.approx(1.2214819707818667, rel=1e-6)  # statsmodels' Logit
    assert doc["stderr"]["b4"] == pytest.approx(0.07922330875448069, rel=1e-4)
    assert doc["deviance"] == pytest.approx(852.7609216, rel=1e-6) and doc["dispersion"] == 1.0
    assert doc["dispersion_fixed"] is True and doc["df_null"] == 943
    for key in ("p_value", "conf_int", "conf_level", "null_deviance", "loglik", "aic", "bic", "pearson_chi2"):
        assert key in doc
    assert doc["conf_int"]["b4"][0] < doc["params"]["b4"] < doc["conf_int"]["b4"][1]


def test_family_gamma_report_reads_as_summary_glm():
    code, out, _ = invoke("fit", "duration ~ exp(b0 + b1*iprod)", "--data", STRIKES, "--family", "gamma")
    assert code == 0
    for words in ("t-value", "p-value", "2.5%", "97.5%", "family", "gamma", "dispersion", "(estimated)",
                  "deviance (60 degrees of freedom)", "null deviance (61 degrees of freedom)", "Pearson chi-square",
                  "log-likelihood", "AIC", "fisher-scoring", "converged"):
        assert words in out, words
    assert "R^2" not in out


def test_least_squares_report_and_json_have_p_values_and_intervals():
    _, out, _ = invoke("fit", "y ~ b1*(1-exp(-b2*x))", "--data", MISRA, "--p0", "b1=500,b2=1e-4", "--json")
    doc = json.loads(out)
    assert doc["test"] == "t" and doc["family"] is None and doc["deviance"] is None
    assert 0 <= doc["p_value"]["b1"] < 1e-10
    lo, hi = doc["conf_int"]["b2"]
    assert lo < doc["params"]["b2"] < hi
    code, out, _ = invoke("fit", "y ~ b1*(1-exp(-b2*x))", "--data", MISRA, "--p0", "b1=500,b2=1e-4")
    assert code == 0 and "p-value" in out and "97.5%" in out and "t-value" in out


@pytest.mark.parametrize(("args", "words"), [
    (["--family", "poisson", "--data", STRIKES, "iprod ~ exp(a)"], "column 'iprod' is -0.0"),
    (["--family", "poisson", "--data", STRIKES, "duration ~ exp(a + b*iprod)", "--loss", "huber"],
     "with --family poisson: the family is the loss; leave --loss out"),
    (["--family", "negbin", "--data", STRIKES, "duration ~ exp(a)"], "negbin"),
])
def test_family_input_errors_are_one_line_exit_2(args, words):
    code, out, err = invoke("fit", *args)
    assert code == 2 and out == "" and words in err and "Traceback" not in err


def test_family_outside_its_range_exits_3_with_the_row():
    code, out, _ = invoke("fit", "duration ~ a + b*iprod", "--data", STRIKES, "--family", "poisson",
                          "--p0", "a=-1,b=0", "--json")
    doc = json.loads(out)
    assert code == 3 and doc["status"] == "diverged" and "data row 1" in doc["message"] and "--p0" in doc["message"]


def test_family_trace_has_a_step_per_fisher_scoring_step_and_the_result(tmp_path):
    trace = tmp_path / "t.jsonl"
    code, _, _ = invoke("fit", LOGIT, "--data", ANES, "--family", "binomial", "--trace", str(trace))
    records = [json.loads(line) for line in trace.read_text().splitlines()]
    assert code == 0 and records[0]["settings"] == {"method": "fisher-scoring", "family": "binomial"}
    steps = [r for r in records if r["type"] == "step"]
    assert len(steps) == records[-1]["nit"] and records[-1]["family"] == "binomial"
    assert [s["f"] for s in steps] == sorted(s["f"] for s in steps)[::-1]  # half the deviance, never rising


def test_family_binomial_trials_column():
    beetle = str(ROOT / "tests" / "data" / "beetle.csv")
    code, out, _ = invoke("fit", "killed/n ~ 1/(1+exp(-(a + b*dose)))", "--data", beetle, "--family", "binomial",
                          "--trials", "n", "--json")
    doc = json.loads(out)
    assert code == 0 and doc["trials"] == "n" and doc["settings"]["trials"] == "n"
    assert doc["params"]["b"] == pytest.approx(34.27032573, rel=1e-6)  # statsmodels' GLM on successes/failures
    code, _, err = invoke("fit", "killed/n ~ a + b*dose", "--data", beetle, "--trials", "n")
    assert code == 2 and "--trials is the number of trials of a binomial proportion; give --family binomial" in err


def test_fit_with_lbfgs_rescales_misra1a_and_reaches_the_certified_values():
    code, out, _ = invoke("fit", "y ~ b1*(1-exp(-b2*x))", "--data", MISRA, "--p0", "b1=500,b2=1e-4",
                          "--method", "lbfgs", "--json")
    doc = json.loads(out)
    assert code == 0 and doc["status"] == "converged"
    assert doc["params"]["b1"] == pytest.approx(2.3894212918e02, rel=1e-5)
    assert doc["params"]["b2"] == pytest.approx(5.5015643181e-04, rel=1e-5)


def test_one_bare_p0_starts_every_parameter():
    code, out, err = invoke("fit", "y ~ a*exp(-k*t)", "--data", DECAY, "--p0", "0.5", "--json")
    assert code == 0, err
    assert json.loads(out)["p0"] == {"a": 0.5, "k": 0.5}
    code, out, err = invoke("fit", "y ~ a*exp(-k*t)", "--data", DECAY, "--p0", "2,0.25", "--json")
    assert code == 0 and json.loads(out)["p0"] == {"a": 2.0, "k": 0.25}, err
    code, _, err = invoke("fit", "y ~ a*exp(-k*t)", "--data", DECAY, "--p0", "1,2,3")
    assert code == 2 and "3 values for 2 parameters" in err


def test_the_short_logit_and_probit_are_the_long_ones():
    """README "Likelihoods": sigmoid(b0 + X @ w) with --matrix is the written-out logit; normcdf is the erf probit."""
    anes = str(ROOT / "examples" / "anes96.csv")
    terms = "b0 + b1*age + b2*educ + b3*income + b4*selfLR"
    fits = {}
    for key, model, extra in [
        ("long", f"vote ~ 1/(1+exp(-({terms})))", []),
        ("short", "vote ~ sigmoid(b0 + X @ w)", ["--matrix", "X=age..selfLR"]),
        ("erf", f"vote ~ 0.5*(1 + erf(({terms})/sqrt(2)))", []),
        ("normcdf", f"vote ~ normcdf({terms})", []),
    ]:
        code, out, err = invoke("fit", model, "--data", anes, "--family", "binomial", *extra, "--json")
        assert code == 0, err
        fits[key] = json.loads(out)
    renamed = dict(zip(["b0", "w[age]", "w[educ]", "w[income]", "w[selfLR]"], ["b0", "b1", "b2", "b3", "b4"]))
    short = {renamed[k]: v for k, v in fits["short"]["params"].items()}
    assert short == pytest.approx(fits["long"]["params"], rel=1e-8)
    assert {renamed[k]: v for k, v in fits["short"]["stderr"].items()} == pytest.approx(fits["long"]["stderr"], rel=1e-6)
    assert fits["normcdf"]["params"] == pytest.approx(fits["erf"]["params"], rel=1e-8)
    assert fits["normcdf"]["deviance"] == pytest.approx(fits["erf"]["deviance"], rel=1e-10)
