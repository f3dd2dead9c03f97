"""Constant expressions typed as option values: ``--x0 a=sqrt(2)``, ``--bounds shift=-pi/2:pi/2``.

An option's value goes through the formula parser (:mod:`gdsolve.formula.parse`), never through
``eval``: the same whitelist, limits and constant folding as a formula, and the same functions and
constants (``pi``, ``E``, ``sqrt``, ``log``...). A value that names a variable, or is not a finite
real number, is refused with a message that names the option, the text and the fix.

>>> parse_constant("-pi/2", "--bounds shift")
-1.5707963267948966
>>> parse_constant("[[1, 2], [sqrt(4), 1e-3*pi]]", "--x0 x", lists=True)
[[1.0, 2.0], [2.0, 0.0031415926535897933]]
"""

from __future__ import annotations

import ast
import math
from typing import Any

from ..core.errors import ExpressionError, OptionError, shown
from .grammar import MAX_LENGTH, check_ascii, parse_tree
from .parse import ParsedExpression, exact_expression, natural_key

#: What the messages suggest instead.
FIX = "write a number or a constant expression such as pi/2, sqrt(2) or 1e-3*pi"


def parse_constant(text: str, what: str, *, lists: bool = False) -> Any:
    """``text``, a number or a constant expression, as a float (correctly rounded from the exact value).

    With ``lists=True``, also a nested list of them (``[[1, 2], [pi, 4]]``, a tensor variable's value),
    as nested lists of floats. ``what`` names the option, and the variable, in messages (``--x0 a``).

    Raises:
        OptionError: text that is not a finite constant (a variable named in it, a syntax error, an
            overflow, ``inf``), naming ``what``, the text and the fix.
    """
    if not isinstance(text, str) or not text.strip():
        raise OptionError(f"{what} is empty; {FIX}")
    stripped = text.strip()
    if len(stripped) > MAX_LENGTH:
        raise OptionError(f"{what} is {len(stripped):,} characters long; the limit is {MAX_LENGTH:,}")
    try:
        check_ascii(stripped)
        tree = parse_tree(stripped).body
    except ExpressionError as exc:
        raise OptionError(f"{what}: {shown(stripped)}: {exc}") from None

    def value(node: ast.AST) -> Any:
        if lists and isinstance(node, ast.List):
            if not node.elts:
                raise OptionError(f"{what}: {shown(stripped)} has an empty list; {FIX} for each element")
            return [value(e) for e in node.elts]
        part = ast.get_source_segment(stripped.replace("^", "**"), node) or ""
        return _number(part, stripped, what)

    return value(tree)


def _number(part: str, text: str, what: str) -> float:
    """One constant expression (``part`` of the option's ``text``) as a float."""
    try:
        # exact_expression builds the checked tree with constants exact (and their float values alongside, so an
        # overflow is refused as in a formula); the ParsedExpression holds only what it reads.
        expr = exact_expression(ParsedExpression(part, None, (), (), {}))  # type: ignore[arg-type]
    except ExpressionError as exc:
        raise OptionError(f"{what}: {shown(text)} cannot be evaluated: {exc}; {FIX}") from None
    names = sorted((str(s) for s in expr.free_symbols), key=natural_key)
    if set(names) & {"inf", "infinity", "nan"}:
        raise OptionError(f"{what}: {shown(text)} is not a finite number; {FIX}")
    if names:
        raise OptionError(f"{what}: {shown(text)} names {', '.join(names)}, but a value here cannot depend "
                          f"on a variable; {FIX}")
    result = complex(expr.evalf(17))
    if result.imag != 0 or not math.isfinite(result.real):
        raise OptionError(f"{what}: {shown(text)} is not a finite real number; {FIX}")
    return float(result.real)
