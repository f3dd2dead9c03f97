"""``gdsolve grad`` and ``gdsolve explain``: see the gradient, symbolically and as autograd builds it.

As elsewhere in the CLI, these only parse options, call the library
(:func:`gdsolve.api.symbolic.analyze`, :func:`gdsolve.api.lesson.explain`), render
and exit; torch and sympy are imported inside the commands.
"""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from ..core.errors import OptionError
from ..core.streams import Environment
from ..io.jsonio import emit
from .cmdline import parse_inputs, parse_list
from .options import DataOpt, DebugOpt, DropMissingOpt, JsonOpt, ShapeOpt
from .shell import Exit, errors

ExpressionArg = Annotated[str, typer.Argument(metavar="EXPRESSION", show_default=False,
                                              help="The formula, e.g. \"(x-4)**2\"; ^ also means power.")]
VarsOpt = Annotated[Optional[str], typer.Option("--vars", metavar="y,x",
                                                help="Variable order (default: natural order x1, x2, x10).")]
ParamOpt = Annotated[Optional[list[str]], typer.Option("--param", metavar="a=2",
                                                       help="Substitute a constant for a name (repeatable).")]


def grad_command(
    expression: ExpressionArg,
    at: Annotated[Optional[str], typer.Option("--at", metavar="x=1,y=2", show_default=False,
                                              help="Also evaluate f and the gradient here, by autograd and "
                                                   "symbolically, and compare them.")] = None,
    hessian: Annotated[bool, typer.Option("--hessian", metavar="",
                                          help="Also the Hessian (at most 10 variables).")] = False,
    vars_: VarsOpt = None,
    param: ParamOpt = None,
    shape: ShapeOpt = None,
    data: DataOpt = None,
    drop_missing: DropMissingOpt = False,
    json_: JsonOpt = False,
    debug: DebugOpt = False,
) -> None:
    # The help text is set below: click keeps a docstring's line breaks.
    with errors(debug):
        from ..api.symbolic import analyze

        variables, params, point = parse_inputs(vars_, param or [], at, "--at")
        doc, f, grad, hess = analyze(expression, at=point, hessian=hessian, params=params, variables=variables,
                                     shape=shape or None, data=data, drop_missing=drop_missing)
        if json_:
            emit(doc)
        else:
            from ..present.console import console
            from ..present.render_grad import grad_view

            screen = console(soft_wrap=False)
            screen.print(grad_view(doc, f, grad, hess, screen))
    raise Exit(0)


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
    debug: DebugOpt = False,
) -> None:
    # The help text is set below: click keeps a docstring's line breaks.
    with errors(debug):
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
    raise Exit(0)


grad_command.__doc__ = (
    "The symbolic gradient of EXPRESSION (sympy.diff of its exact form, simplified within 2 s).\n\n"
    "Constants stay exact (sqrt(3) stays sqrt(3)); abs, sign, min and max are reported where they are not "
    "differentiable. With --at, autograd's gradient and the symbolic one are compared: they agree when "
    "|autograd - symbolic| <= 1e-9 + 1e-6 * max(|autograd|, |symbolic|) for every variable (JSON: \"agree\")."
)
explain_command.__doc__ = (
    "The tutorial's lesson on EXPRESSION: the autograd graph torch records, who keeps .grad, one step by hand.\n\n"
    "Each node of the graph is shown with its grad_fn (PowBackward0, SubBackward0...), its value and the "
    "gradient of f that flowed through it; leaves are the variables, with requires_grad=True."
)
