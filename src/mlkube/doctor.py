"""Doctor: why is this ML workload pending, killed or hung? Evidence in, findings out."""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from mlkube.errors import UsageError
from mlkube.manifests.objects import ObjectRef
from mlkube.rules.doctor import RULES
from mlkube.rules.doctor.common import Owners, owners, ref
from mlkube.rules.doctor.owners import chain
from mlkube.rules.engine import Selection, ordered, run
from mlkube.rules.model import Finding
from mlkube.snapshots.evidence import Evidence, clipped
from mlkube.wellknown import ISVC_LABEL, JOB_NAME_LABEL, JOBSET_LABEL

# Listed for context, not workloads: a Service or a claim named NAME is not a job.
_CONTEXT = frozenset({
    "Event", "Node", "Service", "ResourceQuota", "NetworkPolicy", "PersistentVolumeClaim",
    "StorageClass", "LocalQueue", "ClusterQueue", "PriorityClass", "HorizontalPodAutoscaler",
    "APIService",
})  # fmt: skip


def _objects(evidence: Evidence) -> Iterator[dict[str, Any]]:
    for key, items in evidence.objects.items():
        api_version, kind = key.rsplit("/", 1)
        for o in items:
            yield {"apiVersion": api_version, "kind": kind, **o}


def _names(obj: dict[str, Any], index: Owners) -> set[str]:
    """The names ``obj`` answers to: its own, its owners' up to the top, the job or
    endpoint its labels name, and for an event the object it is about."""
    meta = obj.get("metadata", {})
    labels = meta.get("labels") or {}
    names = {str(meta.get("name", ""))}
    names.update(o.name for o in chain(obj, index))
    names.update(str(labels[k]) for k in (JOB_NAME_LABEL, ISVC_LABEL, JOBSET_LABEL) if k in labels)
    involved = obj.get("involvedObject") or {}
    if involved.get("name"):
        names.add(str(involved["name"]))
        names.update(o.name for o in chain({"metadata": {**meta, "ownerReferences": [involved]}},
                                           index))  # fmt: skip
    return names - {""}


def _belongs(obj: dict[str, Any], name: str, index: Owners) -> bool:
    if name in _names(obj, index):
        return True
    involved = str((obj.get("involvedObject") or {}).get("name", ""))
    return involved.startswith(f"{name}-")  # a Job's pods named in events, say


def belonging(evidence: Evidence, name: str) -> set[ObjectRef]:
    """The objects that make up workload ``name``: itself, its owned objects and pods,
    its Kueue workload, its events, and its owners (those a finding may point at)."""
    index = owners(evidence)
    found: set[ObjectRef] = set()
    for obj in _objects(evidence):
        if obj["kind"] in _CONTEXT - {"Event"} or not _belongs(obj, name, index):
            continue
        found.add(ref(obj))
        for o in chain(obj, index):
            found.add(ObjectRef(o.api_version, o.kind, o.namespace or None, o.name))
    return found


Labels = Callable[[Mapping[str, str]], bool]  # a parsed `-l` (manifests.labelselector)


def selected(evidence: Evidence, matches: Labels) -> set[ObjectRef]:
    """The objects of the workloads whose labels match (kubectl's ``-l``): a matching
    object, what it owns (pods, Kueue workloads), its owners up the chain (where a
    finding may be), and the events about any of these."""
    index = owners(evidence)
    objs = [o for o in _objects(evidence) if o["kind"] not in _CONTEXT - {"Event"}]
    chosen = {
        _same(ref(o))
        for o in objs
        if o["kind"] != "Event" and matches(o.get("metadata", {}).get("labels") or {})
    }
    found: set[ObjectRef] = set()
    for obj in objs:
        meta = obj.get("metadata", {})
        involved = obj.get("involvedObject") or {}
        if obj["kind"] == "Event":  # about the object it names, and that one's owners
            about = {"metadata": {**meta, "ownerReferences": [involved]}}
            around = [ObjectRef(o.api_version, o.kind, o.namespace or None, o.name)
                      for o in chain(about, index)]  # fmt: skip
        else:
            around = [ref(obj)] + [
                ObjectRef(o.api_version, o.kind, o.namespace or None, o.name)
                for o in chain(obj, index)
            ]
        if any(_same(r) in chosen for r in around):
            found.add(ref(obj))
            found.update(around)
    return found


def _workload_names(evidence: Evidence) -> set[str]:
    """The names users ask doctor about: workloads, their owners and pods."""
    index = owners(evidence)
    names: set[str] = set()
    for obj in _objects(evidence):
        if obj["kind"] not in _CONTEXT:
            names |= _names(obj, index)
    return names


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
    evidence: Evidence,
    name: str | None = None,
    selection: Selection | None = None,
    labels: Labels | None = None,
) -> list[Finding]:
    """Findings on the whole snapshot (a diagnosis may need the rest of the cluster:
    who holds the GPUs, who is ahead in the queue), kept to ``name``'s objects if given,
    and to those of the workloads ``labels`` matches (``-l``) if given."""
    selection = selection or Selection()
    findings = run(selection.enabled(RULES), evidence, selection)
    if name is not None:
        mine = {_same(r) for r in belonging(evidence, name)}
        findings = (f for f in findings if _same(f.where.obj) in mine)
    if labels is not None:
        picked = {_same(r) for r in selected(evidence, labels)}
        findings = (f for f in findings if _same(f.where.obj) in picked)
    return ordered(findings)


def _same(r: ObjectRef) -> tuple[str, str | None, str]:
    """An object by kind, namespace and name: an owner reference and the listed
    object may spell the group's version differently."""
    return (r.kind, r.namespace or None, r.name)


def examined(evidence: Evidence, name: str | None = None, labels: Labels | None = None) -> int:
    """How many workload objects (jobs, endpoints, pods, Kueue workloads, their owners)
    were examined."""
    if name is None and labels is None:
        return sum(1 for o in _objects(evidence) if o["kind"] not in _CONTEXT)
    refs = belonging(evidence, name) if name is not None else None
    if labels is not None:
        picked = selected(evidence, labels)
        keys = {_same(p) for p in picked}  # NAME and -l together: what both keep
        refs = picked if refs is None else {r for r in refs if _same(r) in keys}
    assert refs is not None
    return len({r for r in refs if r.kind != "Event"})
