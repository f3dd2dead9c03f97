"""``python -m gdsolve``: the same as the ``gdsolve`` command."""

from .launch import entry

if __name__ == "__main__":
    entry()
