"""A run as users see it: one start, many starts or a sweep, over the one engine.

:class:`SingleRun` is one start: the engine at one row, iterated as
:class:`~gdsolve.core.result.Step` records and ending with that row's result.
:class:`MultiRun` lays out the rows -- every combination of a sweep (the
cartesian product of the listed values, as hyperfine's ``-L``) times every
start -- runs them in one :class:`~gdsolve.engine.loop.Batch`, and makes of the
batch one :class:`~gdsolve.core.result.OptimizeResult`:

* its single-run fields (``x``, ``fun``, ``status``, ``message``...) are the
  best row's, judged exactly as a single run is, so a script written for one
  start keeps working; the best row is the lowest finite f over all rows,
  a converged row winning a tie (its own status says whether the check
  certified it);
* ``rows`` counts the rows by status (a row that stopped on eps or ftol is
  ``converged`` only if the stationarity check passes, as for one run);
* ``minima``: the distinct local minima the converged rows reached
  (:mod:`gdsolve.engine.minima`), best first, each with how many starts reached it;
* ``runs``: for a sweep, each combination's values and its own result.

It iterates one :class:`~gdsolve.core.batchstep.BatchStep` per iteration, honours
``stop_requested``, and can replay chosen rows for a trace
(:meth:`replay`): rows are independent, so a replay of a row alone retraces
its path.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import torch

from ..core.batchstep import BatchStep
from ..core.result import Minimum, OptimizeResult, Step, SweepRun
from ..core.settings import DEFAULT_HOP_SIZE, Settings
from ..core.status import CODE, STOP_CODES, StopRule
from ..formula.objective import Objective
from .loop import Batch
from .minima import distinct
from .outcome import judged_rule, judged_status
from .rowcheck import stationary_rows
from .starts import box

STATUS_ORDER = ("converged", "stalled", "max_iter", "time_limit", "diverged", "interrupted")


def combinations(axes: Mapping[str, Sequence[float]]) -> list[dict[str, float]]:
    """The cartesian product of the swept values, first axis slowest.

    >>> combinations({"lr": [0.1, 0.01], "momentum": [0.5, 0.9]})
    [{'lr': 0.1, 'momentum': 0.5}, {'lr': 0.1, 'momentum': 0.9}, {'lr': 0.01, 'momentum': 0.5}, {'lr': 0.01, 'momentum': 0.9}]
    """
    names = list(axes)
    return [dict(zip(names, values)) for values in itertools.product(*(axes[n] for n in names))]


class SingleRun:
    """One start: the engine at one row, seen as one run.

    Iterate it once for :class:`~gdsolve.core.result.Step` records (set
    ``stop_requested = True`` to end it after the current iteration; a second
    pass is refused), then call :meth:`result`, which evaluates the final point
    once and returns the same record every time. :meth:`steps` iterates the
    engine's own :class:`~gdsolve.core.batchstep.BatchStep` records instead, which
    builds no per-step record at all (what a run nobody watches uses).

    Args:
        objective: the compiled function; ``settings`` its settings.
        start: the start point, in variable order.
        seed: the seed that drew it (``None`` when it was given).
        device: where it was asked to run, reported in the result (``None``: not asked).
    """

    single = True
    hops = 0

    def __init__(self, objective: Objective, settings: Settings, start: Sequence[float], *, seed: int | None,
                 device: str | None = None) -> None:
        self.objective = objective
        self.settings = settings
        self.seed = seed
        self.device = device
        self.batch = Batch(objective, [settings], torch.zeros(1, dtype=torch.long),
                           torch.tensor([list(start)], dtype=torch.float64))
        self.x0 = dict(zip(objective.variables, self.batch.x0[0].tolist()))
        self._result: OptimizeResult | None = None

    @property
    def stop_requested(self) -> bool:
        return self.batch.stop_requested

    @stop_requested.setter
    def stop_requested(self, value: bool) -> None:
        self.batch.stop_requested = value

    def steps(self) -> Iterator[BatchStep]:
        """The engine's steps, as they come (no per-step record is built)."""
        return iter(self.batch)

    def __iter__(self) -> Iterator[Step]:
        row_step = self.batch.row_step
        for bstep in self.batch:
            step = row_step(bstep, 0)
            if step is not None:
                yield step

    def interrupt(self) -> None:
        """Mark the run as interrupted (Ctrl-C); :meth:`result` still works."""
        self.batch.interrupt()

    def settings_dict(self) -> dict[str, Any]:
        """Every setting of this run as JSON-ready values: the trace header and the result both carry it."""
        return {**self.settings.as_dict(), "seed": self.seed, "params": dict(self.objective.parsed.params),
                "vars": list(self.objective.variables)}

    def result(self) -> OptimizeResult:
        """The outcome: the final point evaluated once, the stop judged, the record built (once)."""
        if self._result is None:
            r = self.batch.result(0, seed=self.seed, settings_dict=self.settings_dict())
            self._result = r if self.device is None else dataclasses.replace(r, device=self.device)
        return self._result


class MultiRun:
    """Rows = combinations x starts, in one batch.

    Args:
        objective: the compiled function.
        combos: one :class:`Settings` per combination; ``values`` the swept values of each.
        starts: ``(N, d)`` start points (float64, CPU), shared by every combination.
        seed: the seed that drew them (``None`` when a single given start).
        device: where the batch runs.
    """

    def __init__(self, objective: Objective, combos: Sequence[Settings], values: Sequence[dict[str, float]],
                 starts: torch.Tensor, *, seed: int | None, device: str = "cpu", swept: bool = False,
                 compile: bool = False, hops: int = 0, hop_size: float = DEFAULT_HOP_SIZE) -> None:
        self.objective = objective
        self.combos = list(combos)
        self.values = list(values)
        self.swept = swept
        self.settings = combos[0]
        self.n_starts = starts.shape[0]
        C, N = len(combos), starts.shape[0]
        self.starts = starts
        self.seed = seed
        self.device = device
        self.combo = torch.arange(C).repeat_interleave(N)
        self.batch = Batch(objective, combos, self.combo, starts.repeat(C, 1), device=device, compile=compile)
        self.hops = hops
        self.hop_size = hop_size
        self.single = False
        self._stop = False
        self._evaluations = 0  # f evaluations of the hops' descents before the final one
        self._result: OptimizeResult | None = None

    @property
    def rows(self) -> int:
        return self.batch.B

    @property
    def stop_requested(self) -> bool:
        return self._stop

    @stop_requested.setter
    def stop_requested(self, value: bool) -> None:
        self._stop = value
        self.batch.stop_requested = value

    def __iter__(self) -> Iterator[BatchStep]:
        if self.hops == 0:
            yield from self.batch
            return
        yield from self._hopping()

    def steps(self) -> Iterator[BatchStep]:
        return iter(self)

    def _hopping(self) -> Iterator[BatchStep]:
        """Monotonic basin hopping, every row a chain: descend, perturb the chain's best point, descend
        again, keep the new point only if f is lower; after the last hop, one final descent from each
        chain's best point gives the rows their records (status, message, counters)."""
        b = self.batch
        s = self.settings
        lo, hi = box(self.objective.variables, s.bounds)
        width = torch.tensor(hi, dtype=torch.float64) - torch.tensor(lo, dtype=torch.float64)
        gen = torch.Generator().manual_seed((self.seed or 0) + 1)
        best_X = best_F = None
        hop = 0
        while True:
            for step in b:
                yield step._replace(hop=hop)
            F, _ = b.final()
            F = torch.where(torch.isfinite(F), F, torch.full_like(F, math.inf)).double().cpu()
            X = b.X.double().cpu()
            if best_X is None:
                best_X, best_F = X, F
            else:
                better = F < best_F
                best_X = torch.where(better.unsqueeze(1), X, best_X)
                best_F = torch.where(better, F, best_F)
            if self._stop or hop > self.hops:  # interrupted, or the final descent is done
                return
            self._evaluations += b.evaluations()
            hop += 1
            start = best_X  # the final descent starts from each chain's best point
            if hop <= self.hops:
                start = best_X + (torch.rand(best_X.shape, generator=gen, dtype=torch.float64) * 2 - 1) * self.hop_size * width
            if s.bounds:
                start = torch.clamp(start, torch.tensor(lo, dtype=torch.float64), torch.tensor(hi, dtype=torch.float64))
            # the stationarity check measures travel from where each chain began: restart keeps the origin
            self.batch = b = b.restart(start)

    def interrupt(self) -> None:
        self.batch.interrupt()

    def settings_dict(self, c: int) -> dict[str, Any]:
        """Combination ``c``'s settings as JSON-ready values (with the sweep's axes when there is one)."""
        out = {**self.combos[c].as_dict(), "seed": self.seed, "params": dict(self.objective.parsed.params),
               "vars": list(self.objective.variables), "starts": self.n_starts, "device": self.device}
        if self.swept:
            out["sweep"] = {name: list(dict.fromkeys(v[name] for v in self.values)) for name in self.values[0]}
        return out

    # ------------------------------------------------------------------ verdicts
    def statuses(self) -> list[str]:
        """Every row's status, as a single run of it would report."""
        b = self.batch
        b._settle()
        F, G = b.final()
        code = b.code.cpu()
        eps_like = (code == CODE[StopRule.EPS]) | (code == CODE[StopRule.FTOL])
        finite = (torch.isfinite(F) & torch.isfinite(G).all(1)).cpu()
        verdict = torch.ones_like(eps_like)
        idx = (eps_like & finite).nonzero().squeeze(1)
        if idx.numel():
            X = b.X[idx]
            free = None if b.box is None else ~b.box.outward(X, G[idx])
            verdict[idx] = stationary_rows(self.objective, X, b.origin[idx], free).cpu()
        # judged as a single run is (gdsolve.engine.outcome), with the batched stationarity verdicts
        return [judged_status(judged_rule(STOP_CODES[c], fin), v).value
                for c, fin, v in zip(code.tolist(), finite.tolist(), verdict.tolist())]

    def result(self) -> OptimizeResult:
        """The batch as one result (built once)."""
        if self._result is not None:
            return self._result
        b = self.batch
        statuses = self.statuses()
        F, _ = b.final()
        Fc = F.double().cpu()
        converged = torch.tensor([s == "converged" for s in statuses], dtype=torch.bool)
        runs = []
        best_rows = []
        for c in range(len(self.combos)):
            rows = slice(c * self.n_starts, (c + 1) * self.n_starts)
            best = _best_row(Fc[rows], converged[rows]) + c * self.n_starts
            best_rows.append(best)
            result = self._row_result(best, c, statuses[rows], converged[rows], Fc[rows], offset=c * self.n_starts)
            runs.append(SweepRun(dict(self.values[c]), result))
        overall = min(range(len(runs)), key=lambda c: _rank(runs[c].result))
        top = runs[overall].result
        counts = {name: 0 for name in STATUS_ORDER}
        for s in statuses:
            counts[s] += 1
        self._result = dataclasses.replace(top, rows=counts, starts=self.n_starts, device=self.device,
                                compile_time=b.compile_time,
                                total_nfev=self._evaluations + b.evaluations(),
                                minima=top.minima, runs=tuple(runs) if self.swept else None)
        self.best_rows = best_rows
        self.best_row = best_rows[overall]
        return self._result

    def _row_result(self, row: int, c: int, statuses: list[str], converged: torch.Tensor, F: torch.Tensor,
                    offset: int) -> OptimizeResult:
        b = self.batch
        r = b.result(row, seed=self.seed, settings_dict=self.settings_dict(c))
        minima = None
        if self.n_starts > 1:
            idx = converged.nonzero().squeeze(1)
            names = self.objective.variables
            found = []
            for cl in distinct(b.X[idx + offset], F[idx]):
                i = int(idx[cl.row]) + offset
                found.append(Minimum(dict(zip(names, b.X[i].tolist())), self.objective.reported(float(F[int(idx[cl.row])])),
                                     cl.count, i, dict(zip(names, b.x0[i].tolist()))))
            minima = tuple(found)
            counts = {name: 0 for name in STATUS_ORDER}
            for s in statuses:
                counts[s] += 1
            return dataclasses.replace(r, minima=minima, rows=counts, starts=self.n_starts, device=self.device)
        return dataclasses.replace(r, starts=self.n_starts, device=self.device)

    # ------------------------------------------------------------------ traces
    def trace_rows(self, more: int = 0) -> list[int]:
        """The rows a trace records: each combination's best row, then ``more`` rows of the
        next distinct minima (one start each), then the next rows by f."""
        result = self.result()
        rows = list(dict.fromkeys(self.best_rows))
        if self.best_row in rows:
            rows.remove(self.best_row)
        rows.insert(0, self.best_row)
        extra = [m.row for m in (result.minima or ())]
        F, _ = self.batch.final()
        order = torch.argsort(torch.nan_to_num(F.double().cpu(), nan=math.inf)).tolist()
        for r in itertools.chain(extra, order):
            if more <= 0:
                break
            if r not in rows:
                rows.append(r)
                more -= 1
        return rows

    def replay(self, rows: Sequence[int]) -> Iterator[tuple[int, Step]]:
        """The steps of ``rows``, iteration by iteration, retraced by running those rows alone."""
        b = self.batch
        idx = torch.tensor(list(rows), dtype=torch.long)
        combo = self.combo[idx]
        again = Batch(self.objective, self.combos, combo, b.x0[idx.to(b.device)].cpu().double(),
                      device=str(b.device), row_max_iter=b.state.nit[idx.to(b.device)])
        again.f = b.f  # the same evaluation (compiled or not) and the same scaling retrace the same path
        again.scaling = None if b.scaling is None else b.scaling[idx.to(b.device)]
        local = list(range(len(rows)))
        for bstep in again:
            for j, step in again.row_steps(bstep, local):
                yield rows[j], step

    def combo_values(self, row: int) -> dict[str, float]:
        return dict(self.values[int(self.combo[row])])


def _best_row(F: torch.Tensor, converged: torch.Tensor) -> int:
    """The lowest finite f over the rows (a converged row wins a tie); row 0 when none is finite.

    The lowest f found is the answer a user asks for; its own status says
    whether the check certified it (a minimum at a cusp, as Ackley's, ends
    ``stalled``)."""
    finite = torch.isfinite(F)
    if not bool(finite.any()):
        return 0
    key = torch.where(finite, F, torch.full_like(F, math.inf))
    low = float(key.min())
    tied = (key == low) & converged
    return int(tied.nonzero()[0]) if bool(tied.any()) else int(torch.argmin(key))


def _rank(r: OptimizeResult) -> tuple[float, int]:
    """Order runs: by the minimized f, converged first on a tie."""
    f = r.fun if r.sense == "minimize" else -r.fun
    return (f if math.isfinite(f) else math.inf, 0 if r.success else 1)


def operations(objective: Objective) -> int:
    """The number of operations in the formula (for the memory estimate)."""
    import sympy

    return int(sympy.count_ops(objective.parsed.expr)) + len(objective.variables)
