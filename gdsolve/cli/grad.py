"""``gdsolve grad``: the gradient (and Hessian), symbolically, and compared with autograd's.

As every command, it only parses options, calls the library
(:func:`gdsolve.api.symbolic.analyze`), renders and returns the exit code;
torch and sympy are imported inside the command.
"""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from ..io.jsonio import emit
from .cmdline import data_option, parse_inputs
from .options import DataOpt, DropMissingOpt, ExpressionArg, JsonOpt, MatrixOpt, ParamOpt, ShapeOpt, VarsOpt, command


@command()
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
    matrix: MatrixOpt = None,
    drop_missing: DropMissingOpt = False,
    json_: JsonOpt = False,
) -> int:
    # The help text is set below: click keeps a docstring's line breaks.
    from ..api.symbolic import analyze

    variables, params, point = parse_inputs(vars_, param or [], at, "--at")
    doc, f, grad, hess = analyze(expression, at=point, hessian=hessian, params=params, variables=variables,
                                 shape=shape or None, data=data_option(data, matrix, drop_missing),
                                 drop_missing=drop_missing)
    if json_:
        emit(doc)
    else:
        from ..present.console import console
        from ..present.render_grad import grad_view

        screen = console(soft_wrap=False)
        screen.print(grad_view(doc, f, grad, hess, screen))
    return 0


grad_command.__doc__ = (
    "The symbolic gradient of EXPRESSION (sympy.diff of its exact form, simplified within 2 s).\n\n"
    "Constants stay exact (sqrt(3) stays sqrt(3)); abs, sign, min and max are reported where they are not "
    "differentiable. With --at, autograd's gradient and the symbolic one are compared: they agree when "
    "|autograd - symbolic| <= 1e-9 + 1e-6 * max(|autograd|, |symbolic|) for every variable (JSON: \"agree\")."
)
