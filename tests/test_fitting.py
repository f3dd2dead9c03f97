"""gdsolve.fit: models, statistics and reports against closed forms and NIST's certified values."""

from __future__ import annotations

import importlib.util
import math
import sys
from pathlib import Path

import pytest
import torch

from gdsolve import ExpressionError, OptionError, fit
from gdsolve.formula.data import DataError, table_from_mapping
from gdsolve.formula.model import parse_model, split_model

ROOT = Path(__file__).resolve().parents[1]
LINE = {"x": [0.0, 1.0, 2.0, 3.0, 4.0, 5.0], "y": [1.1, 2.9, 5.2, 6.8, 9.1, 10.9]}


def nist():
    """The benchmark's loader of NIST's files (a dataclass module must be in sys.modules to load)."""
    if "nist_strd" not in sys.modules:
        spec = importlib.util.spec_from_file_location("nist_strd", ROOT / "benchmarks" / "nist_strd.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules["nist_strd"] = module
        spec.loader.exec_module(module)
    return sys.modules["nist_strd"]


def test_a_linear_fit_gives_the_closed_form_ols_answer_and_standard_errors():
    r = fit("y ~ a*x + b", LINE)
    X = torch.tensor([[x, 1.0] for x in LINE["x"]], dtype=torch.float64)
    y = torch.tensor(LINE["y"], dtype=torch.float64)
    beta = torch.linalg.solve(X.T @ X, X.T @ y)
    res = y - X @ beta
    s2 = float(res @ res) / (len(y) - 2)
    se = (torch.linalg.inv(X.T @ X).diagonal() * s2).sqrt()
    assert [r.params["a"], r.params["b"]] == pytest.approx(beta.tolist(), rel=1e-12)
    assert [r.stderr["a"], r.stderr["b"]] == pytest.approx(se.tolist(), rel=1e-9)
    assert r.rss == pytest.approx(float(res @ res), rel=1e-9) and r.dof == 4 and r.n == 6
    assert r.residual_std == pytest.approx(math.sqrt(s2), rel=1e-9)
    tss = float(((y - y.mean()) ** 2).sum())
    assert r.r2 == pytest.approx(1 - float(res @ res) / tss, rel=1e-12)
    assert r.aic == pytest.approx(6 * math.log(float(res @ res) / 6) + 4, rel=1e-9)
    assert r.bic == pytest.approx(6 * math.log(float(res @ res) / 6) + math.log(6) * 2, rel=1e-9)
    cov = torch.linalg.inv(X.T @ X) * s2
    assert r.correlation["a"]["b"] == pytest.approx(float(cov[0, 1] / (se[0] * se[1])), rel=1e-9)
    assert r.success and r.x == r.params


def test_sigma_weights_the_residuals_and_absolute_sigma_keeps_the_scale():
    data = {**LINE, "err": [0.1, 0.1, 0.2, 0.2, 0.5, 0.5]}
    w = torch.tensor(data["err"], dtype=torch.float64)
    X = torch.tensor([[x, 1.0] for x in LINE["x"]], dtype=torch.float64) / w.unsqueeze(1)
    y = torch.tensor(LINE["y"], dtype=torch.float64) / w
    beta = torch.linalg.solve(X.T @ X, X.T @ y)
    cov = torch.linalg.inv(X.T @ X)
    chi2 = float(((y - X @ beta) ** 2).sum())
    rel = fit("y ~ a*x + b", data, sigma="err")
    ab = fit("y ~ a*x + b", data, sigma="err", absolute_sigma=True)
    assert rel.params["a"] == pytest.approx(float(beta[0]), rel=1e-10)
    assert ab.stderr["a"] == pytest.approx(math.sqrt(float(cov[0, 0])), rel=1e-9)
    assert rel.stderr["a"] == pytest.approx(math.sqrt(float(cov[0, 0]) * chi2 / 4), rel=1e-9)
    with pytest.raises(OptionError, match="sigma"):
        fit("y ~ a*x + b", LINE, absolute_sigma=True)
    with pytest.raises(DataError, match="positive"):
        fit("y ~ a*x + b", {**LINE, "err": [1, 1, 0, 1, 1, 1]}, sigma="err")


def test_a_robust_loss_down_weights_an_outlier():
    x = [float(i) for i in range(12)]
    y = [2 * v + 1 for v in x]
    y[6] += 40  # one wild point
    plain = fit("y ~ a*x + b", {"x": x, "y": y})
    robust = fit("y ~ a*x + b", {"x": x, "y": y}, loss="soft_l1")
    assert abs(plain.params["b"] - 1) > 1
    assert robust.params["a"] == pytest.approx(2, abs=0.05) and robust.params["b"] == pytest.approx(1, abs=0.3)
    assert robust.loss == "soft_l1" and robust.cost < plain.cost


def test_a_singular_fit_reports_null_standard_errors_with_the_reason():
    r = fit("y ~ a*b*x + c", LINE)  # only the product a*b is determined
    assert r.stderr == {"a": None, "b": None, "c": None} and r.correlation is None
    assert "singular" in r.stderr_reason and "a, b" in r.stderr_reason
    doc = r.to_dict()
    assert doc["stderr"]["a"] is None and doc["stderr_percent"]["a"] is None
    exact = fit("y ~ a*x + b", {"x": [0, 1], "y": [1, 3]})
    assert exact.stderr["a"] is None and "no degrees of freedom" in exact.stderr_reason


@pytest.mark.parametrize(("name", "start"), [("Misra1a", 0), ("MGH10", 0), ("BoxBOD", 0), ("Eckerle4", 0)])
def test_nist_certified_values_from_the_hard_starts(name, start):
    mod = nist()
    problem = mod.load(name)
    r = fit(problem.model, problem.columns, p0=problem.starts[start])
    for k, certified in problem.certified.items():
        assert mod.lre(r.params[k], certified) >= 6, (k, r.params[k], certified)
        assert mod.lre(r.stderr[k], problem.certified_sd[k]) >= 4
    assert r.success


def test_the_response_can_be_a_formula_of_columns():
    mod = nist()
    problem = mod.load("Nelson")
    r = fit(problem.model, problem.columns, p0=problem.starts[1])
    assert r.response == "log(y)" and r.columns == ("x1", "x2")
    assert min(mod.lre(r.params[k], v) for k, v in problem.certified.items()) >= 6


def test_many_starts_keep_the_best_and_other_methods_run():
    r = fit("y ~ a*exp(b*x)", {"x": [0, 1, 2, 3], "y": [1.0, 2.7, 7.4, 20.1]}, starts=8, seed=1)
    assert r.starts == 8 and r.params["b"] == pytest.approx(1, abs=0.01)
    g = fit("y ~ a*x + b", LINE, method="adam", lr=0.1, max_iter=3000)
    assert g.method == "adam" and g.params["a"] == pytest.approx(1.96, abs=0.05)


def test_parameters_default_to_one_and_p0_errors_name_the_parameters():
    r = fit("y ~ a*x + b", LINE, max_iter=1)
    assert r.p0 == {"a": 1.0, "b": 1.0} and r.status.value == "max_iter"
    with pytest.raises(OptionError, match="not a parameter of the model; the parameters are: a, b"):
        fit("y ~ a*x + b", LINE, p0={"c": 1})
    with pytest.raises(OptionError, match="outside"):
        fit("y ~ a*x + b", LINE, p0={"a": 5}, bounds={"a": (0, 1)})
    with pytest.raises(OptionError, match="lr"):
        fit("y ~ a*x + b", LINE, lr=0.1)
    with pytest.raises(OptionError, match="unknown"):
        fit("y ~ a*x + b", LINE, method="newton")


@pytest.mark.parametrize(("model", "words"), [
    ("a*x + b", "has no '~'"),
    ("y ~ a ~ b", "exactly one"),
    ("y ~ ", "right side"),
    ("z ~ a*x", "z, which is not a data column"),
    ("y ~ 2*x", "has no parameters"),
    ("3 ~ a*x", "uses no data column"),
    ("y ~ __import__('os')", "not allowed"),
])
def test_malformed_models_are_refused(model, words):
    with pytest.raises(ExpressionError, match=words):
        fit(model, LINE)


def test_parse_model_splits_data_from_parameters():
    m = parse_model("log(y) ~ a*x + b", table_from_mapping(LINE))
    assert m.parameters == ("a", "b") and m.columns == ("x",)
    assert split_model(" y ~ a ") == ("y", "a")


def test_nonfinite_residuals_at_the_start_diverge_with_the_row_named():
    r = fit("y ~ a*log(x)", LINE)  # log(0) at the first row
    assert r.status.value == "diverged" and "data row 1" in r.message


def test_residuals_file(tmp_path):
    r = fit("y ~ a*x + b", LINE)
    path = tmp_path / "res.csv"
    r.write_residuals(path)
    lines = path.read_text().splitlines()
    assert lines[0] == "x,y,fitted,residual" and len(lines) == 7
    _x, y, fitted, res = map(float, lines[1].split(","))
    assert fitted == pytest.approx(r.params["b"]) and res == pytest.approx(y - fitted)


def test_columns_named_like_functions_or_modules_are_just_data():
    r = fit("log(log) ~ a*exp + b", {"exp": [0, 1, 2, 3], "log": [1, 2, 4, 8.5]})
    assert r.success and r.columns == ("exp",) and r.response == "log(log)"
    r = fit("torch ~ a*pi + E", {"pi": [0, 1, 2, 3], "torch": [1, 2, 4, 8.5]})  # pi is a column; E is e
    assert r.parameters == ("a",) and r.success


def test_an_interrupted_fit_returns_its_best_point_and_says_so():
    def stop(state):
        raise KeyboardInterrupt

    r = fit("y ~ a*x + b", LINE, callback=stop)
    assert r.status.value == "interrupted" and r.nit == 1
    assert r.message == "interrupted after 1 steps; params are the best point reached (the lowest cost)"


def test_a_parsed_model_is_fitted_as_it_is_and_its_data_is_not_given_twice():
    model = parse_model("y ~ a*x + b", table_from_mapping(LINE))
    assert fit(model).params == pytest.approx(fit("y ~ a*x + b", LINE).params)
    with pytest.raises(OptionError, match="carries its own data"):
        fit(model, LINE)
    with pytest.raises(OptionError, match="data is missing"):
        fit("y ~ a*x + b")


def test_lm_tolerances_are_refused_with_another_method_and_out_of_range():
    with pytest.raises(OptionError, match="xtol is a stopping rule of lm; 'adam' stops by minimize's rules"):
        fit("y ~ a*x + b", LINE, method="adam", xtol=1e-6)
    for bad in (0.0, 1.0, math.nan, True):
        with pytest.raises(OptionError, match=r"gtol must be a number in \(0, 1\)"):
            fit("y ~ a*x + b", LINE, gtol=bad)


# scipy's "Robust nonlinear regression" example (least_squares docs): y = 0.5 + 2 exp(-t) + 0.1 N(0, 1) at 15 points
# in [0, 10], with 10 U(0, 1) added at rows 0, 3, 6, 9 and 12 (numpy default_rng(0), rounded to 6 decimals).
ROBUST = {
    "t": [0, 0.714286, 1.42857, 2.14286, 2.85714, 3.57143, 4.28571, 5, 5.71429, 6.42857, 7.14286, 7.85714,
          8.57143, 9.28571, 10],
    "y": [4.269129, 1.465873, 1.043344, 9.376918, 0.561298, 0.592391, 6.072540, 0.608184, 0.436223, 3.373806,
          0.439254, 0.504907, 4.494748, 0.478306, 0.375500],
}


@pytest.mark.parametrize(("loss", "expected"), [
    # where the robust cost's gradient is zero, by Newton's method in 50-digit arithmetic (mpmath.findroot);
    # scipy's least_squares (ftol = xtol = gtol = 1e-15) agrees to 2e-8
    ("soft_l1", [0.59277850880625955, 3.6671175832388704, -1.8792805131030646]),
    ("huber", [0.57221759426264721, 3.6866092193343349, -1.8754023747552308]),
    ("cauchy", [0.46208323045708197, 1.8947582535563394, -0.86017392262797962]),
])
def test_robust_fits_reach_the_robust_optimum(loss, expected):
    r = fit("y ~ a + b*exp(c*t)", ROBUST, p0={"a": 1, "b": 1, "c": 0}, loss=loss, f_scale=0.1)
    assert r.status.value == "converged"
    assert list(r.params.values()) == pytest.approx(expected, rel=1e-7)


def test_fewer_rows_than_parameters_is_a_data_error():
    with pytest.raises(DataError, match=r"2 data rows for 3 parameters \(a, b, c\)"):
        fit("y ~ a*x**2 + b*x + c", {"x": [0, 1], "y": [1, 3]})
    assert fit("y ~ a*x + b", {"x": [0, 1], "y": [1, 3]}).dof == 0  # as many rows as parameters: fitted exactly


def test_a_small_fit_does_not_import_the_compiler_stack():
    import subprocess

    code = ("import sys; from gdsolve import fit; "
            "r = fit('y ~ a*exp(-k*t)', {'t': [0, 1, 2, 3], 'y': [3, 2.1, 1.4, 1.0]}); "
            "print(r.status.value, 'torch._dynamo' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["converged", "False"]


def _ten_features(n: int = 80) -> tuple[dict, torch.Tensor, torch.Tensor]:
    """A synthetic 10-feature regression: columns f1..f10 on different scales; and X, y."""
    g = torch.Generator().manual_seed(3)
    X = torch.randn(n, 10, generator=g, dtype=torch.float64) * torch.logspace(0, 2, 10, dtype=torch.float64)
    y = 1.5 + X @ torch.linspace(-1, 1, 10, dtype=torch.float64) + 0.2 * torch.randn(n, generator=g, dtype=torch.float64)
    return {"y": y.tolist(), **{f"f{j + 1}": X[:, j].tolist() for j in range(10)}}, X, y


def _ols(X: torch.Tensor, y: torch.Tensor) -> tuple[list[float], list[float]]:
    A = torch.cat([torch.ones(len(y), 1, dtype=torch.float64), X], dim=1)
    beta = torch.linalg.solve(A.T @ A, A.T @ y)
    res = y - A @ beta
    se = (torch.linalg.inv(A.T @ A).diagonal() * float(res @ res) / (len(y) - A.shape[1])).sqrt()
    return beta.tolist(), se.tolist()


def test_x_at_w_fits_ten_features_with_coefficients_named_by_their_columns():
    from gdsolve.formula.matrices import with_matrices

    cols, X, y = _ten_features()
    beta, se = _ols(X, y)
    t = with_matrices(table_from_mapping(cols), {"X": "f1..f10"})
    m = parse_model("y ~ b0 + X @ w", t)
    names = ("b0", *(f"w[f{j}]" for j in range(1, 11)))
    assert m.parameters == names and m.columns == tuple(f"f{j}" for j in range(1, 11))
    r = fit(m)
    assert [r.params[k] for k in names] == pytest.approx(beta, rel=1e-9)
    assert [r.stderr[k] for k in names] == pytest.approx(se, rel=1e-6)
    # y ~ . is the same model: b0 and b[column] for every column but the response
    dot = fit("y ~ .", cols)
    assert list(dot.params) == ["b0", *(f"b[f{j}]" for j in range(1, 11))]
    assert list(dot.params.values()) == pytest.approx(beta, rel=1e-9)
    # --shape that disagrees with X names the columns and the fix
    with pytest.raises(OptionError, match=r"X is 80 rows x 10 columns \(f1..f10\) but w has 3 elements"):
        parse_model("y ~ b0 + X @ w", t, shapes={"w": 3})


def test_p0_and_bounds_of_a_vector_parameter_hold_for_each_element_or_one_by_one():
    from gdsolve.formula.matrices import with_matrices

    cols, _, _ = _ten_features()
    m = parse_model("y ~ b0 + X @ w", with_matrices(table_from_mapping(cols), {"X": "f1..f3"}))
    r = fit(m, p0={"w": 0.0, "b0": 2.0}, bounds={"w": (-0.5, 2.0)})
    assert r.p0 == {"b0": 2.0, "w[f1]": 0.0, "w[f2]": 0.0, "w[f3]": 0.0}
    assert all(-0.5 <= r.params[f"w[f{j}]"] <= 2.0 for j in (1, 2, 3))
    # the true coefficients of f1 and f3, -1 and -0.56, are below the bound: held there, named by element
    assert r.active_bounds == {"w[f1]": "lower", "w[f3]": "lower"}
    r2 = fit(m, p0={"w": [0.1, 0.2, 0.3]}, method="lbfgs", max_iter=500)
    assert r2.p0["w[f3]"] == 0.3 and r2.params["w[f2]"] == pytest.approx(fit(m).params["w[f2]"], rel=1e-6)
    with pytest.raises(OptionError, match=r"w has shape \(2,\) but --shape says \(3,\)"):
        fit(m, p0={"w": [0.1, 0.2]})


def test_a_text_column_is_a_factor_with_treatment_coding():
    x = [i / 4 for i in range(24)]
    state = ["control", "treated", "placebo"] * 8
    effect = {"control": 0.0, "placebo": 0.5, "treated": 2.0}
    y = [3 * math.exp(-0.4 * xi) + effect[s] + 0.01 * math.sin(7 * i) for i, (xi, s) in enumerate(zip(x, state))]
    data = {"x": x, "state": state, "y": y}
    r = fit("y ~ a*exp(-k*x) + state @ b", data)
    assert list(r.params) == ["a", "b[placebo]", "b[treated]", "k"]  # control, first in sorted order, is the reference
    spelled = fit("y ~ a*exp(-k*x) + p*state[placebo] + t*state[treated]", data)
    assert r.params["b[treated]"] == pytest.approx(spelled.params["t"], rel=1e-9)
    assert r.stderr["b[placebo]"] == pytest.approx(spelled.stderr["p"], rel=1e-6)
    assert r.params["b[treated]"] == pytest.approx(2.0, abs=0.02)
    with pytest.raises(ExpressionError, match=r"state is a text column .* use it as a factor: state\[placebo\]"):
        fit("y ~ a*exp(-k*x) + b*state", data)


def test_one_sided_model_is_the_residual_itself_as_rs_nls():
    # ~ (y - model) is y ~ model
    same = fit("~ y - a*x - b", LINE)
    plain = fit("y ~ a*x + b", LINE)
    assert same.params == pytest.approx(plain.params, rel=1e-12) and same.rss == pytest.approx(plain.rss, rel=1e-12)
    assert same.response == "" and same.r2 is None  # R^2 has no meaning without a response
    # weights that depend on the parameters: the least-squares optimum of sum(((y - m)/sqrt(m))**2)
    x = [i / 4 for i in range(1, 40)]
    y = [5 * math.exp(-0.3 * xi) * (1 + 0.05 * math.sin(3 * i)) for i, xi in enumerate(x)]
    r = fit("~ (y - a*exp(-b*x))/sqrt(a*exp(-b*x))", {"x": x, "y": y}, p0={"a": 4, "b": 0.2})
    from gdsolve import minimize

    m = minimize("sum((y - a*exp(-b*x))**2/(a*exp(-b*x)))", data={"x": x, "y": y}, x0={"a": 4, "b": 0.2},
                 method="lbfgs", gtol=1e-12, max_iter=1000)
    assert r.params["a"] == pytest.approx(m.x["a"], rel=1e-7) and r.params["b"] == pytest.approx(m.x["b"], rel=1e-7)
    assert split_model("~ y - a") == ("", "y - a")


def test_a_level_indicator_can_be_the_response_and_a_level_that_is_no_name_is_quoted():
    gpa = [2.0 + i / 20 for i in range(40)]
    grade = ["pass" if (i * 7) % 10 < 2 + i // 5 else "fail" for i in range(40)]
    data = {"gpa": gpa, "grade": grade, "group": ["new york" if i % 2 else "boston" for i in range(40)]}
    r = fit("grade['pass'] ~ 1/(1+exp(-(b0 + b1*gpa)))", data, p0={"b0": 0, "b1": 0})
    y = torch.tensor([g == "pass" for g in grade], dtype=torch.float64)
    p = torch.sigmoid(r.params["b0"] + r.params["b1"] * torch.tensor(gpa, dtype=torch.float64))
    assert r.rss == pytest.approx(float(((y - p) ** 2).sum()), rel=1e-9) and r.params["b1"] > 0
    assert fit("gpa ~ a + d*group['new york']", data).params["d"] == pytest.approx(0.05, rel=1e-9)
