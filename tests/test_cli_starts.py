"""The CLI with many starts and sweeps: exit code and parsed output together."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from gdsolve.cli.app import app
from gdsolve.core.status import ExitStatus
from gdsolve.io.trace import read_traces

runner = CliRunner()
HIMMELBLAU = "(x^2+y-11)^2+(x+y^2-7)^2"


def invoke(*args):
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_starts_json_keeps_single_run_fields_and_adds_minima():
    code, out, err = invoke("minimize", HIMMELBLAU, "--method", "lbfgs", "--starts", "32", "--json")
    doc = json.loads(out)
    assert code == ExitStatus.CONVERGED and err == ""
    for field in ("x", "fun", "grad", "status", "message", "nit", "nfev", "best", "checks"):
        assert field in doc
    assert doc["starts"] == 32 and doc["device"] == "cpu" and doc["settings"]["starts"] == 32
    assert len(doc["minima"]) == 4 and doc["minima"][0]["x"] == doc["x"]
    assert sum(m["count"] for m in doc["minima"]) == doc["rows"]["converged"]
    assert set(doc["minima"][0]) == {"x", "fun", "count", "row", "x0"}


def test_starts_table_shows_the_batch_and_the_minima():
    code, out, _ = invoke("minimize", HIMMELBLAU, "--method", "lbfgs", "--starts", "16")
    assert code == 0
    assert "best f" in out and "running" in out and "diverged" in out
    assert "minima" in out and "distinct" in out and "16 starts" in out


def test_sweep_json_has_one_run_per_combination():
    code, out, _ = invoke("minimize", "(x-1)**2 + y**2", "--method", "momentum", "--lr", "0.1,0.05",
                          "--momentum", "0.5,0.9", "--x0", "0,1", "--json")
    doc = json.loads(out)
    assert code == 0
    assert [r["values"] for r in doc["runs"]] == [{"lr": 0.1, "momentum": 0.5}, {"lr": 0.1, "momentum": 0.9},
                                                 {"lr": 0.05, "momentum": 0.5}, {"lr": 0.05, "momentum": 0.9}]
    for run in doc["runs"]:
        assert run["settings"]["lr"] == run["values"]["lr"] and run["settings"]["momentum"] == run["values"]["momentum"]
        assert run["status"] in ("converged", "max_iter") and run["message"]
    assert doc["settings"]["sweep"] == {"lr": [0.1, 0.05], "momentum": [0.5, 0.9]}


def test_sweep_trace_draws_one_labelled_line_per_setting(tmp_path):
    trace = tmp_path / "sweep.jsonl"
    code, _, _ = invoke("minimize", "(1-x)**2 + 100*(y-x^2)**2", "--lr", "0.002,0.001,0.0005", "--max-iter", "300",
                        "--x0", "x=-1,y=1", "--trace", str(trace), "--quiet")
    assert code == ExitStatus.NOT_CONVERGED
    records = [json.loads(line) for line in trace.read_text().splitlines()]
    steps = [r for r in records if r["type"] == "step"]
    assert {s["row"] for s in steps} == {0, 1, 2} and len(steps) == 900
    assert {s["settings"]["lr"] for s in steps} == {0.002, 0.001, 0.0005}
    assert records[-1]["type"] == "result" and records[-1]["row"] == 0
    traces = read_traces([str(trace)], None)
    assert [t.label for t in traces] == ["gd lr 0.002", "gd lr 0.001", "gd lr 0.0005"]
    assert traces[0].result is not None and traces[1].result is None


def test_trace_rows_records_the_best_and_more(tmp_path):
    trace = tmp_path / "starts.csv"
    code, _, _ = invoke("minimize", HIMMELBLAU, "--method", "lbfgs", "--starts", "16", "--trace", str(trace),
                        "--trace-format", "csv", "--trace-rows", "3", "--quiet")
    lines = trace.read_text().splitlines()
    assert code == 0 and lines[0].startswith("row,iteration,x,y,f")
    assert len({line.split(",")[0] for line in lines[1:]}) == 4


def test_trace_stdout_with_starts_keeps_stdout_for_the_trace():
    code, out, err = invoke("minimize", HIMMELBLAU, "--starts", "4", "--lr", "0.01", "--trace", "-")
    lines = out.splitlines()
    assert code in (ExitStatus.CONVERGED, ExitStatus.NOT_CONVERGED)
    assert json.loads(lines[0])["type"] == "header" and json.loads(lines[-1])["type"] == "result"
    assert "starts" in err  # the summary is talk


def test_float32_batch():
    code, out, _ = invoke("minimize", "(x-1)**2 + (y+2)**2", "--starts", "8", "--dtype", "float32", "--json")
    doc = json.loads(out)
    assert code == 0 and abs(doc["x"]["x"] - 1) < 1e-3 and doc["settings"]["dtype"] == "float32"
