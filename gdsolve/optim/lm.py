"""Levenberg-Marquardt for least squares, batched over starts, on autograd's Jacobian.

A fit minimizes ``cost(p) = 1/2 * sum_i rho(r_i(p)**2)`` over the parameters
``p``, where ``r`` are the (weighted) residuals and ``rho`` is the loss
(``linear``: plain least squares). Gradient descent on that cost crawls along
the narrow valleys least-squares problems have; Levenberg-Marquardt uses the
Jacobian ``J = dr/dp`` to take Gauss-Newton steps, damped by ``lambda``::

    (J^T J + lambda * D^2) delta = -J^T r

with ``D`` the column norms of ``J`` (Moré's scaling, so a parameter of size
1e-4 and one of size 500 are treated alike). Each step is solved through a
QR factorization of ``J`` and an SVD of its small ``R`` factor, never by
forming ``J^T J`` (which squares the condition number and loses the digits
NIST's harder problems need). ``lambda`` is not updated by a rule of its
own: the damping is a trust region, as MINPACK's and scipy's. A step is the
Gauss-Newton step (``lambda = 0``) where that lies within ``||D delta|| <=
radius``, else the damped step that reaches the radius, ``lambda`` solved
for it (:func:`_step`); the radius shrinks to a quarter of a step that
realized less than a quarter of the decrease the quadratic model promised,
and doubles after one that did better than three quarters and reached the
edge (scipy's ``update_tr_radius``).

Why our own code: ``torch.optim`` has no least-squares method, and
pytorch-minimize's ``least_squares`` solves one problem at a time (no batch of
starts), takes no row mask, and its trust-region steps use ``lsmr``'s
approximate solves; the NIST benchmark (``benchmarks/nist_strd.py``) asks for
6 correct digits from every certified start, which needs exact steps.

Robust losses follow scipy's ``least_squares``: with ``z = (r/f_scale)**2``,
``rho`` is ``z`` (linear), ``2*(sqrt(1+z)-1)`` (soft_l1), ``z`` or
``2*sqrt(z)-1`` past 1 (huber), ``log(1+z)`` (cauchy); ``r`` and ``J`` are
rescaled by ``rho'`` and ``rho''`` so the same step solves the robust problem
(Triggs et al., "Bundle adjustment: a modern synthesis", 2000).

The state is one :class:`LMState` of tensors with a leading batch dimension;
:func:`init` builds it and :func:`update` makes one step in every row that is
still running. Rows that stopped keep their values: a row mask applies to the
whole state.

Example:
    >>> import torch
    >>> x = torch.tensor([0.0, 1.0, 2.0, 3.0], dtype=torch.float64)
    >>> y = 2.0 * torch.exp(0.5 * x)
    >>> def residuals(P): return y - P[:, :1] * torch.exp(P[:, 1:] * x)
    >>> s = solve(residuals, torch.tensor([[1.0, 0.1]], dtype=torch.float64))
    >>> [round(v, 9) for v in s.P[0].tolist()], RULES[int(s.rule[0])] in ("ftol", "xtol", "gtol")
    ([2.0, 0.5], True)
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import NamedTuple

import torch

from ..core.errors import OptionError, shown
from ..core.settings import DEFAULT_F_SCALE, FIT_FTOL, FIT_GTOL, FIT_MAX_ITER, FIT_XTOL, LOSSES

Residuals = Callable[[torch.Tensor], torch.Tensor]


#: Why a row stopped; index 0 is "still running". The names match the stop rules in :mod:`gdsolve.core.status`.
RULES = ("running", "ftol", "xtol", "gtol", "max_iter", "nonfinite", "time_limit", "interrupted")
RUNNING, FTOL, XTOL, GTOL, MAX_ITER, NONFINITE, TIME_LIMIT, INTERRUPTED = range(len(RULES))

#: Defaults: tight, because a fit is judged by its digits (NIST asks for 6 and more);
#: Levenberg-Marquardt converges quadratically near the answer, so they cost few steps.
DEFAULT_FTOL, DEFAULT_XTOL, DEFAULT_GTOL, DEFAULT_MAX_ITER = FIT_FTOL, FIT_XTOL, FIT_GTOL, FIT_MAX_ITER


class LMState(NamedTuple):
    """Everything a Levenberg-Marquardt step needs, one row per start.

    Attributes:
        P: parameters ``(B, p)``.
        r: residuals at ``P`` ``(B, n)``, before the loss's rescaling.
        J: their Jacobian ``(B, n, p)``.
        cost: ``1/2 sum rho(r**2)`` ``(B,)``.
        radius: the trust region ``||D delta|| <= radius`` ``(B,)``.
        D: column scales ``(B, p)``, the largest column norms of ``J`` seen.
        nit: steps tried ``(B,)``; ``nfev``: residual evaluations.
        rule: index into :data:`RULES` of the rule that stopped the row (0: running).
        value: what that rule measured, for the message.
    """

    P: torch.Tensor
    r: torch.Tensor
    J: torch.Tensor
    cost: torch.Tensor
    radius: torch.Tensor
    D: torch.Tensor
    nit: torch.Tensor
    nfev: torch.Tensor
    rule: torch.Tensor
    value: torch.Tensor


def loss_terms(z: torch.Tensor, loss: str) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``rho(z)``, ``rho'(z)``, ``rho''(z)`` for ``z = (r/f_scale)**2``."""
    if loss == "linear":
        return z, torch.ones_like(z), torch.zeros_like(z)
    if loss == "soft_l1":
        t = 1 + z
        return 2 * (t.sqrt() - 1), t.rsqrt(), -0.5 * t.pow(-1.5)
    if loss == "huber":
        big = z > 1
        zs = torch.where(big, z, torch.ones_like(z))
        return (torch.where(big, 2 * zs.sqrt() - 1, z), torch.where(big, zs.rsqrt(), torch.ones_like(z)),
                torch.where(big, -0.5 * zs.pow(-1.5), torch.zeros_like(z)))
    if loss == "cauchy":
        return torch.log1p(z), 1 / (1 + z), -1 / (1 + z) ** 2
    raise OptionError(f"{{loss}} must be one of {', '.join(LOSSES)}, not {shown(loss)}")


def cost_of(r: torch.Tensor, loss: str, f_scale: float) -> torch.Tensor:
    """``1/2 f_scale**2 sum rho((r/f_scale)**2)`` per row; non-finite where ``r`` is."""
    if loss == "linear":
        return 0.5 * (r * r).sum(-1)
    return 0.5 * f_scale**2 * loss_terms((r / f_scale) ** 2, loss)[0].sum(-1)


def weighted(r: torch.Tensor, J: torch.Tensor, loss: str, f_scale: float) -> tuple[torch.Tensor, torch.Tensor]:
    """``r`` and ``J`` rescaled so a Gauss-Newton step on them is a step on the robust cost (scipy's rule)."""
    return _robust(r, J, loss, f_scale)[:2]


def _robust(r: torch.Tensor, J: torch.Tensor, loss: str,
            f_scale: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """:func:`weighted`'s ``r`` and ``J``, and ``sqrt(rho')`` per residual (the gradient's own weights)."""
    if loss == "linear":
        return r, J, torch.ones_like(r)
    z = (r / f_scale) ** 2
    _, d1, d2 = loss_terms(z, loss)
    scale = (d1 + 2 * d2 * z).clamp_min(torch.finfo(r.dtype).eps).sqrt()
    return r * (d1 / scale), J * scale.unsqueeze(-1), d1.sqrt()


def jacobian(residuals: Residuals, P: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The residuals at ``P`` and their Jacobian ``(B, n, p)`` by autograd: forward mode made of reverse passes.

    Row ``b`` of the residuals depends on row ``b`` of ``P`` only. One
    backward pass with a free cotangent ``u`` builds ``g(u) = J^T u`` as a
    graph, linear in ``u``; differentiating ``g``'s column ``j`` (summed over
    rows) by ``u`` gives ``J``'s column ``j`` in every row: ``p + 1`` passes,
    whatever the number of data rows or starts. Not ``torch.func.jvp`` nor
    dual numbers: both reach torch's Python references, whose first call
    imports the compiler stack (a second of start-up for a small fit).
    """
    P = P.detach().requires_grad_(True)
    p = P.shape[1]
    with torch.enable_grad():
        out = residuals(P)
        if not out.requires_grad:  # residuals that do not depend on the parameters
            return out.detach(), torch.zeros(*out.shape, p, dtype=out.dtype, device=out.device)
        u = torch.zeros_like(out, requires_grad=True)
        (g,) = torch.autograd.grad(out, P, u, create_graph=True)
        cols = []
        for j in range(p):
            col = None
            if g.requires_grad:
                (col,) = torch.autograd.grad(g[:, j].sum(), u, retain_graph=j < p - 1, allow_unused=True)
            cols.append(torch.zeros_like(out) if col is None else col)
    return out.detach(), torch.stack(cols, dim=-1).detach()


def init(residuals: Residuals, P0: torch.Tensor, *, loss: str = "linear", f_scale: float = DEFAULT_F_SCALE) -> LMState:
    """The state at the starts ``P0`` ``(B, p)``: residuals, Jacobian, cost, first trust region."""
    B = P0.shape[0]
    r, J = jacobian(residuals, P0)
    cost = cost_of(r, loss, f_scale)
    D = _column_norms(J, torch.ones_like(P0))
    # The first trust region is the scaled size of the start (scipy's trf with x_scale="jac"; MINPACK uses 100x).
    radius = (D * P0).norm(dim=-1)
    radius = torch.where((radius > 0) & torch.isfinite(radius), radius, torch.ones_like(radius))
    finite = torch.isfinite(cost) & torch.isfinite(J).flatten(1).all(-1)
    rule = torch.where(finite, torch.zeros(B, dtype=torch.long, device=P0.device),
                       torch.full((B,), NONFINITE, dtype=torch.long, device=P0.device))
    zeros = torch.zeros(B, dtype=torch.long, device=P0.device)
    return LMState(P0.detach().clone(), r, J, cost, radius, D, zeros, zeros + 1, rule, torch.zeros_like(cost))


def _column_norms(J: torch.Tensor, previous: torch.Tensor) -> torch.Tensor:
    norms = torch.nan_to_num(J.norm(dim=1), nan=0.0, posinf=0.0)
    D = torch.maximum(previous, norms)
    return torch.where(D > 0, D, torch.ones_like(D))


def _step(r: torch.Tensor, J: torch.Tensor, D: torch.Tensor, radius: torch.Tensor) -> torch.Tensor:
    """The step within the trust region, for every row.

    Through QR of ``J D^-1`` and an SVD of its ``R``: with ``c = U^T Q^T r`` the
    scaled step is ``-V diag(s/(s^2+lambda)) c``. Where the Gauss-Newton step
    (``lambda = 0``) is longer than the radius, ``lambda`` solves
    ``||step(lambda)|| = radius`` by Newton's method on ``1/||step||`` (Moré
    1978; Nocedal and Wright, algorithm 4.3), which converges from 0 monotonically.
    """
    Js = J / D.unsqueeze(1)
    Q, R = torch.linalg.qr(Js)
    qtr = (Q.transpose(1, 2) @ r.unsqueeze(-1)).squeeze(-1)
    U, S, Vh = torch.linalg.svd(R)
    c = (U.transpose(1, 2) @ qtr.unsqueeze(-1)).squeeze(-1)
    keep = S > S[:, :1] * (S.shape[-1] * torch.finfo(S.dtype).eps)  # the pseudo-inverse's rank
    S2 = S * S

    def parts(lam: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        denom = S2 + lam.unsqueeze(-1)
        coef = torch.where(keep | (lam.unsqueeze(-1) > 0), S * c / denom.clamp_min(1e-300), torch.zeros_like(S))
        return coef, denom

    lam = torch.zeros_like(radius)
    coef, denom = parts(lam)
    norm = coef.norm(dim=-1)
    outside = norm > radius
    for _ in range(30):
        if not bool(outside.any()):
            break
        q2 = (coef * coef / denom.clamp_min(1e-300)).sum(-1)
        update = (norm / radius - 1) * norm * norm / q2.clamp_min(1e-300)
        lam = torch.where(outside, lam + update.clamp_min(0), lam)
        coef, denom = parts(lam)
        norm = coef.norm(dim=-1)
        outside = outside & ((norm - radius).abs() > 1e-3 * radius)
    ds = -(Vh.transpose(1, 2) @ coef.unsqueeze(-1)).squeeze(-1)
    return ds / D


def _held(P: torch.Tensor, direction: torch.Tensor, lower: torch.Tensor | None,
          upper: torch.Tensor | None) -> torch.Tensor:
    """Where a parameter sits on a bound and ``direction`` points out of the box ``(B, p)``."""
    out = torch.zeros_like(P, dtype=torch.bool)
    if lower is not None:
        out |= (P <= lower) & (direction < 0)
    if upper is not None:
        out |= (P >= upper) & (direction > 0)
    return out


def _bounded_step(rw: torch.Tensor, Jw: torch.Tensor, g: torch.Tensor, P: torch.Tensor, D: torch.Tensor,
                  radius: torch.Tensor, lower: torch.Tensor | None,
                  upper: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
    """The step, and the free parameters ``(B, p)``: an active-set trust region.

    A parameter on a bound that steepest descent (``-g``) pushes out is held
    there, and the step is solved in the free parameters' subspace; a
    parameter on a bound that this step still pushes out is held too, and the
    step solved again (at most ``p`` times). Then the step is projected into
    the box, so a parameter that would cross its bound stops on it, and is held
    or freed by the same test at the next step. Without bounds, every parameter is free.
    """
    free = ~_held(P, -g, lower, upper)
    delta = _step(rw, Jw * free.unsqueeze(1), D, radius) * free
    if lower is None and upper is None:
        return delta, free
    for _ in range(P.shape[1]):
        out = free & _held(P, delta, lower, upper)
        if not bool(out.any()):
            break
        free = free & ~out
        delta = _step(rw, Jw * free.unsqueeze(1), D, radius) * free
    trial = P + delta
    if lower is not None:
        trial = torch.maximum(trial, lower)
    if upper is not None:
        trial = torch.minimum(trial, upper)
    return trial - P, free


def update(state: LMState, residuals: Residuals, *, active: torch.Tensor, loss: str = "linear",
           f_scale: float = DEFAULT_F_SCALE, lower: torch.Tensor | None = None, upper: torch.Tensor | None = None,
           ftol: float = DEFAULT_FTOL, xtol: float = DEFAULT_XTOL, gtol: float = DEFAULT_GTOL) -> LMState:
    """One trial step in each ``active`` row; accepted where it lowers the cost as the model said it would."""
    s = state
    idx = active.nonzero().squeeze(-1)
    if idx.numel() == 0:
        return s
    P, r, J, D, radius, cost = s.P[idx], s.r[idx], s.J[idx], s.D[idx], s.radius[idx], s.cost[idx]
    rw, Jw, root = _robust(r, J, loss, f_scale)
    g = (Jw.transpose(1, 2) @ rw.unsqueeze(-1)).squeeze(-1)  # the cost's gradient, sum rho' r J
    delta, free = _bounded_step(rw, Jw, g, P, D, radius, lower, upper)
    # gtol: the largest cosine between the residuals and a free column of J, both weighted by sqrt(rho')
    # (MINPACK's scale-free test; g = sum (sqrt(rho') r)(sqrt(rho') J), so the cosine is at most 1, for any
    # loss). A parameter held on its bound is out of the test: the projected gradient.
    Jg = J * root.unsqueeze(-1)
    cosine = ((g * free).abs() / (Jg.norm(dim=1) * (root * r).norm(dim=-1, keepdim=True)).clamp_min(1e-300)).amax(-1)
    trial = P + delta
    r_new = residuals(trial).detach()
    cost_new = cost_of(r_new, loss, f_scale)
    Jd = (Jw @ delta.unsqueeze(-1)).squeeze(-1)
    predicted = -((g * delta).sum(-1) + 0.5 * (Jd * Jd).sum(-1))
    actual = cost - cost_new
    ok_new = torch.isfinite(cost_new)
    # Both reductions carry the cost's rounding: below it, their ratio is noise, so each gets that much added
    # (Conn, Gould and Toint, "Trust-region methods", 17.4.2): a step the model still sees is taken.
    noise = 10 * torch.finfo(cost.dtype).eps * cost.abs()
    ratio = torch.where(ok_new & (predicted > 0), (actual + noise) / (predicted + noise).clamp_min(1e-300),
                        torch.full_like(cost, -1.0))
    accept = ok_new & (ratio > 1e-4)

    step_size = (D * delta).norm(dim=-1)
    size = (D * P).norm(dim=-1)
    # The trust region: shrink it to a quarter of a step that did worse than a quarter of its promise;
    # double it after a step that did better than 3/4 and reached its edge (scipy's update_tr_radius).
    new_radius = torch.where(ratio < 0.25, 0.25 * step_size,
                             torch.where((ratio > 0.75) & (step_size >= 0.95 * radius), 2 * radius, radius))
    new_radius = torch.where(new_radius > 0, new_radius, 0.25 * radius)

    rule = torch.zeros_like(idx)
    value = torch.zeros_like(cost)
    # The first rule that holds names the stop.
    small_g = (cosine < gtol) | (cost == 0)
    small_f = accept & (actual.abs() <= ftol * cost) & (predicted <= ftol * cost) & (ratio > 0.25)
    small_x = (accept & (step_size <= xtol * (xtol + size))) | (~accept & (new_radius <= xtol * (xtol + size)))
    rule = torch.where(small_g, torch.full_like(rule, GTOL), rule)
    value = torch.where(small_g, cosine, value)
    rule = torch.where((rule == 0) & small_f, torch.full_like(rule, FTOL), rule)
    value = torch.where(rule == FTOL, actual.abs() / cost.clamp_min(1e-300), value)
    rule = torch.where((rule == 0) & small_x, torch.full_like(rule, XTOL), rule)
    value = torch.where(rule == XTOL, torch.where(accept, step_size, new_radius) / (xtol + size), value)

    # A step is only taken where the gtol test did not already hold at P.
    take = accept & (rule != GTOL)
    P_out = torch.where(take.unsqueeze(-1), trial, P)
    r_out, J_out, cost_out, D_out = r, J, cost, D
    if take.any():
        t = take.nonzero().squeeze(-1)
        r_t, J_t = jacobian(residuals, trial[t])
        r_out, J_out, cost_out = r.clone(), J.clone(), cost.clone()
        r_out[t], J_out[t], cost_out[t] = r_t, J_t, cost_new[t]
        D_out = D.clone()
        D_out[t] = _column_norms(J_t, D[t])
        bad = ~torch.isfinite(J_t).flatten(1).all(-1)
        if bad.any():
            rule[t[bad]] = NONFINITE
    return s._replace(
        P=s.P.index_copy(0, idx, P_out), r=s.r.index_copy(0, idx, r_out), J=s.J.index_copy(0, idx, J_out),
        cost=s.cost.index_copy(0, idx, cost_out), D=s.D.index_copy(0, idx, D_out),
        radius=s.radius.index_copy(0, idx, new_radius),
        nit=s.nit.index_add(0, idx, torch.ones_like(idx)),
        nfev=s.nfev.index_add(0, idx, torch.ones_like(idx)),
        rule=s.rule.index_copy(0, idx, rule), value=s.value.index_copy(0, idx, value),
    )


def solve(residuals: Residuals, P0: torch.Tensor, *, loss: str = "linear", f_scale: float = DEFAULT_F_SCALE,
          lower: torch.Tensor | None = None, upper: torch.Tensor | None = None, max_iter: int = DEFAULT_MAX_ITER,
          ftol: float = DEFAULT_FTOL, xtol: float = DEFAULT_XTOL, gtol: float = DEFAULT_GTOL, time_limit: float | None = None,
          callback: Callable[[LMState], None] | None = None) -> LMState:
    """Run :func:`update` until every row has stopped; ``callback(state)`` after each step.

    A Ctrl-C ends the rows still running with the ``interrupted`` rule and returns the state.
    """
    check_settings(loss, f_scale, ftol, xtol, gtol, f_scale_given=f_scale != DEFAULT_F_SCALE)
    state = init(residuals, P0, loss=loss, f_scale=f_scale)
    t0 = time.monotonic()
    try:
        while True:
            running = state.rule == RUNNING
            if time_limit is not None and time.monotonic() - t0 > time_limit:
                return _stop(state, running, TIME_LIMIT)
            state = _stop(state, running & (state.nit >= max_iter), MAX_ITER)
            running = state.rule == RUNNING
            if not bool(running.any()):
                return state
            state = update(state, residuals, active=running, loss=loss, f_scale=f_scale, lower=lower, upper=upper,
                           ftol=ftol, xtol=xtol, gtol=gtol)
            if callback is not None:
                callback(state)
    except KeyboardInterrupt:
        return _stop(state, state.rule == RUNNING, INTERRUPTED)


def best_row(cost: torch.Tensor) -> int:
    """The row with the lowest finite cost (row 0 when none is finite)."""
    finite = torch.where(torch.isfinite(cost), cost, torch.full_like(cost, math.inf))
    return int(finite.argmin()) if bool(torch.isfinite(finite).any()) else 0


def _stop(state: LMState, rows: torch.Tensor, rule: int) -> LMState:
    """``rows`` end with ``rule``."""
    return state._replace(rule=torch.where(rows, torch.full_like(state.rule, rule), state.rule))


def check_settings(loss: str, f_scale: float, ftol: float, xtol: float, gtol: float, *,
                   f_scale_given: bool = True) -> None:
    """Refuse a loss, scale or tolerance lm cannot use, naming it (before any work).

    ``f_scale_given``: the caller set ``f_scale`` (rather than taking the default), which the
    linear loss refuses: it has no scale, and an option that looks applied must be."""
    if not isinstance(loss, str) or loss not in LOSSES:
        raise OptionError(f"{{loss}} must be one of {', '.join(LOSSES)}, not {shown(loss)}")
    if not (isinstance(f_scale, (int, float)) and not isinstance(f_scale, bool) and 0 < f_scale < math.inf):
        raise OptionError(f"{{f_scale}} must be a positive number, got {shown(f_scale)}")
    if loss == "linear" and f_scale_given:  # it would be ignored: an option that looks applied must be
        raise OptionError("{f_scale} sets where a robust loss starts to weigh large residuals less; the linear "
                          "loss has no such point, so it would change nothing: add "
                          "[[--loss soft_l1||loss='soft_l1']] (or huber, cauchy), or leave it out")
    for name, tol in (("ftol", ftol), ("xtol", xtol), ("gtol", gtol)):
        # > 0: gtol's test is strict (cosine < gtol), so 0 could never hold; < 1: a relative measure.
        if not (isinstance(tol, (int, float)) and not isinstance(tol, bool) and 0 < tol < 1):
            raise OptionError(f"{{{name}}} must be a number in (0, 1), got {shown(tol)}")
