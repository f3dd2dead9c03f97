"""``python -m gdsolve``: the same as the ``gdsolve`` command."""

from .cli.entry import entry

if __name__ == "__main__":
    entry()
