"""gdsolve.api.symbolic: the symbolic gradient, exact constants, kinks, the Hessian, and the check against autograd."""

from __future__ import annotations

import math

import pytest
import sympy
from hypothesis import given
from hypothesis import strategies as st

from gdsolve import OptionError, gradient
from gdsolve.api.symbolic import MAX_HESSIAN_VARIABLES, Simplifier, compare, evaluate
from gdsolve.formula.grammar import FUNCTIONS
from gdsolve.formula.objective import compile_objective

X, Y = sympy.symbols("x y", real=True)

# Every function of the parser: a formula using it in x and y, the same formula built
# directly with sympy (the reference for sympy.diff), and a point strategy inside its domain.
# The argument u = 0.7*x + 0.2*y keeps both variables in play.
U = sympy.Rational(7, 10) * X + sympy.Rational(1, 5) * Y
inside = st.floats(-0.9, 0.9)  # |u| < 1 when |x|, |y| < 0.9 ... 0.81: asin, acos, atanh
positive = st.floats(0.3, 3.0)  # u > 0.27: log, sqrt; u > 1 below for acosh
wide = st.floats(-3.0, 3.0)
CASES = {
    "sin": ("sin(0.7*x + 0.2*y)", sympy.sin(U), wide),
    "cos": ("cos(0.7*x + 0.2*y)", sympy.cos(U), wide),
    "tan": ("tan(0.7*x + 0.2*y)", sympy.tan(U), inside),
    "asin": ("asin(0.7*x + 0.2*y)", sympy.asin(U), inside),
    "acos": ("acos(0.7*x + 0.2*y)", sympy.acos(U), inside),
    "atan": ("atan(0.7*x + 0.2*y)", sympy.atan(U), wide),
    "atan2": ("atan2(y, x)", sympy.atan2(Y, X), positive),
    "sinh": ("sinh(0.7*x + 0.2*y)", sympy.sinh(U), wide),
    "cosh": ("cosh(0.7*x + 0.2*y)", sympy.cosh(U), wide),
    "tanh": ("tanh(0.7*x + 0.2*y)", sympy.tanh(U), wide),
    "asinh": ("asinh(0.7*x + 0.2*y)", sympy.asinh(U), wide),
    "acosh": ("acosh(0.7*x + 0.2*y + 1.5)", sympy.acosh(U + sympy.Rational(3, 2)), positive),
    "atanh": ("atanh(0.7*x + 0.2*y)", sympy.atanh(U), inside),
    "exp": ("exp(0.7*x + 0.2*y)", sympy.exp(U), wide),
    "log": ("log(0.7*x + 0.2*y)", sympy.log(U), positive),
    "ln": ("ln(0.7*x + 0.2*y)", sympy.log(U), positive),
    "log2": ("log2(0.7*x + 0.2*y)", sympy.log(U) / sympy.log(2), positive),
    "log10": ("log10(0.7*x + 0.2*y)", sympy.log(U) / sympy.log(10), positive),
    "sqrt": ("sqrt(0.7*x + 0.2*y)", sympy.sqrt(U), positive),
    "abs": ("abs(0.7*x + 0.2*y)", sympy.Abs(U), positive),
    "sign": ("sign(0.7*x + 0.2*y)*x**2", sympy.sign(U) * X**2, positive),
    "erf": ("erf(0.7*x + 0.2*y)", sympy.erf(U), wide),
    "min": ("min(x, 2*y)", sympy.Min(X, 2 * Y), wide),
    "max": ("max(x, 2*y)", sympy.Max(X, 2 * Y), wide),
    # reductions of plain variables are their argument (norm: the absolute value)
    "sum": ("sum(sin(0.7*x + 0.2*y))", sympy.sin(U), wide),
    "mean": ("mean(exp(0.7*x + 0.2*y))", sympy.exp(U), wide),
    "prod": ("prod(cos(0.7*x + 0.2*y))", sympy.cos(U), wide),
    "norm": ("norm(0.7*x + 0.2*y)", sympy.Abs(U), positive),
    "dot": ("dot(x, sin(0.7*x + 0.2*y))", X * sympy.sin(U), wide),
    # the stable functions, against the formulas that define them (written out, as a user would without them)
    "log1p": ("log1p(0.7*x + 0.2*y)", sympy.log(1 + U), positive),
    "expm1": ("expm1(0.7*x + 0.2*y)", sympy.exp(U) - 1, wide),
    "erfc": ("erfc(0.7*x + 0.2*y)", sympy.erfc(U), wide),
    "sigmoid": ("sigmoid(0.7*x + 0.2*y)", 1 / (1 + sympy.exp(-U)), wide),
    "softplus": ("softplus(0.7*x + 0.2*y)", sympy.log(1 + sympy.exp(U)), wide),
    "logsigmoid": ("logsigmoid(0.7*x + 0.2*y)", -sympy.log(1 + sympy.exp(-U)), wide),
    "logsumexp": ("logsumexp(x, 2*y, 1)", sympy.log(sympy.exp(X) + sympy.exp(2 * Y) + sympy.E), wide),
    "xlogy": ("xlogy(x, 0.7*x + 0.2*y)", X * sympy.log(U), positive),
    "normcdf": ("normcdf(0.7*x + 0.2*y)", sympy.erfc(-U / sympy.sqrt(2)) / 2, wide),
    "lognormcdf": ("lognormcdf(0.7*x + 0.2*y)", sympy.log(sympy.erfc(-U / sympy.sqrt(2)) / 2), wide),
    "lgamma": ("lgamma(0.7*x + 0.2*y)", sympy.loggamma(U), positive),
    "digamma": ("digamma(0.7*x + 0.2*y)", sympy.polygamma(0, U), positive),
    "polygamma": ("polygamma(1, 0.7*x + 0.2*y)", sympy.polygamma(1, U), positive),
}


def test_every_parser_function_has_a_case():
    assert set(CASES) == set(FUNCTIONS)


def _finite_difference(text: str, point: dict[str, float], name: str, h: float = 1e-6) -> float:
    import torch

    obj = compile_objective(text)
    up, down = dict(point), dict(point)
    up[name] += h
    down[name] -= h
    row = lambda p: torch.tensor([[p[v] for v in obj.variables]], dtype=torch.float64)  # noqa: E731
    return (float(obj(row(up))) - float(obj(row(down)))) / (2 * h)


@pytest.mark.parametrize("name", sorted(CASES))
def test_gradient_agrees_with_autograd_finite_differences_and_sympy_diff(name):
    text, reference, domain = CASES[name]

    @given(x=domain, y=domain)
    def check(x, y):
        if name in ("min", "max") and abs(x - 2 * y) < 1e-3:
            return  # the kink itself: left to test_kinks_are_reported_not_differentiated
        doc = gradient(text, at={"x": x, "y": y})
        assert doc["agree"], doc
        point = {X: x, Y: y}
        for v, sym in (("x", X), ("y", Y)):
            want = evaluate(sympy.diff(reference, sym).replace(
                lambda e: isinstance(e, sympy.DiracDelta), lambda e: sympy.S.Zero), point)
            assert doc["symbolic"][v] == pytest.approx(want, rel=1e-12, abs=1e-12)
            assert doc["symbolic"][v] == pytest.approx(_finite_difference(text, {"x": x, "y": y}, v),
                                                       rel=1e-5, abs=1e-6)

    check()


@pytest.mark.parametrize("text, name, want", [
    ("sqrt(3)*x", "x", "sqrt(3)"),
    ("pi*x**2", "x", "2*pi*x"),
    ("0.1*x**2", "x", "x/5"),
    ("E*x + x/3", "x", "1/3 + E"),
    ("log2(x)", "x", "1/(x*log(2))"),
    ("2**0.5*x*y", "y", "sqrt(2)*x"),
    ("sin(1)*x", "x", "sin(1)"),
])
def test_exact_constants_survive(text, name, want):
    assert gradient(text)["gradient"][name] == want


def test_parameters_are_exact_too():
    assert gradient("a*x**2", params={"a": 0.25})["gradient"]["x"] == "x/2"


@pytest.mark.parametrize("text, function, where", [
    ("abs(x - 1)", "abs", "x - 1 = 0"),
    ("sign(x)*x**2 + y", "sign", "x = 0"),
    ("min(x, y)", "min", "x = y"),
    ("max(x, y, 1)", "max", "the greatest of 1, x, y is tied"),
])
def test_kinks_are_reported_not_differentiated(text, function, where):
    doc = gradient(text, hessian=True)
    assert [(k["function"], k["where"].split(" (")[0]) for k in doc["not_differentiable"]] == [(function, where)]
    printed = str(doc["gradient"]) + str(doc["hessian"])
    for bad in ("DiracDelta", "re(", "im(", "Derivative"):
        assert bad not in printed


def test_abs_differentiates_to_sign_with_real_variables():
    assert gradient("abs(x)")["gradient"]["x"] == "sign(x)"


@given(st.lists(st.integers(-9, 9), min_size=6, max_size=6), st.lists(st.integers(-9, 9), min_size=3, max_size=3))
def test_hessian_of_a_quadratic_form_is_its_matrix(upper, b):
    A = [[upper[0], upper[1], upper[2]], [upper[1], upper[3], upper[4]], [upper[2], upper[4], upper[5]]]
    names = ["x1", "x2", "x3"]
    terms = [f"({A[i][j]})*{names[i]}*{names[j]}/2" for i in range(3) for j in range(3)]
    terms += [f"({b[i]} + 10)*{names[i]}" for i in range(3)]  # linear: every variable present, Hessian unchanged
    doc = gradient(" + ".join(terms), hessian=True, variables=names)
    assert doc["hessian"] == [[str(v) for v in row] for row in A]


def test_hessian_is_refused_above_its_size_with_the_limit_named():
    text = " + ".join(f"x{i}**2" for i in range(MAX_HESSIAN_VARIABLES + 1))
    with pytest.raises(OptionError, match=f"limited to {MAX_HESSIAN_VARIABLES} variables.*has 11"):
        gradient(text, hessian=True)
    assert len(gradient(text)["gradient"]) == 11  # the gradient itself has no such limit


def test_json_fields_at_a_point():
    doc = gradient("(x-4)**2 + y", at={"x": 0.2121, "y": 1})
    assert set(doc) >= {"expression", "variables", "gradient", "gradient_latex", "at", "f", "autograd", "symbolic",
                        "max_abs_diff", "max_rel_diff", "agree", "not_compared", "in_domain", "tolerance", "formula",
                        "not_differentiable", "simplified"}
    assert doc["autograd"]["x"] == pytest.approx(-7.5758) and doc["gradient_latex"]["x"] == "2 x - 8"
    assert doc["f"] == pytest.approx(15.34818641)


def test_compare_flags_a_disagreement_beyond_tolerance():
    assert compare([1.0], [1.0 + 1e-3])[2] is False
    assert compare([1.0], [1.0 + 1e-8])[2] is True
    assert compare([math.nan], [math.nan])[2] is None  # no number on either route: nothing to agree on
    assert compare([math.inf, 1.0], [math.nan, 1.0])[2] is None  # an infinite derivative is never "agree"
    assert compare([math.inf, 1.0], [math.nan, 2.0])[2] is False  # a real difference still disagrees
    assert compare([math.inf], [1.0]) == (math.inf, math.inf, False)


def test_a_point_outside_the_domain_is_a_result_not_a_crash():
    doc = gradient("log(x)", at=-1)
    assert math.isnan(doc["f"]) and doc["symbolic"]["x"] == -1.0 and doc["in_domain"] is False


def test_outside_the_domain_only_variables_both_routes_give_are_compared():
    # f = log(atan(x/E)**sin(y)) is not real for x < 0; sympy's d/dx is still real there, autograd's is nan.
    doc = gradient("log(atan2(x, E)^sin(y)) + y", at={"x": -0.03, "y": 1.4})
    assert doc["in_domain"] is False and math.isnan(doc["autograd"]["x"]) and math.isfinite(doc["symbolic"]["x"])
    assert doc["agree"] is None and set(doc["not_compared"]) == {"x", "y"}  # nothing compared, nothing claimed


def test_outside_the_domain_variables_both_routes_give_still_agree():
    doc = gradient("log(x) + y", at={"x": -1, "y": 1})  # f is nan, but d/dx = 1/x = -1 on both routes
    assert doc["in_domain"] is False and doc["agree"] is True and doc["not_compared"] == {}


def test_an_infinite_derivative_is_not_called_agreement():
    doc = gradient("sqrt(x) + y", at={"x": 0, "y": 2})  # f = 2; d/dx sqrt(x) = 1/(2 sqrt(x)) is infinite at 0
    assert doc["in_domain"] is True and math.isinf(doc["autograd"]["x"])
    assert doc["agree"] is None and doc["not_compared"] == {"x": "the derivative ∂f/∂x is infinite at x = 0, y = 2"}


def test_a_kink_inside_the_domain_is_flagged():
    doc = gradient("x**x + y", at={"x": 0, "y": 1})  # f = 1 there, but d/dx x**x = x**x*(log(x) + 1) is not
    assert doc["in_domain"] is True and doc["agree"] is False


def test_lost_digits_are_not_passed_off_as_a_value():
    # (1 - tanh(log(y))**2)/y at a tiny y: plain evalf gave "0.e+143" (about 1e143); the value is 6.3e-306.
    doc = gradient("tanh(ln(y)) + x", at={"x": 0, "y": 1.5860756192533166e-306})
    assert doc["symbolic"]["y"] == pytest.approx(6.344302477013266e-306) and doc["agree"] is True


def test_a_wrong_point_names_the_at_option():
    with pytest.raises(OptionError, match="at is missing y"):
        gradient("x*y", at={"x": 1})


def test_simplifying_stops_at_its_budget():
    simplify = Simplifier(0.0)
    expr = sympy.diff((X + 1) ** 5 * sympy.sin(X), X)
    assert simplify(expr) == expr and simplify.complete is False
    assert gradient("(x+1)**999*(x-1)**500", simplify_seconds=0.2)["gradient"]["x"]  # returns, budget or not


def test_a_callers_own_alarm_is_left_alone():
    import signal

    rang = []
    old = signal.signal(signal.SIGALRM, lambda *a: rang.append(1))
    signal.setitimer(signal.ITIMER_REAL, 5.0)
    try:
        gradient("(x+1)**5*sin(x)")
        assert signal.getitimer(signal.ITIMER_REAL)[0] > 0  # still armed, not cancelled by gradient()
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def _formulas() -> st.SearchStrategy[str]:
    """Random formulas over the whole grammar: every function, every operator, constants and two variables."""
    leaf = st.sampled_from(["x", "y", "2", "0.5", "pi", "E", "3.25", "1e-3"])
    unary = [name for name, spec in FUNCTIONS.items() if spec.arity[0] == 1]
    binary = [name for name, spec in FUNCTIONS.items() if spec.arity[1] != 1]

    def extend(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
        return st.one_of(
            st.builds(lambda f, a: f"{f}({a})", st.sampled_from(unary), inner),
            st.builds(lambda f, a, b: f"{f}({a}, {b})", st.sampled_from(binary), inner, inner),
            st.builds(lambda a, op, b: f"({a}){op}({b})", inner, st.sampled_from(["+", "-", "*", "/", "**", "^"]),
                      inner),
            st.builds(lambda a: f"-({a})", inner),
        )

    return st.recursive(leaf, extend, max_leaves=8).map(lambda s: f"{s} + x/7 + y/11")  # both variables present


@given(_formulas(), st.floats(-3, 3), st.floats(-3, 3))
def test_any_formula_the_parser_accepts_gets_a_gradient_or_gdsolves_own_error(text, x, y):
    from gdsolve import GdsolveError

    try:
        doc = gradient(text, at={"x": x, "y": y}, simplify_seconds=0.5)
    except GdsolveError:
        return  # refused by the parser (an overflowing constant, a bad log base...), with its own message
    assert set(doc["gradient"]) == {"x", "y"} and doc["agree"] in (True, False, None)
    assert (doc["agree"] is None) == bool(doc["not_compared"]) or doc["agree"] is False
    assert "DiracDelta" not in str(doc["gradient"])
    if not math.isfinite(doc["f"]):
        assert doc["in_domain"] is False


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")  # the swallowed ring, by design
def test_the_budget_holds_when_its_first_ring_is_swallowed():
    # The budget's alarm rings (an exception raised wherever Python is); a ring that lands in a
    # garbage-collector callback is printed and swallowed by Python. The alarm rings again, so
    # simplify still stops at its budget. Here the first ring lands in a callback that swallows it.
    import gc
    import signal
    import time

    swallowed = []

    def callback(phase, info):
        # the first collection while the budget's alarm is armed: wait there for the ring
        if phase == "start" and not swallowed and signal.getitimer(signal.ITIMER_REAL)[0] > 0:
            try:
                time.sleep(30)  # the first ring lands here
            except Exception as ring:
                swallowed.append(ring)

    # sympy's simplify of this takes tens of seconds: only the budget ends it
    expr = sympy.diff((X + 1) ** 999 * (X - 1) ** 500, X)
    simplify = Simplifier(0.3)
    gc.callbacks.append(callback)
    try:
        out = simplify(expr)
    finally:
        gc.callbacks.remove(callback)
    assert len(swallowed) == 1  # the first ring was swallowed in the callback...
    assert out == expr and simplify.complete is False  # ...and a later one stopped simplify
    assert signal.getsignal(signal.SIGALRM) in (signal.SIG_DFL, None) and signal.getitimer(signal.ITIMER_REAL)[0] == 0


@pytest.mark.parametrize("text, want", [
    ("softplus(x)", "sigmoid(x)"),
    ("logsigmoid(x)", "sigmoid(-x)"),
    ("sigmoid(x)", "(1 - sigmoid(x))*sigmoid(x)"),
    ("lognormcdf(x)", "sqrt(2)*exp(-x**2/2 - lognormcdf(x))/(2*sqrt(pi))"),
    ("normcdf(x)", "sqrt(2)*exp(-x**2/2)/(2*sqrt(pi))"),
    ("lgamma(x)", "digamma(x)"),
    ("digamma(x)", "polygamma(1, x)"),
    ("log1p(x)", "1/(x + 1)"),
    ("expm1(x)", "exp(x)"),
    ("logsumexp(x, 0)", "exp(x - logsumexp(x, 0))"),
    ("xlogy(2, x)", "2/x"),
    ("logsumexp(x**2)", "2*x"),
])
def test_stable_derivatives_are_formulas_the_user_can_type_back(text, want):
    doc = gradient(text, at={"x": 0.75})
    assert doc["gradient"]["x"] == want and doc["agree"] is True
    # typed back into gdsolve, the derivative is the same number autograd gives
    import torch

    back = compile_objective(f"{want} + 0*x")(torch.tensor([[0.75]], dtype=torch.float64)).item()
    assert back == pytest.approx(doc["autograd"]["x"], rel=1e-12)


@pytest.mark.parametrize("text, at, f, grad", [
    ("softplus(x)", 800.0, 800.0, 1.0),
    ("softplus(x)", -800.0, 0.0, 0.0),
    ("logsigmoid(x)", -800.0, -800.0, 1.0),
    ("lognormcdf(x)", -40.0, -804.60844201375379, 40.024968847207264),  # mpmath, 40 digits
    ("lgamma(x)", 1e-300, 690.77552789821368, -1e300),
])
def test_stable_gradients_agree_at_extreme_arguments(text, at, f, grad):
    doc = gradient(text, at={"x": at})
    assert doc["agree"] is True and doc["f"] == pytest.approx(f, rel=1e-14, abs=1e-300)
    assert doc["autograd"]["x"] == pytest.approx(grad, rel=1e-12, abs=1e-300)  # torch's log_ndtr: 1.3e-13 off
    assert doc["symbolic"]["x"] == pytest.approx(grad, rel=1e-15, abs=1e-300)


def test_lognormcdf_derivative_typed_back_is_finite_where_phi_over_phi_written_out_is_not():
    import torch

    derivative = gradient("lognormcdf(x)")["gradient"]["x"]
    X = torch.tensor([[-40.0]], dtype=torch.float64)
    assert compile_objective(f"{derivative} + 0*x")(X).item() == pytest.approx(40.024968847207264, rel=1e-12)
    assert math.isnan(compile_objective("exp(-x**2/2)/sqrt(2*pi)/normcdf(x)")(X).item())


@pytest.mark.parametrize("text, at, want", [
    ("lgamma(x)", 1e300, 690.77552789821368),  # sympy's loggamma would expand 10**300 factorial
    ("digamma(x)", 1e6, 1.0000005000001667e-06),  # sympy's polygamma(1, 10**6) would sum a harmonic number exactly
    ("polygamma(2, x)", 1e6, 2.000003000002e-18),
    ("erfc(x)", -1e300, 0.0),  # mpmath's erfc fails past |x| = 1e154; the asymptotic form takes over
    ("normcdf(x)", -1e200, 0.0),
])
def test_stable_functions_at_huge_arguments_are_evaluated_at_once(text, at, want):
    doc = gradient(text, at={"x": at})  # mpmath's asymptotic forms: no timeout needed here
    assert doc["agree"] is True and doc["symbolic"]["x"] == pytest.approx(want, rel=1e-12)
