"""The package version, kept apart so ``gdsolve --version`` imports nothing heavy."""

__version__ = "0.1.0"
