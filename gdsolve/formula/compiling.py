"""``--compile``: f and its gradient through ``torch.compile``, compiled before the run."""

from __future__ import annotations

import time
from collections.abc import Callable

import torch

from ..core.errors import OptionError
from .objective import Objective


def compiled(objective: Objective, X: torch.Tensor) -> tuple[Callable[[torch.Tensor], torch.Tensor], float]:
    """``torch.compile`` the objective and compile it now, forward and backward, on ``X``'s shape.

    Returns the compiled function and the seconds compiling took. Where torch
    cannot compile (no C++ compiler, an unsupported Python or platform) the
    error says so before the run starts.
    """
    t0 = time.perf_counter()
    try:
        import torch._dynamo

        fn = torch.compile(objective.per_variable, dynamic=True)
        cols = X.detach().clone().requires_grad_(True)
        F = fn(*cols.unbind(1))
        torch.autograd.grad(F.sum(), cols)
    except Exception as exc:  # torch raises many kinds here: a missing compiler, an unsupported Python...
        reason = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
        raise OptionError(f"{{compile}}: torch cannot compile the formula here ({reason}); run without it") from None

    def f(Xb: torch.Tensor) -> torch.Tensor:
        return fn(*Xb.unbind(1))

    return f, time.perf_counter() - t0
