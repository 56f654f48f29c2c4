"""Who a pod belongs to, walked up its controllers: pod → Job → JobSet → TrainJob
(Kubeflow Trainer v2), pod → PyTorchJob, pod → ReplicaSet → Deployment, … Pure: the
index is built from the listed owners' own ``ownerReferences``."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from mlkube.wellknown import JOBSET_API, JOBSET_LABEL

# LeaderWorkerSet (kubernetes-sigs/lws api/leaderworkerset/v1/leaderworkerset_types.go)
LWS_API = "leaderworkerset.x-k8s.io/v1"
LWS_LABEL = "leaderworkerset.sigs.k8s.io/name"

TRAINJOB = "TrainJob"
Key = tuple[str, str, str]  # (kind, namespace, name)
# A pod label naming an outer owner: (its apiVersion, its kind, the kind it skips).
SHORTCUTS = {
    JOBSET_LABEL: (JOBSET_API, "JobSet", "Job"),
    LWS_LABEL: (LWS_API, "LeaderWorkerSet", "StatefulSet"),
}
WALK_LIMIT = 8  # no real chain is longer; a cycle in a hand-edited snapshot ends here


@dataclass(frozen=True, slots=True)
class Owner:
    api_version: str
    kind: str
    namespace: str
    name: str

    def __str__(self) -> str:
        return f"{self.kind} {self.namespace}/{self.name}"


def controller_ref(obj: dict[str, Any]) -> dict[str, Any] | None:
    """The owner marked ``controller``, else the first owner, else None."""
    refs = [r for r in (obj.get("metadata") or {}).get("ownerReferences") or [] if r]
    return next((r for r in refs if r.get("controller")), refs[0] if refs else None)


def owner_index(
    listed: Iterable[tuple[str, Iterable[dict[str, Any]]]],
) -> dict[Key, dict[str, Any] | None]:
    """(kind, objects of that kind) → each object's controller ownerReference, or None
    for an object with no owner (it is a top: a walk that reaches it stops there)."""
    index: dict[Key, dict[str, Any] | None] = {}
    for kind, objects in listed:
        for obj in objects:
            meta = obj.get("metadata") or {}
            index[(kind, str(meta.get("namespace") or ""), str(meta.get("name")))] = controller_ref(
                obj
            )
    return index


def chain(pod: dict[str, Any], index: Mapping[Key, dict[str, Any] | None]) -> list[Owner]:
    """The controllers of ``pod`` from its own up to the outermost the index knows of
    (empty: no owner). A Job or StatefulSet not listed is skipped by the pod's JobSet
    or LeaderWorkerSet label, whose owner kind is then listed instead."""
    meta = pod.get("metadata") or {}
    namespace = str(meta.get("namespace") or "")
    labels = meta.get("labels") or {}
    ref = controller_ref(pod)
    found: list[Owner] = []
    seen: set[Key] = set()
    while ref is not None and len(seen) < WALK_LIMIT:
        key = (str(ref.get("kind")), namespace, str(ref.get("name")))
        if key in seen:
            break
        if key not in index and not seen:
            skip = _skip(key[0], labels, namespace, index)
            if skip is not None:
                found.append(_owner(ref, namespace))
                seen.add(key)
                ref = skip
                continue
        seen.add(key)
        found.append(_owner(ref, namespace))
        ref = index.get(key)
    return found


def _skip(
    kind: str, labels: dict[str, Any], namespace: str, index: Mapping[Key, dict[str, Any] | None]
) -> dict[str, Any] | None:
    for label, (api, outer, inner) in SHORTCUTS.items():
        name = labels.get(label)
        if kind == inner and name and (outer, namespace, str(name)) in index:
            return {"apiVersion": api, "kind": outer, "name": name}
    return None


def _owner(ref: dict[str, Any], namespace: str) -> Owner:
    return Owner(str(ref.get("apiVersion", "")), str(ref.get("kind")), namespace,
                 str(ref.get("name")))  # fmt: skip


def top_owner(pod: dict[str, Any], index: Mapping[Key, dict[str, Any] | None]) -> Owner | None:
    """The outermost controller of ``pod`` the index knows of (None: no owner)."""
    found = chain(pod, index)
    return found[-1] if found else None
