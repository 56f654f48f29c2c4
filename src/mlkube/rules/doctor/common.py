"""Queries over Evidence that doctor rules share: pods, their owners, locations."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from mlkube.manifests.objects import Location, ObjectRef, condition, format_path
from mlkube.quantity import parse_quantity
from mlkube.rules.doctor.owners import Key, owner_index, top_owner
from mlkube.snapshots.evidence import Evidence
from mlkube.wellknown import GPU, ISVC_LABEL, JOB_NAME_LABEL, JOBSET_API


def ref(obj: dict[str, Any]) -> ObjectRef:
    meta = obj.get("metadata", {})
    return ObjectRef(
        obj.get("apiVersion", "v1"),
        obj.get("kind", ""),
        meta.get("namespace"),
        meta.get("name", ""),
    )


def at(evidence: Evidence, obj: dict[str, Any], *path: str | int) -> Location:
    """Where a finding about a live object points: the cluster, the object, a field."""
    return Location(evidence.context, 0, ref(obj), format_path(path))


def pods(evidence: Evidence) -> list[dict[str, Any]]:
    return [{"apiVersion": "v1", "kind": "Pod", **p} for p in evidence.of("v1", "Pod")]


Owners = dict[Key, dict[str, Any]]

# The owners listed to walk a pod up to its job: a TrainJob's pods are its Jobs' pods.
OWNING_KINDS = (("batch/v1", "Job"), (JOBSET_API, "JobSet"))


def owners(evidence: Evidence) -> Owners:
    """The controller of each listed Job and JobSet, to walk pods up to their TrainJob."""
    return owner_index((kind, evidence.of(api, kind)) for api, kind in OWNING_KINDS)


def workload(pod: dict[str, Any], index: Owners | None = None) -> str | None:
    """What the pod belongs to, as users name it (``PyTorchJob ml/w``, ``TrainJob ml/t``:
    its outermost controller in ``index``), or None."""
    meta = pod["metadata"]
    labels = meta.get("labels") or {}
    ns = meta.get("namespace")
    refs = meta.get("ownerReferences") or []
    if JOB_NAME_LABEL in labels:
        return f"PyTorchJob {ns}/{labels[JOB_NAME_LABEL]}"
    if ISVC_LABEL in labels:
        return f"InferenceService {ns}/{labels[ISVC_LABEL]}"
    top = top_owner(pod, index or {})
    if top is not None:
        return str(top)
    if refs:
        return f"{refs[0]['kind']} {ns}/{refs[0]['name']}"
    return None


def owner(pod: dict[str, Any], index: Owners | None = None) -> str:
    """The pod and what it belongs to, as users name them: ``pod w-0 of PyTorchJob ml/w``."""
    meta = pod["metadata"]
    of = workload(pod, index)
    return f"pod {meta['name']} of {of}" if of else f"pod {meta.get('namespace')}/{meta['name']}"


def unschedulable(pod: dict[str, Any]) -> str | None:
    """The scheduler's message for a pending pod it cannot place, or None."""
    scheduled = condition(pod, "PodScheduled")
    if (
        pod.get("status", {}).get("phase") != "Pending"
        or scheduled.get("reason") != "Unschedulable"
    ):
        return None
    return str(scheduled.get("message", ""))


def container_statuses(pod: dict[str, Any]) -> Iterator[tuple[int, dict[str, Any]]]:
    yield from enumerate(pod.get("status", {}).get("containerStatuses") or [])


def container_spec(pod: dict[str, Any], name: str) -> dict[str, Any]:
    for c in pod.get("spec", {}).get("containers") or []:
        if c.get("name") == name:
            return dict(c)
    return {}


def gpus_of(pod: dict[str, Any]) -> float:
    total = 0.0
    for c in pod.get("spec", {}).get("containers") or []:
        limits = (c.get("resources") or {}).get("limits") or {}
        total += parse_quantity(limits.get(GPU, 0)) or 0.0
    return total
