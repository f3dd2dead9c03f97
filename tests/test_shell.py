"""The command's shell manners: argv checks, one error line per failure, exit codes for every exception."""

from __future__ import annotations

import pytest
from typer.main import get_command

from gdsolve.cli.app import app
from gdsolve.cli.shell import Exit, errors, scan_argv
from gdsolve.core.errors import ExpressionError, OptionError
from gdsolve.core.status import ExitStatus

CMD = get_command(app)


def test_leading_minus_formula_moves_behind_double_dash():
    assert scan_argv(CMD, ["maximize", "-(x-1)**2", "--json"], OptionError) == ["maximize", "--json", "--", "-(x-1)**2"]
    assert scan_argv(CMD, ["minimize", "--x0", "-2", "x**2"], OptionError) == ["minimize", "--x0", "-2", "x**2"]


@pytest.mark.parametrize("argv", [["minimize", "x", "--lr", "1", "--lr", "2"], ["minimize", "x", "--lr=1", "--lr", "2"],
                                  ["minimize", "x", "--quiet", "--quiet"], ["plot", "-o", "a.png", "--output", "b.png"]])
def test_an_option_given_twice_is_refused(argv):
    with pytest.raises(OptionError, match="is given twice"):
        scan_argv(CMD, argv, OptionError)


def test_repeatable_options_may_repeat():
    argv = ["minimize", "a*x+b*y", "--param", "a=1", "--param", "b=2", "--bounds", "x=0:1", "--bounds", "y=0:1"]
    assert scan_argv(CMD, argv, OptionError) == argv


@pytest.mark.parametrize(("exc", "code", "fragment"), [
    (OptionError("{lr} must be positive"), ExitStatus.USAGE, "error: --lr must be positive"),
    (ExpressionError("syntax error"), ExitStatus.USAGE, "error: syntax error"),
    (KeyboardInterrupt(), ExitStatus.INTERRUPTED, "error: interrupted"),
    (MemoryError(), ExitStatus.USAGE, "error: out of memory"),
    (RuntimeError("boom"), ExitStatus.INTERNAL_ERROR, "error: internal error: RuntimeError: boom (a bug in gdsolve"),
])
def test_every_exception_becomes_one_line_and_its_code(exc, code, fragment, capsys):
    with pytest.raises(Exit) as info, errors(debug=False):
        raise exc
    assert info.value.exit_code == code
    err = capsys.readouterr().err
    assert err.startswith(fragment) and err.count("\n") == 1


def test_closed_pipe_is_141_and_silent(capsys):
    with pytest.raises(Exit) as info, errors(debug=False):
        raise BrokenPipeError
    assert info.value.exit_code == ExitStatus.BROKEN_PIPE and capsys.readouterr().err == ""
