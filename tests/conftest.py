"""Shared fixtures: the tutorial's own loop (a reference implementation), reading a pseudo-terminal, batch records without the clock."""

from __future__ import annotations

import os

import pytest
import torch
from hypothesis import settings as hypothesis_settings

# Property tests: the profile (HYPOTHESIS_PROFILE) sets every property test's budget; no test sets its own.
# "default": a few examples per test, the same ones on every run, so a test run is quick and its verdict
#            depends on the code alone ("ci" is the same profile, by its old name);
# "deep":    many examples, still the same ones on every run:
#                HYPOTHESIS_PROFILE=deep .venv/bin/python -m pytest -n auto
# "explore": as many, drawn anew on every run; a bug found by a new draw is then pinned with @example:
#                HYPOTHESIS_PROFILE=explore .venv/bin/python -m pytest tests/test_batchsolve.py -k hostile
DEFAULT_EXAMPLES = 10
DEEP_EXAMPLES = 1000
hypothesis_settings.register_profile("default", max_examples=DEFAULT_EXAMPLES, derandomize=True, deadline=None)
hypothesis_settings.register_profile("ci", hypothesis_settings.get_profile("default"))
hypothesis_settings.register_profile("deep", max_examples=DEEP_EXAMPLES, derandomize=True, deadline=None)
hypothesis_settings.register_profile("explore", max_examples=DEEP_EXAMPLES, derandomize=False, deadline=None)
hypothesis_settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked ``compile`` run torch.compile (C++ generated and built: seconds each): opt-in."""
    if os.environ.get("GDSOLVE_TEST_COMPILE") == "1":
        return
    skip = pytest.mark.skip(reason="runs torch.compile; set GDSOLVE_TEST_COMPILE=1 to run it")
    for item in items:
        if item.get_closest_marker("compile") is not None:
            item.add_marker(skip)


def tutorial_loop(x0: float, lr: float = 0.1, eps: float = 1e-6, max_iter: int = 100) -> tuple[list[float], int]:
    """The loop of tutorial-2-tensor-gradients.txt, cell 8, verbatim but for x0.

    Returns every iterate (x after each update) and the number of updates.
    """
    x = torch.tensor([x0], requires_grad=True)
    xs = []
    n = 0
    for _ in range(max_iter):
        y = (x - 4) ** 2
        y.backward()
        with torch.no_grad():
            prev_x = x
            x = x - lr * x.grad
            n += 1
            xs.append(x.item())
            if torch.norm(prev_x - x) < eps:
                break
        x.requires_grad = True
    return xs, n


@pytest.fixture
def tutorial():
    return tutorial_loop


def drain(leader: int) -> str:
    """Everything written to a pseudo-terminal until its last writer closes it."""
    chunks = []
    while True:
        try:
            data = os.read(leader, 65536)
        except OSError:  # EIO: the other side is closed
            break
        if not data:
            break
        chunks.append(data)
    os.close(leader)
    return b"".join(chunks).decode("utf-8", "replace")


@pytest.fixture
def read_pty():
    return drain


@pytest.fixture(scope="session")
def minimize_trace() -> str:
    """The trace ``gdsolve minimize "(x-4)**2" --trace - --quiet`` prints (made once, in this process): input for plot."""
    import contextlib
    import io

    from gdsolve.cli.app import main

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["minimize", "(x-4)**2", "--trace", "-", "--quiet"]) == 0
    return out.getvalue()


def without_clock(rec: dict) -> dict:
    """A gdsolve batch record without what depends on the clock (``elapsed``, the time_limit check's value)."""
    res = rec["result"]
    if res is None:
        return rec
    res = {k: v for k, v in res.items() if k != "elapsed"}
    res["checks"] = [c for c in res["checks"] if c["rule"] != "time_limit"]
    return {**rec, "result": res}


@pytest.fixture
def no_clock():
    return without_clock
