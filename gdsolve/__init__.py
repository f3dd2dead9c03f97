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
from .errors import ExpressionError, GdsolveError, OptionError
from .status import ExitStatus, Status, StopRule

if TYPE_CHECKING:
    from .api import maximize, minimize, prepare, run
    from .dispatch import batch
    from .fitresult import FitResult
    from .fitting import fit
    from .lesson import explain
    from .lines import Limits
    from .multistart import MultiRun, SingleRun
    from .objective import Objective, compile_objective
    from .parse import ParsedExpression, parse_expression
    from .result import OptimizeResult, Step
    from .symbolic import gradient

_LAZY = {
    "batch": "dispatch", "fit": "fitting", "FitResult": "fitresult", "Limits": "lines", "gradient": "symbolic", "explain": "lesson",
    "minimize": "api", "maximize": "api", "prepare": "api", "run": "api",
    "compile_objective": "objective", "Objective": "objective",
    "parse_expression": "parse", "ParsedExpression": "parse",
    "OptimizeResult": "result", "Step": "result", "SingleRun": "multistart", "MultiRun": "multistart",
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
