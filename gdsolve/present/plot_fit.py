"""The picture of a fit's trace: the data with the fitted curve (one predictor column; with more,
the fitted values against the observed ones), and below it the residuals."""

from __future__ import annotations

from typing import Any

from ..core.errors import GdsolveError
from ..io.fittrace import MAX_TRACE_ROWS

CURVE_POINTS = 400


def fit_curve(header: dict[str, Any], params: dict[str, float]) -> dict[str, Any]:
    """What the picture draws, from a fit trace: the data, the fitted curve (or values) and the residuals."""
    import torch

    from ..formula.data import table_from_mapping
    from ..formula.matrices import restore_matrices
    from ..formula.model import parse_model

    data = header.get("data")
    if not isinstance(data, dict) or not data:
        raise GdsolveError(f"this fit trace holds no data (fits of over {MAX_TRACE_ROWS:,} rows keep it out of the "
                           "trace); plot the --residuals file instead")
    table = restore_matrices(table_from_mapping(data, "the trace's data"), header.get("matrices"))
    fm = parse_model(str(header.get("model", "")), table, shapes=header.get("shapes") or None)
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
    from .figures import check_suffix, need, save_figure

    check_suffix(output)
    params = _final_params(trace)
    c = fit_curve(trace.header, params)
    matplotlib = need("matplotlib")
    matplotlib.use("Agg")
    plt = need("matplotlib.pyplot")
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

    from .figures import need

    plt = need("plotext")
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
