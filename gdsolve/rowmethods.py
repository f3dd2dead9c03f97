"""Update rules for a batch of independent rows: one ``init``/``update`` pair per method.

The single-start path (:mod:`gdsolve.methods`) hands its one row to
``torch.optim``. A batch cannot: torch.optim takes one learning rate (and one
momentum, one beta...) per parameter group, while a sweep gives every row its
own, and a row that has stopped must never move again. So, as optax does,
each method here is a pair of pure functions over an explicit state (a
NamedTuple of ``(B, d)`` tensors):

* ``init(X) -> state``
* ``update(state, X, G, hyper, lr) -> (X_new, state)``

with every hyperparameter a ``(B, 1)`` tensor that broadcasts over the row
(or a float, when every row shares it: torch's scalar kernels are faster).
The engine owns the state and keeps frozen rows where they were with one row
mask (``torch.where``), applied to X and to every state tensor alike.

The formulas are torch.optim's own, operation for operation (SGD with
momentum and Nesterov, Adam, AdamW, RMSprop, Adagrad), so that one row
follows the same iterates as the single-start path; ``tests/test_rowmethods.py``
compares them with torch.optim step by step.

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


#: The first-order methods by name. lbfgs lives in :mod:`gdsolve.rowlbfgs`.
RULES: dict[str, Rule] = {
    "gd": Rule(_gd_init, _gd_update),
    "momentum": Rule(_momentum_init, _momentum_update),
    "nesterov": Rule(_momentum_init, _nesterov_update),
    "adam": Rule(_adam_init, _adam_update),
    "adamw": Rule(_adam_init, _adamw_update),
    "rmsprop": Rule(_rmsprop_init, _rmsprop_update),
    "adagrad": Rule(_adagrad_init, _adagrad_update),
}


def keep(mask: torch.Tensor, new: tuple, old: tuple) -> tuple:
    """Each state tensor from ``new`` where ``mask`` (B,) is set, else from ``old``: frozen rows stay frozen."""
    m = mask.unsqueeze(1)
    return type(old)(*(torch.where(m, a, b) if isinstance(a, torch.Tensor) else a for a, b in zip(new, old)))


class Armijo(NamedTuple):
    """The outcome of a batched backtracking search, per row."""

    X: torch.Tensor  # the accepted points (rows that failed keep their X)
    t: torch.Tensor  # the accepted step length (the last trial where it failed)
    failed: torch.Tensor  # (B,) bool: no decrease found, the row did not move
    nonfinite: torch.Tensor  # (B,) bool: ... and a trial's f was not finite
    evaluations: torch.Tensor  # (B,) trial evaluations made
    backtracks: torch.Tensor  # (B,) trials where f was not finite (each halved, as any trial that fails)


ARMIJO_C = 1e-4
ARMIJO_SHRINK = 0.5
ARMIJO_MAX_HALVINGS = 40


def armijo(X: torch.Tensor, d: torch.Tensor, G: torch.Tensor, F: torch.Tensor, t0: torch.Tensor,
           active: torch.Tensor, evaluate: Callable[[torch.Tensor], torch.Tensor]) -> Armijo:
    """Per row, backtrack ``t`` from ``t0`` until ``f(x - t d) <= f(x) - c t g.d``.

    The same rule as :func:`gdsolve.methods.armijo`, every row with its own
    ``t``. Only rows still searching are evaluated at each halving, so a batch
    where most rows accept the first trial pays for one evaluation.
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
