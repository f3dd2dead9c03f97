"""``gdsolve.fit``: fit a model to data by least squares, and report it as fitting tools do.

Example:
    >>> from gdsolve import fit
    >>> r = fit("y ~ a*x + b", {"x": [0, 1, 2, 3], "y": [1.1, 2.9, 5.2, 6.8]})
    >>> {k: round(v, 4) for k, v in r.params.items()}, r.status.value
    ({'a': 1.94, 'b': 1.09}, 'converged')
    >>> round(r.stderr["a"], 4), r.dof
    (0.0906, 2)
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch

from ..core.errors import OptionError, render, shown
from ..core.settings import (
    DEFAULT_F_SCALE,
    DEFAULT_MAX_ITER,
    FIT_FTOL,
    FIT_GTOL,
    FIT_MAX_ITER,
    FIT_XTOL,
    Bounds,
    Settings,
    check_bounds,
    is_real,
)
from ..core.status import Status, StopRule, stop_message
from ..engine.outcome import active_bounds
from ..formula.data import DataError, Table, load
from ..formula.model import FitModel, parse_model
from ..optim import lm
from .fitresult import FitResult, statistics

#: The least-squares method; every minimize method is also accepted (it minimizes the same cost).
LEAST_SQUARES = "lm"

_RULE = {lm.FTOL: StopRule.FTOL, lm.XTOL: StopRule.XTOL, lm.GTOL: StopRule.GTOL, lm.MAX_ITER: StopRule.MAX_ITER,
         lm.NONFINITE: StopRule.NONFINITE, lm.TIME_LIMIT: StopRule.TIME_LIMIT, lm.INTERRUPTED: StopRule.INTERRUPTED}

Data = Table | Mapping[str, Sequence[float]] | str | os.PathLike[str]


def resolve_p0(names: Sequence[str], p0: Mapping[str, float] | Sequence[float] | float | None) -> dict[str, float]:
    """Every parameter's start: the given values, 1 for the rest (as ``curve_fit``); one number starts them all.

    >>> resolve_p0(["a", "b"], {"a": 2}), resolve_p0(["a", "b"], 0)
    ({'a': 2.0, 'b': 1.0}, {'a': 0.0, 'b': 0.0})
    """
    if p0 is None:
        return dict.fromkeys(names, 1.0)
    if is_real(p0):
        p0 = dict.fromkeys(names, p0)  # type: ignore[arg-type]
    if isinstance(p0, Mapping):
        unknown = [k for k in p0 if k not in names]
        if unknown:
            raise OptionError(f"{{p0}} names {shown(unknown[0])}, which is not a parameter of the model; "
                              f"the parameters are: {', '.join(names)}")
        values = {n: p0.get(n, 1.0) for n in names}
    elif isinstance(p0, (str, bytes)) or not isinstance(p0, Sequence):
        raise OptionError(f"{{p0}} must be a mapping such as [[b1=500,b2=1e-4||{{'b1': 500}}]], not {type(p0).__name__}")
    else:
        if len(p0) != len(names):
            raise OptionError(f"{{p0}} has {len(p0)} values for {len(names)} parameters ({', '.join(names)})")
        values = dict(zip(names, p0))
    for k, v in values.items():
        if not is_real(v) or not math.isfinite(float(v)):
            raise OptionError(f"{{p0}} {k} = {shown(v)} is not a finite number")
    return {k: float(v) for k, v in values.items()}


def draw_fit_starts(p0: Mapping[str, float], bounds: Bounds, n: int, seed: int) -> torch.Tensor:
    """``n`` starts ``(n, p)``: ``p0`` first, then scrambled-Sobol draws around it.

    Fit parameters span many scales (NIST's Misra1a starts at 500 and 1e-4),
    so a draw multiplies each start value by a factor between 1/10 and 10 (log-
    uniform); a parameter that starts at 0 is drawn from [-1, 1]; one with both
    bounds is drawn uniformly between them.
    """
    names = list(p0)
    base = torch.tensor([p0[k] for k in names], dtype=torch.float64)
    if n <= 1:
        return base.unsqueeze(0)
    U = torch.quasirandom.SobolEngine(len(names), scramble=True, seed=seed).draw(n - 1, dtype=torch.float64)
    draws = torch.where(base != 0, base * torch.exp((2 * U - 1) * math.log(10)), 2 * U - 1)
    for j, name in enumerate(names):
        lo, hi = bounds.get(name, (-math.inf, math.inf))
        if math.isfinite(lo) and math.isfinite(hi):
            draws[:, j] = lo + (hi - lo) * U[:, j]
        else:
            draws[:, j] = draws[:, j].clamp(lo, hi)
    return torch.cat([base.unsqueeze(0), draws])


def fit(
    model: str | FitModel,
    data: Data | None = None,
    p0: Mapping[str, float] | Sequence[float] | float | None = None,
    *,
    sigma: str | None = None,
    absolute_sigma: bool = False,
    bounds: Bounds | None = None,
    starts: int | None = None,
    seed: int = 0,
    method: str = LEAST_SQUARES,
    loss: str = "linear",
    f_scale: float | None = None,
    max_iter: int | None = None,
    ftol: float | None = None,
    xtol: float | None = None,
    gtol: float | None = None,
    lr: float | None = None,
    time_limit: float | None = None,
    drop_missing: bool = False,
    device: str | None = None,
    callback: Callable[[Any], None] | None = None,
    family: str | None = None,
    trials: str | None = None,
) -> FitResult:
    """Fit ``model`` (``"y ~ b1*(1-exp(-b2*x))"``) to ``data`` by least squares, or by maximum likelihood.

    Args:
        model: ``response ~ formula``; the response is a column or a formula of
            columns (``log(y)``); names in the formula that are columns are
            data, every other name is a parameter. Or a model already bound to
            its data by :func:`gdsolve.formula.model.parse_model` (then ``data``, ``sigma``
            and ``drop_missing`` are its own and are not given again).
        data: a path (CSV, TSV or columns; ``"-"`` for stdin), a mapping of
            column name to numbers, or a :class:`~gdsolve.formula.data.Table`.
        p0: start values ``{name: value}`` (or a sequence in parameter order, or one number for every
            parameter); 1 for any not given.
        sigma: a column of per-point errors: residuals are divided by it.
        absolute_sigma: take ``sigma`` as the true errors: the covariance is not
            scaled by the reduced chi-square (``curve_fit``'s option).
        bounds: ``{name: (low, high)}``; a start outside is refused.
        starts: run this many starts at once (``p0`` and draws around it, see
            :func:`draw_fit_starts`) and report the one with the lowest cost.
        method: ``"lm"`` (Levenberg-Marquardt, :mod:`gdsolve.optim.lm`) or any
            method of :func:`gdsolve.minimize`, which then minimizes the same cost.
        loss: ``linear`` (least squares), ``soft_l1``, ``huber`` or ``cauchy``
            (robust: large residuals weigh less); ``f_scale``: the residual size where that starts.
        max_iter: the step budget (default 1000 for lm, 100 otherwise);
            ``ftol``/``xtol``/``gtol``: lm's stopping rules (see :mod:`gdsolve.optim.lm`).
        lr: the learning rate, for the minimize methods only.
        time_limit: seconds; the run stops there with status ``time_limit``.
        drop_missing: drop data rows with missing cells instead of refusing them.
        device: ``cpu`` (default), ``cuda``, ``mps`` or ``auto``.
        callback: called after every step with the :class:`~gdsolve.optim.lm.LMState`
            (lm) or the minimize method's step.
        family: ``gaussian``, ``binomial``, ``poisson`` or ``gamma``: the formula is the
            response's mean and the fit maximizes the family's likelihood by Fisher
            scoring (:mod:`gdsolve.api.likelihood`); the start is 0 for every parameter
            (or 1 where the mean is not valid at 0) unless ``p0`` says otherwise.
        trials: with ``family="binomial"``, a column of trials per row: the response is
            the proportion of successes (R's ``glm`` weights).

    Raises:
        GdsolveError: bad data, model or option, before anything runs.
    """
    t0 = time.perf_counter()
    fm = _bind(model, data, sigma, drop_missing)
    names = fm.parameters
    if fm.table.rows < len(names):
        raise DataError(f"{fm.table.source}: {fm.table.rows} data row{'' if fm.table.rows == 1 else 's'} for {len(names)} parameters "
                        f"({', '.join(names)}); a least-squares fit needs at least one row per parameter: "
                        "add rows, or write a model with fewer parameters")
    lik = None
    if trials is not None and family is None:
        raise OptionError("{trials} is the number of trials of a binomial proportion; give [[--family binomial||"
                          "family='binomial']] (least squares weighs rows by {sigma})")
    if family is not None:
        from . import likelihood as lik

        fam = lik.check_family_options(family, method=method, loss=loss, sigma=fm.sigma, absolute_sigma=absolute_sigma,
                                       bounds=bounds or {}, gtol=gtol, f_scale=f_scale, trials=trials)
        lik.check_response(fm, fam, fm.observed())
        lik.trials_of(fm, trials)
    start = resolve_p0(names, fm.expand(p0, "p0"))  # {"w": 0} is every element of a vector parameter
    bounds = fm.expand(check_bounds(bounds or {}), "bounds")
    unknown = [k for k in bounds if k not in names]
    if unknown:
        raise OptionError(f"{{bounds}} names {shown(unknown[0])}, which is not a parameter of the model; "
                          f"the parameters are: {', '.join(names)}")
    for k, (lo, hi) in bounds.items():
        if not lo <= start[k] <= hi:
            raise OptionError(f"{{p0}} {k} = {start[k]:g} is outside its {{bounds}} [{lo:g}, {hi:g}]; "
                              "start inside the bounds")
    _check_options(starts, loss, f_scale, absolute_sigma, fm.sigma, time_limit, ftol, xtol, gtol, lr, method, max_iter)
    # not given: the defaults (decided only now: whether an option was given is part of the checks above)
    f_scale = DEFAULT_F_SCALE if f_scale is None else f_scale
    ftol = FIT_FTOL if ftol is None else ftol
    xtol = FIT_XTOL if xtol is None else xtol
    gtol = FIT_GTOL if gtol is None else gtol
    from ..engine.starts import resolve_device

    where = resolve_device(device or "cpu")
    n_starts = starts or 1
    if lik is not None:
        if p0 is None:
            start = lik.default_starts(fm, fam, where)
        return _fit_family(lik, fm, fam, draw_fit_starts(start, {}, n_starts, seed).to(where), max_iter, ftol, xtol,
                           time_limit, callback, where, seed, t0, trials)
    P0 = draw_fit_starts(start, bounds, n_starts, seed).to(where)
    settings = {"method": method, "loss": loss, "f_scale": f_scale, "absolute_sigma": absolute_sigma, "sigma": sigma,
                "starts": n_starts, "seed": seed, "ftol": ftol, "xtol": xtol, "gtol": gtol, "time_limit": time_limit,
                "device": where, "bounds": {k: list(v) for k, v in bounds.items()}}
    residuals = fm.residuals(torch.float64, where)
    if method == LEAST_SQUARES:
        budget = FIT_MAX_ITER if max_iter is None else max_iter
        settings["max_iter"] = budget
        lower = torch.tensor([bounds.get(k, (-math.inf, math.inf))[0] for k in names], dtype=torch.float64, device=where)
        upper = torch.tensor([bounds.get(k, (-math.inf, math.inf))[1] for k in names], dtype=torch.float64, device=where)
        state = lm.solve(residuals, P0, loss=loss, f_scale=f_scale, lower=lower if bounds else None,
                         upper=upper if bounds else None, max_iter=budget, ftol=ftol, xtol=xtol, gtol=gtol,
                         time_limit=time_limit, callback=callback)
        best = lm.best_row(state.cost)
        P = state.P[best]
        rule = _RULE[int(state.rule[best])]
        value = float(state.value[best])
        tol = {StopRule.FTOL: ftol, StopRule.XTOL: xtol, StopRule.GTOL: gtol,
               StopRule.TIME_LIMIT: time_limit or 0.0}.get(rule, math.nan)
        nit, nfev = int(state.nit[best]), int(state.nfev[best])
        detail = {StopRule.GTOL: "scaled ", StopRule.MAX_ITER: "no stopping rule held yet",
                  StopRule.NONFINITE: _nonfinite_detail(state, best, names)}.get(rule, "")
        template = stop_message(rule, value=value, tol=tol, nit=nit, detail=detail)
        if rule is StopRule.INTERRUPTED:  # lm takes only steps that lower the cost: the last point is the best
            template = f"interrupted after {nit} steps; params are the best point reached (the lowest cost)"
        status = rule.status
    else:
        P, status, rule, template, nit, nfev = _minimize_fit(fm, residuals, P0, method, loss, f_scale, lr,
                                                             max_iter, bounds, time_limit, callback, where)
        best = 0
        settings.update({"max_iter": DEFAULT_MAX_ITER if max_iter is None else max_iter, "lr": lr})
        if rule is StopRule.INTERRUPTED:
            template = f"interrupted after {nit} steps; params are the last point reached"
    template = fit_template(template, method)
    return _report(fm, P.detach(), residuals, status, rule, template, nit, nfev, dict(zip(names, P0[best].tolist())),
                   n_starts, settings, time.perf_counter() - t0)


def _fit_family(lik: Any, fm: FitModel, fam: Any, P0: torch.Tensor, max_iter: int | None, ftol: float, xtol: float,
                time_limit: float | None, callback: Callable[[Any], None] | None, where: str, seed: int,
                t0: float, trials: str | None) -> FitResult:
    """The likelihood fit (:mod:`gdsolve.api.likelihood`): Fisher scoring from every start, the best reported."""
    budget = FIT_MAX_ITER if max_iter is None else max_iter
    settings = {"method": lik.METHOD, "family": fam.name, "loss": "linear", "f_scale": DEFAULT_F_SCALE,
                "absolute_sigma": False, "sigma": None, "starts": P0.shape[0], "seed": seed, "ftol": ftol,
                "xtol": xtol, "time_limit": time_limit, "device": where, "bounds": {}, "max_iter": budget,
                "trials": trials}
    run, row = lik.fit_family(fm, fam, P0, max_iter=budget, ftol=ftol, xtol=xtol, time_limit=time_limit,
                              callback=callback, where=where, trials=lik.trials_of(fm, trials))
    rule, template = lik.message(run, fam, fm.parameters, ftol, xtol, time_limit)
    template = fit_template(template, LEAST_SQUARES)
    return lik.report(fm, fam, run, rule, template, dict(zip(fm.parameters, P0[row].tolist())), P0.shape[0],
                      settings, time.perf_counter() - t0, trials)


#: Options a fit's message may name: ``{name}`` or ``[[--flag ...||...]]`` (see :mod:`gdsolve.core.errors`).
_NAMED = re.compile(r"\{([a-z][a-z0-9_]*)\}|\[\[--([a-z][a-z0-9-]*)")


def fit_template(template: str, method: str) -> str:
    """``template`` (a stop message) with only advice a fit can follow.

    The minimize methods' messages were written for ``minimize``: they may
    suggest its options (``{eps}``, a line search, ``{x0}``). ``{x0}`` becomes
    ``{p0}``; a clause (between ``"; "``) naming an option :func:`fit` does not
    take, or one it refuses with ``method`` (lm's tolerances with another method,
    ``lr`` with lm), is dropped, and a fit's own advice takes its place.
    """
    import inspect

    takes = {name.replace("_", "-") for name in inspect.signature(fit).parameters}
    takes -= {"lr"} if method == LEAST_SQUARES else {"ftol", "xtol", "gtol"}
    clauses = template.replace("{x0}", "{p0}").split("; ")
    kept = [c for c in clauses
            if all((a or b).replace("_", "-") in takes for a, b in _NAMED.findall(c))]
    if len(kept) < len(clauses):
        kept.append("a fit stops on the residuals' own rules with [[--method lm||method='lm']] (the default)"
                    if method != LEAST_SQUARES else "try another start ({p0}) or {bounds}")
    return "; ".join(kept)


def _bind(model: str | FitModel, data: Data | None, sigma: str | None, drop_missing: bool) -> FitModel:
    """The model bound to its data: parsed here, or as the caller already parsed it."""
    if isinstance(model, FitModel):
        if data is not None or sigma is not None or drop_missing:
            raise OptionError("a parsed model carries its own data and sigma; give {data}, {sigma} and "
                              "{drop_missing} to parse_model, not again here")
        return model
    if data is None:
        raise OptionError("{data} is missing: give a path, or a mapping of column name to numbers")
    return parse_model(model, load(data, drop_missing=drop_missing), sigma=sigma)


def _nonfinite_detail(state: lm.LMState, row: int, names: Sequence[str]) -> str:
    r = state.r[row]
    bad = (~torch.isfinite(r)).nonzero()
    point = ", ".join(f"{k}={v:.6g}" for k, v in zip(names, state.P[row].tolist()))
    if bad.numel():
        return (f"the residual of data row {int(bad[0]) + 1} is {float(r[bad[0]])} at {point}; "
                "start where the model is defined ([[--p0||p0=]])")
    return f"the Jacobian is not finite at {point}; start elsewhere or bound the parameters"


def _check_options(starts: int | None, loss: str, f_scale: float | None, absolute_sigma: bool, sigma: str | None,
                   time_limit: float | None, ftol: float | None, xtol: float | None, gtol: float | None,
                   lr: float | None, method: str, max_iter: int | None) -> None:
    """Refuse what cannot run; an option left out (None) is checked as its default."""
    if starts is not None and (isinstance(starts, bool) or not isinstance(starts, int) or starts < 1):
        raise OptionError(f"{{starts}} must be an integer >= 1, got {shown(starts)}")
    lm.check_settings(loss, DEFAULT_F_SCALE if f_scale is None else f_scale, FIT_FTOL if ftol is None else ftol,
                      FIT_XTOL if xtol is None else xtol, FIT_GTOL if gtol is None else gtol,
                      f_scale_given=f_scale is not None)
    if not isinstance(absolute_sigma, bool):
        raise OptionError(f"{{absolute_sigma}} must be True or False, got {shown(absolute_sigma)}")
    if absolute_sigma and sigma is None:
        raise OptionError("{absolute_sigma} takes the per-point errors as true; name their column with {sigma}")
    if time_limit is not None and not (is_real(time_limit) and time_limit > 0):
        raise OptionError(f"{{time_limit}} must be a positive number of seconds, got {shown(time_limit)}")
    if max_iter is not None and (isinstance(max_iter, bool) or not isinstance(max_iter, int) or max_iter < 1):
        raise OptionError(f"{{max_iter}} must be an integer >= 1, got {shown(max_iter)}")
    if method == LEAST_SQUARES:
        if lr is not None:
            raise OptionError("{lr} is for the gradient methods; lm needs no learning rate "
                              "(or choose one with [[--method adam||method='adam']])")
    else:
        from ..core.settings import METHODS

        if not isinstance(method, str) or method not in METHODS:
            raise OptionError(f"{{method}} {shown(method)} is unknown; choose lm (the default, for least squares) "
                              f"or one of {', '.join(METHODS)}")
        given = [name for name, tol in (("ftol", ftol), ("xtol", xtol), ("gtol", gtol)) if tol is not None]
        if given:  # minimize's methods stop by their own rules; a tolerance they ignore must not look applied
            raise OptionError(f"{{{given[0]}}} is a stopping rule of lm; {shown(method)} stops by minimize's rules, "
                              "not lm's, so leave it out")


def _minimize_fit(fm: FitModel, residuals: Callable[[torch.Tensor], torch.Tensor], P0: torch.Tensor, method: str,
                  loss: str, f_scale: float, lr: float | None, max_iter: int | None, bounds: Bounds,
                  time_limit: float | None, callback: Callable[[Any], None] | None,
                  where: str) -> tuple[torch.Tensor, Status, StopRule, str, int, int]:
    """Minimize the fit's cost with one of minimize's methods: a :class:`~gdsolve.engine.multistart.SingleRun`
    for one start on the CPU, else a :class:`~gdsolve.engine.multistart.MultiRun` (the same engine either way)."""
    from ..core.settings import Settings
    from ..engine.multistart import MultiRun, SingleRun
    from ..formula.objective import Objective
    from .solve import run

    def cost(*cols: torch.Tensor) -> torch.Tensor:
        return lm.cost_of(residuals(torch.stack(cols, dim=-1)), loss, f_scale)

    # The engine's columns are the fitted numbers, a vector parameter's element by element.
    objective = Objective(dataclasses.replace(fm.parsed, variables=fm.parameters), 1.0, cost)
    kw: dict[str, Any] = {"method": method, "bounds": bounds, "time_limit": time_limit}
    if lr is not None:
        kw["lr"] = lr
    if max_iter is not None:
        kw["max_iter"] = max_iter
    settings = Settings(**kw)
    names = fm.parameters
    runner: SingleRun | MultiRun
    if P0.shape[0] == 1 and where == "cpu":
        runner = SingleRun(objective, settings, P0[0].tolist(), seed=None)
    else:
        runner = MultiRun(objective, [settings], [{}], P0.cpu(), seed=None, device=where)
    result = run(runner, callback, catch_interrupt=True)
    P = torch.tensor([[result.x[k] for k in names]], dtype=torch.float64, device=P0.device)
    return P[0], result.status, result.stop_rule, result.message_template or result.message, result.nit, result.nfev


def _report(fm: FitModel, P: torch.Tensor, residuals: Callable[[torch.Tensor], torch.Tensor], status: Status,
            rule: StopRule, template: str, nit: int, nfev: int, p0: dict[str, float], starts: int,
            settings: dict[str, Any], elapsed: float) -> FitResult:
    """The statistics at ``P`` and the result record."""
    names = fm.parameters
    r, J = lm.jacobian(residuals, P.unsqueeze(0))
    loss, f_scale = settings["loss"], settings["f_scale"]
    y = fm.observed(P.dtype, P.device)
    w = fm.weights(P.dtype, P.device)
    _, Jw = lm.weighted(r, J, loss, f_scale)  # a robust fit's covariance uses the rescaled Jacobian, as curve_fit's
    params = dict(zip(names, P.tolist()))
    held = active_bounds(Settings(bounds=settings["bounds"]), params)
    stats = statistics(names, r[0], Jw[0], y, w, absolute_sigma=settings["absolute_sigma"], held=held)
    residual = r[0] if w is None else r[0] * w  # y - fitted, undoing the division by sigma
    return FitResult(
        params=params, stats=stats, active_bounds=held, status=status, stop_rule=rule,
        message=render(template, cli=False), nit=nit, nfev=nfev, p0=p0, starts=starts, model=fm.text,
        response=fm.response_text, parameters=names, columns=fm.columns, method=settings["method"], loss=loss,
        f_scale=f_scale, absolute_sigma=settings["absolute_sigma"], sigma=fm.sigma,
        cost=float(lm.cost_of(r, loss, f_scale)[0]), elapsed=elapsed, source=fm.table.source,
        dropped=fm.table.dropped, fitted=tuple((y - residual).cpu().tolist()), residuals=tuple(residual.cpu().tolist()),
        message_template=template, settings=settings, table=fm.table,
    )
