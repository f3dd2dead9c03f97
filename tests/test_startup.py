"""The console script's start: its standard streams, the collector paused only while heavy libraries load, an early Ctrl-C."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).parents[1] / "examples"


def test_the_collector_is_off_only_while_a_heavy_library_loads():
    code = ("import gc, json\n"
            "from gdsolve.cli import startup\n"
            "startup.pause_collector_on_heavy_imports()\n"
            "seen = []\n"
            "gc.callbacks.append(lambda phase, info: seen.append(1))\n"
            "import sympy\n"
            "during = len(seen)\n"
            "print(gc.isenabled(), gc.get_freeze_count() > 0, during == 0)\n")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert p.stdout.split() == ["True", "True", "True"], p.stderr


def test_library_use_leaves_the_collector_alone():
    code = "import gc, gdsolve; r = gdsolve.minimize('(x-4)**2', x0=0.0); print(gc.isenabled(), gc.get_freeze_count())"
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert p.stdout.split() == ["True", "0"], p.stderr


# Every command, started as the console script starts (gdsolve.cli.entry.entry): the collector is on when it ends.
COMMANDS = {
    "minimize": ["minimize", "(x-4)**2", "--json"],
    "maximize": ["maximize", "3-(x-1)**2", "--json"],
    "batch": ["batch", str(EXAMPLES / "problems.jsonl")],
    "fit": ["fit", "y ~ b1*(1-exp(-b2*x))", "--data", str(EXAMPLES / "misra1a.csv"), "--p0", "b1=500,b2=1e-4",
            "--json"],
    "grad": ["grad", "x*y^2", "--at", "x=1,y=2", "--json"],
    "explain": ["explain", "(x-4)**2", "--json"],
    "plot": ["plot", "-o", "PICTURE"],
}


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_runs_with_the_collector_back_on(command, tmp_path, minimize_trace):
    args = [a.replace("PICTURE", str(tmp_path / "run.png")) for a in COMMANDS[command]]
    stdin = minimize_trace if command == "plot" else None
    code = ("import atexit, gc, sys\n"
            "atexit.register(lambda: sys.stderr.write(f'gc={gc.isenabled()}\\n'))\n"
            "from gdsolve.cli.entry import entry\n"
            f"sys.argv = ['gdsolve', *{args!r}]\n"
            "entry()\n")
    p = subprocess.run([sys.executable, "-c", code], input=stdin, capture_output=True, text=True, timeout=120)
    assert p.returncode in (0, 2) and "Traceback" not in p.stderr, p.stderr  # batch's example has one bad line
    assert p.stderr.splitlines()[-1] == "gc=True", p.stderr


# A Ctrl-C that arrives while a heavy library loads: sent by an import hook the moment torch (or sympy) is looked for.
EARLY_CTRL_C = ("import os, signal, sys\n"
                "from gdsolve.cli.entry import entry\n"
                "class Kill:\n"
                "    done = False\n"
                "    def find_spec(self, name, path=None, target=None):\n"
                "        if name == WHICH and not Kill.done:\n"
                "            Kill.done = True\n"
                "            os.kill(os.getpid(), signal.SIGINT)\n"
                "        return None\n"
                "sys.meta_path.insert(0, Kill())\n"
                "entry()\n")


def test_ctrl_c_while_the_libraries_load_still_prints_the_interrupted_document():
    p = subprocess.run([sys.executable, "-c", EARLY_CTRL_C.replace("WHICH", "'torch'"),
                        "minimize", "(x-4)**2", "--x0", "0", "--json"], capture_output=True, text=True, timeout=120)
    assert p.returncode == 130 and "Traceback" not in p.stderr, p.stderr
    doc = json.loads(p.stdout)
    assert doc["status"] == "interrupted" and doc["nit"] <= 1 and doc["x0"] == {"x": 0.0}


def test_ctrl_c_while_the_libraries_load_ends_a_fit_as_interrupted_at_its_first_step():
    p = subprocess.run([sys.executable, "-c", EARLY_CTRL_C.replace("WHICH", "'torch'"),
                        "fit", "y ~ b1*(1-exp(-b2*x))", "--data", str(EXAMPLES / "misra1a.csv"), "--p0", "b1=500,b2=1e-4",
                        "--json"], capture_output=True, text=True, timeout=120)
    assert p.returncode == 130 and "Traceback" not in p.stderr, p.stderr
    doc = json.loads(p.stdout)
    assert doc["status"] == "interrupted" and doc["nit"] <= 1


def test_ctrl_c_while_the_libraries_load_ends_a_command_with_no_run_as_interrupted():
    p = subprocess.run([sys.executable, "-c", EARLY_CTRL_C.replace("WHICH", "'sympy'"),
                        "grad", "x**2"], capture_output=True, text=True, timeout=120)
    assert p.returncode == 130 and p.stderr.splitlines()[-1] == "error: interrupted", p.stderr


# The installed command under a shell's redirections: stdout closed, stdout on a full disk, stderr closed.
GDSOLVE = shutil.which("gdsolve", path=os.path.dirname(sys.executable)) or "gdsolve"
MISRA = str(EXAMPLES / "misra1a.csv")
PROBLEMS = str(EXAMPLES / "problems.jsonl")
# name -> (arguments, exit code when stdout takes everything; its stdout is data: "json", "jsonl" or "text")
WRITERS = {
    "minimize json": (["minimize", "(x-4)**2", "--json"], 0, "json"),
    "minimize trace": (["minimize", "(x-4)**2", "--trace", "-"], 0, "jsonl"),
    "minimize table": (["minimize", "(x-4)**2"], 0, "text"),
    "maximize json": (["maximize", "3-(x-1)**2", "--json"], 0, "json"),
    "fit json": (["fit", "y ~ b1*(1-exp(-b2*x))", "--data", MISRA, "--p0", "b1=500,b2=1e-4", "--json"], 0, "json"),
    "fit trace": (["fit", "y ~ b1*(1-exp(-b2*x))", "--data", MISRA, "--p0", "b1=500,b2=1e-4", "--trace", "-"], 0,
                  "jsonl"),
    "batch": (["batch", PROBLEMS], 2, "jsonl"),  # the example has a line with a typo: 2
    "grad json": (["grad", "x*y^2", "--json"], 0, "json"),
    "explain": (["explain", "(x-4)**2"], 0, "text"),
    "help": (["--help"], 0, "text"),
    "version": (["--version"], 0, "text"),
}


def shell(args: list[str], redirect: str) -> subprocess.CompletedProcess:
    line = " ".join(shlex.quote(a) for a in [GDSOLVE, *args]) + " " + redirect
    return subprocess.run(["bash", "-c", line], capture_output=True, text=True, timeout=120)


def is_data(out: str, kind: str) -> bool:
    if kind == "json":
        return isinstance(json.loads(out), dict)
    if kind == "jsonl":
        return all(isinstance(json.loads(line), dict) for line in out.splitlines()) and out.endswith("\n")
    return out != "" and not any(line.startswith(("error:", "Traceback")) for line in out.splitlines())


@pytest.mark.parametrize("name", WRITERS)
def test_closed_stdout_is_exit_74_with_one_line_that_says_so(name):
    p = shell(WRITERS[name][0], ">&-")
    assert (p.returncode, p.stderr) == (74, "error: cannot write to stdout: it is closed\n")


@pytest.mark.parametrize("name", WRITERS)
def test_a_full_disk_is_exit_74_with_the_systems_reason(name):
    p = shell(WRITERS[name][0], "> /dev/full")
    assert (p.returncode, p.stderr) == (74, "error: cannot write to stdout: No space left on device\n")


@pytest.mark.parametrize("name", WRITERS)
def test_closed_stderr_leaves_stdout_to_the_data(name):
    args, code, kind = WRITERS[name]
    p = shell(args, "2>&-")
    assert p.returncode == code and is_data(p.stdout, kind), p.stdout[-500:]


def test_closed_stderr_bad_input_is_still_exit_2_and_writes_nothing():
    for args in (["minimize", "(x-4"], ["minimize", "(x-4", "--debug"], ["batch", "--dask", "x"], ["fit", "y ~ a*x"],
                 ["minimize", "(x-4)**2", "--lr", "nan"]):
        p = shell(args, "2>&-")
        assert (p.returncode, p.stdout) == (2, ""), args


def test_a_trace_file_opened_with_stderr_closed_gets_no_talk(tmp_path):
    # fd 2 closed: a file opened later must not take its number and receive stderr's text.
    trace = tmp_path / "t.jsonl"
    p = shell(["minimize", "(x-4)**2", "--trace", str(trace), "--lr", "nan"], "2>&-")
    assert p.returncode == 2 and not trace.exists()
    p = shell(["minimize", "(x-4)**2", "--trace", str(trace), "--quiet"], "2>&-")
    assert p.returncode == 0 and all(json.loads(line) for line in trace.read_text().splitlines())
    assert "converged" in p.stdout


def test_plot_to_a_file_needs_no_stdout(tmp_path, minimize_trace):
    out = tmp_path / "run.png"
    p = subprocess.run(["bash", "-c", f"{shlex.quote(GDSOLVE)} plot -o {shlex.quote(str(out))} >&-"], input=minimize_trace,
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0 and out.stat().st_size > 1000, p.stderr


@pytest.mark.parametrize(("args", "what"), [
    (["minimize", "(x-4)**2", "--trace", "/dev/full", "--quiet"], "the trace file '/dev/full'"),
    (["fit", "y ~ b1*(1-exp(-b2*x))", "--data", MISRA, "--p0", "b1=500,b2=1e-4", "--trace", "/dev/full"],
     "the trace file '/dev/full'"),
    (["fit", "y ~ b1*(1-exp(-b2*x))", "--data", MISRA, "--p0", "b1=500,b2=1e-4", "--residuals", "/dev/full"],
     "the residuals file '/dev/full'"),
])
def test_a_file_on_a_full_disk_is_exit_74_and_named(args, what):
    p = shell(args, "> /dev/null")
    assert (p.returncode, p.stderr) == (74, f"error: cannot write to {what}: No space left on device\n")
