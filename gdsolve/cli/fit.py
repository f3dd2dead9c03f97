"""``gdsolve fit``: fit a model to a data file; the CLI side of :func:`gdsolve.fit`.

It parses options, calls the library, renders the report (or prints one JSON
document) and exits with the run's :class:`~gdsolve.core.status.ExitStatus`.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from typing import Annotated, Any, Optional

import typer

from ..core.settings import (
    DEFAULT_F_SCALE,
    DEFAULT_MAX_ITER,
    DEFAULT_SEED,
    FAMILY_NAMES,
    FIT_FTOL,
    FIT_GTOL,
    FIT_MAX_ITER,
    FIT_XTOL,
    LOSSES,
)
from . import startup
from .options import DATA_PANEL, DeviceOpt, DropMissingOpt, JsonOpt, MatrixOpt, ShapeOpt, TraceOpt, command, reworded

DATA = DATA_PANEL
METHOD = "Method"


#: The library's losses, as a choice typer validates and lists in --help (torch-free: the table is in settings).
Loss = enum.Enum("Loss", {v: v for v in LOSSES}, type=str)  # type: ignore[misc]
#: fit's likelihoods, as a choice (the names are torch-free in settings; the families are in optim.family).
Family = enum.Enum("Family", {v: v for v in FAMILY_NAMES}, type=str)  # type: ignore[misc]


@command()
def fit_command(
    model: Annotated[str, typer.Argument(metavar="MODEL", show_default=False,
                                         help="response ~ formula, e.g. \"y ~ b1*(1-exp(-b2*x))\"; names that are "
                                              "columns are data, the others are parameters. \"y ~ .\" is b0 plus "
                                              "a coefficient per other column; \"~ expr\" fits expr as the "
                                              "residual.")],
    data: Annotated[str, typer.Option("--data", metavar="FILE", rich_help_panel=DATA, show_default=False,
                                      help="CSV, TSV or whitespace columns with a header row; - for stdin.")],
    p0: Annotated[Optional[str], typer.Option("--p0", metavar="b1=500,b2=1e-4", show_default=False,
                                              help="Start values (default 1 for every parameter; with --family 0, "
                                                   "or 1 where the mean is not valid at 0); w=0 sets every "
                                                   "element of a vector, w=[1,2,3] each; one value sets every "
                                                   "parameter.")] = None,
    sigma: Annotated[Optional[str], typer.Option("--sigma", metavar="COLUMN", rich_help_panel=DATA,
                                                 help="Column of per-point errors; residuals are divided by it.")] = None,
    trials: Annotated[Optional[str], typer.Option("--trials", metavar="COLUMN", rich_help_panel=DATA, show_default=False,
                                                  help="With --family binomial: the number of trials per row; the "
                                                       "response is the proportion of successes.")] = None,
    absolute_sigma: Annotated[bool, typer.Option("--absolute-sigma", rich_help_panel=DATA, metavar="",
                                                 help="Take --sigma as true errors: standard errors are not scaled "
                                                      "by the reduced chi-square.")] = False,
    drop_missing: DropMissingOpt = False,
    matrix: MatrixOpt = None,
    shape: reworded(ShapeOpt, help="Make a parameter a vector: w=10 (repeatable); in X @ w its size follows X.") = None,  # type: ignore[valid-type]
    bounds: Annotated[Optional[list[str]], typer.Option("--bounds", metavar="b1=0:", show_default=False,
                                                        help="Bounds on a parameter (repeatable); an empty side is "
                                                             "open.")] = None,
    starts: Annotated[Optional[int], typer.Option("--starts", metavar="N", show_default=False,
                                                  help="Run N starts at once (p0 and draws around it), keep the "
                                                       "best.")] = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the drawn starts.")] = DEFAULT_SEED,
    family: Annotated[Optional[Family], typer.Option("--family", rich_help_panel=METHOD, show_default=False,
                                                     help="Fit by maximum likelihood: MODEL is the mean of the "
                                                          "response, the family its distribution (standard errors "
                                                          "from the Fisher information, deviance, AIC). Default: "
                                                          "least squares.")] = None,
    method: Annotated[str, typer.Option("--method", rich_help_panel=METHOD,
                                        help="lm (Levenberg-Marquardt) or a minimize method (gd, adam, lbfgs...).")] = "lm",
    loss: Annotated[Loss, typer.Option("--loss", rich_help_panel=METHOD,
                                       help="Robust losses weigh large residuals less.")] = Loss("linear"),
    f_scale: Annotated[Optional[float], typer.Option("--f-scale", metavar="S", rich_help_panel=METHOD, show_default=False,
                                                     help="Residual size where a robust loss starts to bend "
                                                          f"(default {DEFAULT_F_SCALE:g}).")] = None,
    lr: Annotated[Optional[float], typer.Option("--lr", metavar="RATE", rich_help_panel=METHOD, show_default=False,
                                                help="Learning rate, for the gradient methods only.")] = None,
    max_iter: Annotated[Optional[int], typer.Option("--max-iter", metavar="N", rich_help_panel=METHOD,
                                                    show_default=False,
                                                    help=f"Step budget (default {FIT_MAX_ITER} for lm, "
                                                         f"{DEFAULT_MAX_ITER} otherwise).")] = None,
    ftol: Annotated[Optional[float], typer.Option("--ftol", rich_help_panel=METHOD, show_default=False,
                                                  help="lm: stop when the cost changes by less than this, relatively "
                                                       f"(default {FIT_FTOL:g}).")] = None,
    xtol: Annotated[Optional[float], typer.Option("--xtol", rich_help_panel=METHOD, show_default=False,
                                                  help="lm: stop when the step is this small relative to the "
                                                       f"parameters (default {FIT_XTOL:g}).")] = None,
    gtol: Annotated[Optional[float], typer.Option("--gtol", rich_help_panel=METHOD, show_default=False,
                                                  help="lm: stop when the residuals are this close to orthogonal to "
                                                       f"the Jacobian (default {FIT_GTOL:g}).")] = None,
    time_limit: Annotated[Optional[float], typer.Option("--time-limit", metavar="SECONDS", rich_help_panel=METHOD,
                                                        show_default=False, help="Stop after this long.")] = None,
    device: reworded(DeviceOpt, panel=METHOD, help="Where to compute (default cpu).") = None,  # type: ignore[valid-type]
    trace: reworded(TraceOpt, panel=DATA,  # type: ignore[valid-type]
                    help="Write every step and the data as JSON Lines, for gdsolve plot (- for stdout).") = None,
    residuals: Annotated[Optional[str], typer.Option("--residuals", metavar="FILE", rich_help_panel=DATA,
                                                     show_default=False,
                                                     help="Write the data with fitted values and residuals (CSV).")] = None,
    json_: JsonOpt = False,
) -> int:
    # The help text is set below: click keeps a docstring's line breaks.
    from ..api.fitting import fit
    from ..core.errors import OptionError
    from ..formula.data import read_table
    from ..formula.model import parse_model
    from .cmdline import parse_assignments, parse_bounds
    from .outputs import OutputOptions, Outputs

    start = None
    if p0 is not None:
        start = parse_assignments(p0, "--p0")
        if isinstance(start, list):  # --p0 0: every parameter; --p0 1,2: the parameters in order
            start = start[0] if len(start) == 1 else start
    if residuals == "-":
        raise OptionError("--residuals writes a file; give it a path (stdout holds the report)")
    options = OutputOptions(json=json_, trace=trace)  # refuses --json with --trace - before any data is read
    table = read_table(data, drop_missing=drop_missing)
    if matrix:
        from ..formula.matrices import with_matrices

        table = with_matrices(table, matrix)
    bound = parse_model(model, table, sigma=sigma, shapes=shape or None)
    budget = max_iter if max_iter is not None else FIT_MAX_ITER if method == "lm" else DEFAULT_MAX_ITER
    header = {"method": method} if family is None else {"method": "fisher-scoring", "family": family.value}
    out = Outputs(bound, options, fit=header, fit_max_iter=budget)
    callback = out.callback if not startup.early_interrupt else _interrupted_at_first_step(out.callback)
    try:
        result = fit(bound, p0=start, absolute_sigma=absolute_sigma, bounds=parse_bounds(bounds or []),
                     starts=starts, seed=seed, method=method, loss=loss.value, f_scale=f_scale, max_iter=max_iter,
                     ftol=ftol, xtol=xtol, gtol=gtol, lr=lr, time_limit=time_limit,
                     device=None if device is None else device.value, callback=callback,
                     family=None if family is None else family.value, trials=trials)
        if residuals is not None:
            result.write_residuals(residuals)
    except BaseException:
        out.abandon()  # the trace keeps the steps written so far
        raise
    out.finish(result)
    return int(result.status.exit_status)


def _interrupted_at_first_step(writer: Callable[..., None] | None) -> Callable[..., None]:
    """A callback that ends the fit as Ctrl-C would after its first step: the Ctrl-C came while the
    libraries loaded (:data:`gdsolve.cli.startup.early_interrupt`), so the report is the interrupted one."""
    def step(*args: Any) -> None:
        if writer is not None:
            writer(*args)
        if startup.early_interrupt:
            startup.early_interrupt = False
            raise KeyboardInterrupt
    return step


fit_command.__doc__ = (
    "Fit MODEL to the data in --data by least squares, or by maximum likelihood with --family: the parameters, "
    "their standard errors, p-values, 95% confidence intervals and correlations, and the goodness of fit.\n\n"
    "The default method is Levenberg-Marquardt on autograd's Jacobian (trust region, Moré's scaling); with "
    "--family, MODEL is the response's mean and Fisher scoring (glm's) maximizes the family's likelihood. "
    "Exit 0 when it converged, 1 at the step budget or time limit, 3 when the residuals or Jacobian became "
    "non-finite (or a family's mean left its range), 2 for bad input."
)
