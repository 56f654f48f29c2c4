"""One job's plan from a snapshot: request once per notice, deliver to every live pod,
evict in time for the grace period."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from mlkube.controller.jobs import (
    REQUEST_ANNOTATION,
    job_of,
    read_record,
    record_patch,
    request_id,
)
from mlkube.controller.plan import first_to_ask, plan_job

from .snapshots import node, pod, spot_itn

NOW = datetime(2026, 11, 29, 9, 0, 0, tzinfo=UTC)


def names(pods: list[dict[str, Any]]) -> list[str]:
    return sorted(p["metadata"]["name"] for p in pods)


def nodes(*items: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {n["metadata"]["name"]: n for n in items}


def test_no_notice_no_work() -> None:
    plan = plan_job("j", [pod("m", "a"), pod("w", "b")], nodes(node("a"), node("b")), [],
                    observed={}, now=NOW)  # fmt: skip
    assert plan.idle


def test_a_notice_makes_one_request_delivered_to_every_live_pod() -> None:
    pods = [pod("m", "a"), pod("w", "b"), pod("done", "b", phase="Succeeded")]
    plan = plan_job("j", pods, nodes(spot_itn("a"), node("b")), [], observed={"a": NOW}, now=NOW)
    assert plan.request is not None
    assert plan.request.notices == ("node/uid-a",)
    assert plan.request.signal == "aws-spot-interruption" and plan.request.nodes == ("a",)
    assert plan.current == plan.request.id == request_id("j", ("node/uid-a",))
    assert names(plan.deliver) == ["m", "w"]


def test_a_recorded_notice_is_not_requested_again() -> None:
    pods = [pod("m", "a"), pod("w", "b")]
    n = nodes(spot_itn("a"), node("b"))
    first = plan_job("j", pods, n, [], observed={"a": NOW}, now=NOW)
    assert first.request is not None
    again = plan_job("j", pods, n, [first.request], observed={"a": NOW}, now=NOW)
    assert again.request is None and again.current == first.request.id
    assert names(again.deliver) == ["m", "w"]  # not delivered yet: deliver, same id
    delivered = [pod(p, nd, annotations={REQUEST_ANNOTATION: first.request.id})
                 for p, nd in (("m", "a"), ("w", "b"))]  # fmt: skip
    done = plan_job("j", delivered, n, [first.request], observed={"a": NOW}, now=NOW)
    assert done.request is None and done.deliver == []


def test_a_second_notice_makes_a_second_request() -> None:
    pods = [pod("m", "a"), pod("w", "b")]
    first = plan_job("j", pods, nodes(spot_itn("a"), node("b")), [], observed={}, now=NOW)
    assert first.request is not None
    both = nodes(spot_itn("a"), spot_itn("b"))
    second = plan_job("j", pods, both, [first.request], observed={}, now=NOW)
    assert second.request is not None and second.request.notices == ("node/uid-b",)
    assert second.request.id != first.request.id


def test_simultaneous_notices_coalesce_into_one_request() -> None:
    pods = [pod("m", "a"), pod("w", "b")]
    plan = plan_job("j", pods, nodes(spot_itn("a"), spot_itn("b")), [], observed={}, now=NOW)
    assert plan.request is not None and plan.request.notices == ("node/uid-a", "node/uid-b")


def test_replacement_pods_created_after_the_request_are_not_asked() -> None:
    asked_at = NOW - timedelta(seconds=30)
    first = plan_job("j", [pod("m", "a")], nodes(spot_itn("a")), [], observed={}, now=asked_at)
    assert first.request is not None
    later = "2026-11-29T09:00:00Z"
    pods = [pod("m", "a", annotations={REQUEST_ANNOTATION: first.request.id}),
            pod("m2", "b", created=later)]  # fmt: skip
    plan = plan_job("j", pods, nodes(spot_itn("a"), node("b")), [first.request],
                    observed={}, now=NOW)  # fmt: skip
    assert plan.deliver == []


def test_eviction_waits_until_the_grace_period_just_fits_the_window() -> None:
    # AWS: 120 s notice, 105 s grace, 5 s margin: evict 10 s after the notice.
    pods = [pod("m", "a", grace=105), pod("w", "b", grace=105)]
    n = nodes(spot_itn("a"), node("b"))
    early = plan_job("j", pods, n, [], observed={"a": NOW}, now=NOW + timedelta(seconds=9))
    assert early.evict == []
    assert early.wake_at == NOW + timedelta(seconds=10)
    due = plan_job("j", pods, n, [], observed={"a": NOW}, now=NOW + timedelta(seconds=10))
    assert names(due.evict) == ["m"]  # only the pod on the reclaimed node


def test_a_grace_longer_than_the_window_is_evicted_at_once() -> None:
    gke = node("g", taints=[{"key": "cloud.google.com/impending-node-termination",
                             "effect": "NoSchedule"}])  # fmt: skip
    plan = plan_job("j", [pod("m", "g", grace=105)], nodes(gke), [], observed={"g": NOW}, now=NOW)
    assert names(plan.evict) == ["m"]


def test_pods_already_terminating_or_advisory_notices_are_not_evicted() -> None:
    advisory = node("a", taints=[{"key": "aws-node-termination-handler/rebalance-recommendation",
                                  "effect": "NoSchedule"}])  # fmt: skip
    plan = plan_job("j", [pod("m", "a", grace=0)], nodes(advisory), [], observed={}, now=NOW)
    assert plan.request is not None and plan.evict == [] and plan.wake_at is None
    leaving = plan_job("j", [pod("m", "a", grace=0, deleting=True)], nodes(spot_itn("a")), [],
                       observed={}, now=NOW)  # fmt: skip
    assert leaving.evict == []


def test_job_of_follows_the_controller_owner() -> None:
    ref = job_of(pod("m", "a", job="bert", kind="PyTorchJob"))
    assert ref is not None and (ref.kind, ref.name, ref.namespace) == ("PyTorchJob", "bert", "ml")
    deployment_pod = pod("x", "a", kind="ReplicaSet")
    assert job_of(deployment_pod) is None
    deployment_pod["metadata"]["labels"] = {"jobset.sigs.k8s.io/jobset-name": "llm"}
    jobset = job_of(deployment_pod)
    assert jobset is not None and (jobset.kind, jobset.name) == ("JobSet", "llm")
    opted_in = pod("y", "a", kind="Job", annotations={"mlkube.dev/checkpoint-path": "/ckpt"})
    batch = job_of(opted_in)
    assert batch is not None and batch.kind == "Job"


def test_record_round_trips_and_is_conditional() -> None:
    plan = plan_job("j", [pod("m", "a")], nodes(spot_itn("a")), [], observed={}, now=NOW)
    assert plan.request is not None
    job = {"metadata": {"name": "bert", "resourceVersion": "42", "annotations": {}}}
    patch = record_patch(job, [plan.request])
    assert patch["metadata"]["resourceVersion"] == "42"
    job["metadata"]["annotations"] = patch["metadata"]["annotations"]
    assert read_record(job) == [plan.request]


def test_a_mangled_record_reads_as_empty() -> None:
    job = {"metadata": {"annotations": {"mlkube.dev/checkpoint-requests": "{not json"}}}
    assert read_record(job) == []


def test_an_eviction_on_a_noticed_node_is_that_notice_not_another() -> None:
    evicted = {"type": "DisruptionTarget", "status": "True", "reason": "EvictionByEvictionAPI"}
    pods = [pod("m", "a", conditions=[evicted]), pod("w", "b")]
    first = plan_job("j", [pod("m", "a"), pod("w", "b")], nodes(spot_itn("a"), node("b")), [],
                     observed={}, now=NOW)  # fmt: skip
    assert first.request is not None
    after = plan_job("j", pods, nodes(spot_itn("a"), node("b")), [first.request],
                     observed={}, now=NOW)  # fmt: skip
    assert after.request is None
    # the same eviction on a node without a notice is a notice of its own
    quiet = plan_job("j", pods, nodes(node("a"), node("b")), [], observed={}, now=NOW)
    assert quiet.request is not None and quiet.request.notices == ("pod/uid-m",)


def test_pods_of_a_node_already_gone_make_no_notice() -> None:
    gc = {"type": "DisruptionTarget", "status": "True", "reason": "DeletionByPodGC"}
    plan = plan_job("j", [pod("m", "gone", conditions=[gc]), pod("w", "b")], nodes(node("b")),
                    [], observed={}, now=NOW)  # fmt: skip
    assert plan.idle


def test_the_urgent_pass_asks_a_pod_on_a_healthy_node_first() -> None:
    pods = [pod("m", "a"), pod("w", "b")]
    n = nodes(spot_itn("a"), node("b"))
    plan = plan_job("j", pods, n, [], observed={}, now=NOW)
    assert first_to_ask(plan, n)["metadata"]["name"] == "w"
    both = nodes(spot_itn("a"), spot_itn("b"))
    everywhere = plan_job("j", pods, both, [], observed={}, now=NOW)
    assert first_to_ask(everywhere, both)["metadata"]["name"] == "m"  # any will do: the first


def test_pods_whose_node_goes_first_are_asked_first() -> None:
    # GKE's node c ends 30 s after its notice, AWS's a after 120 s, b has none: the
    # pods in that order, whatever order the cache gave them in.
    pods = [pod("quiet", "b"), pod("aws", "a"), pod("gke", "c"), pod("aws2", "a")]
    gke = node("c", taints=[{"key": "cloud.google.com/impending-node-termination",
                             "effect": "NoSchedule"}])  # fmt: skip
    n = nodes(spot_itn("a"), node("b"), gke)
    plan = plan_job("j", pods, n, [], observed={"a": NOW, "c": NOW}, now=NOW)
    assert [p["metadata"]["name"] for p in plan.deliver] == ["gke", "aws", "aws2", "quiet"]
    assert first_to_ask(plan, n)["metadata"]["name"] == "quiet"  # the urgent pass's pick
