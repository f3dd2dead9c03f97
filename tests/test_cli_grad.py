"""``gdsolve grad``, ``gdsolve explain`` and ``--verify`` through CliRunner and main(): exit code and output together."""

from __future__ import annotations

import json
import math

import pytest
from typer.testing import CliRunner

from gdsolve.cli.app import app, main
from gdsolve.core.status import ExitStatus

runner = CliRunner()


def invoke(*args):
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_grad_json_has_the_documented_shape():
    code, out, _ = invoke("grad", "(1-x)**2 + 100*(y-x^2)**2", "--at", "x=1,y=2", "--hessian", "--json")
    doc = json.loads(out)
    assert code == 0
    assert doc["variables"] == ["x", "y"] and doc["gradient"]["y"] == "-200*x**2 + 200*y"
    assert doc["hessian"] == [["1200*x**2 - 400*y + 2", "-400*x"], ["-400*x", "200"]]
    assert doc["at"] == {"x": 1.0, "y": 2.0} and doc["f"] == 100.0
    assert doc["autograd"] == doc["symbolic"] == {"x": -400.0, "y": 200.0}
    assert doc["agree"] is True and doc["max_abs_diff"] == 0.0


def test_grad_table_shows_exact_constants_kinks_and_the_check():
    code, out, _ = invoke("grad", "sqrt(3)*x*y + abs(x-1)", "--at", "x=2,y=1")
    assert code == 0
    assert "√3" in out and "Not differentiable" in out and "Abs(x - 1): where x - 1 = 0" in out
    assert "agree: largest difference" in out and "DiracDelta" not in out


def test_grad_json_turns_non_finite_numbers_into_null():
    code, out, _ = invoke("grad", "1/x", "--at", "0", "--json")
    doc = json.loads(out)
    assert code == 0 and doc["f"] is None and doc["autograd"]["x"] is None


def test_explain_prints_the_tutorials_step():
    code, out, _ = invoke("explain", "(x-4)**2", "--at", "x=0.2121")
    assert code == 0
    assert "PowBackward0" in out and "SubBackward0" in out and "AccumulateGrad" in out
    assert "x.grad: tensor([-7.5758])" in out and "x: tensor([0.9697])" in out
    assert "only the leaves keep .grad" in out and "with torch.no_grad()" in out


def test_explain_says_where_the_tutorials_4_5_comes_from():
    code, out, _ = invoke("explain", "3*(x+2)**2")
    flat = " ".join(out.split())
    assert code == 0 and "= 27" in out and "x.grad = 4.5 in each element = 18 / 4" in flat


def test_explain_json_and_dot():
    code, out, _ = invoke("explain", "x*y", "--at", "x=1,y=2", "--json")
    doc = json.loads(out)
    assert code == 0 and doc["grad"] == {"x": 2.0, "y": 1.0} and len(doc["graph"]["nodes"]) == 3
    code, out, _ = invoke("explain", "x*y", "--at", "x=1,y=2", "--dot")
    assert code == 0 and out.startswith("digraph autograd {") and out.count(" -> ") == 2


def test_minimize_verify_json_and_summary():
    code, out, _ = invoke("minimize", "(x-1)**2 + (y+2)**2", "--x0", "0,0", "--verify", "--json")
    doc = json.loads(out)
    assert code == 0 and doc["verify"]["status"] == "found"
    assert doc["verify"]["points"][0]["x"] == {"x": "1", "y": "-2"} and doc["verify"]["nearest"]["sought"]
    code, out, _ = invoke("maximize", "x**2 - y**2", "--x0", "0.1,0.1", "--verify", "--quiet")
    flat = " ".join(out.replace("│", " ").split())
    assert "verify nearest exact stationary point: saddle at x = 0, y = 0" in flat and "not the kind sought" in flat


@pytest.mark.parametrize("expression, x0, where", [("(x+y)**2", "0.3,0.2", "x = -y (for any y)"), ("x**4", "0.5", "x = 0")])
def test_verify_calls_a_degenerate_true_minimum_a_minimum(expression, x0, where):
    # a singular Hessian at these minima once made --verify say "not the kind sought"
    code, out, _ = invoke("minimize", expression, "--x0", x0, "--method", "lbfgs", "--verify", "--quiet")
    flat = " ".join(out.replace("│", " ").split())
    assert code == 0, out
    assert f"nearest exact stationary point: minimum at {where}" in flat and "(the kind sought)" in flat
    assert "not the kind sought" not in flat


@pytest.mark.parametrize("args, fragment", [
    (["grad", "x**2", "--at", "y=1"], "--at names y, not a variable of the expression"),
    (["grad", "x*y", "--at", "x=1"], "--at is missing y; give every variable, e.g. --at x=0,y=0"),
    (["grad", " + ".join(f"x{i}**2" for i in range(11)), "--hessian"], "the Hessian is limited to 10 variables"),
    (["grad", "__import__('os')"], "names with double underscores are refused"),
    (["explain", "x**2", "--dot", "--json"], "--dot and --json are two formats"),
    (["explain", "x**2", "--lr", "nan"], "--lr: 'nan' must be a finite number"),
    (["explain", "x**2", "--lr", "1e400"], "--lr: '1e400' must be a finite number"),
    (["explain", "x**2", "--lr", "0.1,0.2"], "--lr takes one rate here"),
    (["minimize", "x**2", "--verify-timeout", "2"], "--verify-timeout limits the time of --verify; add --verify"),
    (["minimize", "x**2", "--verify", "--verify-timeout", "0"], "--verify-timeout must be a number of seconds"),
])
def test_bad_input_is_one_line_exit_2(args, fragment, capsys):
    assert main(args) == ExitStatus.USAGE
    out, err = capsys.readouterr()
    assert err.startswith("error: ") and err.count("\n") == 1 and out == "", err
    assert fragment in err


def test_explain_a_lone_variable():
    code, out, _ = invoke("explain", "x")
    flat = " ".join(out.split())
    assert code == 0 and "f is this leaf itself, no grad_fn" in flat and "There is no intermediate tensor" in flat


@pytest.mark.parametrize("command", ["grad", "explain"])
def test_help_shows_examples_and_only_the_exit_codes_that_can_happen(command):
    from gdsolve.cli.help import EXAMPLES

    result = runner.invoke(app, [command, "--help"], env={"COLUMNS": "100"})
    text, lines = result.stdout, result.stdout.splitlines()
    assert result.exit_code == 0
    for cmd, _ in EXAMPLES[command]:
        assert cmd in text
    codes = {int(ln.split()[0]) for ln in text.split("Exit codes")[1].splitlines() if ln.strip()[:1].isdigit()}
    assert codes == {0, 2, 70, 74, 130, 141}  # 74: output that cannot be written
    assert all(len(ln) <= 100 for ln in lines)


def test_minimize_help_has_a_panel_for_verify():
    result = runner.invoke(app, ["minimize", "--help"], env={"COLUMNS": "100"})
    assert "Checking the answer" in result.stdout and "--verify-timeout" in result.stdout


def test_grad_exits_0_even_when_the_routes_disagree():
    code, out, _ = invoke("grad", "x**x + y", "--at", "x=0,y=1", "--json")
    assert code == 0 and json.loads(out)["agree"] is False


def test_grad_never_says_agree_over_an_infinite_derivative():
    # sqrt(x) at 0: autograd gives inf, sympy's 1/(2*sqrt(0)) no number; the old panel said "agree".
    code, out, _ = invoke("grad", "sqrt(x)", "--at", "x=0")
    flat = " ".join(out.replace("│", " ").split())
    assert code == 0 and "agree:" not in flat and "DISAGREE" not in flat
    assert "not compared: the derivative ∂f/∂x is infinite at x = 0" in flat
    code, out, _ = invoke("grad", "sqrt(x)", "--at", "x=0", "--json")
    doc = json.loads(out)
    assert code == 0 and doc["agree"] is None and doc["not_compared"] == {"x": "the derivative ∂f/∂x is infinite at x = 0"}
    # nothing was compared, so there is no difference to report (not a 0.0 that reads as "equal")
    assert doc["max_abs_diff"] is None and doc["max_rel_diff"] is None
    code, out, _ = invoke("grad", "sqrt(x) + 3*y", "--at", "x=0,y=1", "--json")
    doc = json.loads(out)  # y was compared: its difference stands, and no agreement is claimed for x
    assert doc["agree"] is None and doc["max_abs_diff"] == pytest.approx(0.0, abs=1e-12) and list(doc["not_compared"]) == ["x"]


def test_help_states_the_librarys_own_limits():
    # The help text is built without importing sympy, so it writes the numbers; this keeps them the library's.
    import re
    from pathlib import Path

    from gdsolve.api.symbolic import ATOL, MAX_HESSIAN_VARIABLES, RTOL, SIMPLIFY_SECONDS
    from gdsolve.api.verify import TIMEOUT

    grad = " ".join(runner.invoke(app, ["grad", "--help"], env={"COLUMNS": "200"}).stdout.split())
    readme = " ".join((Path(__file__).resolve().parent.parent / "README.md").read_text().split())
    assert f"at most {MAX_HESSIAN_VARIABLES} variables" in grad and f"within {SIMPLIFY_SECONDS:g} s" in grad
    assert f"for at most {MAX_HESSIAN_VARIABLES} variables" in readme and f"within {SIMPLIFY_SECONDS:g} seconds" in readme
    for text in (grad, readme):
        (atol, rtol), = re.findall(r"<= ([0-9.e-]+) \+ ([0-9.e-]+) \* max\(\|autograd\|, \|symbolic\|\)", text)
        assert (float(atol), float(rtol)) == (ATOL, RTOL)
    minimize = " ".join(runner.invoke(app, ["minimize", "--help"], env={"COLUMNS": "200"}).stdout.split())
    assert f"(default {TIMEOUT:g})" in minimize


def test_grad_of_stable_functions_at_extreme_arguments():
    code, out, _ = invoke("grad", "softplus(x) + lognormcdf(y)", "--at", "x=800,y=-40", "--json")
    doc = json.loads(out)
    assert code == 0 and doc["gradient"] == {"x": "sigmoid(x)",
                                             "y": "sqrt(2)*exp(-y**2/2 - lognormcdf(y))/(2*sqrt(pi))"}
    assert doc["f"] == pytest.approx(800.0 - 804.60844201375379, rel=1e-13)
    assert doc["autograd"]["x"] == doc["symbolic"]["x"] == 1.0
    assert doc["symbolic"]["y"] == pytest.approx(40.024968847207264, rel=1e-15) and doc["agree"] is True


def test_minimize_verify_solves_a_stable_function():
    code, out, _ = invoke("minimize", "softplus(x) - 0.3*x", "--method", "lbfgs", "--verify", "--json")
    doc = json.loads(out)
    assert code == 0 and doc["x"]["x"] == pytest.approx(math.log(3 / 7), abs=1e-6)
    assert doc["verify"]["points"][0]["x"] == {"x": "log(3/7)"} and doc["verify"]["nearest"]["sought"] is True


def test_grad_at_takes_constant_expressions_and_one_value_for_every_variable():
    code, out, _ = invoke("grad", "sin(x)*y", "--at", "x=pi/3,y=sqrt(2)", "--json")
    doc = json.loads(out)
    assert code == 0 and doc["autograd"]["x"] == pytest.approx(0.5 * math.sqrt(2), rel=1e-15)
    code, out, _ = invoke("grad", "x*y", "--at", "pi", "--json")
    assert code == 0 and json.loads(out)["at"] == {"x": math.pi, "y": math.pi}


def test_explain_walks_the_stable_functions_kernels():
    code, out, _ = invoke("explain", "softplus(x) + lognormcdf(y)", "--at", "x=800,y=-40")
    assert code == 0
    assert "LogaddexpBackward0" in out and "SpecialLogNdtrBackward0" in out and "y.grad = 40.025" in out
