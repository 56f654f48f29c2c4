"""Who a pod belongs to, walked up its controllers: pod → Job → JobSet → TrainJob
(Kubeflow Trainer v2), pod → PyTorchJob, pod → ReplicaSet → Deployment, … Pure: the
index is built from the listed owners' own ``ownerReferences``."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from mlkube.wellknown import JOBSET_API, JOBSET_LABEL

TRAINJOB = "TrainJob"
Key = tuple[str, str, str]  # (kind, namespace, name)
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
) -> dict[Key, dict[str, Any]]:
    """(kind, objects of that kind) → each object's controller ownerReference."""
    index: dict[Key, dict[str, Any]] = {}
    for kind, objects in listed:
        for obj in objects:
            meta = obj.get("metadata") or {}
            up = controller_ref(obj)
            if up is not None:
                index[(kind, str(meta.get("namespace") or ""), str(meta.get("name")))] = up
    return index


def top_owner(pod: dict[str, Any], index: dict[Key, dict[str, Any]]) -> Owner | None:
    """The outermost controller of ``pod`` the index knows of (None: no owner). A chain
    that stops at a Job not listed goes on from the pod's JobSet label."""
    meta = pod.get("metadata") or {}
    namespace = str(meta.get("namespace") or "")
    ref = controller_ref(pod)
    if ref is None:
        return None
    seen: set[Key] = set()
    while len(seen) < WALK_LIMIT:
        key = (str(ref.get("kind")), namespace, str(ref.get("name")))
        up = index.get(key)
        if up is None and key[0] == "Job" and not seen:
            jobset = (meta.get("labels") or {}).get(JOBSET_LABEL)
            if jobset and ("JobSet", namespace, jobset) in index:
                seen.add(key)
                ref = {"apiVersion": JOBSET_API, "kind": "JobSet",
                       "name": jobset}  # fmt: skip
                continue
        if up is None or key in seen:
            break
        seen.add(key)
        ref = up
    return Owner(str(ref.get("apiVersion", "")), str(ref.get("kind")), namespace,
                 str(ref.get("name")))  # fmt: skip
