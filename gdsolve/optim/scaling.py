"""Automatic scaling of badly scaled variables: L-BFGS iterates in ``z = x / D``, ``D`` from the Hessian's diagonal.

A logistic regression on an income column in dollars has one coefficient
near 1e-5 beside an intercept near 1: the curvature of the objective along
the two differs by 1e10. L-BFGS starts from a gradient step, whose length
is set by the steep variable, and its line search then cannot move the flat
one: the run stops after two steps, far from the minimum. A statistician
rescales the column by hand; here the engine does it, as a change of
variables ``x = D z`` with one positive ``D_i`` per variable and per row:

* ``D_i = |d2f/dx_i2|^(-1/2)`` at the start point, so that in ``z`` every
  variable has unit curvature (the Jacobi preconditioner). The diagonal is
  exact: one Hessian-vector product per variable, once, before the first
  step (:func:`hessian`, the same autograd pass the stationarity check makes);
* each ``D_i`` is rounded to a power of two, so that ``x -> z -> x`` is
  exact in floating point: a row that does not move keeps its x to the bit;
* a row is scaled only when its variables' curvatures differ by more than
  :data:`SPREAD` (a well-scaled problem runs exactly as without scaling),
  and a variable whose curvature is zero or not finite at the start gets
  the row's typical factor.

The method (:func:`update`) sees ``z`` and ``D * grad f``; everything else --
the stopping rules, the stationarity check, the bounds (a box on x is a box
on z), every record, trace row and callback -- sees ``x``.

Example:
    >>> import torch
    >>> f = lambda X: X[:, 0] ** 2 / 2 + 1e8 * X[:, 1] ** 2  # curvatures 1 and 2e8
    >>> X = torch.tensor([[1.0, 1.0]], dtype=torch.float64)
    >>> factors(hessian(f, X, diagonal=True)[2]).tolist()  # 1 and 1/sqrt(2e8) = 7.07e-05, as powers of two
    [[1.0, 6.103515625e-05]]
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from . import rowlbfgs

#: The kind of scaling a result reports.
KIND = "hessian-diagonal"
#: A row is scaled when the largest and smallest curvature of its variables differ by more than this.
#: Measured on a logistic regression (intercept and one covariate): unscaled, L-BFGS still converges with the
#: covariate in the hundreds (a spread near 1e5, in twice the iterations) and stalls after 2 or 3 steps with it
#: in the thousands (1e7); scaled, it takes 12 iterations at any size. 1e3 keeps well-scaled problems
#: (Rosenbrock's usual start: 7) on the unscaled path, bit for bit.
SPREAD = 1e3
#: Above this many variables the diagonal (one backward pass each) is not computed: no scaling.
MAX_VARIABLES = 500


def hessian(f: Callable[[torch.Tensor], torch.Tensor], X: torch.Tensor, *,
            diagonal: bool = False) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(f, grad f, Hessian)`` at every row of ``X`` (n, d), by autograd: one backward pass per variable.

    The Hessian is ``(n, d, d)`` (``H[r, i, j] = d2f / dx_i dx_j``), or its diagonal ``(n, d)`` with
    ``diagonal=True``. An operation without a second derivative raises ``RuntimeError``.
    """
    d = X.shape[1]
    with torch.enable_grad():
        Xg = X.detach().requires_grad_(True)
        F = f(Xg)
        (G,) = torch.autograd.grad(F.sum(), Xg, create_graph=True)
        cols = []
        for i in range(d):
            c = None
            if G.requires_grad:
                (c,) = torch.autograd.grad(G[:, i].sum(), Xg, retain_graph=True, allow_unused=True)
            c = torch.zeros_like(X) if c is None else c.detach()
            cols.append(c[:, i] if diagonal else c)
    return F.detach(), G.detach(), torch.stack(cols, 1)


def factors(h: torch.Tensor, spread: float = SPREAD) -> torch.Tensor | None:
    """Each row's ``D`` (n, d) from the Hessian's diagonal ``h`` (n, d): ``|h_i|^(-1/2)`` as a power of two,
    ones in a row whose curvatures differ by less than ``spread``; ``None`` when no row is scaled.

    >>> factors(torch.tensor([[2.0, 3.0], [1.0, 1e6]], dtype=torch.float64)).tolist()
    [[1.0, 1.0], [1.0, 0.0009765625]]
    """
    h = h.abs()
    valid = torch.isfinite(h) & (h > 0)
    logh = torch.log2(torch.where(valid, h, torch.ones_like(h)))
    top = torch.where(valid, logh, torch.full_like(h, -math.inf)).amax(1)
    low = torch.where(valid, logh, torch.full_like(h, math.inf)).amin(1)
    on = (valid.sum(1) >= 2) & (top - low > math.log2(spread))
    if not bool(on.any()):
        return None
    e = torch.round(-0.5 * logh)
    # a variable without a finite, non-zero curvature here gets the row's typical factor
    typical = torch.round((e * valid).sum(1) / valid.sum(1).clamp(min=1))
    e = torch.where(valid, e, typical.unsqueeze(1))
    # D and 1/D must stay far inside the float range: 2**(e) with |e| below a quarter of the largest exponent
    limit = math.floor(math.log2(torch.finfo(h.dtype).max) / 4)
    e = e.clamp(-limit, limit)
    return torch.where(on.unsqueeze(1), torch.exp2(e), torch.ones_like(h))


def initial(f: Callable[[torch.Tensor], torch.Tensor], X: torch.Tensor) -> torch.Tensor | None:
    """The factors ``D`` (n, d) for the rows of ``X``, or ``None`` (no row scaled, too many variables,
    or no second derivative: the method then runs on x as it would without scaling)."""
    if X.shape[1] > MAX_VARIABLES or X.shape[1] < 2:
        return None
    try:
        h = hessian(f, X, diagonal=True)[2]
    except RuntimeError:  # an operation without a second derivative: run unscaled
        return None
    return factors(h)


def update(state: rowlbfgs.LBFGSState, X: torch.Tensor, G: torch.Tensor, F: torch.Tensor, lr: float | torch.Tensor,
           active: torch.Tensor, evaluate: rowlbfgs.EvalFG, D: torch.Tensor) -> rowlbfgs.Outcome:
    """:func:`gdsolve.optim.rowlbfgs.update_active` on ``z = X / D``, with its points given back in x.

    ``evaluate(Xs, rows)`` takes and gives x and ``grad f`` in x, as without scaling; ``D`` is ``(n, d)``
    for the rows of ``X``. The method's state (its history of steps and gradient changes) lives in z.
    """
    def evaluate_z(Zs: torch.Tensor, rows: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        Dr = D[rows]
        Fz, Gx = evaluate(Zs * Dr, rows)
        return Fz, Gx * Dr

    out = rowlbfgs.update_active(state, X / D, G * D, F, lr, active, evaluate_z)
    return out._replace(X=out.X * D, trial=out.trial * D)
