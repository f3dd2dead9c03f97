"""Error classes: one base for everything a user can get wrong."""

from __future__ import annotations

import pytest

from gdsolve import ExpressionError, GdsolveError, OptionError, minimize


def test_hierarchy():
    assert issubclass(ExpressionError, GdsolveError) and issubclass(ExpressionError, ValueError)
    assert issubclass(OptionError, GdsolveError) and issubclass(OptionError, ValueError)


def test_expression_error_carries_position():
    with pytest.raises(ExpressionError) as info:
        minimize("x + + * 2")
    assert info.value.text == "x + + * 2" and info.value.offset == 6


def test_one_template_two_languages():
    from gdsolve.core.errors import flag, render

    e = OptionError("{max_iter} must be >= 1; try [[--max-iter 100||max_iter=100]] or {variables}")
    assert str(e) == "max_iter must be >= 1; try max_iter=100 or variables"
    assert e.cli_message() == "--max-iter must be >= 1; try --max-iter 100 or --vars"
    assert flag("params") == "--param" and flag("t_max") == "--t-max"
    assert render("{'x': 1} stays as it is", cli=True) == "{'x': 1} stays as it is"  # not an option name
