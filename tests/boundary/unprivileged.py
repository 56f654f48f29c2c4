"""Running the CLI as a user whom permissions apply to.

Root reads and writes through any mode bits, so a file of mode 000 tests nothing when
the suite runs as root (as it does in the CI container). There the CLI runs as
``nobody`` through ``setpriv``; as any other user it runs as that user. A test that
cannot get an unprivileged user is skipped, saying so: it would prove nothing.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .runner import Outcome

SETPRIV = shutil.which("setpriv")


def _prefix() -> list[str]:
    if os.geteuid() != 0:
        return []
    if SETPRIV is None:
        pytest.skip("running as root without setpriv: mode bits cannot be tested")
    return [SETPRIV, "--reuid=nobody", "--regid=nogroup", "--clear-groups"]


def run_unprivileged(*args: str, cwd: Path, extra: list[str] | None = None) -> Outcome:
    """``mlkube *args`` in a subprocess as an unprivileged user, in ``cwd``."""
    proc = subprocess.run(
        [*_prefix(), *(extra or []), sys.executable, "-m", "mlkube", *args],
        capture_output=True,
        cwd=cwd,
        timeout=120,
        check=False,
    )
    return Outcome(proc.returncode, proc.stdout.decode(), proc.stderr.decode())
