"""The one progress bar: a run's iterations (``minimize``), a fit's steps (``fit``), a batch's lines (``gdsolve batch``).

It is drawn only at a terminal (:class:`~gdsolve.core.streams.Environment`
decides), never with ``--json`` or ``--trace -`` (the CLI's output pipeline
decides that), and it is transient: gone before the summary prints. A run's
bar appears only once the run has gone on for :data:`SHOW_AFTER_S` (short
runs never flicker) and refreshes at most every :data:`REFRESH_S`, so it
costs the loop one float comparison per iteration.
"""

from __future__ import annotations

import math
import time
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from ..core.result import Step

SHOW_AFTER_S = 1.0
REFRESH_S = 0.1


class ProgressBar:
    """A transient rich bar: ``label``, the bar, done/total, a free ``note``, the time taken (and left).

    Args:
        console: where it is drawn (a run's bar shares the table's console, so rows scroll above it).
        total: the count at the end (``None``: unknown, as for a batch read from a pipe).
        label: what is being counted ("iterating", "solving").
        show_after: seconds before it first appears.

    Example:
        >>> import io
        >>> bar = ProgressBar(Console(file=io.StringIO(), force_terminal=True), 10, label="solving", show_after=0)
        >>> bar.update(3, 0.5, "1 not converged"); bar.shown
        True
        >>> bar.close(); bar.shown
        False
    """

    def __init__(self, console: Console, total: int | None, *, label: str, show_after: float = SHOW_AFTER_S) -> None:
        self.console = console
        self.total = total
        self.label = label
        self.show_after = show_after
        self.progress: Progress | None = None
        self.task = None
        self.next_draw = show_after

    @property
    def shown(self) -> bool:
        return self.progress is not None

    def update(self, completed: int, elapsed: float, note: str = "") -> None:
        """``completed`` of ``total`` after ``elapsed`` seconds; drawn at most every :data:`REFRESH_S`."""
        if elapsed < self.next_draw:
            return
        self.next_draw = elapsed + REFRESH_S
        if self.progress is None:
            columns = [TextColumn(f"[bold]{self.label}"), BarColumn(), MofNCompleteColumn(),
                       TextColumn("{task.fields[note]}"), TimeElapsedColumn()]
            if self.total is not None:
                columns += [TextColumn("left"), TimeRemainingColumn()]
            # Not redirecting stdout: it carries data (a batch's records) that must not pass through the bar.
            self.progress = Progress(*columns, console=self.console, transient=True, auto_refresh=False,
                                     redirect_stdout=False, redirect_stderr=False)
            self.progress.start()
            self.task = self.progress.add_task(self.label, total=self.total, note="")
        self.progress.update(self.task, completed=completed, note=note)
        self.progress.refresh()

    def close(self) -> None:
        """Remove the bar (it is transient) before the summary prints."""
        if self.progress is not None:
            self.progress.stop()
            self.progress = None


class ProgressReporter(ProgressBar):
    """A step callback: a run's iterations, with f and the iteration rate.

    Args:
        console: the console the table prints to.
        max_iter: the iteration budget (the bar's total).
    """

    def __init__(self, console: Console, max_iter: int) -> None:
        super().__init__(console, max_iter, label="iterating")

    def __call__(self, step: Step) -> None:
        if step.elapsed < self.next_draw:  # the common case, first: one comparison
            return
        rate = (step.k + 1) / step.elapsed if step.elapsed > 0 else 0.0
        self.update(step.k + 1, step.elapsed, f"f {step.f:.6g}  {rate:,.0f} it/s")


class FitProgress(ProgressBar):
    """``gdsolve fit``'s bar: the fit's steps and its cost. A step callback of :func:`gdsolve.fit`, which hands it
    Levenberg-Marquardt's state (every start's row: the most steps taken, the lowest cost) or, for a minimize
    method, each step (``k``, ``f``).

    Args:
        console: the console the report prints to.
        max_iter: the step budget (the bar's total; ``None``: unknown).
    """

    def __init__(self, console: Console, max_iter: int | None) -> None:
        super().__init__(console, max_iter, label="fitting")
        self.started = time.monotonic()

    def __call__(self, state: Any) -> None:
        elapsed = time.monotonic() - self.started
        if elapsed < self.next_draw:  # the common case, first: no tensor is read
            return
        if hasattr(state, "cost"):  # lm's state: one row per start
            import torch

            cost = state.cost
            finite = cost[torch.isfinite(cost)]
            k, f = int(state.nit.max()), float(finite.min()) if finite.numel() else math.nan
            self.update(k, elapsed, f"cost {f:.6g}")
        else:
            self.update(int(state.k) + 1, elapsed, f"cost {float(state.f):.6g}")


class LineCounter(ProgressBar):
    """``gdsolve batch``'s bar: lines done, and how many did not converge."""

    def __init__(self, console: Console, total: int | None) -> None:
        super().__init__(console, total, label="solving", show_after=0.0)
        self.started = time.monotonic()
        self.done = 0
        self.not_ok = 0

    def advance(self, code: int) -> None:
        """One more line, with its exit code (0: converged)."""
        self.done += 1
        self.not_ok += code != 0
        self.update(self.done, time.monotonic() - self.started,
                    f"{self.not_ok} not converged" if self.not_ok else "")
