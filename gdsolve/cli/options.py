"""What every command shares: its options, defined once, and the one path it runs through.

Two kinds of sharing, as in sqlite-utils' ``cli.py``:

* **Options given by several commands** are defined once here, as annotated
  types (``JsonOpt``, ``TraceOpt``, ``DeviceOpt``, ``ShapeOpt``...): one name,
  one help text, one set of choices.
* **Groups of options that make one object** are :class:`OptionGroup`\\ s
  added by the :func:`command` decorator: :data:`OUTPUT` adds ``--json``,
  ``--quiet``, ``--every``, ``--trace`` and ``--trace-format`` to a command
  and hands it one checked :class:`~gdsolve.cli.outputs.OutputOptions`.

:func:`command` is also the one path every command runs through: ``--debug``
(added to every command), warnings silenced unless it is given, every
exception turned into one ``error:`` line and its exit code
(:class:`gdsolve.cli.shell.errors`), and the command's return value made the
process's exit code.
"""

from __future__ import annotations

import copy
import enum
import functools
import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Optional

import typer

from ..core.settings import TRACE_FORMATS
from .shell import Exit, errors


def choices(name: str, values: Sequence[str]) -> Any:
    """A str Enum of the library's own choices, for typer's validation and --help."""
    return enum.Enum(name, {v: v for v in values}, type=str)


#: Help panels: what a reader scans for.
OUTPUT_PANEL = "Output"
DATA_PANEL = "Data"

TraceFormat = choices("TraceFormat", TRACE_FORMATS)
Device = choices("Device", ("auto", "cpu", "cuda", "mps"))

JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout and nothing else.",
                                       rich_help_panel=OUTPUT_PANEL, metavar="")]
DebugOpt = Annotated[bool, typer.Option("--debug", help="Show Python tracebacks and warnings.", metavar="")]
QuietOpt = Annotated[bool, typer.Option("--quiet", help="Print only the summary, not the table of steps.",
                                        rich_help_panel=OUTPUT_PANEL, metavar="")]
EveryOpt = Annotated[Optional[int], typer.Option(
    "--every", metavar="N", rich_help_panel=OUTPUT_PANEL,
    help="Also show every N-th step (default: about 40 rows over --max-iter).")]
TraceOpt = Annotated[Optional[str], typer.Option(
    "--trace", metavar="FILE", rich_help_panel=OUTPUT_PANEL, show_default=False,
    help="Write every step to FILE as JSON Lines (- for stdout, streamed live), for gdsolve plot.")]
TraceFormatOpt = Annotated[Optional[TraceFormat], typer.Option(
    "--trace-format", metavar="FORMAT", rich_help_panel=OUTPUT_PANEL, show_default=False,
    help="jsonl (default) or csv (one column per variable).")]
DeviceOpt = Annotated[Optional[Device], typer.Option(
    "--device", metavar="NAME", show_default=False,
    help="auto, cpu (default), cuda or mps: where the tensors live.")]

ShapeOpt = Annotated[Optional[list[str]], typer.Option(
    "--shape", metavar="w=3", rich_help_panel=DATA_PANEL, show_default=False,
    help="Make a variable a tensor: w=3, x=2,2 (repeatable); reduce it with sum, mean, prod, norm, dot or logsumexp.")]
DataOpt = Annotated[Optional[str], typer.Option(
    "--data", metavar="FILE", rich_help_panel=DATA_PANEL, show_default=False,
    help="CSV, TSV or whitespace columns with a header row (- for stdin); each column is a vector by its name.")]
MatrixOpt = Annotated[Optional[list[str]], typer.Option(
    "--matrix", metavar="X=age..s6", rich_help_panel=DATA_PANEL, show_default=False,
    help="Name --data columns as one matrix for X @ w: a range in file order (age..s6), a glob (s*) or a list "
         "(a,b,c) (repeatable); w's shape follows X.")]
DropMissingOpt = Annotated[bool, typer.Option("--drop-missing", rich_help_panel=DATA_PANEL, metavar="",
                                              help="Drop data rows with missing values instead of refusing them.")]
ExpressionArg = Annotated[str, typer.Argument(metavar="EXPRESSION", show_default=False,
                                              help="The formula, e.g. \"(x-4)**2\"; ^ also means power.")]
VarsOpt = Annotated[Optional[str], typer.Option("--vars", metavar="y,x",
                                                help="Variable order (default: natural order x1, x2, x10).")]
ParamOpt = Annotated[Optional[list[str]], typer.Option("--param", metavar="a=2",
                                                       help="Substitute a constant for a name (repeatable).")]


def reworded(option: Any, *, help: str | None = None, panel: str | None = None) -> Any:
    """``option`` (one of the annotated options above) with this command's own help text or panel.

    The flag, its type and its choices stay the shared ones; only the words
    around them change (``--device`` of ``gdsolve batch`` says what Dask does).

    Example:
        >>> reworded(DeviceOpt, panel="Start").__metadata__[0].rich_help_panel
        'Start'
    """
    info = copy.copy(option.__metadata__[0])
    if help is not None:
        info.help = help
    if panel is not None:
        info.rich_help_panel = panel
    return Annotated[option.__origin__, info]


@dataclass(frozen=True)
class OptionGroup:
    """Options that together make one value a command receives (as keyword ``name``).

    ``params`` are the options, as the parameters typer reads; ``build`` makes
    the value from them (and may refuse a combination: it runs inside the
    command's error handling, so a refusal is one ``error:`` line, exit 2).
    """

    name: str
    params: tuple[inspect.Parameter, ...]
    build: Callable[..., Any]


def _option(name: str, annotation: Any, default: Any) -> inspect.Parameter:
    return inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, annotation=annotation, default=default)


def _output_options(json_: bool, quiet: bool, every: int | None, trace: str | None, trace_format: Any) -> Any:
    from .outputs import OutputOptions

    return OutputOptions(json=json_, quiet=quiet, every=every, trace=trace,
                         trace_format=None if trace_format is None else trace_format.value)


#: --json, --quiet, --every, --trace, --trace-format: a run's outputs, as one OutputOptions.
OUTPUT = OptionGroup("outputs", (
    _option("json_", JsonOpt, False), _option("quiet", QuietOpt, False), _option("every", EveryOpt, None),
    _option("trace", TraceOpt, None), _option("trace_format", TraceFormatOpt, None),
), _output_options)

_DEBUG = _option("debug", DebugOpt, False)


def reflowed(doc: str | None) -> str | None:
    r"""A docstring as the help shows it: one line per paragraph, so the terminal's width decides the breaks.

    Rich keeps a docstring's line breaks and then wraps at the width too, so
    a paragraph written over several source lines comes out ragged.

    Example:
        >>> reflowed("One line\n    and its end.\n\n    Next.\n    ")
        'One line and its end.\n\nNext.'
    """
    if doc is None:
        return None
    paragraphs = inspect.cleandoc(doc).split("\n\n")
    return "\n\n".join(" ".join(line.strip() for line in p.splitlines()) for p in paragraphs)


def command(*groups: OptionGroup) -> Callable[[Callable[..., int]], Callable[..., None]]:
    """Make ``fn`` a command: add ``--debug`` and the ``groups``' options, run it the one way every command runs.

    ``fn`` takes its own options and one keyword per group, and returns the
    exit code. Typer reads the parameters from the wrapper's signature: the
    command's own, then the groups', then ``--debug``.

    Example:
        >>> @command(OUTPUT)
        ... def show(name: str, outputs: Any) -> int:
        ...     return 0 if outputs.json else 1
        >>> list(inspect.signature(show).parameters)
        ['name', 'json_', 'quiet', 'every', 'trace', 'trace_format', 'debug']
        >>> try:
        ...     show("a", json_=True, quiet=False, every=None, trace=None, trace_format=None)
        ... except Exit as done:
        ...     print("exit", done.exit_code)
        exit 0
    """

    def decorate(fn: Callable[..., int]) -> Callable[..., None]:
        own = inspect.signature(fn, eval_str=True)
        taken = {g.name for g in groups}
        params = [p for p in own.parameters.values() if p.name not in taken]
        params += [p for g in groups for p in g.params] + [_DEBUG]

        @functools.wraps(fn)
        def run(*args: Any, **kwargs: Any) -> None:
            debug = kwargs.pop("debug", False)
            with errors(debug):
                for g in groups:
                    kwargs[g.name] = g.build(**{p.name: kwargs.pop(p.name) for p in g.params})
                code = fn(*args, **kwargs)
            raise Exit(int(code))

        run.__signature__ = own.replace(parameters=params, return_annotation=None)  # type: ignore[attr-defined]
        run.__annotations__ = {p.name: p.annotation for p in params}
        run.__doc__ = reflowed(fn.__doc__)
        return run

    return decorate
