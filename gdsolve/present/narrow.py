"""Reports that fit the screen: tables that drop or stack columns, never cut a number, and titles that wrap.

rich fits a table that is too wide by shrinking its columns and cutting what no longer fits with an
ellipsis: ``238.94213`` becomes ``238.…``, a number that reads as another number. These helpers
choose a form for the width they are drawn at instead (they are renderables that look at the width
rich gives them, so the same report fits a Console of 40 columns, of 80, and a panel inside either):

* :func:`fitted_table`: every column at its full width; when they do not fit, the last columns are
  dropped (the first ``keep`` never are: a row's name and value), and when even those do not fit,
  the table is stacked: one block per row, ``header  value`` per line (narrower still, the header
  and the value each on its own line);
* :func:`titled_panel`: a panel whose title is shortened to a word when the full title would be cut,
  the full title then being the body's first line, wrapped to the width.

Example:
    >>> import io
    >>> from rich.console import Console
    >>> table = fitted_table("Parameters", ["name", "value", "std error"], [["b1", "238.94213", "2.70701"]], keep=3)
    >>> c = Console(file=io.StringIO(), width=22); c.print(table)
    >>> for line in c.file.getvalue().splitlines(): print(line.rstrip())
    Parameters
    b1
      value      238.94213
      std error    2.70701
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence

from rich.console import Console, ConsoleOptions, Group, RenderableType, RenderResult
from rich.measure import Measurement
from rich.panel import Panel
from rich.table import Table
from rich.text import Text


class Adaptive:
    """A renderable built for the width it is drawn at: ``build(width)`` gives the renderable itself."""

    def __init__(self, build: Callable[[int], RenderableType]) -> None:
        self.build = build

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        yield self.build(options.max_width)

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        return Measurement.get(console, options, self.build(options.max_width))


@functools.lru_cache(maxsize=1)
def _wide() -> Console:
    return Console(width=100_000, color_system=None)


def natural_width(renderable: RenderableType, *, least: bool = False) -> int:
    """The width ``renderable`` takes when nothing limits it (``least``: the least it can take, its wrappable
    text wrapped at every space)."""
    wide = _wide()
    m = Measurement.get(wide, wide.options, renderable)
    return m.minimum if least else m.maximum


def _table(title: str | None, headers: Sequence[str], rows: Sequence[Sequence[str]], justify: Sequence[str],
           styles: Sequence[Sequence[str]] | None, header: bool = True, wrap_first: bool = False) -> Table:
    table = Table(title=title, title_justify="left", show_edge=False, show_header=header)
    for j, (name, just) in enumerate(zip(headers, justify)):
        table.add_column(name, justify=just, no_wrap=not (wrap_first and j == 0))  # type: ignore[arg-type]
    for i, row in enumerate(rows):
        table.add_row(*(Text(cell, style=styles[i][j] if styles else "") for j, cell in enumerate(row)))
    return table


def _stacked(title: str | None, headers: Sequence[str], rows: Sequence[Sequence[str]],
             styles: Sequence[Sequence[str]] | None, width: int) -> RenderableType:
    """One block per row: ``header  value`` lines, or narrower still, the header and the value each on a line."""
    parts: list[RenderableType] = [Text(title, style="italic", overflow="fold")] if title else []
    for i, row in enumerate(rows):
        parts.append(Text(row[0], style="bold", overflow="fold"))
        grid = Table.grid(padding=(0, 2))
        grid.add_column(no_wrap=True)
        grid.add_column(justify="right", no_wrap=True)
        lines: list[RenderableType] = []
        for j, (header, cell) in enumerate(zip(headers[1:], row[1:]), start=1):
            style = styles[i][j] if styles else ""
            grid.add_row("  " + header, Text(cell, style=style))
            lines += [Text("  " + header, overflow="fold"), Text("    " + cell, style=style, overflow="fold")]
        parts.append(grid if natural_width(grid) <= width else Group(*lines))
    return Group(*parts)


def fitted_table(title: str | None, headers: Sequence[str], rows: Sequence[Sequence[str]], *, keep: int = 2,
                 justify: Sequence[str] | None = None, styles: Sequence[Sequence[str]] | None = None,
                 header: bool = True, wrap_first: bool = False) -> Adaptive:
    """A table of text cells that fits the width it is drawn at without cutting a cell.

    ``headers`` in order of importance after the first ``keep`` (the name and the value): the last
    are dropped first. Below the width of the first ``keep`` columns, the rows are stacked.
    ``justify``: per column (default: the first left, the others right); ``styles``: per cell;
    ``header``: show the header row (the stacked form names each value by its header regardless);
    ``wrap_first``: the first column is words (a label), which may wrap at a space before anything is
    dropped or stacked.
    """
    just = list(justify or ["left", *["right"] * (len(headers) - 1)])

    def build(width: int) -> RenderableType:
        for n in range(len(headers), min(keep, len(headers)) - 1, -1):
            cut = None if styles is None else [s[:n] for s in styles]
            table = _table(title, headers[:n], [r[:n] for r in rows], just[:n], cut, header, wrap_first)
            # The width it needs: every value whole, a wrapping label as narrow as its longest word (rich's own
            # minimum would squeeze the label to nothing and cut the values instead).
            probe = table if not wrap_first else _table(
                title, headers[:n], [[max(r[0].split() or [""], key=len), *r[1:n]] for r in rows], just[:n], cut,
                header)
            if natural_width(probe) <= width:
                return table
        return _stacked(title, headers, rows, styles, width)

    return Adaptive(build)


def titled_panel(title: str, parts: Sequence[RenderableType], *, short: str, border_style: str = "") -> Adaptive:
    """A panel titled ``title``, or ``short`` when ``title`` would be cut; the full title is then the first
    line of the body, wrapped (never cut)."""

    def build(width: int) -> RenderableType:
        room = width - 6  # the corners, the rule before the title and the spaces around it
        if len(title) <= room:
            return Panel(Group(*parts), title=Text(title), title_align="left", expand=False, border_style=border_style)
        return Panel(Group(Text(title, style="bold", overflow="fold"), *parts), title=short, title_align="left",
                     expand=False, border_style=border_style)

    return Adaptive(build)
