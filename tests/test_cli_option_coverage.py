"""Options whose documented effect had no command-line test (issue 18, item 6).

Each test runs the option through ``main()`` (as a user's command line) and
asserts what --help and README.md say it does, not merely that it exits 0.
"""

from __future__ import annotations

import contextlib
import io
import json
import shutil
import struct
from pathlib import Path

import pytest

from gdsolve.cli.app import main
from gdsolve.core.status import ExitStatus

ROOT = Path(__file__).resolve().parent.parent
MISRA = str(ROOT / "examples" / "misra1a.csv")
MISRA_MODEL = "y ~ b1*(1-exp(-b2*x))"
RASTRIGIN = "x**2 + 10*(1-cos(2*pi*x))"  # local minima near every integer, the global one at 0


def cli(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(args))
    return code, out.getvalue(), err.getvalue()


def doc(*args: str) -> dict:
    code, out, err = cli(*args, "--json")
    assert code in (0, 1, 3), (args, code, err)
    return json.loads(out)


def steps(*args: str) -> list[dict]:
    code, out, err = cli(*args, "--trace", "-", "--quiet")
    assert code in (0, 1), (args, code, err)
    return [r for r in map(json.loads, out.splitlines()) if r["type"] == "step"]


@pytest.fixture
def gappy(tmp_path: Path) -> str:
    """y = 2x + 1 on three rows, and a fourth row with y missing."""
    path = tmp_path / "d.csv"
    path.write_text("x,y\n0,1\n1,NA\n1,3\n2,5\n")
    return str(path)


# --- minimize / maximize ----------------------------------------------------------------------------------------

def test_hops_leave_a_local_minimum_that_a_plain_descent_keeps():
    plain = doc("minimize", RASTRIGIN, "--x0", "3", "--lr", "0.002")
    hopped = doc("minimize", RASTRIGIN, "--x0", "3", "--lr", "0.002", "--hops", "30")
    assert plain["fun"] > 8 and abs(plain["x"]["x"] - 3) < 0.1  # the local minimum near 3
    assert hopped["fun"] < 1e-6 and abs(hopped["x"]["x"]) < 1e-4  # basin hopping reached the global one


def test_hop_size_sets_how_far_a_hop_goes():
    tiny = doc("minimize", RASTRIGIN, "--x0", "3", "--lr", "0.002", "--hops", "30", "--hop-size", "0.001")
    wide = doc("minimize", RASTRIGIN, "--x0", "3", "--lr", "0.002", "--hops", "30", "--hop-size", "0.2")
    assert tiny["fun"] > 8  # hops of 0.1% of the box never leave the basin near 3
    assert wide["fun"] < 1e-6


def test_device_cpu_runs_a_batch_on_the_cpu_and_says_so():
    d = doc("minimize", "(x-4)**2", "--starts", "2", "--device", "cpu")
    assert d["device"] == "cpu" and d["settings"]["device"] == "cpu" and abs(d["x"]["x"] - 4) < 1e-4


def test_device_cuda_without_a_gpu_is_refused_naming_the_fix():
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("this machine has a CUDA GPU")
    code, out, err = cli("minimize", "(x-4)**2", "--device", "cuda")
    assert code == ExitStatus.USAGE and out == "" and "--device cpu or auto" in err


@pytest.mark.parametrize("device", ["auto", "cpu"])
def test_device_json_says_where_a_single_run_ran(device):
    import torch

    want = "cuda" if device == "auto" and torch.cuda.is_available() else "cpu"
    assert doc("minimize", "(x-4)**2", "--x0", "0", "--device", device).get("device") == want
    assert "device" not in doc("minimize", "(x-4)**2", "--x0", "0")  # not asked: not said


@pytest.mark.compile
def test_compile_reports_its_time_apart_and_solves():
    if not (shutil.which("c++") or shutil.which("g++") or shutil.which("clang++")):
        pytest.skip("torch.compile needs a C++ compiler on the CPU")
    d = doc("minimize", "(x-4)**2", "--x0", "0", "--compile")
    assert d["compile_time"] > 0 and d["status"] == "converged" and abs(d["x"]["x"] - 4) < 1e-4


def test_compile_reaches_torch_compile_and_its_refusal_is_exit_2(monkeypatch):
    # the option's path without compiling anything (test_compile_reports_its_time_apart_and_solves compiles, opt-in)
    import torch

    def refuses(*args, **kwargs):
        raise RuntimeError("no compiler here")

    monkeypatch.setattr(torch, "compile", refuses)
    code, out, err = cli("minimize", "(x-4)**2", "--x0", "0", "--compile", "--json")
    assert code == ExitStatus.USAGE and out == "" and err.startswith("error: --compile: ") and "no compiler here" in err
    code, out, err = cli("minimize", "sum(w**2)", "--shape", "w=2", "--compile")
    assert code == ExitStatus.USAGE and "compile" in err and err.count("\n") == 1


def test_drop_missing_on_minimize_fits_the_complete_rows(gappy):
    code, _, err = cli("minimize", "mean((y-a*x-b)**2)", "--data", gappy, "--x0", "a=0,b=0")
    assert code == ExitStatus.USAGE and "--drop-missing" in err
    d = doc("minimize", "mean((y-a*x-b)**2)", "--data", gappy, "--drop-missing", "--x0", "a=0,b=0", "--method", "lbfgs")
    assert abs(d["x"]["a"] - 2) < 1e-6 and abs(d["x"]["b"] - 1) < 1e-6


def test_beta1_and_beta2_zero_make_adam_a_sign_step_of_exactly_lr():
    # beta1 = beta2 = 0: m = g, v = g^2, so each step is lr * g/|g|; with the default betas the third step is shorter
    signed = steps("minimize", "(x-4)**2", "--x0", "0", "--method", "adam", "--lr", "0.5", "--beta1", "0", "--beta2", "0",
                   "--max-iter", "4")
    assert [abs(s["step_norm"] - 0.5) < 1e-6 for s in signed[:3]] == [True] * 3
    default = steps("minimize", "(x-4)**2", "--x0", "0", "--method", "adam", "--lr", "0.5", "--max-iter", "4")
    assert default[2]["step_norm"] < 0.495  # 0.4917: m-hat / sqrt(v-hat) < 1 as |g| falls


def test_weight_decay_pulls_adams_minimum_toward_zero():
    # adam adds weight_decay * x to the gradient: the minimum of (x-4)^2 + x^2/2 is at x = 8/3
    d = doc("minimize", "(x-4)**2", "--x0", "0", "--method", "adam", "--lr", "0.01", "--weight-decay", "1",
            "--max-iter", "3000")
    assert abs(d["x"]["x"] - 8 / 3) < 1e-3 and d["settings"]["weight_decay"] == 1


def test_alpha_zero_makes_rmsprop_a_sign_step_of_exactly_lr():
    # alpha = 0: v = g^2, so each step is lr * g/|g|
    got = steps("minimize", "(x-4)**2", "--x0", "0", "--method", "rmsprop", "--lr", "0.5", "--alpha", "0",
                "--max-iter", "3")
    assert [abs(s["step_norm"] - 0.5) < 1e-6 for s in got] == [True] * 3


def test_history_size_changes_how_lbfgs_converges():
    quad = "x**2 + 10*y**2 + 100*z**2 + 1000*w**2"
    short = doc("minimize", quad, "--x0", "1,1,1,1", "--method", "lbfgs", "--history-size", "1")
    full = doc("minimize", quad, "--x0", "1,1,1,1", "--method", "lbfgs", "--history-size", "100")
    assert short["settings"]["history_size"] == 1 and short["status"] == full["status"] == "converged"
    assert full["nit"] < short["nit"]  # more stored updates: fewer iterations on an ill-conditioned quadratic


MISRA_SSR = "sum((y - b1*(1-exp(-b2*x)))**2)"


def test_scale_auto_lets_lbfgs_solve_a_badly_scaled_problem_and_the_json_says_how():
    scaled = doc("minimize", MISRA_SSR, "--data", MISRA, "--x0", "b1=500,b2=1e-4", "--method", "lbfgs")
    assert scaled["status"] == "converged" and abs(scaled["x"]["b1"] - 238.94212918) < 1e-4
    assert scaled["settings"]["scale"] == "auto" and scaled["scaling"]["kind"] == "hessian-diagonal"
    factors = scaled["scaling"]["factors"]
    assert set(factors) == {"b1", "b2"} and factors["b2"] < 1e-3 * factors["b1"]  # b2's curvature is far larger
    plain = doc("minimize", MISRA_SSR, "--data", MISRA, "--x0", "b1=500,b2=1e-4", "--method", "lbfgs",
                "--scale", "none")
    assert plain["status"] == "stalled" and plain["scaling"] is None and plain["settings"]["scale"] == "none"
    assert "drop --scale none" in plain["message"]


def test_scale_trace_rows_and_summary_are_in_the_users_variables():
    args = ("minimize", "(1-x)**2 + 100*(y/1000 - x**2)**2", "--x0", "x=-1.2,y=1000", "--method", "lbfgs")
    rows = steps(*args)
    assert rows[0]["x"] == {"x": -1.2, "y": 1000.0}
    assert abs(rows[-1]["x"]["y"] - 1000) < 1e-3 and abs(rows[-1]["x"]["x"] - 1) < 1e-6
    code, out, _ = cli(*args, "--quiet")
    assert code == 0 and "scaling" in out and "y/64" in out  # y's curvature is 2e-4: z = y / 64


def test_scale_auto_is_refused_for_a_method_with_a_users_rate():
    code, _, err = cli("minimize", "(x-1)**2", "--scale", "auto")
    assert code == ExitStatus.USAGE and "--scale auto applies to --method lbfgs only" in err


def test_line_search_armijo_tames_a_rate_that_diverges():
    assert doc("minimize", "(x-4)**2", "--x0", "0", "--lr", "5")["status"] == "diverged"
    d = doc("minimize", "(x-4)**2", "--x0", "0", "--lr", "5", "--line-search", "armijo")
    assert d["status"] == "converged" and abs(d["x"]["x"] - 4) < 1e-4 and d["settings"]["line_search"] == "armijo"


def test_gtol_stops_on_the_gradient_norm():
    d = doc("minimize", "(x-4)**2", "--x0", "0", "--gtol", "1e-2")
    assert d["stop_rule"] == "gtol" and d["status"] == "converged" and d["grad_norm"] < 1e-2


@pytest.mark.parametrize(("sense", "expression", "target"), [("minimize", "(x-4)**2", "1"),
                                                            ("maximize", "3-(x-4)**2", "2")])
def test_target_stops_once_f_reaches_it(sense, expression, target):
    d = doc(sense, expression, "--x0", "0", "--target", target)
    assert d["stop_rule"] == "target"
    assert d["fun"] <= float(target) if sense == "minimize" else d["fun"] >= float(target)
    assert abs(d["fun"] - float(target)) < 0.5  # stopped near the target, not at the optimum


def test_step_schedule_halves_the_rate_every_step_size_iterations():
    got = steps("minimize", "(x-4)**2", "--x0", "0", "--lr", "0.01", "--schedule", "step", "--gamma", "0.5",
                "--step-size", "3", "--max-iter", "7")
    want = [0.01] * 3 + [0.005] * 3 + [0.0025]
    assert len(got) == 7 and all(abs(s["lr"] - w) <= 1e-12 * w for s, w in zip(got, want))


# --- batch ------------------------------------------------------------------------------------------------------

def test_batch_device_cpu_runs_a_batch_line_on_the_cpu(tmp_path):
    path = tmp_path / "p.jsonl"
    path.write_text(json.dumps({"expression": "(x-4)**2", "x0": 0, "starts": 4}) + "\n")
    code, out, _ = cli("batch", str(path), "--device", "cpu")
    record = json.loads(out)
    assert code == 0 and record["result"]["device"] == "cpu" and record["result"]["settings"]["device"] == "cpu"


def test_worker_wait_gives_every_line_its_error_when_the_cluster_has_no_worker(tmp_path):
    distributed = pytest.importorskip("distributed")
    path = tmp_path / "p.jsonl"
    path.write_text("".join(json.dumps({"id": i, "expression": "(x-4)**2", "x0": 0}) + "\n" for i in range(2)))
    with distributed.LocalCluster(n_workers=0, processes=False, dashboard_address=":0") as cluster:
        code, out, _ = cli("batch", str(path), "--dask", cluster.scheduler_address, "--worker-wait", "1")
    records = [json.loads(line) for line in out.splitlines()]
    assert code != 0 and [r["id"] for r in records] == [0, 1]
    assert all(r["result"] is None and r["error"] for r in records)


# --- --debug on every command that had no test of it -----------------------------------------------------------

@pytest.mark.parametrize("args", [["batch", "/nonexistent/p.jsonl"], ["grad", "x**2", "--at", "y=1"],
                                  ["explain", "x**2", "--lr", "nan"], ["plot", "/nonexistent.jsonl", "-o", "x.png"],
                                  ["fit", "y ~ a*x", "--data", "nope.csv"]], ids=lambda a: a[0])
def test_debug_shows_the_traceback_then_the_error_line(args, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, _, err = cli(*args)
    assert code == ExitStatus.USAGE and "Traceback" not in err
    code, _, err = cli(*args, "--debug")
    assert code == ExitStatus.USAGE and "Traceback" in err and err.rstrip().splitlines()[-1].startswith("error: ")


# --- grad and explain -------------------------------------------------------------------------------------------

def test_grad_vars_and_param():
    d = doc("grad", "a*x*y^2", "--param", "a=3", "--vars", "y,x", "--at", "y=2,x=1")
    assert d["variables"] == ["y", "x"] and list(d["gradient"]) == ["y", "x"]
    assert d["gradient"] == {"y": "6*x*y", "x": "3*y**2"} and d["autograd"] == {"y": 12.0, "x": 12.0}


def test_grad_data_and_drop_missing(gappy):
    code, _, err = cli("grad", "mean((y-a*x-b)**2)", "--data", gappy, "--at", "a=0,b=0")
    assert code == ExitStatus.USAGE and "--drop-missing" in err
    d = doc("grad", "mean((y-a*x-b)**2)", "--data", gappy, "--drop-missing", "--at", "a=0,b=0")
    # rows (0,1), (1,3), (2,5): d/da = mean(-2xy) = -26/3, d/db = mean(-2y) = -6
    assert abs(d["autograd"]["a"] + 26 / 3) < 1e-12 and abs(d["autograd"]["b"] + 6) < 1e-12


def test_explain_lr_sets_the_step_it_shows():
    d = doc("explain", "x*y", "--at", "x=1,y=2", "--lr", "0.5")
    assert d["lr"] == 0.5 and d["step"]["x_new"] == {"x": 0.0, "y": 1.5}  # (1, 2) - 0.5 * (2, 1)
    code, out, _ = cli("explain", "(x-4)**2", "--at", "x=0.2121", "--lr", "0.5")
    assert code == 0 and "(lr 0.5)" in out and "x: tensor([4.])" in out  # 0.2121 + 0.5 * 7.5758


def test_explain_vars_and_param():
    d = doc("explain", "x*y", "--vars", "y,x", "--at", "y=2,x=1")
    assert d["variables"] == ["y", "x"] and d["grad"] == {"y": 1.0, "x": 2.0}
    d = doc("explain", "a*(x-b)**2", "--param", "a=3", "--param", "b=4", "--at", "x=0")
    assert d["f"] == 48.0 and d["grad"] == {"x": -24.0}  # 3 * (0-4)^2, 3 * 2 * (0-4)


# --- plot -------------------------------------------------------------------------------------------------------

@pytest.fixture
def trace(tmp_path: Path) -> str:
    path = tmp_path / "t.jsonl"
    code, _, err = cli("minimize", "(x-4)**2", "--x0", "0", "--trace", str(path), "--quiet")
    assert code == 0, err
    return str(path)


def test_plot_title_is_drawn_and_defaults_to_the_expression(trace, tmp_path):
    pytest.importorskip("matplotlib")
    titled, plain = tmp_path / "a.svg", tmp_path / "b.svg"
    assert cli("plot", trace, "-o", str(titled), "--title", "MyTitleXYZ")[0] == 0
    assert cli("plot", trace, "-o", str(plain))[0] == 0
    assert "MyTitleXYZ" in titled.read_text() and "MyTitleXYZ" not in plain.read_text()
    assert "(x-4)" in plain.read_text()


def png_size_and_dpi(path: Path) -> tuple[int, int, float]:
    data = path.read_bytes()
    width, height = struct.unpack(">II", data[16:24])
    i = data.index(b"pHYs")
    per_metre, _, unit = struct.unpack(">IIB", data[i + 4:i + 13])
    assert unit == 1  # pixels per metre
    return width, height, per_metre * 0.0254


@pytest.mark.parametrize("dpi", [50, 200])
def test_plot_dpi_sets_the_files_resolution_not_its_pixels(trace, tmp_path, dpi):
    pytest.importorskip("matplotlib")
    out = tmp_path / "p.png"
    assert cli("plot", trace, "-o", str(out), "--dpi", str(dpi))[0] == 0
    width, height, got = png_size_and_dpi(out)
    assert (width, height) == (900, 450) and abs(got - dpi) < 0.5  # README: default 900 x 450, exactly


# --- fit --------------------------------------------------------------------------------------------------------

def test_fit_starts_and_seed_draw_the_starts():
    a = doc("fit", MISRA_MODEL, "--data", MISRA, "--starts", "8", "--seed", "3")
    again = doc("fit", MISRA_MODEL, "--data", MISRA, "--starts", "8", "--seed", "3")
    other = doc("fit", MISRA_MODEL, "--data", MISRA, "--starts", "8", "--seed", "4")
    assert a["starts"] == 8 and a["settings"]["seed"] == 3 and a["status"] == "converged"
    assert abs(a["params"]["b1"] - 238.94212918) < 1e-6 * 238.94212918  # NIST's certified value
    assert a["p0"] == again["p0"] and a["p0"] != other["p0"]  # the seed draws the winning start


@pytest.mark.parametrize(("option", "value", "words"), [("--ftol", "1e-2", "<= ftol 0.01"),
                                                        ("--xtol", "1e-2", "<= xtol 0.01"),
                                                        ("--gtol", "1e-1", "< gtol 0.1")])
def test_fit_lm_tolerances_name_the_rule_that_stopped(option, value, words):
    d = doc("fit", MISRA_MODEL, "--data", MISRA, "--p0", "b1=500,b2=1e-4", option, value)
    assert d["status"] == "converged" and words in d["message"]
    assert d["settings"][option.lstrip("-")] == float(value)


def test_fit_time_limit_stops_a_long_run():
    d = doc("fit", MISRA_MODEL, "--data", MISRA, "--p0", "b1=500,b2=1e-4", "--method", "gd", "--lr", "1e-7",
            "--max-iter", "100000000", "--time-limit", "0.5")
    assert d["status"] == "time_limit" and d["settings"]["time_limit"] == 0.5


def test_fit_device_cpu():
    d = doc("fit", MISRA_MODEL, "--data", MISRA, "--p0", "b1=500,b2=1e-4", "--device", "cpu")
    assert d["settings"]["device"] == "cpu" and d["status"] == "converged"


def test_stderr_reports_standard_errors_in_the_json_and_the_report():
    d = doc("minimize", "40*lam - 141*log(lam)", "--method", "lbfgs", "--x0", "1", "--stderr")
    assert abs(d["stderr"]["lam"] - (141 / 40 / 40) ** 0.5) < 1e-6
    assert set(d) >= {"z_value", "p_value", "conf_int", "covariance", "correlation"} and d["stderr_reason"] is None
    code, out, _ = cli("minimize", "40*lam - 141*log(lam)", "--method", "lbfgs", "--x0", "1", "--stderr", "--quiet")
    assert code == 0 and "Standard errors" in out and "0.296859" in out and "negative log-likelihood" in out
    assert "stderr" not in doc("minimize", "(x-1)**2", "--x0", "0")  # only when asked


def test_stderr_says_why_there_are_none():
    d = doc("minimize", "(x-1)**2 + (y-2)**2", "--x0", "0,0", "--max-iter", "2", "--stderr")
    assert d["status"] == "max_iter" and d["stderr"] == {"x": None, "y": None}
    assert "did not converge" in d["stderr_reason"]
    code, out, _ = cli("maximize", "x**2 - y**2", "--x0", "0,0", "--method", "lbfgs", "--stderr", "--quiet")
    assert code == 0 and "not positive definite" in " ".join(out.split()) and "Standard errors\n" not in out
    d = doc("minimize", "(x-1)**2 + (y-2)**2", "--x0", "2.5,0", "--bounds", "x=2:3", "--method", "lbfgs",
            "--stderr", "--starts", "3")
    assert d["stderr"]["x"] is None and abs(d["stderr"]["y"] - 0.5**0.5) < 1e-9
    assert "x is held at its lower bound" in d["stderr_reason"]


def test_stderr_help_says_when_it_is_valid(capsys):
    assert main(["minimize", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.replace("│", " ").split())
    assert "--stderr" in text and "negative log-likelihood" in text and "no variable on a bound" in text
