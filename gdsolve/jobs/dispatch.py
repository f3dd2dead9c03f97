"""Where the chunks of a batch run: local worker processes, or any runner with the same three methods.

:func:`drive` keeps a runner busy with chunks and yields their records in
input order, a chunk as soon as it and every chunk before it are done. At most
:data:`~gdsolve.jobs.chunks.WINDOW` chunks per worker are in flight, so memory
stays bounded however long the input. A runner has ``workers``,
``submit(chunk) -> handle``, ``result(handle) -> records`` and ``close(clean)``:
:class:`PoolRunner` here, :class:`gdsolve.jobs.daskrun.DaskRunner` on a cluster.

This module never imports torch (an import-linter contract holds it): the
function that solves a chunk, and the one that prepares a worker process, are
given to the runner by :mod:`gdsolve.jobs.batch`, and only the workers import
what they import.

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
import os
from collections.abc import Callable, Iterator
from typing import Any

from .chunks import WINDOW, Chunk, NoWorkers, Stopped, WorkerDied, died
from .lines import Limits

#: Solves one chunk in a worker: ``solve(chunk, limits, device) -> records``.
Solve = Callable[[Chunk, Limits, str], list[dict[str, Any]]]
#: Prepares a worker process: ``init(threads, stop_event)``.
Init = Callable[[int, Any], None]


def drive(runner: Any, chunks: Iterator[Chunk], stop: Callable[[], bool]) -> Iterator[dict[str, Any]]:
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
                yield from by_line(runner, part, str(exc))
            except NoWorkers as exc:  # every line still to do gets its error record
                for other in itertools.chain([part], (p for p, _ in pending), chunks):
                    yield from died(other, str(exc))
                clean = True
                return
            except Exception as exc:  # the worker could not run gdsolve at all (not installed, another version)
                yield from died(part, f"the worker could not solve it: {type(exc).__name__}: {exc}")
    finally:
        runner.close(clean)


def by_line(runner: Any, part: Chunk, why: str) -> Iterator[dict[str, Any]]:
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



class PoolRunner:
    """``jobs`` local processes (spawned: a forked copy of a process that has run torch can deadlock).

    ``solve`` and ``init`` are module-level functions (the spawned processes import them by name):
    :func:`gdsolve.jobs.worker.solve_chunk` and :func:`gdsolve.jobs.worker.init_process`.
    """

    def __init__(self, jobs: int, limits: Limits, device: str, stop: Callable[[], bool], *, solve: Solve,
                 init: Init) -> None:
        import multiprocessing

        self.stop_asked = stop
        self.workers = jobs
        self.limits = limits
        self.device = device
        self.ctx = multiprocessing.get_context("spawn")
        self.event = self.ctx.Event()
        self.threads = max(1, (os.cpu_count() or 1) // jobs)
        self.pool: Any = None
        self.solve, self.init = solve, init

    def _pool(self) -> Any:
        if self.pool is None:
            from concurrent.futures import ProcessPoolExecutor

            self.pool = ProcessPoolExecutor(self.workers, mp_context=self.ctx, initializer=self.init,
                                            initargs=(self.threads, self.event))
        return self.pool

    def submit(self, part: Chunk) -> Any:
        return self._pool().submit(self.solve, part, self.limits, self.device)

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
