"""The Python API as a user calls it."""

from __future__ import annotations

import pytest

import gdsolve
from gdsolve import ExpressionError, OptionError, maximize, minimize


def test_minimize_quickstart():
    r = minimize("(x-4)**2", lr=0.1, x0={"x": 0.5})
    assert r.x["x"] == pytest.approx(4, abs=1e-4) and r.success and r.nit > 0
    assert r.fun == pytest.approx(0, abs=1e-8) and r.jac == r.grad


def test_callback_sees_every_step():
    seen = []
    r = minimize("(x-4)**2", x0=0.0, callback=seen.append)
    assert [s.k for s in seen] == list(range(r.nit))
    assert seen[0].x == (0.0,) and seen[0].f == 16.0 and seen[0].grad == (-8.0,)


def test_maximize():
    r = maximize("-(x-1)**2 + 3", x0={"x": 0})
    assert r.fun == pytest.approx(3) and r.sense == "maximize"


def test_errors_are_library_classes():
    with pytest.raises(ExpressionError):
        minimize("x +")
    with pytest.raises(OptionError):
        minimize("x**2", lr=-1)
    assert issubclass(ExpressionError, gdsolve.GdsolveError) and issubclass(OptionError, ValueError)


def test_iterating_a_descent():
    d = gdsolve.prepare("(x-4)**2", x0=0.0, max_iter=5)
    ks = [s.k for s in d]
    assert ks == [0, 1, 2, 3, 4] and d.result().nit == 5


def test_result_repr_and_dict():
    r = minimize("(x-4)**2", x0=0.0)
    assert "converged" in repr(r)
    d = r.to_dict()
    assert d["status"] == "converged" and d["success"] is True
