"""Turn formula text into a sympy expression without ever executing it.

``sympy.sympify`` and ``parse_expr`` call ``eval`` on their input, so a script
that passes ``__import__('os').system(...)`` as a formula would run it. We never
hand user text to them. Instead the text is parsed by Python's :mod:`ast` (which
only builds a tree), every node is checked against a whitelist, and the sympy
expression is built from the checked tree by this module itself.

Limits (all documented in the README):

* at most :data:`MAX_LENGTH` characters and :data:`MAX_DEPTH` levels of nesting
  (a flat chain ``a + b - c`` or ``a * b / c`` counts as one level);
* constant parts are computed in floating point as they are built: an overflow,
  a non-real value or a constant exponent with ``|p| >`` :data:`MAX_EXPONENT` is
  refused before anything large is attempted (so ``9**9**9**9`` fails at once).

Example:
    >>> p = parse_expression("(1-x)^2 + 100*(y - x**2)**2")
    >>> p.variables
    ('x', 'y')
    >>> parse_expression("a*x**2", params={"a": 2.0}).variables
    ('x',)
"""

from __future__ import annotations

import ast
import difflib
import math
import re
import sys
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sympy

from .errors import ExpressionError

MAX_LENGTH = 10_000
MAX_DEPTH = 100
MAX_EXPONENT = 1000.0

#: Named constants. Every other name is a variable: ``E`` is Euler's number,
#: but ``I``, ``S``, ``N``, ``beta`` and ``gamma`` are plain variables.
CONSTANTS: dict[str, float] = {"pi": math.pi, "E": math.e}


def _num(value: float) -> Any:
    """A sympy Float printed with 17 digits, so lambdify reproduces the double exactly."""
    return sympy.Float(value, 17)


def _log_base(x: Any, base: Any = None) -> Any:
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
    "log": _Func((1, 2), _log_base, lambda x, b=None: math.log(x) if b is None else math.log(x, b)),
    "ln": _Func((1, 1), sympy.log, math.log),
    "log2": _Func((1, 1), lambda x: sympy.log(x) / _num(math.log(2)), math.log2),
    "log10": _Func((1, 1), lambda x: sympy.log(x) / _num(math.log(10)), math.log10),
    "sqrt": _Func((1, 1), sympy.sqrt, math.sqrt),
    "abs": _Func((1, 1), sympy.Abs, abs),
    "sign": _Func((1, 1), sympy.sign, lambda x: float((x > 0) - (x < 0))),
    "erf": _Func((1, 1), sympy.erf, math.erf),
    "min": _Func((2, -1), sympy.Min, _nary(min)),
    "max": _Func((2, -1), sympy.Max, _nary(max)),
}

# Friendly words for every construct we refuse, keyed by AST node class name.
_REFUSED = {
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
    "MatMult": "the @ operator",
    "BitAnd": "the & operator",
    "BitOr": "the | operator",
    "LShift": "the << operator",
    "RShift": "the >> operator",
    "Invert": "the ~ operator",
    "Not": "'not'",
}

_NAME_RE = re.compile(r"[A-Za-z][A-Za-z0-9_]*\Z")
_IMPLICIT_MUL = re.compile(r"(\d)\s*([A-Za-z(])|(\))\s*([A-Za-z0-9(])")


@dataclass(frozen=True)
class ParsedExpression:
    """A validated expression, ready to be compiled to torch.

    Attributes:
        text: the formula as the user wrote it (stripped).
        expr: the sympy expression; constant parts are already floats.
        variables: the free variables, in natural order (x1, x2, x10) or
            the order the caller fixed with ``variables=``.
        symbols: the sympy symbols for ``variables``, same order.
        params: constants substituted by name (``--param a=2``).
    """

    text: str
    expr: sympy.Expr
    variables: tuple[str, ...]
    symbols: tuple[sympy.Symbol, ...]
    params: Mapping[str, float]


def natural_key(name: str) -> tuple[Any, ...]:
    """Sort key that orders x2 before x10.

    >>> sorted(["x10", "x2", "x1", "y"], key=natural_key)
    ['x1', 'x2', 'x10', 'y']
    """
    return tuple(int(p) if p.isdigit() else p for p in re.split(r"(\d+)", name))


def parse_expression(
    text: str,
    *,
    params: Mapping[str, float] | None = None,
    variables: Sequence[str] | None = None,
) -> ParsedExpression:
    """Validate ``text`` and build its sympy expression. Nothing is executed.

    Args:
        text: a formula in sympy/Python syntax; ``^`` also means power.
        params: names to replace by constants (``{"a": 2.0}``).
        variables: the variable order to use; must list exactly the
            expression's variables. Default: natural order of the names found.

    Raises:
        ExpressionError: for anything malformed, unsafe, unsupported or too big;
            the message names the problem and the fix.
    """
    if not isinstance(text, str):
        raise ExpressionError(f"the expression must be text, not {type(text).__name__}")
    stripped = text.strip()
    if not stripped:
        raise ExpressionError('the expression is empty; give a formula such as "(x-4)**2"')
    if len(stripped) > MAX_LENGTH:
        raise ExpressionError(
            f"the expression is {len(stripped):,} characters long; the limit is {MAX_LENGTH:,}"
        )
    _check_ascii(stripped)
    params = dict(params or {})
    for name, value in params.items():
        if not isinstance(name, str):
            raise ExpressionError(f"parameter names must be text, not {type(name).__name__}")
        _check_name(name, stripped, what="parameter")
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ExpressionError(f"parameter {name} = {value!r} is not a finite number")

    tree = _parse_ast(stripped)
    builder = _Builder(stripped, params)
    expr = builder.build(tree.body, depth=1)
    unused = set(params) - builder.params_used
    if unused:
        raise ExpressionError(
            f"parameter {', '.join(sorted(unused))} does not appear in the expression; "
            "remove it or check its spelling"
        )
    if not builder.names:
        raise ExpressionError(
            f"the expression {stripped!r} has no variables; nothing to minimize "
            "(write a formula in x, for example)"
        )
    sym_expr = expr.sym
    if not sym_expr.free_symbols:
        raise ExpressionError(
            f"the expression does not depend on its variables (it simplifies to {sym_expr}); "
            "nothing to minimize"
        )
    found = sorted(builder.names, key=natural_key)
    if variables is not None:
        order = tuple(variables)
        if not all(isinstance(v, str) for v in order):
            raise ExpressionError("{variables} must be a sequence of names")
        if sorted(order, key=natural_key) != found or len(set(order)) != len(order):
            raise ExpressionError(
                f"{{variables}} lists {', '.join(map(str, order)) or 'nothing'} but the expression's variables are "
                f"{', '.join(found)}; list each of them exactly once"
            )
        found = list(order)
    symbols = tuple(sympy.Symbol(n) for n in found)
    return ParsedExpression(stripped, _numify(sym_expr), tuple(found), symbols, params)


#: Look-alikes people paste from documents, and what to type instead.
_MUL, _MINUS = "write multiplication as *, e.g. x*y", "type '-' instead"
_LOOKALIKES = {
    "\u2212": _MINUS, "\u2013": _MINUS, "\u2014": _MINUS, "\u00b7": _MUL, "\u22c5": _MUL, "\u00d7": _MUL,
    "\u2217": _MUL, "\u00f7": "type '/' instead", "\u2215": "type '/' instead", "\u03c0": "type 'pi' instead",
    "\u221a": "write sqrt(...)", "\u00a0": "type a plain space instead",
}
_SUPERSCRIPTS = dict(zip("\u2070\u00b9\u00b2\u00b3\u2074\u2075\u2076\u2077\u2078\u2079", "0123456789"))


def _check_ascii(text: str) -> None:
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
            hint = f"type {folded!r} instead" if folded.isascii() and folded.isprintable() else "formulas are plain ASCII"
        raise ExpressionError(f"character {i + 1}, {ch!r} (U+{ord(ch):04X} {name}), is not ASCII; {hint}", text, i)


def _parse_ast(text: str) -> ast.Expression:
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
        offset = _original_offset(text, (exc.offset or 1) - 1)
        hint = ""
        m = _IMPLICIT_MUL.search(text)
        if m:
            a, b = (m.group(1), m.group(2)) if m.group(1) else (m.group(3), m.group(4))
            hint = f"; write multiplication explicitly ({a}*{b}, not {a}{b})"
        detail = exc.msg
        if detail.startswith("invalid syntax"):
            detail = "invalid syntax"
        elif "Exceeds the limit" in detail:
            detail, hint = "a number has too many digits", ""
        raise ExpressionError(f"syntax error at character {offset + 1}: {detail}{hint}", text, offset) from None
    except (RecursionError, MemoryError):
        raise ExpressionError(
            f"the expression is nested too deeply; the limit is {MAX_DEPTH} levels"
        ) from None
    except ValueError as exc:  # e.g. an integer literal with thousands of digits
        raise ExpressionError(f"the expression cannot be read: {exc}") from None
    finally:
        sys.setrecursionlimit(limit)


def _original_offset(text: str, offset: int) -> int:
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


def _check_name(name: str, text: str, *, what: str = "name") -> None:
    if "__" in name:
        raise ExpressionError(f"{what} {name!r} is not allowed: names with double underscores are refused")
    if not _NAME_RE.match(name):
        raise ExpressionError(
            f"{what} {name!r} is not allowed: names start with an ASCII letter and use only "
            "letters, digits and _"
        )
    if name in FUNCTIONS:
        raise ExpressionError(f"{name!r} is a function; call it as {name}(...) or pick another {what} name")
    if name in CONSTANTS:
        raise ExpressionError(f"{name!r} is a built-in constant; pick another {what} name")


@dataclass(frozen=True)
class _Node:
    sym: Any  # sympy expression
    value: float | None  # float value when the node is constant


class _Builder:
    """Builds sympy from a checked AST, folding constants in floating point."""

    def __init__(self, text: str, params: Mapping[str, float]) -> None:
        self.text = text
        self.params = params
        self.names: set[str] = set()
        self.params_used: set[str] = set()

    def fail(self, node: ast.AST, message: str) -> ExpressionError:
        col = getattr(node, "col_offset", None)
        offset = None if col is None else _original_offset(self.text, col)
        where = "" if offset is None else f" (at character {offset + 1})"
        return ExpressionError(message + where, self.text, offset)

    def build(self, node: ast.AST, depth: int) -> _Node:
        if depth > MAX_DEPTH:
            raise self.fail(node, f"the expression is nested more than {MAX_DEPTH} levels deep")
        kind = type(node).__name__
        if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Sub, ast.Mult, ast.Div)):
            return self._chain(node, depth)
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Pow):
            return self._pow(node, depth)
        if isinstance(node, ast.BinOp):
            op = type(node.op).__name__
            raise self.fail(node, f"{_REFUSED.get(op, op)} is not supported; use + - * / ** ^ and functions")
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
            inner = self.build(node.operand, depth + 1)
            if isinstance(node.op, ast.UAdd):
                return inner
            return self._const_or(-inner.sym, None if inner.value is None else -inner.value, node)
        if isinstance(node, ast.UnaryOp):
            op = type(node.op).__name__
            raise self.fail(node, f"{_REFUSED.get(op, op)} is not supported")
        if isinstance(node, ast.Constant):
            return self._constant(node)
        if isinstance(node, ast.Name):
            return self._name(node)
        if isinstance(node, ast.Call):
            return self._call(node, depth)
        raise self.fail(node, f"not allowed in an expression: {_REFUSED.get(kind, kind)}")

    def _const_or(self, sym: Any, value: float | None, node: ast.AST) -> _Node:
        if value is None:
            return _Node(sym, None)
        if isinstance(value, complex) or not math.isfinite(value):
            raise self.fail(node, "a constant part of the expression overflows or is not a real number")
        if value == int(value) and abs(value) < 2**53:
            return _Node(sympy.Integer(int(value)), value)
        return _Node(_num(value), value)

    def _chain(self, node: ast.BinOp, depth: int) -> _Node:
        # Walk a left-nested chain (a + b - c + ...) iteratively: a 3,000-term
        # sum must not recurse 3,000 levels, and it counts as one level.
        additive = isinstance(node.op, (ast.Add, ast.Sub))
        ops = (ast.Add, ast.Sub) if additive else (ast.Mult, ast.Div)
        parts: list[tuple[type, ast.AST]] = []
        cur: ast.AST = node
        while isinstance(cur, ast.BinOp) and isinstance(cur.op, ops):
            parts.append((type(cur.op), cur.right))
            cur = cur.left
        parts.reverse()
        first = self.build(cur, depth + 1)
        sym_terms = [first.sym]
        value = first.value
        for op, operand in parts:
            term = self.build(operand, depth + 1)
            if op is ast.Sub:
                sym_terms.append(-term.sym)
            elif op is ast.Div:
                if term.value == 0:
                    raise self.fail(operand, "division by zero in a constant part of the expression")
                sym_terms.append(1 / term.sym if term.value is None else _num(1 / term.value))
            else:
                sym_terms.append(term.sym)
            if value is not None and term.value is not None:
                value = {ast.Add: value + term.value, ast.Sub: value - term.value,
                         ast.Mult: value * term.value, ast.Div: value / term.value}[op]
            else:
                value = None
        if value is not None:
            return self._const_or(None, value, node)
        sym = sympy.Add(*sym_terms) if additive else sympy.Mul(*sym_terms)
        return _Node(sym, None)

    def _pow(self, node: ast.BinOp, depth: int) -> _Node:
        base = self.build(node.left, depth + 1)
        exp = self.build(node.right, depth + 1)
        if exp.value is not None and abs(exp.value) > MAX_EXPONENT:
            raise self.fail(
                node, f"the constant exponent {exp.value:.6g} is beyond the limit of {MAX_EXPONENT:g}"
            )
        if base.value is not None and exp.value is not None:
            try:
                value = base.value**exp.value
            except (OverflowError, ZeroDivisionError):
                raise self.fail(node, "a constant power overflows or divides by zero") from None
            return self._const_or(None, value, node)
        return _Node(sympy.Pow(base.sym, exp.sym), None)

    def _constant(self, node: ast.Constant) -> _Node:
        value = node.value
        if isinstance(value, bool) or value is None or value is Ellipsis:
            raise self.fail(node, f"{value!r} is not a number")
        if isinstance(value, str):
            raise self.fail(node, "strings are not allowed in an expression")
        if isinstance(value, bytes):
            raise self.fail(node, "bytes are not allowed in an expression")
        if isinstance(value, complex):
            raise self.fail(node, "complex numbers are not supported; gdsolve works over the reals")
        if isinstance(value, int):
            try:
                as_float = float(value)
            except OverflowError:
                raise self.fail(node, "a number in the expression is too large") from None
            return self._const_or(None, as_float, node)
        if isinstance(value, float):
            if not math.isfinite(value):
                raise self.fail(node, "a number in the expression is too large (it overflows a float)")
            return self._const_or(None, value, node)
        raise self.fail(node, f"{type(value).__name__} constants are not allowed")

    def _name(self, node: ast.Name) -> _Node:
        name = node.id
        if name in CONSTANTS:
            return _Node(_num(CONSTANTS[name]), CONSTANTS[name])
        if name in self.params:
            self.params_used.add(name)
            return self._const_or(None, float(self.params[name]), node)
        if name in FUNCTIONS:
            raise self.fail(node, f"{name!r} is a function; call it with an argument, as {name}(x)")
        try:
            _check_name(name, self.text, what="variable")
        except ExpressionError as exc:
            raise self.fail(node, str(exc)) from None
        self.names.add(name)
        return _Node(sympy.Symbol(name), None)

    def _call(self, node: ast.Call, depth: int) -> _Node:
        if not isinstance(node.func, ast.Name):
            kind = type(node.func).__name__
            raise self.fail(
                node, f"not allowed in an expression: {_REFUSED.get(kind, 'this kind of call')}; call a function by name, as sin(x)"
            )
        name = node.func.id
        if "__" in name:
            raise self.fail(node, f"name {name!r} is not allowed: names with double underscores are refused")
        spec = FUNCTIONS.get(name)
        if spec is None:
            close = difflib.get_close_matches(name, FUNCTIONS, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else f"; known functions: {', '.join(FUNCTIONS)}"
            raise self.fail(node, f"unknown function {name!r}{hint}")
        if node.keywords:
            raise self.fail(node, f"{name}() takes no keyword arguments")
        lo, hi = spec.arity
        n = len(node.args)
        if n < lo or (hi >= 0 and n > hi):
            want = f"{lo}" if lo == hi else (f"at least {lo}" if hi < 0 else f"{lo} or {hi}")
            raise self.fail(node, f"{name}() takes {want} argument{'s' if want != '1' else ''}, got {n}")
        args = [self.build(a, depth + 1) for a in node.args]
        if all(a.value is not None for a in args):
            try:
                value = spec.num(*[a.value for a in args])
            except (ValueError, OverflowError, ZeroDivisionError):
                raise self.fail(node, f"{name}() of a constant is undefined or overflows here") from None
            return self._const_or(None, value, node)
        if name == "log" and n == 2:
            b = args[1]
            if b.value is not None and (b.value <= 0 or b.value == 1):
                raise self.fail(node, f"log base {b.value:g} is invalid; use a positive base other than 1")
            base = _num(math.log(b.value)) if b.value is not None else sympy.log(b.sym)
            return _Node(_log_base(args[0].sym, base), None)
        return _Node(spec.sym(*[a.sym for a in args]), None)


def _numify(expr: Any) -> Any:
    """Replace every constant sub-expression by a float.

    sympy's automatic evaluation can create exact constants such as
    ``sqrt(2)`` (from ``sqrt(2*x**2)``); lambdify would print them as
    ``torch.sqrt(2)``, which torch refuses, so they become numbers here.
    """
    if expr.is_Number or expr.is_Symbol:
        return expr
    if not expr.free_symbols:
        value = complex(expr.evalf(17))
        if value.imag != 0 or not math.isfinite(value.real):
            raise ExpressionError(f"the constant {expr} is not a finite real number")
        return _num(value.real)
    return expr.func(*[_numify(a) for a in expr.args])
