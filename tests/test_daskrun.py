"""The Dask path on an in-process distributed.LocalCluster (no network): same records as the local path."""

from __future__ import annotations

import time

import pytest

pytest.importorskip("distributed")

from distributed import Client, LocalCluster

import gdsolve.jobs.daskrun
from gdsolve import batch
from gdsolve.core.errors import OptionError

PROBLEMS = [{"id": i, "expression": f"(x-{i})**2 + y**2", "x0": [0, 1]} for i in range(7)]
PROBLEMS += ["{bad", {"expression": "(x^2+y-11)^2+(x+y^2-7)^2", "method": "lbfgs", "starts": 16}]


@pytest.fixture(scope="module")
def cluster():
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=":0") as c:
        yield c


def test_the_dask_path_keeps_order_and_equals_the_local_path(cluster, no_clock):
    with Client(cluster) as client:
        there = [no_clock(r) for r in batch(PROBLEMS, dask=client, chunk=2)]
    here = [no_clock(r) for r in batch(PROBLEMS, chunk=2)]
    assert there == here
    assert [r["id"] for r in there] == [0, 1, 2, 3, 4, 5, 6, 8, 9]
    assert len(there[-1]["result"]["minima"]) == 4


def test_dask_workers_solve_on_auto_unless_told(cluster, monkeypatch):
    seen = []

    class Spy(gdsolve.jobs.daskrun.DaskRunner):
        def submit(self, part):
            seen.append(self.device)  # what each task is sent with
            return super().submit(part)

    monkeypatch.setattr(gdsolve.jobs.daskrun, "DaskRunner", Spy)
    with Client(cluster) as client:
        list(batch(PROBLEMS[:1], dask=client))
        list(batch(PROBLEMS[:1], dask=client, device="cpu"))
    assert seen == ["auto", "cpu"]


def test_a_scheduler_address_works_like_a_client(cluster):
    recs = list(batch(PROBLEMS[:3], dask=cluster.scheduler_address))
    assert [r["result"]["status"] for r in recs] == ["converged"] * 3


def test_a_cluster_without_workers_never_hangs():
    with LocalCluster(n_workers=0, processes=False, dashboard_address=":0") as empty, Client(empty) as client:
        start = time.monotonic()
        recs = list(batch(PROBLEMS[:5], dask=client, chunk=2, worker_wait=0.5))
    assert time.monotonic() - start < 30
    assert len(recs) == 5 and all("no Dask worker was connected for 0.5 s" in r["error"]["message"] for r in recs)


def test_an_unreachable_scheduler_is_a_usage_error(monkeypatch):
    monkeypatch.setattr(gdsolve.jobs.daskrun, "CONNECT_S", 0.5)
    with pytest.raises(OptionError, match=r"cannot reach the Dask scheduler at tcp://127\.0\.0\.1:9"):
        list(batch(PROBLEMS[:1], dask="tcp://127.0.0.1:9"))


def test_dask_must_be_an_address_or_a_client():
    with pytest.raises(OptionError, match="must be a scheduler address"):
        list(batch(PROBLEMS[:1], dask=42))


def test_a_worker_that_dies_mid_line_is_replaced_and_the_line_solved_again():
    import os
    import threading

    slow = {"id": "slow", "expression": "(x-4)**2", "x0": 0, "lr": 1e-9, "eps": 0, "max_iter": 10**6, "time_limit": 2}
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=":0") as cluster, \
            Client(cluster) as client:
        out: list = []
        runner = threading.Thread(target=lambda: out.extend(batch([slow, PROBLEMS[0]], dask=client)))
        runner.start()
        deadline = time.monotonic() + 60
        while not any(client.processing().values()) and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.5)  # the chunk is being solved
        before = set(client.scheduler_info()["workers"])
        try:
            client.run(os._exit, 1)  # the worker process dies; its nanny starts another
        except Exception:
            pass
        runner.join(timeout=120)
        after = set(client.scheduler_info()["workers"])
    assert not runner.is_alive()
    assert before and after and not before & after  # the worker that ran the line died and another took its place
    assert [r["id"] for r in out] == ["slow", 0]
    assert out[0]["result"]["status"] == "time_limit" and out[1]["result"]["status"] == "converged"


@pytest.mark.parametrize("address", ["notanaddress", "tcp://host", "tcp://host:0", "tcp://host:99999", "foo bar:1",
                                     "http://host:8786", "inproc://host"])
def test_a_malformed_address_is_refused_before_connecting(address, monkeypatch):
    def no_client(*a, **k):
        raise AssertionError("connected to a malformed address")

    import distributed

    monkeypatch.setattr(distributed, "Client", no_client)
    with pytest.raises(OptionError, match=r"must be a scheduler address such as tcp://scheduler:8786"):
        list(batch(PROBLEMS[:1], dask=address))


def test_the_cli_refuses_a_malformed_address_in_one_line():
    import os
    import shutil
    import subprocess
    import sys

    gdsolve = shutil.which("gdsolve", path=os.path.dirname(sys.executable)) or "gdsolve"
    p = subprocess.run([gdsolve, "batch", "--dask", "notanaddress"], input='{"expression": "x**2"}\n',
                       capture_output=True, text=True, timeout=120)
    assert (p.returncode, p.stdout) == (2, "") and p.stderr.startswith("error: --dask must be a scheduler address")
    assert p.stderr.count("\n") == 1
