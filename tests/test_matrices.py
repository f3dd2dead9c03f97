"""Matrices of data columns (``--matrix X=age..s6``) and ``X @ w`` in minimize, maximize, grad and fit.

The data is a synthetic 10-feature regression written here: the answer is
known in closed form (torch's least squares), so no fitted digit is taken on trust.
"""

from __future__ import annotations

import contextlib
import io
import json

import pytest
import torch

from gdsolve import ExpressionError, OptionError, gradient, maximize, minimize
from gdsolve.cli.app import main
from gdsolve.formula.data import DataError, parse_table, table_from_mapping
from gdsolve.formula.matrices import select_columns, with_matrices
from gdsolve.formula.objective import compile_objective

NAMES = ["age", "sex", "bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s6"]


def synthetic(n: int = 120) -> tuple[str, torch.Tensor, torch.Tensor]:
    """CSV text of ten features on different scales and y = 3 + X w + noise; and X, y."""
    g = torch.Generator().manual_seed(7)
    X = torch.randn(n, 10, generator=g, dtype=torch.float64) * torch.arange(1, 11, dtype=torch.float64)
    w = torch.linspace(-2, 2, 10, dtype=torch.float64)
    y = 3 + X @ w + 0.1 * torch.randn(n, generator=g, dtype=torch.float64)
    lines = [",".join(["y", *NAMES])] + [",".join(repr(v) for v in [y[i].item(), *X[i].tolist()]) for i in range(n)]
    return "\n".join(lines) + "\n", X, y


def ols(X: torch.Tensor, y: torch.Tensor) -> tuple[list[float], list[float]]:
    """The closed-form answer: intercept first, then each coefficient; and their standard errors."""
    A = torch.cat([torch.ones(len(y), 1, dtype=torch.float64), X], dim=1)
    beta = torch.linalg.lstsq(A, y.unsqueeze(1)).solution.squeeze(1)
    r = y - A @ beta
    s2 = (r @ r) / (len(y) - A.shape[1])
    se = torch.sqrt(torch.diag(s2 * torch.linalg.inv(A.T @ A)))
    return beta.tolist(), se.tolist()


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    text, X, y = synthetic()
    path = tmp_path_factory.mktemp("m") / "d.csv"
    path.write_text(text)
    return str(path), X, y


def cli(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(args))
    return code, out.getvalue(), err.getvalue()


def test_columns_by_range_glob_list_and_mix():
    t = parse_table(synthetic(3)[0], "d.csv")
    assert select_columns(t, "age..s6") == tuple(NAMES)
    assert select_columns(t, "s?") == ("s1", "s2", "s3", "s4", "s5", "s6")
    assert select_columns(t, "s*")[0] == "sex"  # a glob is a glob: sex starts with s
    assert select_columns(t, "bmi, age") == ("bmi", "age")
    assert select_columns(t, "age..sex,s5..s6") == ("age", "sex", "s5", "s6")


@pytest.mark.parametrize(("spec", "words"), [
    ("X=s6..age", ["runs backwards", "write age..s6"]),
    ("X=age..zz", ["'zz', which is not a column", "the columns of d.csv are: y, age"]),
    ("X=q*", ["matches no column"]),
    ("X=age,age", ["age twice"]),
    ("X=age,,bmi", ["empty item"]),
    ("X", ["NAME=COLUMNS"]),
    ("bmi=age", ["already a column", "as bmi_matrix"]),
    ("2x=age", ["not a name"]),
])
def test_bad_matrix_specs_name_the_columns(spec, words):
    t = parse_table(synthetic(3)[0], "d.csv")
    with pytest.raises(DataError) as info:
        with_matrices(t, [spec])
    for w in words:
        assert w in str(info.value)


def test_a_matrix_given_twice_says_so():
    t = parse_table(synthetic(3)[0], "d.csv")
    with pytest.raises(DataError) as info:
        with_matrices(t, ["X=age..bmi", "X=s1"])
    assert "X is given twice; give each matrix once" in str(info.value)
    assert info.value.cli_message().startswith("--matrix X is given twice")


def test_a_text_column_in_a_matrix_is_its_indicators():
    t = with_matrices(parse_table("y,g,x\n1,b,2\n2,a,3\n3,c,4\n", "t.csv"), {"X": "g..x"})
    assert t.matrices["X"].columns == ("g[b]", "g[c]", "x") and t.matrices["X"].labels == ("gb", "gc", "x")
    assert t.matrix("X").tolist() == [[1.0, 0.0, 2.0], [0.0, 0.0, 3.0], [0.0, 1.0, 4.0]]


def test_minimize_recovers_the_least_squares_answer_and_w_takes_its_size_from_x(data):
    path, X, y = data
    beta, _ = ols(X, y)
    t = with_matrices(parse_table(open(path).read(), path), {"X": "age..s6"})
    r = minimize("sum((y - b0 - X @ w)**2)", data=t, method="lbfgs", x0={"b0": 0, "w": 0})
    assert r.status.value == "converged"
    got = [r.x["b0"], *(r.x[f"w[{i}]"] for i in range(10))]
    assert got == pytest.approx(beta, rel=1e-6, abs=1e-8)
    # maximize the negative: the same point; a batch of starts carries the batch dim through @
    m = maximize("-sum((y - b0 - X @ w)**2)", data=t, method="lbfgs", starts=3)
    assert m.x["w[9]"] == pytest.approx(beta[10], rel=1e-6)


def test_a_shape_that_does_not_fit_x_names_the_columns_and_the_fix(data):
    path, _, _ = data
    t = with_matrices(parse_table(open(path).read(), path), {"X": "age..s6"})
    with pytest.raises(OptionError) as info:
        compile_objective("sum((y - X @ w)**2)", data=t, shapes={"w": 3})
    assert "X is 120 rows x 10 columns (age..s6) but w has 3 elements" in str(info.value)
    assert "--shape w=10" in info.value.cli_message()
    with pytest.raises(ExpressionError) as info2:  # an expression on the right: caught by the probe, in our words
        compile_objective("sum((y - X @ (a*w))**2)", data=t, shapes={"w": 3})
    assert "a matrix of 10 columns is multiplied by 3 elements" in str(info2.value)
    assert "tensor a" not in str(info2.value)


@pytest.mark.parametrize(("formula", "words"), [
    ("sum((y - x @ w)**2)", ["left of @ must be a data matrix", "the matrices are: X"]),
    ("sum((y - X)**2) + w", ["X is a matrix of data columns", "X @ w"]),
    ("sum((y - X @ 2)**2) + w", ["is a constant"]),
])
def test_matrices_are_used_only_as_x_at_something(formula, words):
    t = with_matrices(parse_table(synthetic(3)[0], "d.csv"), {"X": "age..s6"})
    with pytest.raises(ExpressionError) as info:
        compile_objective(formula, data=t)
    for w in words:
        assert w in str(info.value)


def test_a_mapping_with_a_2d_value_is_a_matrix(data):
    _, X, y = data
    beta, _ = ols(X, y)
    r = minimize("mean((y - b0 - X @ w)**2)", data={"y": y, "X": X}, method="lbfgs", x0={"b0": 0, "w": 0})
    assert r.x["w[0]"] == pytest.approx(beta[1], rel=1e-6)


def test_gradient_at_a_point_by_autograd(data):
    path, X, y = data
    t = with_matrices(parse_table(open(path).read(), path), {"X": "age..s6"})
    doc = gradient("sum((y - X @ w)**2)", at={"w": 0}, data=t)
    expected = (-2 * X.T @ y).tolist()
    assert doc["autograd"]["w"] == pytest.approx(expected, rel=1e-12)


def test_cli_minimize_and_grad_take_matrix(data):
    path, X, y = data
    beta, _ = ols(X, y)
    code, out, err = cli("minimize", "mean((y - b0 - X @ w)**2)", "--data", path, "--matrix", "X=age..s6",
                         "--method", "lbfgs", "--x0", "b0=0,w=0", "--json")
    assert code == 0, err
    assert json.loads(out)["x"]["w"] == pytest.approx(beta[1:], rel=1e-6)
    code, out, err = cli("grad", "sum((y - X @ w)**2)", "--data", path, "--matrix", "X=s?", "--at", "w=0", "--json")
    assert code == 0, err
    assert json.loads(out)["autograd"]["w"] == pytest.approx((-2 * X[:, 4:].T @ y).tolist(), rel=1e-12)
    code, _, err = cli("minimize", "sum((y - X @ w)**2)", "--data", path, "--matrix", "X=age..s6", "--shape", "w=3")
    assert code == 2 and "X is 120 rows x 10 columns (age..s6) but w has 3 elements: --shape w=10" in err
    code, _, err = cli("minimize", "sum(X @ w)", "--matrix", "X=age..s6")
    assert code == 2 and "--matrix names columns of --data" in err


def test_a_mapping_of_text_is_a_factor_and_ragged_matrices_are_refused():
    t = table_from_mapping({"y": [1, 2], "g": ["b", "a"]})
    assert t.factors["g"].levels == ("a", "b") and t.tensor("g[b]").tolist() == [1.0, 0.0]
    with pytest.raises(DataError, match="ragged"):
        table_from_mapping({"X": [[1, 2], [3]]})


def test_a_logistic_curve_of_a_matrix_fits_and_other_vectors_are_named_by_element():
    from gdsolve import fit
    from gdsolve.formula.model import parse_model

    g = torch.Generator().manual_seed(5)
    X = torch.randn(200, 3, generator=g, dtype=torch.float64)
    w = torch.tensor([1.5, -2.0, 0.5], dtype=torch.float64)
    p = torch.sigmoid(0.3 + X @ w)
    data = {"y": p.tolist(), **{f"x{j}": X[:, j].tolist() for j in range(3)}}
    t = with_matrices(table_from_mapping(data), {"X": "x0..x2"})
    r = fit(parse_model("y ~ 1/(1+exp(-(b0 + X @ w)))", t), p0={"b0": 0, "w": 0})
    assert r.params["b0"] == pytest.approx(0.3, rel=1e-8)
    assert [r.params[f"w[x{j}]"] for j in range(3)] == pytest.approx(w.tolist(), rel=1e-8)
    # a vector that multiplies no matrix by name is named element by element
    m = parse_model("y ~ 1/(1+exp(-(b0 + X @ (2*w))))", t, shapes={"w": 3})
    assert m.parameters == ("b0", "w[0]", "w[1]", "w[2]")
    assert fit(m, p0={"b0": 0, "w": 0}).params["w[1]"] == pytest.approx(-1.0, rel=1e-8)


def test_y_dot_leaves_out_the_response_and_sigma_and_several_matrices_may_be_named(data):
    from gdsolve.formula.model import parse_model

    path, _, _ = data
    cols = {"y": [1.0, 2.0, 4.0, 3.0], "sd": [1.0, 1.0, 2.0, 1.0], "a": [0.0, 1.0, 2.0, 4.0], "c": [1.0, 0.0, 0.0, 2.0]}
    m = parse_model("y ~ .", table_from_mapping(cols), sigma="sd")
    assert m.parameters == ("b0", "b[a]", "b[c]")
    code, out, err = cli("minimize", "sum((y - b0 - X @ w - Z @ v)**2)", "--data", path, "--matrix", "X=age..bmi",
                         "--matrix", "Z=s1..s6", "--method", "lbfgs", "--json")
    assert code == 0, err
    assert len(json.loads(out)["x"]["w"]) == 3 and len(json.loads(out)["x"]["v"]) == 6


def test_fit_of_a_mapping_matrix_and_its_trace_draws_again(data, tmp_path):
    from gdsolve import fit
    from gdsolve.io.trace import read_trace
    from gdsolve.present.plot_fit import fit_curve

    path, X, y = data
    beta, _ = ols(X, y)
    r = fit("y ~ b0 + X @ w", {"y": y, "X": X})
    assert list(r.params)[:3] == ["b0", "w[0]", "w[1]"] and r.params["w[9]"] == pytest.approx(beta[10], rel=1e-9)
    trace = tmp_path / "t.jsonl"
    code, _, err = cli("fit", "y ~ b0 + X @ w", "--data", path, "--matrix", "X=age..s6", "--trace", str(trace))
    assert code == 0, err
    with open(trace) as fh:
        t = read_trace(fh, str(trace))
    assert t.header["matrices"]["X"]["labels"][0] == "age"
    curve = fit_curve(t.header, t.result["params"])
    expected = beta[0] + X @ torch.tensor(beta[1:], dtype=torch.float64)
    assert curve["fitted"] == pytest.approx(expected.tolist(), rel=1e-8)
