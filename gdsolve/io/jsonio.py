"""JSON export of results: one document, schema-versioned, always valid JSON.

JSON has no ``inf`` or ``nan``; non-finite numbers become ``null`` so that
``jq`` and every strict parser accept the output of a diverged run.
The schema is documented in the README ("JSON output").
"""

from __future__ import annotations

import json
import math
from typing import Any

from .._version import __version__
from ..core.result import OptimizeResult

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


def dumps(result: OptimizeResult, *, indent: int | None = 2, cli: bool = False) -> str:
    """Serialise ``result`` as one JSON document (strict: no NaN/Infinity)."""
    return json.dumps(result_document(result, cli=cli), indent=indent, allow_nan=False)
