"""Shared fixtures: the tutorial's own loop, as a reference implementation."""

from __future__ import annotations

import pytest
import torch


def tutorial_loop(x0: float, lr: float = 0.1, eps: float = 1e-6, max_iter: int = 100) -> tuple[list[float], int]:
    """The loop of tutorial-2-tensor-gradients.txt, cell 8, verbatim but for x0.

    Returns every iterate (x after each update) and the number of updates.
    """
    x = torch.tensor([x0], requires_grad=True)
    xs = []
    n = 0
    for _ in range(max_iter):
        y = (x - 4) ** 2
        y.backward()
        with torch.no_grad():
            prev_x = x
            x = x - lr * x.grad
            n += 1
            xs.append(x.item())
            if torch.norm(prev_x - x) < eps:
                break
        x.requires_grad = True
    return xs, n


@pytest.fixture
def tutorial():
    return tutorial_loop
