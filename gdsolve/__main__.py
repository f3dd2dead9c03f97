"""``python -m gdsolve``: the same as the ``gdsolve`` command."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
