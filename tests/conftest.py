from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

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


def token_kubeconfig(directory: Path, server: str, ca: Path | None = None) -> Path:
    """A kubeconfig with one cluster at ``server`` (context ``far-away``) and a token
    user: for servers that refuse, stall or never answer."""
    cluster: dict[str, object] = {"server": server}
    if ca:
        cluster["certificate-authority"] = str(ca)
    else:
        cluster["insecure-skip-tls-verify"] = True
    path = directory / "kubeconfig"
    path.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "far-away",
        "clusters": [{"name": "far", "cluster": cluster}],
        "users": [{"name": "me", "user": {"token": "t"}}],
        "contexts": [{"name": "far-away", "context": {"cluster": "far", "user": "me"}}],
    }))  # fmt: skip
    return path


@pytest.fixture
def deaf_listener() -> Iterator[int]:
    """A port that listens, so the kernel completes TCP handshakes, but is never read
    from: a server that accepts and never says a word."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(16)
        yield s.getsockname()[1]
