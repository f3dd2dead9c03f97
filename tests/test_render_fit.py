"""The fit report fits the screen: at 80 and 40 columns no number is cut, the title wraps, the correlations fit."""

from __future__ import annotations

import io
import math
import random
import re
from pathlib import Path

import pytest
from rich.console import Console

from gdsolve import fit
from gdsolve.formula.data import read_table
from gdsolve.present.render_fit import DIGITS, fit_view

ROOT = Path(__file__).resolve().parents[1]


def _render(result, width: int) -> str:
    c = Console(file=io.StringIO(), width=width, soft_wrap=False, color_system=None)
    c.print(fit_view(result))
    return c.file.getvalue()


@pytest.fixture(scope="module")
def eleven():
    """An 11-parameter polynomial fit (synthetic data): strongly correlated parameters."""
    rng = random.Random(3)
    xs = [i / 40 for i in range(41)]
    ys = [100 * math.exp(x) + rng.gauss(0, 0.5) for x in xs]
    model = "y ~ " + " + ".join(["b0"] + [f"b{k}*x**{k}" for k in range(1, 11)])
    r = fit(model, {"x": xs, "y": ys})
    assert r.success and len(r.params) == 11
    return r


@pytest.fixture(scope="module")
def misra():
    return fit("y ~ b1*(1-exp(-b2*x))", read_table(str(ROOT / "examples" / "misra1a.csv")), p0={"b1": 500, "b2": 1e-4})


def _flat(text: str) -> str:
    """The report's words without the panel's borders and line breaks (a wrapped title reads whole)."""
    return re.sub(r"[\s│╭╮╰╯─]+", "", text)


@pytest.mark.parametrize("width", [80, 40])
def test_an_eleven_parameter_report_fits_and_cuts_no_number(eleven, width):
    out = _render(eleven, width)
    assert max(len(line) for line in out.splitlines()) <= width
    assert "…" not in out and "..." not in out
    for value in eleven.params.values():  # every value whole, all its digits
        assert f"{value:.{DIGITS}g}" in out
    assert _flat(eleven.model) in _flat(out)  # the title is wrapped, not cut
    # 55 pairs do not fit as a matrix: the largest are listed, with their values whole
    a, b, r = max(((a, b, v) for a, row in eleven.correlation.items() for b, v in row.items() if a != b),
                  key=lambda p: abs(p[2]))
    assert re.search(rf"({a} ~ {b}|{b} ~ {a})\s+{re.escape(f'{r:+.3f}')}", out)
    assert "--json has all" in out


@pytest.mark.parametrize("width", [80, 40])
def test_misra1a_shows_the_whole_matrix_and_every_digit(misra, width):
    out = _render(misra, width)
    assert max(len(line) for line in out.splitlines()) <= width
    assert "…" not in out
    assert f"{misra.params['b1']:.{DIGITS}g}" in out and f"{misra.params['b2']:.{DIGITS}g}" in out
    assert f"{misra.stderr['b1']:.6g}" in out
    assert f"{misra.correlation['b1']['b2']:+.3f}" in out and "+1.000" in out  # the 2x2 matrix
    assert "fit y ~ b1*(1-exp(-b2*x))" in out


def test_at_80_columns_misra1a_keeps_every_column(misra):
    out = _render(misra, 80)
    for header in ("value", "std error", "error %", "t-value"):
        assert header in out


def test_below_the_table_width_the_parameters_are_stacked(misra):
    out = _render(misra, 30)
    assert "…" not in out
    assert re.search(r"value\s+238\.94213", out)
    assert re.search(r"std error\s+2\.70701", out)


@pytest.mark.parametrize("width", [80, 40, 30])
def test_a_family_report_keeps_every_label_and_value_whole(width):
    """A goodness-of-fit row whose label wraps must not squeeze the label away and cut the value (it did at 40)."""
    r = fit("vote ~ sigmoid(b0 + b1*selfLR)", read_table(str(ROOT / "examples" / "anes96.csv")), family="binomial")
    out = _render(r, width)
    assert max(len(line) for line in out.splitlines()) <= width
    assert "…" not in out
    for label, value in [("family", "binomial"), ("log-likelihood", f"{r.loglik:.{DIGITS}g}"),
                         ("AIC", f"{r.aic:.{DIGITS}g}"), ("BIC", f"{r.bic:.{DIGITS}g}"),
                         (f"deviance ({r.dof} degrees of freedom)", f"{r.deviance:.{DIGITS}g}"),
                         (f"null deviance ({r.df_null} degrees of freedom)", f"{r.null_deviance:.{DIGITS}g}")]:
        assert all(word in out for word in label.split()) and value in out, (label, value)  # a label may wrap
