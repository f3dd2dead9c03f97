"""Command-line options that several commands share: one definition each (like sqlite-utils' output options).

Kept apart from :mod:`gdsolve.cli.app` so that the commands defined in other
modules (:mod:`gdsolve.cli.grad`) can use them without a circular import.
"""

from __future__ import annotations

from typing import Annotated, Optional

import typer

#: The help panel of the output options.
OUTPUT = "Output"

JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout and nothing else.",
                                       rich_help_panel=OUTPUT, metavar="")]
DebugOpt = Annotated[bool, typer.Option("--debug", help="Show Python tracebacks and warnings.", rich_help_panel=OUTPUT,
                                         metavar="")]

#: The help panel of the data options.
DATA = "Data"

ShapeOpt = Annotated[Optional[list[str]], typer.Option(
    "--shape", metavar="w=3", rich_help_panel=DATA, show_default=False,
    help="Make a variable a tensor: w=3, x=2,2 (repeatable); reduce it with sum, mean, prod, norm or dot.")]
DataOpt = Annotated[Optional[str], typer.Option(
    "--data", metavar="FILE", rich_help_panel=DATA, show_default=False,
    help="CSV, TSV or whitespace columns with a header row (- for stdin); each column is a vector by its name.")]
DropMissingOpt = Annotated[bool, typer.Option("--drop-missing", rich_help_panel=DATA, metavar="",
                                              help="Drop data rows with missing values instead of refusing them.")]
