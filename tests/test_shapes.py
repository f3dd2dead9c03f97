"""Shaped variables and data columns in a formula: layout, reductions, broadcasting, starts and results."""

from __future__ import annotations

import json
import math

import pytest
import torch

from gdsolve import ExpressionError, OptionError, gradient, maximize, minimize
from gdsolve.core.shapes import element_names, expand_bounds, expand_point, parse_shapes, regroup
from gdsolve.formula.objective import compile_objective


def test_the_tutorials_first_example_runs_as_written():
    doc = gradient("mean(3*(x+2)**2)", shape={"x": (2, 2)}, at={"x": 1})
    assert doc["f"] == 27.0 and doc["autograd"] == {"x": [[4.5, 4.5], [4.5, 4.5]]}
    assert doc["gradient"] is None and "sympy cannot follow" in doc["symbolic_declined"]
    with pytest.raises(OptionError, match="give the point"):
        gradient("mean(3*(x+2)**2)", shape={"x": (2, 2)})
    with pytest.raises(OptionError, match="hessian is symbolic"):
        gradient("mean(3*(x+2)**2)", shape={"x": (2, 2)}, at={"x": 1}, hessian=True)


def test_reductions_of_plain_numbers_are_the_numbers_for_torch_and_sympy():
    o = compile_objective("sum(x**2) + mean(x) + prod(x) + norm(x) + dot(x, x)")
    assert o(torch.tensor([[-2.0]], dtype=torch.float64)).tolist() == [4 - 2 - 2 + 2 + 4]
    assert gradient("sum(x**2) + norm(y)", at={"x": 1, "y": -2})["gradient"] == {"x": "2*x", "y": "sign(y)"}


def test_starts_broadcast_against_data_rows():
    data = {"x": [0.0, 1.0, 2.0], "y": [1.0, 3.0, 5.0]}
    o = compile_objective("sum((y - a*x - b)**2)", data=data)
    X = torch.tensor([[2.0, 1.0], [0.0, 0.0], [1.0, 0.0]], dtype=torch.float64)  # three starts at once
    expected = [sum((yi - a * xi - b) ** 2 for xi, yi in zip(data["x"], data["y"])) for a, b in X.tolist()]
    assert o(X).tolist() == pytest.approx(expected)
    w = compile_objective("sum((y - dot(w, w)*x)**2)", data=data, shapes={"w": 2})
    assert w.variables == ("w[0]", "w[1]") and w(torch.ones(4, 2, dtype=torch.float64)).shape == (4,)


def test_an_unreduced_or_mismatched_formula_is_refused_before_the_run():
    with pytest.raises(ExpressionError, match=r"a tensor of shape \(3,\) at each point, not one number"):
        compile_objective("w**2", shapes={"w": 3})
    with pytest.raises(ExpressionError, match="do not fit together"):
        compile_objective("sum(w*x)", shapes={"w": 3}, data={"x": [1.0, 2.0]})
    with pytest.raises(ExpressionError, match=r"tensor of shape \(2,\)"):
        compile_objective("(y - a*x)**2", data={"x": [1.0, 2.0], "y": [1.0, 2.0]})
    with pytest.raises(OptionError, match="shape names q, which is not a variable"):
        compile_objective("w**2", shapes={"q": 3})


def test_x0_fills_or_sets_a_tensor_and_json_nests_it():
    r = minimize("sum((x-3)**2)", shape={"x": (2, 2)}, x0={"x": [[1, 2], [3, 4]]}, method="lbfgs")
    assert set(r.x) == {"x[0,0]", "x[0,1]", "x[1,0]", "x[1,1]"} and r.success
    doc = json.loads(json.dumps(r.to_dict()))
    assert doc["x0"] == {"x": [[1.0, 2.0], [3.0, 4.0]]} and doc["shapes"] == {"x": [2, 2]}
    assert all(abs(v - 3) < 1e-6 for row in doc["x"]["x"] for v in row)
    many = minimize("sum((x-3)**2)", shape={"x": 2}, starts=4, method="lbfgs").to_dict()
    assert all(len(m["x"]["x"]) == 2 and len(m["x0"]["x"]) == 2 for m in many["minima"])
    assert len(many["best"]["x"]["x"]) == 2
    r = maximize("-sum((w-1)**2) - b**2", shape={"w": 3}, x0={"w": 0, "b": 1}, bounds={"w": (0, 0.5)})
    assert [r.x[f"w[{i}]"] for i in range(3)] == [0.5, 0.5, 0.5]
    with pytest.raises(OptionError, match=r"has shape \(2,\) but --shape says \(3,\)"):
        expand_point({"w": (3,)}, ["w"], {"w": [1, 2]})


def test_data_in_minimize_fits_a_line():
    r = minimize("mean((y - a*x - b)**2)", data={"x": [0, 1, 2, 3], "y": [1, 3, 5, 7]}, method="lbfgs",
                 x0={"a": 0, "b": 0})
    assert r.x["a"] == pytest.approx(2, abs=1e-6) and r.x["b"] == pytest.approx(1, abs=1e-6)
    with pytest.raises(OptionError, match="verify"):
        minimize("mean((y - a*x)**2)", data={"x": [0, 1], "y": [1, 3]}, verify=True)
    with pytest.raises(OptionError, match="compile"):
        minimize("sum(w**2)", shape={"w": 2}, compile=True)


def test_helpers():
    assert parse_shapes(["w=3", "x=2,2"]) == {"w": (3,), "x": (2, 2)}
    for bad in (["w"], ["w=0"], ["w=a"], ["1w=2"], ["w=2", "w=3"]):
        with pytest.raises(OptionError):
            parse_shapes(bad)
    assert element_names({"w": (2,)}, ["b", "w"]) == ["b", "w[0]", "w[1]"]
    assert regroup({"w": (2,)}, {"b": 1.0, "w[0]": 2.0, "w[1]": 3.0}) == {"b": 1.0, "w": [2.0, 3.0]}
    assert expand_bounds({"w": (2,)}, {"w": (0, 1)}) == {"w[0]": (0, 1), "w[1]": (0, 1)}
    assert expand_point({"x": (2,)}, ["x"], {"x": [1, 2]}) == {"x[0]": 1, "x[1]": 2}
    assert math.prod(parse_shapes({"x": (3, 4)})["x"]) == 12
