"""What the engine holds: its :class:`State`, one NamedTuple of per-row tensors.

What it hands out each iteration (:class:`~gdsolve.core.batchstep.BatchStep`) is a
record in :mod:`gdsolve.core.batchstep`, so that the layers above (tables, traces)
read it without importing the engine. Values are on the function the engine
minimizes (``-f`` when maximizing).
"""

from __future__ import annotations

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
