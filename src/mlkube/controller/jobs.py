"""Which training job a pod belongs to, and the record of checkpoint requests that
the controller keeps on the job.

The record is one annotation holding JSON, written with the job's resourceVersion as
a precondition: that compare-and-swap is what makes "one request per job per notice"
hold across restarts, lost watches and two replicas.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from mlkube.wellknown import CHECKPOINT_REQUEST_ANNOTATION, JOBSET_API, JOBSET_LABEL

# On the job: every request made, with the notices it answered (JSON list, newest last).
RECORD_ANNOTATION = "mlkube.dev/checkpoint-requests"
# On each pod: the id of the newest request; the runtime reads it through the
# downward API and checkpoints once per id.
REQUEST_ANNOTATION = CHECKPOINT_REQUEST_ANNOTATION
RECORD_KEEP = 20

KUBEFLOW_KINDS = frozenset({"PyTorchJob", "TFJob", "MPIJob", "XGBoostJob", "PaddleJob", "JAXJob"})
# Kubeflow Trainer v2: a TrainJob controls the JobSet it runs as (jobset plugin, v2.3.0:
# ownerReferences [{apiVersion, kind: TrainJob, name, uid, controller, blockOwnerDeletion}]).
TRAINJOB_KIND = "TrainJob"
OPT_IN_ANNOTATION = "mlkube.dev/checkpoint-path"


@dataclass(frozen=True, slots=True)
class JobRef:
    api_version: str
    kind: str
    namespace: str
    name: str

    def __str__(self) -> str:
        return f"{self.kind}/{self.name} in {self.namespace}"


def job_of(pod: dict[str, Any]) -> JobRef | None:
    """The training job that owns ``pod``: a Kubeflow job that controls it, the JobSet
    it belongs to, or, for a pod mlkube rendered with a checkpoint, its controller."""
    meta = pod.get("metadata") or {}
    namespace = str(meta.get("namespace") or "default")
    owner = next((o for o in meta.get("ownerReferences") or [] if o.get("controller")), None)
    if owner is not None and owner.get("kind") in KUBEFLOW_KINDS:
        return JobRef(owner["apiVersion"], owner["kind"], namespace, owner["name"])
    jobset = (meta.get("labels") or {}).get(JOBSET_LABEL)
    if jobset:
        return JobRef(JOBSET_API, "JobSet", namespace, jobset)
    if owner is not None and OPT_IN_ANNOTATION in (meta.get("annotations") or {}):
        return JobRef(owner["apiVersion"], owner["kind"], namespace, owner["name"])
    return None


def record_target(jobset: JobRef, meta: dict[str, Any] | None) -> JobRef:
    """The job a JobSet's checkpoint request is recorded on, given the JobSet's
    metadata (``None``: unknown): the TrainJob that controls it, else the JobSet."""
    owner = next(
        (o for o in (meta or {}).get("ownerReferences") or [] if o.get("controller")), None
    )
    if (
        owner is not None
        and owner.get("kind") == TRAINJOB_KIND
        and str(owner.get("apiVersion", "")).startswith("trainer.kubeflow.org/")
        and owner.get("name")
    ):
        return JobRef(str(owner["apiVersion"]), TRAINJOB_KIND, jobset.namespace, owner["name"])
    return jobset


@dataclass(frozen=True, slots=True)
class Request:
    id: str
    notices: tuple[str, ...]
    signal: str
    nodes: tuple[str, ...]
    at: str

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "notices": list(self.notices),
            "signal": self.signal,
            "nodes": list(self.nodes),
            "at": self.at,
        }


def request_id(job_uid: str, notice_keys: tuple[str, ...]) -> str:
    """Deterministic: two replicas answering the same notices name the request alike,
    so a duplicate delivery to a pod is recognisably the same request."""
    digest = hashlib.sha256("\n".join((job_uid, *sorted(notice_keys))).encode()).hexdigest()
    return f"r-{digest[:12]}"


def read_record(job: dict[str, Any]) -> list[Request]:
    raw = ((job.get("metadata") or {}).get("annotations") or {}).get(RECORD_ANNOTATION)
    try:
        entries = json.loads(raw) if raw else []
    except ValueError:
        return []  # someone mangled it: start over rather than stop working
    out = []
    for e in entries if isinstance(entries, list) else []:
        if isinstance(e, dict) and isinstance(e.get("id"), str):
            out.append(
                Request(
                    e["id"],
                    tuple(str(n) for n in e.get("notices") or []),
                    str(e.get("signal", "")),
                    tuple(str(n) for n in e.get("nodes") or []),
                    str(e.get("at", "")),
                )
            )
    return out


def handled(record: list[Request]) -> set[str]:
    return {key for request in record for key in request.notices}


def record_patch(job: dict[str, Any], record: list[Request]) -> dict[str, Any]:
    """A merge patch that appends to the record only if nobody wrote the job since we
    read it (the resourceVersion makes the server answer 409 otherwise)."""
    meta = job["metadata"]
    value = json.dumps([r.to_json() for r in record[-RECORD_KEEP:]], separators=(",", ":"))
    return {
        "metadata": {
            "resourceVersion": meta["resourceVersion"],
            "annotations": {RECORD_ANNOTATION: value},
        }
    }
