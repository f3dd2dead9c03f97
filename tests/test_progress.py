"""The progress bar: shown for long runs at a terminal, cheap, and gone at the end."""

from __future__ import annotations

import io

from rich.console import Console

from gdsolve.core.result import Step
from gdsolve.present.progress import ProgressReporter


def step(k, elapsed):
    return Step(k, (1.0,), 2.0, (0.5,), 0.5, 0.05, 0.1, elapsed)


def test_appears_after_a_second_then_goes():
    buf = io.StringIO()
    p = ProgressReporter(Console(file=buf, force_terminal=True, width=120), max_iter=1000)
    p(step(0, 0.01))
    assert p.progress is None and buf.getvalue() == ""  # short runs never flicker
    p(step(500, 1.5))
    assert p.progress is not None
    assert "iterating" in buf.getvalue() and "501/1000" in buf.getvalue()
    p.close()
    assert p.progress is None


def test_refresh_is_throttled():
    buf = io.StringIO()
    p = ProgressReporter(Console(file=buf, force_terminal=True, width=120), max_iter=10)
    p(step(1, 1.2))
    drawn = buf.getvalue()
    assert "2/10" in drawn
    p(step(2, 1.21))  # within 0.1 s of the last drawing: nothing redrawn
    assert buf.getvalue() == drawn
    p(step(3, 1.31))  # 0.1 s on: drawn again
    assert buf.getvalue() != drawn and "4/10" in buf.getvalue()[len(drawn):]
    p.close()


def test_a_fit_shows_its_steps_and_lowest_cost_after_a_second(monkeypatch):
    import torch

    from gdsolve.present import progress
    from gdsolve.present.progress import FitProgress

    clock = [100.0]
    monkeypatch.setattr(progress.time, "monotonic", lambda: clock[0])
    buf = io.StringIO()
    p = FitProgress(Console(file=buf, force_terminal=True, width=120), max_iter=200)

    class State:  # lm's state: one row per start
        cost = torch.tensor([5.0, float("nan"), 0.25])
        nit = torch.tensor([7, 3, 9])

    p(State())
    assert p.progress is None  # short fits never flicker
    clock[0] += 1.5
    p(State())
    assert "fitting" in buf.getvalue() and "9/200" in buf.getvalue() and "cost 0.25" in buf.getvalue()
    clock[0] += 1.0
    p(step(41, 2.5))  # a minimize method's step
    assert "42/200" in buf.getvalue()
    p.close()
    assert p.progress is None
