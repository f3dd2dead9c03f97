"""The box of ``--bounds`` as tensors: one clamp and one mask of the variables it holds.

The engine projects every method's iterates with :meth:`Box.clamp`, and
every rule that must ignore the variables a bound holds -- ``gtol`` on the
projected gradient, L-BFGS's active set, the stationarity check -- asks
:meth:`Box.outward`: a variable on a bound whose descent direction
(``-grad``) leaves the box. (The result's ``active_bounds`` only compares x
with the bounds: :func:`gdsolve.engine.outcome.active_bounds`.)

Example:
    >>> import torch
    >>> b = Box.of(("x", "y"), {"x": (0.0, 1.0)}, torch.float64, "cpu")
    >>> b.outward(torch.tensor([[0.0, 5.0]], dtype=torch.float64), torch.tensor([[2.0, 3.0]], dtype=torch.float64))
    tensor([[ True, False]])
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

import torch

from ..core.settings import Bounds


class Box(NamedTuple):
    """Lower and upper bounds, ``(1, d)`` each (infinite where a variable is free)."""

    lo: torch.Tensor
    hi: torch.Tensor

    @classmethod
    def of(cls, names: Sequence[str], bounds: Bounds, dtype: torch.dtype, device: str | torch.device) -> Box | None:
        """The box of ``bounds`` over ``names``; ``None`` when nothing is bounded."""
        if not bounds:
            return None
        lo = [bounds.get(n, (-math.inf, math.inf))[0] for n in names]
        hi = [bounds.get(n, (-math.inf, math.inf))[1] for n in names]
        return cls(torch.tensor([lo], dtype=dtype, device=device), torch.tensor([hi], dtype=dtype, device=device))

    def clamp(self, X: torch.Tensor) -> torch.Tensor:
        """``X`` projected into the box."""
        return torch.clamp(X, self.lo, self.hi)

    def outward(self, X: torch.Tensor, G: torch.Tensor) -> torch.Tensor:
        """Mask of the variables on a bound whose descent direction ``-G`` leaves the box."""
        return ((X <= self.lo) & (G > 0)) | ((X >= self.hi) & (G < 0))

    def side(self, X: torch.Tensor) -> torch.Tensor:
        """Per variable: -1 on its lower bound, +1 on its upper, 0 inside."""
        return (X >= self.hi).to(torch.int8) - (X <= self.lo).to(torch.int8)
