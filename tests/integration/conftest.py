"""One local cluster for every integration test: the real control plane, KWOK GPU
nodes shaped like examples/platform.yaml, Kueue and the Training Operator.

Outside CI the tests skip when the binaries are not built yet (a cold build takes
tens of minutes); in CI (``CI=true``) they build them, and a skip is never allowed.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from mlkube.cluster.client import Kube
from mlkube.cluster.kubeconfig import load_connection
from mlkube.localcluster import cluster
from mlkube.localcluster.binaries import locate
from mlkube.spec import load_platform

from ..conftest import EXAMPLES

# Unique per run, so two test runs on one machine never share (or tear down) a cluster.
NAME = f"mlkube-test-{os.getpid()}"


@pytest.fixture(scope="session")
def local_cluster() -> Iterator[Path]:
    if locate() is None and os.environ.get("CI") != "true":
        pytest.skip("cluster binaries not built: run tools/build.sh (CI builds them)")
    platform = load_platform(str(EXAMPLES / "platform.yaml"))
    cluster.up(NAME, platform, lambda m: print(f"[cluster] {m}"))
    try:
        yield cluster.kubeconfig_path(NAME)
    finally:
        cluster.down(NAME, lambda _m: None)


@pytest.fixture
def kube(local_cluster: Path) -> Iterator[Kube]:
    with Kube(load_connection(str(local_cluster))) as client:
        yield client
