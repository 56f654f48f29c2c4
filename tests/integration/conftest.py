"""One local cluster for every integration test: the real control plane, KWOK GPU
nodes shaped like examples/platform.yaml, Kueue and the Training Operator.

Outside CI the tests skip when the binaries are not built yet (a cold build takes
tens of minutes); in CI (``CI=true``) they build them, and a skip is never allowed.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from types import FrameType

import pytest

from mlkube.cluster.client import Kube
from mlkube.cluster.kubeconfig import load_connection
from mlkube.localcluster import cluster, processes
from mlkube.localcluster.binaries import (
    CLUSTER,
    CPU_METRICS,
    GPU_METRICS,
    SERVING,
    cache_root,
    locate,
)
from mlkube.spec import load_platform

from ..conftest import EXAMPLES
from .waiting import until

# Unique per run, so two test runs on one machine never share (or tear down) a cluster.
# Its removal is guaranteed three ways: the fixture's `finally` (a pass, a failure, ^C);
# SIGTERM turned into KeyboardInterrupt, so that a terminated run tears down too; and,
# for what nothing in the process can catch (SIGKILL, a failed `up` that kept its logs
# to be read), the next run removes every test cluster whose run has ended.
PREFIX = "mlkube-test-"
NAME = f"{PREFIX}{os.getpid()}"


def _remove_ended_runs() -> None:
    clusters = cache_root() / "clusters"
    for root in clusters.glob(f"{PREFIX}*") if clusters.is_dir() else ():
        pid = root.name.removeprefix(PREFIX).split("-", 1)[0]  # and its "-side" clusters
        if pid.isdigit() and int(pid) != os.getpid() and not processes.alive(int(pid)):
            cluster.down(root.name, lambda _m: None)


def _interrupt(_signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt("SIGTERM")


def _say(message: str) -> None:
    print(f"[cluster] {message}")


def _cluster(name: str, *, serving: bool = False, cpu_metrics: bool = False) -> Iterator[Path]:
    """``serving``: with KServe and the GPU metrics pipeline; ``cpu_metrics``: with KServe
    and metrics-server on KWOK's resource usage (built on first use, also in CI)."""
    needed: tuple[str, ...] = CLUSTER + SERVING + GPU_METRICS if serving else CLUSTER
    needed += (SERVING + CPU_METRICS) if cpu_metrics else ()
    if locate(needed) is None and os.environ.get("CI") != "true":
        pytest.skip("cluster binaries not built: run tools/build.sh (CI builds them)")
    _remove_ended_runs()
    platform = load_platform(str(EXAMPLES / "platform.yaml"))
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        cluster.up(name, platform, _say, serving=serving or cpu_metrics, gpu_metrics=serving,
                   cpu_metrics=cpu_metrics)  # fmt: skip
        try:
            yield cluster.kubeconfig_path(name)
        finally:
            cluster.down(name, lambda _m: None)
    finally:
        signal.signal(signal.SIGTERM, previous)


@pytest.fixture(scope="session")
def local_cluster() -> Iterator[Path]:
    yield from _cluster(NAME)


@pytest.fixture(scope="session")
def serving_cluster() -> Iterator[Path]:
    """A second cluster, shaped the same, that also runs KServe's controller and the
    GPU metrics pipeline (`cluster up --serving --gpu-metrics`): only the tests that
    serve pay for it, and the serving and GPU autoscaling tests share it (one cluster
    fewer in CI)."""
    yield from _cluster(f"{NAME}-serving", serving=True)


@pytest.fixture(scope="module")
def cpu_metrics_cluster() -> Iterator[Path]:
    """A cluster for the module that asks, with KServe and metrics-server on KWOK's
    resource usage (`cluster up --serving --cpu-metrics`); metrics-server is not in
    `make binaries`: it is built on first use (in CI too)."""
    yield from _cluster(f"{NAME}-cpu", cpu_metrics=True)


@pytest.fixture
def kube(local_cluster: Path) -> Iterator[Kube]:
    with Kube(load_connection(str(local_cluster))) as client:
        yield client


Namespaces = Callable[[str], str]
"""The `namespaces` fixture: make a namespace that goes away with the test."""


@pytest.fixture
def namespaces(kube: Kube) -> Iterator[Namespaces]:
    """Make a namespace of the test's own: ``namespaces(name)``. After the test each is
    deleted with all it holds and awaited gone, so that the shared cluster is left as it
    was (no pod keeps a GPU another test needs) and the test can run again, in any
    order."""
    made: list[str] = []

    def make(name: str) -> str:
        kube.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
        made.append(name)
        return name

    yield make
    for name in made:
        kube.delete("v1", "Namespace", name)
    for name in made:
        until(f"namespace {name} removed", partial(_absent, kube, name), timeout=180, every=0.5)


def _absent(kube: Kube, name: str) -> bool:
    return kube.get("v1", "Namespace", name) is None
