"""The terminal table: bounded rows that show the run's shape, the final row, labels that fit the outcome."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from gdsolve.api.solve import prepare, run
from gdsolve.present.render import TableRenderer, log_rows, nice_every


def render(text, quiet=False, every=None, width=120, terminal=False, **kw):
    buf = io.StringIO()
    console = Console(file=buf, width=width, color_system=None, force_terminal=terminal, soft_wrap=True)
    d = prepare(text, **kw)
    r = TableRenderer(console, d.objective.variables, max_iter=d.settings.max_iter, every=every, quiet=quiet)
    result = run(d, r)
    r.finish(result)
    return buf.getvalue(), result


def rows(out):
    return [ln for ln in out.splitlines() if ln.strip()[:1].isdigit()]


def iters(out):
    return [int(ln.split()[0]) for ln in rows(out)]


def test_long_run_is_bounded_and_ends_with_the_final_point():
    out, r = render("(x-4)**2", x0=0.0, eps=0.0, max_iter=20000, lr=1e-5)
    ks = iters(out)
    assert 40 <= len(ks) <= 70 and ks[-1] == 20000 == r.nit
    assert ks[-4:] == [19997, 19998, 19999, 20000]  # the last steps, then the final point
    assert "max_iter" in out


def test_run_that_ends_early_still_shows_its_shape():
    # max-iter a million, converged at 62: not just ten rows and the last one
    out, r = render("(x-4)**2", x0=0.0, max_iter=1_000_000)
    ks = iters(out)
    assert r.nit == 62 and {10, 20, 50}.issubset(ks) and ks[-4:] == [59, 60, 61, 62]


def test_the_tail_is_the_steps_since_the_last_row_printed_in_order():
    # README: "the steps since the last row printed (up to three) and the final point, in order, none twice"
    out, r = render("(x-4)**2", x0=0.7421, every=20)
    ks = iters(out)
    assert r.nit == 61 and ks[-3:] == [50, 60, 61] and ks == sorted(set(ks))
    out, r = render("(x-4)**2", x0=0.7421, every=27)  # 54 printed on schedule; of 55 to 60, the last three
    ks = iters(out)
    assert ks[-5:] == [54, 58, 59, 60, 61] and ks == sorted(set(ks))


def test_short_run_shows_every_step_and_summary():
    out, _ = render("(x-4)**2", x0=0.7421)
    assert "iter" in out and "‖grad‖" in out
    assert "converged: step" in out and "< eps 1e-06" in out
    assert "solution" in out and "x = 3.99999" in out and "f (minimum)" in out


def test_every_and_quiet():
    out, _ = render("(x-4)**2", x0=0.0, eps=0.0, max_iter=100, every=50)
    assert iters(out) == [*range(10), 10, 20, 50, 97, 98, 99, 100]
    out, _ = render("(x-4)**2", x0=0.0, quiet=True)
    assert rows(out) == [] and "solution" in out


def test_row_ladders():
    assert nice_every(100) == 5 and nice_every(20000) == 500 and nice_every(10) == 1
    assert sorted(log_rows(1000)) == [10, 20, 50, 100, 200, 500, 1000]


@pytest.mark.parametrize("width", [40, 50, 70])
def test_narrow_terminal_never_wraps_a_row(width):
    out, _ = render("a**2 + b**2 + c**2 + d**2 + e**2", x0=[1, 1, 1, 1, 1], max_iter=300, width=width, terminal=True,
                    schedule="exponential")
    table = [ln for ln in out.splitlines() if ln and ln[0] not in "╭│╰"]
    assert table and all(len(ln) <= width for ln in table), [ln for ln in table if len(ln) > width]
    assert "…" in table[0]  # the header says columns were left out


def test_no_color_when_piped():
    out, _ = render("(x-4)**2", x0=0.0)
    assert "\x1b[" not in out


@pytest.mark.parametrize(("text", "kw", "status"), [
    ("log(x)", {"x0": -1.0}, "diverged"),
    ("(x-4)**2", {"x0": 0.0, "schedule": "cosine", "t_max": 10}, "stalled"),
    ("(x-4)**2", {"x0": 0.0, "max_iter": 3}, "max_iter"),
])
def test_labels_fit_the_outcome(text, kw, status):
    out, r = render(text, **kw)
    assert r.status.value == status
    assert "solution" not in out and "minimum" not in out and "last point" in out
    assert "nan vs" not in out and "eps: nan" not in out


def test_rules_line_when_no_step_was_made():
    out, _ = render("log(x)", x0=-1.0)
    assert "eps: not measured (no step was made)" in out


def test_maximize_table_in_the_users_sign():
    out, r = render("3 - (x-1)**2", x0=0.0, sense="maximize")
    first = rows(out)[0].split()
    assert float(first[2]) == 2.0 and "f (maximum)" in out and r.fun == pytest.approx(3.0)


def test_stderr_view_fits_the_width_and_cuts_no_number():
    from gdsolve import maximize, minimize
    from gdsolve.present.render import stderr_view

    r = minimize("40*lam - 141*log(lam) + (mu - 2)**2/0.01", x0={"lam": 1, "mu": 0}, method="lbfgs", stderr=True)
    for width, headers in ((100, ("P>|z|", "0.975]")), (40, ("std error",))):
        c = Console(file=io.StringIO(), width=width, color_system=None)
        c.print(stderr_view(r))
        out = c.file.getvalue()
        assert "…" not in out and all(h in out for h in headers)
        assert f"{r.x['lam']:.8g}" in out and f"{r.stderr['lam']:.6g}" in out
    assert stderr_view(minimize("(x-1)**2", x0={"x": 0})) is None
    m = maximize("-(x**2) + y**2", x0={"x": 0, "y": 0}, method="lbfgs", stderr=True)
    c = Console(file=io.StringIO(), width=200, color_system=None)
    c.print(stderr_view(m))
    out = c.file.getvalue()
    assert "Standard errors\n" not in out and "not positive definite" in out and "inverse of -Hessian" in out
