"""``gdsolve batch``: JSON Lines of problems in, JSON Lines of records out.

Like the other commands, this only parses options, calls the library
(:func:`gdsolve.jobs.batch.batch_lines`), writes and returns the exit code.
With ``--jobs N`` (N > 1) or ``--dask`` this process reads and writes without
torch and the lines are solved in worker processes
(:mod:`gdsolve.jobs.worker`); without them, it solves the lines itself.
"""

from __future__ import annotations

import os
import sys
from typing import Annotated, Any, Optional

import typer

from ..core.status import ExitStatus
from ..core.streams import Environment
from ..jobs.daskrun import CONNECT_S
from .options import DeviceOpt, command, reworded
from .shell import StopFlag, stop_on_sigint

LIMITS = "Limits per line"


@command()
def batch_command(
    file: Annotated[str, typer.Argument(metavar="FILE", show_default=False,
                                        help="JSON Lines, one problem per line; - reads stdin.")] = "-",
    jobs: Annotated[Optional[int], typer.Option("--jobs", "-j", metavar="N", show_default=False,
                                                help="Spread the lines over N local processes.")] = None,
    dask: Annotated[Optional[str], typer.Option("--dask", metavar="ADDRESS", show_default=False,
                                                help="Run on a Dask cluster: tcp://scheduler:8786, refused if it does "
                                                     f"not answer within {CONNECT_S:g} s (pip install "
                                                     "'gdsolve\\[dask]').")] = None,
    device: reworded(DeviceOpt, help="auto, cpu, cuda or mps: where lines are solved (default cpu; "  # type: ignore[valid-type]
                                     "auto on Dask workers).") = None,
    chunk: Annotated[int, typer.Option("--chunk", metavar="N",
                                       help="Lines per unit of work; lines of a chunk that share a formula and "
                                            "settings run as rows of one tensor.")] = 64,
    time_limit: Annotated[float, typer.Option("--time-limit", metavar="SECONDS", rich_help_panel=LIMITS,
                                              help="Seconds of iterating per line; a line may ask for less.")] = 60.0,
    max_iter: Annotated[int, typer.Option("--max-iter", metavar="N", rich_help_panel=LIMITS,
                                          help="A line's max_iter x (hops + 1) at most.")] = 1_000_000,
    max_rows: Annotated[int, typer.Option("--max-rows", metavar="N", rich_help_panel=LIMITS,
                                          help="A line's starts x swept values at most.")] = 100_000,
    max_chars: Annotated[int, typer.Option("--max-chars", metavar="N", rich_help_panel=LIMITS,
                                           help="Characters in one input line at most.")] = 1_000_000,
    worker_wait: Annotated[float, typer.Option("--worker-wait", metavar="SECONDS",
                                               help="With --dask: give up the remaining lines after this long "
                                                    "without any worker.")] = 60.0,
) -> int:
    """Solve many problems in one process: JSON Lines in, one JSON record per line out, in input order.

    Each line is {"expression": "...", ...} with any setting by its Python API name (x0, lr, method,
    max_iter, bounds, starts, options...) and an optional "id" (default: the line number). Each output
    line is {"id": ..., "result": {...} | null, "error": null | {"message": ..., "exit_code": ...}};
    result is what gdsolve minimize --json prints. A bad line gets its error record and the batch goes
    on. Exit 0 when every line converged, else the worst line's code (70 > 2 > 3 > 1); Ctrl-C writes
    the lines finished so far and exits 130.
    """
    from ..io.jsonio import JsonLines
    from ..jobs.batch import batch_lines
    from ..jobs.lines import Limits, exit_code, read_lines, worst

    limits = Limits(time_limit=time_limit, max_iter=max_iter, max_rows=max_rows, max_chars=max_chars)
    stream = _stdin() if file == "-" else _open(file)
    flag = StopFlag()
    codes: list[int] = []
    env = Environment.current()
    out = JsonLines("-", env=env)  # flushed a line at a time: a reader (jq, a pipeline) sees each as it is solved
    bar = _bar(env, file)
    try:
        with stop_on_sigint(flag):
            records = batch_lines(read_lines(stream, limits.max_chars), jobs=jobs, dask=dask, limits=limits,
                                  chunk=chunk, device=None if device is None else device.value, stop=lambda: flag.stop_requested,
                                  worker_wait=worker_wait)
            for rec in records:
                out.write(rec)
                codes.append(exit_code(rec))
                if bar is not None:
                    bar.advance(codes[-1])
    finally:
        if bar is not None:
            bar.close()
        if stream is not sys.stdin:
            stream.close()
    if flag.stop_requested:
        sys.stderr.write(f"interrupted: {len(codes)} lines written\n")
        return int(ExitStatus.INTERRUPTED)
    return worst(codes)


def _stdin() -> Any:
    reconfigure = getattr(sys.stdin, "reconfigure", None)
    if reconfigure is not None:  # undecodable bytes fail their own line, not the batch
        reconfigure(errors="replace")
    return sys.stdin


def _open(path: str) -> Any:
    from ..core.errors import OptionError

    try:
        # Undecodable bytes become U+FFFD: the line they are on fails alone, as bad JSON or a bad formula.
        return open(path, encoding="utf-8", errors="replace")
    except OSError as exc:
        raise OptionError(f"cannot read {path}: {exc.strerror}") from None


def _bar(env: Environment, file: str) -> Any:
    """The lines-done bar on stderr, at a terminal only; its total is the file's line count when FILE is a file."""
    if not env.stderr_isatty:
        return None
    from ..present.console import console
    from ..present.progress import LineCounter

    return LineCounter(console(env, stderr=True), _count_lines(file) if file != "-" else None)


def _count_lines(path: str) -> int | None:
    """Lines of a regular file (the bar's total), counted in blocks; None for a pipe or a device."""
    try:
        if not os.path.isfile(path):
            return None
        n, last = 0, b"\n"
        with open(path, "rb") as f:
            while block := f.read(1 << 20):
                n += block.count(b"\n")
                last = block[-1:]
        return n + (last != b"\n")
    except OSError:
        return None
