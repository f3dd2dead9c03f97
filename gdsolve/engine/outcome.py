"""From what one row of a run did to the :class:`~gdsolve.core.result.OptimizeResult` users read.

The engine (:mod:`gdsolve.engine.loop`, through :mod:`gdsolve.engine.records`)
describes a finished row as a :class:`RowRecord` of plain values and hands
it to :func:`build_result`. So the judgement of a stop (converged or
stalled), every message, every rule check and the best point are made in
this one place, for one start and for every row of a batch alike.

Values in a record are on the *minimized* function (``-f`` when
maximizing); :func:`build_result` turns them into the user's f.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from ..core.errors import render
from ..core.result import OptimizeResult, Point, RuleCheck
from ..core.settings import Settings
from ..core.status import Status, StopRule, format_pair, stop_message
from ..formula.objective import Objective
from ..optim import scaling
from ..optim.box import Box
from .advice import diverged_hint, max_iter_hint
from .stationarity import RTOL, RunFacts, Stationarity, check, diagnose

COLLAPSED = 1e-3  # a line search whose accepted step is below this fraction of its first trial collapsed


@dataclass
class RowRecord:
    """What one row did, as plain values (minimized sign)."""

    rule: StopRule | None
    nit: int
    nfev: int
    ngev: int
    x: list[float]  # the final point
    fmin: float  # minimized f at x
    gmin: list[float]  # its gradient
    x0: list[float]
    best: tuple[float, list[float], int] | None  # (minimized f, x, iteration) of the best point the loop saw
    last_step: float = math.nan
    last_fchange: float = math.nan
    last_t: float | None = None
    last_lr: float = math.nan  # the rate of the last update
    lr: float = math.nan  # the rate at the end (a schedule may have moved on)
    ls_failed: bool = False
    ls_nonfinite: bool = False
    backtracks: int = 0  # line-search trial points where f was not finite, backed away from
    detail: str = ""  # for nonfinite and blow-up stops: what happened and where
    unbounded: bool = False  # f (minimized) reached -inf: no rate can help
    elapsed: float = 0.0
    scaling: list[float] | None = None  # x = D z: the factors D the method ran with (None: unscaled)
    origin: list[float] | None = None  # where the run's travel began, for the stationarity check (default x0;
    # a basin-hopping chain's final descent: where the chain began)


def nonfinite_detail(objective: Objective, k: int, f: float, gnorm: float, x: Sequence[float],
                     what: str = "") -> str:
    """The message detail for a row that met a non-finite value at iteration ``k`` (``f`` minimized;
    after ``k > 0`` steps, :func:`build_result` adds what to try: :func:`gdsolve.engine.advice.diverged_hint`)."""
    if not what:
        what = "f" if not math.isfinite(f) else "the gradient"
    value = "" if what == "x" else f" {objective.reported(f) if what.startswith('f') else gnorm}"
    at = ", ".join(f"{n}={v:.6g}" for n, v in zip(objective.variables, x))
    became = "became non-finite" if what == "x" else "became"
    detail = f"{what} {became}{value} at iteration {k} ({at})"
    if k == 0:
        detail += "; f is not finite at the start point (outside the formula's domain, or overflowing); choose another {x0}"
    return detail


def backtrack_note(n: int) -> str:
    """What a line search that met non-finite trial points did about it."""
    points = "point" if n == 1 else "points"
    return (f"the line search backtracked from {n} trial {points} where f was not finite "
            "(outside the formula's domain, or overflowing)")


def blowup_detail(objective: Objective, k: int, rises: int, f: float) -> str:
    """The message detail for a row whose f (minimized) kept getting worse (:func:`build_result` adds what to try)."""
    worse = "rose" if objective.sense == "minimize" else "fell"
    return f"f {worse} for {rises} steps in a row, to {objective.reported(f):.6g} at iteration {k}"


def free_mask(settings: Settings, names: Sequence[str], x: Sequence[float], g: Sequence[float]) -> list[bool]:
    """Per variable: not held on a bound by a gradient that points outside (:meth:`gdsolve.optim.box.Box.outward`)."""
    box = Box.of(names, settings.bounds, torch.float64, "cpu")
    if box is None:
        return [True] * len(names)
    return (~box.outward(torch.tensor([list(x)], dtype=torch.float64), torch.tensor([list(g)], dtype=torch.float64))
            )[0].tolist()


def projected_norm(settings: Settings, names: Sequence[str], x: Sequence[float], g: Sequence[float]) -> float:
    """Norm of the gradient without the components that push out of the box (what gtol compares on a bound)."""
    return math.hypot(*[gi for gi, free in zip(g, free_mask(settings, names, x, g)) if free])


def build_result(objective: Objective, settings: Settings, row: RowRecord, *, seed: int | None,
                 settings_dict: dict) -> OptimizeResult:
    """Judge the stop of ``row`` and build its record: status, message, checks, stationarity, best point."""
    names = objective.variables
    f = objective.reported(row.fmin)
    grad = objective.reported_grad(row.gmin)
    xs = row.x
    x = dict(zip(names, xs))
    gnorm = math.hypot(*grad)
    detail = row.detail
    rule = judged_rule(row.rule, math.isfinite(row.fmin) and math.isfinite(gnorm))
    if rule is not (row.rule or StopRule.INTERRUPTED):
        detail = nonfinite_detail(objective, row.nit, row.fmin, gnorm, xs)
    if rule in (StopRule.NONFINITE, StopRule.BLOWUP) and row.nit > 0:
        hint = diverged_hint(objective, settings.method, row.last_lr if math.isfinite(row.last_lr) else settings.lr,
                             row.unbounded, row.x0, row.best[1] if row.best else None)
        detail = f"{detail}; {hint}"
    bounded = bool(settings.bounds)
    gtest = projected_norm(settings, names, xs, row.gmin) if bounded else gnorm
    checks = rule_checks(settings, objective, row, f, gtest)
    measured = {c.rule: (c.value, c.tol) for c in checks}
    value, tol = measured.get(rule, (math.nan, math.nan))
    if rule is StopRule.GTOL:
        detail = "projected " if bounded else ""
    verdict = None
    if rule in (StopRule.EPS, StopRule.FTOL):
        free = free_mask(settings, names, xs, row.gmin) if bounded else None
        verdict = check(objective, xs, row.origin or row.x0, free=free)
        if not verdict.stationary:
            detail = diagnose(names, verdict, run_facts(settings, row))
    status = judged_status(rule, verdict is None or verdict.stationary)
    if rule is StopRule.MAX_ITER:
        detail = max_iter_detail(settings, row.last_step)
        hint = max_iter_hint(objective, settings.method, settings.line_search, row.last_lr, row.nit, row.last_step,
                             xs, row.origin or row.x0, row.fmin, row.best[0] if row.best else None)
        if hint:
            detail = f"{detail}; {hint}"
    template = stop_message(rule, status, value=value, tol=tol, nit=row.nit, detail=detail)
    if verdict is not None and not verdict.checked:
        template += f" ({verdict.reason})"
    if row.backtracks:
        template += f"; {backtrack_note(row.backtracks)}"
    return OptimizeResult(
        x=x, fun=f, grad=dict(zip(names, grad)), grad_norm=gnorm,
        nit=row.nit, nfev=row.nfev, ngev=row.ngev,
        status=status, stop_rule=rule, message=render(template, cli=False),
        x0=dict(zip(names, row.x0)), seed=seed, expression=objective.text, variables=names,
        sense=objective.sense,
        elapsed=row.elapsed, best=best_point(objective, row), checks=checks,
        settings=settings_dict,
        active_bounds=active_bounds(settings, x),
        final_lr=row.lr,
        stationarity=stationarity_record(names, verdict),
        message_template=template,
        shapes=objective.shapes or None,
        scaling=None if row.scaling is None else {"kind": scaling.KIND, "factors": dict(zip(names, row.scaling))},
    )


def judged_rule(rule: StopRule | None, final_finite: bool) -> StopRule:
    """The rule a row really ended on: one that measures steps or budget, fired where f or its
    gradient at the final point is not finite, is divergence (the last update landed there)."""
    if rule in (StopRule.EPS, StopRule.FTOL, StopRule.MAX_ITER, StopRule.TIME_LIMIT) and not final_finite:
        return StopRule.NONFINITE
    return rule or StopRule.INTERRUPTED


def judged_status(rule: StopRule, stationary: bool) -> Status:
    """The status a rule gives: eps and ftol measure steps, so they converge only at a stationary point."""
    if rule in (StopRule.EPS, StopRule.FTOL) and not stationary:
        return Status.STALLED
    return rule.status


def best_point(objective: Objective, row: RowRecord) -> Point | None:
    """The best finite point seen, the final one included; ``None`` when none was finite."""
    names = objective.variables
    cand = row.best
    fmin = row.fmin
    if math.isfinite(fmin) and all(math.isfinite(v) for v in row.x) and (cand is None or fmin < cand[0]):
        return Point(dict(zip(names, row.x)), objective.reported(fmin), row.nit)
    if cand is None:
        return None
    bf, bx, bk = cand
    return Point(dict(zip(names, bx)), objective.reported(bf), bk)


def run_facts(settings: Settings, row: RowRecord) -> RunFacts:
    t = row.last_t
    collapsed = t is not None and settings.line_search != "none" and t < COLLAPSED * row.last_lr
    return RunFacts(method=settings.method, schedule=settings.schedule, lr0=settings.lr, lr=row.last_lr,
                    eps=settings.eps, collapsed=collapsed, ls_failed=row.ls_failed, ls_nonfinite=row.ls_nonfinite,
                    unscaled=settings.method == "lbfgs" and settings.scale == "none")


def max_iter_detail(settings: Settings, last_step: float) -> str:
    if settings.eps == 0:
        return "eps is 0: the step rule is off"
    if math.isnan(last_step):
        return "no step was made"
    step, eps = format_pair(last_step, settings.eps)
    return f"last step {step} >= eps {eps}"


def rule_checks(settings: Settings, objective: Objective, row: RowRecord, f: float,
                gnorm: float) -> tuple[RuleCheck, ...]:
    """Every active stopping rule, measured at the end against its tolerance (``f`` in the user's sign)."""
    s = settings
    out = []
    if s.eps > 0:
        out.append(RuleCheck(StopRule.EPS, row.last_step, s.eps, row.last_step < s.eps))
    if s.gtol is not None:
        out.append(RuleCheck(StopRule.GTOL, gnorm, s.gtol, gnorm < s.gtol))
    if s.ftol is not None:
        out.append(RuleCheck(StopRule.FTOL, row.last_fchange, s.ftol, row.last_fchange <= s.ftol))
    if s.target is not None:
        met = objective.minimized(f) <= objective.minimized(s.target)
        out.append(RuleCheck(StopRule.TARGET, f, s.target, met))
    out.append(RuleCheck(StopRule.MAX_ITER, float(row.nit), float(s.max_iter), row.nit >= s.max_iter))
    if s.time_limit is not None:
        out.append(RuleCheck(StopRule.TIME_LIMIT, row.elapsed, s.time_limit, row.elapsed >= s.time_limit))
    return tuple(out)


def active_bounds(settings: Settings, x: dict[str, float]) -> dict[str, str]:
    out = {}
    for name, (lo, hi) in settings.bounds.items():
        if x[name] <= lo:
            out[name] = "lower"
        elif x[name] >= hi:
            out[name] = "upper"
    return out


def stationarity_record(names: Sequence[str], v: Stationarity | None) -> dict | None:
    """The JSON-ready account of the stationarity check, or ``None`` when it was not made."""
    if v is None:
        return None
    if not v.checked:
        return {"checked": False, "reason": v.reason}
    return {"checked": True, "stationary": v.stationary, "failed": v.failed or None, "relative_distance": v.relative,
            "tol": RTOL, "variable": names[v.worst], "distance": dict(zip(names, v.distance)),
            "travel": dict(zip(names, v.scale)), "decrease": v.decrease, "f_scale": v.fscale}
