"""Distinct minima: the same minimum merged, different ones kept, 10^6 rows without all pairs."""

from __future__ import annotations

import torch

from gdsolve.engine.minima import FTOL, XTOL, distinct


def test_points_within_tolerance_merge_and_others_stay_apart() -> None:
    X = torch.tensor([[1.0, 2.0], [1.0 + 0.5 * XTOL, 2.0], [1.0 + 3 * XTOL, 2.0], [-1.0, 0.0]], dtype=torch.float64)
    F = torch.tensor([0.0, 0.0, 0.0, 3.0], dtype=torch.float64)
    found = distinct(X, F)
    assert [(c.row, c.count) for c in found] == [(0, 2), (2, 1), (3, 1)]


def test_equal_f_at_different_points_are_different_minima() -> None:
    # symmetric minima (Himmelblau-like): the same f, far apart in x
    X = torch.tensor([[3.0, 2.0], [-2.805, 3.131], [3.0, 2.0000001]], dtype=torch.float64)
    F = torch.zeros(3, dtype=torch.float64)
    assert sorted(c.count for c in distinct(X, F)) == [1, 2]


def test_close_x_but_different_f_stay_apart() -> None:
    X = torch.tensor([[0.0], [0.0]], dtype=torch.float64)
    F = torch.tensor([0.0, 10 * FTOL], dtype=torch.float64)
    assert len(distinct(X, F)) == 2


def test_best_first_and_the_best_point_represents() -> None:
    X = torch.tensor([[5.0], [5.0 + 1e-7], [0.0]], dtype=torch.float64)
    F = torch.tensor([2.0 + 1e-9, 2.0, 1.0], dtype=torch.float64)
    found = distinct(X, F)
    assert [c.row for c in found] == [2, 1]


def test_a_million_rows_at_a_hundred_minima() -> None:
    g = torch.Generator().manual_seed(0)
    centers = torch.randn(100, 3, generator=g, dtype=torch.float64) * 5
    idx = torch.randint(0, 100, (10**6,), generator=g)
    X = centers[idx] + torch.randn(10**6, 3, generator=g, dtype=torch.float64) * 1e-6
    F = (centers ** 2).sum(1)[idx]
    found = distinct(X, F)  # a sort, not 10^12 distances (about 4 s on a 2-core machine; 10^12 would not finish)
    assert len(found) == 100 and sum(c.count for c in found) == 10**6


def test_empty() -> None:
    assert distinct(torch.zeros(0, 2), torch.zeros(0)) == []
