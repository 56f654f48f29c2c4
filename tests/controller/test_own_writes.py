"""The controller's own writes come back to it on its watches: a pod it asked, a pod it
evicted, a node it cordoned. Such an echo changes nothing the plan reads, so it plans
nothing (at 100 nodes reclaimed they were thousands of plans in the record's window);
the same change made by someone else is planned as before. And the node work (cordon,
its Event) waits while any job's record is still being written."""

from __future__ import annotations

import copy
import threading
from typing import Any

from mlkube.controller.informer import Informer, key_of
from mlkube.controller.jobs import REQUEST_ANNOTATION, JobRef
from mlkube.controller.reconciler import Controller, NodeKey, Options
from mlkube.controller.signals import OBSERVED_ANNOTATION
from mlkube.wait import until

from .fakes import FakeKube
from .snapshots import node, pod

JOB = JobRef("kubeflow.org/v1", "PyTorchJob", "ml", "bert")
GKE = "cloud.google.com/impending-node-termination"  # 30 s: evicted at once (grace 105)
AWS = "aws-node-termination-handler/spot-itn"  # 120 s: evicted after 10 s


def pytorchjob() -> dict[str, Any]:
    return {"metadata": {"name": "bert", "namespace": "ml", "uid": "uid-bert",
                         "resourceVersion": "41", "annotations": {}}}  # fmt: skip


def controller(kube: FakeKube, taint: str, *, writers: int = 0) -> Controller:
    """bert's pods bert-0 on spot-1 (noticed: ``taint``) and bert-1 on spot-2 (quiet)."""
    ctl = Controller(kube, Options(writers=writers))  # type: ignore[arg-type]
    informer = Informer(kube, "kubeflow.org/v1", "PyTorchJob", lambda _e, _o: None,  # type: ignore[arg-type]
                        metadata_only=True)  # fmt: skip
    informer.store = {"ml/bert": pytorchjob()}
    ctl.jobs[("kubeflow.org/v1", "PyTorchJob")] = informer
    for n in (node("spot-1", taints=[{"key": taint, "effect": "NoSchedule"}]), node("spot-2")):
        ctl.nodes.store[n["metadata"]["name"]] = n
    for i in (0, 1):
        p = pod(f"bert-{i}", f"spot-{i + 1}")
        ctl.pods.store[key_of(p)] = p
        ctl._on_pod("ADDED", p)
    ctl._on_node("ADDED", ctl.nodes.store["spot-1"])
    return ctl


def drain(ctl: Controller) -> list[object]:
    """Reconcile every queued key, as the workers would; the keys, in order."""
    keys = []
    while len(ctl.queue):
        key = ctl.queue.get()
        keys.append(key)
        ctl.reconcile(key)
        ctl.queue.done(key)
    return keys


def modified(ctl: Controller, obj: dict[str, Any]) -> None:
    """``obj`` as the watch would bring it back: stored, then handed to the handler."""
    informer = ctl.nodes if obj["kind"] == "Node" else ctl.pods
    informer.store[key_of(obj)] = obj
    (ctl._on_node if obj["kind"] == "Node" else ctl._on_pod)("MODIFIED", obj)


def asked(ctl: Controller, name: str, request: str) -> dict[str, Any]:
    echo = copy.deepcopy(ctl.pods.store[f"ml/{name}"])
    echo["metadata"]["annotations"][REQUEST_ANNOTATION] = request
    return echo


def test_a_delivery_and_an_eviction_coming_back_plan_nothing() -> None:
    kube = FakeKube({})
    ctl = controller(kube, GKE)
    assert JOB in drain(ctl)
    [request] = ctl.state.record_of(JOB).requests  # type: ignore[union-attr]
    assert {n for k, n, _ in kube.patches if k == "Pod"} == {"bert-0", "bert-1"}
    assert ("evict", "Pod", "bert-0") in kube.calls  # GKE: at once
    for name in ("bert-0", "bert-1"):
        modified(ctl, asked(ctl, name, request.id))
    evicted = asked(ctl, "bert-0", request.id)
    evicted["metadata"]["deletionTimestamp"] = "2026-01-01T00:05:00Z"
    evicted["status"]["conditions"] = [{"type": "DisruptionTarget", "status": "True",
                                        "reason": "EvictionByEvictionAPI"}]  # fmt: skip
    modified(ctl, evicted)
    assert len(ctl.queue) == 0 and ctl.queue.delayed() == 0


def test_the_same_change_by_someone_else_is_planned() -> None:
    kube = FakeKube({})
    ctl = controller(kube, GKE)
    drain(ctl)
    modified(ctl, asked(ctl, "bert-0", "r-another"))  # not the id this process sent
    assert drain(ctl) == [JOB]


def test_a_cordon_coming_back_plans_the_node_not_its_jobs_and_a_new_notice_plans_both() -> None:
    kube = FakeKube({})
    ctl = controller(kube, AWS)
    drain(ctl)
    assert ("patch", "Node", "spot-1") in kube.calls  # the cordon
    echo = copy.deepcopy(ctl.nodes.store["spot-1"])
    echo["spec"]["unschedulable"] = True
    echo["metadata"]["annotations"][OBSERVED_ANNOTATION] = "2026-01-01T00:00:00.000000Z"
    modified(ctl, echo)
    assert drain(ctl) == [NodeKey("spot-1")]
    moved = copy.deepcopy(echo)
    moved["spec"]["taints"] = [{"key": GKE, "effect": "NoSchedule"}]  # now sooner
    modified(ctl, moved)
    assert set(drain(ctl)) == {JOB, NodeKey("spot-1")}


def test_without_a_taint_of_its_own_the_node_is_cordoned_at_once() -> None:
    """An Azure condition keeps no pod off the node: the cordon goes beside the record,
    before the evictions send the replacement pods looking for a node."""
    kube = FakeKube({})
    kube.gates["PyTorchJob"] = gate = threading.Event()
    ctl = controller(kube, AWS, writers=2)
    azure = node("spot-1", conditions=[{"type": "VMEventScheduled", "status": "True",
                                        "message": "Preempt: 2026-01-01T00:00:30Z"}])  # fmt: skip
    ctl.nodes.store["spot-1"] = azure
    ctl._on_node("MODIFIED", azure)
    try:
        assert ctl.queue.get() == JOB
        ctl.reconcile_job(JOB)  # the record, held at the gate
        ctl.queue.done(JOB)
        ctl.reconcile_node("spot-1")
        until("the cordon", lambda: ("patch", "Node", "spot-1") in kube.calls or None,
              timeout=10)  # fmt: skip
        assert not [c for c in kube.calls if c[1] == "PyTorchJob"]  # still at the gate
    finally:
        gate.set()
        ctl.stop()


def test_the_cordon_waits_while_a_record_is_being_written() -> None:
    kube = FakeKube({})
    kube.gates["PyTorchJob"] = gate = threading.Event()
    ctl = controller(kube, AWS, writers=2)
    try:
        assert ctl.queue.get() == JOB
        ctl.reconcile_job(JOB)  # the record (held at the gate) and the first pod
        ctl.queue.done(JOB)
        until("the first pod asked", lambda: ("patch", "Pod", "bert-1") in kube.calls or None,
              timeout=10)  # fmt: skip
        ctl.reconcile_node("spot-1")
        # Handed to the writers, held there: nothing written to the node yet.
        assert ctl.writes.pending() == 1
        assert not [c for c in kube.calls if c[1] == "Node"]
        gate.set()
        until("the cordon", lambda: ("patch", "Node", "spot-1") in kube.calls or None,
              timeout=10)  # fmt: skip
        order = [c[1] for c in kube.calls if c[0] == "patch" and c[1] != "Pod"]
        assert order == ["PyTorchJob", "Node"]
    finally:
        gate.set()
        ctl.stop()
