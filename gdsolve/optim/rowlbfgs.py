"""L-BFGS for a batch of independent rows: per-row history, per-row strong Wolfe search.

Why not ``torch.optim.LBFGS`` over the summed loss of all rows: it keeps one
curvature history and takes one step length for the whole parameter tensor,
so independent starts are coupled (two quadratics solved together end 5e-2
apart where each alone reaches 2e-11). Nor any other library: pytorch-minimize
and BoTorch's ``gen_candidates_torch`` also treat the batch as one problem,
and scipy's L-BFGS-B is one start per call. So this module writes torch's own
algorithm (``torch/optim/lbfgs.py``, one iteration per update, as
``torch.optim.LBFGS(max_iter=1)`` makes it) with every scalar of it -- iteration count, step
length, initial Hessian scale, history length, line-search bracket -- made a
per-row tensor:

* the history is a ring buffer of ``(m, B, d)`` tensors with a per-row write
  position and count (a row whose curvature pair fails ``y.s > 1e-10`` does
  not store it, as in torch), and a per-row ``history_size``;
* the two-loop recursion runs over the longest history, masking rows with
  fewer pairs;
* the strong Wolfe search (torch's ``_strong_wolfe``: bracket, then zoom with
  cubic interpolation) is a per-row state machine: every round evaluates all
  rows that need a trial point in one batched call.

``tests/test_rowlbfgs.py`` checks it against ``torch.optim.LBFGS`` at B = 1
(same iterates) and against independent runs at B > 1.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import torch

C1, C2 = 1e-4, 0.9  # torch's strong Wolfe constants
MAX_LS = 25  # evaluations per search, torch's default
TOLERANCE_CHANGE = 1e-9  # torch's bracket-width tolerance inside the search
CURVATURE_MIN = 1e-10  # y.s must exceed this for a pair to be stored (torch's rule)

EvalFG = Callable[[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]


class LBFGSState(NamedTuple):
    n_iter: torch.Tensor  # (B,) iterations made since the last reset
    d: torch.Tensor  # (B, d) last direction
    t: torch.Tensor  # (B,) last step length
    prev_g: torch.Tensor  # (B, d) gradient at the last iteration
    S: torch.Tensor  # (m, B, d) steps s
    Y: torch.Tensor  # (m, B, d) gradient changes y
    rho: torch.Tensor  # (m, B) 1 / y.s
    pos: torch.Tensor  # (B,) next write position in the ring
    num: torch.Tensor  # (B,) pairs stored
    H_diag: torch.Tensor  # (B,) scale of the initial inverse Hessian
    size: torch.Tensor  # (B,) each row's history_size


def init(X: torch.Tensor, history_size: torch.Tensor) -> LBFGSState:
    """Empty state for the rows of ``X``; ``history_size`` is ``(B,)`` integers."""
    B, d = X.shape
    m = int(history_size.max())
    z = torch.zeros(B, dtype=X.dtype, device=X.device)
    i = torch.zeros(B, dtype=torch.long, device=X.device)
    return LBFGSState(i, torch.zeros_like(X), z.clone(), torch.zeros_like(X),
                      X.new_zeros(m, B, d), X.new_zeros(m, B, d), X.new_zeros(m, B), i.clone(), i.clone(),
                      torch.ones_like(z), history_size.to(device=X.device, dtype=torch.long))


def reset(state: LBFGSState, rows: torch.Tensor) -> LBFGSState:
    """Forget the history of ``rows`` (a bool mask): they restart with a gradient step."""
    zero = torch.zeros_like(state.n_iter)
    return state._replace(n_iter=torch.where(rows, zero, state.n_iter), num=torch.where(rows, zero, state.num),
                          pos=torch.where(rows, zero, state.pos),
                          H_diag=torch.where(rows, torch.ones_like(state.H_diag), state.H_diag))


class Outcome(NamedTuple):
    X: torch.Tensor  # new points (rows that did not search are unchanged)
    state: LBFGSState
    t: torch.Tensor  # (B,) accepted step length (nan where no search ran)
    failed: torch.Tensor  # (B,) the search broke down; the row did not move and its history was reset
    nonfinite: torch.Tensor  # (B,) ... because a trial value was not finite
    unbounded: torch.Tensor  # (B,) a trial's f was -inf: f is unbounded below (divergence)
    trial: torch.Tensor  # (B, d) the trial point where f was -inf
    evaluations: torch.Tensor  # (B,) trial evaluations made
    backtracks: torch.Tensor  # (B,) non-finite trials the search backtracked from


def update(state: LBFGSState, X: torch.Tensor, G: torch.Tensor, F: torch.Tensor, lr: torch.Tensor,
           active: torch.Tensor, evaluate: EvalFG) -> Outcome:
    """One L-BFGS iteration for the ``active`` rows, as ``torch.optim.LBFGS(max_iter=1)`` makes it.

    ``evaluate(Xs, rows)`` returns ``(f, grad)`` at the points ``Xs`` for the
    row indices ``rows`` (the engine masks the gradient of frozen variables there).
    """
    B = X.shape[0]
    # torch returns without a step where the gradient is exactly zero (tolerance_grad 0).
    run = active & (G.abs().amax(1) > 0)
    n_iter = state.n_iter + run.long()
    first = run & (n_iter == 1)
    later = run & ~first
    # Curvature pair from the last iteration's step.
    y = G - state.prev_g
    s = state.d * state.t.unsqueeze(1)
    ys = (y * s).sum(1)
    store = later & (ys > CURVATURE_MIN)
    S, Y, rho, pos, num = state.S, state.Y, state.rho, state.pos, state.num
    if bool(store.any()):
        rows = store.nonzero().squeeze(1)
        p = pos[rows]
        # written in place: the engine owns the state and never reads an old one again
        S[p, rows] = s[rows]
        Y[p, rows] = y[rows]
        rho[p, rows] = 1.0 / ys[rows]
        pos = torch.where(store, (pos + 1) % state.size, pos)
        num = torch.where(store, torch.minimum(num + 1, state.size), num)
    H_diag = torch.where(store, ys / (y * y).sum(1), state.H_diag)
    H_diag = torch.where(first, torch.ones_like(H_diag), H_diag)
    d = _two_loop(G, S, Y, rho, pos, torch.where(first, torch.zeros_like(num), num), state.size, H_diag)
    d = torch.where(run.unsqueeze(1), d, state.d)
    prev_g = torch.where(run.unsqueeze(1), G, state.prev_g)
    t0 = torch.where(first, torch.clamp(1.0 / G.abs().sum(1), max=1.0) * lr, lr)
    gtd = (G * d).sum(1)
    search = run & ~(gtd > 0)  # torch stops (no step) when the direction is not downhill
    new_state = LBFGSState(n_iter, d, torch.where(run, t0, state.t), prev_g, S, Y, rho, pos, num, H_diag, state.size)
    nan = torch.full((B,), float("nan"), dtype=X.dtype, device=X.device)
    no = torch.zeros(B, dtype=torch.bool, device=X.device)
    Xn, t_out = X, nan
    failed, nonfinite, unbounded, trial = no, no.clone(), no.clone(), torch.zeros_like(X)
    evals = torch.zeros(B, dtype=torch.long, device=X.device)
    backtracks = torch.zeros_like(evals)
    idx = search.nonzero().squeeze(1)
    if idx.numel():
        ls = strong_wolfe(evaluate, idx, X[idx], t0[idx], d[idx], F[idx], G[idx], gtd[idx])
        t_out = nan.clone()
        t_out[idx] = ls.t
        ok = ~ls.failed
        Xn = X.clone()
        Xn[idx[ok]] = X[idx[ok]] + ls.t[ok].unsqueeze(1) * d[idx[ok]]
        failed = no.clone()
        failed[idx] = ls.failed
        nonfinite[idx] = ls.nonfinite
        unbounded[idx] = ls.unbounded
        trial[idx] = ls.trial
        evals[idx] = ls.evaluations
        backtracks[idx] = ls.backtracks
        new_state = new_state._replace(t=torch.where(search, torch.nan_to_num(t_out), new_state.t))
        new_state = reset(new_state, failed)
    return Outcome(Xn, new_state, t_out, failed, nonfinite, unbounded, trial, evals, backtracks)


def _two_loop(G: torch.Tensor, S: torch.Tensor, Y: torch.Tensor, rho: torch.Tensor, pos: torch.Tensor,
              num: torch.Tensor, size: torch.Tensor, H_diag: torch.Tensor) -> torch.Tensor:
    """``-H g`` by the two-loop recursion, newest pair first, each row over its own pairs."""
    q = -G
    n = int(num.max()) if num.numel() else 0
    if n == 0:
        return q * H_diag.unsqueeze(1)
    j = torch.arange(n, device=G.device).unsqueeze(1)
    idx = (pos.unsqueeze(0) - 1 - j) % size.unsqueeze(0)  # (n, B): idx[0] is each row's newest pair
    cols = torch.arange(G.shape[0], device=G.device).unsqueeze(0)
    # One gather puts every row's pairs newest first; rows with fewer pairs get rho 0 (no effect).
    S_ord, Y_ord = S[idx, cols], Y[idx, cols]
    rho_ord = rho[idx, cols] * (num.unsqueeze(0) > j).to(G.dtype)
    al = []
    for k in range(n):
        a = (S_ord[k] * q).sum(1) * rho_ord[k]
        al.append(a)
        q = q - a.unsqueeze(1) * Y_ord[k]
    r_ = q * H_diag.unsqueeze(1)
    for k in range(n - 1, -1, -1):
        be = (Y_ord[k] * r_).sum(1) * rho_ord[k]
        r_ = r_ + S_ord[k] * (al[k] - be).unsqueeze(1)
    return r_


def _cubic(x1: torch.Tensor, f1: torch.Tensor, g1: torch.Tensor, x2: torch.Tensor, f2: torch.Tensor,
           g2: torch.Tensor, lo: torch.Tensor | None = None, hi: torch.Tensor | None = None) -> torch.Tensor:
    """torch's ``_cubic_interpolate``, per row: the minimizer of the cubic through two points, clamped."""
    if lo is None or hi is None:
        lo, hi = torch.minimum(x1, x2), torch.maximum(x1, x2)
    d1 = g1 + g2 - 3 * (f1 - f2) / (x1 - x2)
    d2sq = d1 ** 2 - g1 * g2
    d2 = d2sq.clamp(min=0).sqrt()
    left = x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2 * d2))
    right = x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2 * d2))
    pos = torch.where(x1 <= x2, left, right)
    # python's min(max(p, lo), hi): a nan p stays nan
    clamped = torch.where(torch.isnan(pos), pos, torch.minimum(torch.maximum(pos, lo), hi))
    return torch.where(d2sq >= 0, clamped, (lo + hi) / 2)


class Search(NamedTuple):
    t: torch.Tensor
    failed: torch.Tensor
    nonfinite: torch.Tensor
    unbounded: torch.Tensor
    trial: torch.Tensor
    evaluations: torch.Tensor
    backtracks: torch.Tensor  # (n,) trials that were not finite, each followed by a shorter one


_BRACKET, _ZOOM, _DONE = 0, 1, 2


def strong_wolfe(evaluate: EvalFG, rows: torch.Tensor, X: torch.Tensor, t: torch.Tensor, d: torch.Tensor,
                 f: torch.Tensor, g: torch.Tensor, gtd: torch.Tensor, max_ls: int = MAX_LS) -> Search:
    """torch's ``_strong_wolfe`` for ``n`` rows at once; returns each row's accepted step length."""
    n = X.shape[0]
    dev, dt = X.device, X.dtype
    d_norm = d.abs().amax(1)
    phase = torch.full((n,), _BRACKET, dtype=torch.long, device=dev)
    ls_iter = torch.zeros(n, dtype=torch.long, device=dev)
    evals = torch.zeros(n, dtype=torch.long, device=dev)
    t_prev = torch.zeros(n, dtype=dt, device=dev)
    f_prev, g_prev, gtd_prev = f.clone(), g.clone(), gtd.clone()
    f_new, g_new, gtd_new = f.clone(), g.clone(), gtd.clone()
    bt = torch.zeros(n, 2, dtype=dt, device=dev)
    bf, bgtd = bt.clone(), bt.clone()
    bg = torch.zeros(n, 2, X.shape[1], dtype=dt, device=dev)
    low = torch.zeros(n, dtype=torch.long, device=dev)
    insuf = torch.zeros(n, dtype=torch.bool, device=dev)
    failed = torch.zeros(n, dtype=torch.bool, device=dev)
    nonfinite, unbounded = failed.clone(), failed.clone()
    trial = torch.zeros_like(X)
    ar = torch.arange(n, device=dev)
    need = torch.ones(n, dtype=torch.bool, device=dev)
    retry = torch.zeros(n, dtype=torch.bool, device=dev)  # backtracking from a non-finite trial
    backtracks = torch.zeros(n, dtype=torch.long, device=dev)
    t_bad = torch.full((n,), torch.inf, dtype=dt, device=dev)  # the shortest step known non-finite
    first = True
    while True:
        # A trial step that is not a positive finite number (a rate annealed
        # to zero) cannot be searched: the row fails without moving.
        bad_t = need & ~(torch.isfinite(t) & (t > 0))
        failed |= bad_t
        phase = torch.where(bad_t, _DONE, phase)
        need &= ~bad_t
        ev = need.clone()
        idx = ev.nonzero().squeeze(1)
        if idx.numel():
            pts = X[idx] + t[idx].unsqueeze(1) * d[idx]
            fe, ge = evaluate(pts, rows[idx])
            f_new[idx], g_new[idx] = fe, ge
            gtd_new[idx] = (ge * d[idx]).sum(1)
            evals[idx] += 1
            if not first:
                ls_iter[idx] += 1
            bad = ~(torch.isfinite(fe) & torch.isfinite(ge).all(1))
            if bool(bad.any()):
                b = idx[bad]
                ev[b] = False
                trial[b] = pts[bad]
                # f = -inf: f is unbounded below along d, which is divergence, not a step too long.
                down = fe[bad] == -torch.inf
                # nan, +inf, or no gradient: the trial left f's domain (log of 0, sqrt below 0) or
                # overflowed. Backtrack: halve the way back to the last step known finite.
                back = b[~down & (ls_iter[b] < max_ls)]
                spent = b[~down & (ls_iter[b] >= max_ls)]
                if spent.numel():  # out of evaluations: keep the best finite step, if it decreased f enough
                    zoomed = phase[spent] == _ZOOM
                    known = torch.where(zoomed, bt[spent, low[spent]], t_prev[spent])
                    known_f = torch.where(zoomed, bf[spent, low[spent]], f_prev[spent])
                    ok = (known > 0) & (known_f <= f[spent] + C1 * known * gtd[spent])
                    keep_t, keep_f = known[ok], known_f[ok]
                    r = spent[ok]
                    bt[r], bf[r] = keep_t.unsqueeze(1).expand(-1, 2), keep_f.unsqueeze(1).expand(-1, 2)
                    low[r] = 0
                    spent = spent[~ok]
                stuck = torch.cat([b[down], spent])
                failed[stuck] = nonfinite[stuck] = True
                unbounded[b[down]] = True
                phase[b[~(torch.isin(b, back))]] = _DONE
                if back.numel():
                    backtracks[back] += 1
                    t_bad[back] = torch.minimum(t_bad[back], t[back])
                    known = torch.where(phase[back] == _ZOOM, bt[back, low[back]], t_prev[back])
                    t[back] = known + 0.5 * (t[back] - known)
                    retry[back] = True
        first = False
        retrying = retry.clone()
        retry.zero_()
        need = retrying.clone()
        in_bracket = ev & (phase == _BRACKET)
        in_zoom = ev & (phase == _ZOOM)
        # --- bracket phase, after an evaluation
        out_of_evals = in_bracket & (ls_iter >= max_ls)
        if bool(out_of_evals.any()):
            m = out_of_evals
            bt[m] = torch.stack([torch.zeros_like(t[m]), t[m]], 1)
            bf[m] = torch.stack([f[m], f_new[m]], 1)
            bg[m] = torch.stack([g[m], g_new[m]], 1)
            low[m] = (bf[m, 0] > bf[m, 1]).long()
            phase[m] = _DONE
        chk = in_bracket & ~out_of_evals
        armijo_fails = (f_new > f + C1 * t * gtd) | ((ls_iter > 1) & (f_new >= f_prev))
        a = chk & armijo_fails
        wolfe = chk & ~armijo_fails & (gtd_new.abs() <= -C2 * gtd)
        c = chk & ~armijo_fails & ~wolfe & (gtd_new >= 0)
        to_zoom = a | c
        if bool(to_zoom.any()):
            m = to_zoom
            bt[m] = torch.stack([t_prev[m], t[m]], 1)
            bf[m] = torch.stack([f_prev[m], f_new[m]], 1)
            bg[m] = torch.stack([g_prev[m], g_new[m]], 1)
            bgtd[m] = torch.stack([gtd_prev[m], gtd_new[m]], 1)
            low[m] = (bf[m, 0] > bf[m, 1]).long()
            phase[m] = _ZOOM
        if bool(wolfe.any()):
            m = wolfe
            bt[m] = t[m].unsqueeze(1).expand(-1, 2)
            bf[m] = f_new[m].unsqueeze(1).expand(-1, 2)
            bg[m] = g_new[m].unsqueeze(1).expand(-1, 2, -1)
            low[m] = 0
            phase[m] = _DONE
        extend = chk & ~to_zoom & ~wolfe
        if bool(extend.any()):
            m = extend
            new_t = _cubic(t_prev[m], f_prev[m], gtd_prev[m], t[m], f_new[m], gtd_new[m],
                           t[m] + 0.01 * (t[m] - t_prev[m]), t[m] * 10)
            # never extrapolate back into a step that was not finite: halve the way to it instead
            new_t = torch.where(new_t >= t_bad[m], 0.5 * (t[m] + t_bad[m]), new_t)
            t_prev[m], f_prev[m], g_prev[m], gtd_prev[m] = t[m], f_new[m], g_new[m], gtd_new[m]
            t[m] = new_t
            need |= m
        # --- zoom phase, after an evaluation: update the bracket
        if bool(in_zoom.any()):
            m = in_zoom
            hi = 1 - low
            lo_f = bf[ar, low]
            worse = m & ((f_new > f + C1 * t * gtd) | (f_new >= lo_f))
            if bool(worse.any()):
                w = worse.nonzero().squeeze(1)
                h = hi[w]
                bt[w, h], bf[w, h], bg[w, h], bgtd[w, h] = t[w], f_new[w], g_new[w], gtd_new[w]
                low[w] = (bf[w, 0] > bf[w, 1]).long()
            better = m & ~worse
            if bool(better.any()):
                ok = better & (gtd_new.abs() <= -C2 * gtd)
                flip = better & ~ok & (gtd_new * (bt[ar, hi] - bt[ar, low]) >= 0)
                if bool(flip.any()):
                    w = flip.nonzero().squeeze(1)
                    h, lw = hi[w], low[w]
                    bt[w, h], bf[w, h], bg[w, h], bgtd[w, h] = bt[w, lw], bf[w, lw], bg[w, lw], bgtd[w, lw]
                w = better.nonzero().squeeze(1)
                lw = low[w]
                bt[w, lw], bf[w, lw], bg[w, lw], bgtd[w, lw] = t[w], f_new[w], g_new[w], gtd_new[w]
                phase[ok] = _DONE
        # --- zoom phase, before an evaluation: the next trial step
        zoom = (phase == _ZOOM) & ~retrying
        stop = zoom & ((ls_iter >= max_ls) | ((bt[:, 1] - bt[:, 0]).abs() * d_norm < TOLERANCE_CHANGE))
        phase[stop] = _DONE
        zoom &= ~stop
        if bool(zoom.any()):
            m = zoom
            b0, b1 = bt[m, 0], bt[m, 1]
            tz = _cubic(b0, bf[m, 0], bgtd[m, 0], b1, bf[m, 1], bgtd[m, 1])
            bmax, bmin = torch.maximum(b0, b1), torch.minimum(b0, b1)
            eps = 0.1 * (bmax - bmin)
            close = torch.minimum(bmax - tz, tz - bmin) < eps
            move = close & (insuf[m] | (tz >= bmax) | (tz <= bmin))
            moved = torch.where((tz - bmax).abs() < (tz - bmin).abs(), bmax - eps, bmin + eps)
            t[m] = torch.where(move, moved, tz)
            insuf[m] = close & ~move
            need |= m
        if not bool(need.any()):
            break
    t_acc = bt[ar, low]
    return Search(torch.where(failed, torch.full_like(t_acc, float("nan")), t_acc), failed, nonfinite, unbounded,
                  trial, evals, backtracks)


_ROWWISE = ("n_iter", "d", "t", "prev_g", "pos", "num", "H_diag", "size")  # batch on dim 0; S, Y, rho on dim 1


def take(state: LBFGSState, rows: torch.Tensor) -> LBFGSState:
    """The state of ``rows`` only: per-row fields on dim 0, the history (S, Y, rho) on dim 1."""
    return LBFGSState(*[v[rows] if name in _ROWWISE else v[:, rows] for name, v in zip(LBFGSState._fields, state)])


def update_active(state: LBFGSState, X: torch.Tensor, G: torch.Tensor, F: torch.Tensor, lr: float | torch.Tensor,
                  active: torch.Tensor, evaluate: EvalFG) -> Outcome:
    """:func:`update` over the active rows only, when they are a minority of the batch.

    The two-loop recursion and the line search then cost what the running rows
    need, not what the whole batch holds: a batch whose last rows are still
    working does not pay for the thousands that stopped.
    """
    B = X.shape[0]
    idx = active.nonzero().squeeze(1)
    if idx.numel() * 2 > B:
        return update(state, X, G, F, lr, active, evaluate)
    sub = take(state, idx)
    sub_lr = lr if isinstance(lr, float) else lr[idx]

    def evaluate_sub(Xs: torch.Tensor, rows: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return evaluate(Xs, idx[rows])

    out = update(sub, X[idx], G[idx], F[idx], sub_lr, torch.ones(idx.numel(), dtype=torch.bool, device=X.device),
                 evaluate_sub)
    for name, full, part in zip(LBFGSState._fields, state, out.state):  # back into the engine's own state
        if name in _ROWWISE:
            full[idx] = part
        else:
            full[:, idx] = part
    Xn = X.clone()
    Xn[idx] = out.X
    nan = torch.full((B,), float("nan"), dtype=X.dtype, device=X.device)
    no = torch.zeros(B, dtype=torch.bool, device=X.device)
    t, failed, nonfinite, unbounded = nan, no, no.clone(), no.clone()
    trial, evals = torch.zeros_like(X), torch.zeros(B, dtype=torch.long, device=X.device)
    backtracks = torch.zeros_like(evals)
    t[idx], failed[idx], nonfinite[idx], unbounded[idx] = out.t, out.failed, out.nonfinite, out.unbounded
    trial[idx], evals[idx], backtracks[idx] = out.trial, out.evaluations, out.backtracks
    return Outcome(Xn, state, t, failed, nonfinite, unbounded, trial, evals, backtracks)
