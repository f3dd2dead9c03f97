"""The terminal table: bounded rows, the final row, the summary panel."""

from __future__ import annotations

import io

from rich.console import Console

from gdsolve.api import prepare, run
from gdsolve.render import TableRenderer, nice_every


def render(text, quiet=False, every=None, **kw):
    buf = io.StringIO()
    console = Console(file=buf, width=120, color_system=None)
    d = prepare(text, **kw)
    r = TableRenderer(console, d.objective.variables, max_iter=d.settings.max_iter, every=every, quiet=quiet)
    result = run(d, r)
    r.finish(result)
    return buf.getvalue(), result


def rows(out):
    return [ln for ln in out.splitlines() if ln.strip()[:1].isdigit()]


def test_long_run_shows_about_fifty_rows():
    out, r = render("(x-4)**2", x0=0.0, eps=0.0, max_iter=20000, lr=1e-5)
    n = rows(out)
    assert 40 <= len(n) <= 55
    assert n[-1].split()[0] == "20000"  # the final point is the last row
    assert "max_iter" in out and r.nit == 20000


def test_short_run_shows_every_step_and_summary():
    out, _ = render("(x-4)**2", x0=0.7421)
    assert "iter" in out and "‖grad‖" in out
    assert "converged: step" in out and "< eps 1e-06" in out
    assert "solution" in out and "x = 3.99999" in out


def test_every_and_quiet():
    out, _ = render("(x-4)**2", x0=0.0, eps=0.0, max_iter=100, every=50)
    assert [ln.split()[0] for ln in rows(out)] == [*map(str, range(10)), "50", "100"]
    out, _ = render("(x-4)**2", x0=0.0, quiet=True)
    assert rows(out) == [] and "solution" in out


def test_nice_every():
    assert nice_every(100) == 5 and nice_every(20000) == 500 and nice_every(10) == 1


def test_table_fits_a_narrow_terminal():
    buf = io.StringIO()
    console = Console(file=buf, width=70, force_terminal=True, color_system=None)
    d = prepare("a**2 + b**2 + c**2 + d**2 + e**2", x0=[1, 1, 1, 1, 1], max_iter=3)
    r = TableRenderer(console, d.objective.variables, max_iter=3)
    r.finish(run(d, r))
    rows_ = [ln for ln in buf.getvalue().splitlines() if ln.strip()[:1].isdigit()]
    assert rows_ and all(len(ln) <= 70 for ln in rows_)
    assert "a…" in buf.getvalue()  # the header says columns were left out


def test_no_color_when_piped():
    out, _ = render("(x-4)**2", x0=0.0)
    assert "\x1b[" not in out
