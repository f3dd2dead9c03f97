"""gdsolve: minimize a formula by gradient descent, every step in view.

>>> from gdsolve import minimize
>>> r = minimize("(x-4)**2", lr=0.1, x0={"x": 0.5})
>>> round(r.x["x"], 4), r.success
(4.0, True)

Importing ``gdsolve`` is cheap: torch and sympy load on first use of the API.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._version import __version__
from .core.errors import ExpressionError, GdsolveError, OptionError
from .core.status import ExitStatus, Status, StopRule

if TYPE_CHECKING:
    from .api.fitresult import FitResult
    from .api.fitting import fit
    from .api.lesson import explain
    from .api.solve import maximize, minimize, prepare, run
    from .api.symbolic import gradient
    from .core.result import OptimizeResult, Step
    from .engine.multistart import MultiRun, SingleRun
    from .formula.objective import Objective, compile_objective
    from .formula.parse import ParsedExpression, parse_expression
    from .jobs.batch import batch
    from .jobs.lines import Limits

_LAZY = {
    "batch": "jobs.batch", "Limits": "jobs.lines",
    "fit": "api.fitting", "FitResult": "api.fitresult", "gradient": "api.symbolic", "explain": "api.lesson",
    "minimize": "api.solve", "maximize": "api.solve", "prepare": "api.solve", "run": "api.solve",
    "compile_objective": "formula.objective", "Objective": "formula.objective",
    "parse_expression": "formula.parse", "ParsedExpression": "formula.parse",
    "OptimizeResult": "core.result", "Step": "core.result", "SingleRun": "engine.multistart", "MultiRun": "engine.multistart",
}

__all__ = [
    "ExitStatus",
    "ExpressionError",
    "FitResult",
    "GdsolveError",
    "Limits",
    "MultiRun",
    "Objective",
    "OptimizeResult",
    "OptionError",
    "ParsedExpression",
    "SingleRun",
    "Status",
    "Step",
    "StopRule",
    "__version__",
    "batch",
    "compile_objective",
    "explain",
    "fit",
    "gradient",
    "maximize",
    "minimize",
    "parse_expression",
    "prepare",
    "run",
]


def __getattr__(name: str) -> Any:
    # Lazy: `gdsolve --help` imports this package and must not pay for torch.
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'gdsolve' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value
