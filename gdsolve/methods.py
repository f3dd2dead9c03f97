"""Update rules: the tutorial's gd, torch.optim's methods, and line searches.

Each method is a small :class:`Updater` that moves the batch ``X`` in place
given the gradient ``G`` at ``X``. ``gd`` is the tutorial's rule, written out
(``x <- x - lr * g``); momentum, nesterov, the Adam family, rmsprop and
adagrad delegate to ``torch.optim`` so that their update is torch's own, not
a re-derivation. Three pieces are gdsolve's own. torch.optim has no line
search for first-order methods: Armijo backtracking (``--line-search
armijo``, for gd and momentum) and, with it, the heavy-ball buffer of
momentum (torch's SGD rule ``buf = momentum * buf + g``, written out here so
that the search can backtrack along it). And torch.optim.LBFGS's strong Wolfe
search cannot backtrack from a trial point where f is not finite, so lbfgs
runs :mod:`gdsolve.rowlbfgs` (torch's algorithm, the batched engine's too) on
its one row. Every search counts the non-finite trial points it backtracked
from (:attr:`Updater.backtracks`).

Each method's defaults live in one table, :data:`gdsolve.settings.METHODS`
(shown by ``--help`` and in the JSON ``settings``), with the reasons for them.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from typing import Any

import torch

from . import rowlbfgs
from .errors import OptionError, shown
from .settings import METHODS, Settings

ARMIJO_C = 1e-4  # sufficient-decrease constant
ARMIJO_SHRINK = 0.5
ARMIJO_MAX_HALVINGS = 40


class Updater:
    """Moves ``X`` in place from the gradient ``G`` at ``X``; returns the
    accepted line-search step length, or ``None`` without a line search."""

    lr_holder: Any = None  # the optimizer whose param_groups[0]["lr"] a scheduler drives
    failed = False  # the last update's line search found no decrease (the point did not move)
    nonfinite_trial = False  # ...because a trial point's f was not finite
    unbounded: Any = None  # a line-search trial where f ran off to -inf (divergence), if any
    backtracks = 0  # line-search trial points where f was not finite, backed away from, over the run

    def update(self, X: torch.Tensor, G: torch.Tensor, F: torch.Tensor, lr: float) -> float | None:
        raise NotImplementedError


class GradientDescent(Updater):
    """The tutorial's rule, ``x <- x - lr * g``, optionally with Armijo backtracking."""

    def __init__(self, evaluate: Callable[[torch.Tensor], torch.Tensor] | None = None) -> None:
        self.evaluate = evaluate  # f without gradient, for the line search

    def update(self, X: torch.Tensor, G: torch.Tensor, F: torch.Tensor, lr: float) -> float | None:
        if self.evaluate is None:
            X.detach().sub_(G, alpha=lr)
            return None
        t, self.failed, nonfinite = armijo(X, G, G, F, lr, self.evaluate)
        self.backtracks += nonfinite
        self.nonfinite_trial = self.failed and nonfinite > 0
        return t


class ArmijoMomentum(Updater):
    """Heavy-ball momentum with Armijo backtracking along the buffer direction.

    The buffer follows torch's SGD rule (``buf = momentum * buf + g``, no
    dampening), written out because torch.optim cannot backtrack; it restarts
    from ``g`` whenever it stops pointing downhill.
    """

    def __init__(self, momentum: float, evaluate: Callable[[torch.Tensor], torch.Tensor]) -> None:
        self.momentum = momentum
        self.evaluate = evaluate
        self.buf: torch.Tensor | None = None

    def update(self, X: torch.Tensor, G: torch.Tensor, F: torch.Tensor, lr: float) -> float | None:
        buf = G.clone() if self.buf is None else self.buf.mul_(self.momentum).add_(G)
        if float((buf * G).sum()) <= 0:  # not a descent direction: restart the buffer
            buf = G.clone()
        self.buf = buf
        t, self.failed, nonfinite = armijo(X, buf, G, F, lr, self.evaluate)
        self.backtracks += nonfinite
        self.nonfinite_trial = self.failed and nonfinite > 0
        return t


def armijo(X: torch.Tensor, d: torch.Tensor, G: torch.Tensor, F: torch.Tensor, t0: float,
           evaluate: Callable[[torch.Tensor], torch.Tensor]) -> tuple[float, bool, int]:
    """Backtrack ``t`` from ``t0`` until ``f(x - t d) <= f(x) - c t g.d``; move X there.

    Returns ``(t, failed, nonfinite)``, ``nonfinite`` the trials where f was
    not finite (each halved, as any other that fails). When no trial in
    :data:`ARMIJO_MAX_HALVINGS` halvings decreases f enough, X does not move
    (``failed`` is True, ``t`` the last trial): a step that raises f is never
    taken silently.
    """
    f0 = float(F.detach().sum())
    slope = float((G * d).sum())
    base = X.detach().clone()
    t = t0
    nonfinite = 0
    for _ in range(ARMIJO_MAX_HALVINGS):
        trial = base - t * d
        ft = float(evaluate(trial).sum())
        if not math.isfinite(ft):
            nonfinite += 1
        elif ft <= f0 - ARMIJO_C * t * slope:
            X.detach().copy_(trial)
            return t, False, nonfinite
        t *= ARMIJO_SHRINK
    return t / ARMIJO_SHRINK, True, nonfinite


class TorchOptim(Updater):
    """Any first-order ``torch.optim`` optimizer: hand it the gradient, let it step."""

    def __init__(self, optimizer: torch.optim.Optimizer) -> None:
        self.opt = optimizer
        self.lr_holder = optimizer

    def update(self, X: torch.Tensor, G: torch.Tensor, F: torch.Tensor, lr: float) -> float | None:
        # The loop's rate is the one used: one source of truth, whether a schedule moved it or not.
        self.opt.param_groups[0]["lr"] = lr
        X.grad = G
        self.opt.step()
        return None


class LBFGS(Updater):
    """L-BFGS with a strong Wolfe line search, one iteration per update.

    The iteration is :func:`gdsolve.rowlbfgs.update` on this one row: torch's
    own algorithm (``torch.optim.LBFGS``, written out with per-row scalars;
    ``tests/test_rowlbfgs.py`` checks the iterates are torch's), so that both
    engines share one line search. torch.optim's own search cannot be used
    here: a trial point where f is not finite (``log`` of 0 on a long first
    step) feeds its value into the cubic interpolation and the step becomes
    nan, where scipy's and Moré-Thuente's searches backtrack; the shared
    search backtracks (:attr:`backtracks` counts it).

    With bounds it works on the free variables only (a simple active-set
    method): a variable on a bound whose gradient points out of the box is
    frozen (its gradient component is zeroed), and the curvature history is
    dropped whenever that set of frozen variables changes, since pairs
    gathered on another face of the box describe a different function.
    """

    def __init__(self, X: torch.Tensor, history_size: int, evaluate: Callable[[torch.Tensor], torch.Tensor],
                 count: Callable[[], None], bounds: tuple[torch.Tensor, torch.Tensor] | None = None) -> None:
        self.state = rowlbfgs.init(X.detach(), torch.tensor([history_size], device=X.device))
        self.one = torch.ones(1, dtype=torch.bool, device=X.device)  # the row, always active
        self.evaluate = evaluate
        self.count = count
        self.bounds = bounds
        self.frozen: torch.Tensor | None = None
        self.backtracks = 0  # non-finite trial points the line search backtracked from, over the run

    def update(self, X: torch.Tensor, G: torch.Tensor, F: torch.Tensor, lr: float) -> float | None:
        frozen = None
        if self.bounds is not None:
            frozen = outward(X.detach(), G, self.bounds)
            if self.frozen is not None and not torch.equal(frozen, self.frozen):
                self.state = rowlbfgs.reset(self.state, self.one)
            self.frozen = frozen
            G = G.masked_fill(frozen, 0.0)

        def evaluate(Xs: torch.Tensor, rows: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            with torch.enable_grad():
                Xs = Xs.detach().requires_grad_(True)
                Fs = self.evaluate(Xs)
                (Gs,) = torch.autograd.grad(Fs.sum(), Xs)
            self.count()
            return Fs.detach(), Gs if frozen is None else Gs.masked_fill(frozen, 0.0)

        out = rowlbfgs.update(self.state, X.detach(), G, F.detach(), float(lr), self.one, evaluate)
        self.state = out.state
        self.failed, self.nonfinite_trial = bool(out.failed[0]), bool(out.nonfinite[0])
        self.backtracks += int(out.backtracks[0])
        self.unbounded = _NonFiniteTrial(-math.inf, out.trial[0].tolist()) if bool(out.unbounded[0]) else None
        with torch.no_grad():
            X.copy_(out.X)
        t = float(out.t[0])
        return t if math.isfinite(t) else None


class _NonFiniteTrial:
    """A line-search trial point where f is not finite (``value``, at ``x``)."""

    def __init__(self, value: float, x: list[float]) -> None:
        self.value = value
        self.x = x


def outward(X: torch.Tensor, G: torch.Tensor, bounds: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
    """Mask of variables on a bound whose descent direction (-G) leaves the box."""
    lo, hi = bounds
    return ((X <= lo) & (G > 0)) | ((X >= hi) & (G < 0))


def build_updater(method: str, options: dict[str, Any], X: torch.Tensor, line_search: str,
                  evaluate_nograd: Callable[[torch.Tensor], torch.Tensor],
                  evaluate: Callable[[torch.Tensor], torch.Tensor], count: Callable[[], None],
                  bounds: tuple[torch.Tensor, torch.Tensor] | None = None) -> Updater:
    """The :class:`Updater` for ``method`` over the leaf tensor ``X`` (``bounds``: lower and upper tensors)."""
    lr = options["lr"]  # settings were validated by gdsolve.settings.Settings
    if method == "gd":
        return GradientDescent(evaluate_nograd if line_search == "armijo" else None)
    if method == "momentum" and line_search == "armijo":
        return ArmijoMomentum(options["momentum"], evaluate_nograd)
    if method in ("momentum", "nesterov"):
        return TorchOptim(torch.optim.SGD([X], lr=lr, momentum=options["momentum"], nesterov=method == "nesterov"))
    if method in ("adam", "adamw"):
        cls = torch.optim.Adam if method == "adam" else torch.optim.AdamW
        return TorchOptim(cls([X], lr=lr, betas=(options["beta1"], options["beta2"]), weight_decay=options["weight_decay"]))
    if method == "rmsprop":
        return TorchOptim(torch.optim.RMSprop([X], lr=lr, alpha=options["alpha"], momentum=options["momentum"],
                                              weight_decay=options["weight_decay"]))
    if method == "adagrad":
        return TorchOptim(torch.optim.Adagrad([X], lr=lr, weight_decay=options["weight_decay"]))
    if method == "lbfgs":
        # One iteration per step() call, so that one gdsolve iteration is one
        # update. max_eval must then be set: its default, max_iter*5//4 = 1,
        # would leave the line search no evaluations at all (step length 0).
        # torch's own tolerances are zeroed: gdsolve's stopping rules decide, and
        # report, when the run ends.
        return LBFGS(X, options["history_size"], evaluate, count, bounds)
    raise OptionError(f"{{method}} {shown(method)} is unknown; choose one of {', '.join(METHODS)}")  # pragma: no cover


def build_scheduler(settings: Settings, updater: Updater) -> torch.optim.lr_scheduler.LRScheduler | None:
    """torch's lr scheduler for ``settings.schedule``; ``None`` for a constant rate."""
    if settings.schedule == "constant":
        return None
    holder = updater.lr_holder
    if holder is None:  # gd has no optimizer: drive a stand-in one's learning rate
        holder = stand_in(settings.lr)
    return schedule_on(settings, holder)


def stand_in(lr: float) -> torch.optim.Optimizer:
    """An optimizer that never steps, whose rate a scheduler drives (read it with :func:`advance`)."""
    return torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=lr)


def schedule_on(settings: Settings, holder: torch.optim.Optimizer) -> torch.optim.lr_scheduler.LRScheduler | None:
    """``settings.schedule`` as a torch scheduler of ``holder``'s rate (the one place schedules are built)."""
    if settings.schedule == "constant":
        return None
    p = settings.schedule_params()
    sched = torch.optim.lr_scheduler
    if settings.schedule == "exponential":
        return sched.ExponentialLR(holder, gamma=p["gamma"])
    if settings.schedule == "step":
        return sched.StepLR(holder, step_size=p["step_size"], gamma=p["gamma"])
    return sched.CosineAnnealingLR(holder, T_max=p["t_max"])


def advance(scheduler: torch.optim.lr_scheduler.LRScheduler) -> float:
    # torch warns when a scheduler steps before its optimizer; for gd's
    # stand-in optimizer that order is intended.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        scheduler.step()
    return float(scheduler.optimizer.param_groups[0]["lr"])
