"""JSON export: one document, schema-versioned, always valid JSON; the one place JSON is written.

JSON has no ``inf`` or ``nan``; non-finite numbers become ``null`` so that
``jq`` and every strict parser accept the output of a diverged run.
The schema is documented in the README ("JSON output").

Every command's ``--json`` goes through :func:`emit` (one indented document
on stdout, nothing else); every JSON Lines stream -- a minimize or fit trace,
``gdsolve batch``'s records -- through :class:`JsonLines` (one compact record a
line). Both serialise strict JSON: :func:`dumps`, :func:`line`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import IO, Any

from .._version import __version__
from ..core.result import OptimizeResult
from ..core.streams import Environment, open_trace

#: Bump when a field changes meaning or disappears (adding fields keeps it).
SCHEMA_VERSION = 1


def clean(value: Any) -> Any:
    """Recursively replace non-finite floats by ``None`` (JSON ``null``).

    >>> clean({"a": float("nan"), "b": [1.0, float("inf")]})
    {'a': None, 'b': [1.0, None]}
    """
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [clean(v) for v in value]
    return value


def result_document(result: OptimizeResult, *, cli: bool = False) -> dict[str, Any]:
    """The JSON-ready dict for ``result`` (non-finite numbers already ``None``).

    ``cli=True`` words the message for the command line (``--lr``); the
    default words it for Python (``lr``).
    """
    d = result.to_dict()
    best = d.pop("best")
    d.pop("message")
    doc = {
        "schema_version": SCHEMA_VERSION,
        "gdsolve_version": __version__,
        "expression": d.pop("expression"),
        "sense": d.pop("sense"),
        "variables": d.pop("variables"),
        "x": d.pop("x"),
        "fun": d.pop("fun"),
        "grad": d.pop("grad"),
        "grad_norm": d.pop("grad_norm"),
        "nit": d.pop("nit"),
        "nfev": d.pop("nfev"),
        "ngev": d.pop("ngev"),
        "success": d.pop("success"),
        "status": d.pop("status"),
        "stop_rule": d.pop("stop_rule"),
        "message": result.message_for(cli=cli),
        "x0": d.pop("x0"),
        "seed": d.pop("seed"),
        "best": None if best is None else {"x": best["x"], "fun": best["fun"], "iteration": best["k"]},
        "checks": d.pop("checks"),
        "settings": d.pop("settings"),
        "elapsed": d.pop("elapsed"),
    }
    runs = d.pop("runs", None)
    doc.update(d)  # any field added to OptimizeResult later still reaches the JSON
    if runs is not None and result.runs is not None:
        shared = ("schema_version", "gdsolve_version", "expression", "sense", "variables")
        doc["runs"] = [{"values": run.values, **{k: v for k, v in result_document(run.result, cli=cli).items()
                                                 if k not in shared}} for run in result.runs]
    return clean(doc)


def dumps(doc: Mapping[str, Any] | OptimizeResult, *, indent: int | None = 2, cli: bool = False) -> str:
    """One JSON document (strict: no NaN/Infinity): a result (:func:`result_document`) or any mapping."""
    value = result_document(doc, cli=cli) if isinstance(doc, OptimizeResult) else clean(dict(doc))
    return json.dumps(value, indent=indent, allow_nan=False)


def line(record: Mapping[str, Any]) -> str:
    """One record as one line of strict JSON (compact; non-finite numbers are ``null``).

    >>> line({"id": 1, "f": float("nan")})
    '{"id":1,"f":null}'
    """
    return json.dumps(clean(dict(record)), allow_nan=False, separators=(",", ":"))


def emit(doc: Mapping[str, Any] | OptimizeResult, env: Environment | None = None, *, cli: bool = True) -> None:
    """Print ``doc`` as the one JSON document of ``--json`` on ``env``'s stdout, and flush.

    >>> import io
    >>> env = Environment(stdout=io.StringIO())
    >>> emit({"x": 1.0, "y": float("nan")}, env); print(env.stdout.getvalue(), end="")
    {
      "x": 1.0,
      "y": null
    }
    """
    (env or Environment.current()).write_data(dumps(doc, cli=cli) + "\n")


class JsonLines:
    """A JSON Lines stream: a trace (minimize or fit) or ``gdsolve batch``'s records.

    Args:
        target: ``"-"`` for stdout, a path (opened at the first line, or by
            :meth:`open`, through :func:`~gdsolve.core.streams.open_trace`), or
            an open text stream.
        env: the streams (``"-"`` writes to its stdout).
        flush: flush after every line; default: when writing to stdout, so a
            reader at the other end of a pipe (``jq``, ``gdsolve plot``) sees
            each line as it comes.

    Example:
        >>> import io
        >>> out = JsonLines(io.StringIO())
        >>> out.write({"type": "step", "f": float("inf")}); print(out.stream.getvalue(), end="")
        {"type":"step","f":null}
    """

    def __init__(self, target: str | IO[str], *, env: Environment | None = None, flush: bool | None = None) -> None:
        self.env = env or Environment.current()
        self.target = target
        self.stream: IO[str] | None = self.env.stdout if target == "-" else None if isinstance(target, str) else target
        self.owns = isinstance(target, str) and target != "-"
        self.flushing = (target == "-") if flush is None else flush

    def open(self) -> IO[str]:
        """The stream, opened now if it is a file not yet opened (a file that cannot be opened: exit 2)."""
        if self.stream is None:
            self.stream = open_trace(str(self.target))
        return self.stream

    def text(self, text: str) -> None:
        """Write one line already serialised (a trace's step records are built as strings, for speed)."""
        stream = self.stream if self.stream is not None else self.open()
        stream.write(text + "\n")
        if self.flushing:
            stream.flush()

    def write(self, record: Mapping[str, Any]) -> None:
        """Write one record as one line of strict JSON."""
        self.text(line(record))

    def flush(self) -> None:
        if self.stream is not None:
            self.stream.flush()

    def close(self) -> None:
        """Flush; close the file if this writer opened it (stdout and given streams stay open)."""
        if self.stream is None:
            return
        if self.owns:
            self.release()
        else:
            self.stream.flush()

    def release(self) -> None:
        """Close the file if this writer opened it, without flushing a shared stream (after a failure)."""
        if self.owns and self.stream is not None:
            stream, self.stream = self.stream, None
            stream.close()
