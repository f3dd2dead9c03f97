"""gdsolve.api.lesson: the tutorial's numbers, the graph torch records, who keeps .grad, DOT, and the loop's notes."""

from __future__ import annotations

from pathlib import Path

import pytest

from gdsolve import OptionError, explain
from gdsolve.api.lesson import LOOP_NOTES, to_dot

PACKAGE = Path(__file__).resolve().parent.parent / "gdsolve"


def test_one_step_reproduces_the_tutorials_in_7():
    lesson = explain("(x-4)**2", at={"x": 0.2121}, lr=0.1)
    assert round(lesson["grad"]["x"], 4) == -7.5758
    assert round(lesson["step"]["x_new"]["x"], 4) == 0.9697
    assert "x.grad: tensor([-7.5758])" in lesson["transcript"]
    assert "x: tensor([0.9697])" in lesson["transcript"]


def test_the_tutorials_tensor_example_gives_27_and_18_and_its_mean_gives_4_5():
    lesson = explain("3*(x+2)**2")  # at 1, the tutorial's torch.ones
    assert lesson["at"] == {"x": 1.0} and lesson["f"] == 27.0 and lesson["grad"] == {"x": 18.0}
    assert lesson["mean_of_four"] == {"f": 27.0, "grad": {"x": 4.5}}  # measured by torch on a 2x2 tensor


def test_the_graph_is_what_torch_recorded():
    lesson = explain("3*(x+2)**2")
    nodes = lesson["graph"]["nodes"]
    assert [n["grad_fn"] for n in nodes] == ["MulBackward0", "PowBackward0", "AddBackward0", "AccumulateGrad"]
    assert [n["op"] for n in nodes] == ["t2 * 3", "t1 ** 2", "x + 2", None]
    assert [n["value"] for n in nodes] == [27.0, 9.0, 3.0, 1.0]
    assert [n["grad"] for n in nodes] == [1.0, 3.0, 18.0, 18.0]  # d f / d node, by the chain rule
    assert lesson["graph"]["edges"] == [{"from": 1, "to": 0}, {"from": 2, "to": 1}, {"from": 3, "to": 2}]


def test_only_the_leaves_keep_grad():
    nodes = explain("sin(x)*y + x", at={"x": 0.5, "y": 2})["graph"]["nodes"]
    leaves = [n for n in nodes if n["kind"] == "leaf"]
    assert sorted(n["name"] for n in leaves) == ["x", "y"]
    assert all(n["keeps_grad"] and n["requires_grad"] for n in leaves)
    assert not any(n["keeps_grad"] for n in nodes if n["kind"] != "leaf")
    assert sum(n["kind"] == "leaf" for n in nodes) == 2  # x is used twice but is one node


def test_a_variable_the_formula_does_not_use_has_no_grad():
    lesson = explain("(x-4)**2 + 0*y", at={"x": 1, "y": 1})
    assert "y.grad: None" in lesson["transcript"] and lesson["step"]["x_new"]["y"] == 1.0


def test_transcript_names_the_output_apart_from_a_variable_called_y():
    assert explain("x*y", at={"x": 1, "y": 2})["transcript"][2].startswith("f = x*y: tensor([2.]")


def test_dot_lists_every_node_and_edge():
    lesson = explain("x*x + sin(x)", at=0.3)
    dot = to_dot(lesson)
    assert dot.startswith("digraph autograd {") and dot.rstrip().endswith("}")
    assert dot.count("[label=") == len(lesson["graph"]["nodes"]) == 4
    assert dot.count(" -> ") == len(lesson["graph"]["edges"]) == 4
    assert "SinBackward0" in dot and "x.grad = 1.55534" in dot


def test_every_loop_note_quotes_gdsolves_own_code():
    for note in LOOP_NOTES:
        module, line = note["where"].split(": ", 1)
        assert line in (PACKAGE / module).read_text(), note


def test_bad_learning_rate_is_refused():
    with pytest.raises(OptionError, match="lr must be a finite number"):
        explain("x**2", lr=float("nan"))


def test_a_formula_that_is_one_variable_is_a_graph_of_one_leaf():
    lesson = explain("x", at=2)
    assert lesson["graph"] == {"nodes": [{"id": 0, "grad_fn": None, "kind": "leaf", "name": "x", "op": None,
                                          "value": 2.0, "grad": 1.0, "keeps_grad": True, "requires_grad": True}],
                               "edges": []}
    assert lesson["step"]["x_new"] == {"x": 1.9} and to_dot(lesson).count("[label=") == 1
