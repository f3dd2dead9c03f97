"""``python -m gdsolve``: the same as the ``gdsolve`` command."""

from .cli.launch import entry

if __name__ == "__main__":
    entry()
