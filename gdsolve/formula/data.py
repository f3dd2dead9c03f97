"""Data tables: columns of numbers read from a file, bound by name in a formula.

A table is read from CSV, TSV or whitespace-separated columns (as NIST and
gnuplot write them), always with a header row that names the columns; ``-``
reads standard input. Lines that start with ``#`` and blank lines are skipped.
The separator is chosen from the header line: a comma means CSV, a tab means
TSV, anything else means runs of spaces.

Every error names the file, the line and the column, and says what to do:
a ragged row, a cell that is not a number, an empty file, a duplicated or
missing column. A cell that is empty or reads ``NA``, ``NaN``, ``null`` or
``?`` is *missing*: rows with missing cells are refused with a count, unless
the caller asks to drop them (``--drop-missing``).

A column whose first value is text (``control``, ``treated``) is a *factor*
(:class:`Factor`): its levels sorted as R sorts them, the first the reference.
A formula reads ``state[treated]``, 1 where ``state`` is ``treated`` and 0
elsewhere, or ``state @ b``, one coefficient per level but the first (treatment
coding, as R's ``lm``). A column of numbers with a stray word in it is still an
error naming the line.

Several columns can be named as one *matrix* (``--matrix X=age..s6``, see
:mod:`gdsolve.formula.matrices`), for ``X @ w`` in a formula.

Columns are stored as ``array('d')`` -- 8 bytes a value, no torch needed to
read a file -- and become tensors without a copy (:meth:`Table.tensor`).

Example:
    >>> t = parse_table("x,y\\n1,2\\n3,4.5\\n", "inline.csv")
    >>> t.names, t.rows, list(t.columns["y"])
    (('x', 'y'), 2, [2.0, 4.5])
"""

from __future__ import annotations

import csv
import dataclasses
import io
import math
import os
import sys
from array import array
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TextIO

from ..core.errors import GdsolveError, shown

if TYPE_CHECKING:
    import torch

#: Cell texts read as "no value here".
MISSING = frozenset({"", "na", "nan", "null", "none", "?", "n/a"})


class DataError(GdsolveError, ValueError):
    """A data file or mapping cannot be read as a table of numbers.

    Its message is literal text (a file name or a cell may contain braces), with
    the command-line spelling given separately where it differs.
    """

    def __init__(self, message: str, cli: str | None = None) -> None:
        Exception.__init__(self, message)
        self.template = message
        self._cli = cli or message

    def cli_message(self) -> str:
        return self._cli


@dataclass(frozen=True)
class Factor:
    """A text column: its levels (sorted, the first is the reference) and each row's level index.

    >>> f = Factor.of(["b", "a", "b"])
    >>> f.levels, list(f.codes)
    (('a', 'b'), [1, 0, 1])
    """

    levels: tuple[str, ...]
    codes: array

    @classmethod
    def of(cls, cells: Sequence[str]) -> Factor:
        levels = tuple(sorted(set(cells)))
        index = {v: i for i, v in enumerate(levels)}
        return cls(levels, array("l", (index[c] for c in cells)))

    def indicator(self, level: str) -> array:
        """1.0 where the row's level is ``level``, else 0.0."""
        i = self.levels.index(level)
        return array("d", (1.0 if c == i else 0.0 for c in self.codes))


@dataclass(frozen=True)
class Matrix:
    """Several columns read as one ``rows x k`` matrix (``--matrix X=age..s6``).

    Attributes:
        spec: the columns as the user wrote them (``age..s6``), for messages.
        columns: the table's columns (or a factor's indicators, ``sex[M]``), in order.
        labels: what a coefficient of each column is called: ``w[age]``; a factor's level, ``b[treated]``.
    """

    spec: str
    columns: tuple[str, ...]
    labels: tuple[str, ...]


def subscript(name: str) -> tuple[str, str] | None:
    """``"state[treated]"`` -> ``("state", "treated")``."""
    if name.endswith("]") and "[" in name:
        base, _, level = name[:-1].partition("[")
        return base, level
    return None


@dataclass(frozen=True)
class Table:
    """Named columns of float64 numbers, all the same length; text columns as factors; named matrices.

    Attributes:
        source: where it came from (a path, ``<stdin>`` or ``<mapping>``), as errors name it.
        columns: column name -> values, in the file's order.
        dropped: how many rows were dropped for missing values.
        factors: the text columns, name -> :class:`Factor` (not among ``columns``).
        matrices: named groups of columns, name -> :class:`Matrix`.
        header: every column's name in the file's order, text columns included.
    """

    source: str
    columns: Mapping[str, array]
    dropped: int = 0
    factors: Mapping[str, Factor] = dataclasses.field(default_factory=dict)
    matrices: Mapping[str, Matrix] = dataclasses.field(default_factory=dict)
    header: tuple[str, ...] = ()

    @property
    def names(self) -> tuple[str, ...]:
        """The columns of numbers (text columns are :attr:`factors`)."""
        return tuple(self.columns)

    @property
    def rows(self) -> int:
        if self.columns:
            return len(next(iter(self.columns.values())))
        return len(next(iter(self.factors.values())).codes) if self.factors else 0

    def values(self, name: str) -> array:
        """A column's numbers; ``state[treated]`` is a factor's indicator of one level."""
        if name in self.columns:
            return self.columns[name]
        sub = subscript(name)
        if sub is not None and sub[0] in self.factors:
            return self.factors[sub[0]].indicator(sub[1])
        raise KeyError(name)

    def tensor(self, name: str, *, dtype: torch.dtype | None = None, device: Any = None) -> torch.Tensor:
        """Column ``name`` as a 1-d tensor (float64 unless ``dtype``); a factor's indicator by ``state[treated]``."""
        import torch

        values = self.values(name)
        t = torch.frombuffer(values, dtype=torch.float64) if len(values) else torch.zeros(0, dtype=torch.float64)
        return t.to(dtype=dtype or torch.float64, device=device)

    def matrix(self, name: str, *, dtype: torch.dtype | None = None, device: Any = None) -> torch.Tensor:
        """Matrix ``name`` (or a factor's indicators but the reference's) as a ``(rows, k)`` tensor."""
        import torch

        cols = self.matrix_of(name).columns
        return torch.stack([self.tensor(c, dtype=dtype, device=device) for c in cols], dim=1)

    def matrix_of(self, name: str) -> Matrix:
        """The :class:`Matrix` called ``name``; a factor is the matrix of its indicators but the reference's."""
        if name in self.matrices:
            return self.matrices[name]
        levels = self.factors[name].levels[1:]
        return Matrix(name, tuple(f"{name}[{v}]" for v in levels), levels)

    def describe(self, name: str) -> str:
        """``X is 442 rows x 10 columns (age..s6)``, as shape errors say it."""
        m = self.matrix_of(name)
        k = len(m.columns)
        if name in self.factors:
            return (f"{name} (a text column, levels {', '.join(self.factors[name].levels)}) is {self.rows} rows x "
                    f"{k} indicator{'s' * (k != 1)} (every level but the first, {self.factors[name].levels[0]})")
        return f"{name} is {self.rows} row{'s' * (self.rows != 1)} x {k} column{'s' * (k != 1)} ({m.spec})"

    def require(self, name: str, what: str) -> array:
        """Column ``name``, or an error that lists the columns there are."""
        if name not in self.columns:
            raise DataError(f"{self.source} has no column {shown(name)} ({what}); "
                            f"its columns are: {', '.join(self.names)}")
        return self.columns[name]


def read_table(source: str | os.PathLike[str] | TextIO, *, drop_missing: bool = False) -> Table:
    """Read a table with a header row from a path, ``-`` (stdin) or an open text file.

    Args:
        source: a path; ``"-"`` for standard input; or an open text file.
        drop_missing: drop rows with missing cells instead of refusing them.

    Raises:
        DataError: naming the file, line and column of the first problem.
    """
    if hasattr(source, "read"):
        return _read_lines(source, getattr(source, "name", "<file>"), drop_missing)  # type: ignore[arg-type]
    path = os.fspath(source)
    if path == "-":
        return _read_lines(sys.stdin, "<stdin>", drop_missing)
    try:
        with open(path, encoding="utf-8", newline="") as fh:
            return _read_lines(fh, path, drop_missing)
    except FileNotFoundError:
        raise DataError(f"data file {shown(path)} does not exist") from None
    except IsADirectoryError:
        raise DataError(f"data file {shown(path)} is a directory; give a CSV, TSV or whitespace-separated file") from None
    except PermissionError:
        raise DataError(f"data file {shown(path)} cannot be read (permission denied)") from None
    except UnicodeDecodeError as exc:
        raise DataError(f"data file {shown(path)} is not UTF-8 text (byte {exc.start}); "
                        "save it as text (CSV, TSV or columns)") from None


def parse_table(text: str, name: str, *, drop_missing: bool = False) -> Table:
    """A table from its text; ``name`` is what errors call it.

    >>> parse_table("x y\\n1 2\\n", "inline").rows
    1
    """
    return _read_lines(io.StringIO(text), name, drop_missing)


def _content(lines: Iterable[str]) -> Iterator[tuple[int, str]]:
    """(line number, text) of the lines that hold data: no blank lines, no # comments."""
    for number, line in enumerate(lines, start=1):
        text = line.strip()
        if text and not text.startswith("#"):
            yield number, line.rstrip("\r\n")


def _splitter(header: str) -> Any:
    if "," in header:
        return lambda line: next(csv.reader([line]))
    if "\t" in header:
        return lambda line: [c.strip() for c in line.split("\t")]
    return lambda line: line.split()


def _read_lines(fh: TextIO, source: str, drop_missing: bool) -> Table:
    lines = _content(fh)
    try:
        first = next(lines, None)
    except UnicodeDecodeError as exc:
        raise DataError(f"{source} is not UTF-8 text (byte {exc.start})") from None
    if first is None:
        raise DataError(f"{source} is empty: it needs a header row naming the columns, then rows of numbers")
    split = _splitter(first[1])
    names = [c.strip() for c in split(first[1])]
    _check_header(names, source, first[0])
    values: list[Any] = [array("d") for _ in names]
    width = len(names)
    # A column is text when its first value is not a number; then every cell is a level, kept as written.
    text: list[bool | None] = [None] * width
    first_text: dict[int, tuple[int, str]] = {}
    missing_rows, first_missing, dropped = 0, "", 0
    for number, line in lines:
        cells = split(line)
        if len(cells) != width:
            raise DataError(f"{source} line {number} has {len(cells)} cell{'s' * (len(cells) != 1)}; "
                            f"the header has {width} ({', '.join(names)}); every row needs one value per column")
        row: list[Any] = []
        gap = None
        for i, (col, cell) in enumerate(zip(names, cells)):
            cell = cell.strip()
            if cell.lower() in MISSING:
                gap = gap or col
                row.append(math.nan)
                continue
            if text[i] is None:
                text[i] = not _is_number(cell)
                if text[i]:
                    values[i], first_text[i] = [], (number, cell)
            if text[i]:
                row.append(cell)
                continue
            try:
                v = float(cell)
            except ValueError:
                raise DataError(f"{source} line {number}, column {shown(col)}: {shown(cell)} is not a number") from None
            if not math.isfinite(v):
                raise DataError(f"{source} line {number}, column {shown(col)}: {shown(cell)} is not a finite number")
            row.append(v)
        if gap is not None:
            missing_rows += 1
            first_missing = first_missing or f"line {number}, column {shown(gap)}"
            if drop_missing:
                dropped += 1
                continue
        for arr, v in zip(values, row):
            arr.append(v)
    if missing_rows and not drop_missing:
        raise DataError(
            f"{source}: {missing_rows} row{'s have' if missing_rows != 1 else ' has'} missing values "
            f"(the first at {first_missing}); fill them in or pass drop_missing=True to drop those rows",
            f"{source}: {missing_rows} row{'s have' if missing_rows != 1 else ' has'} missing values "
            f"(the first at {first_missing}); fill them in or pass --drop-missing to drop those rows",
        )
    if not len(values[0]):
        more = f" after dropping {dropped} with missing values" if dropped else ""
        raise DataError(f"{source} has a header but no rows of data{more}")
    factors: dict[str, Factor] = {}
    for i, (number, cell) in first_text.items():
        numeric = sum(_is_number(c) for c in values[i])
        if 2 * numeric > len(values[i]):
            # Mostly numbers: a typo in a column of numbers, not a factor.
            raise DataError(f"{source} line {number}, column {shown(names[i])}: {shown(cell)} is not a number "
                            f"({numeric} of the column's {len(values[i])} values are)")
        factors[names[i]] = Factor.of(values[i])
    columns = {n: v for i, (n, v) in enumerate(zip(names, values)) if i not in first_text}
    return Table(source, columns, dropped, factors, {}, tuple(names))


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def _check_header(names: Sequence[str], source: str, number: int) -> None:
    for i, col in enumerate(names, start=1):
        if not col:
            raise DataError(f"{source} line {number}: column {i} of the header has no name; "
                            "the first row must name every column")
        try:
            float(col)
        except ValueError:
            pass
        else:
            raise DataError(f"{source} line {number}: the first row ({', '.join(names)}) holds numbers, "
                            "not column names; add a header row such as 'x,y'")
    seen = set()
    for col in names:
        if col in seen:
            raise DataError(f"{source} line {number}: the column name {shown(col)} appears twice; names must be unique")
        seen.add(col)


def table_from_mapping(data: Mapping[str, Sequence[Any]], source: str = "<mapping>") -> Table:
    """A table from ``{"x": [...], "y": [...]}`` (lists, tuples, arrays or 1-d tensors).

    A 2-d value (a list of rows, a 2-d tensor or array) is a matrix for ``X @ w``, its columns
    ``X[0]``, ``X[1]``...; a list of text is a factor.

    >>> t = table_from_mapping({"y": [1, 2], "X": [[1, 2], [3, 4]], "g": ["a", "b"]})
    >>> t.matrices["X"].columns, t.factors["g"].levels
    (('X[0]', 'X[1]'), ('a', 'b'))
    """
    if not isinstance(data, Mapping):
        raise DataError(f"data must be a mapping of column name to numbers or a path, not {type(data).__name__}")
    if not data:
        raise DataError("data has no columns; give a mapping such as {'x': [1, 2], 'y': [3, 4]}")
    columns: dict[str, array] = {}
    factors: dict[str, Factor] = {}
    matrices: dict[str, Matrix] = {}
    for key, seq in data.items():
        if not isinstance(key, str):
            raise DataError(f"data column names must be text, not {type(key).__name__}")
        if hasattr(seq, "tolist") and getattr(seq, "ndim", 1) == 2:  # a tensor or array: a matrix
            seq = seq.tolist()
        if hasattr(seq, "detach"):  # a tensor: flatten through a list of floats
            seq = seq.detach().cpu().reshape(-1).tolist()
        elif isinstance(seq, Sequence) and seq and all(isinstance(v, str) for v in seq):
            factors[key] = Factor.of(list(seq))
            continue
        elif isinstance(seq, Sequence) and seq and all(isinstance(v, (list, tuple)) for v in seq):
            k = len(seq[0])
            if not k or any(len(row) != k for row in seq):
                raise DataError(f"data matrix {shown(key)} is ragged: every row needs the same number of values")
            names = tuple(f"{key}[{j}]" for j in range(k))
            for j, name in enumerate(names):
                columns[name] = _numbers(key, [row[j] for row in seq])
            matrices[key] = Matrix(key, names, tuple(map(str, range(k))))
            continue
        elif isinstance(seq, (str, bytes)) or not isinstance(seq, Iterable):
            raise DataError(f"data column {shown(key)} must be a sequence of numbers, not {type(seq).__name__}")
        columns[key] = _numbers(key, seq)
    lengths = {k: len(v) for k, v in columns.items()} | {k: len(f.codes) for k, f in factors.items()}
    if len(set(lengths.values())) > 1:
        raise DataError("data columns differ in length: " + ", ".join(f"{k} has {n}" for k, n in lengths.items()))
    if not next(iter(lengths.values())):
        raise DataError("data columns are empty")
    return Table(source, columns, 0, factors, matrices, tuple(data))


def _numbers(key: str, seq: Iterable[Any]) -> array:
    try:
        arr = array("d", (float(v) for v in seq))
    except (TypeError, ValueError):
        raise DataError(f"data column {shown(key)} holds a value that is not a number") from None
    bad = next((i for i, v in enumerate(arr) if not math.isfinite(v)), None)
    if bad is not None:
        raise DataError(f"data column {shown(key)} row {bad + 1} is {arr[bad]}; every value must be finite")
    return arr


def load(data: Table | Mapping[str, Sequence[float]] | str | os.PathLike[str], *, drop_missing: bool = False) -> Table:
    """A :class:`Table` from a table, a mapping of columns, or a path (``-`` for stdin)."""
    if isinstance(data, Table):
        return data
    if isinstance(data, (str, os.PathLike)):
        return read_table(data, drop_missing=drop_missing)
    return table_from_mapping(data)
