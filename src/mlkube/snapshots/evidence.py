"""What doctor reads: a plain snapshot of a cluster's ML objects, without I/O.

Gathered by `mlkube.cluster.evidence`, or loaded from a file written by `--save`;
the diagnosis rules import only this module, never the HTTP client.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlkube.errors import InputError

# (apiVersion, kind, namespaced)
NAMESPACED = (
    ("v1", "Pod"),
    ("v1", "Event"),
    ("v1", "Service"),
    ("v1", "ResourceQuota"),
    ("networking.k8s.io/v1", "NetworkPolicy"),
    ("autoscaling/v2", "HorizontalPodAutoscaler"),
    ("kubeflow.org/v1", "PyTorchJob"),
    ("serving.kserve.io/v1beta1", "InferenceService"),
    ("kueue.x-k8s.io/v1beta2", "Workload"),
    ("kueue.x-k8s.io/v1beta2", "LocalQueue"),
)
CLUSTER_SCOPED = (
    ("v1", "Node"),
    ("scheduling.k8s.io/v1", "PriorityClass"),
    ("kueue.x-k8s.io/v1beta2", "ClusterQueue"),
)
GPU_OPERATOR_NAMESPACE = "gpu-operator"


@dataclass
class Evidence:
    """Objects by ``apiVersion/kind``; kinds the cluster does not serve are absent."""

    context: str
    namespace: str | None
    taken: str
    objects: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)
    calls: int = 0
    # Kinds served but not readable by this identity (forbidden, say): key → why.
    unreadable: dict[str, str] = field(default_factory=dict)

    def of(self, api_version: str, kind: str) -> list[dict[str, Any]]:
        return self.objects.get(f"{api_version}/{kind}", [])

    def serves(self, api_version: str, kind: str) -> bool:
        return f"{api_version}/{kind}" not in self.missing

    def to_json(self) -> str:
        return json.dumps(self.__dict__, indent=1, sort_keys=True)

    @classmethod
    def load(cls, path: str) -> Evidence:
        try:
            data = json.loads(Path(path).read_text())
            return cls(**data)
        except OSError as exc:
            raise InputError(path, 0, f"cannot read: {exc.strerror}") from None
        except (ValueError, TypeError) as exc:
            raise InputError(path, 1, f"not an mlkube doctor snapshot: {exc}") from None
