"""``gdsolve explain``: the tutorial's lesson on a formula -- the autograd graph, who keeps .grad, one step.

As every command, it only parses options, calls the library
(:func:`gdsolve.api.lesson.explain`), renders and returns the exit code.
"""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from ..core.errors import OptionError
from ..core.streams import Environment
from ..io.jsonio import emit
from .cmdline import parse_inputs, parse_list
from .options import ExpressionArg, JsonOpt, ParamOpt, VarsOpt, command


@command()
def explain_command(
    expression: ExpressionArg,
    at: Annotated[Optional[str], typer.Option("--at", metavar="x=1,y=2", show_default=False,
                                              help="The point (default: 1 for every variable, the tutorial's "
                                                   "torch.ones).")] = None,
    lr: Annotated[str, typer.Option("--lr", metavar="RATE", help="Learning rate of the worked step.")] = "0.1",
    vars_: VarsOpt = None,
    param: ParamOpt = None,
    dot: Annotated[bool, typer.Option("--dot", metavar="",
                                      help="Print the graph in Graphviz DOT (| dot -Tpng -o graph.png).")] = False,
    json_: JsonOpt = False,
) -> int:
    # The help text is set below: click keeps a docstring's line breaks.
    if dot and json_:
        raise OptionError("--dot and --json are two formats for the same graph; choose one")
    from ..api.lesson import explain, to_dot

    rate = parse_list(lr, "--lr")  # the user's own text in any message ("1e400", not "inf")
    if isinstance(rate, list):
        raise OptionError(f"--lr takes one rate here (one worked step), not the list {lr!r}")
    variables, params, point = parse_inputs(vars_, param or [], at, "--at")
    lesson = explain(expression, at=point, lr=rate, params=params, variables=variables)
    if json_:
        emit(lesson)
    elif dot:
        Environment.current().write_data(to_dot(lesson))
    else:
        from ..present.console import console
        from ..present.render_grad import explain_view

        console(soft_wrap=False).print(explain_view(lesson))
    return 0


explain_command.__doc__ = (
    "The tutorial's lesson on EXPRESSION: the autograd graph torch records, who keeps .grad, one step by hand.\n\n"
    "Each node of the graph is shown with its grad_fn (PowBackward0, SubBackward0...), its value and the "
    "gradient of f that flowed through it; leaves are the variables, with requires_grad=True."
)
