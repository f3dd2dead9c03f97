"""What the engine hands out per iteration: a :class:`BatchStep` for the whole batch, and the
:class:`HostView` of a small batch's values read back as lists.

A record, like :class:`~gdsolve.core.result.Step`, but of tensors: the one module of
:mod:`gdsolve.core` that imports torch (the others stay light for ``gdsolve --help``).
Values are on the function the engine minimizes (``-f`` when maximizing);
:attr:`BatchStep.f` and the records of :mod:`gdsolve.engine.records` give the user's.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch


class HostView(NamedTuple):
    """One iteration's values read back as Python lists (small batches on the CPU)."""

    x: list[list[float]]  # x_k per row
    f: list[float]
    g: list[list[float]]
    step: list[float]
    stepped: list[bool]


class BatchStep(NamedTuple):
    """One iteration of the whole batch. Tensors are shared, not copied: read them before the next step."""

    k: int
    elapsed: float
    X: torch.Tensor  # (n, d) x_k of the rows held (every row, or those in `rows`)
    F: torch.Tensor  # (n,) minimized f at x_k
    G: torch.Tensor  # (n, d) its gradient
    step: torch.Tensor | None  # (n,) ||x_{k+1} - x_k|| (0 for rows that did not step); None: see host
    lr: float | torch.Tensor  # the rate used: one for all rows, or (n,)
    t: torch.Tensor | None  # (n,) accepted line-search step length
    failed: torch.Tensor | None  # (n,) the line search found no decrease
    stepped: torch.Tensor  # (n,) rows that made this update (they have a Step record)
    running: int  # rows still running after this step
    code: torch.Tensor  # (B,) every row's stop code after this step
    sign: float = 1.0  # -1 when maximizing: the user's f is sign * F
    hop: int = 0  # basin hopping: which descent of the chains this step belongs to
    host: HostView | None = None  # the same values as lists, when the engine read them back whole
    rows: torch.Tensor | None = None  # the batch rows the tensors hold (None: every row, in order)
    floor: float = math.inf  # the lowest f of the rows the tensors no longer hold (they stopped)

    def position(self, r: int) -> int | None:
        """Where batch row ``r`` is in this step's tensors (``None``: it stopped and is not held)."""
        if self.rows is None:
            return r
        at = (self.rows == r).nonzero()
        return int(at[0, 0]) if at.numel() else None

    def step_norms(self) -> torch.Tensor:
        """``step`` as a tensor, whichever way the engine held it."""
        if self.step is not None:
            return self.step
        return torch.tensor(self.host.step, dtype=self.F.dtype, device=self.F.device)  # type: ignore[union-attr]

    def best_f(self) -> float | None:
        """The lowest minimized f over all rows at this step (``None`` when no row's f is finite)."""
        F = self.F
        best = float(torch.where(torch.isfinite(F), F, math.inf).amin()) if F.numel() else math.inf
        best = min(best, self.floor)
        return best if math.isfinite(best) else None

    @property
    def f(self) -> float:
        """The best f over the rows, in the user's sign (what a progress bar shows)."""
        best = self.best_f()
        return math.nan if best is None else self.sign * best
