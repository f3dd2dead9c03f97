"""``gdsolve.batch``: many problems, one record each, here, in local processes or on a Dask cluster.

:func:`batch` reads problems lazily, cuts them into chunks of ``chunk``
lines (:mod:`gdsolve.jobs.chunks`), and runs each chunk through
:func:`gdsolve.jobs.worker.solve_chunk` -- here, in a pool of ``jobs``
processes (:class:`gdsolve.jobs.dispatch.PoolRunner`), or on the workers of a
Dask cluster (:class:`gdsolve.jobs.daskrun.DaskRunner`) -- and yields the
records in input order (:func:`gdsolve.jobs.dispatch.drive`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from ..core.errors import OptionError, shown
from . import worker
from .chunks import split
from .dispatch import PoolRunner, drive
from .lines import Limits


def batch(problems: Iterable[Any], *, jobs: int | None = None, dask: Any = None, limits: Limits | None = None,
          chunk: int = 64, device: str | None = None, stop: Callable[[], bool] | None = None,
          worker_wait: float = 60.0) -> Iterator[dict[str, Any]]:
    """Solve many problems; yield one record per problem, in input order.

    Args:
        problems: dicts (``{"expression": ..., "x0": ..., "lr": ...}``, any
            setting by its Python API name) or JSON Lines text, one per problem.
        jobs: spread the chunks over this many local processes (default: this process).
        dask: a Dask scheduler address (``"tcp://host:8786"``) or a
            ``distributed.Client``; workers need gdsolve installed.
        limits: what one line may ask for (:class:`~gdsolve.jobs.lines.Limits`).
        chunk: lines per unit of work; lines of one chunk that share a
            formula and settings run as rows of one tensor.
        device: where the work runs (default: ``cpu`` here and in local
            processes, ``auto`` -- a GPU where the worker has one -- on Dask).
        stop: asked between groups; once True the batch ends after the work in flight.
        worker_wait: seconds a Dask cluster may be without workers before the
            remaining lines get error records.

    Each record is ``{"id": ..., "result": {...} | None, "error": None | {"message": ..., "exit_code": ...}}``;
    ``result`` is the document ``gdsolve minimize --json`` prints.

    Example:
        >>> recs = list(batch([{"expression": "(x-4)**2", "x0": 0}, {"id": "bad", "expression": "x+"}]))
        >>> round(recs[0]["result"]["x"]["x"], 4), recs[1]["id"], recs[1]["error"]["exit_code"]
        (4.0, 'bad', 2)
    """
    return batch_lines(enumerate(problems, start=1), jobs=jobs, dask=dask, limits=limits, chunk=chunk,
                       device=device, stop=stop, worker_wait=worker_wait)


def batch_lines(lines: Iterable[tuple[int, Any]], *, jobs: int | None = None, dask: Any = None,
                limits: Limits | None = None, chunk: int = 64, device: str | None = None,
                stop: Callable[[], bool] | None = None, worker_wait: float = 60.0) -> Iterator[dict[str, Any]]:
    """:func:`batch` over ``(line number, line)`` pairs (the CLI numbers the lines of its file)."""
    limits = limits or Limits()
    if isinstance(chunk, bool) or not isinstance(chunk, int) or chunk < 1:
        raise OptionError(f"{{chunk}} must be an integer >= 1, got {shown(chunk)}")
    if jobs is not None and (isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1):
        raise OptionError(f"{{jobs}} must be an integer >= 1, got {shown(jobs)}")
    if jobs is not None and dask is not None:
        raise OptionError("{jobs} and {dask} exclude each other: the Dask cluster's workers are the jobs")
    if isinstance(worker_wait, bool) or not isinstance(worker_wait, (int, float)) or not 0 <= worker_wait < math.inf:
        raise OptionError(f"{{worker_wait}} must be a number of seconds >= 0, got {shown(worker_wait)}")
    if device is not None and device not in ("auto", "cpu", "cuda", "mps"):
        raise OptionError(f"{{device}} must be auto, cpu, cuda or mps, got {shown(device)}")
    if dask is None and device in ("cuda", "mps"):
        worker.check_device(device)  # refused once, here, rather than once per line, where this machine has none
    stop = stop or (lambda: False)
    chunks = split(lines, chunk)
    if dask is not None:
        from .daskrun import DaskRunner

        return drive(DaskRunner(dask, limits, device or "auto", stop, worker_wait, solve=worker.solve_chunk),
                     chunks, stop)
    if jobs is not None and jobs > 1:
        runner = PoolRunner(jobs, limits, device or "cpu", stop, solve=worker.solve_chunk, init=worker.init_process)
        return drive(runner, chunks, stop)
    return worker.solve_here(chunks, limits, device or "cpu", stop)


