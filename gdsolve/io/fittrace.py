"""A fit's trace (``gdsolve fit --trace FILE``); its picture is drawn by :mod:`gdsolve.present.plot_fit`.

The trace is JSON Lines like a minimize trace (:mod:`gdsolve.io.trace`), so the
same reader takes it: a ``header`` record with ``"kind": "fit"``, the model,
the parameters as ``variables`` and the data itself (up to
:data:`MAX_TRACE_ROWS` rows, so the picture needs nothing else); one ``step``
record per step of lm (the parameters and the cost of the best start) or of
a one-start minimize method (a minimize method over several starts writes no
step records); and a ``result`` record, the ``--json`` document.
"""

from __future__ import annotations

import math
from typing import IO, TYPE_CHECKING, Any

from ..core.streams import Environment
from ..formula.matrices import columns_record, matrices_record
from .jsonio import JsonLines
from .trace import header_record

if TYPE_CHECKING:
    from ..formula.model import FitModel

#: The most data rows a fit trace embeds; a larger fit's trace has no data (and its picture says so).
MAX_TRACE_ROWS = 100_000


class FitTraceWriter:
    """A step callback for :func:`gdsolve.fit` that writes the fit's trace to ``target``.

    ``target`` is an open text stream, or a path (``-``: stdout) that is opened
    at the first record: a fit refused for its input leaves no trace file behind.
    """

    def __init__(self, target: str | IO[str], model: FitModel, settings: dict[str, Any], *,
                 env: Environment | None = None) -> None:
        self.out = JsonLines(target, env=env)
        self.parameters = model.parameters
        self.k = 0
        table = model.table
        columns = columns_record(table) if table.rows <= MAX_TRACE_ROWS else None
        # Matrices (X @ w) and vector parameters, so that gdsolve plot can evaluate the model again.
        extra: dict[str, Any] = {"matrices": matrices_record(table)} if table.matrices else {}
        if model.shapes:
            extra["shapes"] = {k: list(v) for k, v in model.shapes.items()}
        self.header: dict[str, Any] | None = header_record(
            kind="fit", expression=model.parsed.text, model=model.text, response=model.response_text,
            variables=list(self.parameters), params={}, settings=settings, rows=table.rows, data=columns, **extra)

    def _write(self, record: dict[str, Any]) -> None:
        if self.header is not None:  # the file is made at the first record: a refused fit leaves none
            header, self.header = self.header, None
            self.out.write(header)
        self.out.write(record)

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
        self.out.close()

    def abandon(self) -> None:
        """Close a file this writer opened, after a failure (no result record)."""
        self.out.release()
