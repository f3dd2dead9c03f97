"""Data tables: CSV, TSV and columns with a header row; every error names the file, line and column."""

from __future__ import annotations

import io
import math

import pytest

from gdsolve.formula.data import DataError, Table, load, parse_table, read_table, table_from_mapping


def test_csv_tsv_and_whitespace_columns_read_alike():
    csv = parse_table("x,y\n1,2\n3,4.5\n", "a.csv")
    tsv = parse_table("x\ty\n1\t2\n3\t4.5\n", "a.tsv")
    cols = parse_table("# NIST style\n  x     y\n  1     2\n\n  3   4.5E0\n", "a.dat")
    for t in (csv, tsv, cols):
        assert t.names == ("x", "y") and t.rows == 2
        assert list(t.columns["y"]) == [2.0, 4.5]
    assert cols.tensor("x").tolist() == [1.0, 3.0]


def test_a_file_and_stdin(tmp_path, monkeypatch):
    path = tmp_path / "d.csv"
    path.write_text("t,v\n0,1\n1,2\n")
    assert read_table(path).rows == 2
    monkeypatch.setattr("sys.stdin", io.StringIO("t v\n5 6\n"))
    t = read_table("-")
    assert t.source == "<stdin>" and list(t.columns["v"]) == [6.0]


@pytest.mark.parametrize(("text", "words"), [
    ("", ["is empty", "header row"]),
    ("# only a comment\n\n", ["is empty"]),
    ("x,y\n", ["no rows of data"]),
    ("x,y\n1,2\n3\n", ["line 3 has 1 cell", "the header has 2"]),
    ("x,y\n1,2\n3,abc\n", ["line 3, column 'y'", "'abc' is not a number"]),
    ("x,y\n1,inf\n", ["line 2, column 'y'", "not a finite number"]),
    ("1,2\n3,4\n", ["holds numbers, not column names"]),
    ("x,x\n1,2\n", ["'x' appears twice"]),
    ("x,\n1,2\n", ["column 2 of the header has no name"]),
])
def test_errors_name_the_file_line_and_column(text, words):
    with pytest.raises(DataError) as info:
        parse_table(text, "d.csv")
    assert str(info.value).startswith("d.csv")
    for w in words:
        assert w in str(info.value)


def test_missing_values_are_refused_with_a_count_unless_dropped():
    text = "x,y\n1,2\n2,NA\n3,\n4,5\n"
    with pytest.raises(DataError) as info:
        parse_table(text, "d.csv")
    assert "2 rows have missing values (the first at line 3, column 'y')" in str(info.value)
    assert "drop_missing=True" in str(info.value) and "--drop-missing" in info.value.cli_message()
    t = parse_table(text, "d.csv", drop_missing=True)
    assert list(t.columns["x"]) == [1.0, 4.0] and t.dropped == 2


def test_missing_file_directory_and_missing_column(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        read_table(tmp_path / "nope.csv")
    with pytest.raises(DataError, match="is a directory"):
        read_table(tmp_path)
    t = parse_table("x,y\n1,2\n", "d.csv")
    with pytest.raises(DataError, match=r"d.csv has no column 'z' \(--sigma\); its columns are: x, y"):
        t.require("z", "--sigma")


def test_braces_in_a_cell_are_quoted_not_read_as_option_names():
    with pytest.raises(DataError) as info:
        parse_table("x\n1\n{lr}\n", "d.csv")
    assert "{lr}" in info.value.cli_message() and "--lr" not in info.value.cli_message()


def test_mappings_become_tables():
    import torch

    t = table_from_mapping({"x": [1, 2], "y": torch.tensor([3.0, 4.0])})
    assert isinstance(t, Table) and list(t.columns["y"]) == [3.0, 4.0]
    assert load(t) is t
    for bad, word in [({"x": [1], "y": [1, 2]}, "differ in length"), ({"x": [1, "a"]}, "not a number"),
                      ({"x": [math.nan]}, "must be finite"), ({}, "no columns"), ({"x": 3}, "sequence of numbers")]:
        with pytest.raises(DataError, match=word):
            table_from_mapping(bad)
    with pytest.raises(DataError, match="mapping of column name"):
        load(3)  # type: ignore[arg-type]


def test_a_large_file_reads(tmp_path):
    path = tmp_path / "big.csv"
    n = 100_000
    path.write_text("x,y\n" + "".join(f"{i},{2 * i}\n" for i in range(n)))
    t = read_table(path)
    assert t.rows == n and t.tensor("y")[-1].item() == 2 * (n - 1)


def test_a_text_column_is_a_factor_with_sorted_levels_the_first_the_reference():
    t = parse_table("dose,state,y\n1,treated,2\n2,control,3\n3,placebo,4\n4,treated,NA\n", "d.csv", drop_missing=True)
    assert t.names == ("dose", "y") and t.header == ("dose", "state", "y") and t.rows == 3
    f = t.factors["state"]
    assert f.levels == ("control", "placebo", "treated") and list(f.codes) == [2, 0, 1]
    assert t.tensor("state[treated]").tolist() == [1.0, 0.0, 0.0]
    assert t.matrix("state").tolist() == [[0.0, 1.0], [0.0, 0.0], [1.0, 0.0]]  # every level but the reference
    assert "levels control, placebo, treated" in t.describe("state")


def test_a_column_of_numbers_with_a_stray_word_is_still_an_error_naming_the_line():
    with pytest.raises(DataError, match=r"line 4, column 'x': 'oops' is not a number"):
        parse_table("x,y\n1,2\n2,3\noops,4\n", "d.csv")
    # the word first: still a typo in a column of numbers, since most of its values are numbers
    with pytest.raises(DataError, match=r"line 2, column 'x': 'oops' is not a number \(3 of the column's 4"):
        parse_table("x,y\noops,1\n2,3\n3,4\n4,5\n", "d.csv")
