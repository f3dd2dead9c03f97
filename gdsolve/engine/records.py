"""Reading a :class:`~gdsolve.engine.loop.Batch`'s state: each row's record, result and step records.

Split from the engine so that the loop (:mod:`gdsolve.engine.loop`) and the
account of its rows live apart. Everything here reads the engine's one
:class:`~gdsolve.engine.state.State`; the judgement itself (status, message,
checks) is :func:`gdsolve.engine.outcome.build_result`. This is where the user's
sign comes back: the engine minimizes ``sign * f``, and :meth:`BatchRecords.row_steps`
and :func:`~gdsolve.engine.outcome.build_result` report f, its gradient and the best point in the user's sign.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

import torch

from ..core.result import OptimizeResult, Step
from ..core.status import STOP_CODES, StopRule
from .ledger import NEW_X, TRIAL
from .outcome import RowRecord, blowup_detail, build_result, nonfinite_detail
from .rules import BLOWUP_RISES

if TYPE_CHECKING:
    from ..core.batchstep import BatchStep
    from .state import State



class BatchRecords:
    """Mixin of :class:`~gdsolve.engine.loop.Batch`: final values, per-row records and results, step records."""

    # set by the engine
    state: State
    objective: Any
    settings: Any
    combos: list
    combo: torch.Tensor
    device: torch.device
    x0: torch.Tensor
    origin: torch.Tensor
    lr0: torch.Tensor
    scaling: torch.Tensor | None
    factor: float
    elapsed: float

    def _settle(self) -> None: ...

    @property
    def code(self) -> torch.Tensor:
        """Every row's stop code (:data:`gdsolve.core.status.STOP_CODES`; 0 while running)."""
        return self.state.code

    def final(self) -> tuple[torch.Tensor, torch.Tensor]:
        """f and its gradient at every row's final point (one batched evaluation, made once, kept in the state)."""
        st = self.state
        if st.F is None or st.G is None:
            Xg = st.X.detach().requires_grad_(True)
            F = self.f(Xg)  # type: ignore[attr-defined]
            (G,) = torch.autograd.grad(F.sum(), Xg)
            self.state = st = st._replace(F=F.detach(), G=G)
        return st.F, st.G  # type: ignore[return-value]

    def rules(self) -> list[StopRule]:
        """Every row's stop rule."""
        return [STOP_CODES[c] or StopRule.INTERRUPTED for c in self.state.code.tolist()]

    def evaluations(self) -> int:
        """f evaluations over every row: one per iteration, the line searches' trials, and the final point."""
        st = self.state
        return int((st.nit + 1 + st.fev).sum())

    def record(self, i: int) -> RowRecord:
        """Row ``i`` as the plain values :func:`gdsolve.engine.outcome.build_result` judges."""
        self._settle()
        F, G = self.final()
        st = self.state
        rule = STOP_CODES[int(st.code[i])]
        obj = self.objective
        nit = int(st.nit[i])
        detail = ""
        unbounded = False
        if rule is StopRule.NONFINITE:
            what = int(st.bad_what[i])
            k = int(st.stop_k[i])
            x = st.bad_x[i].tolist()
            if what == NEW_X:
                detail = nonfinite_detail(obj, k, math.nan, math.nan, x, what="x")
            elif what == TRIAL:
                detail = nonfinite_detail(obj, k, -math.inf, 0.0, x, what="f (at a line-search trial point)")
                unbounded = True
            else:
                detail = nonfinite_detail(obj, k, float(st.bad_f[i]), float(st.bad_g[i]), x)
                unbounded = float(st.bad_f[i]) == -math.inf
        elif rule is StopRule.BLOWUP:
            detail = blowup_detail(obj, int(st.stop_k[i]), BLOWUP_RISES, float(st.bad_f[i]))
        bk = int(st.best_k[i])
        best = None if bk < 0 else (float(st.best_f[i]), st.best_x[i].tolist(), bk)
        last_t = float(st.last_t[i])
        searched = self.settings.line_search != "none"
        nfev = nit + 1 + int(st.fev[i])
        return RowRecord(
            rule=rule, nit=nit, nfev=nfev, ngev=nit + 1 + int(st.gev[i]),
            x=st.X[i].tolist(), fmin=float(F[i]), gmin=G[i].tolist(), x0=self.x0[i].tolist(), best=best,
            origin=self.origin[i].tolist(), last_step=float(st.last_step[i]), last_fchange=float(st.last_fchange[i]),
            last_t=last_t if searched and math.isfinite(last_t) else None,
            last_lr=float(st.last_lr[i]), lr=self._lr(i), ls_failed=bool(st.ls_failed[i]),
            ls_nonfinite=bool(st.ls_nonfinite[i]), backtracks=int(st.backtracks[i]), detail=detail, unbounded=unbounded,
            elapsed=self.elapsed, scaling=self._factors(i),
        )

    def _factors(self, i: int) -> list[float] | None:
        """Row ``i``'s scaling factors, ``None`` where it ran unscaled (all ones)."""
        if self.scaling is None or bool((self.scaling[i] == 1).all()):
            return None
        return self.scaling[i].tolist()

    def _lr(self, i: int) -> float:
        return float(self.lr0[i]) * self.factor

    def result(self, i: int, *, seed: int | None = None, settings_dict: dict | None = None) -> OptimizeResult:
        """Row ``i``'s :class:`~gdsolve.core.result.OptimizeResult`, judged by
        :func:`~gdsolve.engine.outcome.build_result` (as a :class:`~gdsolve.engine.multistart.SingleRun` is)."""
        s = self.combos[int(self.combo[i])]
        if settings_dict is None:
            settings_dict = {**s.as_dict(), "seed": seed, "params": dict(self.objective.parsed.params),
                             "vars": list(self.objective.variables)}
        return build_result(self.objective, s, self.record(i), seed=seed, settings_dict=settings_dict)

    def results(self, rows: Iterable[int]) -> list[OptimizeResult]:
        return [self.result(i) for i in rows]

    def row_step(self, bstep: BatchStep, r: int) -> Step | None:
        """Row ``r``'s :class:`~gdsolve.core.result.Step` at one batch step, in the user's sign
        (``None`` when the row made no update there)."""
        view = bstep.host
        if view is not None:  # the engine read this step's values back already
            if not view.stepped[r]:
                return None
            x, f, g, step = view.x[r], view.f[r], view.g[r], view.step[r]
        else:
            r = bstep.position(r)  # type: ignore[assignment]
            if r is None or not bool(bstep.stepped[r]):
                return None
            x, f, g = bstep.X[r].tolist(), float(bstep.F[r]), bstep.G[r].tolist()
            step = float(bstep.step_norms()[r])
        lr = bstep.lr if isinstance(bstep.lr, float) else float(bstep.lr[r])
        t = failed = None
        if bstep.t is not None:
            t = float(bstep.t[r])
            t = t if math.isfinite(t) else None
            failed = bool(bstep.failed[r])  # type: ignore[index]
        obj = self.objective
        return Step(bstep.k, tuple(x), obj.reported(f), tuple(obj.reported_grad(g)), math.hypot(*g),
                    step, lr, bstep.elapsed, t, bool(failed))

    def row_steps(self, bstep: BatchStep, rows: Sequence[int]) -> list[tuple[int, Step]]:
        """The :class:`~gdsolve.core.result.Step` records of ``rows`` at one batch step (rows that stepped)."""
        out = []
        for r in rows:
            step = self.row_step(bstep, r)
            if step is not None:
                out.append((r, step))
        return out
