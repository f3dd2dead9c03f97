"""Shaped variables (``--shape w=3``, ``--shape x=2,2``) and data columns in a formula.

The engine works on a batch of flat points ``(B, d)``: a shaped variable is
``prod(shape)`` of its columns, named element by element (``w[0]``,
``x[0,1]``), so every method, bound, trace and start works on it unchanged.
:class:`Layout` puts the columns back into shape for the formula:

* every operand is laid out as ``(B, *dims)`` with the same number of dims
  ``R`` (the largest rank of a shaped variable; 1 when data columns are used);
  shapes are right-aligned, as numpy and torch broadcast: a scalar variable is
  ``(B, 1, ..., 1)``, ``w`` of shape 3 is ``(B, ..., 3)``, a data column of
  ``n`` rows is ``(1, ..., n)``;
* a data matrix (``X @ w``, :mod:`gdsolve.formula.matrices`) is ``(rows, k)`` as it is: ``X @ w`` with ``w``
  ``(B, ..., k)`` is ``(B, ..., rows)``, the rows where a data column's are;
* ``sum``, ``mean``, ``prod`` and ``norm`` reduce every dim but the batch
  (``dot(a, b)`` is ``sum(a*b)``), so the objective reduces to one number per start.

Values go back out as nested lists (:func:`regroup`): ``{"w[0]": 1, "w[1]": 2}`` is ``{"w": [1, 2]}``.

Example:
    >>> parse_shapes(["w=3", "x=2,2"])
    {'w': (3,), 'x': (2, 2)}
    >>> element_names({"x": (2, 2)}, ["x", "b"])
    ['x[0,0]', 'x[0,1]', 'x[1,0]', 'x[1,1]', 'b']
    >>> regroup({"x": (2, 2)}, {"x[0,0]": 1.0, "x[0,1]": 2.0, "x[1,0]": 3.0, "x[1,1]": 4.0, "b": 5.0})
    {'x': [[1.0, 2.0], [3.0, 4.0]], 'b': 5.0}
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .errors import ExpressionError, OptionError, shown

#: The most elements all shaped variables together may have.
MAX_ELEMENTS = 10_000_000

Shapes = dict[str, tuple[int, ...]]


def named_specs(specs: Sequence[str] | Mapping[str, Any], refuse: Callable[[str], Exception]) -> list[tuple[str, Any]]:
    """``NAME=VALUE`` texts (the command line) or a mapping (Python) as ``[(name, value)]``: the one reader of
    ``--shape`` and ``--matrix``; ``refuse(spec)`` is the error for a text without a name, ``=`` or value.

    >>> named_specs(["w=3", " X = a..b"], ValueError)
    [('w', '3'), ('X', 'a..b')]
    """
    if isinstance(specs, Mapping):
        return list(specs.items())
    items = []
    for spec in specs:
        name, sep, value = str(spec).partition("=")
        if not sep or not name.strip() or not value.strip():
            raise refuse(str(spec))
        items.append((name.strip(), value.strip()))
    return items


def parse_shapes(specs: Sequence[str] | Mapping[str, Any] | None) -> Shapes:
    """``["w=3", "x=2,2"]`` (the command line) or ``{"w": 3, "x": (2, 2)}`` (Python) -> ``{name: shape}``."""
    if not specs:
        return {}
    out: Shapes = {}

    def refuse(spec: str) -> Exception:
        return OptionError(f"{{shape}} {shown(spec)} must be NAME=DIMS, as [[--shape w=3 or --shape x=2,2||"
                           "shape={'w': 3, 'x': (2, 2)}]]")

    items: list[tuple[str, Any]] = []
    for name, dims in named_specs(specs, refuse):
        if not isinstance(dims, str):
            items.append((name, dims))
            continue
        try:
            items.append((name, tuple(int(d) for d in dims.split(","))))
        except ValueError:
            raise OptionError(f"{{shape}} {shown(f'{name}={dims}')}: the dimensions must be whole numbers, "
                              "as x=2,2") from None
    total = 0
    for name, dims in items:
        if not isinstance(name, str) or not name.isidentifier():
            raise OptionError(f"{{shape}} names {shown(name)}, which is not a variable name")
        if isinstance(dims, int) and not isinstance(dims, bool):
            dims = (dims,)
        if (not isinstance(dims, Sequence) or not dims or len(dims) > 8
                or not all(isinstance(d, int) and not isinstance(d, bool) and d >= 1 for d in dims)):
            raise OptionError(f"{{shape}} of {name} must be 1 to 8 whole numbers >= 1, got {shown(dims)}")
        if name in out:
            raise OptionError(f"{{shape}} gives {name} twice")
        out[name] = tuple(dims)
        total += math.prod(dims)
    if total > MAX_ELEMENTS:
        raise OptionError(f"{{shape}} makes {total:,} elements; the limit is {MAX_ELEMENTS:,}")
    return out


def _index(idx: tuple[int, ...]) -> str:
    return "[" + ",".join(map(str, idx)) + "]"


def element_names(shapes: Mapping[str, tuple[int, ...]], variables: Sequence[str]) -> list[str]:
    """The engine's column names: each shaped variable's elements in row-major order, others as they are."""
    out: list[str] = []
    for v in variables:
        if v in shapes:
            out.extend(v + _index(i) for i in itertools.product(*(range(d) for d in shapes[v])))
        else:
            out.append(v)
    return out


def _nest(flat: list[Any], shape: tuple[int, ...]) -> Any:
    if len(shape) == 1:
        return flat
    step = math.prod(shape[1:])
    return [_nest(flat[i * step:(i + 1) * step], shape[1:]) for i in range(shape[0])]


def regroup(shapes: Mapping[str, tuple[int, ...]], values: Mapping[str, Any]) -> dict[str, Any]:
    """Flat ``{"w[0]": ..}`` values back to ``{"w": [...]}`` nested lists (other names unchanged)."""
    if not shapes:
        return dict(values)
    out: dict[str, Any] = {}
    pending: dict[str, list[Any]] = {}
    for key, v in values.items():
        base = key.split("[", 1)[0]
        if base in shapes and "[" in key:
            if base not in out:
                out[base] = None  # keep the variable's place in the order
                pending[base] = []
            pending[base].append(v)
        else:
            out[key] = v
    for base, flat in pending.items():
        out[base] = _nest(flat, shapes[base])
    return out


def expand_point(shapes: Mapping[str, tuple[int, ...]], variables: Sequence[str], point: Any,
                 option: str = "x0") -> Any:
    """A start for shaped variables: ``{"x": 1}`` fills every element, ``{"x": [[1, 2], [3, 4]]}`` sets them.

    Returns the point with element names (other forms of ``point`` are returned unchanged).
    """
    if not shapes or not isinstance(point, Mapping):
        return point
    out: dict[str, Any] = {}
    for key, value in point.items():
        if key not in shapes:
            out[key] = value
            continue
        shape = shapes[key]
        names = element_names({key: shape}, [key])
        if isinstance(value, (list, tuple)):
            flat = _flatten(value, shape, key, option)
            out.update(zip(names, flat))
        else:
            out.update(dict.fromkeys(names, value))
    return out


def _flatten(value: Any, shape: tuple[int, ...], name: str, option: str) -> list[Any]:
    got: list[int] = []
    level = value
    while isinstance(level, (list, tuple)):
        got.append(len(level))
        level = level[0] if level else None
    if tuple(got) != shape:
        raise OptionError(f"{{{option}}} {name} has shape {tuple(got)} but --shape says {shape}")
    flat: list[Any] = []

    def walk(v: Any, depth: int) -> None:
        if depth == len(shape):
            if isinstance(v, (list, tuple)):
                raise OptionError(f"{{{option}}} {name} is nested deeper than its shape {shape}")
            flat.append(v)
            return
        if not isinstance(v, (list, tuple)) or len(v) != shape[depth]:
            raise OptionError(f"{{{option}}} {name} is ragged: every row must have the shape {shape}")
        for item in v:
            walk(item, depth + 1)

    walk(value, 0)
    return flat


def expand_bounds(shapes: Mapping[str, tuple[int, ...]], bounds: Mapping[str, Any]) -> dict[str, Any]:
    """A bound on a shaped variable holds for each of its elements."""
    out: dict[str, Any] = {}
    for key, pair in bounds.items():
        if key in shapes:
            out.update(dict.fromkeys(element_names(shapes, [key]), pair))
        else:
            out[key] = pair
    return out


@dataclass(frozen=True)
class Layout:
    """How the flat columns of a batch, and the data columns, become the formula's operands.

    Attributes:
        variables: the formula's variables, in order; ``shapes``: those that are tensors.
        rank: ``R``, the number of dims after the batch dim every operand has.
        data: the data columns the formula reads, as 1-d tensors, in its order.
    """

    variables: tuple[str, ...]
    shapes: Mapping[str, tuple[int, ...]]
    rank: int
    data: tuple[Any, ...] = ()
    #: the data matrices (``X @ w``), ``(rows, k)`` each, passed as they are after the data columns
    matrices: tuple[Any, ...] = ()
    #: per variable: its first column, its number of columns and its operand's dims after the batch
    blocks: tuple[tuple[int, int, tuple[int, ...]], ...] = ()
    #: the data columns laid out, by (dtype, device): moved once, not at every evaluation
    _placed: dict[Any, list[Any]] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def build(cls, variables: Sequence[str], shapes: Mapping[str, tuple[int, ...]], data: Sequence[Any],
              matrices: Sequence[Any] = ()) -> Layout:
        rank = max([len(s) for s in shapes.values()] + [1 if data or matrices else 0])
        blocks, col = [], 0
        for v in variables:
            shape = tuple(shapes.get(v, ()))
            size = math.prod(shape)
            blocks.append((col, size, (1,) * (rank - len(shape)) + shape))
            col += size
        return cls(tuple(variables), dict(shapes), rank, tuple(data), tuple(matrices), tuple(blocks))

    @property
    def width(self) -> int:
        """The flat columns: ``d`` of the engine's ``(B, d)``."""
        return sum(size for _, size, _ in self.blocks)

    def operands(self, X: Any) -> list[Any]:
        """The formula's arguments from a flat batch ``X (B, d)``: variables (views of X), data columns, matrices."""
        B = X.shape[0]
        key = (X.dtype, X.device)
        if key not in self._placed:
            self._placed[key] = [c.to(dtype=X.dtype, device=X.device).reshape(*([1] * self.rank), c.shape[0])
                                 for c in self.data] + [m.to(dtype=X.dtype, device=X.device) for m in self.matrices]
        return [X[:, col:col + size].reshape(B, *dims) for col, size, dims in self.blocks] + self._placed[key]

    def finish(self, F: Any, B: int, text: str) -> Any:
        """The formula's value ``(B, 1, ..., 1)`` -> ``(B,)``; an unreduced value is an error naming its shape.

        ``F`` is a tensor: the parser refuses a formula that does not depend on its variables.
        """
        inner = tuple(F.shape[1:])
        if math.prod(inner) != 1:
            raise ExpressionError(
                f"the expression {shown(text)} is a tensor of shape {inner} at each point, not one number; "
                "reduce it with sum(...), mean(...), prod(...), norm(...) or dot(a, b)")
        return F.reshape(F.shape[0]).expand(B)
