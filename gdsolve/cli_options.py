"""Command-line options that several commands share: one definition each (like sqlite-utils' output options).

Kept apart from :mod:`gdsolve.cli` so that the commands defined in other
modules (:mod:`gdsolve.cli_grad`) can use them without a circular import.
"""

from __future__ import annotations

from typing import Annotated

import typer

#: The help panel of the output options.
OUTPUT = "Output"

JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout and nothing else.",
                                       rich_help_panel=OUTPUT, metavar="")]
DebugOpt = Annotated[bool, typer.Option("--debug", help="Show Python tracebacks and warnings.", rich_help_panel=OUTPUT,
                                         metavar="")]
