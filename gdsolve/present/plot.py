"""Pictures of runs, drawn from traces: ``gdsolve plot``.

Two panels: f against iteration (log scale when f is positive and spans
decades), and the path itself -- for two variables on the contour of f (in
files; the terminal draws the path alone), for one variable on the curve f(x). f is re-created from the trace header's
expression (parsed by the same safe parser), so a trace is all the input a
picture needs.

Back ends, both optional (``pip install 'gdsolve[plot]'``):

* matplotlib for files (``-o run.png`` / ``.svg`` / ``.pdf``), drawn with the
  non-interactive Agg back end at exactly the requested pixel size;
* plotext for the terminal: pure Python, no compiled parts, draws with
  Unicode braille dots in any terminal and sizes itself to the window.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from typing import Any

from ..core.errors import GdsolveError, OptionError
from ..io.trace import Trace, finite
from .figures import check_suffix, need, save_figure

GRID = 160



def use_log_scale(values: Sequence[float]) -> bool:
    """Log scale when every value is positive and they span two decades or more.

    >>> use_log_scale([100.0, 1.0, 1e-6]), use_log_scale([3.0, 2.0]), use_log_scale([1.0, -1.0])
    (True, False, False)
    """
    vals = finite(values)
    return bool(vals) and min(vals) > 0 and max(vals) / min(vals) >= 100


def same_problem(traces: Sequence[Trace]) -> bool:
    """Whether the traces share one expression, variables and parameters (so one contour fits all)."""
    first = traces[0].header
    return all(
        t.header.get("expression") == first.get("expression")
        and t.header.get("variables") == first.get("variables")
        and t.header.get("params") == first.get("params")
        for t in traces
    )


def surface(trace: Trace, ranges: Sequence[tuple[float, float]], n: int = GRID) -> tuple[list[list[float]], list[float]]:
    """Evaluate the trace's f on a grid over ``ranges`` (one or two variables).

    Returns (grid axes, f values flattened row-major); non-finite values are nan.
    """
    import torch

    from ..formula.objective import compile_objective

    h = trace.header
    obj = compile_objective(h["expression"], params=h.get("params") or {}, variables=h["variables"])
    axes = [[lo + (hi - lo) * i / (n - 1) for i in range(n)] for lo, hi in ranges]
    if len(axes) == 1:
        X = torch.tensor(axes[0], dtype=torch.float64).unsqueeze(1)
    else:
        gx, gy = torch.meshgrid(torch.tensor(axes[0], dtype=torch.float64), torch.tensor(axes[1], dtype=torch.float64),
                                indexing="xy")
        X = torch.stack([gx.reshape(-1), gy.reshape(-1)], dim=1)
    with torch.no_grad():
        F = obj(X)
    F = torch.where(torch.isfinite(F), F, torch.full_like(F, math.nan))
    return axes, F.tolist()


def _fit_trace(traces: Sequence[Trace]) -> bool:
    """Whether the traces are one fit's trace (several fits, or a fit with runs, cannot share one picture)."""
    fits = [t for t in traces if t.header.get("kind") == "fit"]
    if fits and len(traces) > 1:
        raise OptionError("a fit's trace is drawn alone (its data, curve and residuals); plot one fit at a time")
    return bool(fits)


def path_ranges(traces: Sequence[Trace], dims: int) -> list[tuple[float, float]]:
    """Axis ranges that hold every iterate of every trace, with a margin."""
    out = []
    for i in range(dims):
        vals = finite(x[i] for t in traces for _, x, _ in t.path())
        lo, hi = (min(vals), max(vals)) if vals else (-1.0, 1.0)
        span = hi - lo or max(abs(lo), 1.0)
        out.append((lo - 0.15 * span, hi + 0.15 * span))
    return out


MAX_PIXELS = 8192  # per side of a -o picture (matplotlib refuses 2**16; memory grows with the square)
MIN_PIXELS = 16
MAX_CHARS = 1000  # per side of a terminal picture
DPI_RANGE = (10, 1200)


def check_size(output: str | None, width: int | None, height: int | None, dpi: int | None) -> None:
    """Refuse a picture size or resolution out of range, naming the range (before any work)."""
    if output is None:
        if dpi is not None:
            raise OptionError("{dpi} sets the resolution of a file; add -o run.png, or leave it out")
        for name, v in (("width", width), ("height", height)):
            if v is not None and not 1 <= v <= MAX_CHARS:
                raise OptionError(f"{{{name}}} {v} is out of range for the terminal: 1 to {MAX_CHARS} characters")
        return
    for name, v in (("width", width), ("height", height)):
        if v is not None and not MIN_PIXELS <= v <= MAX_PIXELS:
            raise OptionError(f"{{{name}}} {v} is out of range for -o: {MIN_PIXELS} to {MAX_PIXELS} pixels")
    if dpi is not None and not DPI_RANGE[0] <= dpi <= DPI_RANGE[1]:
        raise OptionError(f"{{dpi}} {dpi} is out of range: {DPI_RANGE[0]} to {DPI_RANGE[1]}")


def draw_file(traces: Sequence[Trace], output: str, *, width: int = 900, height: int = 450, dpi: int = 100,
              title: str | None = None) -> Any:
    """Draw ``traces`` into ``output`` (PNG, SVG or PDF) at ``width`` x ``height`` pixels; return the
    (closed) matplotlib Figure, or None for a fit's trace.

    A fit's trace is drawn as its data, fitted curve and residuals (:mod:`gdsolve.present.plot_fit`).
    """
    if _fit_trace(traces):
        from .plot_fit import draw_fit_file

        return draw_fit_file(traces[0], output, width=width, height=max(height, 450), dpi=dpi, title=title)
    check_suffix(output)
    matplotlib = need("matplotlib")
    matplotlib.use("Agg")
    plt = need("matplotlib.pyplot")
    import numpy as np

    dims = len(traces[0].header["variables"])
    with_path = dims in (1, 2) and same_problem(traces)
    fig, axs = plt.subplots(1, 2 if with_path else 1, figsize=(width / dpi, height / dpi), dpi=dpi, squeeze=False)
    ax_f = axs[0][0]
    all_f: list[float] = []
    for t in traces:
        pts = t.path()
        all_f += [f for _, _, f in pts]
        ax_f.plot([k for k, _, _ in pts], [f for _, _, f in pts], label=t.label, linewidth=1.5)
    if use_log_scale(all_f):
        ax_f.set_yscale("log")
    ax_f.set_xlabel("iteration")
    ax_f.set_ylabel("f")
    ax_f.set_title("f by iteration")
    ax_f.grid(True, alpha=0.3)
    if len(traces) > 1:
        ax_f.legend(fontsize="small")
    if with_path:
        ax = axs[0][1]
        names = traces[0].header["variables"]
        ranges = path_ranges(traces, dims)
        axes, values = surface(traces[0], ranges)
        if dims == 2:
            Z = np.array(values, dtype=float).reshape(len(axes[1]), len(axes[0]))
            Zs, label = _contour_scale(Z)
            cs = ax.contourf(axes[0], axes[1], Zs, levels=30, cmap="viridis", alpha=0.85)
            ax.contour(axes[0], axes[1], Zs, levels=15, colors="white", linewidths=0.4, alpha=0.6)
            fig.colorbar(cs, ax=ax, label=label)
            for t in traces:
                xs = [x[0] for _, x, _ in t.path()]
                ys = [x[1] for _, x, _ in t.path()]
                dots = "." if len(xs) <= 200 else None  # thousands of markers would hide the path
                (line,) = ax.plot(xs, ys, "-", linewidth=1.2, marker=dots, markersize=3, label=t.label)
                if xs:
                    ax.plot(xs[0], ys[0], "o", color=line.get_color(), markersize=6)
                    ax.plot(xs[-1], ys[-1], "*", color=line.get_color(), markersize=11, markeredgecolor="black")
            ax.set_xlabel(names[0])
            ax.set_ylabel(names[1])
            ax.set_title("path on the contour of f")
        else:
            ax.plot(axes[0], values, color="gray", linewidth=1.2, label="f")
            for t in traces:
                ax.plot([x[0] for _, x, _ in t.path()], [f for _, _, f in t.path()], "o-", markersize=3,
                        linewidth=0.8, label=t.label)
            ax.set_xlabel(names[0])
            ax.set_ylabel("f")
            ax.set_title("iterates on f")
        ax.set_xlim(*ranges[0])
        if len(traces) > 1:
            ax.legend(fontsize="small")
    save_figure(plt, fig, output, dpi, title or traces[0].header.get("expression", ""))
    return fig


def _contour_scale(Z: Any) -> tuple[Any, str]:
    """Show a valley's floor: contour log10(f - min) when f spans decades."""
    import numpy as np

    if not np.isfinite(Z).any():
        raise GdsolveError("f is not finite anywhere on the plotted region")
    zmin, zmax = np.nanmin(Z), np.nanmax(Z)
    rel = Z - zmin
    med = np.nanmedian(rel)
    if zmax - zmin > 0 and med > 0 and (zmax - zmin) / med > 10:
        return np.log10(rel + (zmax - zmin) * 1e-9), "log10(f - min f)"
    return Z, "f"


def draw_terminal(traces: Sequence[Trace], *, width: int | None = None, height: int | None = None) -> str:
    """Draw ``traces`` with plotext; return the text (the caller prints it)."""
    if _fit_trace(traces):
        from .plot_fit import draw_fit_terminal

        return draw_fit_terminal(traces[0], width=width, height=height)
    plt = need("plotext")
    plt.clear_figure()
    dims = len(traces[0].header["variables"])
    with_path = dims in (1, 2) and same_problem(traces)
    plt.subplots(1, 2 if with_path else 1)
    plt.subplot(1, 1)
    all_f: list[float] = []
    for t in traces:
        pts = t.path()
        all_f += [f for _, _, f in pts]
        plt.plot([k for k, _, _ in pts], [f for _, _, f in pts], label=t.label if len(traces) > 1 else None)
    if use_log_scale(all_f):
        plt.yscale("log")
    plt.title("f by iteration")
    plt.xlabel("iteration")
    if with_path:
        plt.subplot(1, 2)
        names = traces[0].header["variables"]
        if dims == 1:
            ranges = path_ranges(traces, 1)
            axes, values = surface(traces[0], ranges, n=80)
            curve = [(a, v) for a, v in zip(axes[0], values) if math.isfinite(v)]
            plt.plot([a for a, _ in curve], [v for _, v in curve], label="f")
        for t in traces:
            pts = t.path()
            xs = [x[0] for _, x, _ in pts]
            ys = [x[1] for _, x, _ in pts] if dims == 2 else [f for _, _, f in pts]
            plt.plot(xs, ys, marker="dot", label=t.label if len(traces) > 1 else None)
        plt.title("path" if dims == 2 else "iterates on f")
        plt.xlabel(names[0])
    plt.main()  # build the whole figure, not the last subplot
    if width or height:
        plt.plotsize(width, height)
    text = plt.build()
    return plt.uncolorize(text) if os.environ.get("NO_COLOR") else text
