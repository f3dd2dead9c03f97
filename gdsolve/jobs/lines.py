"""JSON Lines in, JSON Lines out: the problems of ``gdsolve batch`` and their records.

One input line is one problem, a JSON object::

    {"id": "a", "expression": "(x-4)**2", "x0": {"x": 0}, "lr": 0.1}

with any setting by its Python API name (``x0``, ``lr``, ``method``,
``max_iter``, ``bounds``, ``starts``, ``options``...; see :data:`KEYS`). One
output record per problem, in input order::

    {"id": "a", "result": {...the --json document...}, "error": null}
    {"id": 2, "result": null, "error": {"message": "...", "exit_code": 2}}

This module reads and checks lines and writes records; it imports neither
torch nor sympy, so the process that only reads and dispatches (``--jobs``,
``--dask``) never pays for them. Solving is :mod:`gdsolve.jobs.batchsolve`.

A line's own demands are bounded by the batch's :class:`Limits`: a line that
asks for more is refused with its error line before anything runs.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import math
from collections.abc import Iterable, Iterator, Mapping
from typing import IO, Any

from ..core.errors import GdsolveError, OptionError, shown
from ..core.settings import DEFAULT_MAX_ITER, SWEEPABLE, Settings, finite_real, is_real
from ..core.status import ExitStatus, Status

#: Keys a line may carry besides the Settings fields.
CALL_KEYS = ("id", "expression", "sense", "x0", "params", "variables", "starts", "hops", "hop_size")
#: Every key a line may carry.
KEYS = tuple(sorted({*CALL_KEYS, *(f.name for f in dataclasses.fields(Settings))}))
#: Keys of the Python API that belong to the whole batch, not to a line.
BATCH_ONLY = {"device": "--device (batch(device=...))", "compile": "the batch", "callback": "the batch"}

#: Worst first: the batch's exit code is the worst line's (interrupted overrides all).
SEVERITY = (ExitStatus.INTERNAL_ERROR, ExitStatus.USAGE, ExitStatus.DIVERGED, ExitStatus.NOT_CONVERGED,
            ExitStatus.CONVERGED)


@dataclasses.dataclass(frozen=True)
class Limits:
    """What one line may ask for; the defaults are the documented ones (``gdsolve batch --help``).

    Attributes:
        time_limit: seconds of iterating per line (a line's own ``time_limit``
            may be smaller, not larger); lines that run as rows of one tensor
            share one clock.
        max_iter: a line's ``max_iter`` times ``hops + 1`` may not exceed it.
        max_rows: a line's ``starts`` times its sweep's combinations may not exceed it.
        max_chars: characters in one input line (the formula's own limits are the parser's).
    """

    time_limit: float = 60.0
    max_iter: int = 1_000_000
    max_rows: int = 100_000
    max_chars: int = 1_000_000

    def __post_init__(self) -> None:
        if not (finite_real(self.time_limit) and self.time_limit > 0):
            raise OptionError(f"{{time_limit}} must be a positive number of seconds, got {shown(self.time_limit)}")
        for name in ("max_iter", "max_rows", "max_chars"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise OptionError(f"{{{name}}} must be an integer >= 1, got {shown(v)}")


class LineError(Exception):
    """A line that cannot run: its record carries ``message`` and ``exit_code``."""

    def __init__(self, message: str, exit_code: int = int(ExitStatus.USAGE)) -> None:
        super().__init__(message)
        self.exit_code = exit_code
        self.id: Any = None  # the line's id, once it was read


@dataclasses.dataclass
class Problem:
    """One checked line: its id, sense, formula and the keyword arguments of :func:`gdsolve.api.solve.prepare`."""

    number: int
    id: Any
    sense: str
    expression: str
    kwargs: dict[str, Any]
    #: True when the batch's time limit, not the line's own, bounds this line.
    batch_clock: bool


def record(id_: Any, result: Mapping[str, Any] | None = None, error: str | None = None,
           exit_code: int = int(ExitStatus.USAGE)) -> dict[str, Any]:
    """One output record.

    >>> record(3, error="bad", exit_code=2)
    {'id': 3, 'result': None, 'error': {'message': 'bad', 'exit_code': 2}}
    """
    return {"id": id_, "result": None if result is None else dict(result),
            "error": None if error is None else {"message": error, "exit_code": int(exit_code)}}


def exit_code(rec: Mapping[str, Any]) -> int:
    """The exit code a record stands for: its error's, else its result status's.

    >>> exit_code({"id": 1, "result": {"status": "max_iter"}, "error": None})
    1
    """
    if rec.get("error"):
        return int(rec["error"]["exit_code"])
    return int(Status(rec["result"]["status"]).exit_status)


def worst(codes: Iterable[int]) -> int:
    """The batch's exit code: 0 when every line converged, else the worst line's code.

    Worst first: 70 (internal error) > 2 (a bad line) > 3 (diverged) > 1 (not converged).

    >>> worst([0, 1, 3, 0]), worst([]), worst([3, 2])
    (3, 0, 2)
    """
    rank = {int(code): i for i, code in enumerate(SEVERITY)}
    return min(codes, key=lambda c: rank.get(c, 0), default=0)


# --------------------------------------------------------------------------- reading
class _TooLong(str):
    """Stands in for a line longer than the limit (its text is not kept)."""


def read_lines(stream: IO[str], max_chars: int) -> Iterator[tuple[int, str]]:
    """The non-blank lines of ``stream`` with their 1-based line numbers.

    A line longer than ``max_chars`` is read past, never held whole in memory,
    and comes back as an empty :class:`_TooLong` marker (its record says so).
    """
    number = 0
    while True:
        text = stream.readline(max_chars + 1)
        if not text:
            return
        number += 1
        if len(text) > max_chars and not text.endswith("\n"):
            while True:  # drain the rest of the over-long line
                more = stream.readline(1 << 16)
                if not more or more.endswith("\n"):
                    break
            yield number, _TooLong()
            continue
        if text.strip():
            yield number, text


def _reject_constant(name: str) -> float:
    raise ValueError(f"{name} is not JSON (JSON has no NaN or Infinity; leave the value out or use null)")


def parse_problem(number: int, item: Any, limits: Limits) -> Problem:
    """Check one line (JSON text or an already-parsed dict) against the keys and the batch's limits.

    Raises:
        LineError: with the message its record carries (exit code 2).
    """
    if isinstance(item, _TooLong):
        raise LineError(f"line {number} is longer than the batch's limit of {limits.max_chars:,} characters")
    if isinstance(item, str):
        try:
            item = json.loads(item, parse_constant=_reject_constant)
        except RecursionError:
            raise LineError(f"line {number} is not valid JSON: nested too deeply") from None
        except ValueError as exc:  # JSONDecodeError, and ints of more digits than Python converts
            raise LineError(f"line {number} is not valid JSON: {exc}") from None
    if not isinstance(item, Mapping):
        raise LineError(f"line {number} must be a JSON object such as {{\"expression\": \"(x-4)**2\"}}, "
                        f"not {type(item).__name__}")
    given = dict(item)
    id_ = given.pop("id", number)
    if not (id_ is None or isinstance(id_, (str, int, float))):
        raise LineError(f"line {number}: id must be a string or a number, got {type(id_).__name__}")
    try:
        expression = given.pop("expression", None)
        if not isinstance(expression, str):
            raise LineError(f"line {number} has no \"expression\" (a string such as \"(x-4)**2\")"
                            if expression is None else f"line {number}: expression must be a string")
        sense = given.pop("sense", "minimize")
        if sense not in ("minimize", "maximize"):
            raise LineError(f"line {number}: sense must be \"minimize\" or \"maximize\", got {shown(sense)}")
        for key in given:
            if key in BATCH_ONLY:
                raise LineError(f"line {number}: {key} is set for the whole batch ({BATCH_ONLY[key]}), not per line")
            if key not in KEYS:
                close = difflib.get_close_matches(str(key), KEYS, n=1)
                hint = f"did you mean {shown(close[0])}? " if close else ""
                raise LineError(f"line {number}: unknown setting {shown(key)}; {hint}the settings are: {', '.join(KEYS)}")
        if "bounds" in given:
            given["bounds"] = _open_ends(number, given["bounds"])
        batch_clock = _check_limits(number, given, limits)
    except LineError as exc:
        exc.id = id_  # the error record carries the line's own id
        raise
    return Problem(number, id_, sense, expression, given, batch_clock)


def _open_ends(number: int, bounds: Any) -> Any:
    """JSON has no infinity: ``null`` is an open end (``{"x": [0, null]}`` is x >= 0)."""
    if not isinstance(bounds, Mapping):
        return bounds
    out = {}
    for name, pair in bounds.items():
        if isinstance(pair, list) and len(pair) == 2:
            pair = [-math.inf if pair[0] is None else pair[0], math.inf if pair[1] is None else pair[1]]
        out[name] = pair
    return out


def _count(n: Any, sep: str = "") -> str:
    """A count for a message (``1,000,000`` with ``sep=","``), or :func:`shown`'s short form when absurdly long."""
    return format(n, sep) if isinstance(n, int) and abs(n) < 10**24 else shown(n)


def _check_limits(number: int, given: dict[str, Any], limits: Limits) -> bool:
    """Refuse a line that asks for more than the batch allows; give it the batch's clock when it names none."""
    max_iter = given.get("max_iter", DEFAULT_MAX_ITER)
    hops = given.get("hops", 0)
    if is_real(max_iter) and is_real(hops) and max_iter * (hops + 1) > limits.max_iter:
        what = f"max_iter {_count(max_iter)}" + (f" x (hops {_count(hops)} + 1)" if hops else "")
        raise LineError(f"line {number}: {what} exceeds the batch's limit of {limits.max_iter:,} iterations per line "
                        "(gdsolve batch --max-iter)")
    starts = given.get("starts")
    rows = starts if is_real(starts) and starts > 0 else 1
    for name, value in given.items():
        if name in SWEEPABLE and isinstance(value, list):
            rows *= max(len(value), 1)
    for value in (given.get("options") or {}).values() if isinstance(given.get("options"), Mapping) else ():
        if isinstance(value, list):
            rows *= max(len(value), 1)
    if rows > limits.max_rows:
        raise LineError(f"line {number}: {_count(rows, ',')} rows (starts x swept values) exceed the batch's limit of "
                        f"{limits.max_rows:,} rows per line (gdsolve batch --max-rows)")
    own = given.get("time_limit")
    if own is None:
        given["time_limit"] = limits.time_limit
        return True
    if is_real(own) and own > limits.time_limit:
        raise LineError(f"line {number}: time_limit {shown(own)} s exceeds the batch's limit of {limits.time_limit:g} s "
                        "per line (gdsolve batch --time-limit)")
    return False


def error_text(exc: BaseException) -> tuple[str, int]:
    """The message and exit code a line's record gives for ``exc``."""
    if isinstance(exc, LineError):
        return str(exc), exc.exit_code
    if isinstance(exc, GdsolveError):
        return str(exc), int(ExitStatus.USAGE)
    if isinstance(exc, MemoryError):
        return "out of memory solving this line; ask for fewer starts or a smaller formula", int(ExitStatus.USAGE)
    return (f"internal error: {type(exc).__name__}: {exc} (a bug in gdsolve; please report it with this line)",
            int(ExitStatus.INTERNAL_ERROR))
