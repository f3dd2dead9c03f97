"""The one correlation view: the matrix when it fits, the largest pairs when not, "see --json" when nothing fits."""

from __future__ import annotations

import io

from rich.console import Console

from gdsolve.present.correlation import TOP_PAIRS, correlation_view, largest_pairs
from gdsolve.present.narrow import fitted_table


def _draw(renderable, width: int) -> str:
    c = Console(file=io.StringIO(), width=width, color_system=None)
    c.print(renderable)
    return c.file.getvalue()


def _corr(names, r):
    return {a: {b: 1.0 if a == b else r(a, b) for b in names} for a in names}


def test_a_small_matrix_is_shown_whole():
    out = _draw(correlation_view(_corr(["a", "b"], lambda a, b: -0.5)), 80)
    assert "Correlation" in out and out.count("-0.500") == 2 and out.count("+1.000") == 2


def test_a_wide_matrix_becomes_the_largest_pairs():
    names = [f"p{i}" for i in range(12)]
    corr = _corr(names, lambda a, b: 0.95 if {a, b} == {"p3", "p7"} else 0.2)
    out = _draw(correlation_view(corr), 80)
    assert "┃" not in out  # not the matrix
    assert "p3 ~ p7" in out and "+0.950" in out
    assert sum(" ~ " in line for line in out.splitlines()) == TOP_PAIRS
    assert "66 pairs" in out


def test_small_correlations_are_summed_up_in_a_line():
    names = [f"p{i}" for i in range(12)]
    out = _draw(correlation_view(_corr(names, lambda a, b: 0.01)), 40)
    assert "within ±0.1" in out and "--json" in out


def test_names_too_long_for_any_pair_say_see_json():
    names = ["a" * 30, "b" * 30, "c" * 30]
    out = _draw(correlation_view(_corr(names, lambda a, b: 0.9)), 40)
    assert "see --json" in out and "…" not in out


def test_one_variable_has_no_view():
    assert correlation_view({"a": {"a": 1.0}}) is None and correlation_view(None) is None


def test_pairs_are_ordered_by_size():
    corr = _corr(["a", "b", "c"], lambda a, b: {frozenset("ab"): 0.3, frozenset("ac"): -0.8, frozenset("bc"): 0.1}[frozenset(a + b)])
    assert [(a, b) for a, b, _ in largest_pairs(corr)] == [("a", "c"), ("a", "b"), ("b", "c")]


def test_a_table_drops_its_last_columns_before_it_cuts_a_digit():
    table = fitted_table(None, ["name", "value", "extra"], [["x", "123456789.25", "a long note here"]])
    wide, narrow = _draw(table, 80), _draw(table, 22)
    assert "extra" in wide and "extra" not in narrow
    assert "123456789.25" in narrow and "…" not in narrow
    tiny = _draw(table, 10)  # stacked, each value on its line, folded rather than cut
    assert "…" not in tiny and "123456789" in tiny.replace("\n", "").replace(" ", "")


def test_a_wrapping_label_is_not_squeezed_away_to_cut_a_long_value():
    # A label that may wrap still needs its longest word: below that the rows are stacked, never a value cut.
    rows = [["deviance of the model", "852.76092 on 939 degrees of freedom"], ["AIC", "862.76092"]]
    for width in (60, 40, 30):
        out = _draw(fitted_table("Goodness", ["statistic", "value"], rows, header=False, wrap_first=True), width)
        assert "…" not in out and "deviance" in out and "852.76092 on 939 degrees" in out, (width, out)
