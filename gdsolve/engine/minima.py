"""Distinct local minima among many end points, without an all-pairs distance matrix.

Two end points are the same minimum when, as in MATLAB's ``MultiStart``,
they are close in x *and* in f:

* ``|x_j - x'_j| <= XTOL * S_j`` for every variable ``j``, where ``S_j =
  max(1, max |x_j|)`` over the points grouped (each variable's own scale in
  this run: a minimum at 1e6 is not split by rounding, one near 0 is judged
  in absolute terms);
* ``|f - f'| <= FTOL * max(1, |f|)``.

``XTOL`` is the stationarity check's ``RTOL`` (0.1%): a converged row lies
within that distance of its stationary point, so two rows that converged to
the same minimum lie within it of each other. The rule is applied in
``O(n log n)``: points are hashed to cells of side ``XTOL * S_j`` in x and
``FTOL * max(1, |f|)`` in f (one minimum's points share a cell or sit in
adjacent ones), each cell keeps its
best point, and the cells' representatives, sorted by f, are merged with
their neighbours in f order only while f stays within ``FTOL`` -- so 10^6
rows at a few hundred minima cost a sort, not 10^12 distances.

Example:
    >>> import torch
    >>> X = torch.tensor([[1.0, 2.0], [1.0000001, 2.0], [-1.0, 0.0]], dtype=torch.float64)
    >>> F = torch.tensor([0.0, 1e-12, 3.0], dtype=torch.float64)
    >>> [(m.row, m.count) for m in distinct(X, F)]
    [(0, 2), (2, 1)]
"""

from __future__ import annotations

from typing import NamedTuple

import torch

from .stationarity import RTOL

XTOL = RTOL
FTOL = 1e-4


class Cluster(NamedTuple):
    """One distinct minimum: the index of its best point, and how many points reached it."""

    row: int
    count: int


def distinct(X: torch.Tensor, F: torch.Tensor, xtol: float = XTOL, ftol: float = FTOL) -> list[Cluster]:
    """Group the points ``X`` (n, d) with values ``F`` (n,) into distinct minima, best (lowest f) first."""
    n = X.shape[0]
    if n == 0:
        return []
    X = X.double().cpu()
    F = F.double().cpu()
    scale = torch.clamp(X.abs().amax(0), min=1.0)  # S_j
    tol = xtol * scale
    # A cell is a box of side tol in x and a band of f: asinh(f) / ftol steps by about
    # ftol * max(1, |f|), so points far apart in f never share a cell.
    fband = torch.floor(torch.asinh(F) / ftol).unsqueeze(1)
    cells = torch.cat([torch.floor(X / tol), fband], 1).to(torch.int64)
    _, cell_of, counts = torch.unique(cells, dim=0, return_inverse=True, return_counts=True)
    m = counts.numel()
    # each cell's best point: order rows by f, keep the first row per cell
    order = torch.argsort(F, stable=True)
    first = torch.full((m,), n, dtype=torch.int64)
    first.scatter_reduce_(0, cell_of[order], torch.arange(n), reduce="amin")
    reps = order[first]  # row index of each cell's best point
    rep_f = F[reps]
    by_f = torch.argsort(rep_f, stable=True)
    reps, rep_f, counts = reps[by_f], rep_f[by_f], counts[by_f]
    rep_x = X[reps]
    label = torch.arange(m)
    ftols = ftol * torch.clamp(rep_f.abs(), min=1.0)
    edges_a, edges_b = [], []
    for off in range(1, m):
        close_f = (rep_f[off:] - rep_f[:-off]) <= ftols[:-off]
        if not bool(close_f.any()):
            break  # sorted by f: a larger offset is farther still
        close_x = ((rep_x[off:] - rep_x[:-off]).abs() <= tol).all(1)
        both = (close_f & close_x).nonzero().squeeze(1)
        edges_a.append(both)
        edges_b.append(both + off)
    if edges_a:
        a, b = torch.cat(edges_a), torch.cat(edges_b)
        while a.numel():  # connected components by repeated min-label propagation
            low = torch.minimum(label[a], label[b])
            new = label.clone()
            new.scatter_reduce_(0, a, low, reduce="amin")
            new.scatter_reduce_(0, b, low, reduce="amin")
            new = new[new]  # jump to the root
            if torch.equal(new, label):
                break
            label = new
    total = torch.zeros(m, dtype=torch.int64).scatter_add_(0, label, counts)
    roots = torch.unique(label)  # a root is its component's lowest-f representative (sorted order)
    return [Cluster(int(reps[r]), int(total[r])) for r in roots.tolist()]
