"""The local cluster's stand-in for a Deployment that mounts a ConfigMap and rolls when
it changes (`configmap_pod`): the file is the ConfigMap's text, and the process is
started once it exists and restarted on each change of that text, on nothing else."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from mlkube.localcluster.configmap_pod import Mount, Pod

# A process that runs until it is stopped, and reads nothing.
IDLE = [sys.executable, "-c", "import signal; signal.pause()"]


def current(pod: Pod) -> subprocess.Popen[bytes] | None:
    """The pod's process now (read through a call: it changes under the test)."""
    return pod.process


def configmap(text: str, **extra: str) -> dict[str, object]:
    return {"metadata": {"name": "rules"}, "data": {"config.yaml": text, **extra}}


def test_started_with_the_text_and_restarted_only_when_it_changes(tmp_path: Path) -> None:
    mount = Mount("monitoring", "rules", "config.yaml", tmp_path / "config.yaml")
    pod = Pod(mount, IDLE)
    try:
        pod.sync(mount.text(None))  # no ConfigMap yet: a pod waits for its volume
        assert current(pod) is None and not mount.file.exists()
        pod.sync(mount.text(configmap("rules: []\n")))
        first = current(pod)
        assert first is not None and first.poll() is None
        assert mount.file.read_text() == "rules: []\n"
        pod.sync(mount.text(configmap("rules: []\n", other="x")))  # another key
        assert current(pod) is first and pod.restarts == 0
        pod.sync(mount.text(configmap("rules: [{}]\n")))
        assert mount.file.read_text() == "rules: [{}]\n"
        assert first.poll() is not None  # stopped
        second = current(pod)
        assert second is not None and second.pid != first.pid
        assert pod.restarts == 1
        pod.sync(mount.text(None))  # deleted: the running process keeps its file
        assert current(pod) is second and second.poll() is None
        assert mount.file.read_text() == "rules: [{}]\n"
    finally:
        pod.stop()
    assert current(pod) is None and second.poll() is not None
