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

import math
import time
from collections.abc import Iterator

import torch

from .objective import Objective
from .result import OptimizeResult, Point, RuleCheck, Step
from .settings import Settings
from .status import StopRule, stop_message

_DTYPES = {"float64": torch.float64, "float32": torch.float32}


class Descent:
    """One run of gradient descent, as an iterator of steps.

    Iterate it to run; call :meth:`result` afterwards (or after an interrupt)
    for the :class:`~gdsolve.result.OptimizeResult`.

    Args:
        objective: the compiled function (see :func:`~gdsolve.objective.compile_objective`).
        settings: learning rate, tolerances, dtype, seed.
        x0: the start point ``{name: value}``; ``None`` draws one from a
            standard normal with ``settings.seed``.
    """

    def __init__(self, objective: Objective, settings: Settings, x0: dict[str, float] | None = None) -> None:
        self.objective = objective
        self.settings = settings
        self.dtype = _DTYPES[settings.dtype]
        names = objective.variables
        if x0 is None:
            gen = torch.Generator().manual_seed(settings.seed)
            X = torch.randn(1, len(names), generator=gen, dtype=torch.float64).to(self.dtype)
            self.seed: int | None = settings.seed
        else:
            X = torch.tensor([[x0[n] for n in names]], dtype=self.dtype)
            self.seed = None
        self.X = X
        self.x0 = dict(zip(names, X[0].tolist()))
        self.nit = 0
        self.nfev = 0
        self.ngev = 0
        self.rule: StopRule | None = None
        self.detail = ""
        self.last_step = math.nan
        self._best: tuple[float, list[float], int] = (math.nan, list(self.x0.values()), 0)
        self._t0 = time.perf_counter()
        self._elapsed: float | None = None

    # The hot loop. Everything torch does per iteration is here and nothing
    # else: one forward, one autograd.grad, one in-place update, and two
    # tolist() calls that feed both the step record and the stop test (the
    # step norm is the distance between the two lists, as the tutorial's
    # torch.norm(prev_x - x), so a step lost to rounding counts as zero).
    def __iter__(self) -> Iterator[Step]:
        s = self.settings
        obj = self.objective
        lr, eps, max_iter = s.lr, s.eps, s.max_iter
        sign = obj.sign
        X = self.X.requires_grad_(True)
        ones = torch.ones(X.shape[0], dtype=self.dtype)
        t0 = self._t0 = time.perf_counter()
        perf = time.perf_counter
        dist = math.dist
        isfinite = math.isfinite
        best_f = math.inf  # the best point is kept as plain values; a Point is built at the end
        x = X.tolist()[0]
        for k in range(max_iter):
            F = obj(X)
            (G,) = torch.autograd.grad(F, X, ones)
            self.nfev += 1
            self.ngev += 1
            f = F.item()
            g = G.tolist()[0]
            gnorm = math.hypot(*g)
            if not (isfinite(f) and isfinite(gnorm)):
                self._diverged(k, f, gnorm, x)
                return
            if f < best_f:
                best_f = f
                self._best = (f, x, k)
            # In place on a detached alias: same storage, no autograd record,
            # and cheaper than entering torch.no_grad() every iteration.
            X.detach().sub_(G, alpha=lr)
            x_new = X.tolist()[0]
            step = dist(x, x_new)
            self.nit = k + 1
            self.last_step = step
            grad = tuple(g) if sign > 0 else tuple([-v for v in g])
            yield Step(k, tuple(x), sign * f, grad, gnorm, step, lr, perf() - t0)
            x = x_new
            if step < eps:
                self.rule = StopRule.EPS
                return
        self.rule = StopRule.MAX_ITER

    def _diverged(self, k: int, f: float, gnorm: float, x: list[float]) -> None:
        self.rule = StopRule.NONFINITE
        what = "f" if not math.isfinite(f) else "the gradient"
        value = f if not math.isfinite(f) else gnorm
        at = ", ".join(f"{n}={v:.6g}" for n, v in zip(self.objective.variables, x))
        if k == 0:
            hint = "f is not finite at the start point; choose another --x0 inside the formula's domain"
        else:
            hint = f"try a smaller --lr (e.g. --lr {self.settings.lr / 10:g})"
        self.detail = f"{what} became {value} at iteration {k} ({at}); {hint}"

    def interrupt(self) -> None:
        """Mark the run as interrupted (Ctrl-C); :meth:`result` still works."""
        self.rule = StopRule.INTERRUPTED

    def result(self) -> OptimizeResult:
        """Evaluate f and its gradient at the final point and build the result."""
        if self._elapsed is None:
            self._elapsed = time.perf_counter() - self._t0
        obj = self.objective
        names = obj.variables
        X = self.X.detach().requires_grad_(True)
        F = obj(X)
        (G,) = torch.autograd.grad(F, X, torch.ones_like(F))
        self.nfev += 1
        self.ngev += 1
        f = obj.reported(F.item())
        grad = G.tolist()[0]
        x = dict(zip(names, X.tolist()[0]))
        bf, bx, bk = self._best
        best = Point(dict(zip(names, bx)), obj.reported(bf), bk)
        if _better(f, best.fun, obj.sign):
            best = Point(dict(x), f, self.nit)
        rule = self.rule or StopRule.INTERRUPTED
        s = self.settings
        value, tol = {
            StopRule.EPS: (self.last_step, s.eps),
            StopRule.MAX_ITER: (self.last_step, s.eps),
        }.get(rule, (math.nan, math.nan))
        message = stop_message(rule, value=value, tol=tol, nit=self.nit, detail=self.detail)
        checks = (RuleCheck(StopRule.EPS, self.last_step, s.eps, self.last_step < s.eps),)
        return OptimizeResult(
            x=x,
            fun=f,
            grad=dict(zip(names, (obj.sign * v for v in grad))),
            grad_norm=math.hypot(*grad),
            nit=self.nit,
            nfev=self.nfev,
            ngev=self.ngev,
            status=rule.status,
            stop_rule=rule,
            message=message,
            x0=self.x0,
            seed=self.seed,
            expression=obj.text,
            variables=names,
            sense="maximize" if obj.sign < 0 else "minimize",
            elapsed=self._elapsed,
            best=best,
            checks=checks,
            settings={**s.as_dict(), "params": dict(obj.parsed.params), "vars": list(names)},
        )


def _better(f: float, ref: float, sign: float) -> bool:
    """Is f better than ref (lower when minimizing, higher when maximizing)?"""
    if math.isnan(f):
        return False
    return math.isnan(ref) or sign * f < sign * ref
