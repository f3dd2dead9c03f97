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

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import reduce

import sympy
import torch

from .errors import ExpressionError
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


_OVERRIDES: dict[str, Callable[..., torch.Tensor]] = {
    "min": _nary(torch.minimum),
    "max": _nary(torch.maximum),
    "atan2": _nary(torch.atan2),
}


@dataclass(frozen=True)
class Objective:
    """A compiled objective: call it on a ``(B, d)`` batch to get ``(B,)`` values.

    Attributes:
        parsed: the validated expression it was built from.
        sign: ``1.0`` to minimize; ``-1.0`` when built for maximizing, in which
            case :meth:`__call__` returns ``-f`` and :meth:`reported` undoes it.
    """

    parsed: ParsedExpression
    sign: float
    _fn: Callable[..., torch.Tensor]

    @property
    def variables(self) -> tuple[str, ...]:
        return self.parsed.variables

    @property
    def per_variable(self) -> Callable[..., torch.Tensor]:
        """The lambdified function itself: one tensor per variable (any shape, elementwise), not a ``(B, d)`` batch.

        :func:`gdsolve.lesson.explain` calls it as the tutorial does, on a
        one-element tensor per variable; ``torch.compile`` compiles it.
        """
        return self._fn

    @property
    def text(self) -> str:
        return self.parsed.text

    def __call__(self, X: torch.Tensor) -> torch.Tensor:
        """The value that is minimized (``f``, or ``-f`` when maximizing)."""
        if X.shape[1] == 1:  # a view is cheaper than unbind's stack in backward
            return self._fn(X.squeeze(1))
        return self._fn(*X.unbind(1))

    def reported(self, value: float) -> float:
        """Convert a minimized value back to the user's objective ``f``."""
        return self.sign * value


def compile_objective(
    expression: str | ParsedExpression,
    *,
    params: Mapping[str, float] | None = None,
    variables: Sequence[str] | None = None,
    maximize: bool = False,
) -> Objective:
    """Parse (if needed) and lambdify ``expression`` to torch operations.

    Args:
        expression: formula text, or an already :func:`parse_expression`-ed one.
        params: constants substituted by name.
        variables: the variable order (default: natural order of the names).
        maximize: build ``-f`` so that minimizing it maximizes ``f``.

    Raises:
        ExpressionError: for invalid or unsafe text (nothing is executed).
    """
    parsed = expression if isinstance(expression, ParsedExpression) else parse_expression(
        expression, params=params, variables=variables
    )
    # Lambdify over private argument names: a variable called "torch" or
    # "exp" must not shadow what the generated code calls.
    private = [sympy.Symbol(f"_v{i}", real=True) for i in range(len(parsed.symbols))]
    target = -parsed.expr if maximize else parsed.expr
    try:
        body = target.xreplace(dict(zip(parsed.symbols, private)))
        fn = sympy.lambdify(private, body, modules=[_OVERRIDES, "torch"], docstring_limit=0)
    except (RecursionError, MemoryError):
        # The parser's limits bound size and depth; this is the last line of defence.
        raise ExpressionError("the expression is too large or too deeply nested to compile; simplify it") from None
    return Objective(parsed, -1.0 if maximize else 1.0, fn)
