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
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sympy

from ..core.errors import ExpressionError, shown
from ..core.settings import finite_real
from .grammar import (
    CONSTANTS,
    FUNCTIONS,
    MAX_DEPTH,
    MAX_EXPONENT,
    MAX_LENGTH,
    REFUSED,
    check_ascii,
    check_name,
    log_base,
    num,
    original_offset,
    parse_tree,
    scalar_reductions,
)

__all__ = ["MAX_DEPTH", "MAX_LENGTH", "ParsedExpression", "exact_expression", "natural_key", "parse_data_expression",
           "parse_expression"]


@dataclass(frozen=True)
class ParsedExpression:
    """A validated expression, ready to be compiled to torch.

    Attributes:
        text: the formula as the user wrote it (stripped).
        expr: the sympy expression; constant parts are already floats.
            Its symbols are real (gdsolve works over the reals), so sympy
            never rewrites ``abs`` or ``sqrt(x**2)`` through ``re``/``im``,
            which torch cannot evaluate on real tensors.
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
    #: the data columns the formula reads (``--data``), natural order; their
    #: symbols are ``sympy.Symbol(name, real=True)``, bound to vectors at run time
    data: tuple[str, ...] = ()


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
    data: Collection[str] = (),
) -> ParsedExpression:
    """Validate ``text`` and build its sympy expression. Nothing is executed.

    Args:
        text: a formula in sympy/Python syntax; ``^`` also means power.
        params: names to replace by constants (``{"a": 2.0}``).
        variables: the variable order to use; must list exactly the
            expression's variables. Default: natural order of the names found.
        data: names that are data columns, not variables (a column name wins
            over a parameter or constant of the same name).

    Raises:
        ExpressionError: for anything malformed, unsafe, unsupported or too big;
            the message names the problem and the fix.
    """
    stripped = _checked_text(text, "the expression", 'give a formula such as "(x-4)**2"')
    if params is not None and not isinstance(params, Mapping):
        raise ExpressionError(f"{{params}} must be a mapping of names to numbers such as {{'a': 2.0}}, "
                              f"not {type(params).__name__}")
    params = dict(params or {})
    for name, value in params.items():
        if not isinstance(name, str):
            raise ExpressionError(f"parameter names must be text, not {type(name).__name__}")
        check_name(name, stripped, what="parameter")
        if not finite_real(value):
            raise ExpressionError(f"parameter {name} = {shown(value)} is not a finite number")

    builder = _Builder(stripped, params, data=data)
    expr = builder.build(parse_tree(stripped).body, depth=1)
    unused = set(params) - builder.params_used
    if unused:
        raise ExpressionError(
            f"parameter {', '.join(sorted(unused))} does not appear in the expression; "
            "remove it or check its spelling"
        )
    if not builder.names:
        raise ExpressionError(
            f"the expression {shown(stripped)} has no variables; nothing to minimize "
            "(write a formula in x, for example)"
        )
    sym_expr = expr.sym
    if not sym_expr.free_symbols - {sympy.Symbol(n, real=True) for n in builder.data_used}:
        raise ExpressionError(
            f"the expression does not depend on its variables (it simplifies to {sym_expr}); "
            "nothing to minimize"
        )
    found = sorted(builder.names, key=natural_key)
    if variables is not None:
        if isinstance(variables, (str, bytes)) or not isinstance(variables, Sequence):
            raise ExpressionError(f"{{variables}} must be a sequence of names such as ['x', 'y'], "
                                  f"not {type(variables).__name__}")
        order = tuple(variables)
        if not all(isinstance(v, str) for v in order):
            raise ExpressionError("{variables} must be a sequence of names")
        if sorted(order, key=natural_key) != found or len(set(order)) != len(order):
            raise ExpressionError(
                f"{{variables}} lists {', '.join(map(str, order)) or 'nothing'} but the expression's variables are "
                f"{', '.join(found)}; list each of them exactly once"
            )
        found = list(order)
    symbols = tuple(sympy.Symbol(n, real=True) for n in found)
    used = tuple(sorted(builder.data_used, key=natural_key))
    return ParsedExpression(stripped, _numify(sym_expr), tuple(found), symbols, params, used)


def _checked_text(text: Any, what: str, example: str) -> str:
    """The text stripped, once it is known to be text, not empty, within :data:`MAX_LENGTH` and plain ASCII."""
    if not isinstance(text, str):
        raise ExpressionError(f"{what} must be text, not {type(text).__name__}")
    stripped = text.strip()
    if not stripped:
        raise ExpressionError(f"{what} is empty; {example}")
    if len(stripped) > MAX_LENGTH:
        raise ExpressionError(f"{what} is {len(stripped):,} characters long; the limit is {MAX_LENGTH:,}")
    check_ascii(stripped)
    return stripped


def parse_data_expression(text: str, data: Collection[str]) -> Any:
    """A formula of data columns only (a fit's response, such as ``log(y)``), as a float sympy expression.

    >>> parse_data_expression("log(y)", ["x", "y"])
    log(y)
    """
    stripped = _checked_text(text, "the response (left of ~)", "name a data column, as in 'y ~ a*x + b'")
    builder = _Builder(stripped, {}, data=data)
    expr = builder.build(parse_tree(stripped).body, depth=1).sym
    if builder.names:
        unknown = ", ".join(sorted(builder.names, key=natural_key))
        raise ExpressionError(f"the response {shown(stripped)} uses {unknown}, which {'is' if len(builder.names) == 1 else 'are'} "
                              f"not a data column; the columns are: {', '.join(data)}")
    if not builder.data_used:
        raise ExpressionError(f"the response {shown(stripped)} uses no data column; the columns are: {', '.join(data)}")
    return _numify(expr)


def exact_number(value: float) -> Any:
    """The exact rational a float was written as: ``0.1`` is 1/10, not 0.1000000000000000055...

    ``repr`` gives the shortest decimal that reads back as the same double,
    which for a number a person typed is the number they typed.

    >>> exact_number(0.1), exact_number(2.0), exact_number(1e-3)
    (1/10, 2, 1/1000)
    """
    if value == int(value) and abs(value) < 2**63:
        return sympy.Integer(int(value))
    return sympy.Rational(repr(float(value)))


def exact_expression(parsed: ParsedExpression) -> Any:
    """The formula with its constants exact, for symbolic work (derivatives, solving).

    :attr:`ParsedExpression.expr` folds constants to floats, as torch needs;
    this one keeps them as written: ``sqrt(3)*x`` keeps ``sqrt(3)``, ``0.1``
    is ``1/10``, ``log2(x)`` is ``log(x)/log(2)``, ``pi`` is ``pi``. The text
    was already checked by :func:`parse_expression`, so this cannot fail on it;
    its symbols are :attr:`ParsedExpression.symbols`.

    >>> exact_expression(parse_expression("sqrt(3)*x + 0.5*pi"))
    sqrt(3)*x + pi/2
    """
    builder = _Builder(parsed.text, parsed.params, exact=True, data=parsed.data)
    expr = builder.build(parse_tree(parsed.text).body, depth=1).sym
    # Over scalar variables a reduction is its argument (norm: its absolute value), which sympy can differentiate.
    return expr if parsed.data else scalar_reductions(expr)


@dataclass(frozen=True)
class _Node:
    sym: Any  # sympy expression
    value: float | None  # float value when the node is constant


class _Builder:
    """Builds sympy from a checked AST, folding constants in floating point.

    With ``exact=True`` constant parts stay exact sympy numbers (``sqrt(3)``,
    ``1/10``, ``pi``); their float values are still computed alongside, so
    every limit and overflow check is the same in both modes.
    """

    def __init__(self, text: str, params: Mapping[str, float], *, exact: bool = False,
                 data: Collection[str] = ()) -> None:
        self.text = text
        self.params = params
        self.exact = exact
        self.data = frozenset(data)
        self.names: set[str] = set()
        self.params_used: set[str] = set()
        self.data_used: set[str] = set()

    def fail(self, node: ast.AST, message: str) -> ExpressionError:
        col = getattr(node, "col_offset", None)
        offset = None if col is None else original_offset(self.text, col)
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
            raise self.fail(node, f"{REFUSED.get(op, op)} is not supported; use + - * / ** ^ and functions")
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
            inner = self.build(node.operand, depth + 1)
            if isinstance(node.op, ast.UAdd):
                return inner
            return self._const_or(-inner.sym, None if inner.value is None else -inner.value, node)
        if isinstance(node, ast.UnaryOp):
            op = type(node.op).__name__
            raise self.fail(node, f"{REFUSED.get(op, op)} is not supported")
        if isinstance(node, ast.Constant):
            return self._constant(node)
        if isinstance(node, ast.Name):
            return self._name(node)
        if isinstance(node, ast.Call):
            return self._call(node, depth)
        raise self.fail(node, f"not allowed in an expression: {REFUSED.get(kind, kind)}")

    def _const_or(self, sym: Any, value: float | None, node: ast.AST) -> _Node:
        if value is None:
            return _Node(sym, None)
        if isinstance(value, complex) or not math.isfinite(value):
            raise self.fail(node, "a constant part of the expression overflows or is not a real number")
        if self.exact and sym is not None:
            return _Node(sym, value)
        if value == int(value) and abs(value) < 2**53:
            return _Node(sympy.Integer(int(value)), value)
        return _Node(num(value), value)

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
                exact = term.value is None or self.exact
                sym_terms.append(1 / term.sym if exact else num(1 / term.value))
            else:
                sym_terms.append(term.sym)
            if value is not None and term.value is not None:
                # One operation at a time: a table of all four would divide by a zero term of a sum.
                if op is ast.Add:
                    value += term.value
                elif op is ast.Sub:
                    value -= term.value
                elif op is ast.Mult:
                    value *= term.value
                else:
                    value /= term.value
            else:
                value = None
        sym = sympy.Add(*sym_terms) if additive else sympy.Mul(*sym_terms)
        if value is not None:
            return self._const_or(sym if self.exact else None, value, node)
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
            return self._const_or(sympy.Pow(base.sym, exp.sym) if self.exact else None, value, node)
        return _Node(sympy.Pow(base.sym, exp.sym), None)

    def _constant(self, node: ast.Constant) -> _Node:
        value = node.value
        if isinstance(value, bool) or value is None or value is Ellipsis:
            raise self.fail(node, f"{shown(value)} is not a number")
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
            return self._const_or(sympy.Integer(value) if self.exact else None, as_float, node)
        if isinstance(value, float):
            if not math.isfinite(value):
                raise self.fail(node, "a number in the expression is too large (it overflows a float)")
            return self._const_or(exact_number(value) if self.exact else None, value, node)
        raise self.fail(node, f"{type(value).__name__} constants are not allowed")

    def _name(self, node: ast.Name) -> _Node:
        name = node.id
        if name in self.data:
            self.data_used.add(name)
            return _Node(sympy.Symbol(name, real=True), None)
        if name in CONSTANTS:
            exact = {"pi": sympy.pi, "E": sympy.E}[name] if self.exact else num(CONSTANTS[name])
            return _Node(exact, CONSTANTS[name])
        if name in self.params:
            self.params_used.add(name)
            value = float(self.params[name])
            return self._const_or(exact_number(value) if self.exact else None, value, node)
        if name in FUNCTIONS:
            raise self.fail(node, f"{shown(name)} is a function; call it with an argument, as {name}(x)")
        try:
            check_name(name, self.text, what="variable")
        except ExpressionError as exc:
            raise self.fail(node, str(exc)) from None
        self.names.add(name)
        return _Node(sympy.Symbol(name, real=True), None)

    def _call(self, node: ast.Call, depth: int) -> _Node:
        if not isinstance(node.func, ast.Name):
            kind = type(node.func).__name__
            raise self.fail(
                node, f"not allowed in an expression: {REFUSED.get(kind, 'this kind of call')}; call a function by name, as sin(x)"
            )
        name = node.func.id
        if "__" in name:
            raise self.fail(node, f"name {shown(name)} is not allowed: names with double underscores are refused")
        spec = FUNCTIONS.get(name)
        if spec is None:
            close = difflib.get_close_matches(name, FUNCTIONS, n=1)
            hint = f"; did you mean {shown(close[0])}?" if close else f"; known functions: {', '.join(FUNCTIONS)}"
            raise self.fail(node, f"unknown function {shown(name)}{hint}")
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
            return self._const_or((spec.exact or spec.sym)(*[a.sym for a in args]) if self.exact else None,
                                  value, node)
        if name == "log" and n == 2:
            b = args[1]
            if b.value is not None and (b.value <= 0 or b.value == 1):
                raise self.fail(node, f"log base {b.value:g} is invalid; use a positive base other than 1")
            if not self.exact:  # log(b) folded to a float for torch where b is constant
                base = num(math.log(b.value)) if b.value is not None else sympy.log(b.sym)
                return _Node(log_base(args[0].sym, base), None)
        build = (spec.exact or spec.sym) if self.exact else spec.sym
        return _Node(build(*[a.sym for a in args]), None)


def _numify(expr: Any) -> Any:
    """Replace every constant sub-expression by a float.

    sympy's automatic evaluation can create exact constants such as
    ``sqrt(2)`` (from ``sqrt(2*x**2)``); lambdify would print them as
    ``torch.sqrt(2)``, which torch refuses, so they become numbers here.
    """
    if expr.is_Number or expr.is_Symbol:
        return expr
    if not expr.free_symbols:
        # sympy may fold a reduction's argument to a constant (dot(x, 2/x) is sum(2)): a number's sum is the number.
        value = complex(scalar_reductions(expr).evalf(17))
        if value.imag != 0 or not math.isfinite(value.real):
            raise ExpressionError(f"the constant {expr} is not a finite real number")
        return num(value.real)
    return expr.func(*[_numify(a) for a in expr.args])
