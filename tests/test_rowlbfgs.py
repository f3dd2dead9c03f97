"""The batched L-BFGS: torch.optim.LBFGS at B = 1, independent runs at B > 1."""

from __future__ import annotations

import pytest
import torch

from gdsolve import rowlbfgs
from gdsolve.objective import compile_objective

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


def test_nonfinite_trial_fails_the_row_only() -> None:
    obj = compile_objective("log(x) + (x-3)**2")  # -inf at 0, nan below: a long step lands outside
    X = torch.tensor([[0.01], [2.0]], dtype=torch.float64)
    state = rowlbfgs.init(X, torch.full((2,), 10))
    Xg = X.clone().requires_grad_(True)
    F = obj(Xg)
    (G,) = torch.autograd.grad(F.sum(), Xg)
    out = rowlbfgs.update(state, X, G, F.detach(), 1.0, torch.ones(2, dtype=torch.bool), _evaluate(obj))
    assert bool(out.failed[0]) and bool(out.nonfinite[0])
    assert float(out.X[0, 0]) == 0.01  # did not move
    assert not bool(out.failed[1]) and float(out.X[1, 0]) != 2.0
