"""The ``gdsolve`` console script (and ``python -m gdsolve``): start-up, then the CLI.

Kept apart from :mod:`gdsolve.cli.app` so that the start-up work
(:func:`gdsolve.cli.startup.start`) is done before typer, rich, torch or sympy
is imported, and so that no module of the CLI imports the one that imports it.
"""

from __future__ import annotations

import sys

from ..core.status import ExitStatus
from .startup import start


def entry() -> None:  # pragma: no cover - exercised through the installed command in tests/test_e2e.py
    """Run the command line in ``sys.argv`` and exit with its code."""
    start()
    try:
        from .app import main
    except KeyboardInterrupt:  # Ctrl-C between two imports, before the CLI could take it
        sys.stderr.write("error: interrupted\n")
        sys.exit(int(ExitStatus.INTERRUPTED))
    sys.exit(main())
