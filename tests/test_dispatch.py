"""Dispatching chunks: input order, local processes, faults per line, interrupts, the API's checks."""

from __future__ import annotations

import itertools
import sys

import pytest

from gdsolve import batch
from gdsolve.core.errors import OptionError
from gdsolve.core.status import ExitStatus
from gdsolve.jobs.dispatch import NoWorkers, PoolRunner, Stopped, WorkerDied, batch_lines
from gdsolve.jobs.lines import Limits, record

PROBLEMS = [{"id": f"p{i}", "expression": f"(x-{i})**2 + (y+{i % 3})**2", "x0": [0, 0]} for i in range(9)]
PROBLEMS.insert(4, "not json")
PROBLEMS.insert(7, {"expression": "x*y", "x0": {"x": 1}})


def test_batch_yields_one_record_per_problem_in_input_order():
    recs = list(batch(PROBLEMS, chunk=3))
    assert [r["id"] for r in recs] == ["p0", "p1", "p2", "p3", 5, "p4", "p5", 8, "p6", "p7", "p8"]
    assert recs[4]["error"]["exit_code"] == recs[7]["error"]["exit_code"] == ExitStatus.USAGE
    assert all(r["result"]["status"] == "converged" for i, r in enumerate(recs) if i not in (4, 7))


def test_jobs_keep_input_order_and_equal_the_local_records(no_clock):
    here = [no_clock(r) for r in batch(PROBLEMS, chunk=2)]
    there = [no_clock(r) for r in batch(PROBLEMS, chunk=2, jobs=2)]
    assert there == here


@pytest.mark.parametrize("kwargs, words", [
    ({"chunk": 0}, "chunk must be an integer >= 1"),
    ({"jobs": 0}, "jobs must be an integer >= 1"),
    ({"jobs": 2, "dask": "tcp://x:1"}, "jobs and dask exclude each other"),
    ({"device": "tpu"}, "device must be auto, cpu, cuda or mps"),
])
def test_the_api_refuses_bad_batch_options(kwargs, words):
    with pytest.raises(OptionError, match=words):
        batch([{"expression": "x**2"}], **kwargs)


class FakeRunner:
    """Stands in for a pool or a cluster: ``fate(chunk)`` says what becomes of each submitted chunk."""

    workers = 2

    def __init__(self, fate):
        self.fate = fate
        self.submitted = []
        self.closed = None

    def submit(self, part):
        self.submitted.append([n for n, _ in part])
        return part

    def result(self, part):
        outcome = self.fate(part)
        if isinstance(outcome, BaseException):
            raise outcome
        return [record(n, {"status": "converged"}) for n, _ in part]

    def close(self, clean=True):
        self.closed = clean


def lines(n):
    return [(i, f'{{"id": "L{i}", "expression": "x"}}') for i in range(1, n + 1)]


def drive(monkeypatch, runner, n, chunk, stop=lambda: False):
    """``batch_lines`` over ``n`` lines in chunks of ``chunk``, its local processes played by ``runner``."""
    monkeypatch.setattr(sys.modules[batch_lines.__module__], "PoolRunner", lambda *args, **kwargs: runner)
    return batch_lines(lines(n), jobs=runner.workers, chunk=chunk, stop=stop)


def test_a_dead_workers_chunk_is_run_again_line_by_line_and_only_the_killer_is_lost(monkeypatch):
    def fate(part):
        return WorkerDied("the worker process died") if any(n == 5 for n, _ in part) else None

    runner = FakeRunner(fate)
    recs = list(drive(monkeypatch, runner, 9, 4))
    assert [r["id"] for r in recs] == [1, 2, 3, 4, "L5", 6, 7, 8, 9]
    assert recs[4]["error"]["exit_code"] == ExitStatus.INTERNAL_ERROR
    assert "died again" in recs[4]["error"]["message"] and recs[4]["error"]["message"].startswith("line 5:")
    assert [5] in runner.submitted and [6] in runner.submitted and runner.closed is True


def test_a_cluster_without_workers_gives_every_remaining_line_its_error(monkeypatch):
    calls = itertools.count()

    def fate(part):
        return NoWorkers("no Dask worker was connected for 1 s") if next(calls) >= 1 else None

    recs = list(drive(monkeypatch, FakeRunner(fate), 10, 3))
    assert len(recs) == 10 and all(r["result"] for r in recs[:3])
    assert all(r["error"] and "no Dask worker" in r["error"]["message"] for r in recs[3:])


def test_a_worker_that_cannot_run_gdsolve_fails_its_chunks_lines_not_the_batch(monkeypatch):
    def fate(part):
        return ModuleNotFoundError("No module named 'gdsolve'") if part[0][0] == 1 else None

    recs = list(drive(monkeypatch, FakeRunner(fate), 4, 2))
    assert [r["error"] is not None for r in recs] == [True, True, False, False]
    assert "No module named 'gdsolve'" in recs[0]["error"]["message"]


def test_an_interrupted_chunk_is_not_written_and_nothing_more_is_sent(monkeypatch):
    flag = []

    def fate(part):
        if part[0][0] == 3:
            flag.append(1)
            return Stopped()
        return None

    runner = FakeRunner(fate)
    recs = list(drive(monkeypatch, runner, 20, 2, stop=lambda: bool(flag)))
    # chunks 1-4 filled the window, chunk 5 refilled it after chunk 1; none after the interrupt
    assert [r["id"] for r in recs] == [1, 2] and len(runner.submitted) == 5


def test_a_reader_that_leaves_early_stops_the_workers_at_once(monkeypatch):
    runner = FakeRunner(lambda part: None)
    gen = drive(monkeypatch, runner, 20, 2)
    next(gen)
    gen.close()  # stdout closed
    assert runner.closed is False


def test_a_broken_pool_is_a_dead_worker_and_the_next_chunk_gets_a_fresh_pool():
    from concurrent.futures.process import BrokenProcessPool

    class Broken:
        def result(self, timeout=None):
            raise BrokenProcessPool("gone")

    runner = PoolRunner(2, Limits(), "cpu", lambda: False)
    runner.pool = type("P", (), {"shutdown": lambda self, **kw: None})()
    with pytest.raises(WorkerDied, match="worker process died"):
        runner.result(Broken())
    assert runner.pool is None


def test_a_device_this_machine_lacks_is_refused_once_not_per_line(monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(OptionError, match="cuda"):
        batch([{"expression": "x**2"}] * 3, device="cuda")


def test_batch_lines_keeps_the_callers_line_numbers():
    recs = list(batch_lines([(10, '{"expression": "(x-1)**2", "x0": 0}'), (12, "nope")]))
    assert [r["id"] for r in recs] == [10, 12] and recs[1]["error"]["message"].startswith("line 12")


def test_limits_and_batch_are_the_packages_own():
    import gdsolve

    assert gdsolve.Limits is Limits and gdsolve.batch is batch
    recs = list(gdsolve.batch([{"expression": "x**2", "x0": 1, "max_iter": 20}], limits=gdsolve.Limits(max_iter=10)))
    assert "limit of 10 iterations" in recs[0]["error"]["message"]
