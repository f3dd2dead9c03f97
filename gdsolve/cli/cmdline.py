"""What the command line types, read into the values the library takes.

``--x0 x=1,y=2``, ``--param a=2``, ``--bounds x=0:5``, ``--lr 0.1,0.01``: each
parser names the option and quotes the text in its errors
(:class:`~gdsolve.core.errors.OptionError`). No torch, no sympy: ``--help`` stays fast
(a value that is not a plain number, such as ``pi/2``, is read by the formula parser, imported then).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from ..core.errors import OptionError, shown
from ..core.settings import Bounds


def parse_bounds(specs: Sequence[str]) -> Bounds:
    """Parse ``--bounds x=0:5`` items; an empty side is open; a side may be a constant expression.

    >>> parse_bounds(["x=0:5", "y=:2.5", "z=-1:"])
    {'x': (0.0, 5.0), 'y': (-inf, 2.5), 'z': (-1.0, inf)}
    >>> parse_bounds(["shift=-pi/2:pi/2"])
    {'shift': (-1.5707963267948966, 1.5707963267948966)}
    """
    out: Bounds = {}
    for spec in specs:
        name, eq, rng = spec.partition("=")
        lo_s, colon, hi_s = rng.partition(":")
        name = name.strip()
        if not eq and ":" in spec:
            # A bare interval is refused, not read as every variable's: a bound is a claim about one variable,
            # and a tensor variable's already holds for each of its elements.
            raise OptionError(f"--bounds {shown(spec)} names no variable; write name=lo:hi for each bounded "
                              f"variable, as x=0:5 (on a --shape variable it holds for every element)")
        if not eq or not colon or not name.isidentifier():
            raise OptionError(f"--bounds {shown(spec)} must look like x=0:5 (either side may be empty: x=:5)")
        if name in out:
            raise OptionError(f"--bounds gives {name} twice")
        lo = _number(lo_s.strip(), "--bounds", name) if lo_s.strip() else -math.inf
        hi = _number(hi_s.strip(), "--bounds", name) if hi_s.strip() else math.inf
        if lo > hi:
            raise OptionError(f"--bounds {shown(spec)} is empty: {lo:g} > {hi:g}")
        out[name] = (lo, hi)
    return out


def parse_assignments(text: str, option: str, *, names_required: bool = False) -> dict[str, float] | list[float]:
    """Parse ``x=1,y=2`` (or ``1,2`` / ``1``) as given to ``--x0`` or ``--param``; a value may be a constant
    expression (``a=sqrt(2)``), a tensor's a nested list of them.

    >>> parse_assignments("x=1, y=-2.5", "--x0")
    {'x': 1.0, 'y': -2.5}
    >>> parse_assignments("0.5", "--x0")
    [0.5]
    >>> parse_assignments("x=[[1,2],[3,4]],b=0", "--x0")
    {'x': [[1.0, 2.0], [3.0, 4.0]], 'b': 0.0}
    >>> parse_assignments("a=pi/2, b=1e-3*pi", "--x0")
    {'a': 1.5707963267948966, 'b': 0.0031415926535897933}
    """
    parts = [p.strip() for p in _top_level_split(text)]
    form = "a=2" if names_required else "x=1,y=2"
    if not text.strip() or any(not p for p in parts):
        raise OptionError(f"{option} {shown(text)} is empty or has an empty item; write it as {option} {form}")
    named = [p for p in parts if "=" in p]
    if names_required and len(named) != len(parts):
        raise OptionError(f"{option} {shown(text)}: expected name=value, e.g. {option} {form}")
    if named and len(named) != len(parts):
        raise OptionError(f"{option} {shown(text)} mixes name=value and bare values; use one form")
    if not named:
        return [_number(p, option) for p in parts]
    out: dict[str, float] = {}
    for p in parts:
        name, _, value = p.partition("=")
        name = name.strip()
        if not name.isidentifier():
            raise OptionError(f"{option} {shown(text)}: {shown(name)} is not a variable name; expected name=value, e.g. {option} {form}")
        if name in out:
            raise OptionError(f"{option} {shown(text)} gives {name} twice")
        value = value.strip()
        out[name] = _nested(value, option, name) if value.startswith("[") else _number(value, option, name)
    return out


def _top_level_split(text: str) -> list[str]:
    """Split on the commas outside brackets and parentheses: ``x=[1,2],b=atan2(1,2)`` is two items."""
    parts, depth, cur = [], 0, []
    for ch in text:
        depth += (ch in "[(") - (ch in "])")
        if ch == "," and depth == 0:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    parts.append("".join(cur))
    return parts


def _nested(text: str, option: str, name: str) -> Any:
    """A nested list of numbers, ``[[1,2],[pi,4]]``, for a shaped variable (never evaluated: read as JSON, or
    element by element as constant expressions by the formula parser)."""
    import json

    try:
        value = json.loads(text)
    except ValueError:
        from ..formula.constant import parse_constant

        value = parse_constant(text, f"{option} {name}", lists=True)

    def check(v: Any) -> Any:
        if isinstance(v, list) and v:
            return [check(item) for item in v]
        if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v):
            return float(v)
        raise OptionError(f"{option}: {shown(text)} for {name} must hold finite numbers only")

    return check(value)


def parse_inputs(vars_: str | None, params: Sequence[str], point: str | None,
                 option: str) -> tuple[Sequence[str] | None, dict[str, float], Any]:
    """The command line's ``--vars y,x``, ``--param a=2`` (repeated) and a point (``--x0``, ``--at``).

    Returns ``(variables, params, point)`` as the library takes them; a point
    of one bare number is that number.

    >>> parse_inputs("y, x", ["a=2", "b=3"], "0.5", "--x0")
    (['y', 'x'], {'a': 2.0, 'b': 3.0}, 0.5)
    """
    values: dict[str, float] = {}
    for p in params:
        values.update(parse_assignments(p, "--param", names_required=True))
    variables = [v.strip() for v in vars_.split(",")] if vars_ is not None else None
    where: Any = parse_assignments(point, option) if point is not None else None
    if isinstance(where, list) and len(where) == 1:
        where = where[0]
    return variables, values, where


def _number(text: str, option: str, name: str | None = None, *, constant: bool = True) -> float:
    """A number, or (``constant``) a constant expression such as ``-pi/2`` or ``sqrt(2)``: read by the formula
    parser, never evaluated as Python, and imported only then, so that plain numbers need no sympy."""
    try:
        value = float(text)
    except ValueError:
        if not constant:
            what = f" for {name}" if name else ""
            raise OptionError(f"{option}: {shown(text)}{what} is not a number") from None
        from ..formula.constant import parse_constant

        return float(parse_constant(text, f"{option} {name}" if name else option))
    if not math.isfinite(value):
        what = f" for {name}" if name else ""
        raise OptionError(f"{option}: {shown(text)}{what} must be a finite number, such as 1e300 or pi/2")
    return value


def parse_list(text: str, option: str, *, integer: bool = False) -> float | int | list[float] | list[int]:
    """Parse a number or a comma list of numbers (a sweep) as given to ``--lr`` or a method option.

    >>> parse_list("0.1", "--lr"), parse_list("0.1, 0.01", "--lr"), parse_list("5,10", "--history-size", integer=True)
    (0.1, [0.1, 0.01], [5, 10])
    """
    parts = [p.strip() for p in text.split(",")]
    if any(not p for p in parts):
        raise OptionError(f"{option} {shown(text)} has an empty item; write one number, or a comma list such as 0.1,0.01")
    values: list[Any] = []
    for p in parts:
        if integer:
            try:
                values.append(int(p))
            except ValueError:
                raise OptionError(f"{option}: {shown(p)} is not an integer") from None
        else:
            values.append(_number(p, option, constant=False))
    return values[0] if len(values) == 1 else values


def data_option(data: str | None, matrix: Sequence[str] | None, drop_missing: bool) -> Any:
    """``--data`` with its ``--matrix`` options: the path as it is, or the table read with its matrices named."""
    if not matrix:
        return data
    if data is None:
        raise OptionError("--matrix names columns of --data; give --data FILE too")
    from ..formula.data import read_table
    from ..formula.matrices import with_matrices

    return with_matrices(read_table(data, drop_missing=drop_missing), matrix)
