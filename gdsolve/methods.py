"""Update rules: the tutorial's gd, torch.optim's methods, and line searches.

Each method is a small :class:`Updater` that moves the batch ``X`` in place
given the gradient ``G`` at ``X``. ``gd`` is the tutorial's rule, written out
(``x <- x - lr * g``); momentum, nesterov, the Adam family, rmsprop, adagrad
and lbfgs delegate to ``torch.optim`` so that their update is torch's own, not
a re-derivation. Two pieces are gdsolve's own, because torch.optim has no
line search for first-order methods: Armijo backtracking (``--line-search
armijo``, for gd and momentum) and, with it, the heavy-ball buffer of
momentum (torch's SGD rule ``buf = momentum * buf + g``, written out here so
that the search can backtrack along it).

Each method's defaults live in one table, :data:`gdsolve.settings.METHODS`
(shown by ``--help`` and in the JSON ``settings``), with the reasons for them.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from typing import Any

import torch

from .errors import OptionError, shown
from .settings import METHODS, Settings

ARMIJO_C = 1e-4  # sufficient-decrease constant
ARMIJO_SHRINK = 0.5
ARMIJO_MAX_HALVINGS = 40
LBFGS_MAX_LS = 25  # strong Wolfe evaluations per iteration (torch's own default)


class Updater:
    """Moves ``X`` in place from the gradient ``G`` at ``X``; returns the
    accepted line-search step length, or ``None`` without a line search."""

    lr_holder: Any = None  # the optimizer whose param_groups[0]["lr"] a scheduler drives
    failed = False  # the last update's line search found no decrease (the point did not move)
    nonfinite_trial = False  # ...because a trial point's f was not finite
    unbounded: Any = None  # a line-search trial where f ran off to -inf (divergence), if any

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
        t, self.failed = armijo(X, G, G, F, lr, self.evaluate)
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
        t, self.failed = armijo(X, buf, G, F, lr, self.evaluate)
        return t


def armijo(X: torch.Tensor, d: torch.Tensor, G: torch.Tensor, F: torch.Tensor, t0: float,
           evaluate: Callable[[torch.Tensor], torch.Tensor]) -> tuple[float, bool]:
    """Backtrack ``t`` from ``t0`` until ``f(x - t d) <= f(x) - c t g.d``; move X there.

    Returns ``(t, failed)``. When no trial in :data:`ARMIJO_MAX_HALVINGS`
    halvings decreases f enough, X does not move (``failed`` is True, ``t``
    the last trial): a step that raises f is never taken silently.
    """
    f0 = float(F.detach().sum())
    slope = float((G * d).sum())
    base = X.detach().clone()
    t = t0
    for _ in range(ARMIJO_MAX_HALVINGS):
        trial = base - t * d
        ft = float(evaluate(trial).sum())
        if math.isfinite(ft) and ft <= f0 - ARMIJO_C * t * slope:
            X.detach().copy_(trial)
            return t, False
        t *= ARMIJO_SHRINK
    return t / ARMIJO_SHRINK, True


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
    """torch's L-BFGS with a strong Wolfe line search, one iteration per update.

    Its closure re-evaluates f and the gradient at trial points; the first call
    of each step is answered from the evaluation the loop already made.

    With bounds it works on the free variables only (a simple active-set
    method): a variable on a bound whose gradient points out of the box is
    frozen (its gradient component is zeroed), and the curvature history is
    dropped whenever that set of frozen variables changes, since pairs
    gathered on another face of the box describe a different function.
    """

    def __init__(self, optimizer: torch.optim.LBFGS, evaluate: Callable[[torch.Tensor], torch.Tensor],
                 count: Callable[[], None], bounds: tuple[torch.Tensor, torch.Tensor] | None = None) -> None:
        self.opt = optimizer
        self.lr_holder = optimizer
        self.evaluate = evaluate
        self.count = count
        self.bounds = bounds
        self.frozen: torch.Tensor | None = None

    def update(self, X: torch.Tensor, G: torch.Tensor, F: torch.Tensor, lr: float) -> float | None:
        frozen = None
        if self.bounds is not None:
            frozen = outward(X.detach(), G, self.bounds)
            if self.frozen is None or not torch.equal(frozen, self.frozen):
                self.opt.state[X].clear()
                self.frozen = frozen
            G = G.masked_fill(frozen, 0.0)
        self.opt.param_groups[0]["lr"] = lr  # the loop's rate, as for every method
        cached = [F.detach().sum()]
        base = X.detach().clone()
        self.failed = self.nonfinite_trial = False
        self.unbounded = None

        def closure() -> torch.Tensor:
            if cached:
                X.grad = G
                return cached.pop()
            Fc = self.evaluate(X)
            self.count()
            if not bool(torch.isfinite(Fc).all()):
                raise _NonFiniteTrial(float(Fc.detach().sum()), X.detach()[0].tolist())
            (Gc,) = torch.autograd.grad(Fc.sum(), X)
            X.grad = Gc if frozen is None else Gc.masked_fill(frozen, 0.0)
            return Fc.detach().sum()

        try:
            self.opt.step(closure)
        except (_NonFiniteTrial, IndexError, ZeroDivisionError) as exc:
            # torch's strong Wolfe search cannot work with a non-finite trial
            # value, and breaks down on a zero step (a schedule annealed the
            # rate to 0) with IndexError or ZeroDivisionError: stay put, say so.
            with torch.no_grad():
                X.copy_(base)
            self.opt.state[X].clear()
            self.failed = True
            self.nonfinite_trial = isinstance(exc, _NonFiniteTrial)
            if isinstance(exc, _NonFiniteTrial) and exc.value == -math.inf:
                self.unbounded = exc  # f ran off to -inf along the step: that is divergence
            return None
        t = self.opt.state[X].get("t")
        return float(t) if t is not None else None


class _NonFiniteTrial(Exception):
    """A line-search trial point where f is not finite (``value``, at ``x``)."""

    def __init__(self, value: float, x: list[float]) -> None:
        super().__init__(value)
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
        opt = torch.optim.LBFGS([X], lr=lr, max_iter=1, max_eval=1 + LBFGS_MAX_LS, tolerance_grad=0.0, tolerance_change=0.0,
                                history_size=options["history_size"], line_search_fn="strong_wolfe")
        return LBFGS(opt, evaluate, count, bounds)
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
