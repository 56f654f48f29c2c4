from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
DEMO = ROOT / "demo"


@dataclass
class Result:
    code: int
    out: str
    err: str


Run = Callable[..., Result]


@pytest.fixture
def mlkube() -> Run:
    """Run the real CLI in a subprocess, as a user would."""

    def run(
        *args: str,
        stdin: bytes | None = None,
        cwd: Path | None = None,
        kubeconfig: Path | None = None,
    ) -> Result:
        env = {**os.environ, "KUBECONFIG": str(kubeconfig)} if kubeconfig else None
        proc = subprocess.run(
            [sys.executable, "-m", "mlkube", *args],
            input=stdin,
            capture_output=True,
            cwd=cwd,
            env=env,
            timeout=300,
            check=False,
        )
        return Result(proc.returncode, proc.stdout.decode(), proc.stderr.decode())

    return run
