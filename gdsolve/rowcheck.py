"""The stationarity check of :mod:`gdsolve.stationarity`, for many rows at once.

A batch needs a verdict for every row that stopped on ``eps`` or ``ftol``
(converged or stalled?) to count them and to decide which rows found a local
minimum. This module makes the same check -- the Newton distance ``|H|^-1 g``
within ``RTOL`` of each variable's own size, one Newton step shrinking the
gradient fourfold, and the kink probe where f has no curvature -- with one
backward pass per variable for all rows together, in chunks that bound the
memory of the ``(n, d, d)`` Hessians. The rows a result reports in full are
judged again by :func:`gdsolve.stationarity.check` itself, which also words
the diagnosis; ``tests/test_rowcheck.py`` checks that both agree.
"""

from __future__ import annotations

import torch

from .stationarity import _NOISE, _ROUNDING, MAX_VARIABLES, NEWTON_SHRINK, RTOL

CHUNK_ELEMENTS = 1 << 22  # Hessian entries per chunk (32 MiB in float64)


def stationary_rows(objective: object, X: torch.Tensor, seen: torch.Tensor, free: torch.Tensor | None = None) -> torch.Tensor:
    """Per row of ``X`` (n, d): is it a stationary point of the minimized function?

    ``seen`` (n, d) is each variable's largest ``|x|`` in the row's run;
    ``free`` (n, d) marks the variables free to move (with bounds). Rows where
    the check cannot be made (more than :data:`MAX_VARIABLES` variables, a
    curvature that is not finite) count as stationary, as in the single-row check.
    """
    n, d = X.shape
    device = X.device
    if d > MAX_VARIABLES or n == 0:
        return torch.ones(n, dtype=torch.bool, device=X.device)
    if X.device.type == "mps":  # the check needs float64, which mps does not have
        X, seen = X.cpu(), seen.cpu()
        free = None if free is None else free.cpu()
    size = max(1, CHUNK_ELEMENTS // max(d * d, 1))
    parts = []
    for a in range(0, n, size):
        b = min(n, a + size)
        parts.append(_chunk(objective, X[a:b].double(), seen[a:b].double(), None if free is None else free[a:b]))
    return torch.cat(parts).to(device)


def _chunk(objective, X: torch.Tensor, seen: torch.Tensor, free: torch.Tensor | None) -> torch.Tensor:
    n, d = X.shape
    Xg = X.detach().requires_grad_(True)
    try:
        F = objective(Xg)
        (G,) = torch.autograd.grad(F.sum(), Xg, create_graph=True)
        cols = []
        for i in range(d):
            if G.requires_grad:
                (c,) = torch.autograd.grad(G[:, i].sum(), Xg, retain_graph=True, allow_unused=True)
            else:
                c = None
            cols.append(torch.zeros_like(X) if c is None else c)
    except RuntimeError:  # an operation without a second derivative: not checked
        return torch.ones(n, dtype=torch.bool, device=X.device)
    H = torch.stack(cols, 1).detach()  # H[r, i, j] = d2f / dx_i dx_j
    g = G.detach()
    F = F.detach()
    if free is not None:
        held = ~free
        g = g.masked_fill(held, 0.0)
        H = H.masked_fill(held.unsqueeze(1) | held.unsqueeze(2), 0.0)
        H = H + torch.diag_embed(held.to(H.dtype))
    ok = torch.isfinite(H).flatten(1).all(1) & torch.isfinite(g).all(1)
    H = torch.where(ok[:, None, None], H, torch.eye(d, dtype=H.dtype, device=H.device))
    g = torch.where(ok[:, None], g, torch.zeros_like(g))
    H = (H + H.transpose(1, 2)) / 2
    lam, V = torch.linalg.eigh(H)
    top = lam.abs().amax(1, keepdim=True)
    floor = top * _ROUNDING * max(d, 1)
    comp = (V.transpose(1, 2) @ g.unsqueeze(2)).squeeze(2)
    gnorm = g.norm(dim=1)
    flat = ((lam == 0) & (comp.abs() > _ROUNDING * gnorm.unsqueeze(1))).any(1) & (gnorm > 0)
    inv = comp / lam.abs().clamp(min=floor)
    inv = torch.where(torch.isfinite(inv), inv, torch.zeros_like(inv))
    delta = (V @ inv.unsqueeze(2)).squeeze(2)
    delta = torch.where((gnorm > 0).unsqueeze(1), delta, torch.zeros_like(delta))
    scale = torch.maximum(torch.maximum(seen, X.abs()), (X - delta).abs())
    rel = torch.where(delta == 0, torch.zeros_like(delta), delta.abs() / scale)
    rel = torch.nan_to_num(rel, nan=1.0, posinf=torch.inf)
    worst = rel.amax(1)
    verdict = worst <= RTOL
    # The model check: one Newton step must shrink the gradient (not at a cusp).
    model = verdict & (worst > _NOISE) & ~flat
    if bool(model.any()):
        sgn = torch.where(lam >= 0, 1.0, -1.0).to(lam.dtype)
        step = (V @ (comp / sgn / lam.abs().clamp(min=floor)).unsqueeze(2)).squeeze(2)
        idx = model.nonzero().squeeze(1)
        X1 = (X[idx] - step[idx]).detach().requires_grad_(True)
        F1 = objective(X1)
        (G1,) = torch.autograd.grad(F1.sum(), X1)
        if free is not None:
            G1 = G1.masked_fill(~free[idx], 0.0)
        shrinks = torch.isfinite(F1) & torch.isfinite(G1).all(1) & (G1.norm(dim=1) <= NEWTON_SHRINK * gnorm[idx])
        verdict[idx] = shrinks
    if bool(flat.any()):
        idx = flat.nonzero().squeeze(1)
        verdict[idx] = _kink_rows(objective, X[idx], F[idx], seen[idx], None if free is None else free[idx])
    return verdict | ~ok


def _kink_rows(objective, X: torch.Tensor, F: torch.Tensor, seen: torch.Tensor, free: torch.Tensor | None) -> torch.Tensor:
    """The kink probe of :func:`gdsolve.stationarity._kink_minimum`, per row."""
    n, d = X.shape
    h = RTOL * torch.maximum(seen, X.abs())
    if free is not None:
        h = h * free.to(h.dtype)
    eye = torch.eye(d, dtype=X.dtype, device=X.device)
    probes = torch.cat([X.unsqueeze(1) + eye * h.unsqueeze(1), X.unsqueeze(1) - eye * h.unsqueeze(1)], 1)
    with torch.no_grad():
        fp = objective(probes.reshape(-1, d)).reshape(n, 2 * d)
    return torch.isfinite(fp).all(1) & (fp.amin(1) >= F)
