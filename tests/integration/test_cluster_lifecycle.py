"""Two local clusters side by side, and `down` leaving nothing behind."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from mlkube.localcluster import cluster, processes

from ..conftest import Run
from .conftest import NAME


def test_second_cluster_runs_beside_the_first_and_down_leaves_nothing(
    local_cluster: Path, mlkube: Run
) -> None:
    other = f"{NAME}-side"
    up = mlkube("cluster", "up", "--name", other)
    assert up.code == 0, up.err
    assert up.out.strip() == f"export KUBECONFIG={cluster.kubeconfig_path(other)}"
    # piped, `up` is quiet: the last line only (tests/integration/test_cluster_up_progress.py)
    assert len(up.err.splitlines()) == 1 and up.err.startswith(f"mlkube: cluster {other!r} up in")
    try:
        first = json.loads(mlkube("cluster", "status", "--name", NAME, "-o", "json").out)
        second = json.loads(mlkube("cluster", "status", "--name", other, "-o", "json").out)
        assert first["server"] != second["server"]
        assert all(c["running"] for c in first["components"].values())
        assert all(c["running"] for c in second["components"].values())
        assert first["nodes"]["ready"] == first["nodes"]["total"] > 0
        assert second["nodes"] == {"total": 0, "ready": 0}
        state = cluster.running(other)
        assert state is not None
    finally:
        down = mlkube("cluster", "down", "--name", other)
    assert down.code == 0
    assert not cluster.cluster_root(other).exists()
    for pid, binary in state.processes.values():
        assert not processes.alive(pid, binary)
        assert not os.path.exists(f"/proc/{pid}") or not processes.alive(pid)
    assert cluster.running(NAME) is not None  # the first one is untouched
    missing = mlkube("cluster", "status", "--name", other)
    assert missing.code == 2 and "no local cluster named" in missing.err


@pytest.mark.parametrize(
    ("flag", "missing"),
    [
        ("--serving", "without KServe"),
        ("--gpu-metrics", "without the GPU metrics pipeline"),
        ("--cpu-metrics", "without metrics-server"),
    ],
)
def test_up_with_a_flag_the_running_cluster_lacks_is_refused(
    local_cluster: Path, mlkube: Run, flag: str, missing: str
) -> None:
    """The shared cluster runs neither KServe nor a metrics pipeline: `up` with any of
    these flags must not answer "already running" as if it had them, but say how."""
    before = cluster.running(NAME)
    assert before is not None
    result = mlkube("cluster", "up", "--name", NAME, flag)
    assert result.code == 2
    assert result.err == (
        f"mlkube: cluster {NAME!r} is running {missing}; `mlkube cluster down --name {NAME}` "
        f"it, then `up {flag}`\n"
    )
    assert cluster.running(NAME) == before  # untouched
