"""The batched engine: many rows -- starts, settings -- descending in one ``(B, d)`` tensor.

Every row is its own run: its own learning rate and method options (a
sweep), its own method state, counters, best point, stop rule. A row that
stops (converged, stalled, diverged) is frozen: its x never changes again,
while the others go on; the run ends when every row has stopped or at
``max_iter``. A row that meets a non-finite value stops alone: the others
never see it (every update is masked by row).

The engine owns one state object (:class:`State`), and the methods are pure
``init``/``update`` pairs over their own NamedTuple state
(:mod:`gdsolve.rowmethods`, :mod:`gdsolve.rowlbfgs`); one row mask freezes
all of it. Stop rules are data -- a code per row, the iteration, the measured
value -- and :mod:`gdsolve.outcome` renders the messages from them, exactly as
for the single-start loop (:mod:`gdsolve.solver`), which stays the fast path
for one start. At B = 1 both give the same iterates (``tests/test_engine.py``).

Example:
    >>> import torch
    >>> from gdsolve.objective import compile_objective
    >>> from gdsolve.settings import Settings
    >>> obj = compile_objective("(x-4)**2")
    >>> run = Batch(obj, [Settings()], torch.zeros(3, dtype=torch.long), torch.tensor([[0.0], [3.0], [9.0]]))
    >>> steps = list(run)
    >>> [round(r.x["x"], 4) for r in run.results(range(3))]
    [4.0, 4.0, 4.0]
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator, Sequence
from typing import NamedTuple

import torch

from . import rowlbfgs
from .batchrecords import _AT_X, _NEW_X, _TRIAL, BLOWUP_RISES, CODE, BatchRecords
from .compiling import compiled
from .errors import GdsolveError, OptionError
from .methods import advance, schedule_on, stand_in
from .objective import Objective
from .rowmethods import RULES, armijo, keep
from .settings import Settings
from .status import StopRule

DTYPES = {"float64": torch.float64, "float32": torch.float32}

#: Settings every row of one batch must share (a sweep varies the others).
SHARED = ("method", "line_search", "eps", "gtol", "ftol", "max_iter", "time_limit", "target", "schedule",
          "gamma", "step_size", "t_max", "bounds", "dtype")


class BatchStep(NamedTuple):
    """One iteration of the whole batch. Tensors are shared, not copied: read them before the next step."""

    k: int
    elapsed: float
    X: torch.Tensor  # (B, d) x_k
    F: torch.Tensor  # (B,) minimized f at x_k
    G: torch.Tensor  # (B, d) its gradient
    step: torch.Tensor  # (B,) ||x_{k+1} - x_k|| (0 for rows that did not step)
    lr: float | torch.Tensor  # the rate used: one for all rows, or (B,)
    t: torch.Tensor | None  # (B,) accepted line-search step length
    failed: torch.Tensor | None  # (B,) the line search found no decrease
    stepped: torch.Tensor  # (B,) rows that made this update (they have a Step record)
    running: int  # rows still running after this step
    code: torch.Tensor  # (B,) stop codes after this step
    sign: float = 1.0  # -1 when maximizing: the user's f is sign * F
    hop: int = 0  # basin hopping: which descent of the chains this step belongs to

    def best_f(self) -> float | None:
        """The lowest minimized f over all rows at this step (``None`` when no row's f is finite)."""
        F = self.F
        best = float(torch.where(torch.isfinite(F), F, math.inf).amin()) if F.numel() else math.inf
        return best if math.isfinite(best) else None

    @property
    def f(self) -> float:
        """The best f over the rows, in the user's sign (what a progress bar shows)."""
        best = self.best_f()
        return math.nan if best is None else self.sign * best


class Batch(BatchRecords):
    """A batch of independent runs of one objective.

    Args:
        objective: the compiled function.
        combos: the settings of each combination (one for plain many-start
            runs); they differ only in ``lr`` and method options.
        combo: ``(B,)`` the combination each row runs.
        X0: ``(B, d)`` start points (any dtype and device; moved here).
        device: where to run (``"cpu"``, ``"cuda"``, ``"mps"``).
        row_max_iter: ``(B,)`` optional per-row cap on updates (to replay rows exactly).
        compile: evaluate f and its gradient through ``torch.compile`` (compiled
            here, once, on the batch: :attr:`compile_time` says how long it took).
    """

    def __init__(self, objective: Objective, combos: Sequence[Settings], combo: torch.Tensor, X0: torch.Tensor,
                 *, device: str = "cpu", row_max_iter: torch.Tensor | None = None, compile: bool = False) -> None:
        first = combos[0]
        for other in combos[1:]:
            for name in SHARED:
                if getattr(other, name) != getattr(first, name):
                    raise OptionError(f"every row of a batch must share {name}; only lr and method options vary")
        self.objective = objective
        self.combos = list(combos)
        self.settings = first
        self.device = torch.device(device)
        self.dtype = DTYPES[first.dtype]
        dev, dt = self.device, self.dtype
        B, d = X0.shape
        self.B, self.d = B, d
        self.combo = combo.to(dev)
        self.x0 = X0.to(dtype=dt).to(dev)  # cast first: some devices (mps) hold no float64
        names = objective.variables
        lo = [first.bounds.get(n, (-math.inf, math.inf))[0] for n in names]
        hi = [first.bounds.get(n, (-math.inf, math.inf))[1] for n in names]
        self.bounds = None
        if first.bounds:
            self.bounds = (torch.tensor([lo], dtype=dt, device=dev), torch.tensor([hi], dtype=dt, device=dev))
        self.lr0 = self._per_row(lambda s: s.lr)
        # A hyperparameter every row shares is a Python float: torch's scalar
        # kernels are several times faster than broadcasting a (B, 1) column.
        self.hyper = {name: self._shared_or_column(name) for name in first.options}
        self._lr_shared = first.lr if all(c.lr == first.lr for c in self.combos) else None
        self.cap = None if row_max_iter is None else row_max_iter.to(dev)
        self.stop_requested = False
        self._started = False
        i = torch.zeros(B, dtype=torch.long, device=dev)
        nan = torch.full((B,), math.nan, dtype=dt, device=dev)
        self.code = torch.zeros(B, dtype=torch.int8, device=dev)
        self.nit, self.extra_fev, self.extra_gev, self.stop_k = i, i.clone(), i.clone(), i.clone()
        self.last_step, self.last_fchange, self.last_t, self.last_lr = nan, nan.clone(), nan.clone(), self.lr0.clone()
        self.ls_failed = torch.zeros(B, dtype=torch.bool, device=dev)
        self.ls_nonfinite = self.ls_failed.clone()
        self.backtracks = torch.zeros(B, dtype=torch.long, device=dev)
        self.best_f = torch.full((B,), math.inf, dtype=dt, device=dev)
        self.best_x = self.x0.clone()
        self.best_k = i.clone() - 1
        # Where each row's travel began: the stationarity check measures each variable against it
        # (basin hopping sets it to where each chain began).
        self.origin = self.x0
        self.bad_what = torch.zeros(B, dtype=torch.int8, device=dev)
        self.bad_f, self.bad_g = nan.clone(), nan.clone()
        self.bad_x = torch.zeros_like(self.x0)
        self.factor = 1.0  # the schedule's multiplier of every row's base rate
        self.X = self.x0.clone()
        #: f as the loop evaluates it: the objective, or its torch.compile-d form.
        self.f: Callable[[torch.Tensor], torch.Tensor] = objective
        self.compile_time: float | None = None
        if compile:
            self.f, self.compile_time = compiled(objective, self.x0)
        self.elapsed = 0.0
        self._t0 = time.perf_counter()
        self._final: tuple[torch.Tensor, torch.Tensor] | None = None

    def _shared_or_column(self, name: str) -> float | torch.Tensor:
        values = {float(c.options[name]) for c in self.combos}
        if len(values) == 1:
            return values.pop()
        return self._per_row(lambda s: s.options[name]).unsqueeze(1)

    def _rate(self) -> float | torch.Tensor:
        """Every row's current rate: a float when all rows share it, else a (B,) tensor."""
        if self._lr_shared is not None:
            return self._lr_shared * self.factor
        return self.lr0 * self.factor

    def _per_row(self, get) -> torch.Tensor:
        values = torch.tensor([float(get(s)) for s in self.combos], dtype=self.dtype, device=self.device)
        return values[self.combo]

    # ------------------------------------------------------------------ the loop
    def __iter__(self) -> Iterator[BatchStep]:
        if self._started:
            raise GdsolveError("this batch has already been run; build a new one")
        self._started = True
        s = self.settings
        obj = self.objective
        f = self.f
        B = self.B
        dev = self.device
        method = s.method
        lbfgs = method == "lbfgs"
        search = s.line_search == "armijo"
        rule = None if lbfgs else RULES[method]
        mstate = rowlbfgs.init(self.X, self._per_row(lambda c: c.options["history_size"]).long()) if lbfgs \
            else rule.init(self.X)
        frozen_prev = None
        # every row's rate is its base rate times this scheduler's rate (a stand-in starting at 1)
        scheduler = schedule_on(s, stand_in(1.0))
        eps, gtol, ftol, max_iter = s.eps, s.gtol, s.ftol, s.max_iter
        time_limit = s.time_limit or math.inf
        target = None if s.target is None else obj.sign * s.target
        ones = torch.ones(B, dtype=self.dtype, device=dev)
        active = torch.ones(B, dtype=torch.bool, device=dev)
        running = B
        off = torch.zeros(B, dtype=self.dtype, device=dev)  # 0 for running rows, +inf for stopped ones
        f_prev = torch.full((B,), math.inf, dtype=self.dtype, device=dev)
        f_start = f_prev
        rises = torch.zeros(B, dtype=self.dtype, device=dev)
        step = torch.full((B,), math.nan, dtype=self.dtype, device=dev)  # the last step each row made
        # The per-iteration work is kept to what the rules need: counters,
        # last step and rate are written only for rows that stop (a row that
        # runs to the end takes the loop's own), and masks are applied only
        # once some row has stopped. A batch pays for bookkeeping about a
        # third of what it pays for f and its gradient (benchmarks/bench_scale.py).
        lr = lr_used = self._rate()
        X = self.X
        t0 = time.perf_counter()
        self._t0 = t0
        k = -1
        for k in range(max_iter):
            Xg = X.detach().requires_grad_(True)
            F = f(Xg)
            (G,) = torch.autograd.grad(F, Xg, ones)
            F = F.detach()
            now = time.perf_counter() - t0
            self._final = (F, G)
            act = active
            stopping = []  # (rows, rule) fired at x_k, before the update
            # A sum is finite when every term is (an overflowing sum only sends us to the exact test).
            if not math.isfinite(float(F.sum())):
                finite = torch.isfinite(F)
                bad = act & ~finite
                if bool(bad.any()):
                    self._mark_bad(bad, k, _AT_X, F, G.norm(dim=1), X)
                    stopping.append((bad, StopRule.NONFINITE))
                    act = act & finite
            better = F < self.best_f  # rows that stopped keep their x: they never improve
            torch.where(better, F, self.best_f, out=self.best_f)
            torch.where(better.unsqueeze(1), X, self.best_x, out=self.best_x)
            self.best_k.masked_fill_(better, k)
            if k == 0:
                f_start = F
            if target is not None:
                hit = act & (F <= target)
                stopping.append((hit, StopRule.TARGET))
                act = act & ~hit
            if gtol is not None:
                Gp = G if self.bounds is None else G.masked_fill(_outward(X, G, self.bounds), 0.0)
                hit = act & (Gp.norm(dim=1) < gtol)
                stopping.append((hit, StopRule.GTOL))
                act = act & ~hit
            if ftol is not None and k > 0:
                change = (F - f_prev).abs() / torch.maximum(torch.maximum(F.abs(), f_prev.abs()), ones)
                self.last_fchange = torch.where(act, change, self.last_fchange)
                hit = act & (change <= ftol)
                stopping.append((hit, StopRule.FTOL))
                act = act & ~hit
            if now >= time_limit:
                stopping.append((act, StopRule.TIME_LIMIT))
                act = act & False
            rises.add_(1).mul_(F > f_prev)
            if k + 1 >= BLOWUP_RISES and float(rises.amax()) >= BLOWUP_RISES:
                blow = act & (rises >= BLOWUP_RISES) & (F > f_start)
                if bool(blow.any()):
                    self._mark_bad(blow, k, _AT_X, F, G.norm(dim=1), X)
                    stopping.append((blow, StopRule.BLOWUP))
                    act = act & ~blow
            for rows, why in stopping:  # stopped at x_k: k updates made, the last step is the previous one
                self._stop(rows, why, k, step, lr_used)
            # The update, for every row; rows that are not running keep their x and state.
            t = failed = None
            if lbfgs:
                Gm = G
                if self.bounds is not None:
                    frozen = _outward(X, G, self.bounds)
                    if frozen_prev is not None:
                        mstate = rowlbfgs.reset(mstate, act & (frozen != frozen_prev).any(1))
                    frozen_prev = frozen
                    Gm = G.masked_fill(frozen, 0.0)
                out = rowlbfgs.update_active(mstate, X, Gm, F, lr, act, self._evaluate_fg(frozen_prev))
                X_new, mstate, t, failed = out.X, out.state, out.t, out.failed
                self.extra_fev += out.evaluations
                self.extra_gev += out.evaluations
                self.ls_nonfinite = torch.where(act, out.nonfinite, self.ls_nonfinite)
                self.backtracks += out.backtracks * act
                u = out.unbounded & act
                if bool(u.any()):
                    self._mark_bad(u, k, _TRIAL, torch.full_like(F, -math.inf), torch.zeros_like(F), out.trial)
                    self._stop(u, StopRule.NONFINITE, k, step, lr)
                    act = act & ~u
            elif search:
                direction = G
                if method == "momentum":
                    buf = torch.where(mstate.started, mstate.buf * self.hyper["momentum"] + G, G)
                    downhill = (buf * G).sum(1, keepdim=True) > 0
                    direction = torch.where(downhill, buf, G)  # restart the buffer when it points uphill
                    mstate = keep(act, type(mstate)(direction, torch.ones_like(mstate.started)), mstate)
                ls = armijo(X, direction, G, F, torch.as_tensor(lr, dtype=X.dtype, device=dev).expand(B), act,
                            self._evaluate_f)
                X_new, t, failed = ls.X, ls.t, ls.failed
                self.extra_fev += ls.evaluations
                self.ls_nonfinite = torch.where(act, ls.nonfinite, self.ls_nonfinite)
                self.backtracks += ls.backtracks * act
            else:
                X_new, new_state = rule.update(mstate, X, G, self.hyper, lr if isinstance(lr, float) else lr.unsqueeze(1))
                if len(new_state):
                    mstate = new_state if running == B and not stopping else keep(act, new_state, mstate)
            all_run = running == B and not stopping and act is active
            if failed is not None:
                self.ls_failed = torch.where(act, failed, self.ls_failed)
                self.last_t = torch.where(act, t, self.last_t)
            if not all_run:
                X_new = torch.where(act.unsqueeze(1), X_new, X)
            if self.bounds is not None:
                X_new = torch.clamp(X_new, self.bounds[0], self.bounds[1])
            step = torch.linalg.vector_norm(X_new - X, dim=1)
            stepped = act
            after = []  # (rows, rule) fired after the update: k + 1 updates made
            # One reduction answers both "is any step non-finite?" and "did any running row step below eps?"
            # (rows that are not running get +inf added, so they never count as small).
            probe = float((step + off).amin()) if running < B or stopping else float(step.amin())
            if not math.isfinite(float(step.sum())):
                bad = act & ~torch.isfinite(step)
                if bool(bad.any()):
                    self._mark_bad(bad, k + 1, _NEW_X, F, F, X_new)
                    after.append((bad, StopRule.NONFINITE))
                    act = act & ~bad
            if probe < eps:
                hit = act & (step < eps)
                after.append((hit, StopRule.EPS))
                act = act & ~hit
            if self.cap is not None:
                hit = act & (k + 1 >= self.cap)
                after.append((hit, StopRule.MAX_ITER))
                act = act & ~hit
            for rows, why in after:
                self._stop(rows, why, k + 1, step, lr)
            if stopping or after:
                running = int(act.sum())
                off = torch.where(act, 0.0, math.inf).to(self.dtype)
            self.X = X = X_new
            self._final = None
            active = act
            self._done = (k + 1, step, lr, active)  # for an interrupt that comes outside an iteration
            yield BatchStep(k, now, Xg.detach(), F, G, step, lr, t, failed, stepped, running, self.code, obj.sign)
            if self.stop_requested and running:  # Ctrl-C, or a consumer's request: every running row ends here
                self._stop(active, StopRule.INTERRUPTED, k + 1, step, lr)
                running = 0
            if running == 0:
                break
            f_prev = F
            lr_used = lr
            if scheduler is not None:
                self.factor = advance(scheduler)
                lr = self._rate()
        if running:  # the rows still running used the whole budget
            self._stop(active, StopRule.MAX_ITER, k + 1, step, lr)
        self.elapsed = time.perf_counter() - t0

    def _stop(self, rows: torch.Tensor, rule: StopRule, nit: int, step: torch.Tensor, lr: float | torch.Tensor) -> None:
        """Stop ``rows`` with ``rule`` after ``nit`` updates; keep their last step and rate."""
        self.code.masked_fill_(rows, CODE[rule])
        self.nit.masked_fill_(rows, nit)
        torch.where(rows, step, self.last_step, out=self.last_step)
        if isinstance(lr, float):
            self.last_lr.masked_fill_(rows, lr)
        else:
            torch.where(rows, lr, self.last_lr, out=self.last_lr)

    def _evaluate_f(self, X: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return self.f(X)

    def _evaluate_fg(self, frozen: torch.Tensor | None):
        def evaluate(Xs: torch.Tensor, rows: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            Xs = Xs.detach().requires_grad_(True)
            F = self.f(Xs)
            (G,) = torch.autograd.grad(F.sum(), Xs)
            if frozen is not None:
                G = G.masked_fill(frozen[rows], 0.0)
            return F.detach(), G
        return evaluate

    def _mark_bad(self, rows: torch.Tensor, k: int, what: int, F: torch.Tensor, gnorm: torch.Tensor,
                  X: torch.Tensor) -> None:
        self.stop_k = torch.where(rows, k, self.stop_k)
        self.bad_what = torch.where(rows, what, self.bad_what).to(torch.int8)
        self.bad_f = torch.where(rows, F, self.bad_f)
        self.bad_g = torch.where(rows, gnorm, self.bad_g)
        self.bad_x = torch.where(rows.unsqueeze(1), X, self.bad_x)

    def interrupt(self) -> None:
        """Mark every running row interrupted (Ctrl-C came outside an iteration)."""
        done = getattr(self, "_done", None)
        if done is None:
            self.code.masked_fill_(self.code == 0, CODE[StopRule.INTERRUPTED])
        else:
            nit, step, lr, active = done
            self._stop(active & (self.code == 0), StopRule.INTERRUPTED, nit, step, lr)
        self.elapsed = time.perf_counter() - self._t0


def _outward(X: torch.Tensor, G: torch.Tensor, bounds: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
    lo, hi = bounds
    return ((X <= lo) & (G > 0)) | ((X >= hi) & (G < 0))
