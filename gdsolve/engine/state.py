"""What the engine holds and what it hands out: its :class:`State`, a :class:`BatchStep` per
iteration, and the :class:`HostView` of a small batch's values read back as lists.

Values are on the function the engine minimizes (``-f`` when maximizing);
:meth:`BatchStep.f` and the records of :mod:`gdsolve.engine.records` give the user's.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch


class State(NamedTuple):
    """Everything the engine knows about its rows, as tensors, always for every row of the batch.

    A row stops when its ``code`` is set; from then on the loop holds its ``X`` by
    index and the ledger (:mod:`gdsolve.engine.ledger`) writes only the rows a
    change concerns. Values are on the minimized function. ``F`` and ``G`` are f
    and its gradient at the final ``X``: ``None`` while the loop runs, filled once
    by :meth:`~gdsolve.engine.records.BatchRecords.final`. The best point is kept
    lazily: a point is folded in when f stops decreasing after it, and when its
    row ends (see :meth:`~gdsolve.engine.ledger.Ledger._fold`).
    """

    X: torch.Tensor  # (B, d) each row's point
    F: torch.Tensor | None  # (B,) f at X
    G: torch.Tensor | None  # (B, d) its gradient
    method: tuple  # the method's own state (a NamedTuple of tensors)
    code: torch.Tensor  # (B,) int8 stop code, 0 while running (gdsolve.core.status.STOP_CODES)
    nit: torch.Tensor  # (B,) updates made (set when the row stops)
    fev: torch.Tensor  # (B,) f evaluations besides one per iteration (line-search trials)
    gev: torch.Tensor  # (B,) gradient evaluations besides one per iteration (L-BFGS's trials)
    last_step: torch.Tensor  # (B,) the row's last step norm
    last_fchange: torch.Tensor  # (B,) its last relative change in f (with ftol)
    last_t: torch.Tensor  # (B,) its last accepted line-search step length
    last_lr: torch.Tensor  # (B,) the rate of its last update
    ls_failed: torch.Tensor  # (B,) bool: its last line search found no decrease
    ls_nonfinite: torch.Tensor  # (B,) bool: ... and met a non-finite trial value
    backtracks: torch.Tensor  # (B,) non-finite trial points its searches backed away from
    best_f: torch.Tensor  # (B,) the lowest f seen
    best_x: torch.Tensor  # (B, d) where
    best_k: torch.Tensor  # (B,) at which iteration (-1: none yet)
    stop_k: torch.Tensor  # (B,) iteration of a non-finite value or blow-up
    bad_what: torch.Tensor  # (B,) int8: where the non-finite value was (AT_X, NEW_X, TRIAL)
    bad_f: torch.Tensor  # (B,) f there
    bad_g: torch.Tensor  # (B,) the gradient norm there
    bad_x: torch.Tensor  # (B, d) the point


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
