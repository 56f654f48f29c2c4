"""`mlkube cluster up` on a terminal: one line redrawn with the step just done and the
time so far (of the last up's, once there was one); the export line on stdout as ever."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from mlkube.localcluster import cluster

from ..terminal import read_terminal
from .conftest import NAME


def test_up_on_a_terminal_shows_its_steps_on_one_line(local_cluster: Path) -> None:
    other = f"{NAME}-tty"
    env = {k: v for k, v in os.environ.items() if k != "MLKUBE_PROGRESS"}
    master, slave = os.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "mlkube", "cluster", "up", "--name", other],
        stdout=subprocess.PIPE, stderr=slave, env=env,
    )  # fmt: skip
    os.close(slave)
    try:
        seen = read_terminal(master)
        out, _ = proc.communicate(timeout=600)
    finally:
        os.close(master)
        subprocess.run([sys.executable, "-m", "mlkube", "cluster", "down", "--name", other],
                       capture_output=True, check=False, timeout=300)  # fmt: skip
    shown = seen.decode()
    assert proc.returncode == 0, shown
    assert out.decode().strip() == f"export KUBECONFIG={cluster.kubeconfig_path(other)}"
    assert "\r\x1b[Kcluster up: " in shown
    assert " ready (" in shown  # a step, as cluster.up reports it: "etcd ready (1.2s, pid 7)"
    # the line is taken away, and the summary printed where it was
    assert f"\r\x1b[Kmlkube: cluster {other!r} up in " in shown
    assert shown.count("\n") == 1
