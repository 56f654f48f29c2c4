"""Doctor: why is this ML workload pending, killed or hung? Evidence in, findings out."""

from __future__ import annotations

import difflib
from typing import Any

from mlkube.errors import UsageError
from mlkube.manifests.objects import ObjectRef
from mlkube.rules.doctor import RULES
from mlkube.rules.doctor.common import ref
from mlkube.rules.engine import Selection, ordered, run
from mlkube.rules.model import Finding
from mlkube.snapshots.evidence import Evidence, clipped
from mlkube.wellknown import ISVC_LABEL, JOB_NAME_LABEL, JOBSET_LABEL


def _belongs(obj: dict[str, Any], name: str) -> bool:
    meta = obj.get("metadata", {})
    labels = meta.get("labels") or {}
    owners = {o.get("name") for o in meta.get("ownerReferences") or []}
    involved = (obj.get("involvedObject") or {}).get("name", "")
    return (
        meta.get("name") == name
        or name in owners
        or labels.get(JOB_NAME_LABEL) == name
        or labels.get(ISVC_LABEL) == name
        or labels.get(JOBSET_LABEL) == name  # a TrainJob's pods: its JobSet's name
        or involved == name
        or involved.startswith(f"{name}-")
    )


_PER_WORKLOAD = (
    "v1/Pod",
    "v1/Event",
    "kubeflow.org/v1/PyTorchJob",
    "trainer.kubeflow.org/v1alpha1/TrainJob",
    "serving.kserve.io/v1beta1/InferenceService",
    "kueue.x-k8s.io/v1beta2/Workload",
)


def belonging(evidence: Evidence, name: str) -> set[ObjectRef]:
    """The objects that make up job or endpoint ``name``: itself, its pods, workloads."""
    return {
        ref({"apiVersion": key.rsplit("/", 1)[0], "kind": key.rsplit("/", 1)[1], **o})
        for key in _PER_WORKLOAD
        for o in evidence.objects.get(key, [])
        if _belongs(o, name)
    }


def _workload_names(evidence: Evidence) -> set[str]:
    """The names users ask doctor about: jobs, endpoints, owners and pods."""
    names: set[str] = set()
    for key in _PER_WORKLOAD:
        for o in evidence.objects.get(key, []):
            meta = o.get("metadata", {})
            labels = meta.get("labels") or {}
            names.add(str(meta.get("name", "")))
            names.update(str(r.get("name", "")) for r in meta.get("ownerReferences") or [])
            names.update(
                str(labels[k]) for k in (JOB_NAME_LABEL, ISVC_LABEL, JOBSET_LABEL) if k in labels
            )
    return names - {""}


def require_workload(evidence: Evidence, name: str, source: str | None = None) -> None:
    """A UsageError (exit 2) when nothing in the snapshot is, or belongs to, ``name``:
    "No findings" would claim a workload that does not exist is healthy."""
    if belonging(evidence, name):
        return
    where = f"in namespace {evidence.namespace!r}" if evidence.namespace else "in any namespace"
    looked = f"snapshot {source}" if source else f"context {evidence.context!r}"
    close = difflib.get_close_matches(name, sorted(_workload_names(evidence)), n=3)
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    if evidence.namespace and not close:
        hint = "; -A looks in every namespace"
    raise UsageError(f"no job, endpoint or pod named {clipped(name)!r} {where} ({looked}){hint}")


def diagnose(
    evidence: Evidence, name: str | None = None, selection: Selection | None = None
) -> list[Finding]:
    """Findings on the whole snapshot (a diagnosis may need the rest of the cluster:
    who holds the GPUs, who is ahead in the queue), kept to ``name``'s objects if given."""
    selection = selection or Selection()
    findings = run(selection.enabled(RULES), evidence, selection)
    if name is not None:
        mine = belonging(evidence, name)
        findings = (f for f in findings if f.where.obj in mine)
    return ordered(findings)


def examined(evidence: Evidence, name: str | None = None) -> int:
    """How many workload objects (jobs, endpoints, pods, Kueue workloads) were examined."""
    if name is not None:
        return len({r for r in belonging(evidence, name) if r.kind != "Event"})
    return sum(len(evidence.objects.get(k, [])) for k in _PER_WORKLOAD if k != "v1/Event")
