"""The batched first-order methods against torch.optim, step by step."""

from __future__ import annotations

import pytest
import torch

from gdsolve.formula.objective import compile_objective
from gdsolve.optim.rowmethods import RULES, armijo

ROSEN = compile_objective("(1-x)**2 + 100*(y-x^2)**2")


def _torch_optimizer(method: str, X: torch.Tensor, lr: float, opts: dict) -> torch.optim.Optimizer:
    if method in ("momentum", "nesterov"):
        return torch.optim.SGD([X], lr=lr, momentum=opts["momentum"], nesterov=method == "nesterov")
    if method in ("adam", "adamw"):
        cls = torch.optim.Adam if method == "adam" else torch.optim.AdamW
        return cls([X], lr=lr, betas=(opts["beta1"], opts["beta2"]), weight_decay=opts["weight_decay"])
    if method == "rmsprop":
        return torch.optim.RMSprop([X], lr=lr, alpha=opts["alpha"], momentum=opts["momentum"],
                                   weight_decay=opts["weight_decay"])
    if method == "adagrad":
        return torch.optim.Adagrad([X], lr=lr, weight_decay=opts["weight_decay"])
    return torch.optim.SGD([X], lr=lr)


OPTS = {"momentum": 0.7, "beta1": 0.8, "beta2": 0.99, "weight_decay": 0.01, "alpha": 0.9}
CASES = [("gd", 1e-3), ("momentum", 1e-3), ("nesterov", 1e-3), ("adam", 1e-2), ("adamw", 1e-2),
         ("rmsprop", 1e-3), ("adagrad", 1e-1)]


@pytest.mark.parametrize(("method", "lr"), CASES)
@pytest.mark.parametrize("shared", [True, False])
def test_each_row_follows_torch_optim(method: str, lr: float, shared: bool) -> None:
    # Three rows, each with its own rate (or one shared float), against three torch.optim runs.
    starts = torch.tensor([[-1.0, 1.0], [0.5, -0.5], [1.2, 1.3]], dtype=torch.float64)
    rates = [lr, lr / 2, lr * 2] if not shared else [lr] * 3
    refs = [starts[i:i + 1].clone().requires_grad_(True) for i in range(3)]
    opts = [_torch_optimizer(method, refs[i], rates[i], OPTS) for i in range(3)]
    rule = RULES[method]
    X = starts.clone()
    state = rule.init(X)
    hyper = {k: v for k, v in OPTS.items()}
    rate: float | torch.Tensor = lr if shared else torch.tensor(rates, dtype=torch.float64).unsqueeze(1)
    for _ in range(60):
        for ref, opt in zip(refs, opts):
            (g,) = torch.autograd.grad(ROSEN(ref).sum(), ref)
            ref.grad = g
            opt.step()
        Xg = X.clone().requires_grad_(True)
        (G,) = torch.autograd.grad(ROSEN(Xg).sum(), Xg)
        X, state = rule.update(state, X, G, hyper, rate)
        expected = torch.cat([r.detach() for r in refs])
        assert torch.allclose(X, expected, rtol=1e-13, atol=1e-15, equal_nan=True), (method, (X - expected).abs().max())


def test_armijo_backtracks_per_row_and_refuses_to_climb() -> None:
    f = compile_objective("x**2")
    X = torch.tensor([[1.0], [1.0], [1.0]], dtype=torch.float64)
    G = 2 * X
    F = f(X)
    d = torch.tensor([[2.0], [2.0], [-2.0]], dtype=torch.float64)
    out = armijo(X, d, G, F, torch.tensor([0.25, 4.0, 1.0], dtype=torch.float64), torch.ones(3, dtype=torch.bool),
                 lambda Z: f(Z))
    # row 0 accepts t = 0.25 (x -> 0.5); row 1 halves 4 -> 2 -> 1 -> 0.5 (x -> 0); row 2's direction points
    # uphill: no trial decreases f, so it fails and does not move.
    assert out.X.flatten().tolist() == [0.5, 0.0, 1.0]
    assert out.t.tolist()[:2] == [0.25, 0.5]
    assert out.failed.tolist() == [False, False, True]
    assert out.evaluations.tolist() == [1, 4, 40]
