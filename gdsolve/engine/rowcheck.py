"""The stationarity check of :mod:`gdsolve.engine.stationarity`, for many rows at once, in bounded memory.

A batch needs a verdict for every row that stopped on ``eps`` or ``ftol``
(converged or stalled?) to count them and to decide which rows found a local
minimum. The rule is :func:`gdsolve.engine.stationarity.judge` itself (one
implementation for one start and for many); this module feeds it the rows in
chunks that bound the memory of the ``(n, d, d)`` Hessians, and keeps the
check in float64 on devices that lack it. The rows a result reports in full
are judged again by :func:`gdsolve.engine.stationarity.check`, which also words the
diagnosis; ``tests/test_rowcheck.py`` checks that both agree.
"""

from __future__ import annotations

import torch

from .stationarity import MAX_VARIABLES, judge

CHUNK_ELEMENTS = 1 << 22  # Hessian entries per chunk (32 MiB in float64)


def stationary_rows(objective: object, X: torch.Tensor, X0: torch.Tensor, free: torch.Tensor | None = None) -> torch.Tensor:
    """Per row of ``X`` (n, d): is it a stationary point of the minimized function?

    ``X0`` (n, d) is where each row's run started (the check measures each
    variable against its travel from there); ``free`` (n, d) marks the
    variables free to move (with bounds). Rows where the check cannot be made
    (more than :data:`MAX_VARIABLES` variables, a curvature that is not finite
    or has no second derivative) count as stationary, as in the single-row check.
    """
    n, d = X.shape
    device = X.device
    if d > MAX_VARIABLES or n == 0:
        return torch.ones(n, dtype=torch.bool, device=device)
    if X.device.type == "mps":  # the check needs float64, which mps does not have
        X, X0 = X.cpu(), X0.cpu()
        free = None if free is None else free.cpu()
    size = max(1, CHUNK_ELEMENTS // max(d * d, 1))
    parts = []
    for a in range(0, n, size):
        b = min(n, a + size)
        try:
            part = judge(objective, X[a:b].double(), X0[a:b].to(X.device).double(),
                         None if free is None else free[a:b]).stationary
        except RuntimeError:  # an operation without a second derivative: not checked
            part = torch.ones(b - a, dtype=torch.bool, device=X.device)
        parts.append(part)
    return torch.cat(parts).to(device)
