"""The errors mlkube raises on purpose.

    MlkubeError            anything mlkube reports as a one-line message, exit code 2
    ├── InputError         a file (or stdin) that cannot be used: names file, line, problem
    └── UsageError         a command line that cannot be carried out

The CLI turns each of them into one line on stderr and exit code 2; a traceback means
a bug in mlkube, never bad input.
"""

from __future__ import annotations


class MlkubeError(Exception):
    """Base class of errors that are reported as one line, without a traceback."""


class InputError(MlkubeError):
    """Bad input, located at ``source:line``."""

    def __init__(self, source: str, line: int, message: str) -> None:
        super().__init__(f"{source}:{line}: {message}")
        self.source = source
        self.line = line
        self.message = message


class UsageError(MlkubeError):
    """A request that cannot be carried out as asked."""
