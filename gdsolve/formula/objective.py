"""Compile a parsed expression into a batched torch function.

The sympy expression is turned into torch operations by
``sympy.lambdify(..., modules="torch")``; autograd then differentiates those
operations, so no derivative is ever derived symbolically at run time.

The compiled function takes a batch of points ``X`` of shape ``(B, d)`` and
returns ``f`` of shape ``(B,)``: one row per starting point, one column per
variable, in :attr:`Objective.variables` order.

Example:
    >>> import torch
    >>> obj = compile_objective("(x-4)**2 + y**2")
    >>> obj(torch.tensor([[1.0, 2.0]], dtype=torch.float64)).tolist()
    [13.0]
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import reduce
from typing import Any

import sympy
import torch

from ..core.errors import ExpressionError, OptionError
from ..core.shapes import Layout, element_names, parse_shapes
from .parse import ParsedExpression, parse_expression


def _as_tensor_like(a: object, like: torch.Tensor) -> torch.Tensor:
    return a if isinstance(a, torch.Tensor) else torch.as_tensor(a, dtype=like.dtype, device=like.device)


def _first_tensor(args: Sequence[object]) -> torch.Tensor:
    return next(a for a in args if isinstance(a, torch.Tensor))


def _nary(op: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> Callable[..., torch.Tensor]:
    # sympy prints Min/Max as min(a, b, c) and atan2(1, x) with python numbers
    # mixed in; torch.min/atan2 take exactly two tensors, so we adapt.
    def apply(*args: object) -> torch.Tensor:
        like = _first_tensor(args)
        return reduce(op, [_as_tensor_like(a, like) for a in args])

    return apply


def _reduce(op: Callable[[torch.Tensor, tuple[int, ...]], torch.Tensor],
            scalar: Callable[[Any], Any] = lambda v: v) -> Callable[[Any], Any]:
    # Reduce every dim but the batch (dim 0), keeping them as size 1 so the
    # result still broadcasts with the rest of the formula (see gdsolve.core.shapes).
    def apply(t: Any) -> Any:
        if not isinstance(t, torch.Tensor) or t.ndim <= 1:
            return scalar(t)
        return op(t, tuple(range(1, t.ndim)))

    return apply


def _prod(t: torch.Tensor, dims: tuple[int, ...]) -> torch.Tensor:
    for d in dims:  # torch.prod takes one dim at a time
        t = t.prod(d, keepdim=True)
    return t


class MatrixShapeError(RuntimeError):
    """``X @ v`` where ``v`` has not as many elements as ``X`` has columns (caught where the formula is compiled)."""


def _matmul(A: torch.Tensor, v: Any) -> torch.Tensor:
    # A is the data matrix (rows, k), v one k-vector per start (B, ..., k): the product is (B, ..., rows), the rows
    # on the last dim where the data columns are (see gdsolve.core.shapes).
    v = _as_tensor_like(v, A)
    k = A.shape[-1]
    got = v.shape[-1] if v.ndim > 1 else 1
    if got != k:
        raise MatrixShapeError(f"a matrix of {k} column{'s' * (k != 1)} is multiplied by {got} element"
                               f"{'s' * (got != 1)} at each point; the right of @ needs {k}")
    return torch.matmul(v, A.transpose(0, 1))


def _softplus(x: torch.Tensor) -> torch.Tensor:
    # log(exp(x) + exp(0)), computed as max + log1p(exp(-|x|)): exact at every x, in value and gradient.
    # (torch.nn.functional.softplus returns x itself above x = 20, 2e-9 short of the value.)
    return torch.logaddexp(x, torch.zeros_like(x))


def _xlogy(x: Any, y: Any) -> torch.Tensor:
    # torch.special.xlogy is 0 where x is 0, but its gradient in y at x = y = 0 is 0/0 = NaN; there y is
    # replaced by 1 (the value is 0 either way), which makes that derivative 0, as it is for every other y.
    like = _first_tensor([x, y])
    x, y = _as_tensor_like(x, like), _as_tensor_like(y, like)
    return torch.special.xlogy(x, torch.where((x == 0) & (y == 0), torch.ones_like(y), y))


def _logsumexp(*args: Any) -> Any:
    # One argument: the reduction over a shaped variable or data column; several: elementwise, pair by pair.
    if len(args) == 1:
        return _reduce(lambda t, d: torch.logsumexp(t, d, keepdim=True))(args[0])
    return _nary(torch.logaddexp)(*args)


def _normcdf(x: torch.Tensor) -> torch.Tensor:
    # Phi(x) = erfc(-x/sqrt(2))/2: full relative precision in the lower tail, where torch.special.ndtr
    # (1 + erf) cancels to 0 already at x = -10 (the value is 7.6e-24).
    return torch.special.erfc(x * -math.sqrt(0.5)) / 2


def _polygamma(n: Any, x: torch.Tensor) -> torch.Tensor:
    return torch.special.polygamma(int(n), x)  # the parser made sure n is a whole number >= 0


#: The stable functions' torch kernels (see :mod:`gdsolve.formula.stable`), by the name the user types.
KERNELS: dict[str, Callable[..., Any]] = {
    "log1p": torch.log1p,
    "expm1": torch.expm1,
    "erfc": torch.special.erfc,
    "sigmoid": torch.sigmoid,
    "softplus": _softplus,
    "logsigmoid": torch.nn.functional.logsigmoid,
    "logsumexp": _logsumexp,
    "xlogy": _xlogy,
    "normcdf": _normcdf,
    "lognormcdf": torch.special.log_ndtr,
    "lgamma": torch.lgamma,
    "digamma": torch.special.digamma,
    "polygamma": _polygamma,
}

_OVERRIDES: dict[str, Callable[..., Any]] = {
    **KERNELS,
    "matmul": _matmul,
    "min": _nary(torch.minimum),
    "max": _nary(torch.maximum),
    "atan2": _nary(torch.atan2),
    "sum": _reduce(lambda t, d: t.sum(d, keepdim=True)),
    "mean": _reduce(lambda t, d: t.mean(d, keepdim=True)),
    "prod": _reduce(_prod),
    "norm": _reduce(lambda t, d: torch.linalg.vector_norm(t, dim=d, keepdim=True),
                    lambda v: v.abs() if isinstance(v, torch.Tensor) else abs(v)),
}


@functools.cache
def _printer_class() -> Any:
    """sympy's torch printer taught gdsolve's reductions (the class is made once; each lambdify gets its own
    instance, as lambdify does itself: a printer keeps state while it prints)."""
    from sympy.printing.pytorch import TorchPrinter

    from .grammar import REDUCTIONS

    def by_name(self: Any, expr: Any) -> str:
        return f"{expr.func.__name__}({', '.join(self._print(a) for a in expr.args)})"

    class _Printer(TorchPrinter):
        # sympy's torch printer refuses undefined functions; ours are defined in _OVERRIDES.
        def _print_Function(self, expr: Any) -> str:
            name = expr.func.__name__
            if name in REDUCTIONS or name == "matmul" or name in KERNELS:
                return by_name(self, expr)
            return super()._print_Function(expr)

    # sympy's own printers for these (log1p as log(1 + x), polygamma refused beyond digamma) give way to the kernels.
    for name in KERNELS:
        setattr(_Printer, f"_print_{name}", by_name)
    return _Printer


def lambdify_torch(args: Sequence[Any], expr: Any) -> Callable[..., Any]:
    """``sympy.lambdify(args, expr, modules="torch")``, with gdsolve's n-ary functions and reductions."""
    # The settings lambdify gives its own printer: names unqualified, looked up in the namespace.
    printer = _printer_class()({"fully_qualified_modules": False, "inline": True, "allow_unknown_functions": True,
                                "user_functions": {}})
    return sympy.lambdify(args, expr, modules=[_OVERRIDES, "torch"], printer=printer, docstring_limit=0)


@dataclass(frozen=True)
class Objective:
    """A compiled objective: call it on a ``(B, d)`` batch to get ``(B,)`` values.

    Attributes:
        parsed: the validated expression it was built from.
        sign: ``1.0`` to minimize; ``-1.0`` when built for maximizing, in which
            case :meth:`__call__` returns ``-f``.

    The user's sign is applied by these methods: on the way in by
    :meth:`__call__` (the engine only ever minimizes it) and :meth:`minimized`
    (a target), on the way out by :meth:`reported` and :meth:`reported_grad`
    (steps, results, and so the table, traces and JSON). Two places apply
    the sign themselves: a batch step's best f (:attr:`gdsolve.core.batchstep.BatchStep.f`,
    from a copy of :attr:`sign`, for the batch table and the progress bar) and
    the ranking of a sweep's runs (``gdsolve.engine.multistart._rank``, from
    the result's ``sense``).
    """

    parsed: ParsedExpression
    sign: float
    _fn: Callable[..., torch.Tensor]
    #: with shaped variables or data columns: how a flat batch becomes the formula's operands
    layout: Layout | None = None

    @property
    def variables(self) -> tuple[str, ...]:
        """The engine's columns: the variables, a shaped one element by element (``w[0]``, ``w[1]``)."""
        if self.layout is not None and self.layout.shapes:
            return tuple(element_names(self.layout.shapes, self.parsed.variables))
        return self.parsed.variables

    @property
    def shapes(self) -> dict[str, tuple[int, ...]]:
        """The shaped variables (``--shape``), ``{}`` when every variable is a number."""
        return dict(self.layout.shapes) if self.layout is not None else {}

    @property
    def per_variable(self) -> Callable[..., torch.Tensor]:
        """The lambdified function itself: one tensor per variable (any shape, elementwise), not a ``(B, d)`` batch.

        :func:`gdsolve.api.lesson.explain` calls it as the tutorial does, on a
        one-element tensor per variable; ``torch.compile`` compiles it.
        """
        return self._fn

    @property
    def text(self) -> str:
        return self.parsed.text

    def __call__(self, X: torch.Tensor) -> torch.Tensor:
        """The value that is minimized (``f``, or ``-f`` when maximizing)."""
        if self.layout is not None:
            return self.layout.finish(self._fn(*self.layout.operands(X)), X.shape[0], self.parsed.text)
        if X.shape[1] == 1:  # a view is cheaper than unbind's stack in backward
            return self._fn(X.squeeze(1))
        return self._fn(*X.unbind(1))

    def reported(self, value: float) -> float:
        """Convert a minimized value back to the user's objective ``f``."""
        return self.sign * value

    def reported_grad(self, grad: Sequence[float]) -> list[float]:
        """Convert the gradient of the minimized function back to the gradient of the user's ``f``."""
        return list(grad) if self.sign > 0 else [-v for v in grad]

    def minimized(self, value: float) -> float:
        """The user's value of ``f`` (a target) on the minimized function."""
        return self.sign * value

    @property
    def sense(self) -> str:
        """``"minimize"`` or ``"maximize"``, as results and traces say it."""
        return "maximize" if self.sign < 0 else "minimize"


def compile_objective(
    expression: str | ParsedExpression,
    *,
    params: Mapping[str, float] | None = None,
    variables: Sequence[str] | None = None,
    maximize: bool = False,
    shapes: Mapping[str, Any] | Sequence[str] | None = None,
    data: Any = None,
    drop_missing: bool = False,
) -> Objective:
    """Parse (if needed) and lambdify ``expression`` to torch operations.

    Args:
        expression: formula text, or an already :func:`parse_expression`-ed one.
        params: constants substituted by name.
        variables: the variable order (default: natural order of the names).
        maximize: build ``-f`` so that minimizing it maximizes ``f``.
        shapes: variables that are tensors, ``{"w": 3, "x": (2, 2)}`` (see :mod:`gdsolve.core.shapes`).
        data: a table whose columns the formula may read by name: a path, a
            mapping of column to numbers, or a :class:`~gdsolve.formula.data.Table`.
        drop_missing: drop data rows with missing cells instead of refusing them.

    Raises:
        ExpressionError: for invalid or unsafe text (nothing is executed).
        OptionError, DataError: a shape or data table that does not fit the formula.
    """
    table = None
    if data is not None:
        from .data import load

        table = load(data, drop_missing=drop_missing)
    shaped = parse_shapes(shapes)
    parsed = expression if isinstance(expression, ParsedExpression) else parse_expression(
        expression, params=params, variables=variables, data=table.names if table is not None else (),
        matrices=tuple(table.matrices) if table is not None else (),
        factors={n: f.levels for n, f in table.factors.items()} if table is not None else None,
    )
    unknown = [k for k in shaped if k not in parsed.variables]
    if unknown:
        raise OptionError(f"{{shape}} names {unknown[0]}, which is not a variable of the expression "
                          f"(variables: {', '.join(parsed.variables)})")
    if parsed.products:
        assert table is not None
        shaped = product_shapes(parsed, table, shaped)
    # Lambdify over private argument names: a variable called "torch" or
    # "exp" must not shadow what the generated code calls.
    private = [sympy.Symbol(f"_v{i}", real=True) for i in range(len(parsed.symbols))]
    target = -parsed.expr if maximize else parsed.expr
    try:
        columns = [sympy.Symbol(f"_d{i}", real=True) for i in range(len(parsed.data))]
        mats = [sympy.Symbol(f"_m{i}", real=True) for i in range(len(parsed.matrices))]
        body = target.xreplace(dict(zip(parsed.symbols, private)))
        body = body.xreplace({sympy.Symbol(c, real=True): d for c, d in zip(parsed.data, columns)})
        body = body.xreplace({sympy.Symbol(c, real=True): d for c, d in zip(parsed.matrices, mats)})
        fn = lambdify_torch(private + columns + mats, body)
    except (RecursionError, MemoryError):
        # The parser's limits bound size and depth; this is the last line of defence.
        raise ExpressionError("the expression is too large or too deeply nested to compile; simplify it") from None
    layout = None
    if shaped or parsed.data or parsed.matrices:
        assert table is not None or not (parsed.data or parsed.matrices)
        columns = [table.tensor(c) for c in parsed.data] if table is not None else []
        matrices = [table.matrix(m) for m in parsed.matrices] if table is not None else []
        layout = Layout.build(parsed.variables, shaped, columns, matrices)
        _probe(fn, layout, parsed.text)
    return Objective(parsed, -1.0 if maximize else 1.0, fn, layout)


def _probe(fn: Callable[..., Any], layout: Layout, text: str) -> None:
    """Evaluate once at ones, so that shapes that do not broadcast or do not reduce fail before the run."""
    X = torch.ones(1, layout.width, dtype=torch.float64)
    try:
        F = fn(*layout.operands(X))
    except MatrixShapeError as exc:
        raise ExpressionError(f"the shapes in {text!r} do not fit together: {exc}") from None
    except RuntimeError as exc:  # torch's broadcasting error
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ExpressionError(f"the shapes in {text!r} do not fit together: {first}") from None
    layout.finish(F, 1, text)


def product_shapes(parsed: ParsedExpression, table: Any, shapes: Mapping[str, tuple[int, ...]]) -> dict[str, tuple[int, ...]]:
    """``shapes`` with each ``w`` of an ``X @ w`` a vector of X's columns: taken from X where ``--shape`` is silent,
    checked where it speaks (the error names the matrix's columns and the ``--shape`` to write)."""
    out = dict(shapes)
    for matrix, name in parsed.products:
        k = len(table.matrix_of(matrix).columns)
        if name not in out:
            out[name] = (k,)
        elif tuple(out[name]) != (k,):
            n = math.prod(out[name])
            size = f"{n} element{'s' * (n != 1)}" if len(out[name]) == 1 else f"shape {'x'.join(map(str, out[name]))}"
            raise OptionError(f"{table.describe(matrix)} but {name} has {size}: [[--shape {name}={k}||"
                              f"shape={{{name!r}: {k}}}]]")
    return out
