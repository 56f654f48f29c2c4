"""Plain-data Nodes and Pods, shaped like the API server's, for the pure tests."""

from __future__ import annotations

from typing import Any


def node(name: str, *, taints: list[dict[str, Any]] | None = None,
         conditions: list[dict[str, Any]] | None = None,
         annotations: dict[str, str] | None = None) -> dict[str, Any]:  # fmt: skip
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name, "uid": f"uid-{name}", "annotations": annotations or {}},
        "spec": {"taints": taints or []},
        "status": {"conditions": conditions or [{"type": "Ready", "status": "True"}]},
    }


def pod(name: str, node_name: str, *, job: str = "bert", kind: str = "PyTorchJob",
        phase: str = "Running", grace: int | None = 105, created: str = "2026-01-01T00:00:00Z",
        annotations: dict[str, str] | None = None,
        conditions: list[dict[str, Any]] | None = None,
        deleting: bool = False) -> dict[str, Any]:  # fmt: skip
    meta: dict[str, Any] = {
        "name": name,
        "namespace": "ml",
        "uid": f"uid-{name}",
        "creationTimestamp": created,
        "annotations": annotations or {},
        "ownerReferences": [
            {"apiVersion": "kubeflow.org/v1", "kind": kind, "name": job, "uid": f"uid-{job}",
             "controller": True}
        ],
    }  # fmt: skip
    if deleting:
        meta["deletionTimestamp"] = "2026-01-01T00:05:00Z"
    spec: dict[str, Any] = {"nodeName": node_name}
    if grace is not None:
        spec["terminationGracePeriodSeconds"] = grace
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": meta,
        "spec": spec,
        "status": {"phase": phase, "conditions": conditions or []},
    }


def spot_itn(name: str) -> dict[str, Any]:
    return node(name, taints=[{"key": "aws-node-termination-handler/spot-itn", "value": "e-1",
                               "effect": "NoSchedule"}])  # fmt: skip


# Kubeflow Trainer v2.3.0: TrainJob → JobSet (pkg/runtime/framework/plugins/jobset/jobset.go,
# WithOwnerReferences(... WithController(true).WithBlockOwnerDeletion(true))) → Job
# <trainjob>-node-0 (JobSet v0.12.0) → Pods <trainjob>-node-0-<index>-<suffix>.
def trainjob(name: str = "llama", *, version: str = "700") -> dict[str, Any]:
    return {
        "apiVersion": "trainer.kubeflow.org/v1alpha1",
        "kind": "TrainJob",
        "metadata": {"name": name, "namespace": "ml", "uid": f"uid-tj-{name}",
                     "resourceVersion": version, "annotations": {}},
    }  # fmt: skip


def jobset(name: str = "llama", *, owner: str | None = "llama") -> dict[str, Any]:
    refs = [
        {"apiVersion": "trainer.kubeflow.org/v1alpha1", "kind": "TrainJob", "name": owner,
         "uid": f"uid-tj-{owner}", "controller": True, "blockOwnerDeletion": True}
    ] if owner else []  # fmt: skip
    return {
        "apiVersion": "jobset.x-k8s.io/v1alpha2",
        "kind": "JobSet",
        "metadata": {"name": name, "namespace": "ml", "uid": f"uid-js-{name}",
                     "resourceVersion": "500", "annotations": {}, "ownerReferences": refs},
    }  # fmt: skip


def jobset_pod(trainjob_name: str, index: int, node_name: str, **kw: Any) -> dict[str, Any]:
    """A pod of the JobSet's replicated job ``node``, as the Job controller names it."""
    job = f"{trainjob_name}-node-0"
    p = pod(f"{job}-{index}-x{index}z9q", node_name, job=job, **kw)
    meta = p["metadata"]
    meta["ownerReferences"] = [
        {"apiVersion": "batch/v1", "kind": "Job", "name": job, "uid": f"uid-{job}",
         "controller": True, "blockOwnerDeletion": True}
    ]  # fmt: skip
    meta["labels"] = {
        "jobset.sigs.k8s.io/jobset-name": trainjob_name,
        "jobset.sigs.k8s.io/replicatedjob-name": "node",
        "jobset.sigs.k8s.io/job-index": "0",
        "batch.kubernetes.io/job-name": job,
        "batch.kubernetes.io/job-completion-index": str(index),
        "trainer.kubeflow.org/trainjob-ancestor-step": "trainer",
    }
    meta["annotations"] = {**meta["annotations"],
                           "batch.kubernetes.io/job-completion-index": str(index)}  # fmt: skip
    return p
