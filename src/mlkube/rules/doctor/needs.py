"""What doctor lists: a few kinds always, then only what the objects listed so far
name or a diagnosis of them needs.

Pods name their owners (ownerReferences, and the JobSet and LeaderWorkerSet labels,
which skip a level); a Kueue Workload names its job; a FailedCreate event names the
controller that could not create its pods. Owners name their owners in the next round,
until the top. The costlier context is listed only when some object calls for it:
PersistentVolumeClaims and StorageClasses when a pod waits for a claim, ResourceQuotas
when the API server refused pods for one, queues when Kueue holds a workload. So the
number of list calls follows the kinds present, never the number of pods (issue 11:
at most 14 for a namespace with pods of a few kinds). Pure: `cluster.evidence` runs it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from mlkube.rules.doctor.owners import SHORTCUTS, controller_ref
from mlkube.snapshots.evidence import GPU_OPERATOR_NAMESPACE, Evidence
from mlkube.wellknown import GPU, JOB_NAME_LABEL, JOBSET_LABEL

KUEUE = "kueue.x-k8s.io/v1beta2"
# (apiVersion, kind, another namespace to list it in, or None: the workloads' own)
Want = tuple[str, str, str | None]

# Read by some diagnosis whatever else exists: the pods and their nodes, what the API
# server and controllers said, Kueue's hold on jobs that have no pods yet, and the two
# kinds that are diagnosed without any pod (an endpoint scaled to zero, an autoscaler).
FIRST: tuple[Want, ...] = (
    ("v1", "Pod", None),
    ("v1", "Event", None),
    ("v1", "Node", None),
    (KUEUE, "Workload", None),
    ("serving.kserve.io/v1beta1", "InferenceService", None),
    ("autoscaling/v2", "HorizontalPodAutoscaler", None),
)
_NOT_OWNERS = {"Node", "Pod", "Event"}  # mirror pods name their Node: listed already
_CLAIM_WAIT = ('persistentvolumeclaim "', "unbound immediate PersistentVolumeClaims")
_TRAINING = ("training.kubeflow.org/", "trainer.kubeflow.org/", JOBSET_LABEL)


def wanted(evidence: Evidence) -> list[Want]:
    """Every list call the objects in ``evidence`` call for, FIRST included, in a
    stable order; the caller lists those it has not listed yet."""
    calls: dict[Want, None] = dict.fromkeys(FIRST)
    pods = evidence.of("v1", "Pod")
    calls.update(dict.fromkeys(_owners(evidence, pods)))
    pending = [_unschedulable(p) for p in pods]
    if any(m and any(c in m for c in _CLAIM_WAIT) for m in pending):
        calls[("v1", "PersistentVolumeClaim", None)] = None
        calls[("storage.k8s.io/v1", "StorageClass", None)] = None
    if evidence.namespace and any(m and f"Insufficient {GPU}" in m for m in pending):
        calls[("v1", "Pod", GPU_OPERATOR_NAMESPACE)] = None  # is the GPU Operator failing?
    if any("exceeded quota" in str(e.get("message", "")) for e in evidence.of("v1", "Event")):
        calls[("v1", "ResourceQuota", None)] = None
    if evidence.of(KUEUE, "Workload"):
        calls[(KUEUE, "LocalQueue", None)] = None
        calls[(KUEUE, "ClusterQueue", None)] = None
    if any(_training(p) for p in pods):  # the rendezvous Service and the policies
        calls[("v1", "Service", None)] = None
        calls[("networking.k8s.io/v1", "NetworkPolicy", None)] = None
    return list(calls)


def _owners(evidence: Evidence, pods: list[dict[str, Any]]) -> Iterator[Want]:
    """The kinds that own listed objects: by the controller reference of pods and
    owners, the job a Workload stands for, the controller of a FailedCreate event."""
    for pod in pods:
        labels = (pod.get("metadata") or {}).get("labels") or {}
        # a label naming the outer owner skips the Job or StatefulSet in between
        shortcut = [(api, kind) for k, (api, kind, _) in SHORTCUTS.items() if k in labels]
        ref = controller_ref(pod)
        if shortcut:
            yield (*shortcut[0], None)
        elif ref is not None:
            yield from _want(ref)
    for key, objects in evidence.objects.items():
        if key.endswith(("/Pod", "/Event")):
            continue
        for obj in objects:
            ref = controller_ref(obj)
            if ref is not None:
                yield from _want(ref)
    for event in evidence.of("v1", "Event"):
        if event.get("reason") == "FailedCreate":
            yield from _want(event.get("involvedObject") or {})


def _want(ref: dict[str, Any]) -> Iterable[Want]:
    api, kind = str(ref.get("apiVersion") or ""), str(ref.get("kind") or "")
    return [(api, kind, None)] if api and kind and kind not in _NOT_OWNERS else []


def _unschedulable(pod: dict[str, Any]) -> str | None:
    for c in (pod.get("status") or {}).get("conditions") or []:
        if c.get("type") == "PodScheduled" and c.get("reason") == "Unschedulable":
            return str(c.get("message", ""))
    return None


def _training(pod: dict[str, Any]) -> bool:
    """A pod of a distributed job: its rendezvous Service and the NetworkPolicies
    matter only then (DK301, DK302)."""
    labels = (pod.get("metadata") or {}).get("labels") or {}
    return JOB_NAME_LABEL in labels or any(k.startswith(_TRAINING) for k in labels)
