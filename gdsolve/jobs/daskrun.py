"""Chunks of a batch on a Dask cluster's workers (``gdsolve batch --dask tcp://scheduler:8786``).

Each chunk is one Dask task running :func:`gdsolve.jobs.worker.solve_chunk`
on a worker -- the same batched engine as a local run, on the worker's GPU
where it has one (``device="auto"``). The client only reads lines, submits
and writes records: it never imports torch.

Needs the ``distributed`` package (``pip install 'gdsolve[dask]'``) here and
gdsolve on every worker. A cluster is started with ``dask scheduler`` on one
machine and ``dask worker tcp://SCHEDULER:8786`` on each of the others.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any

from ..core.errors import OptionError, shown
from .chunks import Chunk, NoWorkers, Stopped, WorkerDied
from .lines import Limits

POLL_S = 0.2  # how often a wait looks at Ctrl-C and at the cluster's workers
#: Seconds to wait for a scheduler to answer before the batch is refused (stated in the message and in --help).
CONNECT_S = 5.0
#: What a scheduler address looks like: [tcp|tls|ws|wss|ucx://]HOST:PORT, HOST a name, an IPv4 or a [bracketed IPv6];
#: or distributed's inproc://HOST/PID/N (a scheduler in this same process, as LocalCluster(processes=False) makes).
ADDRESS = re.compile(r"(?:(?:tcp|tls|ws|wss|ucx)://)?(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)"
                     r":(?P<port>[0-9]{1,5})|inproc://[^\s/]+/[0-9]+/[0-9]+")


def check_address(address: str) -> str:
    """Refuse at once a string that is not a scheduler address (``tcp://host:8786``); return it."""
    m = ADDRESS.fullmatch(address)
    if m is None or (m["port"] is not None and not 0 < int(m["port"]) < 65536):
        raise OptionError(f"{{dask}} must be a scheduler address such as tcp://scheduler:8786 "
                          f"([tcp://]HOST:PORT), not {shown(address)}")
    return address


class DaskRunner:
    """Submit chunks to a Dask cluster and wait for them without ever hanging.

    Args:
        dask: a scheduler address, or a ``distributed.Client`` (left open: it is the caller's).
        limits: the batch's limits, sent with every chunk.
        device: where the workers solve (``auto``: a GPU where the worker has one).
        stop: asked while waiting; True cancels the unfinished work.
        worker_wait: seconds without any worker before the lines still to do are given up.
        solve: the module-level function a task runs on a worker (:func:`gdsolve.jobs.worker.solve_chunk`;
            Dask sends it by name, so the client never imports torch).
    """

    def __init__(self, dask: Any, limits: Limits, device: str, stop: Callable[[], bool], worker_wait: float, *,
                 solve: Callable[[Chunk, Limits, str], list[dict[str, Any]]]) -> None:
        try:
            from distributed import Client
            from distributed.scheduler import KilledWorker
        except ImportError:
            raise OptionError("{dask} needs the distributed package: pip install 'gdsolve[dask]'") from None
        self.killed = KilledWorker
        if isinstance(dask, str):
            check_address(dask)
            try:
                self.client = Client(dask, timeout=CONNECT_S, set_as_default=False)
            except (OSError, TimeoutError, ValueError) as exc:
                raise OptionError(f"cannot reach the Dask scheduler at {dask} within {CONNECT_S:g} s ({exc}); start "
                                  "one with 'dask scheduler' and workers with 'dask worker ADDRESS'") from None
            self.own = True
        elif hasattr(dask, "submit") and hasattr(dask, "scheduler_info"):
            self.client, self.own = dask, False
        else:
            raise OptionError(f"{{dask}} must be a scheduler address such as 'tcp://host:8786' or a "
                              f"distributed.Client, not {type(dask).__name__}")
        self.limits, self.device, self.stop, self.worker_wait = limits, device, stop, worker_wait
        self.solve = solve
        self.futures: set[Any] = set()
        self._seen_worker = time.monotonic()
        self._checked = 0.0
        self.workers = max(1, self._threads())

    def _threads(self) -> int:
        workers = self.client.scheduler_info().get("workers", {})
        return sum(int(w.get("nthreads", 1)) for w in workers.values())

    def submit(self, part: Chunk) -> Any:
        future = self.client.submit(self.solve, part, self.limits, self.device, pure=False)
        self.futures.add(future)
        return future

    def result(self, future: Any) -> list[dict[str, Any]]:
        try:
            while True:
                try:
                    return future.result(timeout=POLL_S)
                except TimeoutError:
                    if self.stop():
                        raise Stopped from None
                    self._check_workers()
        except self.killed as exc:
            raise WorkerDied(f"the Dask worker solving it died, and Dask's retries too ({exc})") from None
        finally:
            self.futures.discard(future)

    def _check_workers(self) -> None:
        now = time.monotonic()
        if now - self._checked < 1.0:
            return
        self._checked = now
        if self._threads() > 0:
            self._seen_worker = now
        elif now - self._seen_worker > self.worker_wait:
            raise NoWorkers(f"no Dask worker was connected for {self.worker_wait:g} s; start workers with "
                            "'dask worker ADDRESS'")

    def close(self, clean: bool = True) -> None:
        for future in list(self.futures):
            future.cancel()
        self.futures.clear()
        if self.own:
            self.client.close()
