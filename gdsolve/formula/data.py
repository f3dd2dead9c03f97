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

Columns are stored as ``array('d')`` -- 8 bytes a value, no torch needed to
read a file -- and become tensors without a copy (:meth:`Table.tensor`).

Example:
    >>> t = parse_table("x,y\\n1,2\\n3,4.5\\n", "inline.csv")
    >>> t.names, t.rows, list(t.columns["y"])
    (('x', 'y'), 2, [2.0, 4.5])
"""

from __future__ import annotations

import csv
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
class Table:
    """Named columns of float64 numbers, all the same length.

    Attributes:
        source: where it came from (a path, ``<stdin>`` or ``<mapping>``), as errors name it.
        columns: column name -> values, in the file's order.
        dropped: how many rows were dropped for missing values.
    """

    source: str
    columns: Mapping[str, array]
    dropped: int = 0

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self.columns)

    @property
    def rows(self) -> int:
        return len(next(iter(self.columns.values()))) if self.columns else 0

    def tensor(self, name: str, *, dtype: torch.dtype | None = None, device: Any = None) -> torch.Tensor:
        """Column ``name`` as a 1-d tensor (float64 unless ``dtype``)."""
        import torch

        values = self.columns[name]
        t = torch.frombuffer(values, dtype=torch.float64) if len(values) else torch.zeros(0, dtype=torch.float64)
        return t.to(dtype=dtype or torch.float64, device=device)

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
    values = [array("d") for _ in names]
    width = len(names)
    missing_rows, first_missing, dropped = 0, "", 0
    for number, line in lines:
        cells = split(line)
        if len(cells) != width:
            raise DataError(f"{source} line {number} has {len(cells)} cell{'s' * (len(cells) != 1)}; "
                            f"the header has {width} ({', '.join(names)}); every row needs one value per column")
        row = []
        gap = None
        for col, cell in zip(names, cells):
            cell = cell.strip()
            if cell.lower() in MISSING:
                gap = gap or col
                row.append(math.nan)
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
    if not values[0]:
        more = f" after dropping {dropped} with missing values" if dropped else ""
        raise DataError(f"{source} has a header but no rows of data{more}")
    return Table(source, dict(zip(names, values)), dropped)


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


def table_from_mapping(data: Mapping[str, Sequence[float]], source: str = "<mapping>") -> Table:
    """A table from ``{"x": [...], "y": [...]}`` (lists, tuples, arrays or 1-d tensors)."""
    if not isinstance(data, Mapping):
        raise DataError(f"data must be a mapping of column name to numbers or a path, not {type(data).__name__}")
    if not data:
        raise DataError("data has no columns; give a mapping such as {'x': [1, 2], 'y': [3, 4]}")
    columns: dict[str, array] = {}
    for key, seq in data.items():
        if not isinstance(key, str):
            raise DataError(f"data column names must be text, not {type(key).__name__}")
        if hasattr(seq, "detach"):  # a tensor: flatten through a list of floats
            seq = seq.detach().cpu().reshape(-1).tolist()
        elif isinstance(seq, (str, bytes)) or not isinstance(seq, Iterable):
            raise DataError(f"data column {shown(key)} must be a sequence of numbers, not {type(seq).__name__}")
        try:
            arr = array("d", (float(v) for v in seq))
        except (TypeError, ValueError):
            raise DataError(f"data column {shown(key)} holds a value that is not a number") from None
        bad = next((i for i, v in enumerate(arr) if not math.isfinite(v)), None)
        if bad is not None:
            raise DataError(f"data column {shown(key)} row {bad + 1} is {arr[bad]}; every value must be finite")
        columns[key] = arr
    lengths = {k: len(v) for k, v in columns.items()}
    if len(set(lengths.values())) > 1:
        raise DataError("data columns differ in length: " + ", ".join(f"{k} has {n}" for k, n in lengths.items()))
    if not next(iter(lengths.values())):
        raise DataError("data columns are empty")
    return Table(source, columns)


def load(data: Table | Mapping[str, Sequence[float]] | str | os.PathLike[str], *, drop_missing: bool = False) -> Table:
    """A :class:`Table` from a table, a mapping of columns, or a path (``-`` for stdin)."""
    if isinstance(data, Table):
        return data
    if isinstance(data, (str, os.PathLike)):
        return read_table(data, drop_missing=drop_missing)
    return table_from_mapping(data)
