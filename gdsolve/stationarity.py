"""Is the point where the steps stopped really a stationary point? The check behind ``stalled``.

The tutorial's rule, ``||x_new - x_old|| < eps``, and the ``ftol`` rule measure
the *steps*, not the point. A step is (multiplier) x (direction): it can be
small because the gradient is small -- the point is stationary -- or because
the multiplier collapsed: a schedule decayed the rate, a line search shrank
its step, an adaptive method's per-coordinate rates shrank, or a quasi-Newton
model is badly scaled (a parameter near 1e-4 beside one near 1e2). Only the
first is convergence.

"Small" is judged on the problem's own scale, never against an absolute
number. The measure is the Newton estimate of how far the nearest stationary
point still is, variable by variable, relative to that variable's own size:

* ``delta = |H|^-1 g``, with ``g`` the gradient and ``H`` the Hessian at the
  point (autograd, in float64), ``|H|`` its absolute value (eigenvalues
  replaced by their magnitudes, and floored at the rounding level of the
  largest one, so a saddle or a flat valley cannot hide distance);
* ``scale_i``: the largest ``|x_i|`` the run has seen (start, iterates) or the
  estimated stationary point ``x_i - delta_i`` has;
* the point is stationary when ``|delta_i| <= RTOL * scale_i`` for every
  variable (``RTOL`` = 1e-3: within 0.1% of each variable's own size), and
  the quadratic model behind the estimate holds: one Newton step shrinks the
  gradient to a quarter or less (at a cusp such as ``sqrt(abs(u))`` at
  ``u = 0`` the curvature is unbounded, the estimate tiny, and it does not).

The measure is unchanged when f is multiplied by a constant or shifted by
one, and when a variable is measured in other units: it depends on the
problem, not on how it is written. Where f is locally linear (``abs``,
``max``: zero curvature), the Newton estimate has nothing to say; there the
point counts as stationary only if it is the bottom of a kink: a probe of
``RTOL`` times each variable's size, both ways along each axis, does not
lower f. The Hessian costs one backward pass per variable, once, at the end of
the run; above :data:`MAX_VARIABLES` variables, or where it is not finite,
the check is not made and the result says so.

Example:
    >>> from gdsolve.objective import compile_objective
    >>> c = check(compile_objective("(x-4)**2"), [3.999996], [3.999996])
    >>> c.stationary, round(c.relative, 8)
    (True, 1e-06)
    >>> check(compile_objective("(x-4)**2"), [2.79], [2.79]).stationary
    False
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch

RTOL = 1e-3
MAX_VARIABLES = 500
NEWTON_SHRINK = 0.25  # one Newton step must shrink the gradient at least this much where the model holds
_ROUNDING = 1e-15  # float64's relative rounding level, with a little room
_NOISE = 1e-9  # below this relative distance the gradient is rounding noise: no model check


@dataclass(frozen=True)
class Stationarity:
    """The verdict of :func:`check` at one point.

    Attributes:
        checked: False when no verdict could be reached (``reason`` says why).
        stationary: the point is within ``RTOL`` of a stationary point in
            every variable (True when not checked: nothing contradicts the rule).
        distance: ``|delta_i|``, the estimated distance to the stationary point per variable.
        scale: the size each distance is measured against.
        relative: ``max_i distance_i / scale_i``; compared with :data:`RTOL`.
        worst: the index of the variable where ``relative`` is reached.
        reason: why the check was not made (empty when it was).
        smooth: False when one Newton step does not shrink the gradient (a
            cusp: the curvature-based estimate cannot be trusted there).
        gnorm: the gradient norm at the point (float64).
    """

    checked: bool
    stationary: bool
    distance: tuple[float, ...] = ()
    scale: tuple[float, ...] = ()
    relative: float = math.nan
    worst: int = 0
    reason: str = ""
    smooth: bool = True
    gnorm: float = math.nan


def check(objective: object, x: Sequence[float], seen_max: Sequence[float],
          free: Sequence[bool] | None = None) -> Stationarity:
    """Judge whether ``x`` is a stationary point of the minimized function.

    Args:
        objective: a compiled objective (a ``(B, d) -> (B,)`` callable).
        x: the point.
        seen_max: per variable, the largest ``|x_i|`` the run has seen.
        free: with bounds, which variables are free to move; the others (held
            on a bound by a gradient pointing out of the box) are fixed, and
            the check is made over the free ones.
    """
    if free is not None and not all(free):
        return _check_free(objective, x, seen_max, free)
    d = len(x)
    if d > MAX_VARIABLES:
        return Stationarity(False, True, reason=f"not checked: more than {MAX_VARIABLES} variables")
    X = torch.tensor([list(x)], dtype=torch.float64, requires_grad=True)
    try:
        F = objective(X)  # type: ignore[operator]
        (G,) = torch.autograd.grad(F.sum(), X, create_graph=True)
        rows = []
        for i in range(d):
            if G[0, i].requires_grad:
                (row,) = torch.autograd.grad(G[0, i], X, retain_graph=True, allow_unused=True)
                rows.append(torch.zeros(d, dtype=torch.float64) if row is None else row[0])
            else:  # this component does not depend on x (a linear term): no curvature
                rows.append(torch.zeros(d, dtype=torch.float64))
        H = torch.stack(rows).detach()
        g = G[0].detach()
    except RuntimeError as exc:  # an operation without a second derivative
        return Stationarity(False, True, reason=f"not checked: the curvature cannot be computed here ({exc})")
    if not (torch.isfinite(H).all() and torch.isfinite(g).all()):
        return Stationarity(False, True, reason="not checked: the curvature is not finite here")
    H = (H + H.T) / 2
    lam, V = torch.linalg.eigh(H)
    top = float(lam.abs().max())
    floor = top * _ROUNDING * max(d, 1)
    comp = V.T @ g  # the gradient along each eigenvector
    gnorm = float(g.norm())
    # A slope along a direction of exactly zero curvature (piecewise-linear f:
    # abs, max) -- not a curvature merely below rounding, as in an
    # ill-conditioned fit, where the floored estimate still measures distance.
    flat = (lam == 0) & (comp.abs() > _ROUNDING * gnorm)
    if gnorm == 0.0:
        delta = torch.zeros_like(g)
    elif bool(flat.any()):
        # A slope with no curvature under it (abs, max, a plane): the Newton
        # estimate has nothing to say. Only a kink's bottom is stationary there.
        f0 = float(F.detach().sum())
        delta = torch.zeros_like(g) if _kink_minimum(objective, X.detach(), f0, seen_max) else torch.full_like(g, math.inf)
    else:
        delta = V @ (comp / lam.abs().clamp(min=floor))
    dist = [abs(v) for v in delta.tolist()]
    scale = [max(s, abs(xi), abs(xi - di)) if math.isfinite(di) else math.inf
             for s, xi, di in zip(seen_max, x, delta.tolist())]
    rel = [0.0 if di == 0 else (di / si if si > 0 else math.inf) for di, si in zip(dist, scale)]
    rel = [1.0 if math.isnan(r) else r for r in rel]  # inf / inf: as far as can be
    worst = max(range(d), key=rel.__getitem__)
    stationary = rel[worst] <= RTOL
    smooth = True
    if stationary and rel[worst] > _NOISE and not bool(flat.any()):
        # Check the quadratic model the estimate rests on: one Newton step
        # must shrink the gradient. At a cusp (sqrt(abs(u)) at u = 0) the
        # curvature is unbounded, the estimate tiny, and the step does not.
        step = V @ (comp / torch.where(lam >= 0, 1.0, -1.0) / lam.abs().clamp(min=floor))
        smooth = _newton_step_shrinks(objective, X.detach() - step, gnorm)
        stationary = smooth
    return Stationarity(True, stationary, tuple(dist), tuple(scale), rel[worst], worst, smooth=smooth, gnorm=gnorm)


def _newton_step_shrinks(objective: object, X1: torch.Tensor, gnorm: float) -> bool:
    X1 = X1.requires_grad_(True)
    F1 = objective(X1)  # type: ignore[operator]
    if not bool(torch.isfinite(F1).all()):
        return False
    (G1,) = torch.autograd.grad(F1.sum(), X1)
    return bool(torch.isfinite(G1).all()) and float(G1.norm()) <= NEWTON_SHRINK * gnorm


def _kink_minimum(objective: object, X: torch.Tensor, f: float, seen_max: Sequence[float]) -> bool:
    """Where f has no curvature (``abs``, ``max``), is the point the bottom of a kink?

    The Newton estimate cannot say; a probe can: a step of ``RTOL`` times each
    variable's size, both ways along each axis, must not lower f.
    """
    d = X.shape[1]
    h = torch.tensor([RTOL * max(s, abs(v)) for s, v in zip(seen_max, X[0].tolist())], dtype=X.dtype)
    eye = torch.diag(h)
    with torch.no_grad():
        probes = objective(torch.cat([X + eye, X - eye]))  # type: ignore[operator]
    return bool(torch.isfinite(probes).all()) and float(probes.min()) >= f and d > 0


def _check_free(objective: object, x: Sequence[float], seen_max: Sequence[float], free: Sequence[bool]) -> Stationarity:
    """:func:`check` over the free variables, the held ones fixed at their bounds."""
    if not any(free):
        return Stationarity(True, True, tuple(0.0 for _ in x), tuple(seen_max), 0.0)
    held = [xi for xi, fr in zip(x, free) if not fr]
    idx = [i for i, fr in enumerate(free) if fr]

    def restricted(Xf: torch.Tensor) -> torch.Tensor:
        cols, it_f, it_h = [], iter(Xf.unbind(1)), iter(held)
        for fr in free:
            cols.append(next(it_f) if fr else torch.full_like(Xf[:, 0], next(it_h)))
        return objective(torch.stack(cols, 1))  # type: ignore[operator]

    v = check(restricted, [x[i] for i in idx], [seen_max[i] for i in idx])
    if not v.checked:
        return v
    dist, scale = [0.0] * len(x), list(seen_max)
    for j, i in enumerate(idx):
        dist[i], scale[i] = v.distance[j], v.scale[j]
    return Stationarity(True, v.stationary, tuple(dist), tuple(scale), v.relative, idx[v.worst], smooth=v.smooth,
                        gnorm=v.gnorm)


@dataclass(frozen=True)
class RunFacts:
    """What the run knows about why its steps were small (for :func:`diagnose`)."""

    method: str
    schedule: str
    lr0: float  # the starting rate
    lr: float  # the rate at the end
    eps: float
    collapsed: bool = False  # the last line search took a step far below its first trial
    ls_failed: bool = False  # the last line search found no decrease at all
    ls_nonfinite: bool = False  # ...because f was not finite at a trial point


ADAPTIVE = ("adam", "adamw", "rmsprop", "adagrad")


def diagnose(names: Sequence[str], v: Stationarity, facts: RunFacts) -> str:
    """Say how far from stationary the point is, the likely cause, and a fix.

    Returns an error-template fragment (see :mod:`gdsolve.errors`: ``{lr}``
    names an option) for the ``stalled`` message.
    """
    i = v.worst
    where = (f"the gradient is not small: by the curvature here, the nearest stationary point is about "
             f"{v.distance[i]:.3g} away in {names[i]} ({_pct(v.relative)} of its size {v.scale[i]:.3g})")
    if not math.isfinite(v.distance[i]):
        where = f"the gradient is not small and f has no curvature here (it is locally linear in {names[i]})"
    sized = [s for s in v.scale if s > 0 and math.isfinite(s)]
    spread = max(sized) / min(sized) if sized else 1.0
    if facts.schedule != "constant" and facts.lr < facts.lr0:
        slower = {"exponential": "{gamma} closer to 1", "step": "a larger {step_size}, or {gamma} closer to 1",
                  "cosine": "a larger {t_max}"}[facts.schedule]
        cause = (f"the {facts.schedule} schedule decayed the rate from {facts.lr0:g} to {facts.lr:.3g}; "
                 f"decay more slowly ({slower}), use a constant rate, or stop on the gradient with {{gtol}}")
    elif facts.ls_nonfinite:
        cause = ("the line search met trial points where f is not finite (outside the formula's domain, or "
                 "overflowing); keep the search inside with {bounds}, or start elsewhere ({x0})")
    elif facts.ls_failed:
        other = "" if facts.method == "lbfgs" else "try [[--method lbfgs||method='lbfgs']], or "
        cause = ("the line search found no decrease along the step (f may have a kink here, or be flat to rounding); "
                 f"{other}stop on the gradient with {{gtol}}")
    elif facts.collapsed:
        cause = ("the line search shrank the step far below its first trial; rescale the variables to similar sizes, "
                 "or stop on the gradient with {gtol}")
    elif facts.eps >= RTOL * v.scale[i] and math.isfinite(v.distance[i]):
        cause = (f"eps {facts.eps:g} is coarse for {names[i]}, whose size is {v.scale[i]:.3g}; "
                 f"use a smaller {{eps}} (e.g. [[--eps {v.scale[i] * 1e-6:.0e}||eps={v.scale[i] * 1e-6:.0e}]]) "
                 "or stop on the gradient with {gtol}")
    elif spread >= 1e3 and facts.method in ("lbfgs", *ADAPTIVE):
        lo = min(range(len(v.scale)), key=lambda j: v.scale[j] if v.scale[j] > 0 else math.inf)
        hi = max(range(len(v.scale)), key=lambda j: v.scale[j] if math.isfinite(v.scale[j]) else -math.inf)
        cause = (f"the variables differ in size by a factor of {spread:.0e} ({names[hi]} ~ {v.scale[hi]:.3g}, "
                 f"{names[lo]} ~ {v.scale[lo]:.3g}), which {facts.method} handles badly; rescale them to similar sizes "
                 f"(write {names[lo]} as a multiple of {v.scale[lo]:.0e}), or stop on the gradient with {{gtol}}")
    elif facts.method in ADAPTIVE:
        cause = (f"{facts.method}'s per-variable step sizes shrank faster than the gradient; "
                 "try a larger {lr} or [[--method lbfgs||method='lbfgs']]")
    elif facts.method in ("gd", "momentum", "nesterov"):
        cause = (f"the rate {facts.lr:g} is small for this problem's curvature, so the steps shrank before the gradient did; "
                 "try [[--method lbfgs||method='lbfgs']], [[--line-search armijo||line_search='armijo']], "
                 "or a smaller {eps}")
    else:
        cause = "the steps became small before the gradient did; try a smaller {eps} or stop on the gradient with {gtol}"
    if not v.smooth:
        where = (f"the gradient is not small (its norm is {v.gnorm:.3g}) and f is not smooth here: one Newton step does "
                 "not shrink it, as at a cusp")
        cause = "the point may be a cusp of f rather than a minimum; try another start ({x0}) or method"
    return f"{where}: {cause}"


def _pct(r: float) -> str:
    """A relative distance as a percentage with sensible digits.

    >>> _pct(0.433), _pct(0.0022), _pct(1.0)
    ('43%', '0.22%', '100%')
    """
    p = 100 * min(r, 1.0)
    return f"{p:.0f}%" if p >= 10 else f"{p:.2g}%"
