"""``gdsolve minimize`` and ``gdsolve maximize``: parse the options, run, hand the steps to the outputs.

One start or many (``--starts``, a sweep): :func:`gdsolve.api.solve.prepare`
decides, :class:`gdsolve.cli.outputs.Outputs` draws either. torch and sympy
are imported inside the command, never at module level, so ``--help`` stays fast.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Annotated, Any, Optional

import typer

from ..core.settings import (
    DEFAULT_EPS,
    DEFAULT_HOP_SIZE,
    DEFAULT_MAX_ITER,
    DEFAULT_SEED,
    DEFAULT_VERIFY_TIMEOUT,
    DTYPES,
    LINE_SEARCHES,
    METHODS,
    SCALES,
    SCHEDULES,
)
from .options import (
    OUTPUT,
    OUTPUT_PANEL,
    DataOpt,
    DeviceOpt,
    DropMissingOpt,
    MatrixOpt,
    ParamOpt,
    ShapeOpt,
    VarsOpt,
    choices,
    command,
    reworded,
)
from .shell import stop_on_sigint

# Built from gdsolve.core.settings' tables (torch-free), so the CLI can never offer
# a choice the library does not know, and --help stays fast.
DType = choices("DType", DTYPES)
Method = choices("Method", tuple(METHODS))
LineSearch = choices("LineSearch", LINE_SEARCHES)
Schedule = choices("Schedule", SCHEDULES)
Scale = choices("Scale", SCALES)


def _method_help() -> str:
    parts = [f"[bold]{name}[/bold] (" + ", ".join(f"{k.replace('_', '-')} {v:g}" for k, v in defaults.items()) + ")"
             for name, defaults in METHODS.items()]
    return "; ".join(parts) + ". gd is the tutorial's rule; lbfgs searches with strong Wolfe"


# Help panels: what a reader scans for.
START, METHOD, STOP, SCHEDULE, BOUNDS, CHECK = (
    "Formula and start point", "Method and its options", "Stopping rules", "Learning-rate schedule",
    "Bounds", "Checking the answer",
)

def solve_command(sense: str) -> Callable[..., None]:
    """Build the ``minimize`` or ``maximize`` command; both share every option."""

    def solve(
        expression: Annotated[str, typer.Argument(metavar="EXPRESSION", show_default=False,
                                                  help="The formula, e.g. \"(x-4)**2\"; ^ also means power.")],
        x0: Annotated[Optional[str], typer.Option("--x0", metavar="x=1,y=2", rich_help_panel=START,
                                                  help="Start point; one value (0) starts every variable there; values may be constant "
                                                       "expressions (pi/2). Default: random, from --seed.")] = None,
        seed: Annotated[int, typer.Option("--seed", metavar="N", rich_help_panel=START,
                                          help="Seed of the random start point.")] = DEFAULT_SEED,
        vars_: reworded(VarsOpt, panel=START) = None,  # type: ignore[valid-type]
        param: reworded(ParamOpt, panel=START) = None,  # type: ignore[valid-type]
        starts: Annotated[Optional[int], typer.Option("--starts", metavar="N", rich_help_panel=START, show_default=False,
                                                      help="Run N starts in one batch (Sobol points in --bounds, or in "
                                                           "-10..10); report the best and the distinct minima.")] = None,
        device: reworded(DeviceOpt, panel=START,  # type: ignore[valid-type]
                         help="auto, cpu (default), cuda or mps: where a batch runs.") = None,
        shape: ShapeOpt = None,
        data: DataOpt = None,
        matrix: MatrixOpt = None,
        drop_missing: DropMissingOpt = False,
        hops: Annotated[int, typer.Option("--hops", metavar="K", rich_help_panel=START,
                                          help="Basin hopping: K times, perturb each start's best point, descend, "
                                               "keep it if f is lower.")] = 0,
        hop_size: Annotated[Optional[float], typer.Option("--hop-size", metavar="F", rich_help_panel=START,
                                                          show_default=False,
                                                          help="A hop's size, as a fraction of each variable's box "
                                                               f"(default {DEFAULT_HOP_SIZE:g}).")] = None,
        compile_: Annotated[bool, typer.Option("--compile", rich_help_panel=START, metavar="",
                                               help="torch.compile f and its gradient (large batches; the compile "
                                                    "time is reported apart).")] = False,
        method: Annotated[Method, typer.Option("--method", metavar="NAME", rich_help_panel=METHOD,
                                               help=f"Update rule, with its defaults: {_method_help()}.")] = Method.gd,
        lr: Annotated[Optional[str], typer.Option("--lr", metavar="RATE", rich_help_panel=METHOD, show_default=False,
                                                  help="Learning rate (default: the method's; 0.1 for gd). "
                                                       "A comma list (0.1,0.01) sweeps it.")] = None,
        momentum: Annotated[Optional[str], typer.Option("--momentum", metavar="M", rich_help_panel=METHOD,
                                                          help="momentum, nesterov, rmsprop: momentum factor, in [0, 1).")] = None,
        beta1: Annotated[Optional[str], typer.Option("--beta1", metavar="B", rich_help_panel=METHOD,
                                                       help="adam, adamw: first-moment decay, in [0, 1).")] = None,
        beta2: Annotated[Optional[str], typer.Option("--beta2", metavar="B", rich_help_panel=METHOD,
                                                       help="adam, adamw: second-moment decay, in [0, 1).")] = None,
        weight_decay: Annotated[Optional[str], typer.Option("--weight-decay", metavar="W", rich_help_panel=METHOD,
                                                              help="adam, adamw, rmsprop, adagrad: weight decay, >= 0.")] = None,
        alpha: Annotated[Optional[str], typer.Option("--alpha", metavar="A", rich_help_panel=METHOD,
                                                       help="rmsprop: smoothing constant, in [0, 1).")] = None,
        history_size: Annotated[Optional[str], typer.Option("--history-size", metavar="N", rich_help_panel=METHOD,
                                                            help="lbfgs: number of stored updates.")] = None,
        line_search: Annotated[LineSearch, typer.Option("--line-search", metavar="NAME", rich_help_panel=METHOD,
                                                        help="none, or armijo (gd, momentum); lbfgs always uses strong_wolfe.")
                               ] = LineSearch.none,
        scale: Annotated[Optional[Scale], typer.Option("--scale", metavar="KIND", rich_help_panel=METHOD,
                                                       show_default=False,
                                                       help="lbfgs: auto (its default) iterates in variables rescaled "
                                                            "by the Hessian's diagonal at the start when their "
                                                            "curvatures differ by more than 1000x; none: never. "
                                                            "Other methods never rescale.")] = None,
        dtype: Annotated[DType, typer.Option("--dtype", metavar="TYPE", rich_help_panel=METHOD,
                                             help="Floating-point precision: float64 or float32.")] = DType.float64,
        eps: Annotated[float, typer.Option("--eps", metavar="TOL", rich_help_panel=STOP,
                                           help="Stop when the step ||x_new - x_old|| < eps (0: off).")] = DEFAULT_EPS,
        gtol: Annotated[Optional[float], typer.Option("--gtol", metavar="TOL", rich_help_panel=STOP,
                                                      help="Stop when ||grad f|| < gtol.")] = None,
        ftol: Annotated[Optional[float], typer.Option("--ftol", metavar="TOL", rich_help_panel=STOP,
                                                      help="Stop when |f_new - f_old| <= ftol * max(|f_new|, |f_old|, 1).")] = None,
        max_iter: Annotated[int, typer.Option("--max-iter", metavar="N", rich_help_panel=STOP,
                                              help="Stop after this many updates (exit 1).")] = DEFAULT_MAX_ITER,
        time_limit: Annotated[Optional[float], typer.Option("--time-limit", metavar="SECONDS", rich_help_panel=STOP,
                                                            help="Stop after this many seconds (exit 1).")] = None,
        target: Annotated[Optional[float], typer.Option("--target", metavar="F", rich_help_panel=STOP,
                                                        help="Stop once f <= target (maximize: f >= target).")] = None,
        schedule: Annotated[Schedule, typer.Option("--schedule", metavar="NAME", rich_help_panel=SCHEDULE,
                                                   help="constant, exponential, step or cosine (torch.optim.lr_scheduler).")
                            ] = Schedule.constant,
        gamma: Annotated[Optional[float], typer.Option("--gamma", metavar="G", rich_help_panel=SCHEDULE,
                                                       help="exponential (default 0.99), step (default 0.5): decay factor.")] = None,
        step_size: Annotated[Optional[int], typer.Option("--step-size", metavar="N", rich_help_panel=SCHEDULE,
                                                         help="step: iterations between decays (default 100).")] = None,
        t_max: Annotated[Optional[int], typer.Option("--t-max", metavar="N", rich_help_panel=SCHEDULE,
                                                     help="cosine: period in iterations (default --max-iter).")] = None,
        bounds: Annotated[Optional[list[str]], typer.Option("--bounds", metavar="x=0:5", rich_help_panel=BOUNDS,
                                                            help="Box constraint (repeatable; open ends: x=:5, x=0:).")] = None,
        outputs: Any = None,
        trace_rows: Annotated[Optional[int], typer.Option("--trace-rows", metavar="K", rich_help_panel=OUTPUT_PANEL,
                                                          show_default=False,
                                                          help="A batch's trace: K rows besides the best (other minima "
                                                               "first).")] = None,
        verify: Annotated[bool, typer.Option("--verify", rich_help_panel=CHECK, metavar="",
                                             help="Also ask sympy for the exact stationary points (in a separate "
                                                  "process, killed after --verify-timeout) and compare.")] = False,
        verify_timeout: Annotated[Optional[float], typer.Option(
            "--verify-timeout", metavar="SECONDS", rich_help_panel=CHECK, show_default=False,
            help=f"Seconds sympy may take for --verify (default {DEFAULT_VERIFY_TIMEOUT:g}).")] = None,
        stderr: Annotated[bool, typer.Option("--stderr", rich_help_panel=CHECK, metavar="",
                                             help="Standard errors at the point found: the inverse Hessian as "
                                                  "covariance, z, p-values, 95% intervals, correlations. Valid "
                                                  "when EXPRESSION is a negative log-likelihood (maximize: a "
                                                  "log-likelihood), at a minimum, with no variable on a bound; "
                                                  "otherwise stderr_reason says why there are none.")] = False,
    ) -> int:
        settings = {
            "method": method.value, "lr": lr, "line_search": line_search.value, "eps": eps, "gtol": gtol, "ftol": ftol,
            "max_iter": max_iter, "time_limit": time_limit, "target": target, "schedule": schedule.value,
            "gamma": gamma, "step_size": step_size, "t_max": t_max, "dtype": dtype.value, "seed": seed,
            "scale": None if scale is None else scale.value,
            "options": {"momentum": momentum, "beta1": beta1, "beta2": beta2, "weight_decay": weight_decay,
                        "alpha": alpha, "history_size": history_size},
        }
        return _solve(sense, expression, x0=x0, vars_=vars_, param=param or [], bounds=bounds or [],
                      settings=settings, outputs=outputs, starts=starts,
                      device=None if device is None else device.value, trace_rows=trace_rows,
                      compile_=compile_, hops=hops, hop_size=hop_size, verify=verify,
                      verify_timeout=verify_timeout, shape=shape or [], data=data, matrix=matrix or [],
                      drop_missing=drop_missing,
                      stderr=stderr)

    solve.__doc__ = (
        f"{sense.capitalize()} EXPRESSION by gradient descent: x <- x {'-' if sense == 'minimize' else '+'} lr * grad f(x).\n\n"
        "Converged (exit 0) when a success rule fires: --gtol, --target, or --eps/--ftol at a point that passes "
        "the stationarity check; stalled (exit 1) when --eps or --ftol fired but the gradient is not small for "
        "the problem's scale; "
        "max-iter or time limit (exit 1); diverged (exit 3) when f or its gradient becomes non-finite or f "
        "keeps getting worse."
    )
    return command(OUTPUT)(solve)


def _solve(sense: str, expression: str, *, x0: str | None, vars_: str | None, param: Sequence[str],
           bounds: Sequence[str], settings: dict[str, Any], outputs: Any, starts: int | None = None,
           device: str | None = None, trace_rows: int | None = None, compile_: bool = False, hops: int = 0,
           hop_size: float | None = None, verify: bool = False, verify_timeout: float | None = None,
           shape: Sequence[str] = (), data: str | None = None, matrix: Sequence[str] = (),
           drop_missing: bool = False, stderr: bool = False) -> int:
    from ..api.solve import prepare, run, verifier
    from .cmdline import data_option, parse_bounds, parse_inputs, parse_list
    from .outputs import Outputs

    # Numbers or comma lists (a sweep) on the rate and the method options.
    if settings["lr"] is not None:
        settings["lr"] = parse_list(settings["lr"], "--lr")
    options = settings["options"]
    for name, text in options.items():
        if text is not None:
            options[name] = parse_list(text, "--" + name.replace("_", "-"), integer=name == "history_size")

    variables, params, start = parse_inputs(vars_, param, x0, "--x0")
    descent = prepare(expression, sense=sense, x0=start, params=params, variables=variables,
                      bounds=parse_bounds(bounds), starts=starts, device=device, compile=compile_, hops=hops,
                      shape=list(shape) or None, data=data_option(data, matrix, drop_missing), drop_missing=drop_missing,
                      **({} if hop_size is None else {"hop_size": hop_size}), **settings)
    # Every refusal comes before a file is touched: --verify's options first, then the outputs (which
    # create the trace file); sympy starts solving while torch descends.
    verification = verifier(descent, verify, verify_timeout)
    try:
        out = Outputs(descent, outputs, trace_rows=trace_rows)
    except BaseException:
        if verification is not None:
            verification.cancel()
        raise
    try:
        with stop_on_sigint(descent):
            result = run(descent, out.callback, catch_interrupt=True, verification=verification, stderr=stderr)
        out.finish(result)
    except BaseException:
        out.abandon()
        raise
    return int(result.status.exit_status)
