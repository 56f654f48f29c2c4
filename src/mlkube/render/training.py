"""TrainingJob → PyTorchJob (``kubeflow.org/v1``), and its peers' NetworkPolicy.

Memory is sized from real Kubernetes behaviour, not from the guide's "request 1.5×,
limit 2×" (see docs/decisions.md): the kubelet evicts first the pods whose usage
exceeds their request, and the kernel OOM-kills a container past its limit whatever
its QoS. A training pod allowed to grow past its request is therefore the first one
evicted under node pressure. So request == limit == the job's peak need, plus the
``/dev/shm`` tmpfs, whose pages are charged to the same memory cgroup. With CPU also
request == limit the pod is Guaranteed, evicted last.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from mlkube.quantity import format_bytes, quantity
from mlkube.render.labels import metadata, pool_selector, pool_tolerations
from mlkube.spec.models import Platform, Pool, TrainingJob
from mlkube.wellknown import (
    CHECKPOINT_INTERVAL_ANNOTATION,
    CHECKPOINT_PATH_ANNOTATION,
    GPU,
    JOB_NAME_LABEL,
    PODINFO_DIR,
    QUEUE_LABEL,
    SPOT_BY_PROVIDER,
)

# Seconds kept back from the spot notice for the node to shut down, where it allows.
SHUTDOWN_MARGIN_SECONDS = 15
# Grace on on-demand capacity: time to write a checkpoint when evicted or preempted.
ON_DEMAND_GRACE_SECONDS = 120


def render_training_job(
    job: TrainingJob, pool: Pool | None, platform: Platform | None
) -> list[dict[str, Any]]:
    spec = job.spec
    namespace = job.metadata.namespace or "default"
    labels = dict(job.metadata.labels)
    if spec.queue:
        labels[QUEUE_LABEL] = spec.queue
    annotations = {}
    if spec.checkpoint is not None:
        annotations[CHECKPOINT_PATH_ANNOTATION] = spec.checkpoint.uri or spec.checkpoint.mount_path
        annotations[CHECKPOINT_INTERVAL_ANNOTATION] = str(spec.checkpoint.interval_minutes * 60)
    replica_specs: dict[str, Any] = {"Master": _replicas(job, pool, 1)}
    if spec.nodes > 1:
        replica_specs["Worker"] = _replicas(job, pool, spec.nodes - 1)
    out: list[dict[str, Any]] = [
        {
            "apiVersion": "kubeflow.org/v1",
            "kind": "PyTorchJob",
            "metadata": metadata(
                job.metadata.name, namespace, labels=labels, annotations=annotations
            ),
            "spec": {
                "runPolicy": {"cleanPodPolicy": "None", "backoffLimit": 10},
                "pytorchReplicaSpecs": replica_specs,
            },
        }
    ]
    if spec.nodes > 1 and platform is not None and _isolated(platform, namespace):
        out.append(_peers_policy(job, namespace))
    return out


def _isolated(platform: Platform, namespace: str) -> bool:
    return any(ns.name == namespace and ns.isolated for ns in platform.spec.namespaces)


def _replicas(job: TrainingJob, pool: Pool | None, count: int) -> dict[str, Any]:
    return {
        "replicas": count,
        "restartPolicy": "OnFailure",
        "template": {
            "metadata": {"labels": {"app.kubernetes.io/managed-by": "mlkube"}},
            "spec": _pod_spec(job, pool),
        },
    }


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
        notice = SPOT_BY_PROVIDER[pool.provider].pod_notice_seconds
        return max(notice - SHUTDOWN_MARGIN_SECONDS, min(notice, SHUTDOWN_MARGIN_SECONDS))
    return ON_DEMAND_GRACE_SECONDS if job.spec.checkpoint is not None else None


def _pod_spec(job: TrainingJob, pool: Pool | None) -> dict[str, Any]:
    spec = job.spec
    shm = shm_bytes(job)
    memory = format_bytes(_bytes(spec.memory) + shm)
    cpu = str(spec.cpu)
    limits: dict[str, Any] = {"cpu": cpu, "memory": memory}
    if spec.gpus_per_node:
        limits[GPU] = str(spec.gpus_per_node)
    mounts: list[dict[str, Any]] = [{"name": "dshm", "mountPath": "/dev/shm"}]
    volumes: list[dict[str, Any]] = [
        {"name": "dshm", "emptyDir": {"medium": "Memory", "sizeLimit": format_bytes(shm)}}
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
    container: dict[str, Any] = {"name": "pytorch", "image": spec.image}
    if spec.command:
        container["command"] = list(spec.command)
    if spec.args:
        container["args"] = list(spec.args)
    if env:
        container["env"] = env
    container["resources"] = {"requests": {"cpu": cpu, "memory": memory}, "limits": limits}
    container["volumeMounts"] = mounts
    pod: dict[str, Any] = {}
    if spec.priority:
        pod["priorityClassName"] = spec.priority
    grace = grace_seconds(job, pool)
    if grace is not None:
        pod["terminationGracePeriodSeconds"] = grace
    if pool is not None:
        pod["nodeSelector"] = pool_selector(pool)
        tolerations = pool_tolerations(pool)
        if tolerations:
            pod["tolerations"] = tolerations
    pod["containers"] = [container]
    pod["volumes"] = volumes
    return pod


def _peers_policy(job: TrainingJob, namespace: str) -> dict[str, Any]:
    """In an isolated namespace, let the job's pods reach each other on every port.

    Only ingress is opened: egress stays unrestricted, so DNS, object storage and the
    rendezvous all keep working. Adding an Egress policy type here would instead cut
    every destination not listed (see docs/decisions.md).
    """
    peers = {"podSelector": {"matchLabels": {JOB_NAME_LABEL: job.metadata.name}}}
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": metadata(f"{job.metadata.name}-peers", namespace),
        "spec": {
            "podSelector": {"matchLabels": {JOB_NAME_LABEL: job.metadata.name}},
            "policyTypes": ["Ingress"],
            "ingress": [{"from": [peers]}],
        },
    }
