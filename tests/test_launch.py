"""The console script starts without garbage-collection passes and turns the collector back on after imports."""

from __future__ import annotations

import gc
import subprocess
import sys

from gdsolve import launch


def test_imports_done_restores_the_collector_it_paused():
    was = gc.isenabled()
    gc.disable()
    launch._paused = True
    try:
        launch.imports_done()
        assert gc.isenabled() and gc.get_freeze_count() > 0 and not launch._paused
    finally:
        gc.unfreeze()
        if not was:
            gc.disable()


def test_library_use_leaves_the_collector_alone():
    code = ("import gc, gdsolve; r = gdsolve.minimize('(x-4)**2', x0=0.0); "
            "from gdsolve.launch import imports_done; imports_done(); print(gc.isenabled(), gc.get_freeze_count())")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert p.stdout.split() == ["True", "0"], p.stderr


def test_the_command_runs_with_the_collector_back_on():
    # python -m gdsolve starts through launch.entry; by the time the run's step callback is called, gc is on again.
    code = ("import gc, sys\n"
            "from gdsolve import launch\n"
            "import gdsolve.api as api\n"
            "real = api.run\n"
            "def run(d, cb=None, **kw):\n"
            "    sys.stderr.write(f'gc={gc.isenabled()}\\n')\n"
            "    return real(d, cb, **kw)\n"
            "api.run = run\n"
            "sys.argv = ['gdsolve', 'minimize', '(x-4)**2', '--json']\n"
            "launch.entry()\n")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0 and "gc=True" in p.stderr, p.stderr
