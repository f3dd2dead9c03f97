"""End to end: the installed ``gdsolve`` command, in a subprocess, as users run it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

# The console script installed beside this interpreter (a venv need not be activated).
GDSOLVE = shutil.which("gdsolve", path=os.path.dirname(sys.executable)) or shutil.which("gdsolve")
# Skipped only outside CI, for a checkout that was never pip-installed; in CI a
# missing command is a failure.
pytestmark = pytest.mark.skipif(GDSOLVE is None and not os.environ.get("CI"), reason="gdsolve is not installed")


def rest_of(p: subprocess.Popen, timeout: float) -> tuple[str, str]:
    """The rest of ``p``'s stdout and stderr, then its exit.

    After ``p.stdout.readline()``, ``p.communicate()`` must not be used: it
    reads the file descriptors directly, so whatever readline() had already
    buffered (a second line that arrived with the first) is lost.
    """
    import threading

    watchdog = threading.Timer(timeout, p.kill)
    watchdog.start()
    try:
        err: list[str] = []
        reader = threading.Thread(target=lambda: err.append(p.stderr.read()))
        reader.start()
        out = p.stdout.read()
        reader.join()
        p.wait()
    finally:
        watchdog.cancel()
    return out, err[0]


def gd(*args, **kw):
    assert GDSOLVE, "the gdsolve console script must be installed (pip install .)"
    return subprocess.run([GDSOLVE, *args], capture_output=True, text=True, timeout=120, **kw)


def test_json_pipeline():
    p = gd("maximize", "-(x-1)**2 - (y+2)**2 + 3", "--json")
    assert p.returncode == 0 and p.stderr == ""
    doc = json.loads(p.stdout)
    assert doc["x"]["x"] == pytest.approx(1, abs=1e-4)


def test_rosenbrock_with_a_small_rate_is_stalled_not_converged():
    # gd at lr 0.001 stops (step < eps) about 0.002 short of (1, 1) along the valley: not converged, and it says why.
    p = gd("minimize", "(1-x)**2 + 100*(y-x^2)**2", "--lr", "0.001", "--max-iter", "20000", "--x0", "x=-1,y=1", "--json")
    doc = json.loads(p.stdout)
    assert p.returncode == 1 and doc["status"] == "stalled" and doc["x"]["x"] == pytest.approx(1, abs=0.01)
    assert "the rate 0.001 is small for this problem's curvature" in doc["message"] and "--method lbfgs" in doc["message"]


def test_table_when_not_a_terminal_is_plain_text():
    p = gd("minimize", "(x-4)**2", "--lr", "0.1")
    assert p.returncode == 0 and "\x1b[" not in p.stdout and "converged" in p.stdout


def test_bad_input_no_traceback(tmp_path):
    p = gd("minimize", "__import__('os').system('touch pwned')", cwd=tmp_path)
    assert p.returncode == 2 and p.stderr.startswith("error: ") and p.stderr.count("\n") == 1
    assert not (tmp_path / "pwned").exists()


def test_help_and_version_do_not_import_torch_or_sympy():
    code = (
        "import sys; from gdsolve.cli.app import main\n"
        "for args in (['--help'], ['--version'], ['minimize', '--help'], ['batch', '--help'], ['grad', '--help'],\n"
        "             ['explain', '--help']):\n"
        "    try: main(args)\n"
        "    except SystemExit: pass\n"
        "heavy = [m for m in ('torch', 'sympy') if m in sys.modules]\n"
        "sys.stderr.write(repr(heavy))\n"
    )
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert p.stderr == "[]", p.stderr


def test_python_dash_m():
    p = subprocess.run([sys.executable, "-m", "gdsolve", "--version"], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0 and p.stdout.startswith("gdsolve ")


def test_sigint_reports_last_and_best_and_closes_trace(tmp_path):
    import signal
    import time

    trace = tmp_path / "t.jsonl"
    p = subprocess.Popen([GDSOLVE, "minimize", "(x-4)**2 + (y+1)**2", "--x0", "x=0,y=0", "--lr", "1e-7", "--eps", "0",
                          "--max-iter", "100000000", "--json", "--trace", str(trace)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 60
    while time.time() < deadline and (not trace.exists() or trace.stat().st_size < 20000):
        time.sleep(0.05)
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=60)
    assert p.returncode == 130, err
    assert "Traceback" not in err
    doc = json.loads(out)
    assert doc["status"] == "interrupted" and doc["stop_rule"] == "interrupted" and doc["nit"] > 0
    assert doc["best"]["fun"] <= 17.0 and "x is the last point reached, best the best point seen" in doc["message"]
    lines = trace.read_text().splitlines()
    last = json.loads(lines[-1])
    assert last["type"] == "result" and last["status"] == "interrupted"
    assert all(json.loads(line) for line in lines)  # every line whole


def test_closed_pipe_ends_quietly():
    p = subprocess.Popen([GDSOLVE, "minimize", "(x-4)**2", "--x0", "0", "--eps", "0", "--max-iter", "10000000",
                          "--trace", "-"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    first = [p.stdout.readline() for _ in range(3)]
    p.stdout.close()  # like `| head -3`
    err = p.stderr.read()
    p.wait(timeout=60)
    assert json.loads(first[0])["type"] == "header" and json.loads(first[2])["type"] == "step"
    assert p.returncode == 141 and err == ""


def test_trace_pipe_into_plot(tmp_path):
    out = tmp_path / "run.png"
    p = subprocess.run(f'"{GDSOLVE}" minimize "(1-x)**2 + 100*(y-x^2)**2" --lr 0.001 --max-iter 2000 --x0 x=-1,y=1 '
                       f'--trace - --quiet | "{GDSOLVE}" plot -o "{out}" --width 500 --height 300',
                       shell=True, capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    assert out.stat().st_size > 10_000 and p.stderr.strip() == f"wrote {out}"


def test_plot_needs_o_without_a_terminal(tmp_path, minimize_trace):
    trace = tmp_path / "t.jsonl"
    trace.write_text(minimize_trace)
    p = gd("plot", str(trace))
    assert p.returncode == 2 and p.stderr.startswith("error: stdout is not a terminal")
    p = gd("plot", str(tmp_path / "missing.jsonl"), "-o", str(tmp_path / "x.png"))
    assert p.returncode == 2 and "cannot read" in p.stderr


CLOSED_PIPE_MODES = {
    "table": ["minimize", "(1-x)**2 + 100*(y-x^2)**2", "--lr", "0.001", "--max-iter", "20000", "--x0", "x=-1,y=1"],
    "quiet": ["minimize", "(x-4)**2", "--quiet"],
    "json": ["minimize", "(x-4)**2", "--json"],
    "trace": ["minimize", "(x-4)**2", "--trace", "-"],
    "help": ["--help"],
    "command help": ["minimize", "--help"],
    "plot help": ["plot", "--help"],
    "version": ["--version"],
    "stalled": ["minimize", "(x-4)**2", "--schedule", "cosine", "--t-max", "10"],
    # a batch: many starts, a sweep, its trace, its JSON
    "starts": ["minimize", "(x^2+y-11)^2+(x+y^2-7)^2", "--starts", "16"],
    "starts quiet": ["minimize", "(x^2+y-11)^2+(x+y^2-7)^2", "--starts", "16", "--quiet"],
    "starts json": ["minimize", "(x^2+y-11)^2+(x+y^2-7)^2", "--starts", "16", "--json"],
    "sweep trace": ["minimize", "(x-4)**2", "--lr", "0.1,0.01", "--trace", "-"],
    "sweep csv trace": ["minimize", "(x-4)**2", "--lr", "0.1,0.01", "--trace", "-", "--trace-format", "csv"],
    # seeing the gradient
    "grad": ["grad", "(1-x)**2 + 100*(y-x^2)**2", "--hessian", "--at", "x=1,y=1"],
    "grad json": ["grad", "sqrt(3)*x", "--json"],
    "explain": ["explain", "(x-4)**2"],
    "explain dot": ["explain", "(x-4)**2", "--dot"],
    "verify": ["minimize", "(x-4)**2", "--verify"],
    "fit": ["fit", "y ~ b1*(1-exp(-b2*x))", "--data", str(Path(__file__).parents[1] / "examples" / "misra1a.csv"),
            "--p0", "b1=500,b2=1e-4"],
    "fit json": ["fit", "y ~ b1*(1-exp(-b2*x))", "--data", str(Path(__file__).parents[1] / "examples" / "misra1a.csv"),
                 "--json"],
    "fit trace": ["fit", "y ~ b1*(1-exp(-b2*x))", "--data",
                  str(Path(__file__).parents[1] / "examples" / "misra1a.csv"), "--trace", "-"],
}


@pytest.mark.parametrize("mode", CLOSED_PIPE_MODES)
def test_closed_pipe_is_141_in_every_mode(mode):
    # The reader is gone before anything is written: the first write meets a closed pipe.
    r, w = os.pipe()
    os.close(r)
    try:
        p = subprocess.run([GDSOLVE, *CLOSED_PIPE_MODES[mode]], stdout=w, stderr=subprocess.PIPE, text=True, timeout=120)
    finally:
        os.close(w)
    assert p.returncode == 141 and p.stderr == "", (p.returncode, p.stderr)


def test_head_3_on_the_table_is_141():
    p = subprocess.run(f'"{GDSOLVE}" minimize "(1-x)**2 + 100*(y-x^2)**2" --lr 0.001 --max-iter 20000 --x0 x=-1,y=1 '
                       '| head -3; echo "status=${PIPESTATUS[0]}" >&2', shell=True, executable="/bin/bash",
                       capture_output=True, text=True, timeout=120)
    assert len(p.stdout.splitlines()) == 3 and p.stderr.strip() == "status=141", p.stderr


def test_ctrl_c_in_the_live_pipeline_still_draws_the_picture(tmp_path):
    import signal
    import time

    png = tmp_path / "run.png"
    script = (f'"{GDSOLVE}" minimize "(1-x)**2 + 100*(y-x^2)**2" --lr 1e-5 --eps 0 --max-iter 100000000 '
              f'--x0 x=-1,y=1 --trace - | "{GDSOLVE}" plot -o "{png}"; echo "plot=$?" >&2')
    p = subprocess.Popen(["bash", "-c", script], start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True)
    time.sleep(4)
    os.killpg(p.pid, signal.SIGINT)  # Ctrl-C at the terminal: SIGINT to the whole process group
    _, err = p.communicate(timeout=120)
    assert png.exists() and png.stat().st_size > 5_000, err
    assert f"wrote {png}" in err and "plot=130" in err and "interrupted" in err and "Traceback" not in err


def test_no_color_is_honoured():
    env = {**os.environ, "FORCE_COLOR": "1", "COLUMNS": "100"}
    env.pop("NO_COLOR", None)
    colored = gd("minimize", "(x-4)**2", "--x0", "0", env=env)
    assert "\x1b[" in colored.stdout  # a terminal gets colour...
    plain = gd("minimize", "(x-4)**2", "--x0", "0", env={**env, "NO_COLOR": "1"})
    assert "\x1b[3" not in plain.stdout and "\x1b[9" not in plain.stdout  # ...unless NO_COLOR: no colour codes


def test_sigint_ends_a_batch_with_every_row_interrupted_and_its_trace_written(tmp_path):
    import signal
    import time

    trace = tmp_path / "t.jsonl"
    p = subprocess.Popen([GDSOLVE, "minimize", "(x-4)**2 + (y+1)**2", "--starts", "64", "--lr", "1e-7", "--eps", "0",
                          "--max-iter", "100000000", "--trace", str(trace), "--trace-rows", "2"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert "best f" in p.stdout.readline()  # the table has begun: the run is iterating
    time.sleep(1)
    p.send_signal(signal.SIGINT)
    out, err = rest_of(p, timeout=120)
    assert p.returncode == 130, err
    assert "Traceback" not in err
    assert "gdsolve minimize: interrupted" in out and "interrupted 64" in out
    records = [json.loads(line) for line in trace.read_text().splitlines()]
    result = records[-1]
    assert result["type"] == "result" and result["status"] == "interrupted" and result["rows"]["interrupted"] == 64
    steps = [r for r in records if r["type"] == "step"]
    assert len({s["row"] for s in steps}) == 3 and result["row"] in {s["row"] for s in steps}
    assert max(s["iteration"] for s in steps if s["row"] == result["row"]) == result["nit"] - 1


SLOW_LINE = '{{"id": {i}, "expression": "(x-{i})**2", "x0": 0, "lr": 1e-9, "eps": 0, "max_iter": 1000000, "time_limit": 1.5}}'


@pytest.mark.parametrize("jobs", [[], ["--jobs", "2"]])
def test_sigint_ends_a_batch_after_the_current_group_with_the_finished_lines_written(tmp_path, jobs):
    import signal
    import time

    path = tmp_path / "p.jsonl"
    path.write_text("".join(SLOW_LINE.format(i=i) + "\n" for i in range(12)))
    p = subprocess.Popen([GDSOLVE, "batch", str(path), "--chunk", "1", *jobs],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    first = p.stdout.readline()  # one line is done: the batch is under way
    start = time.monotonic()
    p.send_signal(signal.SIGINT)
    out, err = rest_of(p, timeout=120)
    records = [json.loads(line) for line in [first, *out.splitlines()]]
    assert p.returncode == 130 and "Traceback" not in err and f"interrupted: {len(records)} lines written" in err
    assert 1 <= len(records) < 12 and time.monotonic() - start < 10  # within the current lines' own limits
    ids = [r["id"] for r in records]
    assert ids == sorted(ids) and all(r["result"]["status"] == "time_limit" for r in records)


def test_batch_closed_pipe_is_141_and_quiet(tmp_path):
    path = tmp_path / "p.jsonl"
    path.write_text("".join(json.dumps({"expression": f"(x-{i})**2", "x0": 0}) + "\n" for i in range(400)))
    p = subprocess.Popen([GDSOLVE, "batch", str(path), "--chunk", "1"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True)
    first = p.stdout.readline()
    p.stdout.close()  # like `| head -1`
    err = p.stderr.read()
    p.wait(timeout=60)
    assert json.loads(first)["id"] == 1 and p.returncode == 141 and err == ""


def test_batch_reads_a_pipe_and_writes_one_record_per_line():
    lines = [json.dumps({"id": "a", "expression": "(x-4)**2", "x0": 0}), "not json", b"\xff\xfe".decode("latin-1")]
    p = subprocess.run([GDSOLVE, "batch", "-"], input="\n".join(lines).encode("latin-1"), capture_output=True, timeout=120)
    records = [json.loads(line) for line in p.stdout.decode().splitlines()]
    assert p.returncode == 2 and p.stderr == b"" and [r["id"] for r in records] == ["a", 2, 3]
    assert records[0]["result"]["success"] and records[2]["error"]["message"].startswith("line 3 is not valid JSON")


def test_a_second_sigint_ends_a_batch_at_once(tmp_path):
    import signal
    import time

    path = tmp_path / "p.jsonl"
    path.write_text("".join(SLOW_LINE.replace("1.5", "20").format(i=i) + "\n" for i in range(3)))
    p = subprocess.Popen([GDSOLVE, "batch", str(path), "--chunk", "1"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True)
    time.sleep(4)  # imports done, the first line is iterating (for 20 s)
    start = time.monotonic()
    p.send_signal(signal.SIGINT)
    time.sleep(0.5)
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=60)
    assert p.returncode == 130 and time.monotonic() - start < 10 and out == ""
    assert err.strip().splitlines()[-1] == "error: interrupted"


def test_batch_shows_a_progress_bar_on_a_terminal_stderr(tmp_path, read_pty):
    import pty

    path = tmp_path / "p.jsonl"
    path.write_text("".join(SLOW_LINE.replace("1.5", "0.6").format(i=i) + "\n" for i in range(3)))
    leader, follower = pty.openpty()
    p = subprocess.Popen([GDSOLVE, "batch", str(path), "--chunk", "1"], stdout=subprocess.PIPE, stderr=follower)
    os.close(follower)
    shown = read_pty(leader)
    out, _ = p.communicate(timeout=60)
    assert p.returncode == 1 and len(out.splitlines()) == 3
    assert "solving" in shown and "/3" in shown and "3 not converged" in shown


def test_verify_adds_at_most_its_budget_on_a_formula_with_no_closed_form_and_leaves_no_process():
    import time
    import uuid

    # The command and its solving process carry this mark in their environment: another test's
    # verify process (the suite runs in parallel) is not this one's.
    token = uuid.uuid4().hex
    mark = f"GDSOLVE_TEST_MARK={token}".encode()
    t = time.monotonic()
    p = gd("minimize", "x**2 + exp(x) + sin(3*x)*cosh(x)", "--x0", "0", "--verify", "--verify-timeout", "2", "--json",
           env={**os.environ, "GDSOLVE_TEST_MARK": token})
    elapsed = time.monotonic() - t
    doc = json.loads(p.stdout)
    assert p.returncode == 0 and p.stderr == ""
    assert doc["verify"]["status"] == "timeout" and 2.0 <= doc["verify"]["seconds"] < 2.5
    assert elapsed < 2.5 + 10  # the budget, plus the start-up of a command that imports torch

    def read(proc: Path, name: str) -> bytes:
        try:
            return (proc / name).read_bytes()
        except OSError:  # gone meanwhile
            return b""

    left = [p for p in Path("/proc").glob("[0-9]*") if b"from gdsolve.api.verify import main" in read(p, "cmdline")
            and mark in read(p, "environ").split(b"\0")]
    assert left == []


def test_grad_json_pipeline_and_explain_dot():
    p = gd("grad", "x*y^2", "--json")
    assert p.returncode == 0 and p.stderr == "" and json.loads(p.stdout)["gradient"]["x"] == "y**2"
    p = gd("explain", "sin(x)*y", "--dot")
    assert p.returncode == 0 and p.stdout.startswith("digraph autograd {") and "SinBackward0" in p.stdout


def test_fit_reads_a_pipe_and_prints_one_json_document():
    data = "x y\n" + "".join(f"{x} {2 * x + 1 + (0.1 if x % 2 else -0.1)}\n" for x in range(10))
    p = subprocess.run([GDSOLVE, "fit", "y ~ a*x + b", "--data", "-", "--json"], input=data, capture_output=True,
                       text=True, timeout=120)
    doc = json.loads(p.stdout)
    assert p.returncode == 0 and p.stderr == "" and doc["data"] == "<stdin>"
    assert abs(doc["params"]["a"] - 2) < 0.05 and doc["n"] == 10 and doc["dof"] == 8
