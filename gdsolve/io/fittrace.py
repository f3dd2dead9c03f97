"""A fit's trace (``gdsolve fit --trace FILE``) and its picture (``gdsolve plot`` of that trace).

The trace is JSON Lines like a minimize trace (:mod:`gdsolve.io.trace`), so the
same reader takes it: a ``header`` record with ``"kind": "fit"``, the model,
the parameters as ``variables`` and the data itself (up to
:data:`MAX_TRACE_ROWS` rows, so the picture needs nothing else); one ``step``
record per step (the parameters and the cost of the best start); and a
``result`` record, the ``--json`` document.

The picture: the data with the fitted curve (one predictor column; with more,
the fitted values against the observed ones), and below it the residuals.
"""

from __future__ import annotations

import json
import math
import sys
from typing import IO, TYPE_CHECKING, Any

from .._version import __version__
from ..core.errors import GdsolveError
from .jsonio import SCHEMA_VERSION, clean

if TYPE_CHECKING:
    from ..formula.model import FitModel

#: The most data rows a fit trace embeds; a larger fit's trace has no data (and its picture says so).
MAX_TRACE_ROWS = 100_000
CURVE_POINTS = 400


class FitTraceWriter:
    """A step callback for :func:`gdsolve.fit` that writes the fit's trace to ``target``.

    ``target`` is an open text stream, or a path (``-``: stdout) that is opened
    at the first record: a fit refused for its input leaves no trace file behind.
    """

    def __init__(self, target: str | IO[str], model: FitModel, settings: dict[str, Any]) -> None:
        self.target = target
        self.stream: IO[str] | None = None if isinstance(target, str) else target
        self.flush = target == "-"  # a live consumer of the pipe sees every step as it comes
        self.parameters = model.parameters
        self.k = 0
        table = model.table
        columns = {n: list(v) for n, v in table.columns.items()} if table.rows <= MAX_TRACE_ROWS else None
        self.header: dict[str, Any] | None = {
            "type": "header", "kind": "fit", "schema": SCHEMA_VERSION, "version": __version__,
            "expression": model.parsed.text, "model": model.text, "response": model.response_text,
            "variables": list(self.parameters), "params": {}, "settings": settings, "rows": table.rows,
            "data": columns}

    def _write(self, record: dict[str, Any]) -> None:
        if self.stream is None:
            from ..cli.outputs import open_trace

            self.stream = sys.stdout if self.target == "-" else open_trace(str(self.target))
        if self.header is not None:
            header, self.header = self.header, None
            self._write(header)
        self.stream.write(json.dumps(clean(record), allow_nan=False) + "\n")
        if self.flush:
            self.stream.flush()

    def __call__(self, state: Any) -> None:
        """Record one step: an :class:`~gdsolve.optim.lm.LMState` (its best row) or a minimize method's step."""
        if hasattr(state, "cost"):
            from ..optim.lm import best_row

            row = best_row(state.cost)
            x, f = state.P[row].tolist(), float(state.cost[row])
        else:
            x, f = list(getattr(state, "x", ())), float(getattr(state, "f", math.nan))
            if len(x) != len(self.parameters):
                return  # a batch step of another method: not traced
        self.k += 1
        self._write({"type": "step", "iteration": self.k, "x": dict(zip(self.parameters, x)), "f": f})

    def close(self, document: dict[str, Any] | None = None) -> None:
        """Write the result record (the fit's ``--json`` document), then close a file this writer opened."""
        if document is not None:
            self._write({"type": "result", **document, "nit": int(document.get("nit", self.k))})
        if self.stream is not None and isinstance(self.target, str) and self.target != "-":
            self.stream.close()


def fit_curve(header: dict[str, Any], params: dict[str, float]) -> dict[str, Any]:
    """What the picture draws, from a fit trace: the data, the fitted curve (or values) and the residuals."""
    import torch

    from ..formula.data import table_from_mapping
    from ..formula.model import parse_model

    data = header.get("data")
    if not isinstance(data, dict) or not data:
        raise GdsolveError(f"this fit trace holds no data (fits of over {MAX_TRACE_ROWS:,} rows keep it out of the "
                           "trace); plot the --residuals file instead")
    table = table_from_mapping(data, "the trace's data")
    fm = parse_model(str(header.get("model", "")), table)
    P = torch.tensor([[float(params[p]) for p in fm.parameters]], dtype=torch.float64)
    y = fm.observed().tolist()
    fitted = fm.predictor()(P)[0].tolist()
    out: dict[str, Any] = {"response": fm.response_text, "y": y, "fitted": fitted,
                           "residuals": [a - b for a, b in zip(y, fitted)]}
    if len(fm.columns) == 1:
        name = fm.columns[0]
        xs = list(table.columns[name])
        lo, hi = min(xs), max(xs)
        grid = [lo + (hi - lo) * i / (CURVE_POINTS - 1) for i in range(CURVE_POINTS)] if hi > lo else [lo]
        curve = fm.predictor(table=table_from_mapping({name: grid}))(P)[0].tolist()
        out.update({"predictor": name, "x": xs, "grid": grid, "curve": curve})
    return out


def draw_fit_file(trace: Any, output: str, *, width: int = 900, height: int = 600, dpi: int = 100,
                  title: str | None = None) -> None:
    """The data with the fitted curve, and the residuals below, into a PNG, SVG or PDF."""
    from ..present.plot import _need, check_suffix, save_figure

    check_suffix(output)
    params = _final_params(trace)
    c = fit_curve(trace.header, params)
    matplotlib = _need("matplotlib")
    matplotlib.use("Agg")
    plt = _need("matplotlib.pyplot")
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(width / dpi, height / dpi), dpi=dpi, sharex="predictor" in c,
                                      gridspec_kw={"height_ratios": [3, 1]})
    if "predictor" in c:
        top.plot(c["x"], c["y"], "o", markersize=3, label="data")
        top.plot(c["grid"], c["curve"], "-", linewidth=1.5, label="fit")
        bottom.plot(c["x"], c["residuals"], "o", markersize=3)
        bottom.set_xlabel(c["predictor"])
    else:
        top.plot(c["y"], c["fitted"], "o", markersize=3, label="fitted vs observed")
        lo, hi = min(c["y"]), max(c["y"])
        top.plot([lo, hi], [lo, hi], "-", linewidth=1, label="fitted = observed")
        top.set_xlabel(f"observed {c['response']}")
        bottom.plot(range(1, len(c["residuals"]) + 1), c["residuals"], "o", markersize=3)
        bottom.set_xlabel("data row")
    top.set_ylabel(c["response"])
    top.legend(fontsize="small")
    top.grid(True, alpha=0.3)
    bottom.axhline(0, color="gray", linewidth=0.8)
    bottom.set_ylabel("residual")
    bottom.grid(True, alpha=0.3)
    save_figure(plt, fig, output, dpi, title or str(trace.header.get("model", "")))


def draw_fit_terminal(trace: Any, *, width: int | None = None, height: int | None = None) -> str:
    """The same picture in the terminal, with plotext."""
    import os

    from ..present.plot import _need

    plt = _need("plotext")
    c = fit_curve(trace.header, _final_params(trace))
    plt.clear_figure()
    plt.subplots(2, 1)
    plt.subplot(1, 1)
    if "predictor" in c:
        plt.scatter(c["x"], c["y"], label="data")
        plt.plot(c["grid"], c["curve"], label="fit")
    else:
        plt.scatter(c["y"], c["fitted"], label="fitted vs observed")
    plt.title(str(trace.header.get("model", "")))
    plt.subplot(2, 1)
    plt.scatter(c.get("x", list(range(1, len(c["residuals"]) + 1))), c["residuals"])
    plt.title("residuals")
    plt.main()
    if width or height:
        plt.plotsize(width, height)
    text = plt.build()
    return plt.uncolorize(text) if os.environ.get("NO_COLOR") else text


def _final_params(trace: Any) -> dict[str, float]:
    if trace.result is not None and isinstance(trace.result.get("x"), dict):
        return trace.result["x"]
    if trace.steps:
        return trace.steps[-1]["x"]
    raise GdsolveError(f"{trace.name} has no steps and no result: nothing to draw")
