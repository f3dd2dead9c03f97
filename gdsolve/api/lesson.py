"""The tutorial's lesson on the user's own formula: the autograd graph and one step by hand.

The seed tutorial's first half teaches how autograd works: leaves with
``requires_grad=True``, the graph of ``grad_fn`` nodes (``AddBackward0``,
``PowBackward0``...) that the forward pass records, ``backward()`` filling the
leaves' ``.grad`` and *only* theirs, and ``torch.no_grad()`` / ``.detach()``
keeping the update out of the graph. :func:`explain` runs the formula once the
way the tutorial does (one tensor of one element per variable) and records
what torch actually did: every node, its value, the gradient that passed
through it, and which tensors kept a ``.grad``.

Example:
    >>> lesson = explain("(x-4)**2", at={"x": 0.2121}, lr=0.1)
    >>> round(lesson["grad"]["x"], 4), round(lesson["step"]["x_new"]["x"], 4)
    (-7.5758, 0.9697)
    >>> [n["grad_fn"] for n in lesson["graph"]["nodes"]]
    ['PowBackward0', 'SubBackward0', 'AccumulateGrad']
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import Any

from ..core.errors import OptionError, shown
from ..core.settings import X0, finite_real, resolve_x0

#: Python operators as torch reports them (``func.__name__``), and how to write them.
_INFIX = {"add": "+", "sub": "-", "mul": "*", "div": "/", "true_divide": "/", "pow": "**"}
_REVERSED = {"rsub": "-", "__rsub__": "-", "__rtruediv__": "/", "__rdiv__": "/", "__rpow__": "**"}

#: Where gdsolve's own loop keeps autograd out of the way, and why: "where" names the object that
#: does it (an importable dotted name); tests/test_lesson.py imports each and checks what "why" says.
LOOP_NOTES: tuple[dict[str, str], ...] = (
    {"where": "gdsolve.engine.loop.Batch",
     "why": "each step's graph starts fresh at a detached copy of x, so the update made from it is not "
            "recorded, as the tutorial's `with torch.no_grad(): x = x - learning_rate * x.grad`"},
    {"where": "gdsolve.engine.loop.gradient_of",
     "why": "the gradient is returned, not added into X.grad as backward() does, so nothing needs zeroing "
            "between steps (the tutorial instead makes a new x each step)"},
    {"where": "gdsolve.optim.rowmethods.RULES",
     "why": "gd's update (RULES['gd']) x <- x - lr * grad, one fused multiply-add as torch.optim makes it"},
    {"where": "gdsolve.engine.loop.Batch",
     "why": "line searches (armijo) only need values of f, and no_grad skips recording a graph for them"},
)


def _label(func: Any, args: Sequence[Any], names: Mapping[int, str]) -> str:
    def arg(a: Any) -> str:
        if id(a) in names:
            return names[id(a)]
        if isinstance(a, (int, float)):
            return f"{a:.6g}"
        try:  # a constant tensor made from a number (min, max, atan2 with a number)
            return f"{float(a):.6g}" if a.numel() == 1 else "tensor"
        except (AttributeError, TypeError, RuntimeError):
            return "?"

    name = getattr(func, "__name__", str(func)).removesuffix("_")
    parts = [arg(a) for a in args]
    if name in _INFIX and len(parts) == 2:
        return f"{parts[0]} {_INFIX[name]} {parts[1]}"
    if name in _REVERSED and len(parts) == 2:
        return f"{parts[1]} {_REVERSED[name]} {parts[0]}"
    if name in ("neg", "__neg__") and len(parts) == 1:
        return f"-{parts[0]}"
    return f"{name}({', '.join(parts)})"


def _record(fn: Any, leaves: Sequence[Any], variables: Sequence[str]) -> tuple[Any, dict[int, dict[str, Any]]]:
    """Run ``fn(*leaves)`` and note, for every tensor an operation made, its name, formula and value."""
    from torch.overrides import TorchFunctionMode

    names = {id(t): v for t, v in zip(leaves, variables)}
    made: dict[int, dict[str, Any]] = {}  # id(grad_fn) -> record

    class Recorder(TorchFunctionMode):
        def __torch_function__(self, func: Any, types: Any, args: Sequence[Any] = (), kwargs: Any = None) -> Any:
            out = func(*args, **(kwargs or {}))
            node = getattr(out, "grad_fn", None)
            if node is not None and id(node) not in made:
                name = f"t{len(made) + 1}"
                names[id(out)] = name
                made[id(node)] = {"tensor": out, "name": name, "op": _label(func, args, names)}
            return out

    with Recorder():
        out = fn(*leaves)
    return out, made


def explain(
    expression: str,
    *,
    at: X0 = None,
    lr: float = 0.1,
    params: Mapping[str, float] | None = None,
    variables: Sequence[str] | None = None,
) -> dict[str, Any]:
    """Build f's autograd graph at a point and work one gradient-descent step, as the tutorial does.

    Args:
        expression: the formula. at: the point (default: 1 for every
            variable, the tutorial's ``torch.ones``). lr: the step's learning rate.
        params, variables: as for :func:`gdsolve.minimize`.

    Returns:
        Plain data (the ``gdsolve explain --json`` document): ``expression``,
        ``variables``, ``at``, ``lr``, ``f``, ``grad`` ({name: value});
        ``graph`` with ``nodes`` (``id``, ``grad_fn``, ``kind`` "output" / "op" /
        "leaf", ``name``, ``op``, ``value``, ``grad``: the gradient of f that
        flowed through it, ``keeps_grad``: whether ``.grad`` held it after
        ``backward()``, ``requires_grad``) and ``edges`` (``{"from", "to"}``,
        input to the operation using it); ``step`` (``x``, ``grad``, ``lr``,
        ``x_new``, ``f_new``); ``mean_of_four`` (the tutorial's In [3]: f on a
        2x2 tensor, then ``.mean()``); ``loop`` (where gdsolve's loop uses
        ``no_grad`` and ``detach``, and why); ``transcript`` (the step as the
        tutorial prints it).
    """
    import torch

    from ..formula.objective import compile_objective

    if not finite_real(lr):
        raise OptionError(f"{{lr}} must be a finite number, got {shown(lr)}")
    lr = float(lr)
    objective = compile_objective(expression, params=params, variables=variables)
    names = objective.variables
    point = resolve_x0(names, at, option="at") if at is not None else {n: 1.0 for n in names}
    dtype = torch.float64

    # The tutorial's way: a leaf tensor per variable, requires_grad=True, then backward().
    leaves = [torch.tensor([point[n]], dtype=dtype, requires_grad=True) for n in names]
    f, made = _record(objective.per_variable, leaves, names)
    flowed: dict[int, float] = {}  # id(grad_fn) -> the gradient of f that passed through it (not kept in .grad)
    for key, rec in made.items():
        rec["tensor"].register_hook(lambda g, key=key: flowed.__setitem__(key, float(g.sum())))
    f.backward()
    grads = [float(leaf.grad[0]) if leaf.grad is not None else 0.0 for leaf in leaves]
    graph = _graph(f, made, leaves, names, flowed)

    # One step of the tutorial's rule, outside the graph.
    with torch.no_grad():
        new = [leaf - lr * (leaf.grad if leaf.grad is not None else torch.zeros_like(leaf)) for leaf in leaves]
        f_new = float(objective.per_variable(*new)[0])
    step = {"x": dict(point), "grad": dict(zip(names, grads)), "lr": lr,
            "x_new": {n: float(t[0]) for n, t in zip(names, new)}, "f_new": f_new}

    # The tutorial's In [3]: the same f on 2x2 tensors, then .mean() over the four elements.
    blocks = [torch.full((2, 2), point[n], dtype=dtype, requires_grad=True) for n in names]
    mean = objective.per_variable(*blocks).mean()
    mean.backward()
    four = {"f": float(mean.detach()),
            "grad": {n: float(b.grad[0, 0]) if b.grad is not None else 0.0 for n, b in zip(names, blocks)}}

    return {
        "expression": objective.text, "variables": list(names), "at": dict(point), "lr": lr,
        "f": float(f.detach()[0]), "grad": dict(zip(names, grads)), "graph": graph, "step": step,
        "mean_of_four": four, "loop": [dict(n) for n in LOOP_NOTES],
        "transcript": _transcript(objective.text, names, leaves, f, new, lr),
    }


def _graph(f: Any, made: Mapping[int, dict[str, Any]], leaves: Sequence[Any], names: Sequence[str],
           flowed: Mapping[int, float]) -> dict[str, Any]:
    """Walk ``f.grad_fn``'s ``next_functions`` (output first) into nodes and edges."""
    leaf_of = {id(t): n for t, n in zip(leaves, names)}
    if f.grad_fn is None:  # f is a variable itself ("x"): the graph is that one leaf, with no grad_fn at all
        return {"nodes": [{"id": 0, "grad_fn": None, "kind": "leaf", "name": leaf_of.get(id(f), "?"), "op": None,
                           "value": float(f.detach()[0]), "grad": float(f.grad[0]), "keeps_grad": True,
                           "requires_grad": True}], "edges": []}
    ids: dict[int, int] = {}
    nodes: list[dict[str, Any]] = []
    pairs: list[tuple[int, int]] = []  # (id(input node), id of the node using it)
    with warnings.catch_warnings():
        # Reading .grad of a non-leaf warns; reading it is the point (it is None).
        warnings.simplefilter("ignore")
        stack = [f.grad_fn]
        while stack:
            node = stack.pop(0)
            if id(node) in ids:
                continue
            ids[id(node)] = len(nodes)
            kind = type(node).__name__
            if kind == "AccumulateGrad":
                leaf = node.variable
                entry = {"grad_fn": kind, "kind": "leaf", "name": leaf_of.get(id(leaf), "?"), "op": None,
                         "value": float(leaf.detach()[0]), "grad": float(leaf.grad[0]) if leaf.grad is not None else None,
                         "keeps_grad": leaf.grad is not None, "requires_grad": leaf.requires_grad}
            else:
                rec = made.get(id(node))
                tensor = rec["tensor"] if rec else None
                entry = {"grad_fn": kind, "kind": "output" if node is f.grad_fn else "op",
                         "name": "f" if node is f.grad_fn else (rec["name"] if rec else None),
                         "op": rec["op"] if rec else None,
                         "value": float(tensor.detach().reshape(-1)[0]) if tensor is not None else None,
                         "grad": 1.0 if node is f.grad_fn else flowed.get(id(node)),
                         "keeps_grad": tensor is not None and tensor.grad is not None,
                         "requires_grad": True}
            nodes.append({"id": ids[id(node)], **entry})
            for child, _ in node.next_functions:
                if child is not None:  # None: an input that needs no gradient (a constant)
                    stack.append(child)
                    pairs.append((id(child), ids[id(node)]))
    return {"nodes": nodes, "edges": [{"from": ids[c], "to": n} for c, n in pairs]}


def _transcript(text: str, names: Sequence[str], leaves: Sequence[Any], f: Any, new: Sequence[Any],
                lr: float) -> list[str]:
    """The step as the tutorial's In [7] prints it, with torch's own tensor printing."""

    def show(t: Any) -> str:
        # gdsolve computes in float64; torch would add ", dtype=torch.float64" to every tensor.
        return repr(t).replace(", dtype=torch.float64", "")

    out = next(o for o in ("y", "f", "out", "value") if o not in names)  # the tutorial's y, unless a variable is y
    lines = [f"{n}: {show(leaf)}" for n, leaf in zip(names, leaves)]
    lines.append(f"{out} = {text}: {show(f)}")
    lines.append(f"{out}.backward()")
    lines += [f"{n}.grad: {show(leaf.grad)}" for n, leaf in zip(names, leaves)]
    lines.append(f"learning_rate = {lr:g}")
    lines += [f"{n} - learning_rate * {n}.grad: {show(leaf - lr * leaf.grad)}" for n, leaf in zip(names, leaves)
              if leaf.grad is not None]
    lines.append("with torch.no_grad(): " + "; ".join(f"{n} = {n} - learning_rate * {n}.grad"
                                                      for n, leaf in zip(names, leaves) if leaf.grad is not None))
    lines += [f"{n}: {show(t)}" for n, t in zip(names, new)]
    return lines


def to_dot(lesson: Mapping[str, Any]) -> str:
    """The graph of an :func:`explain` result in Graphviz DOT (``dot -Tpng``); inputs point to their users.

    >>> print(to_dot(explain("(x-4)**2", at={"x": 0.2121})).splitlines()[0])
    digraph autograd {
    """

    def quote(text: str) -> str:
        # Escape backslashes and quotes; a line break in a label is DOT's \n.
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'

    lines = ["digraph autograd {", "  rankdir=BT;", '  node [fontname="Helvetica"];',
             f"  label={quote('autograd graph of f = ' + str(lesson['expression']))}; labelloc=t;"]
    for node in lesson["graph"]["nodes"]:
        if node["kind"] == "leaf":
            label = (f"{node['name']} = {_num(node['value'])}\nleaf, requires_grad=True\n"
                     f"{node['name']}.grad = {_num(node['grad'])}")
            attrs = "shape=box, style=filled, fillcolor=lightblue"
        else:
            label = (f"{node['grad_fn']}\n{node['name']} = {node['op'] or '?'} = {_num(node['value'])}\n"
                     f"df/d{node['name']} = {_num(node['grad'])}, .grad None")
            attrs = "shape=ellipse" if node["kind"] == "op" else "shape=doubleoctagon"
        lines.append(f"  n{node['id']} [label={quote(label)}, {attrs}];")
    for edge in lesson["graph"]["edges"]:
        lines.append(f"  n{edge['from']} -> n{edge['to']};")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _num(value: float | None) -> str:
    return "None" if value is None else f"{value:.6g}"
