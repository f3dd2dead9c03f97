"""A fit's trace and its picture: data, fitted curve, residuals."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from gdsolve.api.fitting import fit
from gdsolve.core.errors import GdsolveError, OptionError
from gdsolve.io.fittrace import FitTraceWriter
from gdsolve.io.trace import read_trace
from gdsolve.present.plot import draw_file
from gdsolve.present.plot_fit import draw_fit_file, draw_fit_terminal, fit_curve

ROOT = Path(__file__).resolve().parents[1]
MODEL = "y ~ b1*(1-exp(-b2*x))"


def misra_trace():
    from gdsolve.formula.data import read_table
    from gdsolve.formula.model import parse_model

    model = parse_model(MODEL, read_table(ROOT / "examples" / "misra1a.csv"))
    buf = io.StringIO()
    w = FitTraceWriter(buf, model, {"method": "lm"})
    r = fit(model, p0={"b1": 500, "b2": 1e-4}, callback=w)
    w.close(r.to_dict())
    return read_trace(io.StringIO(buf.getvalue()), "misra.jsonl"), r


def test_the_trace_holds_the_data_every_step_and_the_result():
    trace, r = misra_trace()
    assert trace.header["kind"] == "fit" and trace.header["variables"] == ["b1", "b2"]
    assert len(trace.header["data"]["x"]) == 14 and len(trace.steps) == r.nit
    assert trace.steps[0]["x"] == {"b1": 500.0, "b2": 0.0001} and trace.result["params"] == r.params
    c = fit_curve(trace.header, trace.result["x"])
    assert c["predictor"] == "x" and len(c["grid"]) == 400
    assert c["residuals"] == pytest.approx(list(r.residuals))


def test_plot_draws_data_curve_and_residuals(tmp_path):
    pytest.importorskip("matplotlib")
    trace, _ = misra_trace()
    out = tmp_path / "fit.png"
    draw_file([trace], str(out))  # gdsolve plot's entry point routes a fit trace here
    assert out.stat().st_size > 5_000
    with pytest.raises(OptionError, match="drawn alone"):
        draw_file([trace, trace], str(tmp_path / "two.png"))
    with pytest.raises(GdsolveError, match="must end in"):
        draw_fit_file(trace, str(tmp_path / "fit.txt"))


def test_terminal_picture():
    pytest.importorskip("plotext")
    trace, _ = misra_trace()
    text = draw_fit_terminal(trace, width=80, height=30)
    assert "residuals" in text


def test_a_trace_without_data_says_so():
    with pytest.raises(GdsolveError, match="holds no data"):
        fit_curve({"model": MODEL, "data": None}, {"b1": 1, "b2": 1})


def test_cli_trace_to_stdout_is_json_lines(tmp_path):
    from typer.testing import CliRunner

    from gdsolve.cli.app import app

    res = CliRunner().invoke(app, ["fit", MODEL, "--data", str(ROOT / "examples" / "misra1a.csv"), "--p0",
                                   "b1=500,b2=1e-4", "--trace", "-"])
    records = [json.loads(line) for line in res.stdout.splitlines()]
    assert res.exit_code == 0 and records[0]["type"] == "header" and records[-1]["type"] == "result"
    header = records[0]  # the same format keys as a minimize trace's header
    assert header["kind"] == "fit" and header["format"] == "gdsolve.trace" and header["schema_version"] == 1
    assert isinstance(header["gdsolve_version"], str)
    res = CliRunner().invoke(app, ["fit", MODEL, "--data", str(ROOT / "examples" / "misra1a.csv"), "--trace", "-",
                                   "--json"])
    assert res.exit_code == 2 and "both write to stdout" in res.stderr


def test_a_refused_fit_leaves_no_trace_file(tmp_path):
    from typer.testing import CliRunner

    from gdsolve.cli.app import app

    path = tmp_path / "fit.jsonl"
    res = CliRunner().invoke(app, ["fit", MODEL, "--data", str(ROOT / "examples" / "misra1a.csv"), "--p0", "c=1",
                                   "--trace", str(path)])
    assert res.exit_code == 2 and "--p0 names 'c'" in res.stderr and not path.exists()
    res = CliRunner().invoke(app, ["fit", MODEL, "--data", str(ROOT / "examples" / "misra1a.csv"), "--trace",
                                   str(tmp_path / "no" / "dir.jsonl")])
    assert res.exit_code == 2 and "cannot write the trace to" in res.stderr


def test_residuals_that_cannot_be_written_keep_the_traces_steps(tmp_path):
    from typer.testing import CliRunner

    from gdsolve.cli.app import app

    path = tmp_path / "fit.jsonl"
    res = CliRunner().invoke(app, ["fit", MODEL, "--data", str(ROOT / "examples" / "misra1a.csv"), "--p0",
                                   "b1=500,b2=1e-4", "--trace", str(path), "--residuals",
                                   str(tmp_path / "no" / "such" / "r.csv")])
    assert res.exit_code == 2 and "--residuals" in res.stderr
    kinds = [json.loads(line)["type"] for line in path.read_text().splitlines()]
    assert kinds[0] == "header" and kinds.count("step") > 1
