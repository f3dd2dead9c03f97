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
