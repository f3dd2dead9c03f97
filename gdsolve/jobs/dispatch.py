"""Where the chunks of a batch run: this process, local worker processes, or a Dask cluster.

:func:`batch` reads problems lazily, cuts them into chunks of ``chunk``
lines, runs each chunk through :func:`gdsolve.jobs.batchsolve.solve_lines` --
here, in a pool of ``jobs`` processes, or on the workers of a Dask cluster
-- and yields the records in input order, a chunk as soon as it and every
chunk before it are done. At most a few chunks per worker are in flight, so
memory stays bounded however long the input.

Faults are per line, never a hang and never a lost line:

* a worker that dies (a crash, the kernel's out-of-memory killer) fails its
  chunk; the chunk is run again line by line, so only a line that kills a
  worker again gets the error record (Dask itself first retries a task whose
  worker died, ``distributed.scheduler.allowed-failures`` times);
* a Dask cluster left without workers for ``worker_wait`` seconds gives
  every line still to do its error record;
* ``stop()`` (Ctrl-C in the CLI) ends the batch after the groups being
  solved: the finished lines are yielded, the rest are not.
"""

from __future__ import annotations

import collections
import itertools
import math
import os
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from ..core.errors import OptionError, shown
from ..core.status import ExitStatus
from .lines import Limits, record

Chunk = list[tuple[int, Any]]
#: Chunks in flight per worker: enough to keep each busy while the results are read in order.
WINDOW = 2


class WorkerDied(Exception):
    """The process solving a chunk died."""


class NoWorkers(Exception):
    """A Dask cluster had no worker for ``worker_wait`` seconds."""


class Stopped(Exception):
    """The batch was interrupted while this chunk was unfinished."""


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
        from ..engine.starts import resolve_device

        resolve_device(device)  # refused once, here, rather than once per line, where this machine has none
    stop = stop or (lambda: False)
    chunks = _chunks(lines, chunk)
    if dask is not None:
        from .daskrun import DaskRunner

        return _drive(DaskRunner(dask, limits, device or "auto", stop, worker_wait), chunks, stop)
    if jobs is not None and jobs > 1:
        return _drive(PoolRunner(jobs, limits, device or "cpu", stop), chunks, stop)
    return _here(chunks, limits, device or "cpu", stop)


def _chunks(lines: Iterable[tuple[int, Any]], size: int) -> Iterator[Chunk]:
    it = iter(lines)
    while True:
        part = list(itertools.islice(it, size))
        if not part:
            return
        yield part


def _here(chunks: Iterator[Chunk], limits: Limits, device: str, stop: Callable[[], bool]) -> Iterator[dict[str, Any]]:
    from .batchsolve import solve_lines

    for part in chunks:
        yield from solve_lines(part, limits, device=device, stop=stop)
        if stop():
            return


def died(part: Chunk, why: str) -> list[dict[str, Any]]:
    """Error records for every line of ``part`` (ids read back from the lines where they parse)."""
    return [record(_id(number, item), None, f"line {number}: {why}", int(ExitStatus.INTERNAL_ERROR))
            for number, item in part]


def _id(number: int, item: Any) -> Any:
    import json

    try:
        value = json.loads(item) if isinstance(item, str) else item
        return value.get("id", number) if isinstance(value, dict) else number
    except (ValueError, RecursionError):
        return number


def _drive(runner: Any, chunks: Iterator[Chunk], stop: Callable[[], bool]) -> Iterator[dict[str, Any]]:
    """Keep ``runner`` busy, yield the chunks' records in input order, retry a dead worker's chunk by lines."""
    pending: collections.deque[tuple[Chunk, Any]] = collections.deque()
    clean = False  # False when the reader left early (a closed pipe, an error): stop the workers at once
    try:
        while True:
            while not stop() and len(pending) < WINDOW * runner.workers:
                part = next(chunks, None)
                if part is None:
                    break
                pending.append((part, runner.submit(part)))
            if not pending:
                clean = True
                return
            part, handle = pending.popleft()
            try:
                yield from runner.result(handle)
            except Stopped:  # interrupted: what is unfinished is not written
                clean = True
                return
            except WorkerDied as exc:
                yield from _by_line(runner, part, str(exc))
            except NoWorkers as exc:  # every line still to do gets its error record
                for other in itertools.chain([part], (p for p, _ in pending), chunks):
                    yield from died(other, str(exc))
                clean = True
                return
            except Exception as exc:  # the worker could not run gdsolve at all (not installed, another version)
                yield from died(part, f"the worker could not solve it: {type(exc).__name__}: {exc}")
    finally:
        runner.close(clean)


def _by_line(runner: Any, part: Chunk, why: str) -> Iterator[dict[str, Any]]:
    """Run a dead worker's chunk again one line per task: only a line that kills a worker again is lost."""
    if len(part) == 1:
        yield from died(part, f"{why}; the line was tried again and its worker died again")
        return
    handles = [(line, runner.submit([line])) for line in part]
    for line, handle in handles:
        try:
            yield from runner.result(handle)
        except WorkerDied as exc:
            yield from died([line], f"{exc}; the line was tried again and its worker died again")
        except Exception as exc:
            yield from died([line], f"the worker could not solve it: {type(exc).__name__}: {exc}")


# --------------------------------------------------------------------------- local processes
_stop_event: Any = None


def _worker_init(threads: int, event: Any) -> None:
    """In each worker process: share the machine's cores, ignore Ctrl-C (the parent decides), note the stop flag."""
    import signal

    global _stop_event
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _stop_event = event
    import torch

    torch.set_num_threads(threads)


def _worker_stop() -> bool:
    return _stop_event is not None and _stop_event.is_set()


def _solve_in_worker(part: Chunk, limits: Limits, device: str) -> list[dict[str, Any]]:
    from .batchsolve import solve_lines

    return solve_lines(part, limits, device=device, stop=_worker_stop)


class PoolRunner:
    """``jobs`` local processes (spawned: a forked copy of a process that has run torch can deadlock)."""

    def __init__(self, jobs: int, limits: Limits, device: str, stop: Callable[[], bool]) -> None:
        import multiprocessing

        self.stop_asked = stop
        self.workers = jobs
        self.limits = limits
        self.device = device
        self.ctx = multiprocessing.get_context("spawn")
        self.event = self.ctx.Event()
        self.threads = max(1, (os.cpu_count() or 1) // jobs)
        self.pool: Any = None

    def _pool(self) -> Any:
        if self.pool is None:
            from concurrent.futures import ProcessPoolExecutor

            self.pool = ProcessPoolExecutor(self.workers, mp_context=self.ctx, initializer=_worker_init,
                                            initargs=(self.threads, self.event))
        return self.pool

    def submit(self, part: Chunk) -> Any:
        return self._pool().submit(_solve_in_worker, part, self.limits, self.device)

    def result(self, handle: Any) -> list[dict[str, Any]]:
        from concurrent.futures import TimeoutError as Pending
        from concurrent.futures.process import BrokenProcessPool

        try:
            while True:
                try:
                    return handle.result(timeout=0.1)
                except Pending:
                    if self.stop_asked():  # the workers end their chunks after the current group
                        self.event.set()
        except BrokenProcessPool:
            # Every chunk in flight fails with the pool; the next submit starts a fresh one.
            if self.pool is not None:
                self.pool.shutdown(wait=False, cancel_futures=True)
                self.pool = None
            raise WorkerDied("the worker process died (killed, or out of memory)") from None

    def close(self, clean: bool = True) -> None:
        if self.pool is not None:
            if not clean:  # nobody reads the rest: end the workers now rather than wait for their chunks
                for process in list(getattr(self.pool, "_processes", {}).values()):
                    process.terminate()
            self.pool.shutdown(wait=clean, cancel_futures=True)
            self.pool = None
