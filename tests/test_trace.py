"""Traces: JSON Lines and CSV, written per step, read back, agreeing with the JSON result."""

from __future__ import annotations

import csv
import io
import json
import math

import pytest

from gdsolve.api.solve import prepare, run
from gdsolve.core.errors import GdsolveError
from gdsolve.io.jsonio import result_document
from gdsolve.io.trace import CSV_FIXED, TraceWriter, csv_columns, read_trace


def traced(text, fmt="jsonl", **kw):
    d = prepare(text, **kw)
    buf = io.StringIO()
    w = TraceWriter(buf, d, fmt)
    r = run(d, w)
    w.close(r)
    return buf.getvalue(), r


def test_jsonl_every_line_parses_and_agrees_with_result():
    text, r = traced("(1-x)**2 + 100*(y-x^2)**2", x0={"x": -1, "y": 1}, lr=0.001, max_iter=300)
    lines = [json.loads(line) for line in text.splitlines()]
    assert [rec["type"] for rec in (lines[0], lines[-1])] == ["header", "result"]
    steps = lines[1:-1]
    assert len(steps) == r.nit == 300
    assert [s["iteration"] for s in steps] == list(range(300))
    assert lines[0]["variables"] == ["x", "y"] and lines[0]["settings"]["lr"] == 0.001
    for s in steps:
        assert set(s) == {"type", "iteration", "x", "f", "grad", "grad_norm", "step_norm", "lr", "step_length",
                          "line_search_failed", "elapsed"}
        assert list(s["x"]) == ["x", "y"] and list(s["grad"]) == ["x", "y"]
    result = dict(lines[-1])
    del result["type"]
    assert result == json.loads(json.dumps(result_document(r)))
    assert lines[0]["settings"] == result["settings"]  # one settings record, in the header and the result
    # consecutive steps chain: x_{k+1} - x_k has the recorded norm
    a, b = steps[10], steps[11]
    dist = ((b["x"]["x"] - a["x"]["x"]) ** 2 + (b["x"]["y"] - a["x"]["y"]) ** 2) ** 0.5
    assert dist == pytest.approx(a["step_norm"], rel=1e-12)


def test_csv_one_column_per_variable():
    text, r = traced("x1**2 + (x2-1)**2 + (x10+2)**2", "csv", x0=[1, 1, 1], max_iter=20)
    rows = list(csv.DictReader(io.StringIO(text)))
    assert list(rows[0])[:4] == ["iteration", "x1", "x2", "x10"]
    assert "grad_x10" in rows[0] and len(rows) == r.nit + 1
    assert float(rows[-1]["x10"]) == pytest.approx(r.x["x10"]) and rows[-1]["step_norm"] == ""


def test_maximize_trace_reports_true_f():
    text, _r = traced("-(x-1)**2 + 3", x0=0.0, max_iter=5, sense="maximize")
    steps = [json.loads(line) for line in text.splitlines()][1:-1]
    assert steps[0]["f"] == 2.0 and steps[0]["grad"]["x"] == 2.0  # f and grad of f itself


def test_diverged_trace_is_valid_json():
    text, _r = traced("log(x)", x0=0.5, lr=1.0)
    last = json.loads(text.splitlines()[-1])
    assert last["status"] == "diverged" and last["fun"] is None
    assert "NaN" not in text and "Infinity" not in text


def test_numbers_are_written_as_python_writes_them_and_nan_inf_none_as_null():
    # a finite number as repr() writes it; no number (nan, -inf, none) as null, in CSV and in JSON Lines
    def first_row(text: str) -> dict:
        return next(iter(csv.DictReader(io.StringIO(text))))

    row = first_row(traced("log(x)", "csv", x0=1.5, max_iter=1)[0])
    assert row["x"] == "1.5" and row["f"] == repr(float(row["f"])) and float(row["f"]) == pytest.approx(math.log(1.5))
    row = first_row(traced("log(x)", "csv", x0=0.0)[0])  # f = log(0) = -inf
    assert row["x"] == "0.0" and row["f"] == "null" and row["grad_x"] == "null"
    row = first_row(traced("log(x)", "csv", x0=-1.0)[0])  # f = log(-1) = nan
    assert row["f"] == "null" and row["grad_x"] == "-1.0"
    step = traced("log(x)", x0=1.5, max_iter=1)[0].splitlines()[1]
    assert '"x":{"x":1.5}' in step and '"step_length":null' in step  # gd has no line search: no step length


def test_read_trace_roundtrip_and_errors():
    text, _r = traced("(x-4)**2", x0=0.0, max_iter=5)
    t = read_trace(io.StringIO(text), "t")
    assert len(t.steps) == 5 and t.result["nit"] == 5 and len(t.path()) == 6
    assert t.label == "gd lr 0.1"
    with pytest.raises(GdsolveError, match="header"):
        read_trace(io.StringIO('{"type": "step"}\n'), "bad")
    with pytest.raises(GdsolveError, match="not JSON"):
        read_trace(io.StringIO(text.splitlines()[0] + "\n{oops\n"), "bad")
    with pytest.raises(GdsolveError, match="CSV"):
        read_trace(io.StringIO("iteration,x,f\n0,1,2\n"), "t.csv")
    with pytest.raises(GdsolveError, match="empty"):
        read_trace(io.StringIO(""), "e")


@pytest.mark.parametrize("names", [["f", "x"], ["lr", "y"], ["x", "grad_x"], ["iteration"], ["elapsed", "step_norm"],
                                   ["grad_norm"], ["x", "y"]])
def test_csv_column_names_are_unique_whatever_the_variables(names):
    cols = csv_columns(names)
    assert len(cols) == len(set(cols)) == 2 * len(names) + len(CSV_FIXED)
    assert cols[0] == "iteration" and "f" in cols


def test_csv_with_a_variable_called_f_reads_back_unambiguously():
    text, r = traced("(f-1)**2 + (lr+2)**2", "csv", x0={"f": 0, "lr": 0}, max_iter=5)
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows[0]) == len(text.splitlines()[0].split(","))  # no column lost to a duplicate name
    assert float(rows[0]["f"]) == 5.0 and float(rows[0]["x[f]"]) == 0.0 and float(rows[0]["x[lr]"]) == 0.0
    assert float(rows[-1]["x[f]"]) == pytest.approx(r.x["f"])


def test_seed_in_header_and_result_agree():
    text, _r = traced("(x-4)**2", x0=1.0, max_iter=3)
    lines = [json.loads(line) for line in text.splitlines()]
    assert lines[0]["seed"] is None and lines[0]["settings"]["seed"] is None and lines[-1]["seed"] is None


def test_truncated_trace_reads_what_came_whole():
    text, _ = traced("(x-4)**2", x0=0.0, max_iter=5)
    cut = text[: text.rindex("\n", 0, len(text) - 1) - 20]  # the writer stopped mid-line
    t = read_trace(io.StringIO(cut), "cut")
    assert t.result is None and 1 <= len(t.steps) < 5
