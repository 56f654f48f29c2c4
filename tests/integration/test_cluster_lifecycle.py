"""Two local clusters side by side, and `down` leaving nothing behind."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from mlkube.localcluster import cluster, processes

from .conftest import NAME


def _mlkube(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mlkube", *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )


def test_second_cluster_runs_beside_the_first_and_down_leaves_nothing(local_cluster: Path) -> None:
    other = "mlkube-test-side"
    up = _mlkube("cluster", "up", "--name", other)
    assert up.returncode == 0, up.stderr
    assert up.stdout.strip() == f"export KUBECONFIG={cluster.kubeconfig_path(other)}"
    try:
        first = json.loads(_mlkube("cluster", "status", "--name", NAME, "-o", "json").stdout)
        second = json.loads(_mlkube("cluster", "status", "--name", other, "-o", "json").stdout)
        assert first["server"] != second["server"]
        assert all(c["running"] for c in first["components"].values())
        assert all(c["running"] for c in second["components"].values())
        assert first["nodes"]["ready"] == first["nodes"]["total"] > 0
        assert second["nodes"] == {"total": 0, "ready": 0}
        state = cluster.running(other)
        assert state is not None
    finally:
        down = _mlkube("cluster", "down", "--name", other)
    assert down.returncode == 0
    assert not cluster.cluster_root(other).exists()
    for pid, binary in state.processes.values():
        assert not processes.alive(pid, binary)
        assert not os.path.exists(f"/proc/{pid}") or not processes.alive(pid)
    assert cluster.running(NAME) is not None  # the first one is untouched
    missing = _mlkube("cluster", "status", "--name", other)
    assert missing.returncode == 2 and "no local cluster named" in missing.stderr
