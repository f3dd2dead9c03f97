"""JSON export: strict JSON, the documented schema, nulls for non-finite numbers."""

from __future__ import annotations

import json

from gdsolve.api.solve import minimize
from gdsolve.io.jsonio import SCHEMA_VERSION, clean, dumps

SCHEMA = {
    "schema_version": int, "gdsolve_version": str, "expression": str, "sense": str, "variables": list,
    "x": dict, "fun": (float, int, type(None)), "grad": dict, "grad_norm": (float, int, type(None)), "nit": int,
    "nfev": int, "ngev": int, "success": bool, "status": str, "stop_rule": str, "message": str, "x0": dict,
    "seed": (int, type(None)), "best": dict, "checks": list, "settings": dict, "elapsed": float,
}


def check_schema(doc):
    for key, typ in SCHEMA.items():
        assert key in doc, key
        assert isinstance(doc[key], typ), (key, doc[key])
    assert doc["schema_version"] == SCHEMA_VERSION
    assert list(doc["x"]) == doc["variables"] == list(doc["grad"]) == list(doc["x0"])
    for key in ("lr", "eps", "max_iter", "dtype", "seed"):
        assert key in doc["settings"]


def test_document_matches_schema():
    r = minimize("(x-1)**2 + (y+2)**2", x0={"x": 0, "y": 0})
    doc = json.loads(dumps(r))
    check_schema(doc)
    assert doc["status"] == "converged" and doc["success"] is True
    assert doc["seed"] is None  # x0 was given


def test_nonfinite_becomes_null():
    r = minimize("1/x", x0=0.0)
    text = dumps(r)
    doc = json.loads(text)
    assert "NaN" not in text and "Infinity" not in text
    assert doc["status"] == "diverged" and doc["fun"] is None


def test_clean_nested():
    assert clean({"a": [float("-inf"), 1.5], "b": float("nan")}) == {"a": [None, 1.5], "b": None}
