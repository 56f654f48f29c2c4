"""What the controller keeps of each Pod and Node it watches: the fields its plans,
deliveries, evictions, cordons and Events read, and nothing else.

A whole pod is about 4 KB of JSON and a few hundred Python objects (managedFields,
containers, volumes, statuses); at 8,000 pods that is most of the process's heap, and
every full collection of the cyclic garbage collector walks all of it, holding the GIL
while the recorders and writers wait. What the controller reads of a pod is a few
dozen objects. client-go's informers take a transform for the same reason
(``SharedIndexInformer.SetTransform``; controllers use it to drop managedFields).
Pure functions: the informer applies them to every object it lists or is sent, before
it stores or hands it on. Code that reads another field of a cached pod or node must
keep it here too; tests/controller/test_projection.py runs the plan on whole and kept
objects for each kind of notice.
"""

from __future__ import annotations

from typing import Any

from mlkube.controller.signals import NODE_NOTICE_CONDITIONS, POD_NOTICE_CONDITION

POD_METADATA = (
    "name", "namespace", "uid", "resourceVersion", "creationTimestamp",
    "deletionTimestamp", "labels", "annotations", "ownerReferences",
)  # fmt: skip
POD_SPEC = ("nodeName", "terminationGracePeriodSeconds")
NODE_METADATA = ("name", "uid", "resourceVersion", "labels", "annotations")
NODE_SPEC = ("taints", "unschedulable")


def pod(obj: dict[str, Any]) -> dict[str, Any]:
    """A Pod as the controller keeps it: who owns it, where it runs, whether it is
    ending, what it was asked, and its DisruptionTarget condition."""
    status = obj.get("status") or {}
    kept = {"phase": status.get("phase"), "conditions": _conditions(status, {POD_NOTICE_CONDITION})}
    return _slim(obj, POD_METADATA, POD_SPEC, kept)


def node(obj: dict[str, Any]) -> dict[str, Any]:
    """A Node as the controller keeps it: its taints, cordon, annotations and the
    conditions a cloud's notice is read from."""
    status = obj.get("status") or {}
    kept = {"conditions": _conditions(status, set(NODE_NOTICE_CONDITIONS))}
    return _slim(obj, NODE_METADATA, NODE_SPEC, kept)


def _conditions(status: dict[str, Any], types: set[str]) -> list[Any]:
    conditions = status.get("conditions") or []
    return [c for c in conditions if isinstance(c, dict) and c.get("type") in types]


def _slim(obj: dict[str, Any], metadata: tuple[str, ...], spec: tuple[str, ...],
          status: dict[str, Any]) -> dict[str, Any]:  # fmt: skip
    meta = obj.get("metadata") or {}
    body = obj.get("spec") or {}
    out: dict[str, Any] = {
        "metadata": {k: meta[k] for k in metadata if k in meta},
        "spec": {k: body[k] for k in spec if k in body},
        "status": {k: v for k, v in status.items() if v},
    }
    for key in ("apiVersion", "kind"):
        if key in obj:
            out[key] = obj[key]
    return out
