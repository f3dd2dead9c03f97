"""The Python API: ``minimize`` and ``maximize`` a formula in one call.

Example:
    >>> from gdsolve import minimize
    >>> r = minimize("(x-4)**2", lr=0.1, x0={"x": 0.5})
    >>> round(r.x["x"], 4), r.success, r.nit > 0
    (4.0, True, True)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from .objective import compile_objective
from .result import OptimizeResult, Step
from .settings import X0, Settings, resolve_x0
from .solver import Descent

Callback = Callable[[Step], None]


def prepare(
    expression: str,
    *,
    sense: str = "minimize",
    x0: X0 = None,
    lr: float = 0.1,
    eps: float = 1e-6,
    max_iter: int = 100,
    dtype: str = "float64",
    seed: int = 0,
    params: Mapping[str, float] | None = None,
    variables: Sequence[str] | None = None,
) -> Descent:
    """Validate everything and return a ready-to-iterate :class:`~gdsolve.solver.Descent`.

    All input errors surface here, before the first iteration, as
    :class:`~gdsolve.errors.GdsolveError` subclasses.
    """
    if sense not in ("minimize", "maximize"):
        raise ValueError(f"sense must be 'minimize' or 'maximize', not {sense!r}")
    settings = Settings(lr=lr, eps=eps, max_iter=max_iter, dtype=dtype, seed=seed)
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
    lr: float = 0.1,
    eps: float = 1e-6,
    max_iter: int = 100,
    dtype: str = "float64",
    seed: int = 0,
    params: Mapping[str, float] | None = None,
    variables: Sequence[str] | None = None,
    callback: Callback | None = None,
) -> OptimizeResult:
    """Minimize ``expression`` by gradient descent, ``x <- x - lr * grad f(x)``.

    Args:
        expression: the formula, e.g. ``"(1-x)**2 + 100*(y-x^2)**2"``.
        x0: start point ``{name: value}`` (or a sequence in variable order, or one
            number); default: drawn from a standard normal with ``seed``.
        lr: learning rate. eps: stop when ``||x_new - x_old|| < eps``.
        max_iter: at most this many updates. dtype: ``"float64"`` or ``"float32"``.
        seed: seed of the random start. params: constants, ``{"a": 2}``.
        variables: the variable order (default natural: x1, x2, x10).
        callback: called with each :class:`~gdsolve.result.Step`.

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
    descent = prepare(expression, sense="minimize", x0=x0, lr=lr, eps=eps, max_iter=max_iter,
                      dtype=dtype, seed=seed, params=params, variables=variables)
    return run(descent, callback)


def maximize(
    expression: str,
    *,
    x0: X0 = None,
    lr: float = 0.1,
    eps: float = 1e-6,
    max_iter: int = 100,
    dtype: str = "float64",
    seed: int = 0,
    params: Mapping[str, float] | None = None,
    variables: Sequence[str] | None = None,
    callback: Callback | None = None,
) -> OptimizeResult:
    """Maximize ``expression`` (gradient ascent); ``fun`` is the true maximum of f.

    Takes the same arguments as :func:`minimize`.

    Example:
        >>> r = maximize("-(x-1)**2 + 3", x0={"x": 0})
        >>> round(r.x["x"], 3), round(r.fun, 6)
        (1.0, 3.0)
    """
    descent = prepare(expression, sense="maximize", x0=x0, lr=lr, eps=eps, max_iter=max_iter,
                      dtype=dtype, seed=seed, params=params, variables=variables)
    return run(descent, callback)
