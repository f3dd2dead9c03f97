"""Solve a chunk of problem lines in one process: the unit of work of ``gdsolve batch``.

:func:`solve_lines` is what a local worker process or a Dask worker runs:
plain text in, plain records out (both pickle cheaply), so that with
``--jobs`` or ``--dask`` the process that reads and writes the lines never
imports torch.

Within a chunk:

* formulas are compiled once and kept (a small LRU per process, so a worker
  reuses them across chunks): parsing and lambdifying is most of a small
  problem's cost;
* lines with one start that share a formula, a sense and the settings every
  row of a batch must share (:data:`gdsolve.engine.loop.SHARED`: method, stopping
  rules, bounds, dtype...) run as rows of one :class:`~gdsolve.engine.loop.Batch`
  -- their start points, rates and method options may differ. Each row's
  record is judged by :func:`gdsolve.engine.outcome.build_result`, as a
  :class:`~gdsolve.engine.multistart.SingleRun`'s is (a SingleRun is the same
  engine at one row), so a line's result equals the same problem solved alone
  (``tests/test_batchsolve.py``);
* lines with many starts, a sweep or basin hopping are batches already and
  run alone.

A line that fails -- bad JSON, bad formula, a bad value, a limit, a bug --
gets its error record and the others go on.
"""

from __future__ import annotations

import collections
from collections.abc import Callable, Sequence
from typing import Any

import torch

from ..api.solve import prepare, run
from ..core.status import ExitStatus, Status
from ..engine.loop import SHARED, Batch
from ..engine.multistart import SingleRun
from ..engine.starts import resolve_device
from ..formula.objective import Objective
from ..io.jsonio import result_document
from .lines import Limits, Problem, error_text, parse_problem, record

#: Rows of one shared tensor at most (more lines sharing a formula make several groups).
GROUP_ROWS = 4096
_CACHE_SIZE = 256


class _LRU(collections.OrderedDict):
    """The compiled formulas a worker keeps: the most recently used ``_CACHE_SIZE``."""

    def __getitem__(self, key: Any) -> Any:
        value = super().__getitem__(key)
        self.move_to_end(key)
        return value

    def __setitem__(self, key: Any, value: Any) -> None:
        super().__setitem__(key, value)
        self.move_to_end(key)
        while len(self) > _CACHE_SIZE:
            self.popitem(last=False)


_cache: _LRU = _LRU()


def solve_lines(lines: Sequence[tuple[int, Any]], limits: Limits | None = None, *, device: str = "cpu",
                stop: Callable[[], bool] | None = None) -> list[dict[str, Any]]:
    """Solve ``(line number, line)`` pairs; return their records in input order.

    Each line is JSON text or an already-parsed dict. ``stop`` is asked
    between groups: once it returns True the lines not yet solved get no
    record (the batch was interrupted; the records returned are the finished ones).

    Example:
        >>> recs = solve_lines([(1, '{"expression": "(x-4)**2", "x0": 0}'), (2, '{"expression": "x+"}')])
        >>> round(recs[0]["result"]["x"]["x"], 4), recs[1]["error"]["exit_code"]
        (4.0, 2)
    """
    limits = limits or Limits()
    device = resolve_device(device)
    done: dict[int, dict[str, Any]] = {}
    work: list[tuple[Problem, Any]] = []
    for number, item in lines:
        id_ = number
        try:
            problem = parse_problem(number, item, limits)
            id_ = problem.id
            # Prepared on the CPU first: a single start comes back as a SingleRun, which can share a tensor.
            prepared = prepare(problem.expression, sense=problem.sense, cache=_cache, **problem.kwargs)
            if not isinstance(prepared, SingleRun) and device != "cpu":
                prepared = prepare(problem.expression, sense=problem.sense, device=device, cache=_cache,
                                   **problem.kwargs)
            work.append((problem, prepared))
        except Exception as exc:
            id_ = id_ if getattr(exc, "id", None) is None else exc.id
            message, code = error_text(exc)
            done[number] = record(id_, None, message if message.startswith("line ") else f"line {number}: {message}", code)
    for group in _groups(work):
        if stop is not None and stop():
            break
        try:
            if len(group) == 1 and (device == "cpu" or not isinstance(group[0][1], SingleRun)):
                results = [run(group[0][1])]
            else:
                results = _run_rows([p for _, p in group], device)
            for (problem, _), result in zip(group, results):
                done[problem.number] = _record(problem, result)
        except Exception as exc:
            for problem, _ in group:
                done[problem.number] = record(problem.id, None, *error_text(exc))
    return [done[n] for n, _ in lines if n in done]


def _record(problem: Problem, result: Any) -> dict[str, Any]:
    doc = result_document(result)
    if problem.batch_clock and result.status is Status.TIME_LIMIT:
        # The line named no time limit of its own: the batch's stopped it. Say so, and keep the point reached.
        return record(problem.id, doc, f"stopped by the batch's time limit of {problem.kwargs['time_limit']:g} s "
                                       "per line (gdsolve batch --time-limit); result holds the point reached",
                      int(ExitStatus.NOT_CONVERGED))
    return record(problem.id, doc)


def _key(descent: SingleRun) -> tuple[Any, ...]:
    s = descent.settings
    shared = tuple(tuple(sorted(v.items())) if isinstance(v, dict) else v for v in (getattr(s, n) for n in SHARED))
    return (id(descent.objective), shared, tuple(s.options))


def _groups(work: list[tuple[Problem, Any]]) -> list[list[tuple[Problem, Any]]]:
    """Lines that can share one tensor, grouped; groups in the order of their first line."""
    groups: dict[Any, list[tuple[Problem, Any]]] = {}
    out: list[list[tuple[Problem, Any]]] = []
    for problem, prepared in work:
        if not isinstance(prepared, SingleRun):
            out.append([(problem, prepared)])
            continue
        key = _key(prepared)
        group = groups.get(key)
        if group is None or len(group) >= GROUP_ROWS:
            group = groups[key] = []
            out.append(group)
        group.append((problem, prepared))
    return out


def _run_rows(descents: Sequence[SingleRun], device: str) -> list[Any]:
    """Single-start runs of one formula as rows of one batch; each row's result as its run alone gives it."""
    objective: Objective = descents[0].objective
    X0 = torch.cat([d.batch.x0.double().cpu() for d in descents])
    batch = Batch(objective, [d.settings for d in descents], torch.arange(len(descents)), X0, device=device)
    for _ in batch:
        pass
    return [batch.result(i, seed=d.seed, settings_dict=d.settings_dict()) for i, d in enumerate(descents)]
