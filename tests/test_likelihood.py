"""gdsolve.fit(..., family=...): every family against statsmodels' GLM, and the refusals.

The reference values were computed once with statsmodels 0.15 (benchmarks/glm_reference.py writes them, with
``tol=1e-14``; ``use_t=True`` where the dispersion is estimated, as R's summary does) on statsmodels'
public-domain datasets, copied to tests/data/ (randhie's first 400 rows, strikes, longley, statecrime) and examples/
(anes96):
CI needs no statsmodels.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from gdsolve import OptionError, fit
from gdsolve.formula.data import DataError

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data"
REFERENCE = json.loads((DATA / "glm_reference.json").read_text())
COUNTS = {"x": [0.0, 1.0, 2.0, 3.0, 4.0, 5.0], "y": [1.0, 3.0, 2.0, 6.0, 8.0, 13.0]}


@pytest.fixture(scope="module", params=sorted(REFERENCE))
def case(request):
    ref = REFERENCE[request.param]
    return ref, fit(ref["model"], str(ROOT / ref["csv"]), family=ref["family"])


def test_parameters_to_6_digits_and_standard_errors_to_4(case):
    ref, r = case
    assert r.status.value == "converged" and r.family == ref["family"] and r.dof == ref["dof"]
    for k, v in ref["params"].items():
        assert r.params[k] == pytest.approx(v, rel=1e-6), k
        assert r.stderr[k] == pytest.approx(ref["stderr"][k], rel=1e-4), k


def test_deviance_loglik_aic_bic_and_dispersion(case):
    ref, r = case
    for key in ("deviance", "null_deviance", "loglik", "aic", "bic", "dispersion", "pearson_chi2"):
        assert getattr(r, key) == pytest.approx(ref[key], rel=1e-6), key
    assert r.dispersion_fixed == (ref["family"] in ("binomial", "poisson"))
    assert r.df_null == r.n - 1 and r.cost == pytest.approx(ref["deviance"] / 2, rel=1e-6)


def test_p_values_and_intervals_z_or_t_as_r_summary(case):
    ref, r = case
    assert r.test == ("z" if ref["family"] in ("binomial", "poisson") else "t")
    for k in ref["params"]:
        assert r.p_value[k] == pytest.approx(ref["p_value"][k], rel=1e-4), k
        assert r.conf_int[k] == pytest.approx(tuple(ref["conf_int"][k]), rel=1e-4), k


def test_json_carries_the_family_fields(case):
    ref, r = case
    doc = r.to_dict()
    assert doc["family"] == ref["family"] and doc["method"] == "fisher-scoring" and doc["test"] == r.test
    assert doc["deviance"] == pytest.approx(ref["deviance"], rel=1e-6) and doc["conf_level"] == 0.95
    assert doc["conf_int"]["b0"] == pytest.approx(list(ref["conf_int"]["b0"]), rel=1e-4)
    json.dumps(doc)


def test_least_squares_reports_t_p_values_and_intervals_as_ols():
    # statsmodels' OLS on longley: the gaussian reference (use_t) is OLS's t-test and interval
    ref = REFERENCE["gaussian"]
    r = fit(ref["model"], str(ROOT / ref["csv"]))
    assert r.family is None and r.deviance is None and r.test == "t"
    for k in ref["params"]:
        assert r.params[k] == pytest.approx(ref["params"][k], rel=1e-6)
        assert r.p_value[k] == pytest.approx(ref["p_value"][k], rel=1e-4)
        assert r.conf_int[k] == pytest.approx(tuple(ref["conf_int"][k]), rel=1e-4)
    assert r.to_dict()["family"] is None


def test_gaussian_family_is_least_squares():
    ls = fit("y ~ a*exp(b*x)", COUNTS, p0={"a": 1, "b": 0.5})
    ml = fit("y ~ a*exp(b*x)", COUNTS, p0={"a": 1, "b": 0.5}, family="gaussian")
    for k in ("a", "b"):
        assert ml.params[k] == pytest.approx(ls.params[k], rel=1e-8)
        assert ml.stderr[k] == pytest.approx(ls.stderr[k], rel=1e-6)
    assert ml.cost == pytest.approx(ls.cost, rel=1e-10) and ml.dispersion == pytest.approx(ls.reduced_chisq)


@pytest.mark.parametrize(("family", "y", "row", "words"), [
    ("poisson", [1, 2, -1, 4], 3, "a count"),
    ("gamma", [1, 2, 3, 0], 4, "a positive number"),
    ("binomial", [0, 1, 2, 1], 3, "between 0 and 1"),
])
def test_a_response_outside_the_family_names_the_column_and_row(family, y, row, words):
    with pytest.raises(DataError) as exc:
        fit("y ~ exp(a + b*x)", {"x": [0, 1, 2, 3], "y": y}, family=family)
    text = str(exc.value)
    assert "column 'y'" in text and f"data row {row}" in text and words in text and "choose another family" in text


@pytest.mark.parametrize(("options", "words"), [
    ({"method": "adam"}, "leave {method} out"), ({"loss": "huber"}, "leave {loss} out"),
    ({"bounds": {"a": (0, 1)}}, "{bounds}"), ({"gtol": 1e-8}, "leave {gtol} out"),
    ({"f_scale": 2.0}, "{f_scale}"), ({"absolute_sigma": True}, "leave {absolute_sigma} out"),
    ({"family": "negbin"}, "is unknown; choose one of gaussian, binomial"),
])
def test_least_squares_options_are_refused_with_a_family(options, words):
    kw = {"family": "poisson", **options}
    with pytest.raises(OptionError) as exc:
        fit("y ~ exp(a + b*x)", COUNTS, **kw)
    assert words in exc.value.template


def test_sigma_is_refused_with_a_family():
    data = {**COUNTS, "s": [1.0] * 6}
    with pytest.raises(OptionError, match="variance comes from the mean"):
        fit("y ~ exp(a + b*x)", data, sigma="s", family="poisson")


def test_a_start_outside_the_range_is_an_honest_status_not_a_crash():
    r = fit("y ~ a + b*x", COUNTS, p0={"a": -5, "b": 1}, family="poisson")
    assert r.status.value == "diverged" and r.stop_rule.value == "nonfinite"
    assert "data row 1" in r.message and "must be positive" in r.message and "p0" in r.message
    assert r.stderr["a"] is None or math.isfinite(r.stderr["a"])
    json.dumps(r.to_dict())


def test_step_halving_keeps_an_identity_link_poisson_mean_positive():
    r = fit("y ~ a + b*x", COUNTS, p0={"a": 0.5, "b": 0.1}, family="poisson")
    assert r.success and min(r.fitted) > 0
    assert r.params["a"] + r.params["b"] * 0 > 0


def test_the_default_start_is_0_or_1_where_0_is_outside_the_range():
    # an inverse link: the mean 1/(a + b*x) is infinite at 0, so the fit starts at 1
    r = fit("y ~ 1/(a + b*x)", {"x": [0, 1, 2, 3, 4], "y": [2.0, 1.1, 0.6, 0.55, 0.4]}, family="gamma")
    assert r.success and r.p0 == {"a": 1.0, "b": 1.0} and min(r.fitted) > 0
    logit = fit("y ~ 1/(1+exp(-(a + b*x)))", {"x": [0, 1, 2, 3], "y": [0, 1, 0, 1]}, family="binomial")
    assert logit.p0 == {"a": 0.0, "b": 0.0} and logit.success


def test_several_starts_keep_the_lowest_deviance_and_steps_reach_the_callback():
    steps = []
    r = fit("y ~ exp(a + b*x)", COUNTS, family="poisson", starts=4, callback=steps.append)
    one = fit("y ~ exp(a + b*x)", COUNTS, family="poisson")
    assert r.starts == 4 and r.deviance == pytest.approx(one.deviance, rel=1e-12)
    assert steps and steps[-1].P.shape == (1, 2)


def test_the_step_budget_is_an_honest_status():
    r = fit("y ~ exp(a + b*x)", COUNTS, family="poisson", max_iter=1)
    assert r.status.value == "max_iter" and r.nit == 1


# Bliss's beetles (1935): dose, beetles exposed, beetles killed. statsmodels 0.15, GLM(np.c_[killed, n - killed],
# add_constant(dose), Binomial()).fit(tol=1e-14): the successes/failures form, whose llf is R's logLik.
BEETLE = {"params": (-60.71745456, 34.27032573), "stderr": (5.18071146, 2.91214007), "deviance": 11.232231097419321,
          "null_deviance": 284.20244948083143, "loglik": -18.715134657256023, "aic": 41.430269314512046,
          "pearson_chi2": 10.026817585637584}


def test_binomial_proportions_with_trials_as_statsmodels_successes_and_failures():
    r = fit("killed/n ~ 1/(1+exp(-(a + b*dose)))", str(DATA / "beetle.csv"), family="binomial", trials="n")
    assert r.success and r.trials == "n" and r.to_dict()["trials"] == "n"
    for k, v, se in zip(("a", "b"), BEETLE["params"], BEETLE["stderr"]):
        assert r.params[k] == pytest.approx(v, rel=1e-6) and r.stderr[k] == pytest.approx(se, rel=1e-4)
    for key in ("deviance", "null_deviance", "loglik", "aic", "pearson_chi2"):
        assert getattr(r, key) == pytest.approx(BEETLE[key], rel=1e-6), key


def test_trials_are_refused_without_binomial_and_must_be_positive():
    with pytest.raises(OptionError, match="give"):
        fit("killed/n ~ a + b*dose", str(DATA / "beetle.csv"), trials="n")
    with pytest.raises(OptionError) as exc:
        fit("killed ~ exp(a + b*dose)", str(DATA / "beetle.csv"), family="poisson", trials="n")
    assert "with {family} poisson" in exc.value.template
    with pytest.raises(DataError, match="trials column 'x' is 0 at data row 2"):
        fit("y ~ 1/(1+exp(-(a + b*t)))", {"t": [0, 1, 2], "y": [0, 0.5, 1], "x": [2, 0, 2]}, family="binomial",
            trials="x")
