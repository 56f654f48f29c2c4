"""The checkpoint controller on the local cluster, running as its own ServiceAccount
(the shipped RBAC, nothing more): every cloud's termination notice reaches the job,
the node is cordoned, the pods move and the job ends Succeeded; restarts, dropped
watches and two acting replicas still make exactly one request per job per notice."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import pytest
import yaml

from mlkube.cluster.apply import apply_objects
from mlkube.cluster.client import Kube
from mlkube.cluster.kubeconfig import load_connection
from mlkube.controller.informer import Informer
from mlkube.controller.leader import LeaderElector, LeaseRefused, Timing
from mlkube.controller.manifests import bundle, cluster_rules
from mlkube.controller.signals import parse_time
from mlkube.errors import EXIT_CLUSTER, EXIT_UNREACHABLE

from .jobs import delete_job, pods_of, submit, wait_for
from .spot import (
    SIGNALS,
    ControllerProcess,
    TcpProxy,
    add_spot_nodes,
    record,
    renew_node,
    requested_events,
    restricted_account,
    running_nodes,
    serviceaccount_kubeconfig,
    spot_job,
    token_kubeconfig,
    with_server,
)
from .waiting import until

REFUSAL_WINDOW = 20  # seconds; the controller runs with --refused-retry 5
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

    def signal(self, cloud: str, node: str) -> None:
        self.signalled.add(node)
        SIGNALS[cloud](self.kube, node)


def _cordoned(kube: Kube, node: str) -> bool:
    return bool((kube.get("v1", "Node", node) or {}).get("spec", {}).get("unschedulable"))


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
    until("metrics served", lambda: a.ready() and b.ready(), 30)
    until("one leader", lambda: a.metric("mlkube_leader") + b.metric("mlkube_leader") == 1)
    jobs = {cloud: f"spot-{cloud}" for cloud in SIGNALS}
    spot.jobs.extend(jobs.values())
    submit(kube, [spot_job(name) for name in jobs.values()])
    placed = {cloud: running_nodes(kube, name, 1) for cloud, name in jobs.items()}
    node_of = {cloud: next(iter(p.values())) for cloud, p in placed.items()}
    assert len(set(node_of.values())) == len(jobs)  # one job per signalled node
    for cloud in jobs:
        spot.signal(cloud, node_of[cloud])

    requested_at = {}
    for cloud, name in jobs.items():
        (entry,) = until(f"{name}: request recorded", partial(record, kube, name))
        requested_at[name] = parse_time(entry.at)
        node = kube.get("v1", "Node", node_of[cloud]) or {}
        assert entry.notices == (f"node/{node['metadata']['uid']}",)
        assert entry.signal == EXPECTED_SIGNAL[cloud] and entry.nodes == (node_of[cloud],)
        until(f"{node_of[cloud]} cordoned", partial(_cordoned, kube, node_of[cloud]))

    for cloud, name in jobs.items():
        old = placed[cloud]

        def moved(n: str = name, old: dict[str, str] = old) -> bool:
            placed = [p["spec"].get("nodeName") for p in pods_of(kube, n)]
            return all(placed) and bool(placed) and not set(placed) & set(old.values())

        until(f"{name}: pods replaced off the reclaimed node", moved, 60)
        # The order that matters: the request was made before the pods were replaced
        # (how fast is measured in bench/spot_scale.py, not here).
        # creationTimestamp has whole seconds: compare the request's time at that grain.
        created = [parse_time(p["metadata"]["creationTimestamp"]) for p in pods_of(kube, name)]
        at = requested_at[name]
        assert at is not None
        assert all(c is not None and at.replace(microsecond=0) <= c for c in created), created
        done = wait_for(kube, name, lambda s: s.phase == "Succeeded", 90)
        (event,) = requested_events(kube, name)
        assert event["involvedObject"]["kind"] == "TrainJob"
        assert "asked 1 pod(s)" in event["message"]
        assert len(record(kube, name)) == 1
        # Resumed by a JobSet restart that its budget did not pay for: the evicted pod's
        # DisruptionTarget failed its Job (podFailurePolicy), and the runtime's rule
        # restarted the JobSet with RestartJobSetAndIgnoreMaxRestarts.
        assert done.restarts == 1
        jobset = kube.get("jobset.x-k8s.io/v1alpha2", "JobSet", name, "ml-training") or {}
        assert jobset["status"].get("restartsCountTowardsMax", 0) == 0

    leader, standby = (a, b) if a.metric("mlkube_leader") == 1 else (b, a)
    assert leader.metric("mlkube_checkpoint_requests_total") == len(jobs)
    assert leader.metric("mlkube_evictions_total") == len(jobs)
    assert leader.metric("mlkube_checkpoint_deliveries_total") == len(jobs)  # one pod each
    assert standby.metric("mlkube_checkpoint_requests_total") == 0  # it only watched
    assert leader.stop() == 0  # SIGTERM: it hands the lease over
    until("the standby takes over", lambda: standby.metric("mlkube_leader") == 1, 20)


def test_restarts_dropped_watches_and_two_acting_replicas_still_request_once(
    spot: Spot,
) -> None:
    kube = spot.kube
    # The worst case: both replicas act (no election), every watch ends after 2 s.
    churn = ("--no-leader-elect", "--watch-timeout", "2", "--resync", "1")
    a, b = spot.controller("a", *churn), spot.controller("b", *churn)
    until("metrics served", lambda: a.ready() and b.ready(), 30)
    jobs = ["spot-r1", "spot-r2"]
    spot.jobs.extend(jobs)
    submit(kube, [spot_job(name, nodes=2, apart=False) for name in jobs])
    placed = {name: running_nodes(kube, name, 2) for name in jobs}
    nodes = sorted({node for pods in placed.values() for node in pods.values()})
    for node in nodes:
        spot.signal("aws", node)
    # Killed mid-flight (once the first request is on record), then restarted.
    until("a first request", lambda: any(record(kube, n) for n in jobs))
    assert a.stop(signal.SIGKILL) != 0
    a = spot.controller("a-restarted", *churn)

    uids = {n: (kube.get("v1", "Node", n) or {})["metadata"]["uid"] for n in nodes}
    for name in jobs:
        # Both pods were asked, whichever replica did it: the Event counts the pods that
        # carry the request (written after the deliveries, before the evictions). One
        # request per notice, so a job on two noticed nodes may have two.
        events = until(f"{name}: announced", partial(requested_events, kube, name))
        assert any("asked 2 pod(s)" in e["message"] for e in events), events
    for name in jobs:
        wait_for(kube, name, lambda s: s.phase == "Succeeded", 120)
        entries = record(kube, name)
        per_notice = Counter(key for entry in entries for key in entry.notices)
        expected = {f"node/{uids[n]}" for n in set(placed[name].values())}
        assert set(per_notice) == expected  # none missed
        assert set(per_notice.values()) == {1}  # none twice
        assert len(requested_events(kube, name)) == len(entries)
    until("b saw its watches end", lambda: b.metric("mlkube_watch_restarts_total") >= 3, 10)


def test_the_shipped_deployment_is_accepted_by_the_api_server(
    kube: Kube, sa_kubeconfig: Path
) -> None:
    applied = apply_objects(kube, bundle(), dry_run=True)
    assert {a.kind for a in applied} >= {"Deployment", "ClusterRole", "PodDisruptionBudget"}


# the controller when the cluster refuses or fails ------------------------------------


def test_a_missing_lease_namespace_ends_the_controller_naming_it(
    local_cluster: Path, tmp_path: Path
) -> None:
    missing = f"mlkube-missing-{os.getpid()}"
    process = ControllerProcess.start(local_cluster, tmp_path / "c.log",
                                      "--lease-namespace", missing)  # fmt: skip
    code = process.process.wait(timeout=30)  # a generous bound: it used to retry forever
    assert code == EXIT_CLUSTER, process.output()
    (line,) = process.errors()
    assert f"the lease namespace {missing!r} does not exist" in line
    assert "--lease-namespace" in line  # and what to do about it
    assert "Traceback" not in process.output()


def test_no_right_to_take_the_lease_ends_the_controller_naming_it(
    sa_kubeconfig: Path, tmp_path: Path
) -> None:
    # The shipped Role grants the Lease in the controller's namespace only.
    process = ControllerProcess.start(sa_kubeconfig, tmp_path / "c.log",
                                      "--lease-namespace", "default")  # fmt: skip
    assert process.process.wait(timeout=30) == EXIT_CLUSTER, process.output()
    (line,) = process.errors()
    assert "not allowed to get the Lease default/mlkube-controller" in line
    assert "mlkube controller manifests" in line


@pytest.fixture
def no_patch_on_jobs(
    kube: Kube, local_cluster: Path, tmp_path: Path
) -> Iterator[tuple[Path, list[dict[str, Any]]]]:
    """A ServiceAccount with the controller's ClusterRole minus patch on the training
    kinds: every record write is a 403."""
    rules = [
        {**r, "verbs": [v for v in r["verbs"] if v != "patch"]}
        if r["apiGroups"] in (["kubeflow.org"], ["trainer.kubeflow.org"]) else r
        for r in cluster_rules()
    ]  # fmt: skip
    name = "mlkube-controller-no-patch"
    objs = restricted_account(kube, name, rules)
    path = token_kubeconfig(kube, local_cluster, tmp_path / "no-patch", name)
    yield path, objs
    for obj in reversed(objs):
        meta = obj["metadata"]
        kube.delete(obj["apiVersion"], obj["kind"], meta["name"], meta.get("namespace"))


def test_a_forbidden_record_is_reported_once_paused_and_made_once_rbac_is_fixed(
    spot: Spot, no_patch_on_jobs: tuple[Path, list[dict[str, Any]]]
) -> None:
    kube = spot.kube
    kubeconfig, objs = no_patch_on_jobs
    process = ControllerProcess.start(
        kubeconfig, spot.logs / "no-patch.log", "--no-leader-elect",
        "--resync", "1", "--refused-retry", "5",
    )  # fmt: skip
    spot.controllers.append(process)
    until("metrics served", process.ready, 30)
    name = "spot-forbidden"
    spot.jobs.append(name)
    submit(kube, [spot_job(name)])
    (node,) = running_nodes(kube, name, 1).values()
    spot.signal("aws", node)

    def refused() -> list[dict[str, Any]]:
        return [e for e in kube.list("v1", "Event", "ml-training")
                if e.get("reason") == "ReconcileRefused"
                and e["involvedObject"]["name"] == name]  # fmt: skip

    (event,) = until(f"{name}: refusal reported", refused, 60)
    assert event["type"] == "Warning" and "403" in event["message"]
    assert "patch" in event["message"]  # the verb that is missing
    # A window of 20 s with a resync every second and pod events: the pause holds the
    # job back, so a handful of tries (one per 5 s), not one per event or per second.
    before = process.metric("mlkube_reconcile_refusals_total")
    time.sleep(REFUSAL_WINDOW)  # not a synchronisation: the window the tries are counted in
    tries = process.metric("mlkube_reconcile_refusals_total") - before
    assert 2 <= tries <= 6, tries  # it does try again (so a fix is picked up), rarely
    assert len(refused()) == 1  # one Event, however often it tried
    lines = [line for line in process.output().splitlines()
             if "the API server refused" in line and name in line]  # fmt: skip
    assert len(lines) == 1, lines  # one log line naming the object
    assert record(kube, name) == []  # nothing recorded: it cannot write the job

    # The operator fixes the RBAC: the next try makes the request, once.
    role = next(o for o in objs if o["kind"] == "ClusterRole")
    apply_objects(kube, [{**role, "rules": cluster_rules()}])
    (entry,) = until(f"{name}: request recorded", lambda: record(kube, name), 60)
    assert entry.signal == "aws-spot-interruption" and entry.nodes == (node,)
    wait_for(kube, name, lambda s: s.phase == "Succeeded", 120)
    assert len(record(kube, name)) == 1  # exactly one request for the one notice
    assert len(requested_events(kube, name)) == 1
    assert process.metric("mlkube_checkpoint_requests_total") == 1
    assert "reconciled again after a refusal" in process.output()


@pytest.fixture
def proxy(local_cluster: Path) -> Iterator[TcpProxy]:
    server = yaml.safe_load(local_cluster.read_text())["clusters"][0]["cluster"]["server"]
    p = TcpProxy(server)
    yield p
    p.close()


def test_sigterm_against_a_server_that_stopped_answering_stops_at_once(
    local_cluster: Path, proxy: TcpProxy, tmp_path: Path
) -> None:
    config = with_server(local_cluster, proxy.address, tmp_path / "via-proxy")
    process = ControllerProcess.start(config, tmp_path / "c.log", "--no-leader-elect")
    try:
        until("metrics served", process.ready, 30)
        until("caches synced", lambda: "caches synced" in process.output(), 30)
        proxy.go_silent()  # every open watch and request now hangs
        # A generous bound for a behaviour: it stops promptly (it took about 140 s).
        assert process.stop(signal.SIGTERM, timeout=20) == 0
    finally:
        if process.process.poll() is None:
            process.stop(signal.SIGKILL)
    assert "Traceback" not in process.output()


def test_a_server_that_goes_away_ends_the_controller_with_exit_3(
    local_cluster: Path, proxy: TcpProxy, tmp_path: Path
) -> None:
    config = with_server(local_cluster, proxy.address, tmp_path / "via-proxy")
    process = ControllerProcess.start(config, tmp_path / "c.log", "--no-leader-elect",
                                      "--give-up-after", "5")  # fmt: skip
    try:
        until("caches synced", lambda: "caches synced" in process.output(), 30)
        proxy.close()  # refused from now on, mid-run
        assert process.process.wait(timeout=60) == EXIT_UNREACHABLE, process.output()
    finally:
        if process.process.poll() is None:
            process.stop(signal.SIGKILL)
    (line,) = process.errors()
    assert "no answer for" in line and "giving up" in line
    assert "Traceback" not in process.output()


def test_watches_resume_from_their_version_after_an_end_or_a_dropped_connection(
    kube: Kube, local_cluster: Path, proxy: TcpProxy, tmp_path: Path
) -> None:
    config = with_server(local_cluster, proxy.address, tmp_path / "via-proxy")
    seen: list[tuple[str, str]] = []
    restarts: list[str] = []
    with Kube(load_connection(str(config))) as proxied:
        informer = Informer(proxied, "v1", "ConfigMap",
                            lambda e, o: seen.append((e, o["metadata"]["name"])),
                            watch_timeout=3, on_restart=restarts.append)  # fmt: skip
        thread = threading.Thread(target=informer.run, daemon=True)
        thread.start()
        try:
            assert informer.synced.wait(30)
            until("three watches ended and resumed", lambda: len(restarts) >= 3, 60)
            proxy.cut()  # the open watch breaks mid-stream
            # written directly, not through the proxy: only the watch is cut
            name = f"resume-{os.getpid()}"
            kube.create({"apiVersion": "v1", "kind": "ConfigMap",
                         "metadata": {"name": name, "namespace": "default"}})  # fmt: skip
            try:
                until("the change seen after the break",
                           lambda: ("ADDED", name) in seen, 60)  # fmt: skip
            finally:
                kube.delete("v1", "ConfigMap", name, "default")
            assert informer.relists == 1  # resumed every time, never listed again
        finally:
            _stop(informer, thread)


def test_bookmarks_are_counted_and_reach_no_handler(kube: Kube) -> None:
    # The watch cache sends a watch that asked for them a bookmark shortly before its
    # timeout and about once a minute, carrying its newest resourceVersion, which only
    # moves on when something is written. Leases are: the control plane renews its
    # own every 2 s. (A quiet kind got no bookmark in 90 s in one run: no new version.)
    seen: list[str] = []
    informer = Informer(kube, "coordination.k8s.io/v1", "Lease",
                        lambda e, _o: seen.append(e), watch_timeout=10)  # fmt: skip
    thread = threading.Thread(target=informer.run, daemon=True)
    thread.start()
    try:
        assert informer.synced.wait(30)
        until("a bookmark", lambda: informer.bookmarks >= 1, 130, every=1)
        assert "BOOKMARK" not in seen  # counted, kept as the version, never handled
        assert informer.relists == 1
    finally:
        _stop(informer, thread)


def _stop(informer: Informer, thread: threading.Thread) -> None:
    """Stop the informer and wait for its thread: one left reading after its client is
    closed reads from a recycled file descriptor, the next test's TLS connection (seen
    as DECRYPTION_FAILED_OR_BAD_RECORD_MAC in a later test, in a shuffled order)."""
    informer.stop()
    thread.join(informer.watch_timeout + 30)  # its open watch ends by the server's timeout
    assert not thread.is_alive(), "the informer did not stop"


def test_a_lease_the_api_server_calls_invalid_is_an_error_not_a_lost_race(kube: Kube) -> None:
    # The record holds whole seconds: a 0.9 s lease is written as 0, which the API
    # server's Lease validation rejects (422, "must be greater than 0"). Before, a 422
    # read as "someone else got there first", and the candidate waited forever.
    elector = LeaderElector(kube, "default", f"invalid-{os.getpid()}", "me",
                            Timing(lease=0.9, renew_deadline=0.5, retry=0.4))  # fmt: skip
    with pytest.raises(LeaseRefused, match=r"rejected the Lease .* as invalid"):
        elector.try_once()
    assert not elector.leading.is_set()
    assert kube.get("coordination.k8s.io/v1", "Lease", elector.name, "default") is None


def test_the_soonest_notice_is_recorded_first_and_every_pod_asked(spot: Spot) -> None:
    """Three jobs noticed before the controller starts, with one worker: GKE's 30 s
    window is recorded before AWS's 120 s ones, whatever order the caches filled in
    (in arrival order it would come first one time in three)."""
    kube = spot.kube
    jobs = {"spot-o1": "aws", "spot-o2": "gke", "spot-o3": "aws"}
    spot.jobs.extend(jobs)
    submit(kube, [spot_job(name) for name in jobs])
    node_of = {name: next(iter(running_nodes(kube, name, 1).values())) for name in jobs}
    for name, cloud in jobs.items():
        spot.signal(cloud, node_of[name])
    ctl = spot.controller("ordered", "--no-leader-elect", "--workers", "1")
    entries = {
        name: until(f"{name}: request recorded", partial(record, kube, name), 60)[0]
        for name in jobs
    }
    at = {n: t for n, entry in entries.items() if (t := parse_time(entry.at)) is not None}
    assert entries["spot-o2"].signal == "gke-impending-termination"
    assert len(at) == len(jobs) and min(at, key=at.__getitem__) == "spot-o2", at
    for name in jobs:
        # Every pod asked (the Event counts them) and exactly one request each.
        events = until(f"{name}: announced", partial(requested_events, kube, name), 60)
        assert [e["message"].count("asked 1 pod(s)") for e in events] == [1]
        assert len(record(kube, name)) == 1
    assert ctl.metric("mlkube_checkpoint_requests_total") == len(jobs)
