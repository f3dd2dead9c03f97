"""The engine's ledger: what each row did, written into the state by index when it happens.

The loop (:mod:`gdsolve.engine.loop`) works on its *working set*: the whole
batch (stopped rows held in place by index) until a tenth of it has stopped,
then only the rows still running, gathered (``W``, the working rows' indices
in the batch; a small batch read back on the host is never gathered).
Everything a row's record
needs -- its stop code, counters, last step and rate, the best point, where
a value stopped being finite -- is written here into the one
:class:`~gdsolve.engine.state.State`, which always speaks of every row of the
batch: only the rows concerned are written, by index (on a CPU,
``torch.where`` over the batch costs ten elementwise passes; a handful of
rows cost next to nothing).
"""

from __future__ import annotations

import math
import time
from typing import TYPE_CHECKING, Any

import torch

from ..core.status import CODE, StopRule
from . import rules

if TYPE_CHECKING:
    from .state import State

# Why a row met a non-finite value: f or its gradient at x_k, the new x, or a line-search trial where f = -inf.
AT_X, NEW_X, TRIAL = 0, 1, 2


class Ledger:
    """Mixin of :class:`~gdsolve.engine.loop.Batch`: the writes into its state."""

    state: State
    settings: Any
    cap: torch.Tensor | None
    elapsed: float
    _W: torch.Tensor | None  # the working rows' indices in the batch (None: the whole batch, in order)
    _hot: tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None  # the working rows' best f, x and k
    _pending: Any
    _done: Any
    _work: torch.Tensor | None  # the working rows' points while the loop runs
    _t0: float

    def _writeback(self) -> None:
        """Put the working rows' points and best points into the state (the loop keeps them apart)."""
        st = self.state
        if self._work is not None:
            if self._W is None:
                self.state = st = st._replace(X=self._work)
            else:
                st.X[self._W] = self._work
            self._work = None
        if self._hot is not None:
            if self._W is not None:
                st.best_f[self._W], st.best_x[self._W], st.best_k[self._W] = self._hot
            self._hot = None

    def _full(self, idx: torch.Tensor) -> torch.Tensor:
        """Working-set indices as indices into the batch."""
        return idx if self._W is None else self._W[idx]

    def _stop(self, rows: torch.Tensor, rule: StopRule, nit: int, step: torch.Tensor, lr: float | torch.Tensor,
              change: torch.Tensor | None = None) -> None:
        """Stop working rows ``rows`` (indices, or a mask) with ``rule`` after ``nit`` updates; keep their
        last step, rate and change of f."""
        idx = rows.nonzero().squeeze(1) if rows.dtype == torch.bool else rows
        if not idx.numel():
            return
        st = self.state
        at = self._full(idx)
        st.code[at] = CODE[rule]
        st.nit[at] = nit
        st.last_step[at] = step[idx]
        st.last_lr[at] = lr if isinstance(lr, float) else lr[idx]
        if change is not None:
            st.last_fchange[at] = change[idx]

    def _mark_bad(self, idx: torch.Tensor, k: int, what: int, F: torch.Tensor | float, gnorm: torch.Tensor | float,
                  X: torch.Tensor) -> None:
        """Where working rows ``idx`` met a non-finite value (or blew up): iteration, what, f, gradient norm, point."""
        if not idx.numel():
            return
        st = self.state
        at = self._full(idx)
        st.stop_k[at] = k
        st.bad_what[at] = what
        st.bad_f[at] = F if isinstance(F, float) else F[idx]
        st.bad_g[at] = gnorm
        st.bad_x[at] = X[idx]

    def _fold(self, rows: torch.Tensor, F: torch.Tensor, X: torch.Tensor, k: int | torch.Tensor) -> None:
        """Take ``(F, X, k)`` as the best point of the working ``rows`` (a mask; callers keep out points
        where f is not finite).

        The best point is kept lazily, and exactly: the lowest f of a row's sequence is either
        followed by an f that is not lower (the loop folds it in then) or is the row's last (folded
        in when the row ends, :meth:`_settle`); strict comparisons keep the first of equal values.
        """
        self._fold_at(rows.nonzero().squeeze(1), F, X, k)

    def _fold_at(self, idx: torch.Tensor, F: torch.Tensor, X: torch.Tensor, k: int | torch.Tensor) -> None:
        """:meth:`_fold` for the working rows ``idx`` (indices)."""
        if idx.numel():
            best_f, best_x, best_k = self._best()
            best_f[idx] = F[idx]
            best_x[idx] = X[idx]
            best_k[idx] = k if isinstance(k, int) else k[idx]

    def _best(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The working rows' best f, x and k (the state's own tensors while every row is working)."""
        if self._hot is None:
            st = self.state
            self._hot = (st.best_f, st.best_x, st.best_k) if self._W is None else \
                (st.best_f[self._W], st.best_x[self._W], st.best_k[self._W])
        return self._hot

    def _settle(self) -> None:
        """Fold the last point the loop evaluated into each row's best (once, when the loop ends)."""
        if self._pending is None:
            return
        F, X, k, active, W = self._pending
        self._pending = None
        nit = self.state.nit if W is None else self.state.nit[W]
        self._fold((F < self._best()[0]) & torch.isfinite(F), F, X, torch.where(active, torch.full_like(nit, k), nit))

    def _searched(self, ls: Any, stepped: torch.Tensor) -> None:
        """Keep what a line search did, for the rows that made the update (a row that stopped
        before it keeps the search before)."""
        st = self.state
        W = self._W
        searched = stepped
        if ls.unbounded is not None:  # rows a trial at f = -inf stopped did search
            code = st.code if W is None else st.code[W]
            searched = stepped | (ls.unbounded & (code == CODE[StopRule.NONFINITE]))
        idx = searched.nonzero().squeeze(1)
        at = self._full(idx)
        n = ls.evaluations[idx]
        st.fev[at] += n
        if ls.unbounded is not None:  # L-BFGS's trials evaluate the gradient too; Armijo's only f
            st.gev[at] += n
        st.backtracks[at] += ls.backtracks[idx]
        st.ls_nonfinite[at] = ls.nonfinite[idx]
        idx = stepped.nonzero().squeeze(1)
        at = self._full(idx)
        st.ls_failed[at] = ls.failed[idx]
        st.last_t[at] = ls.t[idx]

    def _judge(self, k: int, now: float, F: torch.Tensor, G: torch.Tensor, X: torch.Tensor, X_new: torch.Tensor,
               step: torch.Tensor, step_prev: torch.Tensor, change: torch.Tensor | None, gnorm: torch.Tensor | None,
               target: float | None, rises: torch.Tensor, f_start: torch.Tensor, active: torch.Tensor, ls: Any,
               lr: float | torch.Tensor, lr_used: float | torch.Tensor, may: frozenset[str]
               ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Every rule that ``may`` fire (the probe's verdict), row by row.

        Returns ``(ended, still, stepped, X_new, step)``: the working rows that stopped here
        (indices), those still running and those that made the update (masks), and the update.
        The rows any rule may stop are found first (a handful, usually); the rules are then tested
        on those rows only, in their order (a row stops on the first that fires), and only they
        are written, by index.
        """
        s = self.settings
        suspect = None
        if "time" in may:
            suspect = active
        else:
            flags = []
            if "finite" in may:  # f, a gradient component or the step is not finite (G * 0 @ 1: nan on such a row)
                ones = torch.ones(G.shape[1], dtype=G.dtype, device=G.device)
                flags.append(~torch.isfinite(F + (G * 0) @ ones + step * 0))
            for name, flag in (("eps", lambda: step < s.eps), ("target", lambda: F <= target),
                               ("gtol", lambda: gnorm < s.gtol), ("ftol", lambda: change <= s.ftol),
                               ("blowup", lambda: rises >= rules.BLOWUP_RISES), ("trial", lambda: ls.unbounded),
                               ("budget", lambda: k + 1 >= self.cap)):
                if name in may:
                    flags.append(flag())
            for flag in flags:
                suspect = flag if suspect is None else suspect | flag
            suspect = active & suspect
        rows = suspect.nonzero().squeeze(1)  # type: ignore[union-attr]
        # the rules, on those rows
        f, st, on = F[rows], step[rows], torch.ones(rows.numel(), dtype=torch.bool, device=F.device)
        before = []  # at x_k, before the update: k updates made
        if "finite" in may:
            before.append(rules.not_finite(f, G[rows], on))
        if "target" in may:
            before.append(rules.target(f, target, on))  # type: ignore[arg-type]
        if "gtol" in may:
            before.append(rules.gtol(gnorm[rows], s.gtol, on))  # type: ignore[index]
        if "ftol" in may:
            before.append(rules.ftol(change[rows], s.ftol, on))  # type: ignore[index]
        if "time" in may:
            before.append(rules.time_limit(now, s.time_limit, on))
        if "blowup" in may:
            before.append(rules.blowup(rises[rows], f, f_start[rows], on))
        trial = "trial" in may
        if trial:  # a line-search trial found f = -inf: divergence at x_k
            before.append(rules.Fired(StopRule.NONFINITE, ls.unbounded[rows]))
        act = on
        held = []
        for i, rule in enumerate(before):
            hit = rule.rows & act
            act = act & ~hit
            idx = rows[hit]
            last = trial and i == len(before) - 1
            if last:
                self._mark_bad(idx, k, TRIAL, -math.inf, 0.0, ls.trial)
            elif rule.rule in (StopRule.NONFINITE, StopRule.BLOWUP):
                self._mark_bad(idx, k, AT_X, F, torch.linalg.vector_norm(G[idx], dim=1), X)
            self._stop(idx, rule.rule, k, step_prev, lr if last else lr_used, change)
            held.append(idx)
        stepped = active.clone()
        if held:  # the rows that stopped before the update keep x_k
            idx = torch.cat(held)
            X_new[idx] = X[idx]
            step[idx] = 0.0
            stepped[idx] = False
            st = step[rows]
        after = []  # after the update: k + 1 updates made
        if "finite" in may:
            after.append(rules.step_not_finite(st, on))
        if "eps" in may:
            after.append(rules.eps(st, s.eps, on))
        if "budget" in may:
            after.append(rules.budget(k, self.cap[rows], on))  # type: ignore[index]
        for rule in after:
            hit = rule.rows & act
            act = act & ~hit
            idx = rows[hit]
            if rule.rule is StopRule.NONFINITE:
                self._mark_bad(idx, k + 1, NEW_X, F, F[idx], X_new)
            self._stop(idx, rule.rule, k + 1, step, lr, change)
        ended = rows[~act]
        still = active.clone()
        still[ended] = False
        return ended, still, stepped, X_new, step

    def _fold_ended(self, ended: torch.Tensor, F: torch.Tensor, X: torch.Tensor, k: int) -> None:
        """Fold ``(F, X, k)`` into the best point of the working rows ``ended`` (indices), where f is
        finite and lower than their best."""
        if ended.numel():
            best_f = self._best()[0]
            f = F[ended]
            self._fold_at(ended[torch.isfinite(f) & (f < best_f[ended])], F, X, k)

    def interrupt(self) -> None:
        """Mark every running row interrupted (Ctrl-C came outside an iteration)."""
        code = self.state.code
        if self._done is None:
            code.masked_fill_(code == 0, CODE[StopRule.INTERRUPTED])
        else:
            nit, step, lr, active, change, W = self._done
            self._W = W
            running = active & ((code if W is None else code[W]) == 0)
            self._stop(running, StopRule.INTERRUPTED, nit, self._tensor(step), lr, change)  # type: ignore[attr-defined]
        self._settle()
        self._writeback()
        self.elapsed = time.perf_counter() - self._t0
