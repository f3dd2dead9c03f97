"""The one view of a correlation matrix, for ``fit``'s report and ``minimize --stderr``'s: what fits the screen.

* the full matrix, when it fits the width it is drawn at (entries above :data:`HIGHLIGHT` in
  absolute value in bold, as lmfit's report does);
* otherwise the largest correlations as a list of pairs, ``b1 ~ b2  -0.999`` (at most :data:`TOP_PAIRS`,
  those above :data:`HIGHLIGHT`), saying how many pairs there are and that ``--json`` has them all;
* when even one pair does not fit (names longer than the screen), a line that says "see --json".

A number is never cut: each form is chosen whole or not at all.

Example:
    >>> import io
    >>> from rich.console import Console
    >>> corr = {"a": {"a": 1.0, "b": -0.9991}, "b": {"a": -0.9991, "b": 1.0}}
    >>> c = Console(file=io.StringIO(), width=16); c.print(correlation_view(corr)); print(c.file.getvalue().rstrip())
    Largest
    correlations
      a ~ b  -0.999
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rich.console import RenderableType
from rich.table import Table
from rich.text import Text

from .narrow import Adaptive, natural_width

#: Correlations above this (absolute) are highlighted in the matrix and listed as pairs.
HIGHLIGHT = 0.1
#: The most pairs listed when the matrix does not fit.
TOP_PAIRS = 10

Correlation = Mapping[str, Mapping[str, float]]


def shown_r(r: float) -> str:
    """A correlation with 3 decimals and its sign; one that rounds to zero is ``+0.000``, not ``-0.000``.

    >>> shown_r(-0.99949), shown_r(-4e-5), shown_r(0.25)
    ('-0.999', '+0.000', '+0.250')
    """
    return f"{round(float(r), 3) or 0.0:+.3f}"  # round(-4e-5, 3) is -0.0, which is falsy


def _matrix(corr: Correlation, title: str) -> Table:
    table = Table(title=title, title_justify="left", show_edge=False)
    names = list(corr)
    table.add_column("", no_wrap=True)
    for n in names:
        table.add_column(Text(n), justify="right", no_wrap=True)  # names such as w[age] are text, not markup
    for a in names:
        cells = []
        for b in names:
            v = corr[a][b]
            cells.append(Text(shown_r(v), style="bold" if a != b and abs(v) > HIGHLIGHT else ""))
        table.add_row(Text(a), *cells)
    return table


def largest_pairs(corr: Correlation) -> list[tuple[str, str, float]]:
    """Every pair ``(a, b, r)`` (a before b), largest ``|r|`` first.

    >>> largest_pairs({"a": {"a": 1, "b": 0.2, "c": -0.9}, "b": {"a": 0.2, "b": 1, "c": 0.0},
    ...                "c": {"a": -0.9, "b": 0.0, "c": 1}})
    [('a', 'c', -0.9), ('a', 'b', 0.2), ('b', 'c', 0.0)]
    """
    names = list(corr)
    pairs = [(a, b, float(corr[a][b])) for i, a in enumerate(names) for b in names[i + 1:]]
    return sorted(pairs, key=lambda p: -abs(p[2]))


def _pairs(corr: Correlation, title: str, width: int) -> RenderableType:
    pairs = largest_pairs(corr)
    shown = [p for p in pairs if abs(p[2]) > HIGHLIGHT][:TOP_PAIRS]
    if not shown:
        return Text(f"{title}: every one is within ±{HIGHLIGHT:g}; --json has them all", style="dim")
    note = (f"the {len(shown)} largest of {len(pairs)} pairs" if len(shown) < len(pairs) else f"all {len(pairs)} pairs")
    grid = Table.grid(padding=(0, 2))
    grid.add_column(no_wrap=True)
    grid.add_column(justify="right", no_wrap=True)
    for a, b, r in shown:
        grid.add_row(Text(f"  {a} ~ {b}"), Text(shown_r(r), style="bold"))
    if natural_width(grid) > width:
        return Text(f"{title}: too wide for the screen ({len(pairs)} pairs); see --json", overflow="fold")
    from rich.console import Group

    head = Text(f"Largest correlations ({note}; --json has all)" if len(shown) < len(pairs) or len(corr) > 2
                else "Largest correlations", style="italic", overflow="fold")
    return Group(head, grid)


def correlation_view(corr: Correlation | None, *, title: str = "Correlation") -> Any:
    """The correlations as fit the width they are drawn at (``None`` when there are fewer than two variables)."""
    if not corr or len(corr) < 2:
        return None

    def build(width: int) -> RenderableType:
        table = _matrix(corr, title)
        if natural_width(table) <= width:
            return table
        return _pairs(corr, title, width)

    return Adaptive(build)
