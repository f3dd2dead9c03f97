"""Output routing: stdout is data, stderr is talk; progress only at a terminal."""

from __future__ import annotations

import io
import json

import pytest

from gdsolve.api.solve import prepare, run
from gdsolve.cli.outputs import OutputOptions, Outputs
from gdsolve.core.errors import OptionError
from gdsolve.core.streams import Environment


def go(options, **kw):
    d = prepare("(x-4)**2", x0=0.0, **kw)
    out, err = io.StringIO(), io.StringIO()
    o = Outputs(d, options, env=Environment(stdout=out, stderr=err))
    o.finish(run(d, o.callback))
    return o, out.getvalue(), err.getvalue()


def test_json_alone_on_stdout():
    _, out, err = go(OutputOptions(json=True))
    assert json.loads(out)["status"] == "converged" and err == ""


def test_trace_to_stdout_puts_summary_on_stderr():
    _, out, err = go(OutputOptions(trace="-"))
    lines = [json.loads(line) for line in out.splitlines()]
    assert lines[0]["type"] == "header" and lines[-1]["type"] == "result"
    assert "converged" in err and "iter " not in err  # summary only, no rows
    _, out, err = go(OutputOptions(trace="-", quiet=True))
    assert err == ""


def test_conflicts_and_bad_paths(tmp_path):
    d = prepare("(x-4)**2", x0=0.0)
    with pytest.raises(OptionError, match="both write to stdout"):
        Outputs(d, OutputOptions(json=True, trace="-"))
    with pytest.raises(OptionError, match="cannot write the trace"):
        Outputs(d, OutputOptions(trace=str(tmp_path / "no" / "such" / "dir.jsonl")))
    with pytest.raises(OptionError, match="trace_format must be one of"):
        Outputs(d, OutputOptions(trace="x", trace_format="xml"))


def test_no_progress_without_a_terminal():
    o, _, _ = go(OutputOptions())
    assert o.progress is None


@pytest.mark.parametrize("args", [["--verify-timeout", "3"], ["--starts", "4", "--verify-timeout", "3"],
                                  ["--trace-format", "xml"]])
def test_a_refused_run_leaves_an_existing_trace_file_as_it_was(tmp_path, args):
    from gdsolve.cli.app import main

    path = tmp_path / "run.jsonl"
    path.write_text("earlier run\n")
    assert main(["minimize", "(x-4)**2", "--trace", str(path), *args]) == 2
    assert path.read_text() == "earlier run\n"


def test_trace_rows_without_a_batch_names_both_ways_to_make_one(capsys):
    from gdsolve.cli.app import main

    assert main(["minimize", "x**2", "--trace-rows", "2"]) == 2
    err = capsys.readouterr().err
    assert err.strip().endswith("add --starts N or sweep a setting (--lr 0.1,0.01)")
    with pytest.raises(OptionError, match=r"sweep a setting \(lr=\(0.1, 0.01\)\)$"):
        Outputs(prepare("x**2", x0=1.0), OutputOptions(trace="t.jsonl"), trace_rows=2)


class _Tty(io.StringIO):
    def isatty(self):
        return True


def test_a_fit_at_a_terminal_gets_the_progress_bar_and_not_with_json():
    from gdsolve.formula.data import table_from_mapping
    from gdsolve.formula.model import parse_model
    from gdsolve.present.progress import FitProgress

    bound = parse_model("y ~ a*x", table_from_mapping({"x": [1.0, 2.0, 3.0], "y": [2.0, 4.1, 5.9]}))
    o = Outputs(bound, OutputOptions(), fit={"method": "lm"}, fit_max_iter=300,
                env=Environment(stdout=_Tty(), stderr=io.StringIO()))
    assert isinstance(o.progress, FitProgress) and o.progress.total == 300 and o.callback is o.progress
    o.abandon()
    o = Outputs(bound, OutputOptions(json=True), fit={"method": "lm"}, fit_max_iter=300,
                env=Environment(stdout=_Tty(), stderr=io.StringIO()))
    assert o.progress is None
    o = Outputs(bound, OutputOptions(), fit={"method": "lm"}, env=Environment(stdout=io.StringIO()))
    assert o.progress is None  # not a terminal
