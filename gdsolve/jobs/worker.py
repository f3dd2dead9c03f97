"""What runs where a chunk is solved: in a worker process, on a Dask worker, or in this process.

With :mod:`gdsolve.jobs.batchsolve` (which it imports when a chunk is
solved), the only module of :mod:`gdsolve.jobs` that reaches the engine; the
runners receive these functions and never import torch themselves.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from .chunks import Chunk
from .lines import Limits

_stop_event: Any = None  # a local worker process's copy of the parent's stop flag (None on Dask)


def init_process(threads: int, event: Any) -> None:
    """In each local worker process: share the machine's cores, ignore Ctrl-C (the parent decides), note the stop flag."""
    import signal

    global _stop_event
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _stop_event = event
    import torch

    torch.set_num_threads(threads)


def stop_asked() -> bool:
    """Whether the parent asked the workers to stop (after the group being solved)."""
    return _stop_event is not None and _stop_event.is_set()


def solve_chunk(part: Chunk, limits: Limits, device: str) -> list[dict[str, Any]]:
    """Solve one chunk in a worker: one record per line, in order."""
    from .batchsolve import solve_lines

    return solve_lines(part, limits, device=device, stop=stop_asked)


def solve_here(chunks: Iterator[Chunk], limits: Limits, device: str, stop: Callable[[], bool]) -> Iterator[dict[str, Any]]:
    """Solve the chunks in this process, one after another; ``stop()`` is asked between them."""
    from .batchsolve import solve_lines

    for part in chunks:
        yield from solve_lines(part, limits, device=device, stop=stop)
        if stop():
            return


def check_device(device: str) -> None:
    """Refuse a device this machine does not have, once, rather than once per line."""
    from ..engine.starts import resolve_device

    resolve_device(device)
