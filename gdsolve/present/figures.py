"""What every picture shares: the plotting libraries (optional), file suffixes, writing a figure."""

from __future__ import annotations

from typing import Any

from ..core.errors import GdsolveError, OptionError

FILE_SUFFIXES = (".png", ".svg", ".pdf")


def need(module: str) -> Any:
    """Import a plotting library (matplotlib, plotext), or say how to install it."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise GdsolveError(
            f"gdsolve plot needs {module.split('.')[0]} for this; install it with: pip install 'gdsolve[plot]'"
        ) from None


def check_suffix(output: str) -> None:
    """A picture's file name must say its format."""
    suffix = output[output.rfind("."):].lower() if "." in output else ""
    if suffix not in FILE_SUFFIXES:
        raise GdsolveError(f"-o {output}: the file name must end in {', '.join(FILE_SUFFIXES)}")


def save_figure(plt: Any, fig: Any, output: str, dpi: int, title: str) -> None:
    """Title, lay out and write ``fig``; an unwritable path is gdsolve's error. The figure is closed."""
    # Titles are plain text: a "$" must not switch matplotlib to math mode (an odd one is a parse error).
    fig.suptitle(title.replace("$", r"\$"), fontsize="medium")
    fig.tight_layout()
    try:
        fig.savefig(output, dpi=dpi)
    except OSError as exc:
        raise OptionError(f"cannot write {output}: {exc.strerror or exc}") from None
    finally:
        plt.close(fig)
