"""``gdsolve batch`` through typer's CliRunner: exit codes and the parsed JSON Lines together."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from gdsolve.cli.app import app
from gdsolve.core.status import ExitStatus

runner = CliRunner()
OK = {"expression": "(x-4)**2", "x0": 0}
MAX_ITER = {"expression": "(x-4)**2", "x0": 0, "lr": 1e-4, "max_iter": 5}
DIVERGED = {"expression": "x**2", "x0": 1, "lr": 1.5}


def jsonl(*items):
    return "".join((item if isinstance(item, str) else json.dumps(item)) + "\n" for item in items)


def invoke(stdin, *args):
    result = runner.invoke(app, ["batch", *args], input=stdin)
    records = [json.loads(line) for line in result.stdout.splitlines()]
    return result.exit_code, records, result.stderr


@pytest.mark.parametrize("items, code", [
    ([OK, OK], ExitStatus.CONVERGED),
    ([OK, MAX_ITER, OK], ExitStatus.NOT_CONVERGED),
    ([MAX_ITER, DIVERGED, OK], ExitStatus.DIVERGED),
    ([DIVERGED, "oops", MAX_ITER], ExitStatus.USAGE),
])
def test_the_exit_code_is_the_worst_lines(items, code):
    got, records, err = invoke(jsonl(*items), "-")
    assert got == code and len(records) == len(items) and err == ""
    assert [r["id"] for r in records] == list(range(1, len(items) + 1))


def test_a_file_in_order_with_ids_results_and_errors(tmp_path):
    path = tmp_path / "p.jsonl"
    path.write_text(jsonl({"id": "a", **OK}, "", {"id": "b", "expression": "x+"}, {"id": "c", **DIVERGED}))
    code, records, _ = invoke(None, str(path))
    assert code == ExitStatus.USAGE and [r["id"] for r in records] == ["a", "b", "c"]
    a, b, c = records
    assert a["error"] is None and a["result"]["x"]["x"] == pytest.approx(4, abs=1e-4) and a["result"]["success"]
    assert b["result"] is None and b["error"]["exit_code"] == 2 and b["error"]["message"].startswith("line 3:")
    assert c["result"]["status"] == "diverged" and c["error"] is None


def test_stdin_is_the_default():
    code, records, _ = invoke(jsonl(OK))
    assert code == 0 and records[0]["result"]["status"] == "converged"


def test_the_limits_are_options():
    code, records, _ = invoke(jsonl({**OK, "max_iter": 100}, {**OK, "max_iter": 10, "time_limit": 9}), "--max-iter", "50",
                              "--time-limit", "5")
    assert code == ExitStatus.USAGE
    assert "limit of 50 iterations" in records[0]["error"]["message"]
    assert "batch's limit of 5 s" in records[1]["error"]["message"]
    code, records, _ = invoke(jsonl({**OK, "starts": 8}), "--max-rows", "4")
    assert "limit of 4 rows" in records[0]["error"]["message"]
    code, records, _ = invoke(jsonl({**OK, "params": {"a": 1.0}}), "--max-chars", "20")
    assert "longer than the batch's limit of 20 characters" in records[0]["error"]["message"]


@pytest.mark.parametrize("args, words", [
    (["--chunk", "0"], "--chunk must be an integer >= 1"),
    (["--time-limit", "0"], "--time-limit must be a positive number"),
    (["--jobs", "2", "--dask", "tcp://h:1"], "--jobs and --dask exclude each other"),
    (["--worker-wait", "-1"], "--worker-wait must be a number of seconds >= 0"),
    (["--worker-wait", "inf"], "--worker-wait must be a number of seconds >= 0"),
    (["/nonexistent/p.jsonl"], "No such file"),
])
def test_bad_options_are_one_error_line(args, words):
    code, records, err = invoke(jsonl(OK), *args)
    assert code == ExitStatus.USAGE and records == [] and err.startswith("error: ") and words in err


def test_jobs_keep_input_order():
    items = [{"id": i, "expression": f"(x-{i})**2", "x0": 0} for i in range(6)]
    code, records, _ = invoke(jsonl(*items), "--jobs", "2", "--chunk", "1")
    assert code == 0 and [r["id"] for r in records] == list(range(6))
    assert [round(r["result"]["x"]["x"], 3) for r in records] == [0, 1, 2, 3, 4, 5]


def test_dask_option_runs_on_a_cluster():
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=1, processes=False, dashboard_address=":0") as cluster:
        code, records, _ = invoke(jsonl(OK, "bad"), "--dask", cluster.scheduler_address)
    assert code == ExitStatus.USAGE and records[0]["result"]["status"] == "converged" and records[1]["error"]


def test_help_names_the_limits_and_the_exit_codes():
    result = runner.invoke(app, ["batch", "--help"])
    assert result.exit_code == 0
    for words in ("--time-limit", "--max-iter", "--max-rows", "--jobs", "--dask", "Exit codes", "jq",
                  "gdsolve[dask]", "auto, cpu, cuda or mps"):
        assert words in result.stdout


def test_a_device_that_is_not_a_choice_is_one_error_line(tmp_path, capsys):
    from gdsolve.cli.app import main

    path = tmp_path / "p.jsonl"
    path.write_text(jsonl(OK))
    code = main(["batch", str(path), "--device", "tpu"])
    out, err = capsys.readouterr()
    assert code == ExitStatus.USAGE and out == "" and err.startswith("error: ")
    assert "'tpu' is not one of 'auto', 'cpu', 'cuda', 'mps'" in err
