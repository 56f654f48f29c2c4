"""What doctor lists: a few kinds always, then only what the objects listed so far
name or a diagnosis of them needs.

Pods name their owners (ownerReferences, and the JobSet and LeaderWorkerSet labels,
which skip a level); a Kueue Workload names its job; a FailedCreate event names the
controller that could not create its pods. Owners name their owners in the next round,
until the top. The costlier context is listed only when some object calls for it:
PersistentVolumeClaims and StorageClasses when a pod waits for a claim, queues when
Kueue holds a workload, autoscalers when something they scale exists, the
APIServices when an autoscaler fails on a custom metric, Knative Services when an
endpoint asks for Knative mode. (A quota
refusal's event names the quota, what was asked, used and allowed: no ResourceQuota
list is needed.) So the number of list calls follows the kinds present, never the
number of pods (issue 11: at most 14 for a namespace with pods of a few kinds).
Pure: `cluster.evidence` runs it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from mlkube.rules.doctor.common import owners, unschedulable
from mlkube.rules.doctor.owners import SHORTCUTS, chain
from mlkube.rules.doctor.serving import wants_apiservices, wants_knative
from mlkube.snapshots.evidence import GPU_OPERATOR_NAMESPACE, Evidence
from mlkube.wellknown import GPU, JOB_NAME_LABEL, JOBSET_LABEL

KUEUE = "kueue.x-k8s.io/v1beta2"
# (apiVersion, kind, another namespace to list it in, or None: the workloads' own)
Want = tuple[str, str, str | None]

# Read by some diagnosis whatever else exists: the pods and their nodes, what the API
# server and controllers said, Kueue's hold on jobs that have no pods yet, and
# endpoints, which are diagnosed without any pod (scaled to zero).
FIRST: tuple[Want, ...] = (
    ("v1", "Pod", None),
    ("v1", "Event", None),
    ("v1", "Node", None),
    (KUEUE, "Workload", None),
    ("serving.kserve.io/v1beta1", "InferenceService", None),
)
# Less than every object of a kind, where no diagnosis reads the rest (a field
# selector, as kubectl's). Events: only warnings are read (a controller's
# FailedCreate, a quota refusal); the Normal ones (Scheduled, Pulled, Started: one or
# more per pod) cost ten pages in a namespace of 5,000 pods (docs/benchmarks.md).
FIELDS: dict[tuple[str, str], str] = {("v1", "Event"): "type=Warning"}
# Owners an autoscaler scales: the HorizontalPodAutoscalers matter only with them.
_SCALED = {"ReplicaSet", "Deployment", "StatefulSet", "LeaderWorkerSet"}
_NOT_OWNERS = {"Node", "Pod", "Event"}  # mirror pods name their Node: listed already
_CLAIM_WAIT = ('persistentvolumeclaim "', "unbound immediate PersistentVolumeClaims")
_TRAINING = ("training.kubeflow.org/", "trainer.kubeflow.org/", JOBSET_LABEL)


def wanted(evidence: Evidence) -> list[Want]:
    """Every list call the objects in ``evidence`` call for, FIRST included, in a
    stable order; the caller lists those it has not listed yet."""
    calls: dict[Want, None] = dict.fromkeys(FIRST)
    pods = evidence.of("v1", "Pod")
    calls.update(dict.fromkeys(_owners(evidence, pods)))
    pending = [unschedulable(p) for p in pods]
    if any(m and any(c in m for c in _CLAIM_WAIT) for m in pending):
        calls[("v1", "PersistentVolumeClaim", None)] = None
        calls[("storage.k8s.io/v1", "StorageClass", None)] = None
    if evidence.namespace and any(m and f"Insufficient {GPU}" in m for m in pending):
        calls[("v1", "Pod", GPU_OPERATOR_NAMESPACE)] = None  # is the GPU Operator failing?
    if evidence.of(KUEUE, "Workload"):
        calls[(KUEUE, "LocalQueue", None)] = None
        calls[(KUEUE, "ClusterQueue", None)] = None
    if evidence.of("serving.kserve.io/v1beta1", "InferenceService") or any(
        k.rsplit("/", 1)[1] in _SCALED for k in evidence.objects
    ):
        calls[("autoscaling/v2", "HorizontalPodAutoscaler", None)] = None
    if wants_apiservices(evidence):  # which adapter serves custom metrics, if any (DK402)
        calls[("apiregistration.k8s.io/v1", "APIService", None)] = None
    if wants_knative(evidence):  # served or not: discovery answers, no list when absent
        calls[("serving.knative.dev/v1", "Service", None)] = None
    if any(_training(p) for p in pods):  # the rendezvous Service and the policies
        calls[("v1", "Service", None)] = None
        calls[("networking.k8s.io/v1", "NetworkPolicy", None)] = None
    return list(calls)


def _owners(evidence: Evidence, pods: list[dict[str, Any]]) -> Iterator[Want]:
    """The next kind up from each pod, each Workload's job and each FailedCreate
    event's controller: where its walk up the owners listed so far stops at an owner
    not listed yet. Owners of objects no pod or job leads to are not followed (a
    suspended JobSet's Jobs do not bring in the JobSet)."""
    index = owners(evidence)
    starts = list(pods) + evidence.of(KUEUE, "Workload")
    for event in evidence.of("v1", "Event"):
        involved = event.get("involvedObject") or {}
        if event.get("reason") == "FailedCreate" and involved.get("kind") not in _NOT_OWNERS:
            meta = {"namespace": involved.get("namespace"), "ownerReferences": [involved]}
            starts.append({"metadata": meta})
    for start in starts:
        walked = chain(start, index)
        if not walked:
            continue
        top = walked[-1]
        if (top.kind, top.namespace, top.name) in index:
            continue  # up to a listed object that has no owner: the top
        labels = (start.get("metadata") or {}).get("labels") or {}
        skip = [(api, kind) for label, (api, kind, _) in SHORTCUTS.items() if label in labels]
        if skip and len(walked) == 1:  # the JobSet by label, not the Job in between
            yield (*skip[0], None)
        else:
            yield from _want({"apiVersion": top.api_version, "kind": top.kind})


def _want(ref: dict[str, Any]) -> Iterable[Want]:
    api, kind = str(ref.get("apiVersion") or ""), str(ref.get("kind") or "")
    return [(api, kind, None)] if api and kind and kind not in _NOT_OWNERS else []


def _training(pod: dict[str, Any]) -> bool:
    """A pod of a distributed job: its rendezvous Service and the NetworkPolicies
    matter only then (DK301, DK302)."""
    labels = (pod.get("metadata") or {}).get("labels") or {}
    return JOB_NAME_LABEL in labels or any(k.startswith(_TRAINING) for k in labels)
