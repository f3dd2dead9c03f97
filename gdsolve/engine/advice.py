"""What to try when a run diverged or used its budget: advice that can help, computed, not guessed.

A message that says "try a smaller --lr" is only honest when a smaller rate
can help. Two cases where it cannot, and one where the rate it names must be
computed:

* **f has no minimum along the run** (``-x**2``, ``x``): f fell to -inf, or
  it was still falling at the end with steps that were not shrinking and a
  gradient no smaller than at the start. No rate fixes that; bounds or
  another formula do.
* **gd's rate is too large for the curvature.** The tutorial's rule
  ``x <- x - lr * g`` is stable along a direction of curvature ``lambda``
  only when ``lr < 2 / lambda``, and it stops oscillating when
  ``lr <= 1 / lambda``. So the rate to suggest is ``1 / lambda_max`` of the
  Hessian at the start (and at the best point reached), rounded down to one
  significant digit -- for Rosenbrock from ``(1.54, -0.29)``, ``lambda_max``
  is about 3.1e3 and the suggestion 3e-4, where ``lr / 10`` (0.01) would
  diverge too.
* **Steps of constant size at ``max_iter``**: gd whose rate is above
  ``1 / lambda_max`` at the final point, on a path far longer than the way it
  made, is bouncing across a valley: the same suggestion applies.

The Hessian costs one backward pass per variable; it is made only for runs
that ended badly, and not above :data:`MAX_VARIABLES` variables.

>>> nice_rate(1 / 3106.0)
0.0003
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from ..formula.objective import Objective

#: Above this many variables no Hessian is made for advice (its cost grows with d^2).
MAX_VARIABLES = 500

#: A path this many times longer than the net way made is a zigzag.
ZIGZAG = 10.0


def nice_rate(rate: float) -> float:
    """``rate`` rounded down to one significant digit (``3.2e-4`` -> ``3e-4``)."""
    exponent = math.floor(math.log10(rate))
    return float(f"{math.floor(rate / 10.0 ** exponent)}e{exponent}")


def top_curvature(objective: Objective, points: Sequence[Sequence[float]]) -> float | None:
    """The largest ``|eigenvalue|`` of the Hessian of the minimized f over ``points``; ``None`` if none is finite."""
    if not points or len(points[0]) > MAX_VARIABLES:
        return None
    top = None
    for point in points:
        x = torch.tensor(list(point), dtype=torch.float64)
        if not bool(torch.isfinite(x).all()):
            continue
        try:
            H = torch.autograd.functional.hessian(lambda v: objective(v.unsqueeze(0)).sum(), x)
        except RuntimeError:  # an operation without a second derivative
            continue
        if not bool(torch.isfinite(H).all()):
            continue
        lam = float(torch.linalg.eigvalsh((H + H.T) / 2).abs().max())
        top = lam if top is None else max(top, lam)
    return top


def _gradient_norm(objective: Objective, point: Sequence[float]) -> float:
    x = torch.tensor(list(point), dtype=torch.float64, requires_grad=True)
    with torch.enable_grad():
        (g,) = torch.autograd.grad(objective(x.unsqueeze(0)).sum(), x)
    return float(g.norm())


def unbounded_words(sign: float) -> str:
    """What to say when f has no minimum (no maximum when maximizing) along the run."""
    which = "below" if sign > 0 else "above"
    return (f"f looks unbounded {which} along the run (it has no "
            f"{'minimum' if sign > 0 else 'maximum'} there), so no rate helps; "
            "bound the variables ([[--bounds x=-10:10||bounds={'x': (-10, 10)}]]), start elsewhere ({x0}), "
            "or check the formula")


def rate_words(lr: float, lam: float, where: str) -> str:
    """Suggest ``1 / lam`` (rounded down) as gd's rate, saying why."""
    rate = nice_rate(1.0 / lam)
    return (f"the rate {lr:g} is too large for the curvature {where} (the Hessian's largest eigenvalue is {lam:.3g}: "
            f"gd's steps grow above 2/{lam:.3g} = {2.0 / lam:.2g} and oscillate above {1.0 / lam:.2g}); "
            f"try [[--lr {rate:g}||lr={rate:g}]]")


def diverged_hint(objective: Objective, method: str, lr: float, unbounded: bool,
                  x0: Sequence[float], best_x: Sequence[float] | None) -> str:
    """The advice after f or its gradient became non-finite (``unbounded``: the minimized f reached -inf),
    or f kept getting worse."""
    if unbounded:
        return unbounded_words(objective.sign)
    if method == "gd" and math.isfinite(lr) and lr > 0:
        lam = top_curvature(objective, [x0] + ([best_x] if best_x is not None else []))
        if lam is not None and lam > 0 and lr * lam > 2:
            return rate_words(lr, lam, "at the start")
    return f"try a smaller {{lr}} (e.g. [[--lr {lr / 10:g}||lr={lr / 10:g}]])"


def max_iter_hint(objective: Objective, method: str, line_search: str, lr: float, nit: int, last_step: float,
                  x: Sequence[float], x0: Sequence[float], fmin: float, best_f: float | None) -> str:
    """Advice for a run that used all its steps, or ``""`` when the run was merely slow."""
    if nit < 2 or not math.isfinite(last_step) or last_step <= 0 or not math.isfinite(fmin):
        return ""
    made = math.dist(x, x0)
    falling = best_f is None or fmin <= best_f  # f was at its best at the very end (minimized sign)
    if falling and 2 * last_step * nit >= made and _gradient_norm(objective, x) >= _gradient_norm(objective, x0):
        return unbounded_words(objective.sign)
    if method == "gd" and line_search == "none" and lr > 0 and last_step * nit > ZIGZAG * made:
        lam = top_curvature(objective, [x])
        if lam is not None and lam > 0 and lr * lam > 1:
            return ("the steps kept their size, bouncing across a valley: "
                    + rate_words(lr, lam, "here"))
    return ""
