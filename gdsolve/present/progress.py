"""A progress bar for long runs at a terminal.

It appears only when the run has gone on for a while (so short runs never
flicker), only on a terminal, and never with ``--json`` or ``--trace -``
(the CLI decides that). It refreshes at most ten times a second, so it costs
the loop one float comparison per iteration.
"""

from __future__ import annotations

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from ..core.result import Step

SHOW_AFTER_S = 1.0
REFRESH_S = 0.1


class ProgressReporter:
    """Step callback that drives a transient rich progress bar.

    Args:
        console: the console the table prints to (the bar shares it, so rows
            scroll above the bar).
        max_iter: the iteration budget (the bar's total).
    """

    def __init__(self, console: Console, max_iter: int) -> None:
        self.console = console
        self.max_iter = max_iter
        self.progress: Progress | None = None
        self.task = None
        self._next = SHOW_AFTER_S

    def __call__(self, step: Step) -> None:
        if step.elapsed < self._next:
            return
        self._next = step.elapsed + REFRESH_S
        if self.progress is None:
            self.progress = Progress(
                TextColumn("[bold]iterating"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("f {task.fields[f]}"),
                TextColumn("{task.fields[rate]} it/s"),
                TimeElapsedColumn(),
                TextColumn("left"),
                TimeRemainingColumn(),
                console=self.console,
                transient=True,
                auto_refresh=False,
            )
            self.progress.start()
            self.task = self.progress.add_task("run", total=self.max_iter, f="", rate="")
        rate = (step.k + 1) / step.elapsed if step.elapsed > 0 else 0.0
        self.progress.update(self.task, completed=step.k + 1, f=f"{step.f:.6g}", rate=f"{rate:,.0f}")
        self.progress.refresh()

    def close(self) -> None:
        """Remove the bar (it is transient) before the summary prints."""
        if self.progress is not None:
            self.progress.stop()
            self.progress = None
