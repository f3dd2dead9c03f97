"""Pictures from traces: files of the requested size, not blank, contour or curve, terminal drawing."""

from __future__ import annotations

import io
import re

import pytest

from gdsolve.api.solve import prepare, run
from gdsolve.core.errors import GdsolveError
from gdsolve.io.trace import TraceWriter, read_trace
from gdsolve.present.plot import draw_file, draw_terminal, use_log_scale

mpimg = pytest.importorskip("matplotlib.image")


def trace_of(text, name="t", **kw):
    d = prepare(text, **kw)
    buf = io.StringIO()
    w = TraceWriter(buf, d)
    w.close(run(d, w))
    return read_trace(io.StringIO(buf.getvalue()), name)


ROSEN = "(1-x)**2 + 100*(y-x^2)**2"


def test_png_has_requested_size_and_is_not_blank(tmp_path):
    out = tmp_path / "run.png"
    fig = draw_file([trace_of(ROSEN, x0={"x": -1, "y": 1}, method="lbfgs", max_iter=500)], str(out), width=640, height=360)
    img = mpimg.imread(out)
    assert img.shape[:2] == (360, 640)
    assert img[..., :3].std() > 0.05  # not one flat colour
    ax_f, ax_path = fig.axes[0], fig.axes[1]
    assert ax_f.get_yscale() == "log"  # f spans decades
    assert ax_path.collections, "the contour of f is drawn"
    assert ax_path.get_title() == "path on the contour of f"


def test_one_variable_draws_the_curve(tmp_path):
    fig = draw_file([trace_of("(x-4)**2", x0=0.0)], str(tmp_path / "one.svg"))
    assert (tmp_path / "one.svg").read_text().startswith("<?xml")
    assert fig.axes[1].get_title() == "iterates on f" and len(fig.axes[1].lines) == 2


def test_several_traces_share_one_plot_with_a_legend(tmp_path):
    traces = [trace_of(ROSEN, name=f"lr{lr}", x0={"x": -1, "y": 1}, lr=lr, max_iter=300) for lr in (5e-4, 1e-3, 2e-3)]
    fig = draw_file(traces, str(tmp_path / "cmp.png"))
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert labels == ["gd lr 0.0005", "gd lr 0.001", "gd lr 0.002"]


def test_many_variables_plot_only_f(tmp_path):
    fig = draw_file([trace_of("x**2 + y**2 + z**2", x0=[1, 1, 1])], str(tmp_path / "f.png"))
    assert len(fig.axes) == 1


def test_bad_suffix_and_missing_matplotlib(tmp_path, monkeypatch):
    t = trace_of("(x-4)**2", x0=0.0)
    with pytest.raises(GdsolveError, match="must end in"):
        draw_file([t], str(tmp_path / "run.gif"))
    import builtins

    real_import = builtins.__import__

    def no_mpl(name, *a, **k):
        if name.startswith("matplotlib"):
            raise ImportError(name)
        return real_import(name, *a, **k)

    monkeypatch.setattr(builtins, "__import__", no_mpl)
    monkeypatch.delitem(__import__("sys").modules, "matplotlib", raising=False)
    with pytest.raises(GdsolveError, match=r"pip install 'gdsolve\[plot\]'"):
        draw_file([t], str(tmp_path / "run.png"))


def test_terminal_drawing():
    pytest.importorskip("plotext")
    text = draw_terminal([trace_of(ROSEN, x0={"x": -1, "y": 1}, lr=0.001, max_iter=200)], width=100, height=25)
    lines = re.sub(r"\x1b\[[0-9;]*m", "", text).splitlines()
    assert 20 <= len(lines) <= 30 and max(len(line) for line in lines) <= 140
    assert "f by iteration" in text and "path" in text


def test_terminal_drawing_honours_no_color(monkeypatch):
    pytest.importorskip("plotext")
    monkeypatch.setenv("NO_COLOR", "1")
    text = draw_terminal([trace_of("(x-4)**2", x0=0.0)], width=80, height=20)
    assert "\x1b[" not in text


def test_log_scale_rule():
    assert use_log_scale([1e3, 1.0]) and not use_log_scale([5.0, 1.0]) and not use_log_scale([0.0, 100.0])


# --- hostile traces and options: gdsolve's own error (exit 2) or a picture, never a crash -------------------

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_GOOD = [
    '{"type":"header","variables":["x","y"],"expression":"x**2 + y**2","settings":{"method":"gd","lr":0.1}}',
    '{"type":"step","iteration":0,"x":{"x":1.0,"y":2.0},"f":5.0}',
    '{"type":"step","iteration":1,"x":{"x":0.8,"y":1.6},"f":3.2}',
    '{"type":"result","nit":2,"x":{"x":0.64,"y":1.28},"fun":2.048}',
]
_BAD_PARTS = ['{"type":"step"}', '{"type":"step","iteration":"a","x":{"x":1,"y":2},"f":1}', "[1, 2]", "null", "{",
              '{"type":"header","variables":[]}', '{"type":"step","iteration":2,"x":{"x":1e308,"y":-1e308},"f":1e308}',
              '{"type":"step","iteration":3,"x":{"x":null,"y":null},"f":null}', '{"type":"header","variables":"xy"}',
              '{"type":"result","nit":1,"x":null,"fun":null}', '{"type":"header","variables":["x","y"],"expression":"__import__(1)"}',
              '\u2212', '{"type":"step","iteration":4,"x":{"x":1,"y":2},"f":true}']


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lines=st.lists(st.sampled_from(_GOOD + _BAD_PARTS), min_size=0, max_size=8),
       title=st.sampled_from([None, "$", "cost in $ \\\\frac{", "plain"]))
def test_hostile_traces_give_a_picture_or_one_error_line(lines, title, tmp_path):
    import contextlib
    import io

    from gdsolve.cli.app import main

    trace = tmp_path / "t.jsonl"
    trace.write_text("\n".join(lines) + "\n", encoding="utf-8")
    args = ["plot", str(trace), "-o", str(tmp_path / "p.png"), "--width", "200", "--height", "120"]
    if title is not None:
        args += ["--title", title]
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(args)
    assert code in (0, 2), err.getvalue()
    if code == 2:
        assert err.getvalue().startswith("error: ") and err.getvalue().count("\n") == 1
