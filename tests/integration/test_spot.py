"""The checkpoint controller on the local cluster, running as its own ServiceAccount
(the shipped RBAC, nothing more): every cloud's termination notice reaches the job,
the node is cordoned, the pods move and the job ends Succeeded; restarts, dropped
watches and two acting replicas still make exactly one request per job per notice."""

from __future__ import annotations

import signal
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from mlkube.cluster.apply import apply_objects
from mlkube.cluster.client import Kube
from mlkube.cluster.kubeconfig import load_connection
from mlkube.controller.manifests import bundle

from .jobs import delete_job, submit, wait_for
from .spot import (
    SIGNALS,
    ControllerProcess,
    add_spot_nodes,
    delivered,
    pods_of,
    record,
    renew_node,
    requested_events,
    running_nodes,
    serviceaccount_kubeconfig,
    spot_job,
    wait_until,
)

# GKE gives ordinary pods the first 15 s of its 30 s notice: the tightest window.
TIGHTEST_WINDOW = 15
EXPECTED_SIGNAL = {
    "aws": "aws-spot-interruption",
    "gke": "gke-impending-termination",
    "aks": "azure-scheduled-event",
    "onprem": "mlkube-terminate-at",
}


@dataclass
class Spot:
    kube: Kube
    kubeconfig: Path
    logs: Path
    signalled: set[str] = field(default_factory=set)
    jobs: list[str] = field(default_factory=list)
    controllers: list[ControllerProcess] = field(default_factory=list)

    def controller(self, name: str, *args: str) -> ControllerProcess:
        process = ControllerProcess.start(self.kubeconfig, self.logs / f"{name}.log", *args)
        self.controllers.append(process)
        return process

    def signal(self, cloud: str, node: str) -> float:
        self.signalled.add(node)
        SIGNALS[cloud](self.kube, node)
        return time.monotonic()


@pytest.fixture(scope="module")
def sa_kubeconfig(local_cluster: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    with Kube(load_connection(str(local_cluster))) as kube:
        path = tmp_path_factory.mktemp("controller") / "kubeconfig"
        serviceaccount_kubeconfig(kube, local_cluster, path)
        # Room for the replacement pods: four more spot nodes, gone after the module.
        extra = add_spot_nodes(kube, 10, 4)
        yield path
        for name in extra:
            kube.delete("v1", "Node", name)


@pytest.fixture
def spot(kube: Kube, sa_kubeconfig: Path, tmp_path: Path) -> Iterator[Spot]:
    state = Spot(kube, sa_kubeconfig, tmp_path)
    yield state
    for process in state.controllers:
        process.stop(signal.SIGKILL)
    for job in state.jobs:
        delete_job(kube, job)
    for node in state.signalled:
        if not node.startswith("a100-spot-1"):  # the module's extra nodes go later
            renew_node(kube, node)


def test_each_clouds_notice_reaches_the_job_and_the_job_moves_and_succeeds(spot: Spot) -> None:
    kube = spot.kube
    a, b = spot.controller("a"), spot.controller("b")  # leader election, as deployed
    wait_until("metrics served", lambda: a.ready() and b.ready(), 30)
    wait_until("one leader", lambda: a.metric("mlkube_leader") + b.metric("mlkube_leader") == 1)
    jobs = {cloud: f"spot-{cloud}" for cloud in SIGNALS}
    spot.jobs.extend(jobs.values())
    submit(kube, [spot_job(name) for name in jobs.values()])
    placed = {cloud: running_nodes(kube, name, 1) for cloud, name in jobs.items()}
    node_of = {cloud: next(iter(p.values())) for cloud, p in placed.items()}
    assert len(set(node_of.values())) == len(jobs)  # one job per signalled node
    signalled_at = {cloud: spot.signal(cloud, node_of[cloud]) for cloud in jobs}

    for cloud, name in jobs.items():
        (entry,) = wait_until(f"{name}: request recorded", lambda n=name: record(kube, n))
        took = time.monotonic() - signalled_at[cloud]
        assert took < TIGHTEST_WINDOW, f"{cloud}: {took:.1f}s"
        if cloud == "aws":  # evicted only 10 s after the notice: its pod is still there
            assert wait_until("aws pod asked", lambda n=name: delivered(kube, n)) == entry.id
        node = kube.get("v1", "Node", node_of[cloud]) or {}
        assert entry.notices == (f"node/{node['metadata']['uid']}",)
        assert entry.signal == EXPECTED_SIGNAL[cloud] and entry.nodes == (node_of[cloud],)
        wait_until(f"{node_of[cloud]} cordoned", lambda c=cloud: (kube.get(
            "v1", "Node", node_of[c]) or {}).get("spec", {}).get("unschedulable"))  # fmt: skip

    for cloud, name in jobs.items():
        old = placed[cloud]

        def moved(n: str = name, old: dict[str, str] = old) -> bool:
            placed = [p["spec"].get("nodeName") for p in pods_of(kube, n)]
            return all(placed) and bool(placed) and not set(placed) & set(old.values())

        wait_until(f"{name}: pods replaced off the reclaimed node", moved, 60)
        wait_for(kube, name, lambda s: s.phase == "Succeeded", 90)
        (event,) = requested_events(kube, name)
        assert "asked 1 pod(s)" in event["message"]
        assert len(record(kube, name)) == 1

    leader, standby = (a, b) if a.metric("mlkube_leader") == 1 else (b, a)
    assert leader.metric("mlkube_checkpoint_requests_total") == len(jobs)
    assert leader.metric("mlkube_evictions_total") == len(jobs)
    assert leader.metric("mlkube_checkpoint_deliveries_total") == len(jobs)  # one pod each
    assert standby.metric("mlkube_checkpoint_requests_total") == 0  # it only watched
    assert leader.stop() == 0  # SIGTERM: it hands the lease over
    wait_until("the standby takes over", lambda: standby.metric("mlkube_leader") == 1, 20)


def test_restarts_dropped_watches_and_two_acting_replicas_still_request_once(
    spot: Spot,
) -> None:
    kube = spot.kube
    # The worst case: both replicas act (no election), every watch ends after 2 s.
    churn = ("--no-leader-elect", "--watch-timeout", "2", "--resync", "1")
    a, b = spot.controller("a", *churn), spot.controller("b", *churn)
    wait_until("metrics served", lambda: a.ready() and b.ready(), 30)
    jobs = ["spot-r1", "spot-r2"]
    spot.jobs.extend(jobs)
    submit(kube, [spot_job(name, nodes=2, apart=False) for name in jobs])
    placed = {name: running_nodes(kube, name, 2) for name in jobs}
    nodes = sorted({node for pods in placed.values() for node in pods.values()})
    for node in nodes:
        spot.signal("aws", node)
    time.sleep(0.2)
    assert a.stop(signal.SIGKILL) != 0  # killed mid-flight, then restarted
    a = spot.controller("a-restarted", *churn)

    uids = {n: (kube.get("v1", "Node", n) or {})["metadata"]["uid"] for n in nodes}
    for name in jobs:  # before the evictions, 10 s after the notice, replace the pods
        wait_until(f"{name}: request on every pod", lambda n=name: delivered(kube, n), 8)
    for name in jobs:
        wait_for(kube, name, lambda s: s.phase == "Succeeded", 120)
        entries = record(kube, name)
        per_notice = Counter(key for entry in entries for key in entry.notices)
        expected = {f"node/{uids[n]}" for n in set(placed[name].values())}
        assert set(per_notice) == expected  # none missed
        assert set(per_notice.values()) == {1}  # none twice
        assert len(requested_events(kube, name)) == len(entries)
    wait_until("b saw its watches end", lambda: b.metric("mlkube_watch_restarts_total") >= 3, 10)


def test_the_shipped_deployment_is_accepted_by_the_api_server(
    kube: Kube, sa_kubeconfig: Path
) -> None:
    applied = apply_objects(kube, bundle(), dry_run=True)
    assert {a.kind for a in applied} >= {"Deployment", "ClusterRole", "PodDisruptionBudget"}
