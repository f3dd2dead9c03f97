"""Compiled objectives: values and autograd gradients match sympy exactly."""

from __future__ import annotations

import math

import pytest
import sympy
import torch

from gdsolve.formula.objective import compile_objective

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


# --- property: random formulas from the accepted grammar evaluate and differentiate as sympy does ------------
#
# Tolerance: |torch - sympy| <= 1e-8 * (1 + |sympy|) for values (1e-7 for gradients), with sympy evaluated
# to 30 digits. Points where any sub-expression is not a finite real (outside a domain: log of a negative, a
# pole, a complex intermediate) or very large (> 1e8, where float64 rounding dominates) are skipped, and so
# are coordinates below 1e-100 in size (their squares underflow float64, and a signed zero picks a side of
# atan2's branch cut) and derivatives at kinks.

from hypothesis import HealthCheck, assume, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

UNARY = ["sin", "cos", "tan", "exp", "log", "sqrt", "abs", "atan", "sinh", "cosh", "tanh", "erf", "asinh", "sign"]
BINARY_FUNCS = ["atan2", "min", "max"]
LEAVES = st.sampled_from(["x", "y", "z", "2", "3", "0.5", "1.25", "pi", "E", "10"])


def formulas(max_leaves: int = 12) -> st.SearchStrategy[str]:
    def extend(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
        return st.one_of(
            st.tuples(inner, st.sampled_from(["+", "-", "*", "/"]), inner).map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
            st.tuples(inner, st.sampled_from(["2", "3", "0.5", "-1", "y"])).map(lambda t: f"({t[0]})**{t[1]}"),
            st.tuples(inner, st.just("^2")).map(lambda t: f"({t[0]}){t[1]}"),
            inner.map(lambda a: f"-({a})"),
            st.tuples(st.sampled_from(UNARY), inner).map(lambda t: f"{t[0]}({t[1]})"),
            st.tuples(st.sampled_from(BINARY_FUNCS), inner, inner).map(lambda t: f"{t[0]}({t[1]}, {t[2]})"),
        )

    return st.recursive(LEAVES, extend, max_leaves=max_leaves)


def _sympy_value(expr: sympy.Expr, subs: dict) -> float | None:
    """sympy's value at ``subs``; None outside the real domain (any sub-expression not a finite real)."""
    for sub in sympy.preorder_traversal(expr):
        try:
            v = complex(sub.evalf(30, subs=subs))
        except (TypeError, ValueError, ZeroDivisionError, OverflowError):
            return None
        if v.imag != 0 or not math.isfinite(v.real) or abs(v.real) > 1e8:
            return None  # e.g. cos(sqrt(y)) at y = -1 is real only through a complex sqrt
    return complex(expr.evalf(30, subs=subs)).real


@settings(suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(text=formulas(), point=st.lists(st.floats(-2, 2).filter(lambda v: abs(v) > 1e-100), min_size=3, max_size=3))
def test_random_formulas_match_sympy_value_and_derivative(text, point):
    from gdsolve.core.errors import ExpressionError

    try:
        obj = compile_objective(text)
    except ExpressionError:
        assume(False)  # a constant formula, or a constant part out of range: refused, which is right
    syms = [sympy.Symbol(s.name, real=True) for s in obj.parsed.symbols]
    expr = obj.parsed.expr.xreplace(dict(zip(obj.parsed.symbols, syms)))
    values = dict(zip(("x", "y", "z"), point))
    subs = {s: sympy.Float(values[s.name], 30) for s in syms}
    want = _sympy_value(expr, subs)
    assume(want is not None)
    X = torch.tensor([[values[s.name] for s in syms]], dtype=torch.float64, requires_grad=True)
    F = obj(X)
    assert abs(F.item() - want) <= 1e-8 * (1 + abs(want)), (text, values, F.item(), want)
    (G,) = torch.autograd.grad(F.sum(), X)
    for i, s in enumerate(syms):
        d = expr.diff(s)
        if d.has(sympy.DiracDelta, sympy.Heaviside, sympy.Derivative, sympy.Subs):
            continue  # a kink (abs, sign, min, max): no derivative to compare here
        want_g = _sympy_value(d, subs)
        if want_g is None:
            continue
        assert abs(G[0, i].item() - want_g) <= 1e-7 * (1 + abs(want_g)), (text, s, values, G[0, i].item(), want_g)


def test_the_users_sign_goes_in_and_comes_out_in_one_place():
    up = compile_objective("3 - (x-1)**2", maximize=True)
    assert up.sense == "maximize" and compile_objective("x**2").sense == "minimize"
    value = float(up(torch.tensor([[0.0]], dtype=torch.float64))[0])  # the engine minimizes -f
    assert value == -2.0 and up.reported(value) == 2.0
    assert up.minimized(2.5) == -2.5 and up.reported_grad([-2.0, 0.5]) == [2.0, -0.5]


# The stable functions at the extremes where the formulas they replace overflow or lose every digit:
# (formula, point, value, gradient, the torch kernel's backward node that must be in the graph).
STABLE_EXTREMES = [
    ("softplus(x)", [800.0], 800.0, [1.0], "LogaddexpBackward0"),
    ("softplus(x)", [-800.0], 0.0, [0.0], "LogaddexpBackward0"),
    ("softplus(x)", [30.0], 30.0 + math.exp(-30.0), [1 / (1 + math.exp(-30.0))], "LogaddexpBackward0"),
    ("logsigmoid(x)", [-800.0], -800.0, [1.0], "LogSigmoidBackward0"),
    ("logsigmoid(x)", [800.0], 0.0, [0.0], "LogSigmoidBackward0"),
    ("sigmoid(x)", [800.0], 1.0, [0.0], "SigmoidBackward0"),
    ("sigmoid(x)", [-800.0], 0.0, [0.0], "SigmoidBackward0"),
    # log(Phi(-40)) and its derivative phi/Phi, from mpmath at 40 digits (torch's backward: 1.3e-13 off)
    ("lognormcdf(x)", [-40.0], -804.60844201375379, [40.024968847207264], "SpecialLogNdtrBackward0"),
    ("normcdf(x)", [-40.0], 0.0, [0.0], "ErfcBackward0"),
    ("normcdf(x)", [-10.0], 7.6198530241605260e-24, [7.6945986267064194e-23], "ErfcBackward0"),
    ("normcdf(x)", [1.0], 0.8413447460685429, [0.24197072451914337], "ErfcBackward0"),
    ("log1p(x)", [1e-20], 1e-20, [1.0], "Log1PBackward0"),
    ("expm1(x)", [1e-20], 1e-20, [1.0], "Expm1Backward0"),
    ("erfc(x)", [10.0], 2.0884875837625447570e-45, [-4.1976562313542170e-44], "ErfcBackward0"),
    ("lgamma(x)", [1e-300], 690.77552789821368, [-1e300], "LgammaBackward0"),
    ("lgamma(x)", [-0.5], math.lgamma(-0.5), [0.03648997397857652], "LgammaBackward0"),
    ("digamma(x)", [0.5], -1.9635100260214235, [math.pi**2 / 2], "DigammaBackward0"),
    ("polygamma(1, x)", [0.5], math.pi**2 / 2, [-16.828796644234319], "PolygammaBackward0"),
    ("logsumexp(x, y)", [1000.0, 1000.0], 1000.0 + math.log(2), [0.5, 0.5], "LogaddexpBackward0"),
    ("xlogy(x, y)", [0.0, 0.0], 0.0, [0.0, 0.0], "XlogyBackward0"),
    ("xlogy(x, y)", [0.0, 0.5], 0.0, [math.log(0.5), 0.0], "XlogyBackward0"),
    ("xlogy(x, y)", [2.0, 0.5], 2 * math.log(0.5), [math.log(0.5), 4.0], "XlogyBackward0"),
]


def _nodes(fn) -> set[str]:
    seen, todo = set(), [fn]
    while todo:
        node = todo.pop()
        if node is None or node.name() in seen:
            continue
        seen.add(node.name())
        todo.extend(n for n, _ in node.next_functions)
    return seen


@pytest.mark.parametrize("text, point, value, grad, kernel", STABLE_EXTREMES)
def test_stable_functions_are_their_torch_kernels_in_value_and_gradient(text, point, value, grad, kernel):
    obj = compile_objective(text)
    X = torch.tensor([point], dtype=torch.float64, requires_grad=True)
    F = obj(X)
    (G,) = torch.autograd.grad(F.sum(), X)
    # torch's trigamma (digamma's derivative, polygamma(1, .)) is good to about 1e-10, not to the last digit
    rel = 1e-9 if "gamma(" in text and "lgamma" not in text else 1e-14
    assert F.item() == pytest.approx(value, rel=rel, abs=1e-300)
    assert G[0].tolist() == pytest.approx(grad, rel=max(rel, 1e-12), abs=1e-300)
    assert kernel in _nodes(F.grad_fn), _nodes(F.grad_fn)  # the kernel itself, not a formula written out


def test_the_formulas_the_stable_functions_replace_do_overflow():
    # the claim the README makes for softplus, lognormcdf and log1p: written out, they fail where the functions do not
    for text, point in [("log(1 + exp(x))", 800.0), ("log(normcdf(x))", -40.0)]:
        X = torch.tensor([[point]], dtype=torch.float64, requires_grad=True)
        F = compile_objective(text)(X)
        (G,) = torch.autograd.grad(F.sum(), X)
        assert not (math.isfinite(F.item()) and math.isfinite(G.item()))
    assert compile_objective("log(1 + x)")(torch.tensor([[1e-20]], dtype=torch.float64)).item() == 0.0
    # why normcdf is erfc(-x/sqrt(2))/2 and not torch.special.ndtr: ndtr's lower tail cancels to 0
    assert torch.special.ndtr(torch.tensor(-10.0, dtype=torch.float64)).item() < 1e-30


def test_logsumexp_of_one_shaped_variable_is_a_reduction():
    obj = compile_objective("logsumexp(w) - w1", shapes={"w": 3}, variables=["w", "w1"])
    X = torch.tensor([[1000.0, 1000.0, 1000.0, 0.5]], dtype=torch.float64, requires_grad=True)
    F = obj(X)
    (G,) = torch.autograd.grad(F.sum(), X)
    assert F.item() == pytest.approx(1000.0 + math.log(3) - 0.5, rel=1e-15)
    assert G[0].tolist() == pytest.approx([1 / 3, 1 / 3, 1 / 3, -1.0], rel=1e-14)


def test_logsumexp_of_a_data_column_and_xlogy_of_zero_counts():
    # a Poisson log-likelihood with a zero count: xlogy(0, mu) is 0, with a finite gradient
    obj = compile_objective("sum(exp(a + b*x) - xlogy(y, exp(a + b*x))) + logsumexp(y)",
                            data={"x": [0.0, 1.0, 2.0], "y": [0.0, 1.0, 3.0]})
    X = torch.tensor([[0.1, 0.2]], dtype=torch.float64, requires_grad=True)
    F = obj(X)
    (G,) = torch.autograd.grad(F.sum(), X)
    mu = [math.exp(0.1 + 0.2 * x) for x in (0.0, 1.0, 2.0)]
    want = sum(m - y * math.log(m) for m, y in zip(mu, (0.0, 1.0, 3.0))) + math.log(1 + math.e + math.e**3)
    assert F.item() == pytest.approx(want, rel=1e-14)
    assert G[0].tolist() == pytest.approx([sum(mu) - 4.0, sum(m * x for m, x in zip(mu, (0, 1, 2))) - 7.0],
                                          rel=1e-13)
