"""The Python API: ``minimize`` and ``maximize`` a formula in one call.

Example:
    >>> from gdsolve import minimize
    >>> r = minimize("(x-4)**2", lr=0.1, x0={"x": 0.5})
    >>> round(r.x["x"], 4), r.success, r.nit > 0
    (4.0, True, True)
"""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Callable, Mapping, MutableMapping, Sequence
from typing import Any

from ..core.errors import OptionError, shown
from ..core.result import OptimizeResult, Step
from ..core.settings import (
    DEFAULT_EPS,
    DEFAULT_HOP_SIZE,
    DEFAULT_MAX_ITER,
    DEFAULT_VERIFY_TIMEOUT,
    X0,
    Settings,
    is_real,
    resolve_x0,
    split_sweep,
)
from ..core.shapes import expand_bounds, expand_point, parse_shapes
from ..core.status import Status
from ..engine.multistart import MultiRun, SingleRun, combinations, operations
from ..engine.starts import check_memory, check_start, draw_starts, random_start, resolve_device
from ..formula.objective import Objective, compile_objective
from .verify import Verification, check_timeout

Callback = Callable[[Step], None]

#: The keywords minimize/maximize take besides the Settings fields.
_CALL_KEYWORDS = ("x0", "params", "variables", "callback", "starts", "device", "compile", "hops", "hop_size",
                  "verify", "verify_timeout", "shape", "data", "drop_missing", "stderr")


def _check_keywords(given: Mapping[str, Any]) -> None:
    """Refuse an unknown keyword with gdsolve's own error, listing the valid ones."""
    fields = [f.name for f in dataclasses.fields(Settings)]
    unknown = [k for k in given if k not in fields]
    if unknown:
        valid = sorted([*fields, *_CALL_KEYWORDS])
        close = difflib.get_close_matches(unknown[0], valid, n=1)
        hint = f"did you mean {shown(close[0])}? " if close else ""
        raise OptionError(f"unknown setting {shown(unknown[0])}; {hint}the settings are: {', '.join(valid)}")


def prepare(
    expression: str,
    *,
    sense: str = "minimize",
    x0: X0 = None,
    params: Mapping[str, float] | None = None,
    variables: Sequence[str] | None = None,
    starts: int | None = None,
    device: str | None = None,
    compile: bool = False,
    hops: int = 0,
    hop_size: float | None = None,
    cache: MutableMapping[Any, Objective] | None = None,
    shape: Mapping[str, Any] | Sequence[str] | None = None,
    data: Any = None,
    drop_missing: bool = False,
    **settings_kw: Any,
) -> SingleRun | MultiRun:
    """Validate everything and return a ready-to-iterate run.

    ``settings_kw`` are the fields of :class:`~gdsolve.core.settings.Settings`
    (``lr``, ``eps``, ``max_iter``, ``method``, ``options``, ``gtol``, ``bounds``...).
    All input errors surface here, before the first iteration, as
    :class:`~gdsolve.core.errors.GdsolveError` subclasses.

    Every run goes through the one engine (:class:`~gdsolve.engine.loop.Batch`).
    One start on the CPU, without ``compile`` or ``hops``, gives a
    :class:`~gdsolve.engine.multistart.SingleRun` (the engine at one row, yielding a
    :class:`~gdsolve.core.result.Step` per iteration). ``starts=N`` (any N, 1
    included), a list of values on ``lr`` or a method option (a sweep), another
    ``device``, ``compile=True`` or ``hops`` give a :class:`~gdsolve.engine.multistart.MultiRun`
    (yielding a :class:`~gdsolve.core.batchstep.BatchStep` per iteration). Both end
    with ``.result()``.

    ``cache``, a dict kept across calls, holds the compiled formulas (the
    parse and the lambdify: most of a small problem's cost) by formula,
    constants, variable order and sense; :func:`gdsolve.batch` keeps one.
    """
    if sense not in ("minimize", "maximize"):
        raise OptionError(f"sense must be 'minimize' or 'maximize', not {shown(sense)}")
    _check_keywords(settings_kw)
    if starts is not None and (isinstance(starts, bool) or not isinstance(starts, int) or starts < 1):
        raise OptionError(f"{{starts}} must be an integer >= 1, got {shown(starts)}")
    axes, base = split_sweep(settings_kw)
    objective = _objective(expression, params, variables, sense, cache, parse_shapes(shape), data, drop_missing)
    # The objective's shapes: --shape's, and each w of an X @ w (its size follows X without --shape).
    shapes = objective.shapes
    if shapes and isinstance(base.get("bounds"), Mapping):  # a bound on a shaped variable holds for each element
        base["bounds"] = expand_bounds(shapes, base["bounds"])
    settings = Settings(**base)
    combos, values = [settings], [{}]
    if axes:
        values = combinations(axes)
        combos = [Settings(**{**base, "lr": v.get("lr", base.get("lr")),
                              "options": {**dict(base.get("options") or {}), **{k: w for k, w in v.items() if k != "lr"}}})
                  for v in values]
    start = resolve_x0(objective.variables, expand_point(shapes, objective.parsed.variables, x0))
    names = objective.variables
    lo, hi = check_start(names, settings.bounds, start)
    where = resolve_device(device or "cpu")
    if where == "mps" and settings.dtype == "float64":
        raise OptionError("{device} mps has no float64; add [[--dtype float32||dtype='float32']]")
    if not isinstance(compile, bool):
        raise OptionError(f"{{compile}} must be True or False, got {shown(compile)}")
    if compile and objective.layout is not None:
        raise OptionError("{compile} compiles formulas of plain variables; it does not take {shape} or {data} yet")
    if isinstance(hops, bool) or not isinstance(hops, int) or hops < 0:
        raise OptionError(f"{{hops}} must be an integer >= 0, got {shown(hops)}")
    if hop_size is not None and not hops:  # given, but there is nothing for it to size
        raise OptionError("{hop_size} sizes the hops of basin hopping; add [[--hops K||hops=K]]")
    hop_size = DEFAULT_HOP_SIZE if hop_size is None else hop_size
    if not (is_real(hop_size) and 0 < hop_size <= 1):
        raise OptionError(f"{{hop_size}} must be in (0, 1] (a fraction of each variable's box), got {shown(hop_size)}")
    if starts is None and not axes and where == "cpu" and not compile and not hops:
        given = start is not None
        point = [start[k] for k in names] if given else random_start(names, lo, hi, settings.seed)
        return SingleRun(objective, settings, point, seed=None if given else settings.seed,
                         device=None if device is None else where)
    import torch

    n = starts or 1
    # Refuse a batch that would not fit before anything is allocated, the start points included.
    check_memory(n * len(combos), len(names), operations(objective), settings.method,
                 max(int(c.options.get("history_size", 0)) for c in combos),
                 4 if settings.dtype == "float32" else 8, where)
    seed: int | None = settings.seed
    if n == 1:
        first = [start[k] for k in names] if start is not None else random_start(names, lo, hi, settings.seed)
        S = torch.tensor([first], dtype=torch.float64)
        seed = None if start is not None else seed
    else:
        S = draw_starts(names, settings.bounds, n - (start is not None), settings.seed)
        if start is not None:  # the given start is the first of the N
            S = torch.cat([torch.tensor([[start[k] for k in names]], dtype=torch.float64), S])
    return MultiRun(objective, combos, values, S, seed=seed, device=where, swept=bool(axes), compile=compile,
                    hops=hops, hop_size=hop_size)


def _objective(expression: str, params: Mapping[str, float] | None, variables: Sequence[str] | None, sense: str,
               cache: MutableMapping[Any, Objective] | None, shapes: Mapping[str, tuple[int, ...]] | None = None,
               data: Any = None, drop_missing: bool = False) -> Objective:
    """The compiled formula, from ``cache`` when it holds it (never with data: a file can change)."""
    key: Any = None
    if cache is not None and data is None:
        try:  # a wrong type here is named by the parse below, not by building the key
            key = (expression, tuple(sorted(params.items())) if isinstance(params, Mapping) else params,
                   None if variables is None else tuple(variables), sense, tuple(sorted((shapes or {}).items())))
            hash(key)
        except TypeError:  # unhashable or unorderable values
            key = None
        if key is not None and key in cache:
            return cache[key]
    objective = compile_objective(expression, params=params, variables=variables, maximize=sense == "maximize",
                                  shapes=shapes, data=data, drop_missing=drop_missing)
    if key is not None:
        cache[key] = objective
    return objective


def verifier(descent: SingleRun | MultiRun, verify: bool, timeout: float | None = None) -> Verification | None:
    """Start :mod:`gdsolve.api.verify`'s solving process for a prepared run, when ``verify`` asks for it
    (``timeout``: seconds, ``None`` for the default)."""
    if not isinstance(verify, bool):
        raise OptionError(f"{{verify}} must be True or False, got {shown(verify)}")
    if timeout is not None:
        check_timeout(timeout)
    if not verify:
        if timeout is not None:
            raise OptionError("{verify_timeout} limits the time of {verify}; add [[--verify||verify=True]]")
        return None
    objective = descent.objective
    if objective.layout is not None:
        raise OptionError("{verify} solves formulas of plain variables; sympy cannot follow {shape} or {data}")
    return Verification.start(objective.text, params=objective.parsed.params, variables=objective.variables,
                              sense=objective.sense, timeout=DEFAULT_VERIFY_TIMEOUT if timeout is None else timeout)


def check_stderr(stderr: object) -> None:
    """Refuse a ``stderr`` that is not a bool (before the run, as every input error)."""
    if not isinstance(stderr, bool):
        raise OptionError(f"{{stderr}} must be True or False, got {shown(stderr)}")


def run(descent: SingleRun | MultiRun, callback: Callable[[Any], None] | None = None, *,
        catch_interrupt: bool = False, verification: Verification | None = None,
        stderr: bool = False) -> OptimizeResult:
    """Drive ``descent`` to its end, calling ``callback`` with every step (a
    :class:`~gdsolve.core.result.Step`, or for a batch a :class:`~gdsolve.core.batchstep.BatchStep`).

    With ``catch_interrupt=True`` a Ctrl-C ends the run with status
    ``interrupted`` and the result so far instead of raising. A
    ``verification`` (from :func:`verifier`) is asked for its verdict on the
    result, which then carries it as ``verify``; its process never outlives this call.
    ``stderr=True`` adds the standard errors at the point reported (the best start's, in a batch):
    :func:`gdsolve.api.inference.with_stderr`.
    """
    check_stderr(stderr)
    try:
        try:
            if callback is None:  # nobody listens: no per-step record is built
                for _ in descent.steps():
                    pass
            else:
                for step in descent:
                    callback(step)
        except KeyboardInterrupt:
            if not catch_interrupt:
                raise
            descent.interrupt()
        result = descent.result()
        if verification is not None and result.status is not Status.INTERRUPTED:  # Ctrl-C means now, not in 5 s
            verdict = verification.finish(result.x, stop=lambda: bool(descent.stop_requested))
            result = dataclasses.replace(result, verify=verdict)
        if stderr:
            from .inference import with_stderr

            result = with_stderr(descent.objective, result)
        return result
    finally:
        if verification is not None:
            verification.cancel()


def minimize(
    expression: str,
    *,
    x0: X0 = None,
    lr: float | Sequence[float] | None = None,
    eps: float = DEFAULT_EPS,
    max_iter: int = DEFAULT_MAX_ITER,
    method: str = "gd",
    params: Mapping[str, float] | None = None,
    variables: Sequence[str] | None = None,
    callback: Callable[[Any], None] | None = None,
    starts: int | None = None,
    device: str | None = None,
    compile: bool = False,
    hops: int = 0,
    hop_size: float | None = None,
    verify: bool = False,
    verify_timeout: float | None = None,
    shape: Mapping[str, Any] | None = None,
    data: Any = None,
    drop_missing: bool = False,
    stderr: bool = False,
    **settings_kw: Any,
) -> OptimizeResult:
    """Minimize ``expression`` by gradient descent, ``x <- x - lr * grad f(x)``.

    Args:
        expression: the formula, e.g. ``"(1-x)**2 + 100*(y-x^2)**2"``.
        x0: start point ``{name: value}`` (or a sequence in variable order, or one
            number for every variable); default: drawn with ``seed``, from a standard normal (uniform
            inside two-sided ``bounds``, beside a one-sided bound).
        lr: learning rate (default: the method's; 0.1 for gd).
        eps: stop when ``||x_new - x_old|| < eps``. max_iter: at most this many updates.
        method: ``gd`` (the tutorial's), ``momentum``, ``nesterov``, ``adam``,
            ``adamw``, ``rmsprop``, ``adagrad`` or ``lbfgs``.
        params: constants, ``{"a": 2}``. variables: the variable order.
        callback: called with each :class:`~gdsolve.core.result.Step` (for a
            batch, each :class:`~gdsolve.core.batchstep.BatchStep`).
        starts: run N starts in one batch (scrambled Sobol points in ``bounds``,
            or in the box -10..10 where a variable is unbounded; ``x0``, if
            given, is the first); the result is the best start's, with
            ``minima`` (the distinct local minima found) and ``rows``.
        device: ``"cpu"`` (default), ``"cuda"``, ``"mps"`` or ``"auto"`` (a GPU
            when torch sees one).
        hops: basin hopping, every start a chain (monotonic: perturb the chain's
            best point by up to ``hop_size`` (default 0.05) of the box's width per
            variable, descend, keep it if f is lower), ``hops`` times, then one
            final descent from each chain's best point. Lattices of minima
            (Rastrigin, Ackley) that defeat plain many-start runs yield to it.
        hop_size: how far a hop goes, a fraction of each variable's box in (0, 1]
            (default 0.05); only with ``hops``.
        compile: evaluate f and its gradient through ``torch.compile`` (worth it
            for large batches; the compile time is reported as ``compile_time``,
            apart from ``elapsed``).
        verify: also ask sympy for the exact stationary points, in a separate
            process started with the run and killed after ``verify_timeout``
            seconds (default 5): the result's ``verify`` lists them, each
            classified from the Hessian's eigenvalues, with the distance to the
            nearest and whether it is the kind sought (see :mod:`gdsolve.api.verify`).
        shape: variables that are tensors, ``{"w": 3, "x": (2, 2)}``; ``x0``
            ``{"x": 1}`` fills one, ``{"x": [[1, 2], [3, 4]]}`` sets it; the
            result names elements ``x[0,1]`` and its JSON nests them (see :mod:`gdsolve.core.shapes`).
        data: columns the formula reads by name, ``sum((y - a*x - b)**2)``: a
            path (CSV, TSV or columns with a header), a mapping of column to
            numbers, or a :class:`~gdsolve.formula.data.Table`; ``drop_missing`` drops rows with missing cells.
        stderr: at the point found, the standard errors from the inverse Hessian (the observed
            information, when ``expression`` is a negative log-likelihood): the result's ``stderr``,
            ``z_value``, ``p_value``, ``conf_int`` (95%), ``covariance``, ``correlation`` and
            ``stderr_reason`` (why one is missing: a run that did not converge, a variable on a bound, a
            Hessian that is singular or not positive definite). Valid for a negative log-likelihood
            at a minimum with no variable on a bound (see :mod:`gdsolve.api.inference`).

    A list of values on ``lr`` or on a method option in ``options`` runs every
    combination (a sweep) as rows of one batch; the result is the best
    combination's, with ``runs`` holding each combination's values and result.
        settings_kw: any other :class:`~gdsolve.core.settings.Settings` field:
            ``dtype``, ``seed``, ``options`` (``{"momentum": 0.8}``),
            ``line_search``, ``gtol``, ``ftol``, ``time_limit``, ``target``,
            ``schedule``, ``gamma``, ``step_size``, ``t_max``, ``bounds``
            (``{"x": (0, 5)}``).

    Returns:
        An :class:`~gdsolve.core.result.OptimizeResult`; a run that meets a non-finite
        value ends with ``status == "diverged"`` rather than raising.

    Raises:
        GdsolveError: for an invalid expression or option (nothing is executed).

    Example:
        >>> r = minimize("(x-1)**2 + (y+2)**2", x0={"x": 0, "y": 0})
        >>> {k: round(v, 3) for k, v in r.x.items()}
        {'x': 1.0, 'y': -2.0}
    """
    _check_keywords(settings_kw)  # here, so a stray ``sense=`` is gdsolve's error, not prepare()'s TypeError
    descent = prepare(expression, sense="minimize", x0=x0, lr=lr, eps=eps, max_iter=max_iter, method=method,
                      params=params, variables=variables, starts=starts, device=device, compile=compile,
                      hops=hops, hop_size=hop_size, shape=shape, data=data, drop_missing=drop_missing,
                      **settings_kw)
    check_stderr(stderr)
    return run(descent, callback, verification=verifier(descent, verify, verify_timeout), stderr=stderr)


def maximize(
    expression: str,
    *,
    x0: X0 = None,
    lr: float | Sequence[float] | None = None,
    eps: float = DEFAULT_EPS,
    max_iter: int = DEFAULT_MAX_ITER,
    method: str = "gd",
    params: Mapping[str, float] | None = None,
    variables: Sequence[str] | None = None,
    callback: Callable[[Any], None] | None = None,
    starts: int | None = None,
    device: str | None = None,
    compile: bool = False,
    hops: int = 0,
    hop_size: float | None = None,
    verify: bool = False,
    verify_timeout: float | None = None,
    shape: Mapping[str, Any] | None = None,
    data: Any = None,
    drop_missing: bool = False,
    stderr: bool = False,
    **settings_kw: Any,
) -> OptimizeResult:
    """Maximize ``expression`` (gradient ascent); ``fun`` is f at the point found (f itself, not the ``-f`` minimized).

    Takes the same arguments as :func:`minimize`; with ``stderr=True`` and ``expression`` a
    log-likelihood, the covariance is the inverse of the negative Hessian of ``f``.

    Example:
        >>> r = maximize("-(x-1)**2 + 3", x0={"x": 0})
        >>> round(r.x["x"], 3), round(r.fun, 6)
        (1.0, 3.0)
    """
    _check_keywords(settings_kw)  # here, so a stray ``sense=`` is gdsolve's error, not prepare()'s TypeError
    descent = prepare(expression, sense="maximize", x0=x0, lr=lr, eps=eps, max_iter=max_iter, method=method,
                      params=params, variables=variables, starts=starts, device=device, compile=compile,
                      hops=hops, hop_size=hop_size, shape=shape, data=data, drop_missing=drop_missing,
                      **settings_kw)
    check_stderr(stderr)
    return run(descent, callback, verification=verifier(descent, verify, verify_timeout), stderr=stderr)
