"""gdsolve.api.lesson: the tutorial's numbers, the graph torch records, who keeps .grad, DOT, and the loop's notes."""

from __future__ import annotations

import importlib
from typing import Any

import pytest
import torch

from gdsolve import OptionError, compile_objective, explain
from gdsolve.api.lesson import LOOP_NOTES, to_dot


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


def named(where: str) -> Any:
    """The object a loop note's "where" names: a dotted name, a module then attributes."""
    parts = where.split(".")
    for i in range(len(parts) - 1, 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:i]))
        except ModuleNotFoundError:
            continue
        for attr in parts[i:]:
            obj = getattr(obj, attr)
        return obj
    raise AssertionError(f"{where} names nothing importable")


class Spy:
    """An objective that notes, for every evaluation, whether autograd was recording and the tensor it got."""

    def __init__(self, objective: Any) -> None:
        self.objective = objective
        self.calls: list[tuple[bool, Any]] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.objective, name)

    def __call__(self, X: Any) -> Any:
        self.calls.append((torch.is_grad_enabled(), X))
        return self.objective(X)


def spied_run(**settings: Any) -> tuple[Spy, Any]:
    from gdsolve.core.settings import Settings

    spy = Spy(compile_objective("(x-4)**2 + (y+1)**2"))
    batch = named("gdsolve.engine.loop.Batch")(spy, [Settings(max_iter=5, **settings)], torch.zeros(1, dtype=torch.long),
                                              torch.zeros(1, 2, dtype=torch.float64))
    assert list(batch)
    return spy, batch


def test_every_loop_note_names_an_object_of_gdsolve_that_does_what_it_says():
    notes = {note["why"].split(" ")[0]: note["where"] for note in LOOP_NOTES}
    assert len(notes) == len(LOOP_NOTES) == 4 and all(named(where) for where in notes.values())
    assert LOOP_NOTES == tuple(explain("x**2")["loop"])  # what explain shows

    # "each step's graph starts fresh at a detached copy of x": f gets a new leaf each step, x stays out of graphs
    assert named(notes["each"]) is named("gdsolve.engine.loop.Batch")
    spy, batch = spied_run()
    assert len(spy.calls) == 5 and all(recording and X.is_leaf and X.requires_grad for recording, X in spy.calls)
    assert len({id(X) for _, X in spy.calls}) == 5
    assert not batch.X.requires_grad and batch.X.grad_fn is None

    # "the gradient is returned, not added into X.grad"
    gradient_of = named(notes["the"])
    X = torch.tensor([[0.5, 2.0]], dtype=torch.float64, requires_grad=True)
    F = compile_objective("(x-4)**2 + (y+1)**2")(X)
    G = gradient_of(False)(F, X, torch.ones(1, dtype=torch.float64))
    assert G.tolist() == [[pytest.approx(-7.0), pytest.approx(6.0)]] and X.grad is None

    # "gd's update x <- x - lr * grad, one fused multiply-add as torch.optim makes it"
    rule = named(notes["gd's"])["gd"]
    X = torch.tensor([[0.3, -1.7]], dtype=torch.float64)
    G = torch.tensor([[0.9, 0.11]], dtype=torch.float64)
    moved, _ = rule.update(rule.init(X), X, G, {}, 0.1)
    shadow = X.clone().requires_grad_(True)
    shadow.grad = G.clone()
    torch.optim.SGD([shadow], lr=0.1).step()
    assert torch.equal(moved, shadow.detach())

    # "line searches (armijo) only need values of f, and no_grad skips recording a graph for them"
    assert named(notes["line"]) is named("gdsolve.engine.loop.Batch")
    spy, _ = spied_run(line_search="armijo", lr=1.0)
    trials = [X for recording, X in spy.calls if not recording]
    assert trials and not any(X.requires_grad for X in trials)


def test_bad_learning_rate_is_refused():
    with pytest.raises(OptionError, match="lr must be a finite number"):
        explain("x**2", lr=float("nan"))


def test_a_formula_that_is_one_variable_is_a_graph_of_one_leaf():
    lesson = explain("x", at=2)
    assert lesson["graph"] == {"nodes": [{"id": 0, "grad_fn": None, "kind": "leaf", "name": "x", "op": None,
                                          "value": 2.0, "grad": 1.0, "keeps_grad": True, "requires_grad": True}],
                               "edges": []}
    assert lesson["step"]["x_new"] == {"x": 1.9} and to_dot(lesson).count("[label=") == 1
