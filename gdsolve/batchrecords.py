"""Reading a finished :class:`~gdsolve.engine.Batch`: each row as the record a single run gives.

Split from the engine so that the loop (:mod:`gdsolve.engine`) and the
account of its rows live apart; the judgement itself is
:func:`gdsolve.outcome.build_result`, shared with the single-start loop.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

import torch

from .outcome import RowRecord, blowup_detail, build_result, nonfinite_detail
from .result import OptimizeResult, Step
from .status import StopRule

if TYPE_CHECKING:
    from .engine import BatchStep

#: Per-row stop codes (0: still running), in the order the rules are tested.
CODES: tuple[StopRule | None, ...] = (None, StopRule.EPS, StopRule.GTOL, StopRule.FTOL, StopRule.TARGET,
                                      StopRule.MAX_ITER, StopRule.TIME_LIMIT, StopRule.NONFINITE,
                                      StopRule.BLOWUP, StopRule.INTERRUPTED)
CODE = {rule: i for i, rule in enumerate(CODES) if rule is not None}
# Why a row met a non-finite value: f or its gradient at x_k, the new x, or a line-search trial where f = -inf.
_AT_X, _NEW_X, _TRIAL = 0, 1, 2
BLOWUP_RISES = 25  # as in the single-start loop: f worse 25 steps in a row, and worse than at the start


class BatchRecords:
    """Mixin of :class:`~gdsolve.engine.Batch`: final values, per-row records and results, step records."""

    # set by the engine
    X: torch.Tensor
    objective: Any
    settings: Any
    combos: list
    combo: torch.Tensor
    device: torch.device
    _final: Any
    factor: float

    def final(self) -> tuple[torch.Tensor, torch.Tensor]:
        """f and its gradient at every row's final point (one batched evaluation, made once)."""
        if self._final is None:
            Xg = self.X.detach().requires_grad_(True)
            F = self.f(Xg)
            (G,) = torch.autograd.grad(F.sum(), Xg)
            self._final = (F.detach(), G)
        return self._final

    def rules(self) -> list[StopRule]:
        """Every row's stop rule."""
        return [CODES[c] or StopRule.INTERRUPTED for c in self.code.tolist()]

    def record(self, i: int) -> RowRecord:
        """Row ``i`` as the plain values :func:`gdsolve.outcome.build_result` judges."""
        F, G = self.final()
        rule = CODES[int(self.code[i])]
        names = self.objective.variables
        sign = self.objective.sign
        nit = int(self.nit[i])
        detail = ""
        unbounded = False
        if rule is StopRule.NONFINITE:
            what = int(self.bad_what[i])
            k = int(self.stop_k[i])
            x = self.bad_x[i].tolist()
            if what == _NEW_X:
                detail = nonfinite_detail(names, sign, k, math.nan, math.nan, x, what="x")
            elif what == _TRIAL:
                detail = nonfinite_detail(names, sign, k, -math.inf, 0.0, x, what="f (at a line-search trial point)")
                unbounded = True
            else:
                detail = nonfinite_detail(names, sign, k, float(self.bad_f[i]), float(self.bad_g[i]), x)
                unbounded = float(self.bad_f[i]) == -math.inf
        elif rule is StopRule.BLOWUP:
            detail = blowup_detail(sign, int(self.stop_k[i]), BLOWUP_RISES, float(self.bad_f[i]))
        bk = int(self.best_k[i])
        best = None if bk < 0 else (float(self.best_f[i]), self.best_x[i].tolist(), bk)
        last_t = float(self.last_t[i])
        lbfgs_or_armijo = self.settings.line_search != "none"
        return RowRecord(
            rule=rule, nit=nit, nfev=nit + 1 + int(self.extra_fev[i]), ngev=nit + 1 + int(self.extra_gev[i]),
            x=self.X[i].tolist(), fmin=float(F[i]), gmin=G[i].tolist(), x0=self.x0[i].tolist(), best=best,
            origin=self.origin[i].tolist(), last_step=float(self.last_step[i]), last_fchange=float(self.last_fchange[i]),
            last_t=last_t if lbfgs_or_armijo and math.isfinite(last_t) else None,
            last_lr=float(self.last_lr[i]), lr=self._lr(i), ls_failed=bool(self.ls_failed[i]),
            ls_nonfinite=bool(self.ls_nonfinite[i]), backtracks=int(self.backtracks[i]), detail=detail, unbounded=unbounded,
            elapsed=self.elapsed,
        )

    def _lr(self, i: int) -> float:
        return float(self.lr0[i]) * self.factor

    def result(self, i: int, *, seed: int | None = None, settings_dict: dict | None = None) -> OptimizeResult:
        """Row ``i``'s :class:`~gdsolve.result.OptimizeResult`, judged as the single-start loop judges its run."""
        s = self.combos[int(self.combo[i])]
        if settings_dict is None:
            settings_dict = {**s.as_dict(), "seed": seed, "params": dict(self.objective.parsed.params),
                             "vars": list(self.objective.variables)}
        return build_result(self.objective, s, self.record(i), seed=seed, settings_dict=settings_dict)

    def results(self, rows: Iterable[int]) -> list[OptimizeResult]:
        return [self.result(i) for i in rows]

    def row_steps(self, bstep: BatchStep, rows: Sequence[int]) -> list[tuple[int, Step]]:
        """The :class:`~gdsolve.result.Step` records of ``rows`` at one batch step (rows that stepped)."""
        sign = self.objective.sign
        idx = torch.tensor(list(rows), dtype=torch.long, device=self.device)
        took = bstep.stepped[idx].tolist()
        X, F, G = bstep.X[idx].tolist(), bstep.F[idx].tolist(), bstep.G[idx].tolist()
        step = bstep.step[idx].tolist()
        lr = [bstep.lr] * len(idx) if isinstance(bstep.lr, float) else bstep.lr[idx].tolist()
        t = bstep.t[idx].tolist() if bstep.t is not None else [None] * len(idx)
        failed = bstep.failed[idx].tolist() if bstep.failed is not None else [False] * len(idx)
        out = []
        for j, r in enumerate(rows):
            if not took[j]:
                continue
            g = G[j] if sign > 0 else [-v for v in G[j]]
            tj = t[j] if t[j] is None or math.isfinite(t[j]) else None
            out.append((r, Step(bstep.k, tuple(X[j]), sign * F[j], tuple(g), math.hypot(*G[j]), step[j], lr[j],
                                bstep.elapsed, tj, bool(failed[j]))))
        return out

