"""The units of a batch's work and what can happen to them: torch-free, shared by every runner.

A chunk is a list of ``(line number, line)`` pairs; a runner (:class:`gdsolve.jobs.dispatch.PoolRunner`,
:class:`gdsolve.jobs.daskrun.DaskRunner`, or this process) turns it into one record per line, or raises
one of the exceptions below, which :func:`gdsolve.jobs.dispatch.drive` turns into error records.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator
from typing import Any

from ..core.status import ExitStatus
from .lines import record

Chunk = list[tuple[int, Any]]
#: Chunks in flight per worker: enough to keep each busy while the results are read in order.
WINDOW = 2


class WorkerDied(Exception):
    """The process solving a chunk died."""


class NoWorkers(Exception):
    """A Dask cluster had no worker for ``worker_wait`` seconds."""


class Stopped(Exception):
    """The batch was interrupted while this chunk was unfinished."""


def split(lines: Iterable[tuple[int, Any]], size: int) -> Iterator[Chunk]:
    """Cut ``lines`` into chunks of ``size`` lines, lazily (a long input is never held whole)."""
    it = iter(lines)
    while True:
        part = list(itertools.islice(it, size))
        if not part:
            return
        yield part


def died(part: Chunk, why: str) -> list[dict[str, Any]]:
    """Error records for every line of ``part`` (ids read back from the lines where they parse)."""
    return [record(line_id(number, item), None, f"line {number}: {why}", int(ExitStatus.INTERNAL_ERROR))
            for number, item in part]


def line_id(number: int, item: Any) -> Any:
    """The ``id`` a line gives itself, or its number (a line that does not parse)."""
    import json

    try:
        value = json.loads(item) if isinstance(item, str) else item
        return value.get("id", number) if isinstance(value, dict) else number
    except (ValueError, RecursionError):
        return number


