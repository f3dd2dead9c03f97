"""gdsolve.optim.family: deviances, log-likelihoods and ranges against their closed forms."""

from __future__ import annotations

import math

import pytest
import torch

from gdsolve.core.settings import FAMILY_NAMES
from gdsolve.optim.family import FAMILIES

Y = torch.tensor([0.0, 1.0, 3.0, 7.0], dtype=torch.float64)
MU = torch.tensor([0.5, 1.5, 2.5, 6.0], dtype=torch.float64)


def test_the_cli_names_are_the_families():
    assert tuple(FAMILIES) == FAMILY_NAMES


@pytest.mark.parametrize("name", FAMILY_NAMES)
def test_a_perfect_fit_has_zero_deviance(name):
    y = torch.tensor([0.2, 0.5, 0.9], dtype=torch.float64)
    assert float(FAMILIES[name].deviance(y, y).abs().max()) < 1e-15


def test_poisson_deviance_and_loglik_by_hand():
    fam = FAMILIES["poisson"]
    dev = sum(2 * ((y * math.log(y / m) if y else 0.0) - (y - m)) for y, m in zip(Y.tolist(), MU.tolist()))
    ll = sum(y * math.log(m) - m - math.lgamma(y + 1) for y, m in zip(Y.tolist(), MU.tolist()))
    assert float(fam.deviance(Y, MU).sum()) == pytest.approx(dev, rel=1e-14)
    assert fam.loglik(Y, MU, 1.0) == pytest.approx(ll, rel=1e-14)


def test_gamma_loglik_is_the_gamma_density_at_the_dispersion():
    fam, y, mu, phi = FAMILIES["gamma"], Y[1:], MU[1:], 0.3
    k = 1 / phi  # shape k, scale mu/k
    ll = sum((k - 1) * math.log(a) - a * k / m - math.lgamma(k) - k * math.log(m / k) for a, m in zip(y.tolist(), mu.tolist()))
    assert fam.loglik(y, mu, phi) == pytest.approx(ll, rel=1e-13)


def test_binomial_at_a_certain_outcome_is_finite():
    fam = FAMILIES["binomial"]
    y, mu = torch.tensor([0.0, 1.0], dtype=torch.float64), torch.tensor([0.25, 0.75], dtype=torch.float64)
    assert fam.loglik(y, mu, 1.0) == pytest.approx(2 * math.log(0.75), rel=1e-14)
    assert float(fam.deviance(y, mu).sum()) == pytest.approx(-4 * math.log(0.75), rel=1e-14)


@pytest.mark.parametrize(("name", "y", "bad"), [
    ("binomial", [0.0, 1.0, 1.5], 2), ("poisson", [0.0, -0.5], 1), ("gamma", [1.0, 0.0], 1),
    ("gaussian", [1.0, math.inf], 1), ("poisson", [0.0, 4.0], None),
])
def test_bad_response(name, y, bad):
    assert FAMILIES[name].bad_response(torch.tensor(y, dtype=torch.float64)) == bad


@pytest.mark.parametrize(("name", "mu", "bad"), [
    ("binomial", [0.5, 1.0], 1), ("poisson", [1.0, -1.0], 1), ("gamma", [math.nan, 1.0], 0), ("gaussian", [3.0], None),
])
def test_bad_mean(name, mu, bad):
    assert FAMILIES[name].bad_mean(torch.tensor(mu, dtype=torch.float64)) == bad
