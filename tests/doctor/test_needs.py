"""What doctor lists, round by round (`rules.doctor.needs.wanted`): the kinds every
diagnosis reads, then only what the objects listed so far name or need. The shapes
are those the controllers give: a Deployment's pods are controlled by a ReplicaSet
(kubernetes/kubernetes pkg/controller/deployment/sync.go), a JobSet's pods by a Job
and labelled with the JobSet's name (kubernetes-sigs/jobset pkg/constants), a Kueue
Workload by its job (kubernetes-sigs/kueue pkg/controller/jobframework)."""

from __future__ import annotations

from typing import Any

from mlkube.rules.doctor.needs import FIRST, Want, wanted
from mlkube.snapshots.evidence import Evidence
from mlkube.wellknown import JOBSET_API, JOBSET_LABEL

NS = "ml"


def _owned(name: str, api: str, kind: str, owner: str, **labels: str) -> dict[str, Any]:
    ref = {"apiVersion": api, "kind": kind, "name": owner, "controller": True}
    return {"metadata": {"name": name, "namespace": NS, "labels": labels,
                         "ownerReferences": [ref]}}  # fmt: skip


def _pending(pod: dict[str, Any], message: str) -> dict[str, Any]:
    condition = {"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
                 "message": message}  # fmt: skip
    return {**pod, "status": {"phase": "Pending", "conditions": [condition]}}


def _new(evidence: Evidence, done: set[Want]) -> list[Want]:
    return [w for w in wanted(evidence) if w not in done]


def test_an_empty_namespace_costs_the_first_round_only() -> None:
    evidence = Evidence("c", NS, "t")
    assert wanted(evidence) == list(FIRST)
    assert len(FIRST) == 5


def test_owners_are_listed_round_by_round_up_to_the_top() -> None:
    """pod → ReplicaSet → Deployment takes two more rounds; a JobSet's pods name the
    JobSet by label, so their Job is never listed, and its TrainJob comes next."""
    evidence = Evidence("c", NS, "t")
    evidence.objects["v1/Pod"] = [
        _owned("web-7d9-x", "apps/v1", "ReplicaSet", "web-7d9"),
        _owned("llama-node-0-0-a", "batch/v1", "Job", "llama-node-0", **{JOBSET_LABEL: "llama"}),
    ]
    done = set(FIRST)
    second = _new(evidence, done)
    assert second == [
        ("apps/v1", "ReplicaSet", None),
        (JOBSET_API, "JobSet", None),
        ("v1", "Service", None),
        ("networking.k8s.io/v1", "NetworkPolicy", None),
    ]
    done.update(second)
    evidence.objects["apps/v1/ReplicaSet"] = [_owned("web-7d9", "apps/v1", "Deployment", "web")]
    evidence.objects[f"{JOBSET_API}/JobSet"] = [
        _owned("llama", "trainer.kubeflow.org/v1alpha1", "TrainJob", "llama")
    ]
    third = _new(evidence, done)
    assert third == [
        ("apps/v1", "Deployment", None),
        ("trainer.kubeflow.org/v1alpha1", "TrainJob", None),
        ("autoscaling/v2", "HorizontalPodAutoscaler", None),  # a ReplicaSet may be scaled
    ]
    done.update(third)
    evidence.objects["apps/v1/Deployment"] = [{"metadata": {"name": "web", "namespace": NS}}]
    evidence.objects["trainer.kubeflow.org/v1alpha1/TrainJob"] = [
        {"metadata": {"name": "llama", "namespace": NS}}
    ]
    assert _new(evidence, done) == []
    assert len(done) == 12  # within issue 11's 14, whatever the number of pods


def test_context_is_listed_only_when_an_object_calls_for_it() -> None:
    evidence = Evidence("c", NS, "t")
    bare = {"metadata": {"name": "p", "namespace": NS}}
    evidence.objects["v1/Pod"] = [bare]
    assert wanted(evidence) == list(FIRST)  # nothing waits for a claim, no quota refused
    evidence.objects["v1/Pod"] = [
        _pending(bare, '0/3 nodes are available: persistentvolumeclaim "data" not found.'),
        _pending({"metadata": {"name": "q", "namespace": NS}},
                 "0/3 nodes are available: 3 Insufficient nvidia.com/gpu."),
    ]  # fmt: skip
    evidence.objects["v1/Event"] = [
        {"metadata": {"name": "e"}, "reason": "FailedCreate",
         "involvedObject": {"apiVersion": "batch/v1", "kind": "Job", "name": "j"},
         "message": 'pods "j-x" is forbidden: exceeded quota: gpu, requested: '
                    "requests.nvidia.com/gpu=1, used: requests.nvidia.com/gpu=1, "
                    "limited: requests.nvidia.com/gpu=1"},
    ]  # fmt: skip
    evidence.objects["kueue.x-k8s.io/v1beta2/Workload"] = [
        _owned("job-j-1", "batch/v1", "Job", "j")
    ]
    extra = set(wanted(evidence)) - set(FIRST)
    assert extra == {
        ("v1", "PersistentVolumeClaim", None),
        ("storage.k8s.io/v1", "StorageClass", None),
        ("v1", "Pod", "gpu-operator"),
        ("batch/v1", "Job", None),
        ("kueue.x-k8s.io/v1beta2", "LocalQueue", None),
        ("kueue.x-k8s.io/v1beta2", "ClusterQueue", None),
    }


def test_all_namespaces_already_hold_the_gpu_operator_pods() -> None:
    evidence = Evidence("c", None, "t")
    evidence.objects["v1/Pod"] = [
        _pending({"metadata": {"name": "q", "namespace": NS}},
                 "0/3 nodes are available: 3 Insufficient nvidia.com/gpu.")
    ]  # fmt: skip
    assert wanted(evidence) == list(FIRST)
