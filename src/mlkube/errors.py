"""The errors mlkube raises on purpose, and the exit code each one ends a verb with.

    MlkubeError            anything reported as one line, without a traceback     exit 2
    ├── InputError         a file (or stdin) that cannot be used: file, line, problem  2
    ├── UsageError         a command line that cannot be carried out                   2
    └── ClusterError       the cluster could not be used                               4
        └── Unreachable    no answer: refused, DNS, TLS, or a timeout                  3

Exit codes, the same for every verb:

    0   done; nothing found at or above --fail-on
    1   findings at or above --fail-on (lint, doctor, preflight), or the condition
        waited for cannot happen any more (wait)
    2   bad usage or bad input (one line naming file, line and what is wrong)
    3   the cluster could not be reached or did not answer in time
    4   the cluster answered with a refusal or an error (forbidden, unauthorised,
        conflict, invalid, server error)
    70  a bug in mlkube: a traceback, and a request to report it
    130 interrupted

The CLI turns each error into one line on stderr and its exit code; a traceback means a
bug in mlkube, never bad input.
"""

from __future__ import annotations

EXIT_FINDINGS = 1
EXIT_USAGE = 2
EXIT_UNREACHABLE = 3
EXIT_CLUSTER = 4
EXIT_BUG = 70
EXIT_INTERRUPTED = 130


class MlkubeError(Exception):
    """Base class of errors that are reported as one line, without a traceback."""

    exit_code = EXIT_USAGE


class InputError(MlkubeError):
    """Bad input, located at ``source:line``."""

    def __init__(self, source: str, line: int, message: str) -> None:
        super().__init__(f"{source}:{line}: {message}")
        self.source = source
        self.line = line
        self.message = message


class UsageError(MlkubeError):
    """A request that cannot be carried out as asked."""


class ClusterError(MlkubeError):
    """The cluster answered, but not with what was needed (refusal, error status)."""

    exit_code = EXIT_CLUSTER


class Unreachable(ClusterError):
    """The cluster did not answer: connection refused, name not found, TLS, timeout."""

    exit_code = EXIT_UNREACHABLE
