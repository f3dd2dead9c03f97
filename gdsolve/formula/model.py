"""A fit's model, ``response ~ formula``, bound to a data table.

The left of ``~`` is the response: a data column, or a formula of columns
such as ``log(y)``. On the right, names that are columns of the data are data;
every other name is a parameter to fit (as R's ``nls`` and fitme do). Both
sides go through the safe parser (:mod:`gdsolve.formula.parse`); nothing is executed.

The residuals are ``(response - model) / sigma``, one row per start and one
column per data row: the parameters come in as ``(B, p)``, each column of
the data as ``(n,)``, and broadcasting makes ``(B, n)``.

Example:
    >>> import torch
    >>> from gdsolve.formula.data import parse_table
    >>> m = parse_model("y ~ a*x + b", parse_table("x,y\\n0,1\\n1,3\\n", "t.csv"))
    >>> m.parameters, m.columns
    (('a', 'b'), ('x',))
    >>> m.residuals()(torch.tensor([[2.0, 1.0]], dtype=torch.float64)).tolist()
    [[0.0, 0.0]]
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import sympy
import torch

from ..core.errors import ExpressionError, shown
from .data import DataError, Table
from .objective import lambdify_torch
from .parse import ParsedExpression, parse_data_expression, parse_expression


@dataclass(frozen=True)
class FitModel:
    """A parsed ``response ~ formula`` with its data.

    Attributes:
        text: the model as written; ``response_text``: its left side.
        parsed: the right side; its variables are the parameters.
        response: the left side as a sympy expression of columns.
        table: the data; ``sigma``: the column of per-point errors, if any.
    """

    text: str
    response_text: str
    parsed: ParsedExpression
    response: Any
    table: Table
    sigma: str | None = None

    @property
    def parameters(self) -> tuple[str, ...]:
        return self.parsed.variables

    @property
    def columns(self) -> tuple[str, ...]:
        """The data columns the right side reads (the predictors)."""
        return self.parsed.data

    def observed(self, dtype: torch.dtype = torch.float64, device: Any = None) -> torch.Tensor:
        """The response at every data row ``(n,)``."""
        names = sorted(str(s) for s in self.response.free_symbols)
        # Private argument names: a column called "log" or "torch" must not shadow what the code calls.
        private = [sympy.Symbol(f"_d{i}", real=True) for i in range(len(names))]
        body = self.response.xreplace({sympy.Symbol(n, real=True): p for n, p in zip(names, private)})
        fn = lambdify_torch(private, body)
        y = fn(*[self.table.tensor(n, dtype=dtype, device=device) for n in names])
        return torch.as_tensor(y, dtype=dtype, device=device).expand(self.table.rows)

    def weights(self, dtype: torch.dtype = torch.float64, device: Any = None) -> torch.Tensor | None:
        """``sigma`` per row ``(n,)``, or ``None`` without ``--sigma``."""
        if self.sigma is None:
            return None
        return self.table.tensor(self.sigma, dtype=dtype, device=device)

    def predictor(self, dtype: torch.dtype = torch.float64, device: Any = None,
                  table: Table | None = None) -> Callable[[torch.Tensor], torch.Tensor]:
        """``P (B, p) -> model values (B, n)`` at the rows of ``table`` (default: the fit's data)."""
        table = table or self.table
        params = [sympy.Symbol(f"_p{i}", real=True) for i in range(len(self.parameters))]
        data = [sympy.Symbol(f"_d{i}", real=True) for i in range(len(self.columns))]
        body = self.parsed.expr.xreplace(dict(zip(self.parsed.symbols, params)))
        body = body.xreplace({sympy.Symbol(c, real=True): d for c, d in zip(self.columns, data)})
        fn = lambdify_torch(params + data, body)
        cols = [table.tensor(c, dtype=dtype, device=device) for c in self.columns]
        n = table.rows

        def predict(P: torch.Tensor) -> torch.Tensor:
            out = fn(*[P[:, j:j + 1] for j in range(P.shape[1])], *cols)
            return torch.as_tensor(out, dtype=P.dtype, device=P.device).expand(P.shape[0], n)

        return predict

    def residuals(self, dtype: torch.dtype = torch.float64, device: Any = None) -> Callable[[torch.Tensor], torch.Tensor]:
        """``P (B, p) -> (response - model) / sigma (B, n)``."""
        predict = self.predictor(dtype, device)
        y = self.observed(dtype, device)
        w = self.weights(dtype, device)
        if w is None:
            return lambda P: y - predict(P)
        return lambda P: (y - predict(P)) / w


def split_model(text: str) -> tuple[str, str]:
    """``"y ~ a*x"`` -> ``("y", "a*x")``; exactly one ``~`` with something on each side."""
    if not isinstance(text, str):
        raise ExpressionError(f"the model must be text such as 'y ~ a*x + b', not {type(text).__name__}")
    parts = text.split("~")
    if len(parts) == 1:
        raise ExpressionError(f"the model {shown(text.strip())} has no '~'; write the response on the left, "
                              "as in 'y ~ a*x + b'")
    if len(parts) > 2:
        raise ExpressionError(f"the model {shown(text.strip())} has {len(parts) - 1} '~'; write exactly one, "
                              "as in 'y ~ a*x + b'")
    left, right = parts[0].strip(), parts[1].strip()
    if not right:
        raise ExpressionError("the model's right side (after ~) is empty; write a formula, as in 'y ~ a*x + b'")
    return left, right


def parse_model(text: str, table: Table, *, sigma: str | None = None,
                parameters: Sequence[str] | None = None) -> FitModel:
    """Parse ``response ~ formula`` against ``table``'s column names.

    Raises:
        ExpressionError: a malformed side, a response with no column, a formula with no parameter.
        DataError: a ``sigma`` column that is missing or not positive.
    """
    left, right = split_model(text)
    names = table.names
    response = parse_data_expression(left, names)
    try:
        parsed = parse_expression(right, data=names, variables=parameters)
    except ExpressionError as exc:
        if "has no variables" in str(exc):
            raise ExpressionError(f"the model {shown(right)} has no parameters: every name in it is a data column "
                                  f"({', '.join(names)}); add a parameter to fit, as in 'y ~ a*x + b'") from None
        raise
    if sigma is not None:
        values = table.require(sigma, "--sigma")
        bad = next((i for i, v in enumerate(values) if not (v > 0 and math.isfinite(v))), None)
        if bad is not None:
            raise DataError(f"{table.source}: sigma column {shown(sigma)} row {bad + 1} is {values[bad]}; "
                            "every per-point error must be a positive number")
    return FitModel(text.strip(), left, parsed, response, table, sigma)
