"""Result records: scipy's names, plain dicts, readable reprs."""

from __future__ import annotations

import math

from gdsolve.api.solve import minimize
from gdsolve.core.result import Step, is_finite


def test_scipy_field_names():
    r = minimize("(x-1)**2 + (y-2)**2", x0={"x": 0, "y": 0})
    for name in ("x", "fun", "grad", "jac", "nit", "nfev", "success", "status", "message"):
        assert hasattr(r, name)
    assert r.jac == r.grad and r.success is True


def test_to_dict_is_plain():
    d = minimize("(x-1)**2", x0=0.0, bounds={"x": (0, 0.5)}).to_dict()
    assert d["status"] == "converged" and d["stop_rule"] == "eps" and d["variables"] == ["x"]
    assert d["active_bounds"] == {"x": "upper"} and d["checks"][0]["rule"] == "eps"
    assert d["best"]["fun"] == 0.25


def test_repr_and_step_record():
    r = minimize("(x-4)**2", x0=0.0)
    assert repr(r).startswith("OptimizeResult(x={x=4") and "converged" in repr(r)
    s = Step(3, (1.0,), 9.0, (-6.0,), 6.0, 0.6, 0.1, 0.01)
    assert s.step_length is None and s._replace(k=4).k == 4


def test_is_finite():
    assert is_finite(1.0, -2.0) and not is_finite(1.0, math.nan) and not is_finite(math.inf)
