"""Update rules for a batch of independent rows: one ``init``/``update`` pair per method.

Why not ``torch.optim``: it takes one learning rate (and one momentum, one
beta...) per parameter group, while a sweep gives every row its own, and a
row that has stopped must never move again. So, as optax does,
each method here is a pair of pure functions over an explicit state (a
NamedTuple of ``(B, d)`` tensors):

* ``init(X) -> state``
* ``update(state, X, G, hyper, lr) -> (X_new, state)``

with every hyperparameter a ``(B, 1)`` tensor that broadcasts over the row
(or a float, when every row shares it: torch's scalar kernels are faster).
The engine owns the state and keeps a stopped row where it was by writing
its old X back by index (``X_new[si] = X[si]``: cheaper than ``torch.where``
on a CPU), and later lets stopped rows go (:func:`take_rows`); a stopped
row's method state is simply never read again.

The formulas are torch.optim's own, operation for operation (SGD with
momentum and Nesterov, Adam, AdamW, RMSprop, Adagrad): ``tests/test_rowmethods.py``
compares them with torch.optim step by step. torch.optim has no line search
for first-order methods; :func:`armijo` is gdsolve's (``--line-search armijo``,
for gd and momentum, whose buffer :func:`momentum_direction` then keeps).

Example:
    >>> import torch
    >>> X = torch.tensor([[1.0], [2.0]], dtype=torch.float64)
    >>> hyper = {"lr": torch.tensor([[0.1], [0.5]], dtype=torch.float64)}
    >>> rule = RULES["gd"]
    >>> X1, _ = rule.update(rule.init(X), X, 2 * X, hyper, hyper["lr"])
    >>> X1.flatten().tolist()
    [0.8, 0.0]
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple, Union

import torch

Hyper = dict[str, Union[float, torch.Tensor]]  # a float when every row shares the value

ADAM_EPS = 1e-8  # torch.optim.Adam / AdamW default
RMSPROP_EPS = 1e-8  # torch.optim.RMSprop default
ADAGRAD_EPS = 1e-10  # torch.optim.Adagrad default


class Rule(NamedTuple):
    """A method as a pair of pure functions over its state."""

    init: Callable[[torch.Tensor], tuple]
    update: Callable[..., tuple[torch.Tensor, tuple]]


class Empty(NamedTuple):
    """gd keeps no state."""


class MomentumState(NamedTuple):
    buf: torch.Tensor  # torch's momentum_buffer
    started: torch.Tensor  # (B, 1) bool: the buffer holds a first gradient


class AdamState(NamedTuple):
    step: int  # updates made (for the bias corrections; the same for every row that updates)
    exp_avg: torch.Tensor
    exp_avg_sq: torch.Tensor


class RMSpropState(NamedTuple):
    square_avg: torch.Tensor
    buf: torch.Tensor


class AdagradState(NamedTuple):
    sum: torch.Tensor


def _descend(X: torch.Tensor, direction: torch.Tensor, lr: float | torch.Tensor) -> torch.Tensor:
    """``X - lr * direction`` rounded as torch.optim's ``add_(d, alpha=-lr)`` rounds it (one fused multiply-add)."""
    if isinstance(lr, float):  # every row shares the rate: torch.optim's own call
        return X.add(direction, alpha=-lr)
    return torch.addcmul(X, direction, -lr)


def _gd_init(X: torch.Tensor) -> Empty:
    return Empty()


def _gd_update(state: Empty, X: torch.Tensor, G: torch.Tensor, hyper: Hyper, lr: torch.Tensor):
    return _descend(X, G, lr), state


def _momentum_init(X: torch.Tensor) -> MomentumState:
    return MomentumState(torch.zeros_like(X), torch.zeros(X.shape[0], 1, dtype=torch.bool, device=X.device))


def _buffer(state: MomentumState, G: torch.Tensor, mu: torch.Tensor) -> torch.Tensor:
    # torch's SGD: the first buffer is the gradient itself, then buf = mu * buf + g.
    return torch.where(state.started, state.buf * mu + G, G)


def _momentum_update(state: MomentumState, X: torch.Tensor, G: torch.Tensor, hyper: Hyper, lr: torch.Tensor):
    buf = _buffer(state, G, hyper["momentum"])
    return _descend(X, buf, lr), MomentumState(buf, torch.ones_like(state.started))


def _nesterov_update(state: MomentumState, X: torch.Tensor, G: torch.Tensor, hyper: Hyper, lr: torch.Tensor):
    mu = hyper["momentum"]
    buf = _buffer(state, G, mu)
    look_ahead = G.add(buf, alpha=mu) if isinstance(mu, float) else torch.addcmul(G, buf, mu)
    return _descend(X, look_ahead, lr), MomentumState(buf, torch.ones_like(state.started))


def _adam_init(X: torch.Tensor) -> AdamState:
    return AdamState(0, torch.zeros_like(X), torch.zeros_like(X))


def _adam_step(state: AdamState, X: torch.Tensor, G: torch.Tensor, hyper: Hyper, lr: float | torch.Tensor):
    # Every row that updates has made the same number of updates (rows only ever stop), so the
    # step count is one integer and the bias corrections are computed as torch computes them.
    b1, b2 = hyper["beta1"], hyper["beta2"]
    step = state.step + 1
    exp_avg = torch.lerp(state.exp_avg, G, 1 - b1)
    exp_avg_sq = torch.addcmul(state.exp_avg_sq * b2, G * (1 - b2), G)
    bias1 = 1 - b1 ** step
    bias2_sqrt = (1 - b2 ** step) ** 0.5
    denom = exp_avg_sq.sqrt() / bias2_sqrt + ADAM_EPS
    step_size = lr / bias1
    if isinstance(step_size, float):
        X_new = X.addcdiv(exp_avg, denom, value=-step_size)
    else:
        X_new = torch.addcmul(X, exp_avg / denom, -step_size)
    return X_new, AdamState(step, exp_avg, exp_avg_sq)


def _adam_update(state: AdamState, X: torch.Tensor, G: torch.Tensor, hyper: Hyper, lr: torch.Tensor):
    # Adam: weight decay is added to the gradient (L2 regularisation).
    return _adam_step(state, X, G + hyper["weight_decay"] * X, hyper, lr)


def _adamw_update(state: AdamState, X: torch.Tensor, G: torch.Tensor, hyper: Hyper, lr: torch.Tensor):
    # AdamW: decoupled decay, applied to the parameters before the Adam step.
    return _adam_step(state, X * (1 - lr * hyper["weight_decay"]), G, hyper, lr)


def _rmsprop_init(X: torch.Tensor) -> RMSpropState:
    return RMSpropState(torch.zeros_like(X), torch.zeros_like(X))


def _rmsprop_update(state: RMSpropState, X: torch.Tensor, G: torch.Tensor, hyper: Hyper, lr: torch.Tensor):
    alpha, mu = hyper["alpha"], hyper["momentum"]
    G = G + hyper["weight_decay"] * X
    # addcmul as torch does it, so the rounding is torch's too
    square_avg = torch.addcmul(state.square_avg * alpha, G * (1 - alpha), G)
    avg = square_avg.sqrt() + RMSPROP_EPS
    # torch uses the buffer only when momentum > 0; with momentum 0 the
    # buffer is just g / avg, the same update.
    buf = torch.addcdiv(state.buf * mu, G, avg)
    return _descend(X, buf, lr), RMSpropState(square_avg, buf)


def _adagrad_init(X: torch.Tensor) -> AdagradState:
    return AdagradState(torch.zeros_like(X))


def _adagrad_update(state: AdagradState, X: torch.Tensor, G: torch.Tensor, hyper: Hyper, lr: torch.Tensor):
    G = G + hyper["weight_decay"] * X
    total = state.sum + G * G
    return X - lr * G / (total.sqrt() + ADAGRAD_EPS), AdagradState(total)


#: The first-order methods by name. lbfgs lives in :mod:`gdsolve.optim.rowlbfgs`.
RULES: dict[str, Rule] = {
    "gd": Rule(_gd_init, _gd_update),
    "momentum": Rule(_momentum_init, _momentum_update),
    "nesterov": Rule(_momentum_init, _nesterov_update),
    "adam": Rule(_adam_init, _adam_update),
    "adamw": Rule(_adam_init, _adamw_update),
    "rmsprop": Rule(_rmsprop_init, _rmsprop_update),
    "adagrad": Rule(_adagrad_init, _adagrad_update),
}


def take_rows(state: tuple, rows: torch.Tensor) -> tuple:
    """The method state of ``rows`` only (the engine lets stopped rows go). Every method keeps its
    per-row tensors batch-first, except L-BFGS's history (see :func:`gdsolve.optim.rowlbfgs.take`)."""
    if hasattr(state, "S"):  # L-BFGS
        from .rowlbfgs import take

        return take(state, rows)  # type: ignore[arg-type]
    return type(state)(*(v[rows] if isinstance(v, torch.Tensor) else v for v in state))


def momentum_direction(state: MomentumState, G: torch.Tensor, mu: float | torch.Tensor) -> tuple[torch.Tensor, MomentumState]:
    """Heavy-ball momentum for a line search: the buffer (torch's SGD rule, ``buf = mu * buf + g``)
    is the direction searched along; it restarts from ``g`` where it stops pointing downhill."""
    buf = _buffer(state, G, mu)
    downhill = (buf * G).sum(1, keepdim=True) > 0
    direction = torch.where(downhill, buf, G)
    return direction, MomentumState(direction, torch.ones_like(state.started))


class Armijo(NamedTuple):
    """The outcome of a batched backtracking search, per row."""

    X: torch.Tensor  # the accepted points (rows that failed keep their X)
    t: torch.Tensor  # the accepted step length (the last trial where it failed)
    failed: torch.Tensor  # (B,) bool: no decrease found, the row did not move
    nonfinite: torch.Tensor  # (B,) bool: ... and a trial's f was not finite
    evaluations: torch.Tensor  # (B,) trial evaluations made
    backtracks: torch.Tensor  # (B,) trials where f was not finite (each halved, as any trial that fails)
    unbounded: None = None  # Armijo has no such signal: a trial where f = -inf is not finite, so it is halved


ARMIJO_C = 1e-4
ARMIJO_SHRINK = 0.5
ARMIJO_MAX_HALVINGS = 40


def armijo(X: torch.Tensor, d: torch.Tensor, G: torch.Tensor, F: torch.Tensor, t0: torch.Tensor,
           active: torch.Tensor, evaluate: Callable[[torch.Tensor], torch.Tensor]) -> Armijo:
    """Per row, backtrack ``t`` from ``t0`` until ``f(x - t d) <= f(x) - c t g.d``.

    Every row has its own ``t``; a trial where f is not finite is halved as
    any other that fails (and counted). When no trial in
    :data:`ARMIJO_MAX_HALVINGS` halvings decreases f enough, the row does not
    move: a step that raises f is never taken silently. Only rows still
    searching are evaluated at each halving, so a batch where most rows
    accept the first trial pays for one evaluation.
    """
    B = X.shape[0]
    t = t0.reshape(B).clone()
    slope = (G * d).sum(1)
    out = X.clone()
    searching = active.clone()
    nonfinite = torch.zeros_like(active)
    count = torch.zeros(B, dtype=torch.long, device=X.device)
    backtracks = torch.zeros_like(count)
    for _ in range(ARMIJO_MAX_HALVINGS):
        idx = searching.nonzero().squeeze(1)
        if idx.numel() == 0:
            break
        trial = X[idx] - t[idx, None] * d[idx]
        ft = evaluate(trial)
        count[idx] += 1
        finite = torch.isfinite(ft)
        nonfinite[idx] |= ~finite
        backtracks[idx] += (~finite).long()
        ok = finite & (ft <= F[idx] - ARMIJO_C * t[idx] * slope[idx])
        done = idx[ok]
        out[done] = trial[ok]
        searching[done] = False
        t[idx[~ok]] *= ARMIJO_SHRINK
    failed = searching
    t = torch.where(failed, t / ARMIJO_SHRINK, t)
    return Armijo(out, t, failed, nonfinite & failed, count, backtracks)
