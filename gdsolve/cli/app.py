"""The ``gdsolve`` command: parse options, call the library, render, exit.

Nothing here computes: the library does. This module only turns argv into
library calls, and results into a table or JSON; :mod:`gdsolve.cli.shell` turns
errors, signals and closed pipes into one ``error:`` line and an exit code
(:class:`~gdsolve.core.status.ExitStatus`).

torch and sympy are imported inside the commands, never at module level, so
``gdsolve --help`` and ``gdsolve --version`` stay fast.
"""

from __future__ import annotations

import enum
import sys
from collections.abc import Callable, Sequence
from typing import Annotated, Any, Optional

import typer

from .._version import __version__
from ..core.errors import OptionError
from ..core.settings import (
    DEFAULT_EPS,
    DEFAULT_HOP_SIZE,
    DEFAULT_MAX_ITER,
    DEFAULT_SEED,
    DEFAULT_VERIFY_TIMEOUT,
    DTYPES,
    LINE_SEARCHES,
    METHODS,
    SCHEDULES,
    TRACE_FORMATS,
)
from ..core.status import ExitStatus
from ..core.streams import Environment
from .batch import batch_command
from .fit import fit_command
from .grad import explain_command, grad_command
from .options import OUTPUT, DataOpt, DebugOpt, DropMissingOpt, JsonOpt, ShapeOpt
from .shell import (
    Exit,
    StopFlag,
    cannot_write,
    errors,
    fail,
    is_write_failure,
    scan_argv,
    stop_on_sigint,
)


def _exit_code_table(shown: Sequence[ExitStatus] = tuple(ExitStatus), converged: str = "converged") -> str:
    """The exit-code table for --help, from the one enum that defines the codes."""
    words = {
        ExitStatus.CONVERGED: converged,
        ExitStatus.NOT_CONVERGED: "not converged: stalled, max-iter or time limit",
        ExitStatus.USAGE: "bad input or usage",
        ExitStatus.DIVERGED: "diverged",
        ExitStatus.INTERNAL_ERROR: "internal error (a bug: rerun with --debug and report it)",
        ExitStatus.IO_ERROR: "output could not be written (stdout closed, disk full)",
        ExitStatus.INTERRUPTED: "interrupted (Ctrl-C)",
        ExitStatus.BROKEN_PIPE: "stdout closed by its reader (| head)",
    }
    return "[bold]Exit codes[/bold]\n" + "\n".join(f"  {int(code):<4} {words[code]}" for code in shown)


EXIT_CODES = _exit_code_table()
#: grad and explain solve nothing: no "not converged" or "diverged" for them.
SHOWING_EXIT_CODES = _exit_code_table(
    [c for c in ExitStatus if c not in (ExitStatus.NOT_CONVERGED, ExitStatus.DIVERGED)],
    converged="done (grad: also when autograd and sympy disagree; --json says agree)")

app = typer.Typer(
    name="gdsolve",
    help="Minimize or maximize a formula by gradient descent, every step in view.",
    add_completion=True,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
    context_settings={"help_option_names": ["--help", "-h"], "max_content_width": 100},
)


def _choices(name: str, values: Sequence[str]) -> Any:
    """A str Enum of the library's own choices, for typer's validation and --help."""
    return enum.Enum(name, {v: v for v in values}, type=str)


# Built from gdsolve.core.settings' tables (torch-free), so the CLI can never offer
# a choice the library does not know, and --help stays fast.
DType = _choices("DType", DTYPES)
Method = _choices("Method", tuple(METHODS))
LineSearch = _choices("LineSearch", LINE_SEARCHES)
Schedule = _choices("Schedule", SCHEDULES)
TraceFormat = _choices("TraceFormat", TRACE_FORMATS)
Device = _choices("Device", ("auto", "cpu", "cuda", "mps"))


def _method_help() -> str:
    parts = [f"[bold]{name}[/bold] (" + ", ".join(f"{k.replace('_', '-')} {v:g}" for k, v in defaults.items()) + ")"
             for name, defaults in METHODS.items()]
    return "; ".join(parts) + ". gd is the tutorial's rule; lbfgs searches with strong Wolfe"


def _version_callback(value: bool) -> None:
    if value:
        typer.echo(f"gdsolve {__version__}")
        raise typer.Exit(0)


@app.callback(epilog=EXIT_CODES)
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version_callback, is_eager=True, help="Print the version and exit.",
                           metavar="")
    ] = False,
) -> None:
    """Minimize or maximize a formula by gradient descent, every step in view.

    Start with: gdsolve minimize "(x-4)**2"
    """


# Help panels: what a reader scans for.
START, METHOD, STOP, SCHEDULE, BOUNDS, CHECK = (
    "Formula and start point", "Method and its options", "Stopping rules", "Learning-rate schedule",
    "Bounds", "Checking the answer",
)

# Output options shared by every solving command (one definition, like
# sqlite-utils' output decorator): table, quiet summary, JSON or a trace; --json
# and --debug are in cli_options, shared with grad and explain.
QuietOpt = Annotated[bool, typer.Option("--quiet", help="Print only the summary, not the table of steps.",
                                        rich_help_panel=OUTPUT, metavar="")]
EveryOpt = Annotated[Optional[int], typer.Option(
    "--every", metavar="N", rich_help_panel=OUTPUT,
    help="Also show every N-th step (default: about 40 rows over --max-iter).")]
TraceOpt = Annotated[Optional[str], typer.Option(
    "--trace", metavar="FILE", rich_help_panel=OUTPUT,
    help="Write every step to FILE as JSON Lines (- for stdout, streamed live).")]
TraceFormatOpt = Annotated[Optional[TraceFormat], typer.Option(
    "--trace-format", metavar="FORMAT", rich_help_panel=OUTPUT, show_default=False,
    help="jsonl (default) or csv (one column per variable).")]


#: The worked examples --help shows (tests run each of them).
EXAMPLES = {
    "minimize": [
        ('gdsolve minimize "(x-4)**2" --x0 0.7421', "the tutorial's run"),
        ('gdsolve minimize "(1-x)**2 + 100*(y-x^2)**2" --method lbfgs --json | jq .x', ""),
        ('gdsolve minimize "x**2 + 3*y**2" --trace - | gdsolve plot -o run.png', ""),
        ('gdsolve minimize "(x^2+y-11)^2+(x+y^2-7)^2" --method lbfgs --starts 64', "every minimum"),
        ('gdsolve minimize "(1-x)**2 + 100*(y-x^2)**2" --method lbfgs --verify', "exact answer by sympy"),
    ],
    "maximize": [
        ('gdsolve maximize "3 - (x-1)**2" --x0 0', "gradient ascent"),
        ('gdsolve maximize "x*y*(3-x-y)" --method lbfgs --x0 0.5,0.5 --json | jq .fun', ""),
        ('gdsolve maximize "-x**2 - 3*y**2" --trace - | gdsolve plot -o run.png', ""),
    ],
    "batch": [
        ("gdsolve batch problems.jsonl | jq -c '{id, x: .result.x}'", "one record per line"),
        ("gdsolve batch problems.jsonl --jobs 4 > results.jsonl", "four processes"),
        ("gdsolve batch problems.jsonl --dask tcp://scheduler:8786", "a Dask cluster"),
    ],
    "grad": [
        ('gdsolve grad "(1-x)**2 + 100*(y-x^2)**2" --hessian', "gradient and Hessian"),
        ('gdsolve grad "sqrt(3)*x*y + abs(x-1)" --at x=2,y=1', "autograd against sympy"),
        ('gdsolve grad "x*y^2" --json | jq -r .gradient.x', ""),
    ],
    "explain": [
        ('gdsolve explain "(x-4)**2" --at x=0.2121', "the tutorial's In [7]"),
        ('gdsolve explain "3*(x+2)**2"', "the tutorial's In [3]"),
        ('gdsolve explain "sin(x)*y" --dot > graph.dot', "then: dot -Tpng graph.dot -o graph.png"),
    ],
    "fit": [
        ('gdsolve fit "y ~ b1*(1-exp(-b2*x))" --data misra1a.csv --p0 b1=500,b2=1e-4', "NIST's Misra1a"),
        ('gdsolve fit "y ~ a*exp(-k*t)" --data decay.tsv --sigma sigma --json | jq .stderr', "weighted"),
        ('gdsolve fit "y ~ a*exp(-k*t)" --data decay.tsv --loss soft_l1 --f-scale 0.1 --residuals res.csv',
         "robust, residuals"),
    ],
    "plot": [
        ('gdsolve minimize "x**2 + 3*y**2" --trace - | gdsolve plot -o run.png', ""),
        ("gdsolve plot a.jsonl b.jsonl -o compare.svg", "several runs, one legend"),
        ("gdsolve plot run.jsonl", "in the terminal"),
    ],
}


def _epilog(command: str) -> str:
    lines = [f"  {cmd}" + (f"   # {note}" if note else "") for cmd, note in EXAMPLES[command]]
    codes = SHOWING_EXIT_CODES if command in ("grad", "explain") else EXIT_CODES
    return "[bold]Examples[/bold]\n" + "\n".join(lines) + "\n\n" + codes


def _solve_command(sense: str) -> Callable[..., None]:
    """Build the ``minimize`` or ``maximize`` command; both share every option."""

    def command(
        expression: Annotated[str, typer.Argument(metavar="EXPRESSION", show_default=False,
                                                  help="The formula, e.g. \"(x-4)**2\"; ^ also means power.")],
        x0: Annotated[Optional[str], typer.Option("--x0", metavar="x=1,y=2", rich_help_panel=START,
                                                  help="Start point (or 1 for one variable). Default: random, from --seed.")] = None,
        seed: Annotated[int, typer.Option("--seed", metavar="N", rich_help_panel=START,
                                          help="Seed of the random start point.")] = DEFAULT_SEED,
        vars_: Annotated[Optional[str], typer.Option("--vars", metavar="y,x", rich_help_panel=START,
                                                     help="Variable order (default: natural order x1, x2, x10).")] = None,
        param: Annotated[Optional[list[str]], typer.Option("--param", metavar="a=2", rich_help_panel=START,
                                                           help="Substitute a constant for a name (repeatable).")] = None,
        starts: Annotated[Optional[int], typer.Option("--starts", metavar="N", rich_help_panel=START, show_default=False,
                                                      help="Run N starts in one batch (Sobol points in --bounds, or in "
                                                           "-10..10); report the best and the distinct minima.")] = None,
        device: Annotated[Optional[Device], typer.Option("--device", metavar="NAME", rich_help_panel=START,
                                                         show_default=False,
                                                         help="auto, cpu (default), cuda or mps: where a batch runs.")] = None,
        shape: ShapeOpt = None,
        data: DataOpt = None,
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
        json_: JsonOpt = False,
        quiet: QuietOpt = False,
        every: EveryOpt = None,
        trace: TraceOpt = None,
        trace_format: TraceFormatOpt = None,
        trace_rows: Annotated[Optional[int], typer.Option("--trace-rows", metavar="K", rich_help_panel=OUTPUT,
                                                          show_default=False,
                                                          help="A batch's trace: K rows besides the best (other minima "
                                                               "first).")] = None,
        verify: Annotated[bool, typer.Option("--verify", rich_help_panel=CHECK, metavar="",
                                             help="Also ask sympy for the exact stationary points (in a separate "
                                                  "process, killed after --verify-timeout) and compare.")] = False,
        verify_timeout: Annotated[Optional[float], typer.Option(
            "--verify-timeout", metavar="SECONDS", rich_help_panel=CHECK, show_default=False,
            help=f"Seconds sympy may take for --verify (default {DEFAULT_VERIFY_TIMEOUT:g}).")] = None,
        debug: DebugOpt = False,
    ) -> None:
        settings = {
            "method": method.value, "lr": lr, "line_search": line_search.value, "eps": eps, "gtol": gtol, "ftol": ftol,
            "max_iter": max_iter, "time_limit": time_limit, "target": target, "schedule": schedule.value,
            "gamma": gamma, "step_size": step_size, "t_max": t_max, "dtype": dtype.value, "seed": seed,
            "options": {"momentum": momentum, "beta1": beta1, "beta2": beta2, "weight_decay": weight_decay,
                        "alpha": alpha, "history_size": history_size},
        }
        with errors(debug):
            from .outputs import OutputOptions

            outputs = OutputOptions(json=json_, quiet=quiet, every=every, trace=trace,
                                    trace_format=None if trace_format is None else trace_format.value)
            code = _solve(sense, expression, x0=x0, vars_=vars_, param=param or [], bounds=bounds or [],
                          settings=settings, outputs=outputs, starts=starts,
                          device=None if device is None else device.value, trace_rows=trace_rows,
                          compile_=compile_, hops=hops, hop_size=hop_size, verify=verify,
                          verify_timeout=verify_timeout, shape=shape or [], data=data, drop_missing=drop_missing)
        raise Exit(code)

    command.__doc__ = (
        f"{sense.capitalize()} EXPRESSION by gradient descent: x <- x {'-' if sense == 'minimize' else '+'} lr * grad f(x).\n\n"
        "Converged (exit 0) when a stopping rule fires at a point where the gradient is small for the "
        "problem's scale; stalled (exit 1) when the steps fell below --eps but the gradient is not small; "
        "max-iter or time limit (exit 1); diverged (exit 3) when f or its gradient becomes non-finite or f "
        "keeps getting worse."
    )
    return command


app.command("minimize", epilog=_epilog("minimize"))(_solve_command("minimize"))
app.command("maximize", epilog=_epilog("maximize"))(_solve_command("maximize"))


def _solve(sense: str, expression: str, *, x0: str | None, vars_: str | None, param: Sequence[str],
           bounds: Sequence[str], settings: dict[str, Any], outputs: Any, starts: int | None = None,
           device: str | None = None, trace_rows: int | None = None, compile_: bool = False, hops: int = 0,
           hop_size: float | None = None, verify: bool = False, verify_timeout: float | None = None,
           shape: Sequence[str] = (), data: str | None = None, drop_missing: bool = False) -> int:
    from ..api.solve import prepare, run, verifier
    from .cmdline import parse_bounds, parse_inputs, parse_list
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
                      shape=list(shape) or None, data=data, drop_missing=drop_missing,
                      **({} if hop_size is None else {"hop_size": hop_size}), **settings)
    out = Outputs(descent, outputs, trace_rows=trace_rows)
    verification = verifier(descent, verify, verify_timeout)  # sympy starts solving while torch descends
    try:
        with stop_on_sigint(descent):
            result = run(descent, out.callback, catch_interrupt=True, verification=verification)
        out.finish(result)
    except BaseException:
        out.abandon()
        raise
    return int(result.status.exit_status)


app.command("batch", epilog=_epilog("batch"))(batch_command)
app.command("grad", epilog=_epilog("grad"))(grad_command)
app.command("explain", epilog=_epilog("explain"))(explain_command)
app.command("fit", epilog=_epilog("fit"))(fit_command)


@app.command("plot", epilog=_epilog("plot"))
def plot_command(
    traces: Annotated[Optional[list[str]], typer.Argument(metavar="[TRACE]...", show_default=False,
                                                          help="JSON Lines trace files; - (or none) reads stdin.")] = None,
    output: Annotated[Optional[str], typer.Option("--output", "-o", metavar="FILE",
                                                  help="Write FILE (.png, .svg, .pdf); without it, draw in the terminal.")] = None,
    width: Annotated[Optional[int], typer.Option("--width", metavar="N", show_default=False,
                                                 help="Pixels with -o (16 to 8192, default 900); characters in the terminal "
                                                      "(up to 1000, default: its width).")] = None,
    height: Annotated[Optional[int], typer.Option("--height", metavar="N", show_default=False,
                                                  help="Pixels with -o (16 to 8192, default 450); lines in the terminal "
                                                       "(up to 1000, default: its height).")] = None,
    dpi: Annotated[Optional[int], typer.Option("--dpi", metavar="N", show_default=False,
                                               help="Resolution of -o files, 10 to 1200 (default 100).")] = None,
    title: Annotated[Optional[str], typer.Option("--title", metavar="TEXT", help="Figure title (default: the expression).")] = None,
    debug: DebugOpt = False,
) -> None:
    """Draw traces: f by iteration, and the path on the contour of f (two variables) or on f(x) (one).

    Ctrl-C while a trace is still coming in draws what has arrived (exit 130).
    """
    with errors(debug):
        from ..io.trace import read_traces
        from ..present.plot import check_size, draw_file, draw_terminal

        check_size(output, width, height, dpi)
        if output is None and not sys.stdout.isatty():
            raise OptionError("stdout is not a terminal; write a picture with -o run.png (or .svg)")
        interrupt = StopFlag()  # the first Ctrl-C is remembered; reading goes on to the end of what the writer sends
        with stop_on_sigint(interrupt):
            loaded = read_traces(traces or ["-"], sys.stdin)
        if output is not None:
            draw_file(loaded, output, width=width or 900, height=height or 450, dpi=dpi or 100, title=title)
            sys.stderr.write(f"wrote {output}\n")
        else:
            sys.stdout.write(draw_terminal(loaded, width=width, height=height) + "\n")
            sys.stdout.flush()
    raise Exit(int(ExitStatus.INTERRUPTED) if interrupt.stop_requested else 0)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``gdsolve`` console script; returns the exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    command = typer.main.get_command(app)
    env = Environment.current()
    before = env.stdout_stat()
    try:
        args = scan_argv(command, args, OptionError)
        # standalone_mode=False: click returns an Exit's code instead of
        # calling sys.exit, and lets usage errors reach us for one-line output.
        rv = command.main(args=args, prog_name="gdsolve", standalone_mode=False)
    except Exit as exc:
        code = int(exc.exit_code)
    except OptionError as exc:  # from scan_argv
        return fail(exc.cli_message())
    except BrokenPipeError:
        env.silence_stdout()
        return int(ExitStatus.BROKEN_PIPE)
    except OSError as exc:  # --help or --version could not be written (stdout closed, disk full)
        if not is_write_failure(exc):
            raise
        return cannot_write(exc)
    except SystemExit as exc:
        # A closed pipe met while typer itself was printing (--help, --version):
        # rich's handler and click's both end with status 1, which a script
        # would read as "not converged". Each leaves a mark on stdout.
        if env.stdout_went_quiet(before) or type(sys.stdout).__name__ == "PacifyFlushWrapper":
            env.silence_stdout()
            return int(ExitStatus.BROKEN_PIPE)
        raise exc
    except (typer.Abort, KeyboardInterrupt):
        return fail("interrupted", ExitStatus.INTERRUPTED)
    except Exception as exc:
        # click's usage errors (unknown option, bad value, missing argument).
        # Matched by shape, not class: typer has shipped click's classes and
        # its own vendored copies under different module paths.
        format_message = getattr(exc, "format_message", None)
        if not callable(format_message) or not isinstance(getattr(exc, "exit_code", None), int):
            raise
        if type(exc).__name__ == "NoArgsIsHelpError":
            # Building the error already printed the (rich) help; plain help comes back as its message.
            text = format_message()
            if text:
                sys.stdout.write(text + "\n")
            return 0
        ctx = getattr(exc, "ctx", None)
        path = getattr(ctx, "command_path", "") if ctx is not None else ""
        hint = f" (see '{path} --help')" if path else ""
        # some typer versions check a choice through pydantic, whose "Value error, " prefix says nothing to a user
        message = format_message().replace(": Value error, ", ": ", 1)
        return fail(f"{message}{hint}")
    else:
        code = rv if isinstance(rv, int) else 0
    try:
        sys.stdout.flush()  # a closed pipe or a full disk is found here, not at interpreter exit
    except BrokenPipeError:
        env.silence_stdout()
        return int(ExitStatus.BROKEN_PIPE)
    except OSError as exc:
        if not is_write_failure(exc):
            raise
        return cannot_write(exc)
    return code



