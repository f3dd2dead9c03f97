"""Matrices of data columns: ``--matrix X=age..s6`` names several columns as one ``rows x k`` matrix.

A formula multiplies it by a vector of ``k`` parameters or variables, ``X @ w``
(one value per data row): a 10-feature linear regression is ``y ~ b0 + X @ w``.
The columns are named by a range in the file's order (``age..s6``, both ends
included), a glob (``s*``), a list (``age,bmi``) or a mix (``age..bmi,s1``); a
text column stands for its indicators (every level but the first).

Example:
    >>> from gdsolve.formula.data import parse_table
    >>> t = with_matrices(parse_table("y,a,b,c\\n1,2,3,4\\n", "t.csv"), {"X": "a..c"})
    >>> t.describe("X")
    'X is 1 row x 3 columns (a..c)'
"""

from __future__ import annotations

import ast
import dataclasses
import fnmatch
from collections.abc import Collection, Mapping, Sequence
from typing import Any

from ..core.errors import shown
from ..core.shapes import named_specs
from .data import DataError, Matrix, Table, subscript


def with_matrices(table: Table, specs: Mapping[str, str | Sequence[str]] | Sequence[str] | None) -> Table:
    """This table with matrices named: ``{"X": "age..s6"}`` or ``["X=age..s6"]`` (see :func:`select_columns`).

    >>> from gdsolve.formula.data import parse_table
    >>> t = with_matrices(parse_table("a,b,c\\n1,2,3\\n", "t.csv"), ["X=a..b"])
    >>> t.matrices["X"].columns
    ('a', 'b')
    """
    if not specs:
        return table
    items = named_specs(specs, lambda spec: DataError(
        f"matrix {shown(spec)} must be NAME=COLUMNS, as X=age..s6, X=s* or X=a,b,c",
        f"--matrix {shown(spec)} must be NAME=COLUMNS, as --matrix X=age..s6, X=s* or X=a,b,c"))
    matrices = dict(table.matrices)
    for name, cols in items:
        if not isinstance(name, str) or not name.isidentifier() or "__" in name:
            raise DataError(f"matrix name {shown(name)} is not a name; use letters, digits and _, as X")
        if name in matrices and name not in table.matrices:
            raise DataError(f"matrix {name} is given twice; give each matrix once, with all its columns "
                            f"({name}=a..c,e)", f"--matrix {name} is given twice; give each matrix once, with all "
                            f"its columns (--matrix {name}=a..c,e)")
        if name in table.columns or name in table.factors or name in matrices:
            raise DataError(f"matrix name {shown(name)} is already a column or a matrix of {table.source}; "
                            f"pick another name, as {name}_matrix")
        spec = cols if isinstance(cols, str) else ",".join(map(str, cols))
        chosen = select_columns(table, spec)
        labels = tuple(c.replace("[", "").replace("]", "") if subscript(c) else c for c in chosen)
        matrices[name] = Matrix(spec, chosen, labels)
    return dataclasses.replace(table, matrices=matrices)


def _labelled(spec: str, columns: Sequence[str]) -> Matrix:
    # A coefficient is named by its column; a factor's indicator sex[M] as R names it, sexM.
    return Matrix(spec, tuple(columns), tuple(c.replace("[", "").replace("]", "") if subscript(c) else c
                                              for c in columns))


def matrix_of_columns(table: Table, name: str, spec: str, names: Sequence[str]) -> Table:
    """``table`` with matrix ``name`` of the columns ``names`` (a text column: its indicators; a matrix: its
    columns), as ``y ~ .`` takes every other column."""
    cols: list[str] = []
    for n in names:
        if n in table.factors or n in table.matrices:
            cols.extend(table.matrix_of(n).columns)
        else:
            cols.append(n)
    return dataclasses.replace(table, matrices={**table.matrices, name: _labelled(spec, cols)})


def select_columns(table: Table, spec: str) -> tuple[str, ...]:
    """The columns a matrix spec names, in the order written: items separated by commas, each a
    column, a range ``age..s6`` (the file's order, both ends included) or a glob (``s*``, ``x?``).
    A text column stands for its indicators (every level but the first: ``sex[M]``).

    >>> from gdsolve.formula.data import parse_table
    >>> t = parse_table("y,age,sex,bmi,s1,s2\\n1,2,3,4,5,6\\n", "d.csv")
    >>> select_columns(t, "age..bmi"), select_columns(t, "s?"), select_columns(t, "bmi, age")
    (('age', 'sex', 'bmi'), ('s1', 's2'), ('bmi', 'age'))
    """
    header = table.header or table.names
    listing = f"the columns of {table.source} are: {', '.join(header)}"
    out: list[str] = []
    for item in (p.strip() for p in spec.split(",")):
        if not item:
            raise DataError(f"matrix columns {shown(spec)} have an empty item; separate columns with one comma")
        if ".." in item:
            first, _, last = (p.strip() for p in item.partition(".."))
            missing = [c for c in (first, last) if c not in header]
            if missing:
                raise DataError(f"the range {shown(item)} names {shown(missing[0])}, which is not a column; {listing}")
            i, j = header.index(first), header.index(last)
            if i > j:
                raise DataError(f"the range {shown(item)} runs backwards: {first} comes after {last} in "
                                f"{table.source}; write {last}..{first}")
            names = list(header[i:j + 1])
        elif any(ch in item for ch in "*?["):
            names = [c for c in header if fnmatch.fnmatchcase(c, item)]
            if not names:
                raise DataError(f"the pattern {shown(item)} matches no column; {listing}")
        elif item in header:
            names = [item]
        else:
            raise DataError(f"matrix columns {shown(spec)} name {shown(item)}, which is not a column; {listing}")
        for name in names:
            cols = table.matrix_of(name).columns if name in table.factors else (name,)
            for c in cols:
                if c in out:
                    raise DataError(f"matrix columns {shown(spec)} name {c} twice; name each column once")
                out.append(c)
    return tuple(out)


def columns_record(table: Table) -> dict[str, list[Any]]:
    """Every column as a list, in the file's order, a text column as its text (a trace's ``data``;
    :func:`gdsolve.formula.data.table_from_mapping` reads it back, text as factors)."""
    out: dict[str, list[Any]] = {}
    for name in (*table.header, *table.columns):
        if name in out:
            continue
        if name in table.columns:
            out[name] = list(table.columns[name])
        elif name in table.factors:
            f = table.factors[name]
            out[name] = [f.levels[c] for c in f.codes]
    return out


def matrices_record(table: Table) -> dict[str, dict[str, Any]]:
    """The named matrices as plain data (a trace's ``matrices``), for :func:`restore_matrices`."""
    return {name: {"spec": m.spec, "columns": list(m.columns), "labels": list(m.labels)}
            for name, m in table.matrices.items()}


def restore_matrices(table: Table, record: Any) -> Table:
    """``table`` with the matrices of a :func:`matrices_record` (unknown columns are a :class:`DataError`)."""
    if not isinstance(record, Mapping) or not record:
        return table
    matrices = dict(table.matrices)
    for name, m in record.items():
        try:
            cols, labels = tuple(map(str, m["columns"])), tuple(map(str, m["labels"]))
            missing = [c for c in cols if c not in table.columns and subscript(c) is None]
        except (TypeError, KeyError):
            raise DataError(f"the matrix {shown(name)} of the trace is not a record of columns") from None
        if missing:
            raise DataError(f"the matrix {shown(name)} of the trace names {shown(missing[0])}, which its data lacks")
        matrices[str(name)] = Matrix(str(m.get("spec", name)), cols, labels)
    return dataclasses.replace(table, matrices=matrices)


def level_column(base: str, index: ast.AST, levels: Sequence[str] | None, data: Collection[str]) -> str:
    """The column a formula's ``state[treated]`` reads (a text column's indicator); ValueError says what is wrong.

    >>> level_column("state", ast.parse("state[treated]").body[0].value.slice, ("control", "treated"), ())
    'state[treated]'
    """
    if isinstance(index, ast.Name):
        level = index.id
    elif isinstance(index, ast.Constant) and isinstance(index.value, (str, int)) and not isinstance(index.value, bool):
        level = str(index.value)
    else:
        raise ValueError(f"write a level of {base} in brackets, as {base}[treated]")
    if levels is not None and level not in levels:
        raise ValueError(f"{shown(level)} is not a level of {base}; its levels are: {', '.join(levels)}")
    name = f"{base}[{level}]"
    if levels is None and name not in data:
        raise ValueError(f"{shown(level)} is not a level of {base}")
    return name


def misused_matrix(name: str, levels: Sequence[str] | None) -> str:
    """What to write instead, where a text column (``levels``) or a matrix is used as a number."""
    if levels is None:
        return (f"{name} is a matrix of data columns; use it as {name} @ w, one value per row "
                "(w a vector, --shape w=K, as many elements as the matrix has columns)")
    other = levels[1] if len(levels) > 1 else levels[0]
    return (f"{name} is a text column (levels {', '.join(levels)}), not numbers; use it as a factor: {name}[{other}] "
            f"is 1 where {name} is {other!r} and 0 elsewhere, and {name} @ b gives one coefficient per level but "
            f"the first ({levels[0]})")


def misused_matmul(matrices: Sequence[str]) -> str:
    """The error of an ``@`` whose left is not a matrix."""
    known = f" (the matrices are: {', '.join(matrices)})" if matrices else ""
    return f"the left of @ must be a data matrix named with --matrix, as X @ w with --matrix X=age..s6{known}"
