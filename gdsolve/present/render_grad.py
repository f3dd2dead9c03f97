"""Rendering for ``gdsolve grad`` and ``gdsolve explain``: sympy's pretty printer and rich.

Like :mod:`gdsolve.present.render`, this only draws what the library computed
(:func:`gdsolve.api.symbolic.analyze`, :func:`gdsolve.api.lesson.explain`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rich.console import Console, Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text
from rich.tree import Tree

from .render import fmt

#: Nodes drawn in explain's tree; a larger graph is cut (--json and --dot give all of it).
MAX_TREE_NODES = 200


def _pretty(expr: Any, console: Console) -> str:
    import sympy

    unicode = (console.encoding or "").lower().startswith("utf")
    text = sympy.pretty(expr, use_unicode=unicode)
    # A pretty form wider than the screen is unreadable once wrapped: fall back to one line.
    return text if max(map(len, text.splitlines() or [""])) <= console.width - 12 else str(expr)


def _labelled(label: str, body: str) -> Text:
    lines = body.splitlines() or [""]
    # Put the label on the baseline of a multi-line pretty form (its middle line).
    mid = len(lines) // 2
    pad = " " * len(label)
    return Text("\n".join((label if i == mid else pad) + line for i, line in enumerate(lines)))


def grad_view(doc: Mapping[str, Any], f: Any, grad: Sequence[Any], hess: Sequence[Sequence[Any]] | None,
              console: Console) -> Group:
    """The symbolic gradient (and Hessian), the kinks, and the check at a point."""
    import sympy

    if doc.get("symbolic_declined"):
        return Group(_autograd_view(doc))

    names = doc["variables"]
    parts: list[Any] = [_labelled("f = ", _pretty(f, console)), Text("")]
    for name, g in zip(names, grad):
        parts.append(_labelled(f"∂f/∂{name} = ", _pretty(g, console)))
    if hess is not None:
        parts += [Text(""), Text(f"Hessian (rows and columns {', '.join(names)}):", style="bold"),
                  Text(_pretty(sympy.Matrix(hess), console))]
    if not doc["simplified"]:
        parts.append(Text("(simplifying took longer than its budget; shown as sympy.diff gave them)", style="dim"))
    if doc["not_differentiable"]:
        parts += [Text(""), Text("Not differentiable:", style="bold yellow")]
        for k in doc["not_differentiable"]:
            parts.append(Text(f"  {k['term']}: where {k['where']}", style="yellow"))
    body: list[Any] = [Panel(Group(*parts), title=f"gdsolve grad: {doc['expression']}", title_align="left",
                             expand=False)]
    if "at" in doc:
        body.append(_check_table(doc))
    return Group(*body)


def _autograd_view(doc: Mapping[str, Any]) -> Panel:
    """Shaped variables or data: f and autograd's gradient at the point, and why sympy declined."""
    table = Table(box=None, padding=(0, 2), show_header=False)
    table.add_column(style="bold")
    table.add_column()
    table.add_row("f", f"{doc['f']:.10g}")
    for name, g in doc["autograd"].items():
        table.add_row(f"∂f/∂{name}", _value(g))
    note = Text(f"symbolic: declined ({doc['symbolic_declined']})", style="dim")
    return Panel(Group(table, note), title=f"gdsolve grad: {doc['expression']}", title_align="left", expand=False)


def _value(v: Any) -> str:
    if isinstance(v, list):
        return "[" + ", ".join(_value(item) for item in v) + "]"
    return f"{v:.10g}"


def _check_table(doc: Mapping[str, Any]) -> Panel:
    table = Table(box=None, padding=(0, 2))
    for column in ("", "autograd", "symbolic", "|difference|"):
        table.add_column(column, justify="left" if not column else "right")
    for name in doc["variables"]:
        a, s = doc["autograd"][name], doc["symbolic"][name]
        diff = abs(a - s) if a == a and s == s else float("nan")
        table.add_row(f"∂f/∂{name}", fmt(a, 17), fmt(s, 17), fmt(diff, 3))
    at = ", ".join(f"{k} = {fmt(v, 10)}" for k, v in doc["at"].items())
    tol = doc["tolerance"]
    skipped = doc.get("not_compared") or {}
    largest = f"largest difference {fmt(doc['max_abs_diff'], 3)} (relative {fmt(doc['max_rel_diff'], 3)})"
    if doc["agree"]:
        verdict = Text(f"agree: {largest}, within {tol['atol']:g} + {tol['rtol']:g}·|value|", style="green")
    elif doc["agree"] is None:  # nothing differs, but something could not be compared: no agreement is claimed
        others = len(skipped) < len(doc["variables"])
        why = "; ".join(skipped.values()) if doc["in_domain"] else (
            ", ".join(f"∂f/∂{name}" for name in skipped) + " (not defined where f is not a finite real number)")
        verdict = Text("not compared: " + why
                       + (f" (the others agree: {largest})" if others else ""), style="yellow")
    else:
        verdict = Text(f"DISAGREE: {largest}, beyond {tol['atol']:g} + {tol['rtol']:g}·|value|", style="bold red")
    rows: list[Any] = [Text(f"f = {fmt(doc['f'], 17)}"), table, verdict]
    if not doc["in_domain"]:
        rows.append(Text("f is not a finite real number here: the point is outside f's domain or at a singularity; "
                         "only the variables where both routes give a number are compared", style="yellow"))
    return Panel(Group(*rows), title=f"at {at}", title_align="left", expand=False)


def explain_view(lesson: Mapping[str, Any]) -> Group:
    """The graph as a tree, who keeps .grad, one step by hand, the tutorial's mean, and gdsolve's loop."""
    nodes = {n["id"]: n for n in lesson["graph"]["nodes"]}
    inputs: dict[int, list[int]] = {}
    for e in lesson["graph"]["edges"]:
        inputs.setdefault(e["to"], []).append(e["from"])
    at = ", ".join(f"{k} = {v:g}" for k, v in lesson["at"].items())
    tree = Tree(Text(f"f = {lesson['expression']} at {at}", style="bold"))
    drawn: set[int] = set()
    budget = [MAX_TREE_NODES]

    def add(parent: Tree, node_id: int) -> None:
        node = nodes[node_id]
        if budget[0] <= 0:
            return
        budget[0] -= 1
        if node_id in drawn:
            parent.add(Text(f"{node['grad_fn']}  {node['name']} (shown above)", style="dim"))
            return
        drawn.add(node_id)
        if node["kind"] == "leaf":
            parent.add(Text.assemble((f"{node['grad_fn'] or 'f is this leaf itself, no grad_fn:'}  ", "dim"),
                                     (f"{node['name']}", "bold cyan"),
                                     f" = {fmt(node['value'], 6)} (leaf, requires_grad=True)  ",
                                     (f"{node['name']}.grad = {fmt(node['grad'], 6)} kept", "green")))
            return
        branch = parent.add(Text.assemble((node["grad_fn"], "bold magenta"),
                                          f"  {node['name']} = {node['op'] or '?'} = {fmt(node['value'], 6)}  ",
                                          (f"∂f/∂{node['name']} = {fmt(node['grad'], 6)}, .grad None", "dim")))
        for child in inputs.get(node_id, []):
            add(branch, child)

    add(tree, 0)
    parts: list[Any] = [tree]
    if budget[0] <= 0:
        parts.append(Text(f"(the tree is cut at {MAX_TREE_NODES} nodes of {len(nodes)}; --json or --dot give all)",
                          style="dim"))
    leaves = [n["name"] for n in nodes.values() if n["kind"] == "leaf"]
    inner = [n["name"] for n in nodes.values() if n["kind"] != "leaf"]
    if inner:
        kept = (f"The gradient of f with respect to each intermediate tensor ({', '.join(inner[:8])}"
                f"{', …' if len(inner) > 8 else ''}) was computed and passed on, as shown, but not kept: its .grad "
                "is None, as the tutorial's In [4] shows for y and z (.retain_grad() would keep it).")
    else:
        kept = "There is no intermediate tensor: f is the variable itself."
    parts += [
        Text(""),
        Text("After f.backward(), only the leaves keep .grad: " + ", ".join(leaves) + ". " + kept),
        Text(""),
        Text(f"One step of gradient descent, as the tutorial's In [7] (lr {lesson['lr']:g}):", style="bold"),
        Text("\n".join("  " + line for line in lesson["transcript"])),
        Text(""),
        Text("The tutorial's In [3] applies f to a 2x2 tensor of the same values and takes .mean():", style="bold"),
        Text(_mean_sentence(lesson)),
        Text(""),
        Text("Where gdsolve's own loop keeps autograd out of the way:", style="bold"),
    ]
    parts += [Text(f"  {note['where']}\n      {note['why']}") for note in lesson["loop"]]
    return Group(*parts)


def _mean_sentence(lesson: Mapping[str, Any]) -> str:
    four = lesson["mean_of_four"]
    pieces = [f"{n}.grad = {fmt(four['grad'][n], 6)} in each element = {fmt(lesson['grad'][n], 6)} / 4"
              for n in lesson["variables"]]
    return ("  mean = " + fmt(four["f"], 6) + "; " + "; ".join(pieces) + ".\n  The mean divides by the four "
            "elements, so each element gets a quarter of the gradient. gdsolve differentiates f itself, a "
            "scalar, so it shows the whole gradient.")
