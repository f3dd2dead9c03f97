"""The batched L-BFGS: torch.optim.LBFGS at B = 1, independent runs at B > 1."""

from __future__ import annotations

import pytest
import torch

from gdsolve.formula.objective import compile_objective
from gdsolve.optim import rowlbfgs

TOL = 1e-10  # the stated tolerance at B = 1: the search's scalars are tensors here, Python floats in torch


def _evaluate(obj):
    def evaluate(Xs: torch.Tensor, rows: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        Xs = Xs.detach().requires_grad_(True)
        F = obj(Xs)
        (G,) = torch.autograd.grad(F.sum(), Xs)
        return F.detach(), G
    return evaluate


def _batched(obj, X0: torch.Tensor, iters: int, history: int = 100) -> list[torch.Tensor]:
    X = X0.clone()
    state = rowlbfgs.init(X, torch.full((X.shape[0],), history))
    active = torch.ones(X.shape[0], dtype=torch.bool)
    path = []
    for _ in range(iters):
        Xg = X.clone().requires_grad_(True)
        F = obj(Xg)
        (G,) = torch.autograd.grad(F.sum(), Xg)
        out = rowlbfgs.update(state, X, G, F.detach(), 1.0, active, _evaluate(obj))
        X, state = out.X, out.state
        path.append(X.clone())
    return path


def _torch_path(obj, x0: list[float], iters: int, history: int = 100) -> list[torch.Tensor]:
    X = torch.tensor([x0], dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([X], lr=1.0, max_iter=1, max_eval=26, tolerance_grad=0.0, tolerance_change=0.0,
                            history_size=history, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        opt.zero_grad()
        F = obj(X).sum()
        F.backward()
        return F

    path = []
    for _ in range(iters):
        opt.step(closure)
        path.append(X.detach().clone())
    return path


@pytest.mark.parametrize(("expr", "x0", "history"), [
    ("(1-x)**2 + 100*(y-x^2)**2", [-1.2, 1.0], 100),
    ("(x^2+y-11)^2+(x+y^2-7)^2", [1.0, 1.5], 100),
    ("(1.5-x+x*y)^2+(2.25-x+x*y^2)^2+(2.625-x+x*y^3)^2", [1.0, 1.0], 3),
    ("x1**2 + 10*x2**2 + 100*x3**2 + x1*x3", [1.0, 1.0, 1.0], 2),
])
def test_one_row_follows_torch_lbfgs(expr: str, x0: list[float], history: int) -> None:
    obj = compile_objective(expr)
    ours = _batched(obj, torch.tensor([x0], dtype=torch.float64), 25, history)
    theirs = _torch_path(obj, x0, 25, history)
    for k, (a, b) in enumerate(zip(ours, theirs)):
        assert (a - b).abs().max() <= TOL * max(1.0, float(b.abs().max())), (k, a, b)


def test_rows_are_independent() -> None:
    # torch.optim.LBFGS over the summed loss of two rows couples them (one history, one step length);
    # the batched one must give each row exactly its own run.
    obj = compile_objective("(1-x)**2 + 100*(y-x^2)**2")
    X0 = torch.tensor([[-1.2, 1.0], [2.0, -1.0], [0.3, 0.3], [-0.5, 2.5]], dtype=torch.float64)
    together = _batched(obj, X0, 30)[-1]
    for i in range(4):
        alone = _batched(obj, X0[i:i + 1], 30)[-1]
        assert torch.equal(alone[0], together[i])


def test_coupled_torch_lbfgs_is_what_this_avoids() -> None:
    # The published measurement, on two quadratics of different curvature: separately each is solved
    # to rounding; summed into one torch.optim.LBFGS problem they are not.
    obj = compile_objective("x**2 + 100*y**2")
    X0 = torch.tensor([[3.0, 1.0], [-2.0, 0.5]], dtype=torch.float64)
    ours = _batched(obj, X0, 50)[-1]
    assert float(ours.abs().max()) < 1e-8


def _one_update(expr: str, x0: list[float]) -> tuple[rowlbfgs.Outcome, torch.Tensor, torch.Tensor]:
    obj = compile_objective(expr)
    X = torch.tensor([[v] for v in x0], dtype=torch.float64)
    state = rowlbfgs.init(X, torch.full((len(x0),), 10))
    Xg = X.clone().requires_grad_(True)
    F = obj(Xg)
    (G,) = torch.autograd.grad(F.sum(), Xg)
    out = rowlbfgs.update(state, X, G, F.detach(), 1.0, torch.ones(len(x0), dtype=torch.bool), _evaluate(obj))
    return out, F.detach(), obj(out.X).detach()


def test_nonfinite_trial_backtracks_into_the_domain() -> None:
    # f is defined on (0, 1) only; the first trial (a step of length 1) lands outside, where f is nan.
    # As scipy's and More-Thuente's searches do, the search backtracks instead of giving up.
    out, F0, F1 = _one_update("-log(x) - log(1-x)", [0.9, 0.2])
    assert not bool(out.failed.any()) and not bool(out.nonfinite.any())
    assert out.backtracks.tolist()[0] >= 1 and out.backtracks.tolist()[1] >= 1
    assert bool(((out.X > 0) & (out.X < 1)).all())
    assert bool((F1 < F0).all())  # each row went downhill


def test_backtracking_rows_stay_independent() -> None:
    expr = "-log(x) - log(1-x)"
    together, _, _ = _one_update(expr, [0.9, 0.45, 0.2])
    for i, x0 in enumerate([0.9, 0.45, 0.2]):
        alone, _, _ = _one_update(expr, [x0])
        assert torch.equal(alone.X[0], together.X[i]) and int(alone.backtracks[0]) == int(together.backtracks[i])


def test_minus_inf_at_a_trial_is_divergence_not_a_backtrack() -> None:
    # -1/(x-2)**2 from x = 1: the first trial is x = 2, where f = -inf (unbounded below).
    out, _, _ = _one_update("-1/(x-2)**2", [1.0])
    assert bool(out.failed[0]) and bool(out.unbounded[0]) and int(out.backtracks[0]) == 0
    assert float(out.X[0, 0]) == 1.0  # did not move
