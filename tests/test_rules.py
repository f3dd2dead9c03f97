"""The engine's stopping rules: each says which running rows it stops, what it measured, its tolerance."""

from __future__ import annotations

import math

import pytest
import torch

from gdsolve.core.status import StopRule
from gdsolve.engine import rules
from gdsolve.optim.box import Box

ALL = torch.ones(4, dtype=torch.bool)
NAN, INF = math.nan, math.inf


def _t(values):
    return torch.tensor(values, dtype=torch.float64)


def test_a_stopped_row_is_never_stopped_again():
    running = torch.tensor([True, False, True, True])
    fired = rules.eps(_t([1e-9, 1e-9, 1.0, 0.0]), 1e-6, running)
    assert fired.rule is StopRule.EPS and fired.rows.tolist() == [True, False, False, True]
    assert fired.tol == 1e-6 and fired.value.tolist() == [1e-9, 1e-9, 1.0, 0.0]


def test_not_finite_looks_at_f_and_every_gradient_component():
    F = _t([1.0, NAN, 1.0, 1.0])
    G = _t([[0.0, 1.0], [0.0, 0.0], [INF, 0.0], [1e308, 1e308]])  # a large but finite gradient is finite
    assert rules.not_finite(F, G, ALL).rows.tolist() == [False, True, True, False]


def test_the_step_rule_of_a_non_finite_step_and_the_eps_rule_are_apart():
    step = _t([NAN, INF, 1e-7, 1.0])
    assert rules.step_not_finite(step, ALL).rows.tolist() == [True, True, False, False]
    assert rules.eps(step, 1e-6, ALL).rows.tolist() == [False, False, True, False]


def test_target_and_gtol_and_ftol_measure_and_compare_as_documented():
    assert rules.target(_t([0.5, 1.0, 2.0, NAN]), 1.0, ALL).rows.tolist() == [True, True, False, False]
    assert rules.gtol(_t([0.5, 1.0, 2.0, NAN]), 1.0, ALL).rows.tolist() == [True, False, False, False]
    change = rules.f_change(_t([1.0, 100.0, 0.0, 5.0]), _t([1.5, 101.0, 0.25, 5.0]))
    assert change.tolist() == pytest.approx([0.5 / 1.5, 1.0 / 101.0, 0.25, 0.0])
    assert rules.ftol(change, 0.01, ALL).rows.tolist() == [False, True, False, True]


def test_the_gradient_norm_leaves_out_what_a_bound_holds():
    box = Box.of(("x", "y"), {"x": (0.0, 1.0)}, torch.float64, "cpu")
    X, G = _t([[0.0, 3.0], [0.5, 3.0]]), _t([[4.0, 3.0], [4.0, 3.0]])
    assert rules.gradient_norm(G, X, box).tolist() == [3.0, 5.0]
    assert rules.gradient_norm(G, X, None).tolist() == [5.0, 5.0]


def test_blowup_needs_the_rises_and_a_value_worse_than_the_start():
    rises = _t([25, 25, 24, 30])
    F, start = _t([9.0, 1.0, 9.0, 9.0]), _t([2.0, 2.0, 2.0, 2.0])
    assert rules.blowup(rises, F, start, ALL).rows.tolist() == [True, False, False, True]


def test_time_limit_and_budget():
    assert rules.time_limit(2.0, 1.0, ALL).rows.tolist() == [True] * 4
    assert rules.time_limit(0.5, 1.0, ALL).rows.tolist() == [False] * 4
    cap = torch.tensor([1, 2, 3, 4])
    assert rules.budget(1, cap, ALL).rows.tolist() == [True, True, False, False]
