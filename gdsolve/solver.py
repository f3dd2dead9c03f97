"""The descent loop: the tutorial's rule, batched, instrumented, silent.

The tutorial (``shared/seed/tutorial-2-tensor-gradients.txt``) runs::

    for _ in range(max_iter):
        y = f(x); y.backward()
        with torch.no_grad():
            prev_x = x
            x = x - learning_rate * x.grad
            if torch.norm(prev_x - x) < eps:
                break

:class:`Descent` runs the same rule on a batch of points ``X`` of shape
``(B, d)`` and *yields* a :class:`~gdsolve.result.Step` per iteration instead of
printing. It never prints: renderers, JSON writers and progress bars consume
the steps.

Example:
    >>> from gdsolve.objective import compile_objective
    >>> run = Descent(compile_objective("(x-4)**2"), Settings(), x0={"x": 0.7421})
    >>> steps = list(run)
    >>> round(run.result().x["x"], 4), run.result().status.value
    (4.0, 'converged')
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Iterator

import torch

from .errors import GdsolveError, OptionError
from .methods import advance, build_scheduler, build_updater
from .objective import Objective
from .outcome import RowRecord, blowup_detail, build_result, nonfinite_detail, projected_norm
from .result import OptimizeResult, Step
from .settings import Settings
from .status import StopRule

_DTYPES = {"float64": torch.float64, "float32": torch.float32}


# Blow-up is judged on the behaviour of f, never on the size of x: a
# minimizer may simply be far away (1e13) or very near zero (1e-8).
BLOWUP_RISES = 25  # consecutive steps that made f worse, ending worse than at the start


class Descent:
    """One run, as an iterator of steps.

    Iterate it once to run (a finished run refuses a second pass: prepare a
    new one); call :meth:`result` afterwards, or after an interrupt, for the
    :class:`~gdsolve.result.OptimizeResult`. :meth:`result` is idempotent: it
    evaluates the final point once and returns the same record every time.

    Args:
        objective: the compiled function (see :func:`~gdsolve.objective.compile_objective`).
        settings: method, learning rate, stopping rules, schedule, bounds, dtype, seed.
        x0: the start point ``{name: value}``; ``None`` draws one with
            ``settings.seed`` (standard normal, or inside the bounds).
    """

    def __init__(self, objective: Objective, settings: Settings, x0: dict[str, float] | None = None,
                 device: str | None = None) -> None:
        self.objective = objective
        self.device = device  # where the run was asked to run ("cpu"), reported in the result; None when not asked
        self.settings = settings
        self.dtype = _DTYPES[settings.dtype]
        names = objective.variables
        lo, hi = check_start(names, settings, x0)
        if x0 is None:
            X = torch.tensor([random_start(names, lo, hi, settings.seed)], dtype=torch.float64).to(self.dtype)
            self.seed: int | None = settings.seed
        else:
            X = torch.tensor([[x0[n] for n in names]], dtype=self.dtype)
            self.seed = None
        self.X = X.requires_grad_(True)
        self.bounds = None
        if settings.bounds:
            self.bounds = (torch.tensor([lo], dtype=self.dtype), torch.tensor([hi], dtype=self.dtype))
        self.x0 = dict(zip(names, X[0].tolist()))
        self.nit = 0
        self.nfev = 0
        self.ngev = 0
        self.rule: StopRule | None = None
        #: Set (by a signal handler, a callback, another thread) to end the run
        #: after the current iteration with status "interrupted".
        self.stop_requested = False
        self.detail = ""
        self.unbounded = False  # f (minimized) reached -inf
        self.last_step = math.nan
        self.last_fchange = math.nan
        self.last_t: float | None = None
        self.last_lr = settings.lr  # the rate of the last update (a schedule may have moved on since)
        self.ls_failed = self.ls_nonfinite = False
        self.lr = settings.lr
        # The best point is kept as plain values (minimized f, x, k); never a non-finite one.
        self._best: tuple[float, list[float], int] | None = None
        self._final: tuple[float, list[float]] | None = None  # (F, G) at the final X when the loop evaluated it
        self._started = False
        self._result: OptimizeResult | None = None
        self._t0 = time.perf_counter()
        self._elapsed: float | None = None
        self.updater = build_updater(settings.method, dict(settings.options, lr=settings.lr), self.X,
                                     settings.line_search, self._evaluate_nograd, objective, self._count, self.bounds)
        self.scheduler = build_scheduler(settings, self.updater)

    def settings_dict(self) -> dict:
        """Every setting of this run as JSON-ready values: the trace header and the result both carry it."""
        obj = self.objective
        return {**self.settings.as_dict(), "seed": self.seed, "params": dict(obj.parsed.params),
                "vars": list(obj.variables)}

    def _count(self) -> None:
        self.nfev += 1
        self.ngev += 1

    def _evaluate_nograd(self, X: torch.Tensor) -> torch.Tensor:
        self.nfev += 1
        with torch.no_grad():
            return self.objective(X)

    # The hot loop. Per iteration torch does one forward, one autograd.grad,
    # the method's update and two tolist() calls that feed both the step
    # record and the stop tests (the step norm is the distance between the
    # two lists, as the tutorial's torch.norm(prev_x - x), so a step lost to
    # rounding counts as zero). Every stopping rule is a float comparison.
    def __iter__(self) -> Iterator[Step]:
        if self._started:
            raise GdsolveError("this run has already been iterated; call gdsolve.prepare(...) again for a new run")
        self._started = True
        s = self.settings
        obj = self.objective
        eps, max_iter, ftol = s.eps, s.max_iter, s.ftol
        gtol = s.gtol or 0.0
        time_limit = s.time_limit or math.inf
        sign = obj.sign
        # target is on the user's f; compare on the minimized value sign*f.
        target = -math.inf if s.target is None else sign * s.target
        X = self.X
        updater = self.updater
        update = updater.update
        scheduler, bounds = self.scheduler, self.bounds
        # One start (B = 1): f has one element, so autograd makes its own seed of
        # ones; an explicit one would make autograd import torch.fx (~30 ms) to
        # compare shapes, on every run's first step.
        ones = None if X.shape[0] == 1 else torch.ones(X.shape[0], dtype=self.dtype)
        t0 = self._t0 = time.perf_counter()
        perf = time.perf_counter
        dist = math.dist
        isfinite = math.isfinite
        best_f = f_prev = math.inf
        f_start = math.nan
        rises = 0
        lr = self.lr
        x = X.tolist()[0]
        for k in range(max_iter):
            F = obj(X)
            (G,) = torch.autograd.grad(F, X, ones)
            self.nfev += 1
            self.ngev += 1
            f = F.item()
            g = G.tolist()[0]
            gnorm = math.hypot(*g)
            now = perf() - t0
            self._final = (f, g)
            if not (isfinite(f) and isfinite(gnorm)):
                return self._nonfinite(k, f, gnorm, x)
            if k == 0:
                f_start = f
            if f < best_f:
                best_f = f
                self._best = (f, x, k)
            if f <= target:
                return self._stop(StopRule.TARGET)
            if gnorm < gtol or (bounds is not None and gtol and self._projected_norm(x, g) < gtol):
                return self._stop(StopRule.GTOL)
            if ftol is not None and k > 0:
                self.last_fchange = abs(f - f_prev) / max(abs(f), abs(f_prev), 1.0)
                if self.last_fchange <= ftol:
                    return self._stop(StopRule.FTOL)
            if now >= time_limit:
                return self._stop(StopRule.TIME_LIMIT)
            rises = rises + 1 if f > f_prev else 0
            if rises >= BLOWUP_RISES and f > f_start:
                return self._blowup(k, f)
            t = update(X, G, F, lr)
            if updater.unbounded is not None:  # a line-search trial found f = -inf
                self.nit = k
                trial = updater.unbounded
                return self._nonfinite(k, trial.value, 0.0, trial.x, what="f (at a line-search trial point)")
            if bounds is not None:
                X.detach().clamp_(bounds[0], bounds[1])
            x_new = X.tolist()[0]
            step = dist(x, x_new)
            self.nit = k + 1
            self.last_step = step
            self.last_t = t
            self.last_lr = lr
            self._final = None
            grad = tuple(g) if sign > 0 else tuple([-v for v in g])
            yield Step(k, tuple(x), sign * f, grad, gnorm, step, lr, now, t, updater.failed)
            x = x_new
            f_prev = f
            if self.stop_requested:
                return self._stop(StopRule.INTERRUPTED)
            if not isfinite(step):
                return self._nonfinite(k + 1, math.nan, math.nan, x, what="x")
            if scheduler is not None:
                lr = self.lr = advance(scheduler)
            if step < eps:
                self.ls_failed, self.ls_nonfinite = updater.failed, updater.nonfinite_trial
                return self._stop(StopRule.EPS)
        self._stop(StopRule.MAX_ITER)

    def _projected_norm(self, x: list[float], g: list[float]) -> float:
        return projected_norm(self.settings, self.objective.variables, x, g)

    def _stop(self, rule: StopRule) -> None:
        self.rule = rule

    def _blowup(self, k: int, f: float) -> None:
        self.rule = StopRule.BLOWUP
        self.detail = blowup_detail(self.objective.sign, k, BLOWUP_RISES, f)

    def _nonfinite(self, k: int, f: float, gnorm: float, x: list[float], what: str = "") -> None:
        self.rule = StopRule.NONFINITE
        self.unbounded = f == -math.inf
        self.detail = nonfinite_detail(self.objective.variables, self.objective.sign, k, f, gnorm, x, what)

    def interrupt(self) -> None:
        """Mark the run as interrupted (Ctrl-C); :meth:`result` still works."""
        self.rule = StopRule.INTERRUPTED

    def result(self) -> OptimizeResult:
        """The outcome: the final point evaluated once, the stop judged, the record built (once)."""
        if self._result is not None:
            return self._result
        if self._elapsed is None:
            self._elapsed = time.perf_counter() - self._t0
        if self._final is None:  # the last update moved X: evaluate the new point (counted once)
            X = self.X.detach().requires_grad_(True)
            F = self.objective(X)
            (G,) = torch.autograd.grad(F, X, None if F.numel() == 1 else torch.ones_like(F))
            self._count()
            self._final = (F.item(), G.tolist()[0])
        fmin, gmin = self._final
        s = self.settings
        row = RowRecord(
            rule=self.rule, nit=self.nit, nfev=self.nfev, ngev=self.ngev, x=self.X.detach().tolist()[0],
            fmin=fmin, gmin=gmin, x0=list(self.x0.values()), best=self._best,
            last_step=self.last_step, last_fchange=self.last_fchange, last_t=self.last_t, last_lr=self.last_lr,
            lr=self.lr, ls_failed=self.ls_failed, ls_nonfinite=self.ls_nonfinite,
            backtracks=self.updater.backtracks, detail=self.detail, unbounded=self.unbounded,
            elapsed=self._elapsed,
        )
        self._result = build_result(self.objective, s, row, seed=self.seed, settings_dict=self.settings_dict())
        if self.device is not None:
            self._result = dataclasses.replace(self._result, device=self.device)
        return self._result


def check_start(names: tuple[str, ...], settings: Settings, x0: dict[str, float] | None) -> tuple[list[float], list[float]]:
    """Check the bounds name variables and a given start lies inside them; return the bounds per variable."""
    unknown = [n for n in settings.bounds if n not in names]
    if unknown:
        raise OptionError(f"{{bounds}} names {', '.join(unknown)}, not a variable of the expression ({', '.join(names)})")
    lo = [settings.bounds.get(n, (-math.inf, math.inf))[0] for n in names]
    hi = [settings.bounds.get(n, (-math.inf, math.inf))[1] for n in names]
    if x0 is not None:
        outside = [f"{n}={x0[n]:g}" for n, a, b in zip(names, lo, hi) if not a <= x0[n] <= b]
        if outside:
            raise OptionError(f"{{x0}} {', '.join(outside)} lies outside {{bounds}}; start inside them")
    return lo, hi


def random_start(names: tuple[str, ...], lo: list[float], hi: list[float], seed: int) -> list[float]:
    """A seeded start: standard normal, or inside the bounds where there are some."""
    gen = torch.Generator().manual_seed(seed)
    normal = torch.randn(len(names), generator=gen, dtype=torch.float64).tolist()
    uniform = torch.rand(len(names), generator=gen, dtype=torch.float64).tolist()
    out = []
    for n, u, a, b in zip(normal, uniform, lo, hi):
        if math.isfinite(a) and math.isfinite(b):
            out.append(a + (b - a) * u)
        elif math.isfinite(a):
            out.append(a + abs(n))
        elif math.isfinite(b):
            out.append(b - abs(n))
        else:
            out.append(n)
    return out
