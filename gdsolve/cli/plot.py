"""``gdsolve plot``: draw traces, in the terminal or into a picture file."""

from __future__ import annotations

import sys
from typing import Annotated, Optional

import typer

from ..core.errors import OptionError
from ..core.status import ExitStatus
from .options import command
from .shell import StopFlag, stop_on_sigint


@command()
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
) -> int:
    """Draw traces: f by iteration, and the path on the contour of f (two variables) or on f(x) (one).

    Ctrl-C while a trace is still coming in draws what has arrived (exit 130).
    """
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
    return int(ExitStatus.INTERRUPTED) if interrupt.stop_requested else 0
