"""Traces: every step of a run as data, and reading them back.

Two formats (both documented in the README, "Traces"):

* ``jsonl`` -- JSON Lines. A ``header`` record describing the run, one
  ``step`` record per iteration, and a final ``result`` record (the same
  document ``--json`` prints, with ``"type": "result"``). Every record has a
  ``type`` field.
* ``csv`` -- one row per iteration, one column per variable (``x`` values,
  then ``grad_<name>`` columns), for spreadsheets and gnuplot. The last row is
  the final point, with an empty ``step_norm``. Column names are always
  unique (see :func:`csv_columns`).

Step lines are formatted by hand rather than through ``json.dumps``: a trace
is written on every iteration and must stay cheap (see
``benchmarks/bench_trace.py``). Python's ``repr`` of a finite float is a valid
JSON number; anything non-finite becomes ``null``.

Example:
    >>> import io
    >>> from gdsolve.api.solve import prepare, run
    >>> d = prepare("(x-4)**2", x0=0.0, max_iter=3)
    >>> buf = io.StringIO()
    >>> w = TraceWriter(buf, d)
    >>> w.close(run(d, w))
    >>> [rec["type"] for rec in read_trace(io.StringIO(buf.getvalue())).records]
    ['header', 'step', 'step', 'step', 'result']
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import IO, Any

from .._version import __version__
from ..core.errors import GdsolveError, OptionError
from ..core.result import OptimizeResult, Step
from ..core.settings import TRACE_FORMATS
from ..core.streams import Environment
from .jsonio import SCHEMA_VERSION, JsonLines, clean, line, result_document

FORMATS = TRACE_FORMATS


def check_format(fmt: str) -> None:
    """Refuse a trace format gdsolve cannot write."""
    if fmt not in FORMATS:
        raise OptionError(f"{{trace_format}} must be one of {', '.join(FORMATS)}, got {fmt!r}")


def _num(v: float | None) -> str:
    # v - v == 0 is False for inf and nan (and None never reaches it).
    return "null" if v is None or v - v != 0 else repr(float(v))


#: The CSV columns that are not per variable, in order around the variable columns.
CSV_FIXED = ("iteration", "f", "grad_norm", "step_norm", "lr", "step_length", "line_search_failed", "elapsed")


def csv_columns(variables: Iterable[str]) -> list[str]:
    """The CSV header: unique names whatever the variables are called.

    Variable columns carry the variable's name and gradient columns
    ``grad_<name>``; if any of those would repeat a name (a variable called
    ``f``, ``lr`` or ``grad_x`` beside ``x``), every variable column becomes
    ``x[<name>]`` and every gradient column ``grad[<name>]`` (brackets never
    occur in a variable's name).

    >>> csv_columns(["x", "y"])[:6]
    ['iteration', 'x', 'y', 'f', 'grad_x', 'grad_y']
    >>> csv_columns(["f", "x"])[:6]
    ['iteration', 'x[f]', 'x[x]', 'f', 'grad[f]', 'grad[x]']
    """
    names = list(variables)
    plain = [*names, *(f"grad_{n}" for n in names)]
    if len(set(plain) | set(CSV_FIXED)) == len(plain) + len(CSV_FIXED):
        xs, gs = names, [f"grad_{n}" for n in names]
    else:
        xs, gs = [f"x[{n}]" for n in names], [f"grad[{n}]" for n in names]
    return [CSV_FIXED[0], *xs, CSV_FIXED[1], *gs, *CSV_FIXED[2:]]


class TraceWriter:
    """A step callback that writes a trace (JSON Lines or CSV) through one :class:`~gdsolve.io.jsonio.JsonLines` sink.

    Args:
        target: ``"-"`` for stdout (``--trace -``), a path, or an open text stream.
        descent: the run being traced (for the header: expression, settings...).
        fmt: ``"jsonl"`` or ``"csv"``.
        flush: flush after every line (default: when writing to stdout, for live consumers of a pipe).
        cli: word the closing record's message for the command line (``--lr``).
        rows: a batch: every step says its row (CSV: a leading row column).
        env: the streams (``"-"`` is its stdout).

    A path is opened here, when the header is written: a file that cannot be
    opened is refused (exit 2) before the run starts.
    """

    def __init__(self, target: str | IO[str], descent: Any, fmt: str = "jsonl", *, flush: bool | None = None,
                 cli: bool = False, rows: bool = False, env: Environment | None = None) -> None:
        check_format(fmt)
        self.out = JsonLines(target, env=env, flush=flush)
        self.fmt = fmt
        self.cli = cli
        self.rows = rows
        self.variables = tuple(descent.objective.variables)
        # Precomputed JSON keys: the per-step work is string joins only.
        self._keys = [json.dumps(n) + ":" for n in self.variables]
        self._write = self.out.text
        self._write(self._header(descent))

    def _header(self, descent: Any) -> str:
        if self.fmt == "csv":
            return _csv_line((["row"] if self.rows else []) + csv_columns(self.variables))
        obj = descent.objective
        settings = descent.settings_dict()  # the very dict the result carries
        return line(header_record(expression=obj.text, sense=obj.sense, variables=list(self.variables),
                                  params=settings["params"], x0=descent.x0, seed=descent.seed, settings=settings))

    def __call__(self, step: Step) -> None:
        self.write(step)

    def write(self, step: Step, row: int | None = None, values: dict[str, float] | None = None) -> None:
        """One step record; in a batch, with its ``row`` and, for a sweep, the row's swept ``values``."""
        failed = "true" if step.line_search_failed else "false"
        if self.fmt == "csv":
            lead = [str(row)] if self.rows else []
            self._write(",".join([*lead, str(step.k), *map(_num, step.x), _num(step.f), *map(_num, step.grad),
                                  _num(step.grad_norm), _num(step.step_norm), _num(step.lr),
                                  "" if step.step_length is None else _num(step.step_length), failed,
                                  _num(step.elapsed)]))
            return
        keys = self._keys
        x = ",".join([k + _num(v) for k, v in zip(keys, step.x)])
        g = ",".join([k + _num(v) for k, v in zip(keys, step.grad)])
        tail = "" if row is None else f',"row":{row}'
        if values:
            tail += ',"settings":' + json.dumps(clean(values), separators=(",", ":"))
        self._write(
            f'{{"type":"step","iteration":{step.k},"x":{{{x}}},"f":{_num(step.f)},"grad":{{{g}}},'
            f'"grad_norm":{_num(step.grad_norm)},"step_norm":{_num(step.step_norm)},"lr":{_num(step.lr)},'
            f'"step_length":{_num(step.step_length)},"line_search_failed":{failed},"elapsed":{_num(step.elapsed)}{tail}}}'
        )

    def close(self, result: OptimizeResult, row: int | None = None) -> None:
        """Write the closing record (the final point for CSV), flush, and close a file this writer opened;
        ``row``: the batch row the record describes."""
        if self.fmt == "csv":
            lead = [str(row)] if self.rows else []
            self._write(",".join([*lead, str(result.nit), *map(_num, result.x.values()), _num(result.fun),
                                  *map(_num, result.grad.values()), _num(result.grad_norm), "",
                                  _num(result.final_lr), "", "", _num(result.elapsed)]))
        else:
            doc = {"type": "result", **result_document(result, cli=self.cli)}
            if row is not None:
                doc["row"] = row
            self._write(line(doc))
        self.out.close()


    def abandon(self) -> None:
        """Close a file this writer opened, after a failure (no closing record)."""
        self.out.release()


def header_record(**fields: Any) -> dict[str, Any]:
    """A trace's first record: its format and versions, then ``fields`` (a fit trace adds ``kind="fit"``)."""
    return {"type": "header", "format": "gdsolve.trace", "schema_version": SCHEMA_VERSION,
            "gdsolve_version": __version__, **fields}


def _csv_line(cells: Iterable[str]) -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="").writerow(list(cells))
    return buf.getvalue()


@dataclass
class Trace:
    """A JSON Lines trace read back: its header, steps and result (if any)."""

    name: str
    header: dict[str, Any]
    steps: list[dict[str, Any]] = field(default_factory=list)
    result: dict[str, Any] | None = None
    row_label: str | None = None  # one row of a batch trace: its legend label

    @property
    def records(self) -> list[dict[str, Any]]:
        out = [self.header, *self.steps]
        return [*out, self.result] if self.result is not None else out

    @property
    def label(self) -> str:
        """A legend label: method and learning rate (a batch row: its row and swept values), or the file name."""
        if self.row_label is not None:
            return self.row_label
        s = self.header.get("settings", {})
        bits = [str(s.get("method", "gd")), f"lr {s.get('lr'):g}" if isinstance(s.get("lr"), (int, float)) else ""]
        return " ".join(b for b in bits if b) or self.name

    def path(self) -> list[tuple[int, list[float], float]]:
        """(iteration, x, f) for every step, plus the final point."""
        names = self.header["variables"]
        pts = [(s["iteration"], [s["x"][n] for n in names], s["f"]) for s in self.steps]
        if self.result is not None and self.result.get("x"):
            pts.append((self.result["nit"], [self.result["x"][n] for n in names], self.result["fun"]))
        return [(k, x, f) for k, x, f in pts if f is not None and all(v is not None for v in x)]


def read_trace(stream: IO[str], name: str = "-") -> Trace:
    """Parse a JSON Lines trace; raise :class:`GdsolveError` naming the bad line.

    A trace cut short -- its writer stopped mid-line, or reading interrupted
    by Ctrl-C -- gives what arrived whole (no ``result`` record).
    """
    header: dict[str, Any] | None = None
    trace: Trace | None = None
    try:
        for lineno, line in enumerate(stream, 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as exc:
                if trace is not None and not line.endswith("\n"):
                    break  # the writer was stopped mid-line (Ctrl-C, a kill): keep what came whole
                if lineno == 1 and "," in line and not line.lstrip().startswith("{"):
                    raise GdsolveError(f"{name} is a CSV trace; gdsolve plot reads JSON Lines traces "
                                       "(--trace-format jsonl)") from None
                raise GdsolveError(f"{name}, line {lineno}: not JSON ({exc.msg}); is it a gdsolve trace?") from None
            kind = rec.get("type") if isinstance(rec, dict) else None
            if header is None:
                variables = rec.get("variables") if kind == "header" else None
                if (not isinstance(variables, list) or not variables or not all(isinstance(v, str) for v in variables)
                        or not isinstance(rec.get("expression", ""), str) or not isinstance(rec.get("settings", {}), dict)):
                    raise GdsolveError(f"{name}, line {lineno}: a gdsolve trace starts with a header record")
                header = rec
                trace = Trace(name, header)
            elif kind == "step":
                _check_point(rec, "x", "f", "iteration", header["variables"], f"{name}, line {lineno}")
                trace.steps.append(rec)  # type: ignore[union-attr]
            elif kind == "result":
                _check_point(rec, "x", "fun", "nit", header["variables"], f"{name}, line {lineno}")
                trace.result = rec  # type: ignore[union-attr]
    except KeyboardInterrupt:
        if trace is None:
            raise
    if trace is None:
        raise GdsolveError(f"{name} is empty; expected a gdsolve trace (gdsolve minimize ... --trace FILE)")
    return trace


def split_rows(trace: Trace) -> list[Trace]:
    """A batch trace (steps with a ``row``) as one trace per row, labelled by the row's swept values;
    the result record goes with the row it describes. A single-run trace is returned as it is."""
    if not any("row" in st for st in trace.steps):
        return [trace]
    by_row: dict[Any, list[dict[str, Any]]] = {}
    for st in trace.steps:
        by_row.setdefault(st.get("row"), []).append(st)
    method = trace.header.get("settings", {}).get("method", "gd")
    best = trace.result.get("row") if trace.result is not None else None
    out = []
    for row, steps in by_row.items():
        values = steps[0].get("settings")
        if isinstance(values, dict) and values:
            label = method + " " + " ".join(f"{k} {v:g}" if isinstance(v, (int, float)) else f"{k} {v}"
                                            for k, v in values.items())
        else:
            label = f"{method} row {row}" + (" (best)" if row == best else "")
        out.append(Trace(trace.name, trace.header, steps, trace.result if row == best else None, label))
    return out


def _check_point(rec: dict[str, Any], x: str, f: str, k: str, names: list[str], where: str) -> None:
    """A step or result record must carry a point over the header's variables, f and an iteration number."""
    point = rec.get(x)
    ok = (isinstance(point, dict) and all(isinstance(point.get(n), (int, float, type(None))) for n in names)
          and all(n in point for n in names) and isinstance(rec.get(f), (int, float, type(None)))
          and isinstance(rec.get(k), int) and not isinstance(rec.get(k), bool))
    if not ok and not (x == "x" and f == "fun" and point is None):
        raise GdsolveError(f"{where}: a {rec.get('type')} record needs {x} (one number per variable: "
                           f"{', '.join(names)}), {f} and {k}; is it a gdsolve trace?")


def read_traces(names: Sequence[str], stdin: IO[str] | None) -> list[Trace]:
    """Read the named trace files (``-``: ``stdin``, once); errors name the file and the fix."""
    if list(names).count("-") > 1:
        raise OptionError("stdin (-) can be read only once")
    loaded = []
    for name in names:
        if name == "-":
            if stdin is None or stdin.isatty():
                raise OptionError("no trace given: name a trace file, or pipe one in "
                                  "(gdsolve minimize ... --trace - | gdsolve plot -o run.png)")
            loaded.extend(split_rows(read_trace(stdin, "stdin")))
            continue
        try:
            with open(name, encoding="utf-8") as fh:
                loaded.extend(split_rows(read_trace(fh, name)))
        except OSError as exc:
            raise OptionError(f"cannot read {name}: {exc.strerror or exc}") from None
        except UnicodeDecodeError:
            raise GdsolveError(f"{name} is not text; expected a gdsolve trace (JSON Lines)") from None
    return loaded


def finite(values: Iterable[float | None]) -> list[float]:
    """The finite numbers among ``values``."""
    return [v for v in values if v is not None and math.isfinite(v)]
