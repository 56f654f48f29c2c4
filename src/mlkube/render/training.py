"""TrainingJob → what both training operators run: the job's metadata, the pod's
sizing, volumes, mounts, environment and placement, and its peers' NetworkPolicy.
`render.pytorchjob` and `render.trainjob` put these same pieces into their shapes.

Memory is sized from real Kubernetes behaviour, not from the guide's "request 1.5×,
limit 2×" (see docs/decisions.md): the kubelet evicts first the pods whose usage
exceeds their request, and the kernel OOM-kills a container past its limit whatever
its QoS. A training pod allowed to grow past its request is therefore the first one
evicted under node pressure. So request == limit == the job's peak need, plus the
``/dev/shm`` tmpfs, whose pages are charged to the same memory cgroup. With CPU also
request == limit the pod is Guaranteed, evicted last.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from mlkube.quantity import format_bytes, quantity
from mlkube.render.labels import metadata, pool_selector, pool_tolerations
from mlkube.spec.models import Platform, Pool, TrainingJob
from mlkube.wellknown import (
    CHECKPOINT_INTERVAL_ANNOTATION,
    CHECKPOINT_PATH_ANNOTATION,
    GPU,
    PODINFO_DIR,
    QUEUE_LABEL,
    SPOT_BY_PROVIDER,
)

# Seconds kept back from the spot notice for the node to shut down, where it allows.
SHUTDOWN_MARGIN_SECONDS = 15
# Grace on on-demand capacity: time to write a checkpoint when evicted or preempted.
ON_DEMAND_GRACE_SECONDS = 120


@dataclass(frozen=True)
class PodParts:
    """One training pod as data, whichever operator creates it."""

    resources: dict[str, Any]  # requests and limits
    env: list[dict[str, Any]]  # the job's own, then MLKUBE_*
    mounts: list[dict[str, Any]]
    volumes: list[dict[str, Any]]
    grace: int | None = None
    node_selector: dict[str, str] | None = None
    tolerations: list[dict[str, Any]] = field(default_factory=list)


def job_metadata(job: TrainingJob) -> dict[str, Any]:
    """The operator object's metadata: the job's labels, its queue, its checkpoints."""
    spec = job.spec
    labels = dict(job.metadata.labels)
    if spec.queue:
        labels[QUEUE_LABEL] = spec.queue
    annotations = {}
    if spec.checkpoint is not None:
        annotations[CHECKPOINT_PATH_ANNOTATION] = spec.checkpoint.uri or spec.checkpoint.mount_path
        annotations[CHECKPOINT_INTERVAL_ANNOTATION] = str(spec.checkpoint.interval_minutes * 60)
    return metadata(job.metadata.name, namespace(job), labels=labels, annotations=annotations)


def namespace(job: TrainingJob) -> str:
    return job.metadata.namespace or "default"


def isolated(platform: Platform | None, name: str) -> bool:
    """Whether the Platform denies ingress in namespace ``name``."""
    return platform is not None and any(
        ns.name == name and ns.isolated for ns in platform.spec.namespaces
    )


def shm_bytes(job: TrainingJob) -> Decimal:
    """``/dev/shm`` size: as asked, else a quarter of the job's memory (at least 1 GiB).

    Exact: the spec bounds quantities to what Kubernetes counts (int64), so sums of
    two stay finite and render as quantities."""
    if job.spec.shm is not None:
        return _bytes(job.spec.shm)
    return max(Decimal(2**30), _bytes(job.spec.memory) / 4)


def _bytes(value: str | int | float) -> Decimal:
    exact = quantity(value)
    assert exact is not None  # the spec validated it
    return exact


def grace_seconds(job: TrainingJob, pool: Pool | None) -> int | None:
    if pool is not None and pool.spot:
        return spot_grace_seconds(pool)
    return ON_DEMAND_GRACE_SECONDS if job.spec.checkpoint is not None else None


def spot_grace_seconds(pool: Pool) -> int:
    """What a spot pool's notice leaves a pod to stop in."""
    notice = SPOT_BY_PROVIDER[pool.provider].pod_notice_seconds
    return max(notice - SHUTDOWN_MARGIN_SECONDS, min(notice, SHUTDOWN_MARGIN_SECONDS))


def grace_choices(platform: Platform) -> list[int | None]:
    """Every grace period a job on ``platform`` may be rendered with (None: the
    default), in a fixed order."""
    spot = {spot_grace_seconds(p) for p in platform.spec.pools if p.spot}
    return [None, *sorted({ON_DEMAND_GRACE_SECONDS, *spot})]


def resources(job: TrainingJob) -> dict[str, Any]:
    """Requests == limits: memory plus ``/dev/shm``, CPU, and the GPUs as limits."""
    spec = job.spec
    memory = format_bytes(_bytes(spec.memory) + shm_bytes(job))
    cpu = str(spec.cpu)
    limits: dict[str, Any] = {"cpu": cpu, "memory": memory}
    if spec.gpus_per_node:
        limits[GPU] = str(spec.gpus_per_node)
    return {"requests": {"cpu": cpu, "memory": memory}, "limits": limits}


def pod_parts(job: TrainingJob, pool: Pool | None) -> PodParts:
    spec = job.spec
    mounts: list[dict[str, Any]] = [{"name": "dshm", "mountPath": "/dev/shm"}]
    volumes: list[dict[str, Any]] = [
        {
            "name": "dshm",
            "emptyDir": {"medium": "Memory", "sizeLimit": format_bytes(shm_bytes(job))},
        }
    ]
    env = [{"name": k, "value": v} for k, v in sorted(spec.env.items())]
    if spec.dataset is not None:
        mounts.append(
            {
                "name": "dataset",
                "mountPath": spec.dataset.mount_path,
                "readOnly": spec.dataset.read_only,
            }
        )
        claim = {"claimName": spec.dataset.claim, "readOnly": spec.dataset.read_only}
        volumes.append({"name": "dataset", "persistentVolumeClaim": claim})
    if spec.checkpoint is not None:
        checkpoint = spec.checkpoint
        interval = str(checkpoint.interval_minutes * 60)
        env.append({"name": "MLKUBE_CHECKPOINT_INTERVAL_SECONDS", "value": interval})
        if checkpoint.claim is not None:
            env.append({"name": "MLKUBE_CHECKPOINT_DIR", "value": checkpoint.mount_path})
            mounts.append({"name": "checkpoints", "mountPath": checkpoint.mount_path})
            volumes.append(
                {"name": "checkpoints", "persistentVolumeClaim": {"claimName": checkpoint.claim}}
            )
        else:
            env.append({"name": "MLKUBE_CHECKPOINT_URI", "value": str(checkpoint.uri)})
        # The checkpoint controller's requests reach the runtime as a pod annotation,
        # which the kubelet projects into this file (docs/runtime.md says why).
        env.append({"name": "MLKUBE_PODINFO_DIR", "value": PODINFO_DIR})
        mounts.append({"name": "podinfo", "mountPath": PODINFO_DIR, "readOnly": True})
        volumes.append(
            {
                "name": "podinfo",
                "downwardAPI": {
                    "items": [
                        {"path": "annotations", "fieldRef": {"fieldPath": "metadata.annotations"}}
                    ]
                },
            }
        )
    return PodParts(
        resources=resources(job),
        env=env,
        mounts=mounts,
        volumes=volumes,
        grace=grace_seconds(job, pool),
        node_selector=pool_selector(pool) if pool is not None else None,
        tolerations=pool_tolerations(pool) if pool is not None else [],
    )


def program(job: TrainingJob, parts: PodParts) -> dict[str, Any]:
    """What the training container runs: image, command, args and env, in the order both
    shapes use (a PyTorchJob's container, a TrainJob's trainer block)."""
    spec = job.spec
    out: dict[str, Any] = {"image": spec.image}
    if spec.command:
        out["command"] = list(spec.command)
    if spec.args:
        out["args"] = list(spec.args)
    if parts.env:
        out["env"] = parts.env
    return out


def placement(parts: PodParts) -> dict[str, Any]:
    """The pod-spec fields that place the pod, in the order both shapes use."""
    out: dict[str, Any] = {}
    if parts.node_selector is not None:
        out["nodeSelector"] = parts.node_selector
    if parts.tolerations:
        out["tolerations"] = parts.tolerations
    return out


def peers_policy(job: TrainingJob, label: str) -> dict[str, Any]:
    """In an isolated namespace, let the job's pods reach each other on every port;
    ``label`` is the one its operator puts on every pod of the job, valued its name.

    Only ingress is opened: egress stays unrestricted, so DNS, object storage and the
    rendezvous all keep working. Adding an Egress policy type here would instead cut
    every destination not listed (see docs/decisions.md).
    """
    peers = {"podSelector": {"matchLabels": {label: job.metadata.name}}}
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": metadata(f"{job.metadata.name}-peers", namespace(job)),
        "spec": {
            "podSelector": {"matchLabels": {label: job.metadata.name}},
            "policyTypes": ["Ingress"],
            "ingress": [{"from": [peers]}],
        },
    }
