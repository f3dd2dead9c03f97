"""gdsolve.formula.constant: option values as constant expressions, through the formula parser."""

from __future__ import annotations

import math
import re

import pytest

from gdsolve.core.errors import OptionError
from gdsolve.formula.constant import parse_constant


@pytest.mark.parametrize("text, want", [
    ("2", 2.0),
    ("-pi/2", -math.pi / 2),
    ("sqrt(2)", math.sqrt(2)),
    ("1e-3*pi", 1e-3 * math.pi),
    ("2^10", 1024.0),
    ("log(8, 2)", 3.0),
    ("atan2(1, 1)", math.pi / 4),
    ("E**2", math.e**2),
    ("lognormcdf(-40)", -804.60844201375379),
    ("softplus(800)", 800.0),
    ("  0.1  ", 0.1),
    ("erfc(-1e308)", 2.0),  # mpmath's own erfc overflows a float inside past |x| = 1e154
    ("normcdf(-1e308)", 0.0),
    ("lognormcdf(-1e150)", -5e299),
])
def test_constant_expressions_are_their_correctly_rounded_values(text, want):
    assert parse_constant(text, "--x0 a") == pytest.approx(want, rel=1e-16)


def test_nested_lists_only_where_asked():
    assert parse_constant("[[1, 2^2], [pi, -sqrt(9)]]", "--x0 w", lists=True) == [[1.0, 4.0], [math.pi, -3.0]]
    with pytest.raises(OptionError, match="not allowed in an expression: lists"):
        parse_constant("[1, 2]", "--bounds x")


@pytest.mark.parametrize("text, message", [
    ("a + 1", "--x0 a: 'a + 1' names a, but a value here cannot depend on a variable; write a number or a "
              "constant expression such as pi/2, sqrt(2) or 1e-3*pi"),
    ("inf", "--x0 a: 'inf' is not a finite number"),
    ("exp(1000)", "--x0 a: 'exp(1000)' cannot be evaluated: exp() of a constant is undefined or overflows here"),
    ("sqrt(-1)", "--x0 a: 'sqrt(-1)' cannot be evaluated"),
    ("1/0", "--x0 a: '1/0' cannot be evaluated: division by zero"),
    ("sin(", "--x0 a: 'sin(': syntax error"),
    ("\u03c0/2", "type 'pi' instead"),
    ("__import__('os').system('false')", "not allowed in an expression: attribute access"),
    ("__import__('os')", "names with double underscores are refused"),
    ("", "--x0 a is empty"),
    ("[[1], []]", "--x0 a: '[[1], []]' has an empty list"),
])
def test_what_is_not_a_finite_constant_is_refused_naming_the_option_the_text_and_the_fix(text, message):
    with pytest.raises(OptionError, match=re.escape(message)):
        parse_constant(text, "--x0 a", lists="[" in text)
