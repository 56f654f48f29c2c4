"""Following a training job or an inference endpoint: one snapshot of what the API
server says about it, reduced to a phase and the facts behind it."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from mlkube.cluster import endpoints
from mlkube.cluster.client import Kube, NotServed
from mlkube.cluster.waiting import Watched, until
from mlkube.errors import MlkubeError, UsageError
from mlkube.wellknown import ISVC_LABEL, JOBSET_API, JOBSET_LABEL, TRAINER_API

TRAINJOB = (TRAINER_API, "TrainJob")
JOBSET = (JOBSET_API, "JobSet")
PYTORCHJOB = ("kubeflow.org/v1", "PyTorchJob")
ISVC = ("serving.kserve.io/v1beta1", "InferenceService")
WORKLOAD = ("kueue.x-k8s.io/v1beta2", "Workload")
TERMINAL = {"Succeeded", "Failed"}


@dataclass
class Status:
    kind: str
    namespace: str
    name: str
    phase: str  # Queued | Admitted | Pending | Running | Succeeded | Failed | Ready | NotReady
    message: str = ""
    queue: dict[str, Any] = field(default_factory=dict)
    pods: dict[str, int] = field(default_factory=dict)
    nodes: list[str] = field(default_factory=list)
    restarts: int = 0  # a TrainJob's JobSet restarts (a spot reclaim costs one)
    # An endpoint's predictor Deployment, ready pods per zone and HPA (`endpoints`).
    endpoint: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        if not self.endpoint:
            del out["endpoint"]  # a job has none
        return out

    def line(self) -> str:
        pods = ", ".join(f"{n} {p}" for p, n in sorted(self.pods.items())) or "no pods"
        queue = ""
        if self.queue:
            queue = f"; queue {self.queue.get('name')}: {self.queue.get('state')}"
        restarts = ""
        if self.restarts:
            restarts = f"; {self.restarts} restart{'s' if self.restarts > 1 else ''}"
        serving = endpoints.describe(self.endpoint) if self.endpoint else ""
        serving = f"; {serving}" if serving else ""
        tail = f" — {self.message}" if self.message else ""
        return (
            f"{self.kind} {self.namespace}/{self.name}: {self.phase} "
            f"({pods}{queue}{restarts}{serving})"
            f"{tail}"
        )


def _conditions(obj: dict[str, Any]) -> dict[str, dict[str, Any]]:
    items = obj.get("status", {}).get("conditions") or []
    return {c["type"]: c for c in items if isinstance(c, dict) and "type" in c}


def _true(conditions: dict[str, dict[str, Any]], kind: str) -> bool:
    return conditions.get(kind, {}).get("status") == "True"


# What each followed kind's status comes from: the training jobs first, by kind.
_KINDS = (TRAINJOB, PYTORCHJOB, ISVC)


def _get(kube: Kube, name: str, namespace: str) -> tuple[dict[str, Any], tuple[str, str]]:
    for kind in _KINDS:
        obj = kube.get(*kind, name, namespace)
        if obj is not None:
            return obj, kind
    raise _missing(name, namespace)


def _status(kube: Kube, obj: dict[str, Any], kind: tuple[str, str]) -> Status:
    if kind == TRAINJOB:
        return _trainjob_status(kube, obj)
    if kind == PYTORCHJOB:
        return _job_status(kube, obj)
    return _endpoint_status(kube, obj)


def job_status(kube: Kube, name: str, namespace: str) -> Status:
    obj, kind = _get(kube, name, namespace)
    return _status(kube, obj, kind)


def job_statuses(
    kube: Kube, namespace: str | None, selector: str | None = None, name: str | None = None
) -> list[Status]:
    """Every training job and endpoint in ``namespace`` (None: all of them) with the
    labels ``selector`` asks for (and, given, that ``name``): by kind (training jobs
    first), then namespace and name. A kind whose CRD is not installed has none."""
    statuses = []
    for kind in _KINDS:
        try:
            objs = kube.list(*kind, namespace, selector)
        except NotServed:
            continue
        for obj in sorted(objs, key=lambda o: (o["metadata"]["namespace"], o["metadata"]["name"])):
            if name is None or obj["metadata"]["name"] == name:
                statuses.append(_status(kube, obj, kind))
    return statuses


def follow(
    kube: Kube,
    name: str,
    namespace: str,
    phase: str,
    timeout: float,
    *,
    changed: Callable[[Status], None] = lambda _s: None,
    every: float = 5.0,
) -> Status:
    """The job's or endpoint's status once it is in ``phase`` or has ended (check the
    phase: it may have ended otherwise); `WaitTimeout` after ``timeout`` seconds.

    Woken by a watch on the job or endpoint itself: the Training Operator and KServe
    write their status whenever a pod changes, and Kueue admits by unsuspending the job.
    What only the Workload or a pod shows (a queue message) is read again every
    ``every`` seconds. ``changed`` hears of each new status."""
    _first, kind = _get(kube, name, namespace)
    watched = Watched(kube, *kind, name, namespace)
    last: list[Status] = []

    def check() -> Status | None:
        obj = watched.get()
        if obj is None:
            raise _missing(name, namespace)
        status = _status(kube, obj, kind)
        if not last or status != last[-1]:
            changed(status)
            last[:] = [status]
        return status if status.phase == phase or status.phase in TERMINAL else None

    return until(f"{name} to be {phase}", check, timeout=timeout, wake=watched.wake, every=every)


def _missing(name: str, namespace: str) -> UsageError:
    return UsageError(f"no TrainJob, PyTorchJob or InferenceService {namespace}/{name}")


def _job_status(kube: Kube, job: dict[str, Any]) -> Status:
    name, namespace = job["metadata"]["name"], job["metadata"]["namespace"]
    conditions = _conditions(job)
    queue = _workload(kube, job)
    pods = kube.list("v1", "Pod", namespace, f"training.kubeflow.org/job-name={name}")
    phase, message = "Pending", ""
    for kind in ("Failed", "Succeeded", "Running", "Restarting", "Created"):
        if _true(conditions, kind):
            phase, message = kind, conditions[kind].get("message", "")
            break
    if phase in ("Pending", "Created") and job.get("spec", {}).get("runPolicy", {}).get("suspend"):
        phase = "Queued"
        message = queue.get("message", "") or "suspended until Kueue admits it"
    elif phase == "Created":
        phase = "Pending"
    return Status(
        "PyTorchJob",
        namespace,
        name,
        phase,
        message,
        queue,
        dict(Counter(p.get("status", {}).get("phase", "Unknown") for p in pods)),
        sorted({p["spec"]["nodeName"] for p in pods if p.get("spec", {}).get("nodeName")}),
    )


def _trainjob_status(kube: Kube, job: dict[str, Any]) -> Status:
    """A TrainJob: its conditions (Complete, Failed, Suspended), its JobSet's restarts,
    and the pods JobSet labels with the TrainJob's name (the JobSet is named after it)."""
    name, namespace = job["metadata"]["name"], job["metadata"]["namespace"]
    conditions = _conditions(job)
    queue = _workload(kube, job)
    pods = kube.list("v1", "Pod", namespace, f"{JOBSET_LABEL}={name}")
    jobset = kube.get(*JOBSET, name, namespace) or {}
    counts = Counter(p.get("status", {}).get("phase", "Unknown") for p in pods)
    if _true(conditions, "Failed"):
        phase, message = "Failed", conditions["Failed"].get("message", "")
    elif _true(conditions, "Complete"):
        phase, message = "Succeeded", conditions["Complete"].get("message", "")
    elif job.get("spec", {}).get("suspend"):
        phase = "Queued"
        message = queue.get("message", "") or "suspended until Kueue admits it"
    elif counts.get("Running") or counts.get("Succeeded"):
        phase, message = "Running", ""  # or finishing: Complete is JobSet's to say
    else:
        phase, message = "Pending", ""
    return Status(
        "TrainJob",
        namespace,
        name,
        phase,
        message,
        queue,
        dict(counts),
        sorted({p["spec"]["nodeName"] for p in pods if p.get("spec", {}).get("nodeName")}),
        int(jobset.get("status", {}).get("restarts") or 0),
    )


def _workload(kube: Kube, job: dict[str, Any]) -> dict[str, Any]:
    """Kueue's Workload for ``job``: its queue and whether (and where) it is admitted."""
    try:
        workloads = kube.list(*WORKLOAD, job["metadata"]["namespace"])
    except MlkubeError:  # Kueue not installed: no queueing to report
        return {}
    uid = job["metadata"]["uid"]
    for w in workloads:
        if any(o.get("uid") == uid for o in w["metadata"].get("ownerReferences", [])):
            conditions = _conditions(w)
            admitted = _true(conditions, "Admitted")
            state = "admitted" if admitted else "pending"
            if _true(conditions, "Evicted"):
                state = "evicted"
            if _true(conditions, "Finished"):
                state = "finished"
            admission = w.get("status", {}).get("admission") or {}
            # An evicted workload keeps QuotaReserved True for a moment: say why it was
            # evicted (Kueue: "Preempted to accommodate a workload …"), not that quota is held.
            first = ("Evicted",) if state == "evicted" else ()
            message = next(
                (
                    c.get("message", "")
                    for t, c in [*((t, conditions[t]) for t in first), *conditions.items()]
                    if t in ("QuotaReserved", "Evicted", "Admitted")
                ),
                "",
            )
            return {
                "name": w["spec"].get("queueName"),
                "workload": w["metadata"]["name"],
                "state": state,
                "clusterQueue": admission.get("clusterQueue"),
                "message": message,
            }
    return {}


def _endpoint_status(kube: Kube, isvc: dict[str, Any]) -> Status:
    """An InferenceService: KServe's Ready condition, and what stands behind it (the
    predictor Deployment, ready pods per zone, the HPA). A Knative-mode endpoint on a
    cluster without Knative Serving says so: KServe only records an event for it."""
    meta = isvc["metadata"]
    conditions = _conditions(isvc)
    ready = _true(conditions, "Ready")
    message = "" if ready else conditions.get("Ready", {}).get("message", "")
    pods = kube.list("v1", "Pod", meta["namespace"], f"{ISVC_LABEL}={meta['name']}")
    serving = endpoints.gather(kube, isvc, pods)
    if (
        not ready
        and serving["mode"] in endpoints.KNATIVE_MODES
        and not endpoints.knative_served(kube)
    ):
        message = (
            f"{serving['mode']} mode needs Knative Serving, and this cluster does not serve "
            "serving.knative.dev (deploy it in Standard mode, or install Knative)"
        )
    elif not ready and not message and not conditions:
        message = "KServe has not reported a status (is its controller running?)"
    short = endpoints.shortfall(isvc, serving) if ready else None
    if short is not None:  # not yet the size it asks for: `wait --for=Ready` waits on
        ready, message = False, short
    return Status(
        "InferenceService",
        meta["namespace"],
        meta["name"],
        "Ready" if ready else "NotReady",
        message,
        {},
        dict(Counter(p.get("status", {}).get("phase", "Unknown") for p in pods)),
        sorted({p["spec"]["nodeName"] for p in pods if p.get("spec", {}).get("nodeName")}),
        endpoint=serving,
    )
