"""The console script's first lines: start without garbage-collection passes.

Importing typer, torch and sympy allocates about a million objects and makes
almost no reference cycles, yet the cyclic garbage collector runs its full
passes over them again and again while they load (measured on the project's
2-core machines: 0.2-0.4 s of a 1.5-2 s start). So the ``gdsolve`` command
turns the collector off before it imports anything, and
:func:`imports_done` turns it back on once the heavy imports are made --
first moving everything that exists then into the permanent generation
(``gc.freeze``), so that later passes never walk the libraries again. A run
that iterates for minutes therefore still has its collector. Library users
(``import gdsolve``) are not affected: only the console script and
``python -m gdsolve`` start here.
"""

from __future__ import annotations

import gc
import sys

_paused = False


def entry() -> None:  # pragma: no cover - exercised through the installed command in tests/test_e2e.py
    """The ``gdsolve`` console script."""
    global _paused
    if gc.isenabled():
        gc.disable()
        _paused = True
    from .cli import main

    sys.exit(main())


def imports_done() -> None:
    """Call once the heavy imports are made: freeze what exists and collect again from here on."""
    global _paused
    if _paused:
        _paused = False
        gc.freeze()
        gc.enable()
