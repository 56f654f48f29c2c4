"""What the controller keeps of each Pod and Node (controller/projection.py): the plan,
the deliveries, the evictions and the views of its own writes must read the same from
the kept object as from the whole one, and the kept object must be small.

The whole objects start from a Pod and a Node as kube-apiserver v1.37.2 returned them
(fixtures/, taken from the local cluster of bench/spot_scale.py with
``kubectl get -o json --show-managed-fields``; KWOK runs them), each scenario changing
only what it is about."""

from __future__ import annotations

import copy
import gc
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from mlkube.controller import projection
from mlkube.controller.informer import Informer
from mlkube.controller.jobs import REQUEST_ANNOTATION, Request, job_of, request_id
from mlkube.controller.metrics import Metrics
from mlkube.controller.plan import first_to_ask, grace, live, plan_job
from mlkube.controller.signals import node_notice, observed_at, pod_disruption

FIXTURES = Path(__file__).with_name("fixtures")
NOW = datetime(2026, 12, 7, 19, 30, tzinfo=UTC)
BEFORE = "2026-12-07T19:00:00Z"


def real(name: str) -> dict[str, Any]:
    obj: dict[str, Any] = json.loads((FIXTURES / name).read_text())
    return obj


def a_node(name: str, **change: Any) -> dict[str, Any]:
    node = real("node-kwok.json")
    node["metadata"].update(name=name, uid=f"uid-{name}")
    if "taint" in change:
        node.setdefault("spec", {})["taints"] = [
            {"key": change["taint"], "value": "x", "effect": "NoSchedule"}
        ]
    if "condition" in change:
        node["status"]["conditions"].append(change["condition"])
    node["metadata"].setdefault("annotations", {}).update(change.get("annotations", {}))
    return node


def a_pod(name: str, node: str, **change: Any) -> dict[str, Any]:
    pod = real("pod-running.json")
    meta = pod["metadata"]
    meta.update(name=name, uid=f"uid-{name}", creationTimestamp=change.get("created", BEFORE))
    pod["spec"]["nodeName"] = node
    meta.setdefault("annotations", {}).update(change.get("annotations", {}))
    if change.get("deleting"):
        meta["deletionTimestamp"] = "2026-12-07T19:29:00Z"
    if "phase" in change:
        pod["status"]["phase"] = change["phase"]
    if "condition" in change:
        pod["status"]["conditions"].append(change["condition"])
    return pod


def scenarios() -> list[tuple[str, list[dict[str, Any]], list[dict[str, Any]], list[Request]]]:
    """(what, pods, nodes, record): every field the plan reads matters in one of them."""
    aws = "aws-node-termination-handler/spot-itn"
    azure = {"type": "VMEventScheduled", "status": "True", "reason": "VMEventScheduled",
             "message": "Preempt: 2026-12-07T19:30:30Z"}  # fmt: skip
    on_prem = {"mlkube.dev/terminate-at": "2026-12-07T19:35:00Z"}
    disrupted = {"type": "DisruptionTarget", "status": "True", "reason": "PreemptionByScheduler",
                 "message": "Kueue preempted it"}  # fmt: skip
    quiet = a_node("quiet")
    earlier = Request(request_id("uid-job", ("node/uid-aws",)), ("node/uid-aws",),
                      "aws-spot-interruption", ("aws",), BEFORE)  # fmt: skip
    tainted = a_node("aws", taint=aws)
    return [
        ("an AWS taint", [a_pod("m", "aws"), a_pod("w", "quiet")], [tainted, quiet], []),
        ("an AKS condition", [a_pod("m", "azure"), a_pod("w", "quiet")],
         [a_node("azure", condition=azure), quiet], []),
        ("the on-prem annotation", [a_pod("m", "dc"), a_pod("w", "quiet")],
         [a_node("dc", annotations=on_prem), quiet], []),
        ("a pod's DisruptionTarget",
         [a_pod("m", "quiet", condition=disrupted), a_pod("w", "quiet")], [quiet], []),
        ("ended and ending pods",
         [a_pod("m", "aws", phase="Succeeded"), a_pod("w", "aws", deleting=True),
          a_pod("x", "quiet")], [tainted, quiet], []),
        ("a replacement made after the request, one pod already asked",
         [a_pod("m", "aws", annotations={REQUEST_ANNOTATION: earlier.id}),
          a_pod("new", "quiet", created="2026-12-07T19:10:00Z"), a_pod("w", "quiet")],
         [tainted, quiet], [earlier]),
    ]  # fmt: skip


def summary(plan: Any) -> tuple[Any, ...]:
    names = [p["metadata"]["name"] for p in plan.deliver]
    return (plan.request, plan.current, names, [p["metadata"]["name"] for p in plan.evict],
            plan.wake_at)  # fmt: skip


@pytest.mark.parametrize(
    "what, pods, nodes, record", scenarios(), ids=lambda v: v if isinstance(v, str) else ""
)
def test_the_plan_reads_the_same_from_what_is_kept(
    what: str, pods: list[dict[str, Any]], nodes: list[dict[str, Any]], record: list[Request]
) -> None:
    kept_pods = [projection.pod(p) for p in pods]
    kept_nodes = [projection.node(n) for n in nodes]
    by_name = {n["metadata"]["name"]: n for n in nodes}
    kept_by_name = {n["metadata"]["name"]: n for n in kept_nodes}
    observed = {name: NOW - timedelta(seconds=5) for name in by_name}
    whole = plan_job("uid-job", pods, by_name, record, observed=observed, now=NOW)
    kept = plan_job("uid-job", kept_pods, kept_by_name, record, observed=observed, now=NOW)
    assert not whole.idle, what  # the scenario is a notice
    assert summary(kept) == summary(whole)
    if whole.deliver:
        assert first_to_ask(kept, kept_by_name)["metadata"]["name"] == \
            first_to_ask(whole, by_name)["metadata"]["name"]  # fmt: skip
    for full, slim in zip(nodes, kept_nodes, strict=True):
        assert node_notice(slim) == node_notice(full)
        assert observed_at(slim) == observed_at(full)
    for full, slim in zip(pods, kept_pods, strict=True):
        assert (job_of(slim), grace(slim), live(slim)) == (job_of(full), grace(full), live(full))
        assert pod_disruption(slim) == pod_disruption(full)
        assert slim["metadata"]["uid"] == full["metadata"]["uid"]
        assert slim["metadata"]["name"] == full["metadata"]["name"]


def containers(obj: Any) -> int:
    """Dicts and lists: what the cyclic garbage collector walks."""
    if isinstance(obj, dict):
        return 1 + sum(containers(v) for v in obj.values())
    if isinstance(obj, list):
        return 1 + sum(containers(v) for v in obj)
    return 0


def test_a_kept_pod_is_a_tenth_of_the_whole() -> None:
    pod = a_pod("m", "a")
    kept = projection.pod(pod)
    assert containers(pod) >= 10 * containers(kept)
    assert "managedFields" not in kept["metadata"] and "containers" not in kept["spec"]


class ListAndWatch:
    """The two calls an Informer makes, answering with whole objects."""

    def __init__(self, listed: list[dict[str, Any]], events: list[dict[str, Any]]) -> None:
        self.listed, self.events = listed, events

    class _Resource:
        def path(self, namespace: str | None = None) -> str:
            return "/api/v1/pods"

    def resource(self, api_version: str, kind: str) -> Any:
        return self._Resource()

    def request(self, method: str, path: str, **_: Any) -> dict[str, Any]:
        return {"metadata": {"resourceVersion": "1"}, "items": copy.deepcopy(self.listed)}

    def watch(self, *_: Any, **__: Any) -> Any:
        yield from copy.deepcopy(self.events)


def test_the_informer_keeps_and_hands_on_only_what_is_kept() -> None:
    listed = a_pod("listed", "a")
    changed = a_pod("changed", "a", annotations={REQUEST_ANNOTATION: "r-1"})
    changed["metadata"]["resourceVersion"] = "7"
    kube = ListAndWatch([listed], [{"type": "MODIFIED", "object": changed}])
    handed: list[dict[str, Any]] = []
    informer = Informer(kube, "v1", "Pod", lambda _e, obj: handed.append(obj),  # type: ignore[arg-type]
                        transform=projection.pod)  # fmt: skip
    informer.version = informer._relist()
    informer._watch(informer.version)
    assert [h["metadata"]["name"] for h in handed] == ["listed", "changed"]
    assert all("managedFields" not in h["metadata"] for h in handed)
    stored = informer.get(f"{changed['metadata']['namespace']}/changed")
    assert stored is not None and "containers" not in stored["spec"]
    assert stored["metadata"]["annotations"][REQUEST_ANNOTATION] == "r-1"
    assert informer.version == "7"  # the version still follows the whole object


def test_every_full_collection_is_timed_until_told_to_stop() -> None:
    metrics = Metrics()
    stop = metrics.time_collections()
    try:
        gc.collect()
        gc.collect()
    finally:
        stop()
    full = metrics.registry.get_sample_value("mlkube_gc_pause_seconds_count", {"generation": "2"})
    assert full == 2
    gc.collect()
    after = metrics.registry.get_sample_value("mlkube_gc_pause_seconds_count", {"generation": "2"})
    assert after == 2
