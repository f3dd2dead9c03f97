"""The ``gdsolve`` command: parse options, call the library, render, exit.

Nothing here computes: the library does. This module only turns argv into
library calls, library errors into one ``error:`` line and an exit code
(:class:`~gdsolve.status.ExitStatus`), and results into a table or JSON.

torch and sympy are imported inside the commands, never at module level, so
``gdsolve --help`` and ``gdsolve --version`` stay fast.
"""

from __future__ import annotations

import enum
import re
import sys
import traceback
import warnings
from collections.abc import Callable, Sequence
from typing import Annotated, Any, Optional

import typer

from ._version import __version__
from .errors import GdsolveError, OptionError
from .settings import DTYPES, LINE_SEARCHES, METHODS, SCHEDULES, TRACE_FORMATS
from .status import ExitStatus

app = typer.Typer(
    name="gdsolve",
    help="Minimize or maximize a formula by gradient descent, every step in view.",
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["--help", "-h"]},
)


def _choices(name: str, values: Sequence[str]) -> Any:
    """A str Enum of the library's own choices, for typer's validation and --help."""
    return enum.Enum(name, {v: v for v in values}, type=str)


# Built from gdsolve.settings' tables (torch-free), so the CLI can never offer
# a choice the library does not know, and --help stays fast.
DType = _choices("DType", DTYPES)
Method = _choices("Method", tuple(METHODS))
LineSearch = _choices("LineSearch", LINE_SEARCHES)
Schedule = _choices("Schedule", SCHEDULES)
TraceFormat = _choices("TraceFormat", TRACE_FORMATS)


def _method_help() -> str:
    parts = [f"{name} (" + ", ".join(f"{k.replace('_', '-')} {v:g}" for k, v in defaults.items()) + ")"
             for name, defaults in METHODS.items()]
    return "; ".join(parts) + ". gd is the tutorial's rule; lbfgs uses a strong Wolfe line search"


METHOD_HELP = _method_help()


def _version_callback(value: bool) -> None:
    if value:
        typer.echo(f"gdsolve {__version__}")
        raise typer.Exit(0)


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version_callback, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """Minimize or maximize a formula by gradient descent, every step in view.

    Exit codes: 0 converged, 1 stopped at max-iter without converging, 2 bad
    input or usage, 3 diverged, 70 internal error, 130 interrupted.
    """


def fail(message: str, code: ExitStatus = ExitStatus.USAGE) -> typer.Exit:
    """Print one ``error:`` line on stderr and return the Exit to raise."""
    sys.stderr.write(f"error: {' '.join(message.split())}\n")
    sys.stderr.flush()
    return typer.Exit(int(code))


# Output options shared by every solving command (one definition, like
# sqlite-utils' output decorator): table, quiet summary or JSON.
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout and nothing else.")]
QuietOpt = Annotated[bool, typer.Option("--quiet", help="Print only the summary, not the table of steps.")]
EveryOpt = Annotated[
    Optional[int], typer.Option("--every", min=1, help="Show every N-th step after the first 10 (default: about 50 rows).")
]
DebugOpt = Annotated[bool, typer.Option("--debug", help="Show Python tracebacks and warnings.")]
TraceOpt = Annotated[
    Optional[str], typer.Option("--trace", help="Write every step to FILE as JSON Lines (- for stdout, streamed live).")
]
TraceFormatOpt = Annotated[TraceFormat, typer.Option("--trace-format", help="Trace format: jsonl, or csv (one column per variable).")]


def _solve_command(sense: str) -> Callable[..., None]:
    """Build the ``minimize`` or ``maximize`` command; both share every option."""

    def command(
        expression: Annotated[str, typer.Argument(help="The formula, e.g. \"(x-4)**2\"; ^ also means power.", show_default=False)],
        x0: Annotated[Optional[str], typer.Option("--x0", help="Start point: x=1,y=2 (or 1 for one variable). Default: random, from --seed.")] = None,
        method: Annotated[Method, typer.Option("--method", help=f"Update rule and its defaults: {METHOD_HELP}.")] = Method.gd,
        lr: Annotated[Optional[float], typer.Option("--lr", help="Learning rate (default: the method's, 0.1 for gd).", show_default=False)] = None,
        momentum: Annotated[Optional[float], typer.Option("--momentum", help="momentum, nesterov, rmsprop: momentum factor.")] = None,
        beta1: Annotated[Optional[float], typer.Option("--beta1", help="adam, adamw: first-moment decay.")] = None,
        beta2: Annotated[Optional[float], typer.Option("--beta2", help="adam, adamw: second-moment decay.")] = None,
        weight_decay: Annotated[Optional[float], typer.Option("--weight-decay", help="adam, adamw, rmsprop, adagrad: weight decay.")] = None,
        alpha: Annotated[Optional[float], typer.Option("--alpha", help="rmsprop: smoothing constant.")] = None,
        history_size: Annotated[Optional[int], typer.Option("--history-size", help="lbfgs: number of stored updates.")] = None,
        line_search: Annotated[LineSearch, typer.Option("--line-search", help="armijo (gd, momentum); lbfgs: strong_wolfe.")] = LineSearch.none,
        eps: Annotated[float, typer.Option("--eps", help="Stop when the step norm ||x_new - x_old|| < eps (0 disables).")] = 1e-6,
        gtol: Annotated[Optional[float], typer.Option("--gtol", help="Stop when ||grad f|| < gtol.")] = None,
        ftol: Annotated[Optional[float], typer.Option("--ftol", help="Stop when |f_new - f_old| <= ftol * max(|f_new|, |f_old|, 1).")] = None,
        max_iter: Annotated[int, typer.Option("--max-iter", help="Stop after this many updates.")] = 100,
        time_limit: Annotated[Optional[float], typer.Option("--time-limit", help="Stop after this many seconds (exit 1).")] = None,
        target: Annotated[Optional[float], typer.Option("--target", help="Stop once f <= target (maximize: f >= target).")] = None,
        schedule: Annotated[Schedule, typer.Option("--schedule", help="Learning-rate schedule (torch.optim.lr_scheduler).")] = Schedule.constant,
        gamma: Annotated[Optional[float], typer.Option("--gamma", help="exponential (default 0.99), step (default 0.5): decay factor.")] = None,
        step_size: Annotated[Optional[int], typer.Option("--step-size", help="step: iterations between decays (default 100).")] = None,
        t_max: Annotated[Optional[int], typer.Option("--t-max", help="cosine: period in iterations (default --max-iter).")] = None,
        bounds: Annotated[Optional[list[str]], typer.Option("--bounds", help="Box constraint x=0:5 (repeatable; open ends: x=:5, x=0:).")] = None,
        dtype: Annotated[DType, typer.Option("--dtype", help="Floating-point precision.")] = DType.float64,
        seed: Annotated[int, typer.Option("--seed", help="Seed of the random start point.")] = 0,
        vars_: Annotated[Optional[str], typer.Option("--vars", help="Variable order, comma separated (default: natural order x1, x2, x10).")] = None,
        param: Annotated[Optional[list[str]], typer.Option("--param", help="Substitute a constant: a=2 (repeatable).")] = None,
        json_: JsonOpt = False,
        quiet: QuietOpt = False,
        every: EveryOpt = None,
        trace: TraceOpt = None,
        trace_format: TraceFormatOpt = TraceFormat.jsonl,
        debug: DebugOpt = False,
    ) -> None:
        settings = {
            "method": method.value, "lr": lr, "line_search": line_search.value, "eps": eps, "gtol": gtol, "ftol": ftol,
            "max_iter": max_iter, "time_limit": time_limit, "target": target, "schedule": schedule.value,
            "gamma": gamma, "step_size": step_size, "t_max": t_max, "dtype": dtype.value, "seed": seed,
            "options": {"momentum": momentum, "beta1": beta1, "beta2": beta2, "weight_decay": weight_decay,
                        "alpha": alpha, "history_size": history_size},
        }
        from .outputs import OutputOptions

        outputs = OutputOptions(json=json_, quiet=quiet, every=every, trace=trace, trace_format=trace_format.value)
        _solve(sense, expression, x0=x0, vars_=vars_, param=param or [], bounds=bounds or [], settings=settings,
               outputs=outputs, debug=debug)

    command.__doc__ = (
        f"{sense.capitalize()} EXPRESSION by gradient descent: x <- x {'-' if sense == 'minimize' else '+'} lr * grad f(x).\n\n"
        "Stops when the step norm falls below --eps (converged, exit 0) or after --max-iter steps "
        "(exit 1); a non-finite value ends the run as diverged (exit 3)."
    )
    return command


app.command("minimize")(_solve_command("minimize"))
app.command("maximize")(_solve_command("maximize"))


@app.command("plot")
def plot_command(
    traces: Annotated[Optional[list[str]], typer.Argument(help="JSON Lines trace files; - (or none) reads stdin.", show_default=False)] = None,
    output: Annotated[
        Optional[str], typer.Option("--output", "-o", help="Write FILE (.png, .svg, .pdf); without it, draw in the terminal.")
    ] = None,
    width: Annotated[
        Optional[int], typer.Option("--width", min=1, help="Pixels with -o (default 900); characters in the terminal (default: its width).")
    ] = None,
    height: Annotated[
        Optional[int], typer.Option("--height", min=1, help="Pixels with -o (default 450); lines in the terminal (default: its height).")
    ] = None,
    dpi: Annotated[int, typer.Option("--dpi", min=10, help="Resolution of -o files.")] = 100,
    title: Annotated[Optional[str], typer.Option("--title", help="Figure title (default: the expression).")] = None,
    debug: DebugOpt = False,
) -> None:
    """Draw traces: f by iteration, and the path on the contour of f (two variables) or on f(x) (one).

    gdsolve minimize "(1-x)**2 + 100*(y-x^2)**2" --lr 0.001 --max-iter 5000 --trace - | gdsolve plot -o run.png
    """
    with _errors(debug):
        from .plot import draw_file, draw_terminal
        from .trace import read_trace

        names = traces or ["-"]
        if names.count("-") > 1:
            raise OptionError("stdin (-) can be read only once")
        loaded = []
        for name in names:
            if name == "-":
                if sys.stdin is None or sys.stdin.isatty():
                    raise OptionError("no trace given: name a trace file, or pipe one in "
                                      "(gdsolve minimize ... --trace - | gdsolve plot -o run.png)")
                loaded.append(read_trace(sys.stdin, "stdin"))
                continue
            try:
                with open(name, encoding="utf-8") as fh:
                    loaded.append(read_trace(fh, name))
            except OSError as exc:
                raise OptionError(f"cannot read {name}: {exc.strerror}") from None
        if output is not None:
            draw_file(loaded, output, width=width or 900, height=height or 450, dpi=dpi, title=title)
            sys.stderr.write(f"wrote {output}\n")
        elif not sys.stdout.isatty():
            raise OptionError("stdout is not a terminal; write a picture with -o run.png (or .svg)")
        else:
            sys.stdout.write(draw_terminal(loaded, width=width, height=height) + "\n")


def _solve(sense: str, expression: str, *, x0: str | None, vars_: str | None, param: Sequence[str], bounds: Sequence[str],
           settings: dict[str, Any], outputs: Any, debug: bool) -> None:
    with _errors(debug):
        from .api import prepare, run
        from .outputs import Outputs
        from .settings import parse_assignments, parse_bounds

        start = parse_assignments(x0, "--x0") if x0 is not None else None
        params: dict[str, float] = {}
        for p in param:
            parsed = parse_assignments(p, "--param")
            if not isinstance(parsed, dict):
                raise OptionError(f"--param {p!r} must be name=value, e.g. --param a=2")
            params.update(parsed)
        variables = [v.strip() for v in vars_.split(",")] if vars_ is not None else None
        if start is not None and isinstance(start, list) and len(start) == 1:
            start = start[0]
        descent = prepare(expression, sense=sense, x0=start, params=params, variables=variables,
                          bounds=parse_bounds(bounds), **settings)
        out = Outputs(descent, outputs)
        try:
            with _stop_on_sigint(descent):
                result = run(descent, out.callback, catch_interrupt=True)
            out.finish(result)
        except BaseException:
            out.abandon()
            raise
    raise typer.Exit(int(result.status.exit_status))


class _stop_on_sigint:
    """Ctrl-C asks the run to stop after the current iteration (so the trace,
    the JSON and the summary still come out whole); a second Ctrl-C stops at once."""

    def __init__(self, descent: Any) -> None:
        self.descent = descent
        self.previous: Any = None

    def _handler(self, signum: int, frame: Any) -> None:
        if self.descent.stop_requested:
            raise KeyboardInterrupt
        self.descent.stop_requested = True

    def __enter__(self) -> None:
        import signal
        import threading

        if threading.current_thread() is threading.main_thread():
            self.previous = signal.signal(signal.SIGINT, self._handler)

    def __exit__(self, *exc: Any) -> None:
        import signal

        if self.previous is not None:
            signal.signal(signal.SIGINT, self.previous)


class _errors:
    """Context manager: library errors -> one ``error:`` line and exit 2."""

    def __init__(self, debug: bool) -> None:
        self.debug = debug
        self._warnings = warnings.catch_warnings()

    def __enter__(self) -> None:
        self._warnings.__enter__()
        if not self.debug:  # only our own words reach stderr
            warnings.simplefilter("ignore")

    def __exit__(self, etype: Any, exc: BaseException | None, tb: Any) -> bool:
        self._warnings.__exit__(etype, exc, tb)
        if exc is None or isinstance(exc, typer.Exit):
            return False
        if self.debug:
            traceback.print_exception(etype, exc, tb)
        if isinstance(exc, BrokenPipeError):
            # The reader went away (| head): say nothing, and keep Python from
            # complaining when it flushes stdout at exit.
            import os

            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            raise typer.Exit(int(ExitStatus.BROKEN_PIPE)) from None
        if isinstance(exc, GdsolveError):
            raise fail(str(exc)) from None
        if isinstance(exc, (RecursionError, MemoryError)):
            raise fail("the expression is too large or too deeply nested to process; simplify it") from None
        if isinstance(exc, KeyboardInterrupt):
            raise fail("interrupted", ExitStatus.INTERRUPTED) from None
        if isinstance(exc, Exception):
            raise fail(f"internal error: {type(exc).__name__}: {exc} (rerun with --debug for the traceback)",
                       ExitStatus.INTERNAL_ERROR) from None
        return False


_OPTION_SHAPE = re.compile(r"--?[A-Za-z][A-Za-z0-9-]*")


def protect_leading_minus(command: Any, argv: list[str]) -> list[str]:
    """Let a formula start with ``-`` without ``--``: ``gdsolve maximize "-(x-1)**2"``.

    A token after the sub-command that starts with ``-`` but is neither one of
    its options nor an option's value is the formula: it is moved behind a
    ``--`` so the option parser reads it as the positional argument.
    """
    if not argv or not hasattr(command, "commands") or argv[0] not in command.commands:
        return argv
    sub = command.commands[argv[0]]
    takes_value: set[str] = set()
    flags: set[str] = {"--help", "-h"}
    for p in sub.params:
        # Duck-typed: typer has shipped both click's classes and its own.
        if getattr(p, "param_type_name", "") == "option":
            names = [*p.opts, *p.secondary_opts]
            (flags if p.is_flag or p.count else takes_value).update(names)
    out, moved, i = [argv[0]], [], 1
    while i < len(argv):
        a = argv[i]
        if a == "--":
            out.extend(argv[i:])
            break
        name = a.split("=", 1)[0]
        if name in takes_value:
            out.append(a)
            if "=" not in a and i + 1 < len(argv):
                out.append(argv[i + 1])
                i += 1
        elif a.startswith("-") and len(a) > 1 and name not in flags and not (
            a.startswith("--") and _OPTION_SHAPE.fullmatch(name)
        ):
            moved.append(a)
        else:
            out.append(a)
        i += 1
    if moved:
        if "--" in out:
            idx = out.index("--")
            out[idx + 1:idx + 1] = moved
        else:
            out.extend(["--", *moved])
    return out


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``gdsolve`` console script; returns the exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    command = typer.main.get_command(app)
    args = protect_leading_minus(command, args)
    try:
        # standalone_mode=False: click returns an Exit's code instead of
        # calling sys.exit, and lets usage errors reach us for one-line output.
        rv = command.main(args=args, prog_name="gdsolve", standalone_mode=False)
    except typer.Exit as exc:
        return int(exc.exit_code)
    except (typer.Abort, KeyboardInterrupt):
        fail("interrupted", ExitStatus.INTERRUPTED)
        return int(ExitStatus.INTERRUPTED)
    except Exception as exc:
        # click's usage errors (unknown option, bad value, missing argument).
        # Matched by shape, not class: typer has shipped click's classes and
        # its own vendored copies under different module paths.
        format_message = getattr(exc, "format_message", None)
        if not callable(format_message) or not isinstance(getattr(exc, "exit_code", None), int):
            raise
        if type(exc).__name__ == "NoArgsIsHelpError":
            ctx = getattr(exc, "ctx", None)
            sys.stdout.write(ctx.get_help() + "\n" if ctx is not None else "")
            return 0
        ctx = getattr(exc, "ctx", None)
        path = getattr(ctx, "command_path", "") if ctx is not None else ""
        hint = f" (see '{path} --help')" if path else ""
        fail(f"{format_message()}{hint}")
        return int(ExitStatus.USAGE)
    return rv if isinstance(rv, int) else 0


def entry() -> None:  # pragma: no cover - thin wrapper for the console script
    sys.exit(main())
