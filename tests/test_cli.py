"""The CLI through typer's CliRunner and ``main()``: exit code and output together."""

from __future__ import annotations

import itertools
import json
import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from gdsolve.cli.app import app, main
from gdsolve.cli.shell import scan_argv
from gdsolve.core.errors import OptionError
from gdsolve.core.settings import METHODS
from gdsolve.core.status import ExitStatus

runner = CliRunner()
DECAY = Path(__file__).resolve().parents[1] / "examples" / "decay.tsv"


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
    (["minimize", "x**2", "--bounds", "0:5"], "--bounds '0:5' names no variable; write name=lo:hi"),
    (["minimize", "x**2", "--bounds", "x=-pi:y"], "--bounds x: 'y' names y, but a value here cannot depend on a variable"),
    (["minimize", "x**2", "--x0", "x=sqrt(-2)"], "--x0 x: 'sqrt(-2)' cannot be evaluated"),
    (["minimize", "x**2 + y**2", "--x0", "x=y,y=1"], "--x0 x: 'y' names y"),
    (["minimize", "x**2", "--x0", "__import__('os').system('touch pwned')"], "attribute access"),
    (["minimize", "x**2", "--x0", "x=__import__('os')"], "double underscores"),
    (["minimize", "x**2", "--gamma", "0.5"], "--gamma"),
]


def test_x0_bounds_and_params_take_constant_expressions():
    code, out, _ = invoke("minimize", "(x-a)**2 + (y-1)**2", "--param", "a=pi/4", "--x0", "x=sqrt(2),y=1e-3*pi",
                          "--bounds", "x=-pi/2:pi/2", "--bounds", "y=:2^2", "--method", "lbfgs", "--json")
    doc = json.loads(out)
    assert code == 0 and doc["x0"] == pytest.approx({"x": 2**0.5, "y": 1e-3 * 3.141592653589793}, rel=1e-15)
    bounds = doc["settings"]["bounds"]
    assert bounds["x"] == pytest.approx([-3.141592653589793 / 2, 3.141592653589793 / 2], rel=1e-15)
    assert bounds["y"][1] == 4.0 and bounds["y"][0] in (None, float("-inf"))
    assert doc["x"]["x"] == pytest.approx(3.141592653589793 / 4, abs=1e-6)


def test_one_bare_x0_sets_every_variable_and_every_element():
    code, out, _ = invoke("minimize", "sum((w-1)**2) + (b-2)**2", "--shape", "w=2,2", "--x0", "0", "--json")
    doc = json.loads(out)
    assert code == 0 and doc["x0"] == {"b": 0.0, "w": [[0.0, 0.0], [0.0, 0.0]]}
    code, out, _ = invoke("minimize", "sum((w-1)**2)", "--shape", "w=2,2", "--x0", "w=[[1,2],[pi,sqrt(16)]]", "--json")
    assert code == 0 and json.loads(out)["x0"] == {"w": [[1.0, 2.0], [3.141592653589793, 4.0]]}


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
    import gdsolve.api.solve

    def broken(*a, **k):
        raise RuntimeError("boom")

    monkeypatch.setattr(gdsolve.api.solve, "run", broken)
    code, out, err = invoke("minimize", "x**2")
    assert code == ExitStatus.INTERNAL_ERROR and out == ""
    assert err.startswith("error: internal error: RuntimeError: boom") and err.count("\n") == 1


def test_time_limit_exit_1():
    code, out, _ = invoke("minimize", "(x-4)**2", "--x0", "0", "--eps", "0", "--max-iter", "100000000",
                          "--time-limit", "0.3", "--json")
    doc = json.loads(out)
    assert code == ExitStatus.NOT_CONVERGED and doc["status"] == "time_limit" and doc["stop_rule"] == "time_limit"


USAGE_ERRORS = [
    (["minimize", "x**2", "--lr", "abc"], "--lr: 'abc' is not a number"),
    (["minimize", "x**2", "--lr", "0.1,,0.2"], "--lr '0.1,,0.2' has an empty item"),
    (["minimize", "x**2", "--lr", "0.1,0.1"], "--lr gives 0.1 twice"),
    (["minimize", "x**2", "--lr", "0.1,-1"], "--lr must be a positive number, got -1"),
    (["minimize", "x**2", "--trace-rows", "2"], "--trace-rows applies to a batch"),
    (["minimize", "x**2", "--starts", "4", "--trace-rows", "2"], "--trace-rows chooses the rows a trace records"),
    (["minimize", "x**2", "--starts", "0"], "--starts must be an integer >= 1"),
    (["minimize", "x**2", "--method", "lbfgs", "--history-size", "5,x"], "--history-size: 'x' is not an integer"),
    (["minimize", "x**2", "--bogus"], "No such option"),
    (["minimize"], "Missing argument"),
    (["nosuch"], "No such command"),
    (["minimize", "x**2", "--method", "nesterov", "--momentum", "0"], "--momentum must be in (0, 1) for --method nesterov"),
    (["minimize", "x**2", "--lr", "0.1", "--lr", "0.2"], "--lr is given twice"),
    (["minimize", "x**2", "--json", "--json"], "--json is given twice"),
    (["minimize", "x**2", "--trace-format", "csv"], "--trace-format applies to a trace"),
    (["minimize", "x**2", "--json", "--every", "5"], "--every spaces the table's rows, but --json prints no table"),
    (["minimize", "x**2", "--quiet", "--every", "5"], "--quiet prints no table rows"),
    (["minimize", "x**2", "--every", "0"], "--every must be an integer >= 1"),
    (["minimize", "x**2", "--json", "--quiet"], "--quiet has no effect with --json"),
    (["minimize", "x**2", "--param", "a"], "--param 'a': expected name=value"),
    (["minimize", "x**2", "--eps", "inf"], "--eps must be a finite number"),
    (["minimize", "x**2", "--momentum", "0.5"], "--momentum does not apply to --method gd"),
    (["minimize", "x**2", "--method", "rmsprop", "--alpha", "1"], "--alpha must be in [0, 1) for --method rmsprop"),
    (["minimize", "x\u00b7y"], "write multiplication as *"),
    (["minimize", "x \u2212 1"], "type '-' instead"),
    (["plot", "--dpi", "300"], "--dpi sets the resolution of a file"),
    # a bad choice in click's words only: no "Value error, " from typer's validator
    (["minimize", "x**2", "--method", "bogus"], "Invalid value for '--method': 'bogus' is not one of 'gd'"),
    (["fit", "y ~ a*x", "--data", "-", "--loss", "bogus"], "Invalid value for '--loss': 'bogus' is not one of"),
    # --f-scale would be ignored by the linear loss: refused, not silently dropped
    (["fit", "y ~ a*exp(-k*t)", "--data", str(DECAY), "--f-scale", "2"], "the linear loss has no such point"),
]


@pytest.mark.parametrize(("args", "fragment"), USAGE_ERRORS, ids=[" ".join(a)[:40] for a, _ in USAGE_ERRORS])
def test_usage_errors_through_main_are_one_line_exit_2(args, fragment, capsys):
    assert main(args) == ExitStatus.USAGE
    out, err = capsys.readouterr()
    assert err.startswith("error: ") and err.count("\n") == 1 and out == "", err
    assert fragment in err


def test_plot_errors_name_the_real_cause(tmp_path, capsys):
    trace = tmp_path / "t.jsonl"
    assert main(["minimize", "(x-4)**2", "--trace", str(trace), "--quiet"]) == 0
    capsys.readouterr()
    for args, fragment in [(["-o", "/no/such/dir/x.png"], "cannot write /no/such/dir/x.png: No such file or directory"),
                           (["-o", str(tmp_path / "x.png"), "--width", "100000", "--height", "100000"],
                            "--width 100000 is out of range for -o: 16 to 8192 pixels"),
                           (["-o", str(tmp_path / "x.png"), "--dpi", "5"], "--dpi 5 is out of range"),
                           (["-o", str(tmp_path / "x.bmp")], "must end in .png, .svg, .pdf")]:
        assert main(["plot", str(trace), *args]) == ExitStatus.USAGE, args
        err = capsys.readouterr().err
        assert err.startswith("error: ") and fragment in err and err.count("\n") == 1, err


def test_no_arguments_prints_help_once(capsys):
    assert main([]) == 0
    out = capsys.readouterr().out
    assert out.count("Usage:") == 1 and "minimize" in out


def test_json_message_speaks_the_command_line():
    code, out, _ = invoke("minimize", "x**2 + y**2", "--x0", "x=1,y=1", "--lr", "1.2", "--max-iter", "5000", "--json")
    doc = json.loads(out)
    assert code == ExitStatus.DIVERGED and "--lr 0.5" in doc["message"]


def test_stalled_is_exit_1_in_json():
    code, out, _ = invoke("minimize", "(x-4)**2", "--x0", "0", "--schedule", "cosine", "--t-max", "10", "--json")
    doc = json.loads(out)
    assert code == ExitStatus.NOT_CONVERGED and doc["status"] == "stalled" and doc["success"] is False
    assert doc["stop_rule"] == "eps" and "--t-max" in doc["message"] and doc["stationarity"]["stationary"] is False
    assert set(doc["stationarity"]) == {"checked", "stationary", "failed", "relative_distance", "tol", "variable", "distance",
                                        "travel", "decrease", "f_scale"}
    assert doc["stationarity"]["tol"] == 0.001 and doc["stationarity"]["variable"] == "x"


def test_leading_minus_formula(capsys):
    assert main(["maximize", "-(x-1)**2", "--json", "--x0", "0"]) == 0
    assert json.loads(capsys.readouterr().out)["x"]["x"] == pytest.approx(1, abs=1e-4)
    assert main(["maximize", "--x0", "-2", "-x**2", "--quiet"]) == 0  # option values keep their minus
    assert "solution" in capsys.readouterr().out


def test_protect_leading_minus_leaves_options_alone():
    from typer.main import get_command

    cmd = get_command(app)
    assert scan_argv(cmd, ["minimize", "--lr", "-0.1", "x"], OptionError) == ["minimize", "--lr", "-0.1", "x"]
    assert scan_argv(cmd, ["minimize", "-x", "--json"], OptionError) == ["minimize", "--json", "--", "-x"]


def test_version_and_help(capsys):
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip().startswith("gdsolve ")
    assert main(["minimize", "--help"]) == 0
    assert "--x0" in capsys.readouterr().out


def help_text(*args, columns=80):
    runner_ = CliRunner()
    result = runner_.invoke(app, [*args, "--help"], env={"COLUMNS": str(columns), "TERMINAL_WIDTH": str(columns)})
    assert result.exit_code == 0
    return result.stdout


@pytest.mark.parametrize("command", ["minimize", "maximize"])
def test_help_teaches_in_panels_examples_and_exit_codes(command):
    text = help_text(command)
    for panel in ("Formula and start point", "Method and its options", "Stopping rules", "Learning-rate schedule",
                  "Bounds", "Output", "Examples", "Exit codes"):
        assert panel in text, panel
    lines = text.splitlines()
    assert max(len(ln) for ln in lines) <= 80
    assert "<str>" not in text.split("Formula and start point")[1]  # options show what to type, not a type name
    words = " ".join(" ".join(ln.replace("│", " ").split()) for ln in lines).split()
    for method in METHODS:  # no method name cut mid-word
        assert method in words or f"{method}," in words or f"{method};" in words or any(w.startswith(method) for w in words)
    from gdsolve.cli.help import EXAMPLES
    for cmd, _ in EXAMPLES[command]:
        assert cmd in text
    for code in ExitStatus:
        assert any(ln.strip().startswith(f"{int(code)} ") for ln in lines), code


def test_shell_completion_is_offered():
    text = help_text()
    assert "--install-completion" in text and "--show-completion" in text


def test_debug_shows_traceback(capsys):
    assert main(["minimize", "sine(x)", "--debug"]) == ExitStatus.USAGE
    err = capsys.readouterr().err
    assert "Traceback" in err and err.rstrip().splitlines()[-1].startswith("error: ")


# --- the whole option space: every combination ends with a documented code, for the right reason -------------

HOSTILE = ["0", "-1", "nan", "inf", "-inf", "1e308", "abc", "", "1e-320", "2"]
VALID = {
    "--x0": ["1", "x=1,y=2", "y=1,x=-2", "x=0.5,y=0.5", "x=3,y=-1"],
    "--lr": ["0.1", "0.01", "1e-3", "1", "3", "0.1,0.01", "1e-3,1"], "--eps": ["1e-6", "0", "1e-3", "1e-12"],
    "--gtol": ["1e-6", "1e-3"], "--ftol": ["1e-9", "1e-3"], "--target": ["0", "-5", "1"],
    "--max-iter": ["1", "5", "50", "300"], "--momentum": ["0.9", "0.5", "0"], "--beta1": ["0.9", "0.5"],
    "--beta2": ["0.999", "0.9,0.99"], "--weight-decay": ["0", "0.01"], "--alpha": ["0.99", "0.5"],
    "--history-size": ["1", "10", "100"], "--gamma": ["0.5", "0.99", "1"], "--step-size": ["1", "3", "100"],
    "--t-max": ["1", "10", "100"], "--bounds": ["x=0:5", "y=:1", "x=-1:", "x=1:1", "x=-2:2"],
    "--dtype": ["float32", "float64"], "--seed": ["0", "7"], "--vars": ["x,y", "y,x"], "--param": ["a=2"],
    "--every": ["1", "7"], "--trace-format": ["jsonl", "csv"],
    # the batch: many starts, sweeps, basin hopping, devices, traced rows
    "--starts": ["1", "3", "8"], "--hops": ["0", "2"], "--device": ["cpu", "auto"], "--trace-rows": ["0", "2"],
}
EXTRA_HOSTILE = {"--x0": ["x=a", "1,2,3", "z=1", "x=1e400", "=", ","], "--bounds": ["x=5:0", "z=0:1", "x0:5", "x=a:b"],
                 "--vars": ["x", "x,x,y", ""], "--param": ["a", "a=nan", "a=1,a=2"], "--seed": ["-1", "99999999999999999999"]}
METHOD_OPTIONS = {"gd": [], "momentum": ["--momentum"], "nesterov": ["--momentum"],
                  "adam": ["--beta1", "--beta2", "--weight-decay"], "adamw": ["--beta1", "--beta2", "--weight-decay"],
                  "rmsprop": ["--alpha", "--momentum", "--weight-decay"], "adagrad": ["--weight-decay"],
                  "lbfgs": ["--history-size"]}
SCHEDULE_OPTIONS = {"constant": [], "exponential": ["--gamma"], "step": ["--gamma", "--step-size"], "cosine": ["--t-max"]}
GENERAL = ["--x0", "--lr", "--eps", "--gtol", "--ftol", "--target", "--max-iter", "--bounds", "--dtype", "--seed", "--vars",
           "--starts", "--hops", "--device", "--trace-rows"]
EXPRESSIONS = ["(x-4)**2 + y**2", "(1-x)**2 + 100*(y-x^2)**2", "x**2 + y**2", "log(x) + y**2", "x*y", "abs(x) + max(x, y)",
               "exp(100*x) + y**2", "sin(x)/x + y**2", "1/x + y**2", "x**2 + y**2 - 1e300*x", "sqrt(x) + y**4",
               "(x**2 + y - 11)**2 + (x + y**2 - 7)**2", "x +", "__import__('os')", "a*x**2 + y**2"]


@st.composite
def command_lines(draw, trace_dir):
    """Mostly consistent options with valid values, and one time in five anything at all."""
    method = draw(st.sampled_from(sorted(METHOD_OPTIONS)))
    schedule = draw(st.sampled_from(sorted(SCHEDULE_OPTIONS)))
    hostile = draw(st.integers(0, 4)) == 0
    names = ["--method"] + (["--schedule"] if schedule != "constant" else [])
    pool = GENERAL + METHOD_OPTIONS[method] + SCHEDULE_OPTIONS[schedule] + (sorted(VALID) if hostile else [])
    names += draw(st.lists(st.sampled_from(pool), max_size=5, unique=True))
    args = [draw(st.sampled_from(["minimize", "maximize"])), draw(st.sampled_from(EXPRESSIONS))]
    for name in dict.fromkeys(names):
        if name == "--method":
            value = method if not hostile else draw(st.sampled_from([method, "sgd"]))
        elif name == "--schedule":
            value = schedule
        elif hostile:
            value = draw(st.sampled_from(VALID[name] + HOSTILE + EXTRA_HOSTILE.get(name, [])))
        else:
            value = draw(st.sampled_from(VALID[name]))
        args += [name, value]
    if method in ("gd", "momentum") and draw(st.booleans()):
        args += ["--line-search", "armijo"]
    output = draw(st.sampled_from(["table", "--json", "--quiet", "trace-", "tracefile", "csv"] + (["bad"] if hostile else [])))
    args += {"table": [], "--json": ["--json"], "--quiet": ["--quiet"], "trace-": ["--trace", "-"],
             "tracefile": ["--trace", str(trace_dir / "t.jsonl")],
             "csv": ["--trace", str(trace_dir / "t.csv"), "--trace-format", "csv"],
             "bad": ["--trace", "/no/such/dir/t.jsonl", "--json", "--quiet"]}[output]
    return [*args, "--time-limit", "2"]  # every run is short


EXPECTED_STATUS = {0: {"converged"}, 1: {"stalled", "max_iter", "time_limit"}, 3: {"diverged"}}


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_any_option_combination_ends_with_a_documented_code_for_the_right_reason(data, tmp_path):
    import contextlib
    import io

    args = data.draw(command_lines(tmp_path))
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(args)
    out, err = out.getvalue(), err.getvalue()
    assert "Traceback" not in err and code != ExitStatus.INTERNAL_ERROR, (args, err)
    assert code in (0, 1, 2, 3), (args, code, err)
    if code == ExitStatus.USAGE:
        assert err.startswith("error: ") and err.count("\n") == 1 and out == "", (args, err, out[:200])
        return
    assert "error:" not in err, (args, err)
    if "--json" in args:
        doc = json.loads(out)
        assert doc["status"] in EXPECTED_STATUS[code], (args, doc["status"], code)
        assert doc["success"] is (code == 0)
    elif "--trace" in args and args[args.index("--trace") + 1] == "-":
        lines = [json.loads(line) for line in out.splitlines()]
        assert lines[0]["type"] == "header" and lines[-1]["type"] == "result"
        assert lines[-1]["status"] in EXPECTED_STATUS[code]
    else:
        assert any(status in out for status in EXPECTED_STATUS[code]), (args, out[-300:])


def test_shape_and_data_on_the_command_line(tmp_path):
    code, out, _ = invoke("minimize", "sum((x-3)**2)", "--shape", "x=2,2", "--x0", "x=[[1,2],[3,4]]", "--method",
                          "lbfgs", "--json")
    doc = json.loads(out)
    assert code == 0 and doc["x0"] == {"x": [[1, 2], [3, 4]]} and len(doc["x"]["x"]) == 2
    path = tmp_path / "d.csv"
    path.write_text("x,y\n0,1\n1,3\n2,5\n")
    code, out, _ = invoke("minimize", "mean((y-a*x-b)**2)", "--data", str(path), "--x0", "a=0,b=0", "--method",
                          "lbfgs", "--json")
    assert code == 0 and abs(json.loads(out)["x"]["a"] - 2) < 1e-6
    code, out, err = invoke("minimize", "(y-a*x-b)**2", "--data", str(path))
    assert code == 2 and out == "" and "not one number" in err and len(err.strip().splitlines()) == 1
    code, out, err = invoke("minimize", "sum(w**2)", "--shape", "w=0")
    assert code == 2 and "--shape of w must be 1 to 8 whole numbers" in err
    code, out, err = invoke("grad", "mean(3*(x+2)**2)", "--shape", "x=2,2", "--at", "x=1", "--json")
    assert code == 0 and json.loads(out)["autograd"] == {"x": [[4.5, 4.5], [4.5, 4.5]]}


@pytest.mark.parametrize("command", ["minimize", "maximize", "fit", "grad", "explain", "plot", "batch"])
def test_a_commands_description_fills_the_width(command):
    # a docstring's source line breaks must not reach the help: a line is only broken where the next word
    # would not fit (rich pads the text a column each side: a line ends by column 79)
    text = help_text(command)
    description = text.split("╭")[0].splitlines()[3:]  # below the usage line
    for line, following in itertools.pairwise(description):
        if line.strip() and following.strip():
            assert len(line.rstrip()) + 1 + len(following.split()[0]) > 79, (line, following)
