"""Exit codes and the one table of stop messages shared by every method.

Two enums live here:

* :class:`ExitStatus` -- what the ``gdsolve`` process returns to its shell.
* :class:`Status` -- how a run ended, as reported in ``OptimizeResult.status``.

and :data:`STOP_MESSAGES`, the single table that turns "which rule fired" into
the sentence users read, in the spirit of scipy's ``OptimizeResult.message``,
beside :data:`STOP_CODES`, the numbers the engine keeps per row for the same rules.
This module imports nothing heavy: the CLI uses it before torch is loaded.
"""

from __future__ import annotations

import enum


class ExitStatus(enum.IntEnum):
    """Process exit codes of the ``gdsolve`` command.

    >>> int(ExitStatus.CONVERGED)
    0
    """

    #: A stopping rule that means success fired (step, gradient, f-change or target).
    CONVERGED = 0
    #: The run did not converge: it used its whole budget (``--max-iter`` or
    #: ``--time-limit``), or it stalled (steps fell below eps while the gradient
    #: is not small on the problem's own scale).
    NOT_CONVERGED = 1
    #: Bad input or usage: a malformed expression, an invalid option, a missing file.
    USAGE = 2
    #: The run diverged: a non-finite value or gradient, or f getting worse for
    #: 25 steps in a row (a blow-up, :data:`gdsolve.engine.rules.BLOWUP_RISES`).
    DIVERGED = 3
    #: A bug in gdsolve itself (please report it); ``--debug`` shows the traceback.
    INTERNAL_ERROR = 70
    #: Output could not be written: stdout closed (``>&-``), a full disk
    #: (``> /dev/full``), an I/O error; the ``error:`` line names what and why
    #: (BSD sysexits' EX_IOERR).
    IO_ERROR = 74
    #: Interrupted by Ctrl-C (SIGINT); the last point and the best point seen are still reported.
    INTERRUPTED = 130
    #: stdout was closed by its reader (``gdsolve ... | head``); ends quietly,
    #: as a Unix tool stopped by SIGPIPE would (128 + 13).
    BROKEN_PIPE = 141


class Status(str, enum.Enum):
    """How a run ended; the string value is what JSON output carries."""

    CONVERGED = "converged"
    STALLED = "stalled"
    MAX_ITER = "max_iter"
    TIME_LIMIT = "time_limit"
    DIVERGED = "diverged"
    INTERRUPTED = "interrupted"

    @property
    def success(self) -> bool:
        """True only for :attr:`CONVERGED`."""
        return self is Status.CONVERGED

    @property
    def exit_status(self) -> ExitStatus:
        """The process exit code that reports this outcome."""
        return _EXIT[self]


_EXIT = {
    Status.CONVERGED: ExitStatus.CONVERGED,
    Status.STALLED: ExitStatus.NOT_CONVERGED,
    Status.MAX_ITER: ExitStatus.NOT_CONVERGED,
    Status.TIME_LIMIT: ExitStatus.NOT_CONVERGED,
    Status.DIVERGED: ExitStatus.DIVERGED,
    Status.INTERRUPTED: ExitStatus.INTERRUPTED,
}


class StopRule(str, enum.Enum):
    """The rule that ended a run. Several rules can be active; one fires."""

    EPS = "eps"  # ||x_new - x_old|| < eps (the tutorial's rule)
    GTOL = "gtol"  # ||grad f|| < gtol
    FTOL = "ftol"  # |f_new - f_old| <= ftol * max(|f_new|, |f_old|, 1)
    XTOL = "xtol"  # fit: ||D delta|| <= xtol * (xtol + ||D p||), the relative step (MINPACK's rule)
    TARGET = "target"  # f <= target (for maximize: f >= target)
    MAX_ITER = "max_iter"
    TIME_LIMIT = "time_limit"
    NONFINITE = "nonfinite"  # f or grad became inf/nan
    BLOWUP = "blowup"  # f worse than the step before 25 steps in a row and worse than at the start (never ||x||)
    INTERRUPTED = "interrupted"

    @property
    def status(self) -> Status:
        """The run outcome this rule implies when it fires.

        ``eps`` and ``ftol`` measure the steps, not the point: when one of them
        fires while the gradient is not small on the problem's own scale, the
        run is :attr:`Status.STALLED` instead (see :mod:`gdsolve.engine.stationarity`).
        """
        return _RULE_STATUS[self]


_RULE_STATUS = {
    StopRule.EPS: Status.CONVERGED,
    StopRule.GTOL: Status.CONVERGED,
    StopRule.FTOL: Status.CONVERGED,
    StopRule.XTOL: Status.CONVERGED,
    StopRule.TARGET: Status.CONVERGED,
    StopRule.MAX_ITER: Status.MAX_ITER,
    StopRule.TIME_LIMIT: Status.TIME_LIMIT,
    StopRule.NONFINITE: Status.DIVERGED,
    StopRule.BLOWUP: Status.DIVERGED,
    StopRule.INTERRUPTED: Status.INTERRUPTED,
}

#: The one table of stop messages, for every method: (rule, status) -> sentence.
#: Fields: ``value`` (what was measured), ``tol`` (the tolerance), ``nit``
#: (iterations made), ``detail`` (the cause and the fix, or a qualifier).
STOP_MESSAGES: dict[tuple[StopRule, Status], str] = {
    (StopRule.EPS, Status.CONVERGED): "converged: step {value} < eps {tol}",
    (StopRule.EPS, Status.STALLED): "stalled: step {value} < eps {tol}, but {detail}",
    (StopRule.GTOL, Status.CONVERGED): "converged: {detail}gradient norm {value} < gtol {tol}",
    (StopRule.FTOL, Status.CONVERGED): "converged: relative change in f {value} <= ftol {tol}",
    (StopRule.FTOL, Status.STALLED): "stalled: relative change in f {value} <= ftol {tol}, but {detail}",
    (StopRule.XTOL, Status.CONVERGED): "converged: relative step {value} <= xtol {tol}",
    (StopRule.TARGET, Status.CONVERGED): "converged: f {value} reached target {tol}",
    (StopRule.MAX_ITER, Status.MAX_ITER): "stopped after max-iter {nit} steps without converging ({detail})",
    (StopRule.TIME_LIMIT, Status.TIME_LIMIT): "stopped at the time limit of {tol} s after {nit} steps without converging",
    (StopRule.NONFINITE, Status.DIVERGED): "diverged: {detail}",
    (StopRule.BLOWUP, Status.DIVERGED): "diverged: {detail}",
    (StopRule.INTERRUPTED, Status.INTERRUPTED): (
        "interrupted after {nit} steps; x is the last point reached, best the best point seen"
    ),
}


#: The engine's per-row stop codes: a row's code is the index of its rule here
#: (0: still running). The order is only the numbering; the order the rules are
#: tested in is :mod:`gdsolve.engine.rules`'s (at x_k: not finite, target, gtol,
#: ftol, time limit, blow-up; after the update: x not finite, eps, a row's budget).
STOP_CODES: tuple[StopRule | None, ...] = (None, StopRule.EPS, StopRule.GTOL, StopRule.FTOL, StopRule.TARGET,
                                           StopRule.MAX_ITER, StopRule.TIME_LIMIT, StopRule.NONFINITE,
                                           StopRule.BLOWUP, StopRule.INTERRUPTED)
#: Each rule's code in :data:`STOP_CODES`.
CODE: dict[StopRule, int] = {rule: i for i, rule in enumerate(STOP_CODES) if rule is not None}


def stop_message(rule: StopRule, status: Status | None = None, *, value: float = float("nan"),
                 tol: float = float("nan"), nit: int = 0, detail: str = "") -> str:
    """Format the message for ``rule`` ending a run with ``status`` (default: the rule's own).

    >>> stop_message(StopRule.EPS, value=8.1e-07, tol=1e-06)
    'converged: step 8.1e-07 < eps 1e-06'
    >>> stop_message(StopRule.MAX_ITER, nit=5, detail="the step rule is off: eps 0")
    'stopped after max-iter 5 steps without converging (the step rule is off: eps 0)'
    """
    v, t = format_pair(value, tol)
    return STOP_MESSAGES[rule, status or rule.status].format(value=v, tol=t, nit=nit, detail=detail)


def format_pair(value: float, tol: float) -> tuple[str, str]:
    """Format a measured value and its tolerance with just enough digits to differ.

    ``9.996e-07`` against ``1e-06`` must not print as ``1e-06 < 1e-06``.

    >>> format_pair(9.996e-07, 1e-06)
    ('9.996e-07', '1e-06')
    >>> format_pair(8.1e-07, 1e-06)
    ('8.1e-07', '1e-06')
    """
    for digits in range(2, 18):
        v, t = f"{value:.{digits}g}", f"{tol:.{digits}g}"
        if v != t or value == tol:
            return v, f"{tol:.{digits}g}"
    return repr(value), repr(tol)
