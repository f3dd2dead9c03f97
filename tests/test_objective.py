"""Compiled objectives: values and autograd gradients match sympy exactly."""

from __future__ import annotations

import math

import pytest
import sympy
import torch

from gdsolve.objective import compile_objective

EXPRESSIONS = [
    "(1-x)**2 + 100*(y-x^2)**2",
    "sin(x)*cos(y) + exp(-x**2/2) + tanh(x*y)",
    "log(1 + x**2 + y**2) + sqrt(1 + x**2) + atan(y)",
    "x**2 + 3*x*y + abs(y - 0.3) + 2**x",
    "(x**2 + y - 11)**2 + (x + y**2 - 7)**2",
    "sinh(x/3) + cosh(y/3) + atan2(y, 2 + x**2) + log(2 + x**2, 10)",
    "max(x, y) + min(x, -y, 0.5) + asin(x/5) + acos(y/5) + tan(x/4)",
    "E**x + pi*y**2 - exp(-1)*x",
]


@pytest.mark.parametrize("text", EXPRESSIONS)
def test_autograd_matches_sympy_diff(text):
    obj = compile_objective(text)
    # Real symbols, so that sympy differentiates abs() as sign() and not via re/im.
    syms = [sympy.Symbol(s.name, real=True) for s in obj.parsed.symbols]
    expr = obj.parsed.expr.xreplace(dict(zip(obj.parsed.symbols, syms)))
    f = sympy.lambdify(syms, expr, "math")
    grads = [sympy.lambdify(syms, sympy.diff(expr, s), ["math", {"sign": lambda v: math.copysign(1.0, v)}]) for s in syms]
    gen = torch.Generator().manual_seed(1)
    pts = torch.rand(20, len(syms), generator=gen, dtype=torch.float64) * 3 - 1.5
    X = pts.clone().requires_grad_(True)
    F = obj(X)
    (G,) = torch.autograd.grad(F.sum(), X)
    for i, row in enumerate(pts.tolist()):
        assert math.isclose(F[i].item(), f(*row), rel_tol=1e-12, abs_tol=1e-12)
        for j, g in enumerate(grads):
            want = float(g(*row))
            assert math.isclose(G[i, j].item(), want, rel_tol=1e-9, abs_tol=1e-9), (text, row, j)


def test_batch_shape_and_maximize_sign():
    obj = compile_objective("x**2 + y", maximize=True)
    out = obj(torch.tensor([[1.0, 2.0], [3.0, 4.0]], dtype=torch.float64))
    assert out.shape == (2,)
    assert out.tolist() == [-3.0, -13.0]
    assert obj.reported(out[0].item()) == 3.0


def test_variable_names_cannot_shadow_generated_code():
    # "torch", "math" and "builtins" are ordinary variable names to the user.
    obj = compile_objective("torch**2 + math + builtins*2")
    assert obj.variables == ("builtins", "math", "torch")
    assert obj(torch.tensor([[1.0, 2.0, 3.0]], dtype=torch.float64)).item() == 13.0


def test_float32_dtype_flows_through_constants():
    obj = compile_objective("sqrt(2)*x + min(x, 1) + atan2(1, x)")
    out = obj(torch.tensor([[0.5]], dtype=torch.float32))
    assert out.dtype == torch.float32
    assert math.isclose(out.item(), math.sqrt(2) * 0.5 + 0.5 + math.atan2(1, 0.5), rel_tol=1e-6)
