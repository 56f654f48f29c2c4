"""Queries over Evidence that doctor rules share: pods, their owners, locations."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from mlkube.manifests.objects import Location, ObjectRef, condition, format_path
from mlkube.quantity import parse_quantity
from mlkube.rules.doctor.owners import Key, Owner, owner_index, top_owner
from mlkube.snapshots.evidence import Evidence
from mlkube.wellknown import GPU, ISVC_LABEL, JOB_NAME_LABEL


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


Owners = dict[Key, dict[str, Any] | None]
# Listed kinds that own nothing a diagnosis walks through.
_NOT_OWNERS = ("v1/Pod", "v1/Event", "v1/Node", "v1/Service", "v1/ResourceQuota")


def owners(evidence: Evidence) -> Owners:
    """Every listed object's controller, to walk pods up to their top-level workload."""
    return owner_index(
        (key.rsplit("/", 1)[1], objects)
        for key, objects in evidence.objects.items()
        if key not in _NOT_OWNERS
    )


def top(pod: dict[str, Any], index: Owners) -> Owner | None:
    """The workload ``pod`` belongs to, as users name it: its outermost controller, or
    for a pod whose owner the snapshot lacks, the job its Kubeflow or KServe label names."""
    found = top_owner(pod, index)
    meta = pod["metadata"]
    labels = meta.get("labels") or {}
    ns = str(meta.get("namespace") or "")
    if found is not None and (found.kind, ns, found.name) in index:
        return found
    if JOB_NAME_LABEL in labels:  # Training Operator v1: the pod's owner is the job
        kind = found.kind if found is not None else "PyTorchJob"
        return Owner(found.api_version if found else "kubeflow.org/v1", kind, ns,
                     str(labels[JOB_NAME_LABEL]))  # fmt: skip
    if ISVC_LABEL in labels:
        return Owner("serving.kserve.io/v1beta1", "InferenceService", ns, str(labels[ISVC_LABEL]))
    return found


def workload(pod: dict[str, Any], index: Owners | None = None) -> str | None:
    """What the pod belongs to, as users name it (``PyTorchJob ml/w``, ``TrainJob ml/t``:
    its outermost controller in ``index``), or None."""
    found = top(pod, index or {})
    return None if found is None else str(found)


def owner(pod: dict[str, Any], index: Owners | None = None) -> str:
    """The pod and what it belongs to, as users name them: ``pod w-0 of PyTorchJob ml/w``."""
    meta = pod["metadata"]
    of = workload(pod, index)
    return f"pod {meta['name']} of {of}" if of else f"pod {meta.get('namespace')}/{meta['name']}"


def named(pods: list[dict[str, Any]]) -> str:
    """``2 pod(s) (a, b)``: the pods a finding is about, the first five by name."""
    shown = sorted(str(p["metadata"]["name"]) for p in pods)
    more = f" and {len(shown) - 5} more" if len(shown) > 5 else ""
    return f"{len(shown)} pod(s) ({', '.join(shown[:5])}{more})"


def by_workload(
    evidence: Evidence, found: Iterator[tuple[dict[str, Any], Any]]
) -> list[tuple[Owner | None, Any, list[dict[str, Any]]]]:
    """(pod, cause) pairs grouped into one per workload and cause, with its pods: each
    cause is reported once for a Deployment's or a job's many pods. A pod without an
    owner is its own group."""
    index = owners(evidence)
    groups: dict[tuple[Any, ...], tuple[Owner | None, Any, list[dict[str, Any]]]] = {}
    for pod, cause in found:
        of = top(pod, index)
        meta = pod["metadata"]
        key = (of, cause) if of is not None else (meta.get("namespace"), meta["name"], cause)
        groups.setdefault(key, (of, cause, []))[2].append(pod)
    return list(groups.values())


def about(evidence: Evidence, of: Owner | None, members: list[dict[str, Any]],
          *path: str | int) -> tuple[Location, str]:  # fmt: skip
    """Where a grouped finding points (the workload, or a lone pod's ``path``) and how
    it names what it is about: ``Deployment ml/llm: 2 pod(s) (a, b)``, ``pod ml/x``."""
    if of is None:
        pod = members[0]
        return at(evidence, pod, *path), f"pod {pod['metadata'].get('namespace')}/" + str(
            pod["metadata"]["name"]
        )
    obj = {"apiVersion": of.api_version, "kind": of.kind,
           "metadata": {"namespace": of.namespace, "name": of.name}}  # fmt: skip
    return at(evidence, obj), f"{of}: {named(members)}"


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
