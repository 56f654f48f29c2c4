"""Apply order: what an object depends on is created before it."""

from __future__ import annotations

from typing import Any

APPLY_ORDER = (
    "CustomResourceDefinition",
    "Namespace",
    "PriorityClass",
    "WorkloadPriorityClass",
    "ResourceQuota",
    "LimitRange",
    "ServiceAccount",
    "ConfigMap",
    "Secret",
    "StorageClass",
    "PersistentVolume",
    "PersistentVolumeClaim",
    "NetworkPolicy",
    "ResourceFlavor",
    "ClusterQueue",
    "LocalQueue",
    "ClusterTrainingRuntime",
    "TrainingRuntime",
    "Service",
    "PodDisruptionBudget",
    "Deployment",
    "StatefulSet",
    "Job",
    "PyTorchJob",
    "TrainJob",
    "InferenceService",
    "HorizontalPodAutoscaler",
)
_RANK = {kind: i for i, kind in enumerate(APPLY_ORDER)}


def rank(kind: str) -> int:
    return _RANK.get(kind, len(APPLY_ORDER))


def ordered(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Objects sorted by kind rank, then namespace and name: stable and deterministic."""
    return sorted(
        objects,
        key=lambda o: (
            rank(o["kind"]),
            o["kind"],
            o["metadata"].get("namespace", ""),
            o["metadata"]["name"],
        ),
    )
