"""Plain data records a run produces: one :class:`Step` per iteration and a
final :class:`OptimizeResult`. No torch here: records hold Python floats, so
they can be rendered, serialised or compared anywhere.

Field names follow scipy's ``OptimizeResult`` (``x``, ``fun``, ``grad``,
``nit``, ``nfev``, ``success``, ``status``, ``message``) so users meet names
they already know.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import asdict, dataclass, field
from typing import Any, NamedTuple

from .errors import render
from .status import Status, StopRule


class Step(NamedTuple):
    """One iteration: the values at ``x_k`` and the update made from there.

    A NamedTuple rather than a dataclass: one is built per iteration, and a
    tuple is the cheapest immutable record Python has.

    Attributes:
        k: iteration index, 0 for the start point.
        x: the point ``x_k`` (one float per variable, in variable order).
        f: the objective at ``x_k`` (the user's f, also when maximizing).
        grad: the gradient of the user's f at ``x_k`` (when maximizing, the
            negated gradient of the ``-f`` the engine minimizes).
        grad_norm: ``||grad||_2``.
        step_norm: ``||x_{k+1} - x_k||_2``, the quantity the eps rule tests.
        lr: the learning rate used for this update.
        elapsed: seconds since the run started.
        step_length: the accepted line-search step length, when a line
            search ran (``None`` otherwise).
        line_search_failed: the line search found no decrease, so the
            point did not move (Armijo after all its halvings).
    """

    k: int
    x: tuple[float, ...]
    f: float
    grad: tuple[float, ...]
    grad_norm: float
    step_norm: float
    lr: float
    elapsed: float
    step_length: float | None = None
    line_search_failed: bool = False


@dataclass(frozen=True)
class Point:
    """A point with its objective value, e.g. the best iterate seen."""

    x: dict[str, float]
    fun: float
    k: int


@dataclass(frozen=True)
class Minimum:
    """One distinct local minimum that a many-start run found.

    Attributes:
        x: the best point that reached it; ``fun``: f there.
        count: how many starts ended there.
        row: one start that did (the row of the batch), and ``x0`` where it started.
    """

    x: dict[str, float]
    fun: float
    count: int
    row: int
    x0: dict[str, float]


@dataclass(frozen=True)
class SweepRun:
    """One combination of a sweep: the values it set, and its result (its best start)."""

    values: dict[str, float]
    result: OptimizeResult


@dataclass(frozen=True)
class RuleCheck:
    """One active stopping rule at the end of the run: measured value vs tolerance."""

    rule: StopRule
    value: float
    tol: float
    met: bool


#: The fields ``stderr=True`` fills in (absent from :meth:`OptimizeResult.to_dict` without it).
STDERR_FIELDS = ("stderr", "z_value", "p_value", "conf_int", "covariance", "correlation", "stderr_reason")


@dataclass(frozen=True)
class OptimizeResult:
    """The outcome of a run.

    Attributes:
        x: the final point, ``{name: value}``.
        fun: the objective at ``x`` (the user's f; for maximize, the maximum).
        grad: the gradient of f at ``x``, ``{name: value}``.
        grad_norm: ``||grad||_2`` at ``x``.
        nit: the number of updates made.
        nfev: objective evaluations; ``ngev``: gradient evaluations.
        success: True when ``status`` is ``converged``: a convergence rule fired
            and, for eps and ftol, the stationarity check passed (else ``stalled``).
        status: how the run ended (:class:`~gdsolve.core.status.Status`).
        stop_rule: which rule ended it (:class:`~gdsolve.core.status.StopRule`).
        message: the sentence explaining the stop, with measured values
            (options named as Python keywords; :meth:`message_for` gives the
            command line's spelling).
        x0: the start point; ``seed``: the seed that drew it (``None`` if given).
        best: the lowest-f iterate (highest when maximizing) seen, the final
            point included; never a non-finite point (``None`` when no point was finite).
        checks: every active stopping rule, measured value against tolerance.
        settings: every setting of the run, as JSON-ready values.
        active_bounds: variables sitting on a bound at ``x``: ``{name: "lower"|"upper"}``.
        final_lr: the learning rate at the end (differs from ``lr`` under a schedule).
        stationarity: when eps or ftol ended the run, the check that decided
            between ``converged`` and ``stalled`` (see :mod:`gdsolve.engine.stationarity`).
    """

    x: dict[str, float]
    fun: float
    grad: dict[str, float]
    grad_norm: float
    nit: int
    nfev: int
    ngev: int
    status: Status
    stop_rule: StopRule
    message: str
    x0: dict[str, float]
    seed: int | None
    expression: str
    variables: tuple[str, ...]
    sense: str
    elapsed: float
    best: Point | None
    checks: tuple[RuleCheck, ...] = ()
    settings: dict[str, Any] = field(default_factory=dict)
    active_bounds: dict[str, str] = field(default_factory=dict)
    final_lr: float = math.nan
    stationarity: dict[str, Any] | None = None
    message_template: str = field(default="", repr=False, compare=False)
    #: Many starts or a sweep (``None`` for a single run): rows of the batch,
    #: the rows' outcomes by status, the distinct minima (best first), the
    #: sweep's runs, and the device the batch ran on.
    starts: int | None = None
    rows: dict[str, int] | None = None
    minima: tuple[Minimum, ...] | None = None
    runs: tuple[SweepRun, ...] | None = None
    device: str | None = None
    compile_time: float | None = None  # seconds torch.compile took (not part of elapsed), with compile=True
    total_nfev: int | None = None  # f evaluations over every row of the batch
    #: With ``verify=True``: the exact stationary points sympy found and the
    #: nearest one's distance and kind (see :mod:`gdsolve.api.verify`).
    verify: dict[str, Any] | None = None
    #: With ``shape=``: the shaped variables; ``x`` names their elements (``w[0]``), :meth:`to_dict` nests them.
    shapes: dict[str, tuple[int, ...]] | None = None
    #: With ``stderr=True`` (see :mod:`gdsolve.api.inference`), by variable (a shaped one element by
    #: element, ``w[0]``): the standard error, ``x / stderr``, its two-sided normal p-value, the 95%
    #: interval ``[lower, upper]``, and over the variables that have one, the covariance and correlation;
    #: ``stderr_reason`` says why a standard error is missing (``None`` when none is). ``None`` without ``stderr``.
    stderr: dict[str, float | None] | None = None
    z_value: dict[str, float | None] | None = None
    p_value: dict[str, float | None] | None = None
    conf_int: dict[str, list[float] | None] | None = None
    covariance: dict[str, dict[str, float]] | None = None
    correlation: dict[str, dict[str, float]] | None = None
    stderr_reason: str | None = None
    #: The change of variables the method ran in, ``x = factor * z`` per variable:
    #: ``{"kind": "hessian-diagonal", "factors": {name: factor}}``, or ``None`` (see :mod:`gdsolve.optim.scaling`).
    scaling: dict[str, Any] | None = None

    def message_for(self, *, cli: bool) -> str:
        """The stop message for the command line (``--lr``) or for Python (``lr``)."""
        return render(self.message_template or self.message, cli=cli)

    @property
    def success(self) -> bool:
        return self.status.success

    @property
    def jac(self) -> dict[str, float]:
        """scipy's name for :attr:`grad`."""
        return self.grad

    def to_dict(self) -> dict[str, Any]:
        """A plain dict of every field (enums as their string values)."""
        runs = self.runs
        out = asdict(dataclasses.replace(self, runs=None))
        del out["message_template"]
        for name in ("starts", "rows", "minima", "runs", "device", "compile_time", "total_nfev", "verify", "shapes"):
            if out[name] is None:
                del out[name]
        if self.stderr is None:  # not asked for: none of its fields
            for name in STDERR_FIELDS:
                del out[name]
        if self.shapes:
            from .shapes import regroup

            for name in ("x", "grad", "x0"):
                out[name] = regroup(self.shapes, out[name])
            if self.scaling:
                out["scaling"]["factors"] = regroup(self.shapes, self.scaling["factors"])
            for point in [out.get("best"), *(out.get("minima") or [])]:
                for name in ("x", "x0"):
                    if point and name in point:
                        point[name] = regroup(self.shapes, point[name])
            out["shapes"] = {k: list(v) for k, v in self.shapes.items()}
        if runs is not None:
            out["runs"] = [{"values": dict(r.values), **r.result.to_dict()} for r in runs]
        out["status"] = self.status.value
        out["stop_rule"] = self.stop_rule.value
        out["success"] = self.success
        out["variables"] = list(self.variables)
        out["checks"] = [
            {"rule": c.rule.value, "value": c.value, "tol": c.tol, "met": c.met} for c in self.checks
        ]
        return out

    def __repr__(self) -> str:
        xs = ", ".join(f"{k}={v:.6g}" for k, v in self.x.items())
        return (
            f"OptimizeResult(x={{{xs}}}, fun={self.fun:.6g}, nit={self.nit}, "
            f"status={self.status.value!r}, message={self.message!r})"
        )


def is_finite(*values: float) -> bool:
    """True when every value is a finite float."""
    return all(math.isfinite(v) for v in values)
