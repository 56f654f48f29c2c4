"""Doctor on a Kubeflow Trainer v2 job: TrainJob → JobSet → batch Job → Pods, shaped as
Trainer v2.3.0 (pkg/runtime/framework/plugins/jobset/jobset.go: the JobSet, named after
the TrainJob, controlled by it), JobSet v0.12.0 (Job <jobset>-<replicatedjob>-<index>,
pod labels jobset.sigs.k8s.io/*) and the Job controller (pods <job>-<index>-<suffix>,
FailedCreate Events on the Job) make them. Findings name the TrainJob."""

from __future__ import annotations

from typing import Any

from mlkube.doctor import belonging, diagnose, require_workload
from mlkube.rules.doctor.common import owner
from mlkube.rules.doctor.owners import Owner, owner_index, top_owner
from mlkube.snapshots.evidence import Evidence

NS = "ml"
TJ_API = "trainer.kubeflow.org/v1alpha1"


def _ref(api: str, kind: str, name: str) -> dict[str, Any]:
    return {"apiVersion": api, "kind": kind, "name": name, "uid": f"uid-{name}",
            "controller": True, "blockOwnerDeletion": True}  # fmt: skip


def trainjob(name: str, nodes: int) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "namespace": NS, "uid": f"uid-tj-{name}",
                     "labels": {"kueue.x-k8s.io/queue-name": "training"}},
        "spec": {"runtimeRef": {"name": "mlkube-torch", "apiGroup": "trainer.kubeflow.org",
                                "kind": "ClusterTrainingRuntime"},
                 "trainer": {"numNodes": nodes}},
        "status": {"conditions": []},
    }  # fmt: skip


def jobset(name: str) -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": NS, "uid": f"uid-js-{name}",
                         "ownerReferences": [_ref(TJ_API, "TrainJob", name)]}}  # fmt: skip


def job(name: str) -> dict[str, Any]:
    return {"metadata": {
        "name": f"{name}-node-0", "namespace": NS, "uid": f"uid-{name}-node-0",
        "labels": {"jobset.sigs.k8s.io/jobset-name": name,
                   "jobset.sigs.k8s.io/replicatedjob-name": "node"},
        "ownerReferences": [_ref("jobset.x-k8s.io/v1alpha2", "JobSet", name)],
    }}  # fmt: skip


def pod(name: str, index: int, phase: str, *, unschedulable: str = "") -> dict[str, Any]:
    scheduled = (
        {"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
         "message": unschedulable}
        if unschedulable else {"type": "PodScheduled", "status": "True"}
    )  # fmt: skip
    return {
        "metadata": {
            "name": f"{name}-node-0-{index}-q{index}x7k", "namespace": NS,
            "uid": f"uid-{name}-{index}",
            "labels": {"jobset.sigs.k8s.io/jobset-name": name,
                       "jobset.sigs.k8s.io/replicatedjob-name": "node",
                       "batch.kubernetes.io/job-name": f"{name}-node-0",
                       "batch.kubernetes.io/job-completion-index": str(index)},
            "ownerReferences": [_ref("batch/v1", "Job", f"{name}-node-0")],
        },
        "spec": {"containers": [{"name": "node", "image": "pytorch/pytorch:2.13.0",
                                 "resources": {"limits": {"nvidia.com/gpu": "8"}}}]},
        "status": {"phase": phase, "conditions": [scheduled]},
    }  # fmt: skip


def evidence() -> Evidence:
    msg = "0/2 nodes are available: 2 Insufficient nvidia.com/gpu."
    objects = {
        "trainer.kubeflow.org/v1alpha1/TrainJob": [trainjob("llama", 3)],
        "jobset.x-k8s.io/v1alpha2/JobSet": [jobset("llama")],
        "batch/v1/Job": [job("llama")],
        "v1/Pod": [pod("llama", 0, "Running"), pod("llama", 1, "Running"),
                   pod("llama", 2, "Pending", unschedulable=msg)],
        "v1/Service": [{"metadata": {"name": "llama", "namespace": NS}}],
        "v1/Event": [{
            "metadata": {"name": "llama-node-0.18a", "namespace": NS},
            "involvedObject": {"apiVersion": "batch/v1", "kind": "Job", "namespace": NS,
                               "name": "llama-node-0"},
            "reason": "FailedCreate", "type": "Warning",
            "message": 'Error creating: pods "llama-node-0-3-abcde" is forbidden: exceeded '
                       "quota: gpu-quota, requested: requests.nvidia.com/gpu=8, used: "
                       "requests.nvidia.com/gpu=24, limited: requests.nvidia.com/gpu=24",
        }],
        "v1/Node": [],
    }  # fmt: skip
    return Evidence("kind-mlkube", NS, "2026-01-01T00:00:00+00:00", objects)


def test_the_walk_reaches_the_trainjob() -> None:
    ev = evidence()
    index = owner_index([("Job", ev.of("batch/v1", "Job")),
                         ("JobSet", ev.of("jobset.x-k8s.io/v1alpha2", "JobSet"))])  # fmt: skip
    p = ev.of("v1", "Pod")[0]
    assert top_owner(p, index) == Owner(TJ_API, "TrainJob", NS, "llama")
    assert owner(p, index) == "pod llama-node-0-0-q0x7k of TrainJob ml/llama"


def test_without_the_job_listed_the_jobset_label_goes_on() -> None:
    ev = evidence()
    index = owner_index([("JobSet", ev.of("jobset.x-k8s.io/v1alpha2", "JobSet"))])
    assert top_owner(ev.of("v1", "Pod")[0], index) == Owner(TJ_API, "TrainJob", NS, "llama")


def test_without_owners_listed_the_pod_is_its_jobs() -> None:
    assert top_owner(evidence().of("v1", "Pod")[0], {}) == Owner(
        "batch/v1", "Job", NS, "llama-node-0"
    )
    assert top_owner({"metadata": {"name": "p"}}, {}) is None


def test_a_cycle_ends() -> None:
    index = {("Job", NS, "a"): _ref("batch/v1", "Job", "b"),
             ("Job", NS, "b"): _ref("batch/v1", "Job", "a")}  # fmt: skip
    p = {"metadata": {"namespace": NS, "ownerReferences": [_ref("batch/v1", "Job", "a")]}}
    assert top_owner(p, index) is not None


def test_findings_are_the_trainjobs() -> None:
    findings = diagnose(evidence())
    by_rule = {f.rule: f for f in findings}
    unschedulable = by_rule["DK201"]
    assert unschedulable.message.startswith(
        "TrainJob ml/llama: 1 pod(s) (llama-node-0-2-q2x7k) cannot be scheduled: "
    )
    assert (unschedulable.where.obj.kind, unschedulable.where.obj.name) == ("TrainJob", "llama")
    quota = [f for f in findings if f.rule == "DK204"]
    assert len(quota) == 1 and quota[0].where.obj.kind == "TrainJob"
    assert quota[0].message.startswith("TrainJob ml/llama cannot create its pods")
    incomplete = by_rule["DK301"]
    assert incomplete.where.obj.kind == "TrainJob" and incomplete.where.obj.name == "llama"
    assert "2 of 3 pods running" in incomplete.message


def test_a_complete_trainjob_is_not_incomplete() -> None:
    ev = evidence()
    ev.objects["trainer.kubeflow.org/v1alpha1/TrainJob"][0]["status"] = {
        "conditions": [{"type": "Complete", "status": "True", "reason": "JobsCompleted"}]
    }
    assert not [f for f in diagnose(ev) if f.rule == "DK301"]


def test_doctor_name_finds_the_trainjob_and_its_pods() -> None:
    ev = evidence()
    require_workload(ev, "llama")
    kinds = {r.kind for r in belonging(ev, "llama")}
    assert {"TrainJob", "Pod"} <= kinds
    assert {f.rule for f in diagnose(ev, "llama")} >= {"DK201", "DK204", "DK301"}


def test_the_snapshot_round_trips_with_the_new_kinds() -> None:
    ev = evidence()
    loaded = Evidence.parse(ev.to_json(), "snapshot.json")
    assert loaded.of(TJ_API, "TrainJob") == ev.of(TJ_API, "TrainJob")
    assert [f.message for f in diagnose(loaded)] == [f.message for f in diagnose(ev)]


def test_a_trainjob_whose_ranks_together_exceed_the_quota_can_never_run() -> None:
    """Its Job was refused a fourth 8-GPU pod under a 24-GPU quota: with 3 nodes it
    waits for room; with 4 (32 GPUs at once, as rendezvous needs) it never fits."""
    ev = evidence()
    (waiting,) = [f for f in diagnose(ev) if f.rule == "DK204"]
    assert "never" not in waiting.message
    ev.objects["trainer.kubeflow.org/v1alpha1/TrainJob"][0]["spec"]["trainer"]["numNodes"] = 4
    (never,) = [f for f in diagnose(ev) if f.rule == "DK204"]
    assert never.message.endswith(
        "it can never run: its 4 pods, which must run together, ask 32 "
        "requests.nvidia.com/gpu and the quota allows 24"
    )
