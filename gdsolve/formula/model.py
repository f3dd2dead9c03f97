"""A fit's model, ``response ~ formula``, bound to a data table.

The left of ``~`` is the response: a data column, or a formula of columns
such as ``log(y)``. On the right, names that are columns of the data are data;
every other name is a parameter to fit (as R's ``nls`` and fitme do). Both
sides go through the safe parser (:mod:`gdsolve.formula.parse`); nothing is executed.

Three more forms, as R writes them:

* ``~ expression`` (nothing on the left) is R's one-sided ``nls`` formula: the
  expression is the residual itself, the response 0 (weights that depend on
  the parameters, ``~ (y - a*exp(-b*x))/sqrt(a*exp(-b*x))``);
* ``y ~ .`` is an intercept and one coefficient per other column, ``b0 + X @ b``
  with ``X`` every column but the response (and ``sigma``): the coefficients
  are named by their columns, ``b[age]``;
* a parameter multiplied by a matrix, ``X @ w`` (``--matrix X=age..s6``), is a
  vector of coefficients named by X's columns, ``w[age]``; a text column
  ``state @ b`` gives ``b[treated]`` per level but the first. Other ``--shape``d
  parameters are named element by element, ``w[0]``.

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
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sympy
import torch

from ..core.errors import ExpressionError, OptionError, shown
from ..core.shapes import Layout, element_names, expand_bounds, expand_point, parse_shapes
from .data import DataError, Table
from .matrices import matrix_of_columns
from .objective import MatrixShapeError, lambdify_torch, product_shapes
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
    #: the parameters that are vectors or tensors (``X @ w``, ``--shape``), ``{}`` when all are numbers
    shapes: Mapping[str, tuple[int, ...]] | None = None
    #: every parameter's name, a vector's element by element (``w[age]``, ``w[0]``); set by :func:`parse_model`
    names: tuple[str, ...] = ()

    @property
    def parameters(self) -> tuple[str, ...]:
        """The fitted numbers: each element of a vector parameter on its own (``w[age]``)."""
        return self.names or self.parsed.variables

    @property
    def columns(self) -> tuple[str, ...]:
        """The data columns the right side reads (the predictors), a matrix's columns included."""
        cols = list(self.parsed.data)
        for m in self.parsed.matrices:
            cols.extend(c for c in self.table.matrix_of(m).columns if c not in cols)
        return tuple(cols)

    def expand(self, values: Any, option: str = "p0") -> Any:
        """Values named by a vector parameter's name, ``{"w": 0}`` (every element) or ``{"w": [...]}``, by element.

        Mappings of element names pass through; so does anything that is not a mapping.
        """
        shapes = self.shapes or {}
        if not shapes or not isinstance(values, Mapping):
            return values
        rename = dict(zip(element_names(shapes, self.parsed.variables), self.parameters))
        if option == "bounds":
            out = expand_bounds(shapes, values)
        else:
            out = expand_point(shapes, self.parsed.variables, values, option)
        return {rename.get(k, k): v for k, v in out.items()}

    def observed(self, dtype: torch.dtype = torch.float64, device: Any = None) -> torch.Tensor:
        """The response at every data row ``(n,)`` (zeros for a one-sided ``~ residual``)."""
        if self.response is None:
            return torch.zeros(self.table.rows, dtype=dtype, device=device)
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
        parsed = self.parsed
        params = [sympy.Symbol(f"_p{i}", real=True) for i in range(len(parsed.variables))]
        data = [sympy.Symbol(f"_d{i}", real=True) for i in range(len(parsed.data))]
        mats = [sympy.Symbol(f"_m{i}", real=True) for i in range(len(parsed.matrices))]
        body = parsed.expr.xreplace(dict(zip(parsed.symbols, params)))
        body = body.xreplace({sympy.Symbol(c, real=True): d for c, d in zip(parsed.data, data)})
        body = body.xreplace({sympy.Symbol(c, real=True): d for c, d in zip(parsed.matrices, mats)})
        fn = lambdify_torch(params + data + mats, body)
        cols = [table.tensor(c, dtype=dtype, device=device) for c in parsed.data]
        n = table.rows
        if not self.shapes and not parsed.matrices:
            def predict(P: torch.Tensor) -> torch.Tensor:
                out = fn(*[P[:, j:j + 1] for j in range(P.shape[1])], *cols)
                return torch.as_tensor(out, dtype=P.dtype, device=P.device).expand(P.shape[0], n)

            return predict
        # Vector parameters and matrices: laid out as minimize lays them out (gdsolve.core.shapes), the rows on the
        # last dim; the value is one number per start and row.
        layout = Layout.build(parsed.variables, self.shapes or {}, cols,
                              [table.matrix(m, dtype=dtype, device=device) for m in parsed.matrices])

        def predict_shaped(P: torch.Tensor) -> torch.Tensor:
            out = torch.as_tensor(fn(*layout.operands(P)), dtype=P.dtype, device=P.device)
            return out.reshape(out.shape[0], -1).expand(P.shape[0], n)

        return predict_shaped

    def residuals(self, dtype: torch.dtype = torch.float64, device: Any = None) -> Callable[[torch.Tensor], torch.Tensor]:
        """``P (B, p) -> (response - model) / sigma (B, n)``."""
        predict = self.predictor(dtype, device)
        y = self.observed(dtype, device)
        w = self.weights(dtype, device)
        if w is None:
            return lambda P: y - predict(P)
        return lambda P: (y - predict(P)) / w


def split_model(text: str) -> tuple[str, str]:
    """``"y ~ a*x"`` -> ``("y", "a*x")``; exactly one ``~`` and a right side (``"~ r"``, one-sided, is ``("", "r")``).

    >>> split_model("~ y - a*x")
    ('', 'y - a*x')
    """
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
                parameters: Sequence[str] | None = None, shapes: Any = None) -> FitModel:
    """Parse ``response ~ formula`` against ``table``'s column names.

    ``shapes`` (``{"w": 10}`` or ``["w=10"]``) makes parameters vectors; a ``w`` in ``X @ w`` is one without it.

    >>> from gdsolve.formula.data import table_from_mapping
    >>> t = table_from_mapping({"y": [1, 2, 4], "age": [1, 2, 3], "bmi": [0, 1, 1]})
    >>> parse_model("y ~ .", t).parameters
    ('b0', 'b[age]', 'b[bmi]')

    Raises:
        ExpressionError: a malformed side, a response with no column, a formula with no parameter.
        DataError: a ``sigma`` column that is missing or not positive.
    """
    left, right = split_model(text)
    names = table.names
    factors = {n: f.levels for n, f in table.factors.items()}
    response = parse_data_expression(left, names, factors) if left else None
    if right == ".":
        right, table = _all_columns(left, response, table, sigma)
        parameters = parameters or ("b0", "b")
    try:
        parsed = parse_expression(right, data=names, variables=parameters, matrices=tuple(table.matrices),
                                  factors=factors)
    except ExpressionError as exc:
        if "has no variables" in str(exc):
            raise ExpressionError(f"the model {shown(right)} has no parameters: every name in it is a data column "
                                  f"({', '.join(names)}); add a parameter to fit, as in 'y ~ a*x + b'") from None
        raise
    shaped = _parameter_shapes(parsed, table, shapes)
    if sigma is not None:
        values = table.require(sigma, "--sigma")
        bad = next((i for i, v in enumerate(values) if not (v > 0 and math.isfinite(v))), None)
        if bad is not None:
            raise DataError(f"{table.source}: sigma column {shown(sigma)} row {bad + 1} is {values[bad]}; "
                            "every per-point error must be a positive number")
    model = FitModel(text.strip(), left, parsed, response, table, sigma, shaped,
                     _element_labels(parsed, table, shaped))
    if shaped or parsed.matrices:
        _probe(model)
    return model


def _all_columns(left: str, response: Any, table: Table, sigma: str | None) -> tuple[str, Table]:
    """``y ~ .``: ``b0 + X @ b`` with X every column but the response's and sigma's (a text column's indicators)."""
    used = {str(s) for s in response.free_symbols} if response is not None else set()
    if sigma is not None:
        used.add(sigma)
    taken = set(table.header) | set(table.columns) | set(table.factors) | set(table.matrices)
    clash = [n for n in ("b0", "b") if n in taken]
    if clash:
        raise ExpressionError(f"'y ~ .' names its coefficients b0 and b[column], but {shown(clash[0])} is a column; "
                              "write the model out, as 'y ~ c0 + X @ c' with --matrix X=...")
    if response is None:
        raise ExpressionError("'~ .' needs a response on the left, as 'y ~ .'")
    picked = [n for n in (table.header or table.names) if n not in used]
    if not picked:
        raise ExpressionError(f"'{left} ~ .' leaves no column to fit with: the data has only {', '.join(used)}")
    name = next(n for n in ("X", "X_", "X__all") if n not in taken)
    return f"b0 + {name} @ b", matrix_of_columns(table, name, ".", picked)


def _parameter_shapes(parsed: ParsedExpression, table: Table, shapes: Any) -> dict[str, tuple[int, ...]]:
    shaped = parse_shapes(shapes)
    unknown = [k for k in shaped if k not in parsed.variables]
    if unknown:
        raise OptionError(f"{{shape}} names {unknown[0]}, which is not a parameter of the model "
                          f"(parameters: {', '.join(parsed.variables)})")
    return product_shapes(parsed, table, shaped) if parsed.products else shaped


def _element_labels(parsed: ParsedExpression, table: Table, shapes: dict[str, tuple[int, ...]]) -> tuple[str, ...]:
    """Each fitted number's name: ``w[age]`` for a vector that multiplies a matrix, ``w[0]`` for other vectors."""
    by_matrix = {v: m for m, v in parsed.products}
    out: list[str] = []
    for v in parsed.variables:
        if v in by_matrix:
            out.extend(f"{v}[{label}]" for label in table.matrix_of(by_matrix[v]).labels)
        else:
            out.extend(element_names(shapes, [v]))
    return tuple(out)


def _probe(model: FitModel) -> None:
    """Evaluate once at ones: shapes that do not fit fail here, naming the model, not inside the fit."""
    P = torch.ones(1, len(model.parameters), dtype=torch.float64)
    try:
        out = model.predictor()(P)
    except MatrixShapeError as exc:
        raise ExpressionError(f"the shapes in the model {shown(model.parsed.text)} do not fit together: {exc}") from None
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ExpressionError(f"the model {shown(model.parsed.text)} is not one value per data row: {first}") from None
    if out.shape != (1, model.table.rows):
        raise ExpressionError(f"the model {shown(model.parsed.text)} is not one value per data row")
