"""The gradient as mathematics: sympy's derivative of the exact formula, checked against autograd.

gdsolve never needs a symbolic derivative to descend (autograd computes every
gradient it uses), but a learner wants to *see* the gradient, and a careful
user wants to know autograd got it right. :func:`gradient` gives both:

* ``sympy.diff`` of the formula's exact form (:func:`~gdsolve.formula.parse.exact_expression`:
  ``sqrt(3)`` stays ``sqrt(3)``), simplified within a time budget;
* where the formula is not differentiable (``abs``, ``sign``, ``min``,
  ``max`` at their kinks): reported as a list, never as ``DiracDelta``;
* with ``at=``: f, autograd's gradient and the symbolic gradient evaluated at
  the same point (30 digits), and how far apart they are.

Example:
    >>> g = gradient("(x-4)**2 + sqrt(3)*y", at={"x": 1, "y": 0})
    >>> g["gradient"], g["autograd"], g["agree"]
    ({'x': '2*x - 8', 'y': 'sqrt(3)'}, {'x': -6.0, 'y': 1.7320508075688772}, True)
"""

from __future__ import annotations

import math
import signal
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import sympy

from ..core.errors import OptionError
from ..core.settings import X0, resolve_x0
from ..formula.parse import ParsedExpression, exact_expression, parse_expression

#: A Hessian is computed for at most this many variables (100 entries).
MAX_HESSIAN_VARIABLES = 10
#: Seconds sympy may spend simplifying, all components together; after that
#: the derivatives are shown as ``sympy.diff`` gave them.
SIMPLIFY_SECONDS = 2.0
#: autograd and the symbolic gradient agree at a point when, for every variable,
#: ``|autograd - symbolic| <= ATOL + RTOL * max(|autograd|, |symbolic|)``.
RTOL = 1e-6
ATOL = 1e-9
#: Digits the symbolic gradient is evaluated with at a point.
DIGITS = 30


class _OutOfTime(Exception):
    pass


@contextmanager
def _alarm(seconds: float) -> Iterator[None]:
    """Interrupt the block after ``seconds`` (SIGALRM: sympy is pure Python, so it stops mid-work)."""

    armed = [True]

    def ring(signum: int, frame: Any) -> None:
        if armed[0]:
            raise _OutOfTime

    old = signal.signal(signal.SIGALRM, ring)
    # The alarm repeats every 50 ms: the exception lands wherever Python is, and where that is a
    # garbage-collector callback or a __del__, Python prints and swallows it; the next ring stops sympy.
    signal.setitimer(signal.ITIMER_REAL, max(seconds, 1e-3), 0.05)
    try:
        yield
    finally:
        while True:  # disarm first: a ring that lands before the store is retried, none after it raises
            try:
                armed[0] = False
                break
            except _OutOfTime:
                continue
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def _can_interrupt() -> bool:
    # Signals reach only the main thread, and Windows has no SIGALRM. A caller's
    # own alarm (a timer armed, or a handler installed) is left alone.
    if not hasattr(signal, "setitimer") or threading.current_thread() is not threading.main_thread():
        return False
    return signal.getitimer(signal.ITIMER_REAL)[0] == 0 and signal.getsignal(signal.SIGALRM) in (
        signal.SIG_DFL, signal.SIG_IGN, None)


class Simplifier:
    """``sympy.simplify`` under one shared time budget; keeps a form only if it is shorter.

    Without a way to interrupt sympy (a worker thread, Windows) only small
    expressions are simplified, since simplify's time is unbounded.
    """

    SMALL = 30  # count_ops below which simplify is tried without a budget

    def __init__(self, seconds: float = SIMPLIFY_SECONDS) -> None:
        self.deadline = time.monotonic() + seconds
        self.complete = True  # every expression got its simplification attempt

    def __call__(self, expr: Any) -> Any:
        if expr.is_Atom:
            return expr
        left = self.deadline - time.monotonic()
        if left <= 0:
            self.complete = False
            return expr
        try:
            if _can_interrupt():
                with _alarm(left):
                    candidate = sympy.simplify(expr)
            elif sympy.count_ops(expr) <= self.SMALL:
                candidate = sympy.simplify(expr)
            else:
                self.complete = False
                return expr
        except _OutOfTime:
            self.complete = False
            return expr
        # simplify rewrites sign(x) as Piecewise((0, Eq(x, 0)), (x/Abs(x), True)): longer, not simpler.
        if candidate.has(sympy.Piecewise) and not expr.has(sympy.Piecewise):
            return expr
        return candidate if sympy.count_ops(candidate) < sympy.count_ops(expr) else expr


def kinks(expr: Any) -> list[dict[str, str]]:
    """Where ``expr`` is not differentiable: every ``abs``, ``sign``, ``min`` and ``max`` in it.

    >>> kinks(parse_expression("abs(x-1) + max(x, y)").expr)
    [{'function': 'abs', 'term': 'Abs(x - 1)', 'where': 'x - 1 = 0'}, {'function': 'max', 'term': 'Max(x, y)', 'where': 'x = y'}]
    """
    found: dict[str, dict[str, str]] = {}
    for node in sympy.preorder_traversal(expr):
        if isinstance(node, sympy.Abs):
            function, where = "abs", f"{node.args[0]} = 0"
        elif isinstance(node, sympy.sign):
            function, where = "sign", f"{node.args[0]} = 0 (a jump; its derivative is 0 elsewhere)"
        elif isinstance(node, (sympy.Min, sympy.Max)):
            function = "min" if isinstance(node, sympy.Min) else "max"
            args = [str(a) for a in node.args]
            where = (f"{args[0]} = {args[1]}" if len(args) == 2 else
                     f"the {'least' if function == 'min' else 'greatest'} of {', '.join(args)} is tied")
        else:
            continue
        found.setdefault(str(node), {"function": function, "term": str(node), "where": where})
    return list(found.values())


def drop_delta(expr: Any) -> Any:
    # d/dx sign(x) is 2*DiracDelta(x): zero wherever it is defined. The kink is reported instead.
    if not expr.has(sympy.DiracDelta):
        return expr
    return expr.replace(lambda e: isinstance(e, sympy.DiracDelta), lambda e: sympy.S.Zero)


def derivatives(parsed: ParsedExpression, *, hessian: bool = False,
                seconds: float = SIMPLIFY_SECONDS) -> tuple[Any, list[Any], list[list[Any]] | None, bool]:
    """The exact formula, its gradient and (optionally) its Hessian, simplified within ``seconds``.

    Returns ``(f, gradient, hessian or None, simplified)``; ``simplified`` is
    False when the budget ran out before every entry was tried.
    """
    f = exact_expression(parsed)
    simplify = Simplifier(seconds)
    grad = [simplify(drop_delta(sympy.diff(f, s))) for s in parsed.symbols]
    hess = None
    if hessian:
        d = len(parsed.symbols)
        hess = [[sympy.S.Zero] * d for _ in range(d)]
        for i in range(d):
            for j in range(i, d):  # symmetric: each pair once
                hess[i][j] = hess[j][i] = simplify(drop_delta(sympy.diff(grad[i], parsed.symbols[j])))
    return f, grad, hess, simplify.complete


def evaluate(expr: Any, point: Mapping[Any, float]) -> float:
    """``expr`` at ``point`` ({symbol: value}) with :data:`DIGITS` digits, as a float; NaN where undefined or not real.

    The point's floats go in as the exact rationals they are, so a derivative
    that is exactly zero there comes out 0, not 1e-163.

    >>> evaluate(parse_expression("-200*x**2 + 200*y").expr, {sympy.Symbol("x", real=True): -1.0,
    ...                                                        sympy.Symbol("y", real=True): 1.0})
    0.0
    """
    try:
        exact = expr.xreplace({s: sympy.Rational(v) for s, v in point.items()})
    except (ZeroDivisionError, ValueError, TypeError, OverflowError):
        return math.nan
    value = _evalf(exact)
    if value is None:
        return math.nan
    try:
        re, im = value.as_real_imag()
        if im != 0 and not abs(im) <= 1e-25 * abs(re):  # 30 digits: a real value's rounding is below that
            return math.nan  # outside the real domain (a negative number to a fractional power, log of one)
        return float(re)
    except (TypeError, ValueError, AttributeError):  # zoo, nan, an unevaluated function
        return math.nan


def _evalf(expr: Any) -> Any:
    """``expr`` to :data:`DIGITS` correct digits, or None when sympy cannot get them.

    ``strict=True`` makes sympy raise instead of returning a number whose
    digits were lost to cancellation (``(1 - tanh(log(y))**2)/y`` at a tiny y
    came back as ``0.e+143``, about 1e143, where the value is 6e-306); more
    working precision (``maxn``) is tried before giving up.
    """
    for maxn in (100, 2000):
        try:
            return expr.evalf(DIGITS, strict=True, maxn=maxn)
        except sympy.core.evalf.PrecisionExhausted:
            continue
        except (ZeroDivisionError, ValueError, TypeError, OverflowError):
            return None
    try:  # sympy cannot tell it from zero: accept it only as (chopped to) an exact zero or a full-precision number
        value = expr.evalf(DIGITS, chop=True)
    except (ZeroDivisionError, ValueError, TypeError, OverflowError):
        return None
    if value == 0 or (isinstance(value, sympy.Float) and value._prec >= 53):
        return value
    return None


def _autograd(objective: Any, values: Sequence[float]) -> tuple[float, list[float]]:
    """f and autograd's gradient at one point (values in the objective's column order), in float64."""
    import torch

    X = torch.tensor([list(values)], dtype=torch.float64, requires_grad=True)
    F = objective(X)
    (G,) = torch.autograd.grad(F.sum(), X)
    return float(F.detach()[0]), G[0].tolist()


def _autograd_only(expression: str, at: X0, hessian: bool, params: Mapping[str, float] | None,
                   variables: Sequence[str] | None, shape: Any, data: Any, drop_missing: bool) -> dict[str, Any]:
    """With shaped variables or data: f and autograd's gradient at ``at``; sympy declines."""
    from ..core.shapes import expand_point, regroup
    from ..formula.objective import compile_objective

    objective = compile_objective(expression, params=params, variables=variables, shapes=shape, data=data,
                                  drop_missing=drop_missing)
    reason = ("sympy cannot follow sum, mean, prod, norm, dot or logsumexp over a tensor variable or a data column; "
              "autograd's gradient is exact, and is given at the point")
    if hessian:
        raise OptionError("{hessian} is symbolic, and sympy cannot follow {shape} or {data}; leave it out")
    if at is None:
        raise OptionError(f"{reason}: give the point with [[--at||at=]] (for example "
                          f"[[--at {objective.parsed.variables[0]}=1||at={{'{objective.parsed.variables[0]}': 1}}]])")
    shapes = objective.shapes
    point = resolve_x0(objective.variables, expand_point(shapes, objective.parsed.variables, at, "at"), option="at")
    assert point is not None
    f, grad = _autograd(objective, list(point.values()))
    return {
        "expression": objective.text, "variables": list(objective.parsed.variables),
        "shapes": {k: list(v) for k, v in shapes.items()}, "data": list(objective.parsed.data),
        "symbolic_declined": reason, "gradient": None,
        "at": regroup(shapes, point), "f": f, "autograd": regroup(shapes, dict(zip(objective.variables, grad))),
    }


def compare(auto: Sequence[float], sym: Sequence[float], *, rtol: float = RTOL, atol: float = ATOL,
            strict: bool = True) -> tuple[float | None, float | None, bool | None]:
    """``(max_abs_diff, max_rel_diff, agree)`` of two gradients.

    ``agree`` is True only when every component was compared and is within
    tolerance; False when a component differs beyond it, or when one route
    gives a number and the other does not (f is not differentiable there, or
    a route overflowed), unless ``strict=False`` (outside f's domain); and
    None when nothing differs but some component was not compared: where both
    routes give no finite number (an infinite derivative, ``sqrt(x)`` at 0)
    there is nothing to agree on. :func:`not_compared` says why. The
    differences are over the components compared: None when there were none.

    >>> compare([1.0, 2.0], [1.0, 2.5])
    (0.5, 0.2, False)
    >>> compare([1.0, 2.0], [1.0, 2.000001])[2]
    True
    >>> compare([math.inf, 2.0], [math.nan, 2.0])
    (0.0, 0.0, None)
    >>> compare([math.inf], [math.nan])
    (None, None, None)
    """
    max_abs = max_rel = 0.0
    compared = 0
    agree: bool | None = True
    for a, s in zip(auto, sym):
        fa, fs = math.isfinite(a), math.isfinite(s)
        if not (fa and fs) and (not strict or not (fa or fs)):
            if agree:
                agree = None
            continue
        compared += 1
        if fa != fs:
            max_abs = max_rel = math.inf
            agree = False
            continue
        diff = abs(a - s)
        scale = max(abs(a), abs(s))
        max_abs = max(max_abs, diff)
        max_rel = max(max_rel, diff / scale if scale else 0.0)
        if diff > atol + rtol * scale:
            agree = False
    if not compared:  # a difference of 0.0 would say two numbers were compared and found equal
        return None, None, agree
    return max_abs, max_rel, agree


def not_compared(names: Sequence[str], auto: Sequence[float], sym: Sequence[float], where: str, *,
                 in_domain: bool = True) -> dict[str, str]:
    """{name: why} for each gradient component :func:`compare` could not compare (same ``in_domain``).

    >>> not_compared(["x", "y"], [math.inf, 1.0], [math.nan, 1.0], "x = 0, y = 1")
    {'x': 'the derivative ∂f/∂x is infinite at x = 0, y = 1'}
    """
    out = {}
    for name, a, s in zip(names, auto, sym):
        if math.isfinite(a) and math.isfinite(s):
            continue
        if not in_domain:
            out[name] = f"∂f/∂{name} is not defined at {where}, where f is not a finite real number"
        elif math.isfinite(a) or math.isfinite(s):
            continue  # one route gives a number: compare() counts that as a disagreement
        elif math.isinf(a) or math.isinf(s):
            out[name] = f"the derivative ∂f/∂{name} is infinite at {where}"
        else:
            out[name] = f"neither route gives a number for ∂f/∂{name} at {where}: f is not differentiable there"
    return out


def gradient(
    expression: str,
    *,
    at: X0 = None,
    hessian: bool = False,
    params: Mapping[str, float] | None = None,
    variables: Sequence[str] | None = None,
    rtol: float = RTOL,
    atol: float = ATOL,
    simplify_seconds: float = SIMPLIFY_SECONDS,
    shape: Mapping[str, Any] | Sequence[str] | None = None,
    data: Any = None,
    drop_missing: bool = False,
) -> dict[str, Any]:
    """The symbolic gradient of ``expression`` (and its Hessian), checked against autograd at a point.

    Args:
        expression: the formula, as for :func:`gdsolve.minimize`.
        at: a point (``{"x": 1, "y": 2}``, a sequence in variable order, or one
            number): adds ``f``, ``autograd``, ``symbolic``, the differences and ``agree``.
        hessian: also the Hessian (at most :data:`MAX_HESSIAN_VARIABLES` variables).
        params, variables: as for :func:`gdsolve.minimize`.
        rtol, atol: the agreement test, per variable:
            ``|autograd - symbolic| <= atol + rtol * max(|autograd|, |symbolic|)``.
        simplify_seconds: the time sympy may spend simplifying.
        shape, data, drop_missing: shaped variables and data columns, as for
            :func:`gdsolve.minimize`. sympy cannot follow a sum over a tensor or a
            data column, so then only autograd's gradient is given, at ``at``
            (which is required), with ``symbolic_declined`` saying why.

    Returns:
        Plain data (the ``gdsolve grad --json`` document): ``expression``,
        ``formula`` (exact, sympy syntax), ``variables``, ``gradient`` and
        ``gradient_latex`` ({name: text}), ``not_differentiable`` (the kinks),
        ``simplified``; with ``hessian``: ``hessian`` and ``hessian_latex``
        (lists of lists of text); with ``at``: ``at``, ``f``, ``autograd``,
        ``symbolic``, ``max_abs_diff``, ``max_rel_diff``, ``agree`` (True, False, or
        None when nothing differs but a variable was not compared), ``not_compared``
        ({name: why}: both routes give no finite number, e.g. an infinite
        derivative), ``in_domain`` (f is a finite real number at ``at``; outside,
        only the variables where both routes give a number are compared), ``tolerance``.
        Non-finite numbers are NaN or inf here and ``null`` in the JSON.

    Example:
        >>> gradient("x**2*y", hessian=True)["hessian"]
        [['2*y', '2*x'], ['2*x', '0']]
    """
    return analyze(expression, at=at, hessian=hessian, params=params, variables=variables, rtol=rtol, atol=atol,
                   simplify_seconds=simplify_seconds, shape=shape, data=data, drop_missing=drop_missing)[0]


def analyze(
    expression: str,
    *,
    at: X0 = None,
    hessian: bool = False,
    params: Mapping[str, float] | None = None,
    variables: Sequence[str] | None = None,
    rtol: float = RTOL,
    atol: float = ATOL,
    simplify_seconds: float = SIMPLIFY_SECONDS,
    shape: Mapping[str, Any] | Sequence[str] | None = None,
    data: Any = None,
    drop_missing: bool = False,
) -> tuple[dict[str, Any], Any, list[Any], list[list[Any]] | None]:
    """:func:`gradient`'s document plus the sympy objects behind it: ``(doc, f, gradient, hessian)``,
    for a renderer that pretty-prints them."""
    if not isinstance(hessian, bool):
        raise OptionError(f"{{hessian}} must be True or False, got {hessian!r}")
    if shape or data is not None:
        return _autograd_only(expression, at, hessian, params, variables, shape, data, drop_missing), None, [], None
    for name, value in (("rtol", rtol), ("atol", atol), ("simplify_seconds", simplify_seconds)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < math.inf:
            raise OptionError(f"{{{name}}} must be a finite number >= 0, got {value!r}")
    parsed = parse_expression(expression, params=params, variables=variables)
    names = parsed.variables
    if hessian and len(names) > MAX_HESSIAN_VARIABLES:
        raise OptionError(
            f"the Hessian is limited to {MAX_HESSIAN_VARIABLES} variables ({MAX_HESSIAN_VARIABLES ** 2} entries); "
            f"this formula has {len(names)} ({len(names) ** 2} entries); leave out [[--hessian||hessian=True]]"
        )
    point = resolve_x0(names, at, option="at") if at is not None else None
    f, grad, hess, simplified = derivatives(parsed, hessian=hessian, seconds=float(simplify_seconds))
    doc: dict[str, Any] = {
        "expression": parsed.text,
        "formula": str(f),
        "variables": list(names),
        "gradient": {n: str(g) for n, g in zip(names, grad)},
        "gradient_latex": {n: sympy.latex(g) for n, g in zip(names, grad)},
        "not_differentiable": kinks(f),
        "simplified": simplified,
    }
    if hess is not None:
        doc["hessian"] = [[str(h) for h in row] for row in hess]
        doc["hessian_latex"] = [[sympy.latex(h) for h in row] for row in hess]
    if point is not None:
        values = [point[n] for n in names]
        from ..formula.objective import compile_objective

        fval, auto = _autograd(compile_objective(parsed), values)
        where = dict(zip(parsed.symbols, values))
        sym = [evaluate(g, where) for g in grad]
        # Outside f's domain (f not a finite real number on either route) the gradient is not defined;
        # a route may still give a number for a variable (d/dx log(a**b) is b*a'/a, real where a**b is not).
        # Only the variables where both routes give a number are compared there.
        in_domain = math.isfinite(fval) and math.isfinite(evaluate(f, where))
        max_abs, max_rel, agree = compare(auto, sym, rtol=float(rtol), atol=float(atol), strict=in_domain)
        shown_at = ", ".join(f"{n} = {point[n]:.10g}" for n in names)
        doc.update({
            "at": dict(point), "f": fval, "autograd": dict(zip(names, auto)), "symbolic": dict(zip(names, sym)),
            "max_abs_diff": max_abs, "max_rel_diff": max_rel, "agree": agree,
            "not_compared": not_compared(names, auto, sym, shown_at, in_domain=in_domain), "in_domain": in_domain,
            "tolerance": {"rtol": float(rtol), "atol": float(atol)},
        })
    return doc, f, grad, hess
