"""The descent engine: every run, one start or a million, as rows of one ``(B, d)`` tensor.

The tutorial (``shared/seed/tutorial-2-tensor-gradients.txt``) runs::

    for _ in range(max_iter):
        y = f(x); y.backward()
        with torch.no_grad():
            prev_x = x
            x = x - learning_rate * x.grad
            if torch.norm(prev_x - x) < eps:
                break

:class:`Batch` runs that rule (or another method's) on every row of ``X``:
each row is its own run, with its own rate and method options (a sweep),
method state, counters, best point and stop rule. A row that stops is
frozen -- its x never changes again -- while the others go on; a row that
meets a non-finite value stops alone. One start is a batch of one row.

The engine owns one :class:`State` (a NamedTuple of per-row tensors); the
methods are ``init``/``update`` pairs over their own state
(:mod:`gdsolve.optim.rowmethods`, :mod:`gdsolve.optim.rowlbfgs`) and the stopping rules
are functions that return data (:mod:`gdsolve.engine.rules`). The engine sees only
the function it minimizes (``-f`` when maximizing): the user's sign is
applied by :class:`~gdsolve.formula.objective.Objective`'s methods, on the way in and on the way
out; each :class:`~gdsolve.core.batchstep.BatchStep` carries a copy of it, for its best f in the user's sign.

Fast at one row and at many: per iteration the engine reads back from the
device once -- a few numbers that say whether any rule may fire (the
smallest step, the largest rise of f, whether every value is finite) -- and
works out per-row masks only at the iterations where one might. A small
batch on the CPU reads its values back whole instead (cheaper than a tensor
reduction for a handful of numbers), which also gives a listener its step
records for free. Per-step records are built only when someone listens.

Example:
    >>> import torch
    >>> from gdsolve.formula.objective import compile_objective
    >>> from gdsolve.core.settings import Settings
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
from typing import Any

import torch

from ..core.batchstep import BatchStep, HostView
from ..core.errors import GdsolveError, OptionError
from ..core.settings import Settings
from ..core.status import StopRule
from ..formula.compiling import compiled
from ..formula.objective import Objective
from ..optim import rowlbfgs, scaling
from ..optim.box import Box
from ..optim.rowmethods import RULES, armijo, momentum_direction, take_rows
from ..optim.schedules import advance, schedule_on, stand_in
from . import rules
from .ledger import Ledger
from .records import BatchRecords
from .state import State

DTYPES = {"float64": torch.float64, "float32": torch.float32}

#: Settings every row of one batch must share (a sweep varies the others).
SHARED = ("method", "line_search", "eps", "gtol", "ftol", "max_iter", "time_limit", "target", "schedule",
          "gamma", "step_size", "t_max", "bounds", "dtype", "scale")

#: A batch of at most this many rows (and :data:`HOST_VALUES` values) on the CPU reads its
#: values back whole each iteration and tests the rules on them, instead of reducing tensors.
HOST_ROWS = 8
HOST_VALUES = 4096
#: The working set is gathered anew once the rows still running are at most this share of it.
COMPACT = 0.9


def gradient_of(compiled: bool) -> Callable[[torch.Tensor, torch.Tensor, torch.Tensor | None], torch.Tensor]:
    """The function ``(F, X, seed) -> dF/dX`` the loop calls once per iteration.

    It is ``torch.autograd.grad``'s own C++ entry point, called directly:
    on one row the Python wrapper around it (argument checks, making the seed
    of ones, stashing the compiler's context for device threads) costs 6 us,
    a quarter of an iteration of ``(x-4)**2``, and the loop passes the same
    arguments every time. A compiled f keeps the wrapper (its backward may
    need the compiler's context), as does a torch without that entry point.
    ``tests/test_engine.py`` checks both give the same gradient.
    """
    engine = getattr(getattr(torch.autograd, "Variable", None), "_execution_engine", None)
    run_backward = getattr(engine, "run_backward", None)
    if compiled or run_backward is None:
        def grad(F: torch.Tensor, X: torch.Tensor, seed: torch.Tensor | None) -> torch.Tensor:
            return torch.autograd.grad(F, X, seed)[0]
        return grad

    def direct(F: torch.Tensor, X: torch.Tensor, seed: torch.Tensor | None) -> torch.Tensor:
        # (outputs, seeds, keep_graph, create_graph, inputs, allow_unreachable, accumulate_grad)
        return run_backward((F,), (torch.ones_like(F) if seed is None else seed,), False, False, (X,), False, False)[0]
    return direct


class Batch(Ledger, BatchRecords):
    """A batch of independent runs of one objective.

    Args:
        objective: the compiled function.
        combos: the settings of each combination (one for plain runs); they
            differ only in ``lr`` and method options.
        combo: ``(B,)`` the combination each row runs.
        X0: ``(B, d)`` start points (any dtype and device; moved here).
        device: where to run (``"cpu"``, ``"cuda"``, ``"mps"``).
        row_max_iter: ``(B,)`` optional per-row cap on updates (to replay rows exactly).
        compile: evaluate f and its gradient through ``torch.compile`` (compiled
            here, once, on the batch: :attr:`compile_time` says how long it took).
        origin: ``(B, d)`` where each row's travel began, for the stationarity
            check (default ``X0``; basin hopping passes where each chain began).
    """

    def __init__(self, objective: Objective, combos: Sequence[Settings], combo: torch.Tensor, X0: torch.Tensor,
                 *, device: str = "cpu", row_max_iter: torch.Tensor | None = None, compile: bool = False,
                 origin: torch.Tensor | None = None) -> None:
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
        self.origin = self.x0 if origin is None else origin.to(dtype=dt).to(dev)
        self.box = Box.of(objective.variables, first.bounds, dt, dev)
        self.lr0 = self._per_row(lambda s: s.lr)
        # A hyperparameter every row shares is a Python float: torch's scalar
        # kernels are several times faster than broadcasting a (B, 1) column.
        self.hyper = {name: self._shared_or_column(name) for name in first.options}
        self._lr_shared = first.lr if all(c.lr == first.lr for c in self.combos) else None
        self.cap = None if row_max_iter is None else row_max_iter.to(dev)
        self.stop_requested = False
        self._started = False
        self.state = self._initial_state()
        #: ``(B, d)`` each row's scaling (x = D z: L-BFGS iterates in z), or ``None`` (see :mod:`gdsolve.optim.scaling`)
        self.scaling = (scaling.initial(objective, self.x0) if first.method == "lbfgs" and first.scale == "auto"
                        else None)
        self.factor = 1.0  # the schedule's multiplier of every row's base rate
        #: f as the loop evaluates it: the objective, or its torch.compile-d form.
        self.f: Callable[[torch.Tensor], torch.Tensor] = objective
        self.compile_time: float | None = None
        if compile:
            self.f, self.compile_time = compiled(objective, self.x0)
        self.elapsed = 0.0
        self._t0 = time.perf_counter()
        self._pending: tuple | None = None  # the last point the loop evaluated (see Ledger._settle)
        self._W: torch.Tensor | None = None  # the working rows, once some have stopped and been let go
        self._work: torch.Tensor | None = None  # their points while the loop runs
        self._hot: tuple | None = None  # their best points while the loop runs
        self._done: tuple | None = None  # what an interrupt between iterations needs

    def _initial_state(self) -> State:
        B, dev, dt = self.B, self.device, self.dtype
        s = self.settings
        i = torch.zeros(B, dtype=torch.long, device=dev)
        nan = torch.full((B,), math.nan, dtype=dt, device=dev)
        no = torch.zeros(B, dtype=torch.bool, device=dev)
        X = self.x0.clone()
        if s.method == "lbfgs":
            method = rowlbfgs.init(X, self._per_row(lambda c: c.options["history_size"]).long())
        else:
            method = RULES[s.method].init(X)
        return State(X=X, F=None, G=None, method=method, code=torch.zeros(B, dtype=torch.int8, device=dev),
                     nit=i, fev=i.clone(), gev=i.clone(), last_step=nan, last_fchange=nan.clone(), last_t=nan.clone(),
                     last_lr=self.lr0.clone(), ls_failed=no, ls_nonfinite=no.clone(), backtracks=i.clone(),
                     best_f=torch.full((B,), math.inf, dtype=dt, device=dev), best_x=X.clone(), best_k=i - 1,
                     stop_k=i.clone(), bad_what=torch.zeros(B, dtype=torch.int8, device=dev), bad_f=nan.clone(),
                     bad_g=nan.clone(), bad_x=torch.zeros_like(X))

    def restart(self, X0: torch.Tensor) -> Batch:
        """A new batch of the same rows from ``X0``: same function (compiled or not), settings and origin."""
        again = Batch(self.objective, self.combos, self.combo, X0, device=str(self.device), origin=self.origin)
        again.f, again.compile_time = self.f, self.compile_time
        return again

    @property
    def X(self) -> torch.Tensor:
        """Every row's current point (also while the loop runs)."""
        if self._work is None:
            return self.state.X
        X = self.state.X.clone()
        X[self._W if self._W is not None else slice(None)] = self._work
        return X

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

    def _per_row(self, get: Callable[[Settings], Any]) -> torch.Tensor:
        values = torch.tensor([float(get(s)) for s in self.combos], dtype=self.dtype, device=self.device)
        return values[self.combo]

    # ------------------------------------------------------------------ the loop
    def __iter__(self) -> Iterator[BatchStep]:
        if self._started:
            raise GdsolveError("this run has already been iterated; prepare a new one")
        self._started = True
        try:
            yield from self._loop()
        finally:  # the end, an interrupt or a consumer that stopped listening: the state holds every point
            self._settle()
            self._writeback()

    def _loop(self) -> Iterator[BatchStep]:
        s = self.settings
        f, B, dev, dt = self.f, self.B, self.device, self.dtype
        sign = self.objective.sign
        # every row's rate is its base rate times this scheduler's (torch.optim is imported only for one:
        # building an optimizer imports torch._dynamo, half a second)
        scheduler = None if s.schedule == "constant" else schedule_on(s, stand_in(1.0))
        eps, gtol, ftol, max_iter = s.eps, s.gtol, s.ftol, s.max_iter
        limit = s.time_limit or math.inf
        target = None if s.target is None else self.objective.minimized(s.target)
        host = dev.type == "cpu" and B <= HOST_ROWS and B * self.d <= HOST_VALUES
        cap = self.cap
        cap_min = math.inf if cap is None else float(cap.min())
        gradient = gradient_of(self.compile_time is not None)
        # The working set: the rows the loop still evaluates. It starts as the whole batch; once a
        # tenth of it has stopped (running <= COMPACT * n; never for a small batch read back on the host),
        # the rest is gathered (W: their rows in the batch) and the stopped ones cost nothing more. Until
        # then a stopped row is held in place by index.
        W: torch.Tensor | None = None
        n = B
        ones = torch.ones(n, dtype=dt, device=dev)
        active = torch.ones(n, dtype=torch.bool, device=dev)
        si = torch.zeros(0, dtype=torch.long, device=dev)  # the working rows that stopped
        live = list(range(B))  # the running rows, on the host (a small batch)
        running = B
        floor = math.inf  # the lowest f of the rows let go
        f_prev = f_start = torch.full((n,), math.inf, dtype=dt, device=dev)
        fs_prev: list[float] = []
        rises = torch.zeros(n, dtype=dt, device=dev)
        rises_live = False  # some row's count of rises is not zero
        rising = 0  # iterations in a row in which some running row's f rose (bounds every row's count)
        step_prev: Any = torch.full((n,), math.nan, dtype=dt, device=dev)  # the last step each row made
        X_prev = X = self.state.X
        lr = lr_used = self._rate()
        hyper = self.hyper
        xs = X.tolist() if host else []
        best = [math.inf] * B  # a small batch's best f per row, as in the state, on the host
        t0 = self._t0 = time.perf_counter()
        perf = time.perf_counter
        isfinite, dist = math.isfinite, math.dist
        # the method: a pure update rule, called directly, or a line search (gdsolve's own update)
        update = self._update if s.method == "lbfgs" or s.line_search == "armijo" else None
        rule_update, method = RULES.get(s.method, RULES["gd"]).update, self.state.method
        lr_float = isinstance(lr, float)
        optional = target is not None or gtol is not None or ftol is not None or update is not None
        # A gradient that is not finite makes the step non-finite, except where a bound clamps it or a
        # line search refuses to move: there the probe tests it too.
        check_g = self.box is not None or update is not None
        self._D = self.scaling  # the working rows' factors
        change = None
        k = -1
        for k in range(max_iter):
            Xg = X.detach().requires_grad_(True)
            F = f(Xg)
            if k == 0 and F.shape != ones.shape:  # f of one row may come back as a scalar
                ones = torch.ones_like(F)
            G = gradient(F, Xg, ones)
            F = F.detach()
            now = perf() - t0
            self._pending = (F, X, k, active, W)
            if update is not None:
                X_new, method, ls = update(X, G, F, lr, active, hyper, method)
            else:
                X_new, method = rule_update(method, X, G, hyper, lr if lr_float else lr.unsqueeze(1))
                ls = None
            if self.box is not None:
                X_new = self.box.clamp(X_new)
            if running < n:  # the stopped rows keep their x (by index: torch.where costs more on a CPU)
                X_new[si] = X[si]
            self._work = X_new
            # ---- the probe: a few numbers, read back once, that say whether any rule may fire
            change = gnorm = unbounded = None
            lows: list = []
            if optional:
                change = rules.f_change(F, f_prev) if ftol is not None and k > 0 else None
                gnorm = rules.gradient_norm(G, X, self.box) if gtol is not None else None
                lows = [v if running == n else v.index_fill(0, si, math.inf)
                        for v in (None if target is None else F, gnorm, change) if v is not None]
                lows = [v.amin() for v in lows]
                unbounded = None if ls is None else ls.unbounded
                if unbounded is not None:  # (the search ran for the running rows only)
                    lows.append(-unbounded.any().to(dt))
            view = None
            step = None
            blown = False
            if host:
                fs, gs, xn = F.tolist(), G.tolist(), X_new.tolist()
                steps = [dist(a, b) for a, b in zip(xs, xn)]
                total = sum([fs[i] + sum(gs[i]) + steps[i] for i in live])
                smin = min([steps[i] for i in live])
                rise = max([fs[i] - fs_prev[i] for i in live]) if k > 0 else -math.inf
                lows = torch.stack(lows).tolist() if lows else []
                view = HostView(xs, fs, gs, steps, [True] * B if running == B else active.tolist())
            else:
                step = torch.linalg.vector_norm(X_new - X, dim=1)
                # Whole-tensor reductions, the stopped rows (which may hold nan) overwritten by index
                if running == n:
                    probe = [F.sum() + step.sum(), step.amin()]
                    if check_g:
                        probe[0] = probe[0] + G.sum()
                else:
                    probe = [F.index_fill(0, si, 0.0).sum() + step.index_fill(0, si, 0.0).sum(),
                             step.index_fill(0, si, math.inf).amin()]
                    if check_g:
                        probe[0] = probe[0] + G.index_fill(0, si, 0.0).sum()
                if k > 0:  # the largest change of f among the running rows, and each row's count of rises
                    up = F - f_prev
                    probe.append(up.amax() if running == n else up.index_fill(0, si, -math.inf).amax())
                    rises.add_(1).mul_(up > 0)
                    if k + 1 >= rules.BLOWUP_RISES:  # some row may have risen long enough to blow up
                        probe.append(rises.amax())
                values = torch.stack(probe + lows).tolist()
                total, smin = values[0], values[1]
                rise = values[2] if k > 0 else -math.inf
                blown = k + 1 >= rules.BLOWUP_RISES and values[3] >= rules.BLOWUP_RISES
                lows = values[2 + (k > 0) + (k + 1 >= rules.BLOWUP_RISES):]
            rose = not rise <= 0  # nan: some row may have risen
            rising = rising + 1 if rose else 0
            if host:  # some row may have risen long enough to blow up
                blown = rising >= rules.BLOWUP_RISES
            # which rules may fire somewhere (each is then tested row by row)
            may = [name for name, on in (("finite", not isfinite(total)), ("eps", smin < eps), ("time", now >= limit),
                                         ("budget", k + 1 >= cap_min), ("blowup", blown)) if on]
            if lows:
                i = 0
                for name, tol, strict in (("target", target, False), ("gtol", gtol, True),
                                          ("ftol", ftol if change is not None else None, False)):
                    if tol is not None:
                        if lows[i] < tol if strict else lows[i] <= tol:
                            may.append(name)
                        i += 1
                if unbounded is not None and lows[i] < 0:
                    may.append("trial")
            # The best point: x_{k-1} is folded in only where f stopped decreasing after it (a small batch
            # tests that on the host first); x_k is folded in when the row ends (see Ledger._fold).
            if k > 0 and not rise < 0 and (not host or any(
                    [not fs[i] < fs_prev[i] and fs_prev[i] < best[i] for i in live])):
                candidates = ~(F < f_prev) & (f_prev < self._best()[0])
                self._fold(candidates if running == n else candidates.index_fill_(0, si, False), f_prev, X_prev, k - 1)
                if host:
                    best = self.state.best_f.tolist()
            if host:
                if rose:
                    rises.add_(1).mul_(F > f_prev)
                    rises_live = True
                elif rises_live:
                    rises.zero_()
                    rises_live = False
            stepped = active
            if may:
                step = step if step is not None else self._tensor(view.step)  # type: ignore[union-attr]
                ended, still, stepped, X_new, step = self._judge(
                    k, now, F, G, X, X_new, step, self._tensor(step_prev), change, gnorm, target, rises, f_start,
                    active, ls, lr, lr_used, frozenset(may))
                # the rows that ended here: x_{k-1} may be their best point (f may have run to -inf), or x_k
                if k > 0:
                    self._fold_ended(ended, f_prev, X_prev, k - 1)
                self._fold_ended(ended, F, X, k)
                active = still
                running -= ended.numel()
                si = torch.cat([si, ended])
                if host:
                    live = active.nonzero().squeeze(1).tolist()
                    best = self.state.best_f.tolist()
                if view is not None:
                    xn = X_new.tolist()
                    view = view._replace(step=step.tolist(), stepped=stepped.tolist())
            if ls is not None:
                self._searched(ls, stepped)
            if k == 0:
                f_start = F
            step_prev = step if step is not None else view.step  # type: ignore[union-attr]
            self._done = (k + 1, step_prev, lr, active, change, W)
            yield BatchStep(k, now, Xg.detach(), F, G, step, lr, None if ls is None else ls.t,
                            None if ls is None else ls.failed, stepped, running, self.state.code, sign, 0, view,
                            W, floor)
            if self.stop_requested and running:  # Ctrl-C, or a consumer's request: every running row ends here
                self._stop(active, StopRule.INTERRUPTED, k + 1, self._tensor(step_prev), lr, change)
                running = 0
            if running == 0:
                break
            X_prev, X, f_prev, lr_used = X, X_new, F, lr
            if host:
                xs, fs_prev = xn, fs
            elif running <= COMPACT * n and k + 1 < max_iter:  # let the stopped rows go: gather the running ones
                keep = active.nonzero().squeeze(1)
                gone = F[si]
                gone = gone[torch.isfinite(gone)]
                floor = min(floor, float(gone.amin())) if gone.numel() else floor
                self._writeback()
                W = keep if W is None else W[keep]
                self._W = W
                self._best()
                n = running
                X, X_prev, f_prev, f_start, rises = X[keep], X_prev[keep], f_prev[keep], f_start[keep], rises[keep]
                step_prev = step_prev[keep]  # type: ignore[index]
                method = take_rows(method, keep)
                hyper = {name: v if isinstance(v, float) else v[keep] for name, v in hyper.items()}
                if not lr_float:
                    lr = lr[keep]
                    lr_used = lr_used[keep]  # type: ignore[index]
                if cap is not None:
                    self.cap = cap = cap[keep]
                if getattr(self, "_frozen", None) is not None:
                    self._frozen = self._frozen[keep]
                if self._D is not None:
                    self._D = self._D[keep]
                ones = ones[keep]
                active = torch.ones(n, dtype=torch.bool, device=dev)
                si = si[:0]
                self._work = X
            if scheduler is not None:
                self.factor = advance(scheduler)
                lr = self._rate() if lr_float or W is None else self._rate()[W]  # type: ignore[index]
        if running:  # the rows still running used the whole budget
            self._stop(active, StopRule.MAX_ITER, k + 1, self._tensor(step_prev), lr_used, change)
        self._settle()
        self._writeback()
        self.elapsed = time.perf_counter() - t0

    def _tensor(self, values: Any) -> torch.Tensor:
        """Per-row values (a tensor, or the list a small batch read back) as a tensor."""
        if torch.is_tensor(values):
            return values
        return torch.tensor(values, dtype=self.dtype, device=self.device)

    def _update(self, X: torch.Tensor, G: torch.Tensor, F: torch.Tensor, lr: float | torch.Tensor,
                active: torch.Tensor, hyper: dict, state: tuple) -> tuple[torch.Tensor, tuple, Any]:
        """A line-search method's update of every running row: ``(X_new, method state, the search's outcome)``."""
        s = self.settings
        B = X.shape[0]
        if s.method == "lbfgs":
            Gm = G
            frozen = None
            if self.box is not None:  # the active set: variables a bound holds do not move
                frozen = self.box.outward(X, G)
                prev = getattr(self, "_frozen", None)
                if prev is not None:
                    state = rowlbfgs.reset(state, active & (frozen != prev).any(1))
                self._frozen = frozen
                Gm = G.masked_fill(frozen, 0.0)
            if self._D is not None:
                out = scaling.update(state, X, Gm, F, lr, active, self._evaluate_fg(frozen), self._D)
            else:
                out = rowlbfgs.update_active(state, X, Gm, F, lr, active, self._evaluate_fg(frozen))
            return out.X, out.state, out
        direction = G  # armijo, for gd or momentum
        if s.method == "momentum":
            direction, state = momentum_direction(state, G, hyper["momentum"])
        rate = torch.as_tensor(lr, dtype=X.dtype, device=X.device).expand(B)
        out = armijo(X, direction, G, F, rate, active, self._evaluate_f)
        return out.X, state, out

    def _evaluate_f(self, X: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return self.f(X)

    def _evaluate_fg(self, frozen: torch.Tensor | None) -> rowlbfgs.EvalFG:
        def evaluate(Xs: torch.Tensor, rows: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            with torch.enable_grad():
                Xs = Xs.detach().requires_grad_(True)
                F = self.f(Xs)
                (G,) = torch.autograd.grad(F.sum(), Xs)
            if frozen is not None:
                G = G.masked_fill(frozen[rows], 0.0)
            return F.detach(), G
        return evaluate

