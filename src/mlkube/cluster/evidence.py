"""Evidence about ML workloads, gathered once from a cluster into a plain snapshot.

A fixed list of list calls (one per kind, whatever the number of pods), so that
`mlkube doctor` costs the same on 5 pods and 5,000; every diagnosis after that is a
pure function of the snapshot. Secrets are never read, so a saved snapshot can be
attached to a bug report.
"""

from __future__ import annotations

import datetime
import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlkube.cluster.client import Kube
from mlkube.errors import InputError, MlkubeError

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


def _trim(obj: dict[str, Any]) -> dict[str, Any]:
    meta = {k: v for k, v in obj.get("metadata", {}).items() if k != "managedFields"}
    return {**obj, "metadata": meta}


@dataclass
class Evidence:
    """Objects by ``apiVersion/kind``; kinds the cluster does not serve are absent."""

    context: str
    namespace: str | None
    taken: str
    objects: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)
    calls: int = 0

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


def gather(kube: Kube, namespace: str | None) -> Evidence:
    """One list call per kind: the workloads' namespace (or all), plus cluster scope.

    The calls run side by side and read the API server's watch cache: a snapshot for
    diagnosis need not be a quorum read, and 5,000 pods cost one call, not 5,000.
    """
    now = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
    evidence = Evidence(kube.connection.context, namespace, now)
    wanted = [(a, k, namespace) for a, k in NAMESPACED] + [(a, k, None) for a, k in CLUSTER_SCOPED]
    wanted.append(("v1", "Pod", GPU_OPERATOR_NAMESPACE))
    for api_version, kind, _ in wanted:
        try:
            kube.resource(api_version, kind)  # discovery first, once, in this thread
        except MlkubeError:
            key = f"{api_version}/{kind}"
            if key not in evidence.missing:
                evidence.missing.append(key)

    def fetch(want: tuple[str, str, str | None]) -> list[dict[str, Any]] | None:
        try:
            return kube.list(want[0], want[1], want[2], cached=True)
        except MlkubeError:  # forbidden to this identity, say: reported as missing
            return None

    served = [w for w in wanted if f"{w[0]}/{w[1]}" not in evidence.missing]
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(fetch, served))
    evidence.calls = len(served)
    for (api_version, kind, _), items in zip(served, results, strict=True):
        if items is None:
            evidence.missing.append(f"{api_version}/{kind}")
            continue
        known = evidence.objects.setdefault(f"{api_version}/{kind}", [])
        names = {(o["metadata"].get("namespace"), o["metadata"]["name"]) for o in known}
        known.extend(
            _trim(o)
            for o in items
            if (o["metadata"].get("namespace"), o["metadata"]["name"]) not in names
        )
    return evidence
