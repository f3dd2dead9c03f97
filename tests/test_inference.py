"""minimize/maximize(stderr=True): standard errors from the Hessian, against closed forms, and the refusals."""

from __future__ import annotations

import math
import random

import pytest
import torch

from gdsolve import OptionError, maximize, minimize
from gdsolve.api.spectrum import covariance_from_spectrum, involved
from gdsolve.core.probability import normal_quantile, two_sided_normal_p

#: 60 draws of a normal (fixed seed: the closed forms hold for any sample).
_rng = random.Random(7)
NORMAL = [round(_rng.gauss(10.0, 3.0), 6) for _ in range(60)]
#: 40 counts for a Poisson rate.
COUNTS = [3, 5, 2, 4, 6, 1, 3, 4, 2, 5, 7, 3, 2, 4, 3, 5, 1, 2, 6, 4,
          3, 3, 4, 2, 5, 6, 2, 3, 4, 1, 5, 3, 2, 4, 3, 6, 2, 3, 4, 5]

NORMAL_NLL = "n*log(s) + sum((y - mu)**2)/(2*s**2)"


def test_the_normal_mean_and_sd_have_the_closed_form_standard_errors():
    n = len(NORMAL)
    r = minimize(NORMAL_NLL, data={"y": NORMAL}, params={"n": n}, x0={"mu": 5, "s": 2}, method="lbfgs", stderr=True)
    assert r.success
    mean = sum(NORMAL) / n
    s_hat = math.sqrt(sum((y - mean) ** 2 for y in NORMAL) / n)  # the MLE divides by n
    assert r.x["mu"] == pytest.approx(mean, rel=1e-8)
    assert r.x["s"] == pytest.approx(s_hat, rel=1e-7)
    assert r.stderr["mu"] == pytest.approx(s_hat / math.sqrt(n), rel=1e-6)
    assert r.stderr["s"] == pytest.approx(s_hat / math.sqrt(2 * n), rel=1e-6)
    # mu and s are uncorrelated at the MLE (the information matrix is diagonal there)
    assert abs(r.correlation["mu"]["s"]) < 1e-5
    assert r.covariance["mu"]["mu"] == pytest.approx(s_hat**2 / n, rel=1e-6)
    assert r.stderr_reason is None
    z = r.x["mu"] / r.stderr["mu"]
    assert r.z_value["mu"] == pytest.approx(z, rel=1e-12)
    assert r.p_value["mu"] == pytest.approx(two_sided_normal_p(z), rel=1e-12)
    q = normal_quantile(0.975)
    assert r.conf_int["mu"] == pytest.approx([mean - q * r.stderr["mu"], mean + q * r.stderr["mu"]], rel=1e-7)


def test_a_poisson_rate_has_stderr_sqrt_of_rate_over_n():
    n, total = len(COUNTS), sum(COUNTS)
    r = minimize("n*lam - total*log(lam)", params={"n": n, "total": total}, x0={"lam": 1}, method="lbfgs",
                 bounds={"lam": (1e-9, math.inf)}, stderr=True)
    rate = total / n
    assert r.x["lam"] == pytest.approx(rate, rel=1e-8)
    assert r.stderr["lam"] == pytest.approx(math.sqrt(rate / n), rel=1e-6)


def test_maximize_of_a_log_likelihood_inverts_the_negative_hessian():
    n = len(NORMAL)
    r = maximize(f"-({NORMAL_NLL})", data={"y": NORMAL}, params={"n": n}, x0={"mu": 5, "s": 2}, method="lbfgs",
                 stderr=True)
    s_hat = r.x["s"]
    assert r.stderr["mu"] == pytest.approx(s_hat / math.sqrt(n), rel=1e-6)
    assert r.stderr["s"] == pytest.approx(s_hat / math.sqrt(2 * n), rel=1e-6)


def test_many_starts_give_the_standard_errors_at_the_best_point():
    n = len(NORMAL)
    r = minimize(NORMAL_NLL, data={"y": NORMAL}, params={"n": n}, x0={"mu": 5, "s": 2}, method="lbfgs",
                 bounds={"s": (0.1, 50), "mu": (-50, 50)}, starts=4, stderr=True)
    assert r.success
    assert r.stderr["mu"] == pytest.approx(r.x["s"] / math.sqrt(n), rel=1e-6)


def test_shaped_variables_are_named_by_element():
    r = minimize("sum((w - c)**2)", params={"c": 1.0}, shape={"w": 3}, x0={"w": 0}, method="lbfgs", stderr=True)
    assert set(r.stderr) == {"w[0]", "w[1]", "w[2]"}
    assert r.stderr["w[1]"] == pytest.approx(math.sqrt(0.5), rel=1e-9)  # H = 2 I
    assert r.to_dict()["stderr"]["w[2]"] == pytest.approx(math.sqrt(0.5), rel=1e-9)


def test_a_run_that_did_not_converge_has_no_standard_errors_and_says_why():
    r = minimize("(x-1)**2 + (y-2)**2", x0={"x": 0, "y": 0}, max_iter=2, stderr=True)
    assert not r.success
    assert r.stderr == {"x": None, "y": None}
    assert r.covariance is None and r.p_value == {"x": None, "y": None}
    assert "did not converge (status max_iter)" in r.stderr_reason


def test_a_run_stopped_on_target_is_not_known_to_be_a_minimum():
    r = minimize("(x-1)**2", x0={"x": 0}, target=0.5, stderr=True)
    assert r.success and r.stop_rule.value == "target"
    assert r.stderr == {"x": None} and "f reached its target" in r.stderr_reason


def test_a_saddle_is_refused_and_named():
    r = minimize("x**2 - y**2", x0={"x": 0, "y": 0}, method="lbfgs", stderr=True)
    assert r.stderr == {"x": None, "y": None}
    assert "not positive definite" in r.stderr_reason and "along y" in r.stderr_reason


def test_a_singular_hessian_names_the_undetermined_variables():
    r = minimize("(a + b - 1)**2 + (c - 2)**2", x0={"a": 1, "b": 1, "c": 0}, method="lbfgs", stderr=True)
    assert r.success
    assert r.stderr == {"a": None, "b": None, "c": None}
    assert "singular" in r.stderr_reason and "a, b are not determined" in r.stderr_reason
    assert r.stderr_reason.split(": ")[1].startswith("a, b are")


def test_a_variable_on_a_bound_has_none_and_the_others_keep_theirs():
    r = minimize("(x-1)**2 + (y-2)**2 + x*y/10", x0={"x": 2.5, "y": 0}, bounds={"x": (2, 3)}, method="lbfgs",
                 stderr=True)
    assert r.active_bounds == {"x": "lower"}
    assert r.stderr["x"] is None and r.z_value["x"] is None
    assert r.stderr["y"] == pytest.approx(math.sqrt(0.5), rel=1e-9)  # x fixed: d2f/dy2 = 2
    assert "x is held at its lower bound" in r.stderr_reason
    assert list(r.correlation) == ["y"]


def test_without_stderr_the_fields_are_absent_from_the_document():
    r = minimize("(x-1)**2", x0={"x": 0})
    assert r.stderr is None
    assert "stderr" not in r.to_dict() and "p_value" not in r.to_dict()
    doc = minimize("(x-1)**2", x0={"x": 0}, stderr=True).to_dict()
    assert {"stderr", "z_value", "p_value", "conf_int", "covariance", "correlation", "stderr_reason"} <= set(doc)


def test_stderr_must_be_a_bool():
    with pytest.raises(OptionError, match="stderr"):
        minimize("(x-1)**2", stderr="yes")


def test_the_rank_test_inverts_and_names():
    V = torch.eye(3, dtype=torch.float64)
    cov, why = covariance_from_spectrum(["a", "b", "c"], torch.tensor([2.0, 4.0, 8.0], dtype=torch.float64), V, 1e-12,
                                        matrix="Hessian", by="f")
    assert why is None and cov.diagonal().tolist() == pytest.approx([0.5, 0.25, 0.125], rel=1e-15)
    _, why = covariance_from_spectrum(["a", "b", "c"], torch.tensor([-1.0, 4.0, 8.0], dtype=torch.float64), V, 1e-12,
                                      matrix="Hessian", by="f")
    assert "not positive definite" in why and "along a" in why
    assert involved(["a", "b"], torch.tensor([[0.05], [0.99]])) == ["b"]
