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
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from .errors import OptionError
from .objective import compile_objective
from .result import OptimizeResult, Step
from .settings import X0, Settings, resolve_x0
from .solver import Descent

Callback = Callable[[Step], None]

#: The keywords minimize/maximize take besides the Settings fields.
_CALL_KEYWORDS = ("x0", "params", "variables", "callback")


def _check_keywords(given: Mapping[str, Any]) -> None:
    """Refuse an unknown keyword with gdsolve's own error, listing the valid ones."""
    fields = [f.name for f in dataclasses.fields(Settings)]
    unknown = [k for k in given if k not in fields]
    if unknown:
        valid = sorted([*fields, *_CALL_KEYWORDS])
        close = difflib.get_close_matches(unknown[0], valid, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise OptionError(f"unknown setting {unknown[0]!r}; {hint}the settings are: {', '.join(valid)}")


def prepare(
    expression: str,
    *,
    sense: str = "minimize",
    x0: X0 = None,
    params: Mapping[str, float] | None = None,
    variables: Sequence[str] | None = None,
    **settings_kw: Any,
) -> Descent:
    """Validate everything and return a ready-to-iterate :class:`~gdsolve.solver.Descent`.

    ``settings_kw`` are the fields of :class:`~gdsolve.settings.Settings`
    (``lr``, ``eps``, ``max_iter``, ``method``, ``options``, ``gtol``, ``bounds``...).
    All input errors surface here, before the first iteration, as
    :class:`~gdsolve.errors.GdsolveError` subclasses.
    """
    if sense not in ("minimize", "maximize"):
        raise OptionError(f"sense must be 'minimize' or 'maximize', not {sense!r}")
    _check_keywords(settings_kw)
    settings = Settings(**settings_kw)
    objective = compile_objective(expression, params=params, variables=variables, maximize=sense == "maximize")
    return Descent(objective, settings, resolve_x0(objective.variables, x0))


def run(descent: Descent, callback: Callback | None = None, *, catch_interrupt: bool = False) -> OptimizeResult:
    """Drive ``descent`` to its end, calling ``callback`` with every step.

    With ``catch_interrupt=True`` a Ctrl-C ends the run with status
    ``interrupted`` and the result so far instead of raising.
    """
    try:
        if callback is None:
            for _ in descent:
                pass
        else:
            for step in descent:
                callback(step)
    except KeyboardInterrupt:
        if not catch_interrupt:
            raise
        descent.interrupt()
    return descent.result()


def minimize(
    expression: str,
    *,
    x0: X0 = None,
    lr: float | None = None,
    eps: float = 1e-6,
    max_iter: int = 100,
    method: str = "gd",
    params: Mapping[str, float] | None = None,
    variables: Sequence[str] | None = None,
    callback: Callback | None = None,
    **settings_kw: Any,
) -> OptimizeResult:
    """Minimize ``expression`` by gradient descent, ``x <- x - lr * grad f(x)``.

    Args:
        expression: the formula, e.g. ``"(1-x)**2 + 100*(y-x^2)**2"``.
        x0: start point ``{name: value}`` (or a sequence in variable order, or one
            number); default: drawn from a standard normal with ``seed``.
        lr: learning rate (default: the method's; 0.1 for gd).
        eps: stop when ``||x_new - x_old|| < eps``. max_iter: at most this many updates.
        method: ``gd`` (the tutorial's), ``momentum``, ``nesterov``, ``adam``,
            ``adamw``, ``rmsprop``, ``adagrad`` or ``lbfgs``.
        params: constants, ``{"a": 2}``. variables: the variable order.
        callback: called with each :class:`~gdsolve.result.Step`.
        settings_kw: any other :class:`~gdsolve.settings.Settings` field:
            ``dtype``, ``seed``, ``options`` (``{"momentum": 0.8}``),
            ``line_search``, ``gtol``, ``ftol``, ``time_limit``, ``target``,
            ``schedule``, ``gamma``, ``step_size``, ``t_max``, ``bounds``
            (``{"x": (0, 5)}``).

    Returns:
        An :class:`~gdsolve.result.OptimizeResult`; a run that meets a non-finite
        value ends with ``status == "diverged"`` rather than raising.

    Raises:
        GdsolveError: for an invalid expression or option (nothing is executed).

    Example:
        >>> r = minimize("(x-1)**2 + (y+2)**2", x0={"x": 0, "y": 0})
        >>> {k: round(v, 3) for k, v in r.x.items()}
        {'x': 1.0, 'y': -2.0}
    """
    descent = prepare(expression, sense="minimize", x0=x0, lr=lr, eps=eps, max_iter=max_iter, method=method,
                      params=params, variables=variables, **settings_kw)
    return run(descent, callback)


def maximize(
    expression: str,
    *,
    x0: X0 = None,
    lr: float | None = None,
    eps: float = 1e-6,
    max_iter: int = 100,
    method: str = "gd",
    params: Mapping[str, float] | None = None,
    variables: Sequence[str] | None = None,
    callback: Callback | None = None,
    **settings_kw: Any,
) -> OptimizeResult:
    """Maximize ``expression`` (gradient ascent); ``fun`` is the true maximum of f.

    Takes the same arguments as :func:`minimize`.

    Example:
        >>> r = maximize("-(x-1)**2 + 3", x0={"x": 0})
        >>> round(r.x["x"], 3), round(r.fun, 6)
        (1.0, 3.0)
    """
    descent = prepare(expression, sense="maximize", x0=x0, lr=lr, eps=eps, max_iter=max_iter, method=method,
                      params=params, variables=variables, **settings_kw)
    return run(descent, callback)
