"""Is the point where the steps stopped really a stationary point? The check behind ``stalled``.

The tutorial's rule, ``||x_new - x_old|| < eps``, and the ``ftol`` rule measure
the *steps*, not the point. A step is (multiplier) x (direction): it can be
small because the gradient is small -- the point is stationary -- or because
the multiplier collapsed: a schedule decayed the rate, a line search shrank
its step, an adaptive method's per-coordinate rates shrank, or a quasi-Newton
model is badly scaled (a parameter near 1e-4 beside one near 1e2). Only the
first is convergence.

"Small" is judged on the run's own scale, never against an absolute number
and never against the origin: the same problem shifted, rescaled, or with a
variable in other units gets the same verdict. With ``g`` the gradient and
``H`` the Hessian at the point (autograd, float64), ``H`` is first scaled by
its diagonal (``D = |diag H|^-1/2``, ``Hs = D H D``: unit diagonal, so a
curvature of 1e170 in one variable does not swamp the others), then:

* ``distance``: the Newton estimate of the way to the nearest stationary
  point, ``delta = D |Hs|^-1 D g`` (eigenvalues by magnitude, floored at the
  rounding level of the largest, so a saddle or a flat valley cannot hide
  distance), must be within ``RTOL`` (0.1%) of each variable's *travel*: the
  larger of the way from the start to the estimated stationary point and the
  way from the start to the point (``|x0_i - (x_i - delta_i)|``,
  ``|x_i - x0_i|``);
* ``coordinate``: the same for each variable moved alone, ``|g_i / H_ii|``
  (a joint solve through an ill-conditioned ``H`` cannot hide it);
* ``decrease``: the decrease the quadratic model still predicts, of the
  joint step (``g^T |H|^-1 g / 2``) and of each variable alone
  (``g_i^2 / 2|H_ii|``), must be within ``RTOL`` of f's scale in the run:
  its change ``|f(x0) - f(x)|`` (or, when larger, ``sum_i |H_ii| (x_i - x0_i)^2 / 2``,
  for a start on the point's level set), or below f's rounding level;
* ``model``: the model must hold: the Newton step must realize at least a
  quarter of the decrease it predicts (at a cusp such as ``sqrt(abs(u))`` at
  ``u = 0`` the curvature is unbounded, the estimate tiny, and the step gains
  nothing; at a degenerate minimum such as ``x**4`` it gains more than predicted);
* ``kink``: where f has no curvature along the gradient (``abs``, ``max``)
  the Newton estimate has nothing to say; the point counts only if it is the
  bottom of a kink: a probe of ``RTOL`` times each variable's travel (or size),
  both ways along each axis, does not lower f.

A variable that did not need to move is not judged on a travel of zero: its
travel is at least ``RTOL`` times the whole run's travel measured in the
scaled variables (``||(x - x0) / D||``) and brought back to its units.

The Hessian costs one backward pass per variable, once, at the end of the
run; above :data:`MAX_VARIABLES` variables, or where it is not finite, the
check is not made and the result says so. :func:`judge` makes the check for
many rows at once (the batched engine, through :mod:`gdsolve.engine.rowcheck`);
:func:`check` is the one-row view of the same code.

Example:
    >>> from gdsolve.formula.objective import compile_objective
    >>> c = check(compile_objective("(x-4)**2"), [3.999996], [0.0])
    >>> c.stationary, round(c.relative, 8)
    (True, 1e-06)
    >>> v = check(compile_objective("(x-4)**2"), [2.79], [0.0])
    >>> v.stationary, v.failed
    (False, 'distance')
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from ..optim.scaling import hessian

RTOL = 1e-3
MAX_VARIABLES = 500
MODEL_GAIN = 0.25  # the Newton step must realize at least this fraction of the decrease it predicts
_ROUNDING = 1e-15  # float64's relative rounding level, with a little room
_F_NOISE = 1e-10  # a predicted decrease below this fraction of |f| is rounding noise: no model check
_F_ROUNDING = 1e-13  # a predicted decrease below this fraction of |f| cannot be realized in float64
_TIE = 1e-9  # relative distances this close are equal: rounding, not the problem, tells them apart
_X_ROUNDING = 1e-12  # a travel below this fraction of |x_i| is below x's rounding level
#: The tests of :func:`judge`, in the order they are made; ``failed`` names the first that failed.
TESTS = ("distance", "coordinate", "decrease", "model", "kink")


@dataclass(frozen=True)
class Judgement:
    """The verdicts of :func:`judge` for ``n`` rows (tensors, on the rows' device)."""

    checked: torch.Tensor  # (n,) bool: False where the curvature is not finite or cannot be computed
    stationary: torch.Tensor  # (n,) bool (True where not checked)
    failed: torch.Tensor  # (n,) long: 1 + index in TESTS of the first failed test, 0 when none failed
    distance: torch.Tensor  # (n, d) |delta_i| (inf on a slope without curvature)
    scale: torch.Tensor  # (n, d) each variable's travel
    relative: torch.Tensor  # (n,) the largest distance / travel, the coordinate test's included
    worst: torch.Tensor  # (n,) long: the variable where it is reached
    decrease: torch.Tensor  # (n,) the largest predicted decrease (joint step or one variable)
    fscale: torch.Tensor  # (n,) f's scale in the run: |f(x0) - f(x)|, or the model's change over the travel
    gnorm: torch.Tensor  # (n,)


def judge(objective: object, X: torch.Tensor, X0: torch.Tensor, free: torch.Tensor | None = None) -> Judgement:
    """Judge each row of ``X`` (n, d, float64), started at ``X0``; ``free`` (n, d) marks the variables
    not held on a bound (the held ones are fixed and not judged). Rows where the curvature is not
    finite are unchecked; an operation without a second derivative raises ``RuntimeError``."""
    d = X.shape[1]
    F, g, H = hessian(objective, X)  # type: ignore[arg-type]
    with torch.no_grad():
        F0 = objective(X0)  # type: ignore[operator]
    if free is not None:
        held = ~free
        g = g.masked_fill(held, 0.0)
        H = H.masked_fill(held.unsqueeze(1) | held.unsqueeze(2), 0.0) + torch.diag_embed(held.to(H.dtype))
    ok = torch.isfinite(H).flatten(1).all(1) & torch.isfinite(g).all(1) & torch.isfinite(F)
    H = torch.where(ok[:, None, None], H, torch.eye(d, dtype=H.dtype, device=H.device))
    g = torch.where(ok[:, None], g, torch.zeros_like(g))
    F = torch.where(ok, F, torch.zeros_like(F))
    H = (H + H.transpose(1, 2)) / 2
    # Scale by the diagonal: unit curvature per variable, whatever its units or its size.
    hd = torch.diagonal(H, dim1=1, dim2=2).abs()
    D = torch.where(hd > 0, hd.rsqrt(), torch.ones_like(hd))
    Hs = D.unsqueeze(2) * H * D.unsqueeze(1)
    gs = D * g
    lam, V = torch.linalg.eigh(Hs)
    top = lam.abs().amax(1, keepdim=True)
    floor = (top * _ROUNDING * max(d, 1)).clamp(min=torch.finfo(H.dtype).tiny)
    comp = (V.transpose(1, 2) @ gs.unsqueeze(2)).squeeze(2)
    gnorm = g.norm(dim=1)
    moving = gnorm > 0
    flat = ((lam == 0) & (comp.abs() > _ROUNDING * gs.norm(dim=1, keepdim=True))).any(1) & moving
    alam = lam.abs().clamp(min=floor)
    zs = comp / alam
    delta = torch.where(moving.unsqueeze(1), D * (V @ zs.unsqueeze(2)).squeeze(2), torch.zeros_like(g))
    coord = torch.where(hd > 0, g.abs() / hd.clamp(min=torch.finfo(H.dtype).tiny),
                        torch.where(g == 0, 0.0, math.inf))
    # The predicted decreases: of the joint step and of each variable alone.
    dec_joint = 0.5 * (comp * zs).sum(1)
    dec_each = torch.where(hd > 0, 0.5 * gs**2, torch.where(g == 0, 0.0, math.inf))
    dec_coord = dec_each.amax(1)
    decrease = torch.maximum(dec_joint, dec_coord)
    fchange = (torch.nan_to_num(F0, nan=math.inf, posinf=math.inf, neginf=math.inf) - F).abs()
    fchange = torch.nan_to_num(fchange, nan=0.0, posinf=0.0)  # a start where f is not finite: no run scale
    # Each variable's travel: from the start to the estimated stationary point, or to the point.
    journey = (X - X0) / D
    # f's scale: its change over the run, or what the curvature here makes of the travel (a start on
    # f's level set, as on a saddle's diagonal, changes f by nothing).
    fscale = torch.maximum(fchange, 0.5 * (journey**2).sum(1))
    floor_x = RTOL * journey.norm(dim=1, keepdim=True) * torch.where(hd > 0, D, torch.zeros_like(D))
    scale = torch.stack([(X0 - (X - delta)).abs(), (X - X0).abs(), floor_x, _X_ROUNDING * X.abs()]).amax(0)
    scale = torch.nan_to_num(scale, nan=math.inf)
    rel_joint = torch.where(delta == 0, 0.0, delta.abs() / scale).nan_to_num(nan=1.0, posinf=math.inf)
    rel_coord = torch.where(coord == 0, 0.0, coord / scale).nan_to_num(nan=1.0, posinf=math.inf)
    passes = [rel_joint.amax(1) <= RTOL, rel_coord.amax(1) <= RTOL,
              decrease <= torch.maximum(RTOL * fscale, _F_ROUNDING * torch.maximum(F.abs(), F0.abs().nan_to_num(0.0)))]
    model = torch.ones_like(moving)
    # below f's rounding level (on the run's values: f may be a cancellation, 30 - 30) the model is noise
    fsize = torch.maximum(F.abs(), F0.abs().nan_to_num(0.0, posinf=0.0))
    tried = passes[0] & passes[1] & passes[2] & ~flat & moving & (dec_joint > _F_NOISE * fsize)
    if bool(tried.any()):
        idx = tried.nonzero().squeeze(1)
        with torch.no_grad():
            F1 = objective(X[idx] - delta[idx])  # type: ignore[operator]
        model[idx] = torch.isfinite(F1) & (F[idx] - F1 >= MODEL_GAIN * dec_joint[idx])
    passes.append(model)
    kink = torch.ones_like(moving)
    if bool(flat.any()):
        idx = flat.nonzero().squeeze(1)
        kink[idx] = _kink_rows(objective, X[idx], X0[idx], F[idx], None if free is None else free[idx])
        for p in passes:  # the Newton estimate has nothing to say there
            p[idx] = True
        delta[idx[~kink[idx]]] = math.inf
        rel_joint[idx] = torch.where(kink[idx].unsqueeze(1), 0.0, math.inf).to(rel_joint.dtype)
    passes.append(kink)
    stationary = torch.stack(passes).all(0) | ~ok
    first_failed = torch.stack([~p for p in passes]).to(torch.long).argmax(0) + 1
    failed = torch.where(stationary, torch.zeros_like(first_failed), first_failed)
    # The distance reported: the joint one, or the one-variable one where that is the test that failed.
    rel = torch.where((failed == 2).unsqueeze(1), rel_coord, rel_joint)
    relative = rel.amax(1)
    # Several variables can be equally far, as at a start that did not move (each one's distance is its
    # whole travel, 1 up to the last digit): the last digit must not choose, so of those within rounding
    # of the largest, name the one whose move alone would lower f most.
    tied = rel >= relative.unsqueeze(1) * (1 - _TIE)
    worst = torch.where(tied, dec_each.nan_to_num(nan=0.0), -1.0).argmax(1)
    return Judgement(ok, stationary, failed, delta.abs(), scale, relative, worst, decrease, fscale, gnorm)


def _kink_rows(objective: object, X: torch.Tensor, X0: torch.Tensor, F: torch.Tensor,
               free: torch.Tensor | None) -> torch.Tensor:
    """Where f has no curvature (``abs``, ``max``): is the point the bottom of a kink?

    The Newton estimate cannot say; a probe can: a step of ``RTOL`` times each
    variable's travel (its size where it did not travel), both ways along each
    axis, must not lower f.
    """
    n, d = X.shape
    travel = (X - X0).abs()
    h = RTOL * torch.where(travel > 0, travel, X.abs())
    if free is not None:
        h = h * free.to(h.dtype)
    eye = torch.eye(d, dtype=X.dtype, device=X.device)
    probes = torch.cat([X.unsqueeze(1) + eye * h.unsqueeze(1), X.unsqueeze(1) - eye * h.unsqueeze(1)], 1)
    with torch.no_grad():
        fp = objective(probes.reshape(-1, d)).reshape(n, 2 * d)  # type: ignore[operator]
    return torch.isfinite(fp).all(1) & (fp.amin(1) >= F)


@dataclass(frozen=True)
class Stationarity:
    """The verdict of :func:`check` at one point.

    Attributes:
        checked: False when no verdict could be reached (``reason`` says why).
        stationary: every test of :data:`TESTS` passed (True when not checked:
            nothing contradicts the rule).
        distance: ``|delta_i|``, the estimated distance to the stationary point per variable.
        scale: each variable's travel, the size each distance is measured against.
        relative: ``max_i distance_i / scale_i`` (the one-variable distances
            included); compared with :data:`RTOL`.
        worst: the index of the variable where ``relative`` is reached (of variables equally far, up to
            rounding, the one whose move alone would lower f most).
        reason: why the check was not made (empty when it was).
        failed: the first test of :data:`TESTS` that failed ("" when none did).
        gnorm: the gradient norm at the point (float64).
        decrease: the largest decrease the quadratic model still predicts.
        fscale: f's scale in the run: its change ``|f(x0) - f(x)|``, or the
            curvature's measure of the travel, ``sum_i H_ii (x_i - x0_i)^2 / 2``, when larger.
        size: each variable's size, ``max(|x0_i|, |x_i|)`` (for the advice on rescaling).
    """

    checked: bool
    stationary: bool
    distance: tuple[float, ...] = ()
    scale: tuple[float, ...] = ()
    relative: float = math.nan
    worst: int = 0
    reason: str = ""
    failed: str = ""
    gnorm: float = math.nan
    decrease: float = math.nan
    fscale: float = math.nan
    size: tuple[float, ...] = ()

    @property
    def smooth(self) -> bool:
        """False when the Newton step does not realize the decrease it predicts (a cusp)."""
        return self.failed != "model"


def check(objective: object, x: Sequence[float], x0: Sequence[float],
          free: Sequence[bool] | None = None) -> Stationarity:
    """Judge whether ``x``, reached from the start ``x0``, is a stationary point of the minimized function.

    Args:
        objective: a compiled objective (a ``(B, d) -> (B,)`` callable).
        x: the point.
        x0: where the run started.
        free: with bounds, which variables are free to move; the others (held
            on a bound by a gradient pointing out of the box) are fixed, and
            the check is made over the free ones.
    """
    d = len(x)
    if d > MAX_VARIABLES:
        return Stationarity(False, True, reason=f"not checked: more than {MAX_VARIABLES} variables")
    X = torch.tensor([list(x)], dtype=torch.float64)
    X0 = torch.tensor([list(x0)], dtype=torch.float64)
    mask = None if free is None else torch.tensor([list(free)], dtype=torch.bool)
    try:
        j = judge(objective, X, X0, mask)
    except RuntimeError as exc:  # an operation without a second derivative
        return Stationarity(False, True, reason=f"not checked: the curvature cannot be computed here ({exc})")
    if not bool(j.checked[0]):
        return Stationarity(False, True, reason="not checked: the curvature is not finite here")
    failed = int(j.failed[0])
    size = tuple(max(abs(a), abs(b)) for a, b in zip(x, x0))
    return Stationarity(True, bool(j.stationary[0]), tuple(j.distance[0].tolist()), tuple(j.scale[0].tolist()),
                        float(j.relative[0]), int(j.worst[0]), failed=TESTS[failed - 1] if failed else "",
                        gnorm=float(j.gnorm[0]), decrease=float(j.decrease[0]), fscale=float(j.fscale[0]),
                        size=size)


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
    unscaled: bool = False  # lbfgs ran with scale "none" (see gdsolve.optim.scaling)


ADAPTIVE = ("adam", "adamw", "rmsprop", "adagrad")


def diagnose(names: Sequence[str], v: Stationarity, facts: RunFacts) -> str:
    """Say how far from stationary the point is, the likely cause, and a fix.

    Returns an error-template fragment (see :mod:`gdsolve.core.errors`: ``{lr}``
    names an option) for the ``stalled`` message.
    """
    i = v.worst
    where = (f"the gradient is not small: by the curvature here, the nearest stationary point is about "
             f"{v.distance[i]:.3g} away in {names[i]} ({_pct(v.relative)} of its travel from the start, {v.scale[i]:.3g})")
    if v.failed == "coordinate":
        where = (f"the gradient is not small: by its own curvature, {names[i]} alone is about "
                 f"{v.relative * v.scale[i]:.3g} from where f is lowest ({_pct(v.relative)} of its travel from the start, "
                 f"{v.scale[i]:.3g})")
    elif v.failed == "decrease":
        where = (f"the gradient is not small: by the curvature here, f can still fall by about {v.decrease:.3g}, "
                 f"against a change of {v.fscale:.3g} over the whole run")
    if not math.isfinite(v.distance[i]):
        where = f"the gradient is not small and f has no curvature here (it is locally linear in {names[i]})"
    sizes = v.size or v.scale
    sized = [s for s in sizes if s > 0 and math.isfinite(s)]
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
        cause = (f"eps {facts.eps:g} is coarse for {names[i]}, whose travel is {v.scale[i]:.3g}; "
                 f"use a smaller {{eps}} (e.g. [[--eps {v.scale[i] * 1e-6:.0e}||eps={v.scale[i] * 1e-6:.0e}]]) "
                 "or stop on the gradient with {gtol}")
    elif spread >= 1e3 and facts.method in ("lbfgs", *ADAPTIVE):
        lo = min(range(len(sizes)), key=lambda j: sizes[j] if sizes[j] > 0 else math.inf)
        hi = max(range(len(sizes)), key=lambda j: sizes[j] if math.isfinite(sizes[j]) else -math.inf)
        cause = (f"the variables differ in size by a factor of {spread:.0e} ({names[hi]} ~ {sizes[hi]:.3g}, "
                 f"{names[lo]} ~ {sizes[lo]:.3g}), which {facts.method} handles badly; rescale them to similar sizes "
                 f"(write {names[lo]} as a multiple of {sizes[lo]:.0e}), or stop on the gradient with {{gtol}}")
        if facts.unscaled:
            cause += "; or let lbfgs rescale them: drop [[--scale none||scale='none']]"
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
        where = (f"the gradient is not small (its norm is {v.gnorm:.3g}) and f is not smooth here: the Newton step does "
                 "not gain the decrease the curvature predicts, as at a cusp")
        cause = "the point may be a cusp of f rather than a minimum; try another start ({x0}) or method"
    return f"{where}: {cause}"


def _pct(r: float) -> str:
    """A relative distance as a percentage with sensible digits.

    >>> _pct(0.433), _pct(0.0022), _pct(1.0)
    ('43%', '0.22%', '100%')
    """
    p = 100 * min(r, 1.0)
    return f"{p:.0f}%" if p >= 10 else f"{p:.2g}%"
