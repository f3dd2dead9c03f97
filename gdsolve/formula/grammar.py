"""What a formula may contain: the whitelist, the limits, and the checks made on the raw text.

:mod:`gdsolve.formula.parse` builds the sympy expression from Python's syntax tree;
this module holds what it checks against (documented in the README,
"Expressions"):

* :data:`FUNCTIONS` and :data:`CONSTANTS`, the only names with a meaning;
  every other name is a variable (``I``, ``S``, ``N``, ``beta`` included);
* the limits :data:`MAX_LENGTH`, :data:`MAX_DEPTH` and :data:`MAX_EXPONENT`;
* :func:`check_ascii`, :func:`parse_tree` and :func:`check_name`: plain ASCII
  only (with the ASCII to type for look-alikes pasted from documents),
  ``^`` read as power, names without double underscores.

>>> "sin" in FUNCTIONS, "gamma" in FUNCTIONS, sorted(CONSTANTS)
(True, False, ['E', 'pi'])
"""

from __future__ import annotations

import ast
import math
import re
import sys
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import sympy

from ..core.errors import ExpressionError, shown
from . import stable

MAX_LENGTH = 10_000
MAX_DEPTH = 100
MAX_EXPONENT = 1000.0

#: Named constants. Every other name is a variable: ``E`` is Euler's number,
#: but ``I``, ``S``, ``N``, ``beta`` and ``gamma`` are plain variables.
CONSTANTS: dict[str, float] = {"pi": math.pi, "E": math.e}


def num(value: float) -> Any:
    """A sympy Float printed with 17 digits, so lambdify reproduces the double exactly."""
    return sympy.Float(value, 17)


def log_base(x: Any, base: Any = None) -> Any:
    # log(x, b) is built as log(x)/log(b) with log(b) folded to a number when b
    # is constant, so lambdify never sees torch.log(<python int>).
    if base is None:
        return sympy.log(x)
    return sympy.log(x) / base


@dataclass(frozen=True)
class _Func:
    arity: tuple[int, int]  # (min, max) number of arguments; max -1 = unbounded
    sym: Callable[..., Any]  # builds the sympy node
    num: Callable[..., float]  # evaluates constant arguments in floating point
    #: builds the exact node (:func:`gdsolve.formula.parse.exact_expression`) where it differs from ``sym``,
    #: which folds a constant such as log(2) to a float for torch
    exact: Callable[..., Any] | None = None


def _nary(fn: Callable[[float, float], float]) -> Callable[..., float]:
    def apply(*args: float) -> float:
        out = args[0]
        for a in args[1:]:
            out = fn(out, a)
        return out

    return apply


#: The function whitelist: name -> (arity, sympy builder, float evaluator).
FUNCTIONS: dict[str, _Func] = {
    "sin": _Func((1, 1), sympy.sin, math.sin),
    "cos": _Func((1, 1), sympy.cos, math.cos),
    "tan": _Func((1, 1), sympy.tan, math.tan),
    "asin": _Func((1, 1), sympy.asin, math.asin),
    "acos": _Func((1, 1), sympy.acos, math.acos),
    "atan": _Func((1, 1), sympy.atan, math.atan),
    "atan2": _Func((2, 2), sympy.atan2, math.atan2),
    "sinh": _Func((1, 1), sympy.sinh, math.sinh),
    "cosh": _Func((1, 1), sympy.cosh, math.cosh),
    "tanh": _Func((1, 1), sympy.tanh, math.tanh),
    "asinh": _Func((1, 1), sympy.asinh, math.asinh),
    "acosh": _Func((1, 1), sympy.acosh, math.acosh),
    "atanh": _Func((1, 1), sympy.atanh, math.atanh),
    "exp": _Func((1, 1), sympy.exp, math.exp),
    "log": _Func((1, 2), log_base, lambda x, b=None: math.log(x) if b is None else math.log(x, b),
                 lambda x, b=None: sympy.log(x) if b is None else sympy.log(x) / sympy.log(b)),
    "ln": _Func((1, 1), sympy.log, math.log),
    "log2": _Func((1, 1), lambda x: sympy.log(x) / num(math.log(2)), math.log2, lambda x: sympy.log(x) / sympy.log(2)),
    "log10": _Func((1, 1), lambda x: sympy.log(x) / num(math.log(10)), math.log10,
                   lambda x: sympy.log(x) / sympy.log(10)),
    "sqrt": _Func((1, 1), sympy.sqrt, math.sqrt),
    "abs": _Func((1, 1), sympy.Abs, abs),
    "sign": _Func((1, 1), sympy.sign, lambda x: float((x > 0) - (x < 0))),
    "erf": _Func((1, 1), sympy.erf, math.erf),
    "min": _Func((2, -1), sympy.Min, _nary(min)),
    "max": _Func((2, -1), sympy.Max, _nary(max)),
}

#: Reductions over a shaped variable or data column (:mod:`gdsolve.core.shapes`): every dim but the batch.
#: sympy cannot follow them, so they stay undefined functions for it; on a plain number they are the number
#: (``norm``: its absolute value), which :func:`scalar_reductions` writes out for symbolic work.
REDUCTIONS = ("sum", "mean", "prod", "norm", "dot", "logsumexp")
_SUM, _MEAN, _PROD, _NORM = (sympy.Function(n) for n in ("sum", "mean", "prod", "norm"))
FUNCTIONS.update({
    "sum": _Func((1, 1), _SUM, lambda v: v),
    "mean": _Func((1, 1), _MEAN, lambda v: v),
    "prod": _Func((1, 1), _PROD, lambda v: v),
    "norm": _Func((1, 1), _NORM, abs),
    "dot": _Func((2, 2), lambda a, b: _SUM(a * b), lambda a, b: a * b),
})


#: ``X @ v``: a data matrix (rows x k) times a k-vector per start (:mod:`gdsolve.formula.matrices`), one
#: value per data row; an undefined function for sympy, torch's matmul for the compiled formula.
MATMUL = sympy.Function("matmul")


def _polygamma(n: Any, x: Any) -> Any:
    if not (n.is_Integer and 0 <= n <= stable.MAX_POLYGAMMA_ORDER):
        raise ExpressionError(f"polygamma(n, x) takes a whole number n from 0 to {stable.MAX_POLYGAMMA_ORDER} "
                              f"(0 is digamma), got n = {n}")
    return stable.polygamma(n, x)


#: The numerically stable functions (:mod:`gdsolve.formula.stable`), with their arities; each is lambdified to
#: its torch kernel. ``logsumexp`` of one argument is a reduction (above); of several, their log-sum-exp.
STABLE = {"log1p": (1, 1), "expm1": (1, 1), "erfc": (1, 1), "sigmoid": (1, 1), "softplus": (1, 1),
          "logsigmoid": (1, 1), "logsumexp": (1, -1), "xlogy": (2, 2), "normcdf": (1, 1), "lognormcdf": (1, 1),
          "lgamma": (1, 1), "digamma": (1, 1), "polygamma": (2, 2)}
FUNCTIONS.update({name: _Func(arity, _polygamma if name == "polygamma" else stable.SYMPY[name], stable.FLOAT[name])
                  for name, arity in STABLE.items()})


def scalar_reductions(expr: Any) -> Any:
    """``expr`` with each reduction of a scalar written out: ``sum(e)`` is ``e``, ``norm(e)`` is ``Abs(e)``."""
    return expr.replace(lambda e: isinstance(e, sympy.Function) and getattr(e.func, "__name__", "") in REDUCTIONS
                        and len(e.args) == 1,
                        lambda e: sympy.Abs(e.args[0]) if e.func.__name__ == "norm" else e.args[0])


# Friendly words for every construct we refuse, keyed by AST node class name.
REFUSED = {
    "Attribute": "attribute access (a.b)",
    "Subscript": "subscripts (a[i])",
    "Lambda": "lambda functions",
    "ListComp": "comprehensions",
    "SetComp": "comprehensions",
    "DictComp": "comprehensions",
    "GeneratorExp": "generator expressions",
    "Compare": "comparisons (<, ==, ...)",
    "BoolOp": "'and' / 'or'",
    "IfExp": "conditional expressions (a if c else b)",
    "List": "lists",
    "Tuple": "tuples",
    "Dict": "dicts",
    "Set": "sets",
    "Starred": "starred arguments (*a)",
    "NamedExpr": "assignment expressions (:=)",
    "JoinedStr": "f-strings",
    "Await": "await",
    "Yield": "yield",
    "YieldFrom": "yield",
    "Slice": "slices",
    "Mod": "the % operator",
    "FloorDiv": "the // operator",
    "BitAnd": "the & operator",
    "BitOr": "the | operator",
    "LShift": "the << operator",
    "RShift": "the >> operator",
    "Invert": "the ~ operator",
    "Not": "'not'",
}

NAME_RE = re.compile(r"[A-Za-z][A-Za-z0-9_]*\Z")
IMPLICIT_MUL = re.compile(r"(\d)\s*([A-Za-z(])|(\))\s*([A-Za-z0-9(])")


#: Look-alikes people paste from documents, and what to type instead.
_MUL, _MINUS = "write multiplication as *, e.g. x*y", "type '-' instead"
_LOOKALIKES = {
    "\u2212": _MINUS, "\u2013": _MINUS, "\u2014": _MINUS, "\u00b7": _MUL, "\u22c5": _MUL, "\u00d7": _MUL,
    "\u2217": _MUL, "\u00f7": "type '/' instead", "\u2215": "type '/' instead", "\u03c0": "type 'pi' instead",
    "\u221a": "write sqrt(...)", "\u00a0": "type a plain space instead",
}
_SUPERSCRIPTS = dict(zip("\u2070\u00b9\u00b2\u00b3\u2074\u2075\u2076\u2077\u2078\u2079", "0123456789"))


def check_ascii(text: str) -> None:
    """Refuse any character that is not ASCII, with the ASCII to write instead.

    Python would accept some of them silently (it folds the full-width ``ｘ``
    into ``x``), so the check comes before the parser sees the text.
    """
    for i, ch in enumerate(text):
        if 32 <= ord(ch) < 127 or ch in "\t\n\r":
            continue
        if ord(ch) < 32 or ord(ch) == 127:
            what = "a NUL character" if ch == "\x00" else f"a control character (U+{ord(ch):04X})"
            raise ExpressionError(f"the expression contains {what} at character {i + 1}; remove it", text, i)
        name = unicodedata.name(ch, "unnamed")
        if ch in _SUPERSCRIPTS:
            hint = f"write a power with ** or ^, e.g. x**{_SUPERSCRIPTS[ch]}"
        elif ch in _LOOKALIKES:
            hint = _LOOKALIKES[ch]
        else:
            folded = unicodedata.normalize("NFKC", ch)
            hint = f"type {shown(folded)} instead" if folded.isascii() and folded.isprintable() else "formulas are plain ASCII"
        raise ExpressionError(f"character {i + 1}, {shown(ch)} (U+{ord(ch):04X} {name}), is not ASCII; {hint}", text, i)


def parse_tree(text: str) -> ast.Expression:
    # Calculator habit: ^ is power. It must be rewritten before parsing, since
    # Python's ^ binds looser than + (x^2+1 would mean x^(2+1)).
    src = text.replace("^", "**")
    # CPython builds the AST recursively: a flat 5,000-term sum (well within
    # MAX_LENGTH) needs more than the default recursion limit. Depth proper is
    # checked afterwards, against MAX_DEPTH.
    limit = sys.getrecursionlimit()
    try:
        sys.setrecursionlimit(max(limit, 4 * MAX_LENGTH))
        return ast.parse(src, mode="eval")
    except SyntaxError as exc:
        at = _syntax_index(src, exc)
        offset = original_offset(text, at)
        where = "at the end of the formula" if at >= len(src.rstrip()) else f"at character {offset + 1}"
        hint = ""
        m = IMPLICIT_MUL.search(text)
        if m:
            a, b = (m.group(1), m.group(2)) if m.group(1) else (m.group(3), m.group(4))
            hint = f"; write multiplication explicitly ({a}*{b}, not {a}{b})"
        detail = exc.msg
        if detail.startswith("invalid syntax"):
            detail = "invalid syntax"
        elif "Exceeds the limit" in detail:
            detail, hint = "a number has too many digits", ""
        raise ExpressionError(f"syntax error {where}: {detail}{hint}", text, offset) from None
    except (RecursionError, MemoryError):
        raise ExpressionError(
            f"the expression is nested too deeply; the limit is {MAX_DEPTH} levels"
        ) from None
    except ValueError as exc:  # e.g. an integer literal with thousands of digits
        raise ExpressionError(f"the expression cannot be read: {exc}") from None
    finally:
        sys.setrecursionlimit(limit)


def _syntax_index(src: str, exc: SyntaxError) -> int:
    """Where in ``src`` a SyntaxError points, as an index into the whole text.

    Python reports a line and a 1-based column; a formula typed over several
    lines needs both. When the input ends too early ("x +"), CPython 3.10 and
    3.11 give column 0 and later versions a column past the end: both mean the
    end of the text.
    """
    if not exc.offset:
        return len(src)
    lines = src.split("\n")
    line = min(max(exc.lineno or 1, 1), len(lines))
    return sum(len(s) + 1 for s in lines[:line - 1]) + exc.offset - 1


def original_offset(text: str, offset: int) -> int:
    """Map an offset in the ``^``-rewritten text back to the user's text."""
    pos = 0
    shifted = 0
    for ch in text:
        step = 2 if ch == "^" else 1
        if shifted + step > offset:
            break
        shifted += step
        pos += 1
    return min(pos, max(len(text) - 1, 0))


def check_name(name: str, text: str, *, what: str = "name") -> None:
    if "__" in name:
        raise ExpressionError(f"{what} {shown(name)} is not allowed: names with double underscores are refused")
    if not NAME_RE.match(name):
        raise ExpressionError(
            f"{what} {shown(name)} is not allowed: names start with an ASCII letter and use only "
            "letters, digits and _"
        )
    if name in FUNCTIONS:
        raise ExpressionError(f"{shown(name)} is a function; call it as {name}(...) or pick another {what} name")
    if name in CONSTANTS:
        raise ExpressionError(f"{shown(name)} is a built-in constant; pick another {what} name")
