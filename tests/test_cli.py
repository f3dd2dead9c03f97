"""The CLI through typer's CliRunner and ``main()``: exit code and output together."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from gdsolve.cli import app, main, protect_leading_minus
from gdsolve.status import ExitStatus

runner = CliRunner()


def invoke(*args):
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_minimize_table_and_summary():
    code, out, _ = invoke("minimize", "(x-4)**2", "--x0", "0.7421")
    assert code == ExitStatus.CONVERGED
    assert "iter" in out and "converged: step" in out and "x = 3.99999" in out


def test_json_is_one_document_on_stdout():
    code, out, err = invoke("maximize", "--json", "--", "-(x-1)**2 - (y+2)**2 + 3")
    doc = json.loads(out)  # the whole of stdout parses
    assert code == 0 and err == ""
    assert doc["sense"] == "maximize" and doc["fun"] == pytest.approx(3.0)
    assert doc["x"]["x"] == pytest.approx(1.0, abs=1e-4) and doc["x"]["y"] == pytest.approx(-2.0, abs=1e-4)
    assert doc["seed"] == 0 and doc["settings"]["lr"] == 0.1


def test_exit_code_max_iter():
    code, out, _ = invoke("minimize", "(x-4)**2", "--x0", "0", "--max-iter", "3", "--json")
    assert code == ExitStatus.NOT_CONVERGED and json.loads(out)["status"] == "max_iter"


def test_exit_code_diverged():
    code, out, _ = invoke("minimize", "log(x)", "--x0", "0.5", "--lr", "1", "--json")
    doc = json.loads(out)
    assert code == ExitStatus.DIVERGED and doc["status"] == "diverged" and "iteration" in doc["message"]


def test_params_vars_every_quiet():
    code, out, _ = invoke("minimize", "a*(x-b)**2 + y**2", "--param", "a=2", "--param", "b=3", "--vars", "y,x",
                          "--x0", "y=1,x=0", "--json")
    doc = json.loads(out)
    assert code == 0 and doc["variables"] == ["y", "x"] and doc["x"]["x"] == pytest.approx(3, abs=1e-4)
    code, out, _ = invoke("minimize", "(x-4)**2", "--quiet", "--x0", "1")
    assert code == 0 and "step" not in out.splitlines()[0] and "solution" in out


def test_dtype_and_seed():
    code, out, _ = invoke("minimize", "(x-4)**2 + y**2", "--dtype", "float32", "--seed", "3", "--json")
    doc = json.loads(out)
    assert code == 0 and doc["settings"]["dtype"] == "float32" and doc["seed"] == 3


MARKER = "gdsolve_marker_file"
BAD = [
    (["minimize", f"__import__('os').system('touch {MARKER}')"], "attribute"),
    (["minimize", f"open('{MARKER}', 'w')"], "unknown function"),
    (["minimize", f"eval(\"open('{MARKER}','w')\")"], "unknown function"),
    (["minimize", "(lambda: 1)()"], "call a function by name"),
    (["minimize", "[x for x in y]"], "comprehensions"),
    (["minimize", "x.__class__"], "attribute"),
    (["minimize", "'x'"], "strings"),
    (["minimize", "import os"], "syntax"),
    (["minimize", "   "], "empty"),
    (["minimize", "x" * 10001], "limit"),
    (["minimize", "sin(" * 120 + "x" + ")" * 120], "nested"),
    (["minimize", "9**9**9**9"], "exponent"),
    (["minimize", "x**(10**6)"], "exponent"),
    (["minimize", "sine(x)"], "did you mean 'sin'"),
    (["minimize", "3 + 4"], "no variables"),
    (["minimize", "x**2", "--x0", "z=1"], "--x0 names z"),
    (["minimize", "x**2 + y**2", "--x0", "x=1"], "missing y"),
    (["minimize", "x**2", "--lr", "0"], "--lr"),
    (["minimize", "x**2", "--lr", "-1"], "--lr"),
    (["minimize", "x**2", "--eps", "-1"], "--eps"),
    (["minimize", "x**2", "--max-iter", "0"], "--max-iter"),
    (["minimize", "x**2", "--param", "q=1"], "does not appear"),
    (["minimize", "x**2", "--vars", "y"], "--vars"),
    (["minimize", "x**2", "--method", "gd", "--beta1", "0.9"], "does not apply"),
    (["minimize", "x**2", "--method", "adam", "--line-search", "armijo"], "armijo applies"),
    (["minimize", "x**2", "--bounds", "x=5:0"], "empty"),
    (["minimize", "x**2", "--bounds", "x0:5"], "x=0:5"),
    (["minimize", "x**2", "--gamma", "0.5"], "--gamma"),
]


@pytest.mark.parametrize(("args", "fragment"), BAD, ids=[a[1][:25] + (a[2] if len(a) > 2 else "") for a, _ in BAD])
def test_bad_input_one_line_exit_2_nothing_executed(args, fragment, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, out, err = invoke(*args)
    assert code == ExitStatus.USAGE
    assert err.startswith("error: ") and err.count("\n") == 1, err
    assert fragment.lower() in err.lower()
    assert "Traceback" not in err and out == ""
    assert not Path(MARKER).exists() and os.listdir(tmp_path) == []


def test_methods_rules_bounds_in_json():
    code, out, _ = invoke("minimize", "(x-7)**2 + y**2", "--method", "gd", "--bounds", "x=0:5", "--ftol", "1e-12",
                          "--x0", "x=1,y=1", "--json")
    doc = json.loads(out)
    assert code == 0 and doc["settings"]["method"] == "gd" and doc["active_bounds"] == {"x": "upper"}
    assert doc["settings"]["bounds"] == {"x": [0.0, 5.0]} and {c["rule"] for c in doc["checks"]} >= {"ftol", "eps"}


def test_method_help_shows_library_defaults(capsys):
    assert main(["minimize", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.replace("│", " ").split())
    for fragment in ("gd (lr 0.1)", "adamw (lr 0.001, beta1 0.9, beta2 0.999, weight-decay 0.01)", "lbfgs (lr 1, history-size 100)"):
        assert fragment in text


def test_internal_error_exit_70_one_line(monkeypatch):
    import gdsolve.api

    def broken(*a, **k):
        raise RuntimeError("boom")

    monkeypatch.setattr(gdsolve.api, "run", broken)
    code, out, err = invoke("minimize", "x**2")
    assert code == ExitStatus.INTERNAL_ERROR and out == ""
    assert err.startswith("error: internal error: RuntimeError: boom") and err.count("\n") == 1


def test_time_limit_exit_1():
    code, out, _ = invoke("minimize", "(x-4)**2", "--x0", "0", "--eps", "0", "--max-iter", "100000000",
                          "--time-limit", "0.3", "--json")
    doc = json.loads(out)
    assert code == ExitStatus.NOT_CONVERGED and doc["status"] == "time_limit" and doc["stop_rule"] == "time_limit"


def test_usage_errors_through_main_are_one_line(capsys):
    for args in (["minimize", "x**2", "--lr", "abc"], ["minimize", "x**2", "--bogus"], ["minimize"], ["nosuch"]):
        assert main(args) == ExitStatus.USAGE
        err = capsys.readouterr().err
        assert err.startswith("error: ") and err.count("\n") == 1, err


def test_leading_minus_formula(capsys):
    assert main(["maximize", "-(x-1)**2", "--json", "--x0", "0"]) == 0
    assert json.loads(capsys.readouterr().out)["x"]["x"] == pytest.approx(1, abs=1e-4)
    assert main(["maximize", "--x0", "-2", "-x**2", "--quiet"]) == 0  # option values keep their minus
    assert "solution" in capsys.readouterr().out


def test_protect_leading_minus_leaves_options_alone():
    from typer.main import get_command

    cmd = get_command(app)
    assert protect_leading_minus(cmd, ["minimize", "--lr", "-0.1", "x"]) == ["minimize", "--lr", "-0.1", "x"]
    assert protect_leading_minus(cmd, ["minimize", "-x", "--json"]) == ["minimize", "--json", "--", "-x"]


def test_version_and_help(capsys):
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip().startswith("gdsolve ")
    assert main(["minimize", "--help"]) == 0
    assert "--x0" in capsys.readouterr().out


def test_debug_shows_traceback(capsys):
    assert main(["minimize", "sine(x)", "--debug"]) == ExitStatus.USAGE
    err = capsys.readouterr().err
    assert "Traceback" in err and err.rstrip().splitlines()[-1].startswith("error: ")
