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
