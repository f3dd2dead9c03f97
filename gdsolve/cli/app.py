"""The ``gdsolve`` command line: the typer app, its commands, and :func:`main`.

Nothing here computes: the library does. Each command is one module of this
package (:mod:`~gdsolve.cli.solve` for minimize and maximize,
:mod:`~gdsolve.cli.batch`, :mod:`~gdsolve.cli.fit`, :mod:`~gdsolve.cli.grad`,
:mod:`~gdsolve.cli.explain`, :mod:`~gdsolve.cli.plot`) that parses options,
calls the library, hands the result to the outputs and returns an exit code,
through :func:`gdsolve.cli.options.command`. :func:`main` turns argv into a
command and what click and the streams do wrong into exit codes
(:class:`~gdsolve.core.status.ExitStatus`); :mod:`gdsolve.cli.shell` turns
errors, signals and closed pipes into one ``error:`` line.

torch and sympy are imported inside the commands, never at module level, so
``gdsolve --help`` and ``gdsolve --version`` stay fast.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Annotated

import typer

from .._version import __version__
from ..core.errors import OptionError
from ..core.status import ExitStatus
from ..core.streams import Environment
from .batch import batch_command
from .explain import explain_command
from .fit import fit_command
from .grad import grad_command
from .help import EXIT_CODES, epilog
from .plot import plot_command
from .shell import Exit, cannot_write, fail, is_write_failure, scan_argv
from .solve import solve_command

app = typer.Typer(
    name="gdsolve",
    help="Minimize or maximize a formula by gradient descent, every step in view.",
    add_completion=True,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
    context_settings={"help_option_names": ["--help", "-h"], "max_content_width": 100},
)



def _version_callback(value: bool) -> None:
    if value:
        typer.echo(f"gdsolve {__version__}")
        raise typer.Exit(0)


@app.callback(epilog=EXIT_CODES)
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version_callback, is_eager=True, help="Print the version and exit.",
                           metavar="")
    ] = False,
) -> None:
    """Minimize or maximize a formula by gradient descent, every step in view.

    Start with: gdsolve minimize "(x-4)**2"
    """


for _name, _function in (("minimize", solve_command("minimize")), ("maximize", solve_command("maximize")),
                         ("batch", batch_command), ("grad", grad_command), ("explain", explain_command),
                         ("fit", fit_command), ("plot", plot_command)):
    app.command(_name, epilog=epilog(_name))(_function)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``gdsolve`` console script; returns the exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    command = typer.main.get_command(app)
    env = Environment.current()
    before = env.stdout_stat()
    try:
        args = scan_argv(command, args, OptionError)
        # standalone_mode=False: click returns an Exit's code instead of
        # calling sys.exit, and lets usage errors reach us for one-line output.
        rv = command.main(args=args, prog_name="gdsolve", standalone_mode=False)
    except Exit as exc:
        code = int(exc.exit_code)
    except OptionError as exc:  # from scan_argv
        return fail(exc.cli_message())
    except BrokenPipeError:
        env.silence_stdout()
        return int(ExitStatus.BROKEN_PIPE)
    except OSError as exc:  # --help or --version could not be written (stdout closed, disk full)
        if not is_write_failure(exc):
            raise
        return cannot_write(exc)
    except SystemExit as exc:
        # A closed pipe met while typer itself was printing (--help, --version):
        # rich's handler and click's both end with status 1, which a script
        # would read as "not converged". Each leaves a mark on stdout.
        if env.stdout_went_quiet(before) or type(sys.stdout).__name__ == "PacifyFlushWrapper":
            env.silence_stdout()
            return int(ExitStatus.BROKEN_PIPE)
        raise exc
    except (typer.Abort, KeyboardInterrupt):
        return fail("interrupted", ExitStatus.INTERRUPTED)
    except Exception as exc:
        # click's usage errors (unknown option, bad value, missing argument).
        # Matched by shape, not class: typer has shipped click's classes and
        # its own vendored copies under different module paths.
        format_message = getattr(exc, "format_message", None)
        if not callable(format_message) or not isinstance(getattr(exc, "exit_code", None), int):
            raise
        if type(exc).__name__ == "NoArgsIsHelpError":
            # Building the error already printed the (rich) help; plain help comes back as its message.
            text = format_message()
            if text:
                sys.stdout.write(text + "\n")
            return 0
        ctx = getattr(exc, "ctx", None)
        path = getattr(ctx, "command_path", "") if ctx is not None else ""
        hint = f" (see '{path} --help')" if path else ""
        # some typer versions check a choice through pydantic, whose "Value error, " prefix says nothing to a user
        message = format_message().replace(": Value error, ", ": ", 1)
        return fail(f"{message}{hint}")
    else:
        code = rv if isinstance(rv, int) else 0
    try:
        sys.stdout.flush()  # a closed pipe or a full disk is found here, not at interpreter exit
    except BrokenPipeError:
        env.silence_stdout()
        return int(ExitStatus.BROKEN_PIPE)
    except OSError as exc:
        if not is_write_failure(exc):
            raise
        return cannot_write(exc)
    return code



