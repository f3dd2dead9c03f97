"""The box of --bounds: one clamp, one mask of the variables a bound holds."""

from __future__ import annotations

import math

import torch

from gdsolve.optim.box import Box


def _t(rows):
    return torch.tensor(rows, dtype=torch.float64)


def test_no_bounds_is_no_box():
    assert Box.of(("x", "y"), {}, torch.float64, "cpu") is None


def test_a_variable_without_bounds_is_free_on_both_sides():
    box = Box.of(("x", "y"), {"x": (0.0, 1.0)}, torch.float64, "cpu")
    assert box.lo.tolist() == [[0.0, -math.inf]] and box.hi.tolist() == [[1.0, math.inf]]
    assert box.clamp(_t([[-3.0, -1e300], [7.0, 1e300]])).tolist() == [[0.0, -1e300], [1.0, 1e300]]


def test_outward_holds_only_a_variable_on_a_bound_that_descent_would_leave_by():
    box = Box.of(("x",), {"x": (0.0, 1.0)}, torch.float64, "cpu")
    X = _t([[0.0], [0.0], [1.0], [1.0], [0.5]])
    G = _t([[2.0], [-2.0], [-2.0], [2.0], [2.0]])  # descent goes along -G
    assert box.outward(X, G).flatten().tolist() == [True, False, True, False, False]


def test_side_says_which_bound():
    box = Box.of(("x", "y"), {"x": (0.0, 1.0), "y": (-1.0, 1.0)}, torch.float64, "cpu")
    assert box.side(_t([[0.0, 1.0], [0.5, -1.0]])).tolist() == [[-1, 1], [0, -1]]
