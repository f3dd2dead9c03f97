"""The batched stationarity check agrees with the single-row check."""

from __future__ import annotations

import pytest
import torch

from gdsolve.engine.rowcheck import stationary_rows
from gdsolve.engine.stationarity import check
from gdsolve.formula.objective import compile_objective

CASES = [
    ("(x-4)**2", [[3.999996], [2.79], [4.0]], [[4.0], [4.0], [4.0]]),
    ("(1-x)**2 + 100*(y-x^2)**2", [[1.0, 1.0], [0.999, 0.998], [-1.0, 1.0], [1 + 1e-7, 1 + 2e-7]], None),
    ("sqrt(abs(u)) + 0*v", [[1e-12, 0.0], [0.5, 0.0]], None),
    ("abs(x) + abs(y)", [[0.0, 0.0], [1e-3, 0.0], [0.5, 0.5]], None),
    ("x*y", [[0.0, 0.0], [1.0, 1.0]], None),
    ("exp(x) + y**2", [[-40.0, 0.0], [0.0, 0.0]], None),
]


@pytest.mark.parametrize(("expr", "points", "seen"), CASES)
def test_agrees_with_the_single_row_check(expr: str, points: list, seen: list | None) -> None:
    # ``seen`` here: the starts
    obj = compile_objective(expr)
    X = torch.tensor(points, dtype=torch.float64)
    S = -X if seen is None else torch.tensor(seen, dtype=torch.float64)  # the starts
    batched = stationary_rows(obj, X, S).tolist()
    single = [check(obj, p, s).stationary for p, s in zip(X.tolist(), S.tolist())]
    assert batched == single


def test_held_variables_do_not_count() -> None:
    obj = compile_objective("(x-4)**2 + y")  # y held at its lower bound by a gradient pointing out
    X = torch.tensor([[4.0, 0.0], [3.0, 0.0]], dtype=torch.float64)
    free = torch.tensor([[True, False], [True, False]])
    assert stationary_rows(obj, X, X.abs() + 1, free).tolist() == [True, False]


def test_rows_are_judged_on_their_travel_not_the_origin() -> None:
    # 0.4 left of a travel of 1, near 1 and near 1000: both rows stalled (the second used to pass, 0.4/1000)
    for c in (1.0, 1000.0):
        o = compile_objective(f"(x-{c})**2")
        X = torch.tensor([[c - 0.4], [c - 1e-7]], dtype=torch.float64)
        X0 = torch.tensor([[c - 1.0], [c - 1.0]], dtype=torch.float64)
        assert stationary_rows(o, X, X0).tolist() == [False, True]
