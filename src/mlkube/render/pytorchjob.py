"""TrainingJob → PyTorchJob (``kubeflow.org/v1``), the legacy Training Operator v1
path (``Platform.spec.training.operator: training-operator``)."""

from __future__ import annotations

import copy
from typing import Any

from mlkube.render.training import (
    PodParts,
    isolated,
    job_metadata,
    namespace,
    peers_policy,
    placement,
    pod_parts,
    program,
)
from mlkube.spec.models import Platform, Pool, TrainingJob
from mlkube.wellknown import JOB_NAME_LABEL


def render_pytorchjob(
    job: TrainingJob, pool: Pool | None, platform: Platform | None
) -> list[dict[str, Any]]:
    spec = job.spec
    pod = _pod_spec(job, pod_parts(job, pool))
    replica_specs: dict[str, Any] = {"Master": _replicas(pod, 1)}
    if spec.nodes > 1:
        replica_specs["Worker"] = _replicas(pod, spec.nodes - 1)
    out: list[dict[str, Any]] = [
        {
            "apiVersion": "kubeflow.org/v1",
            "kind": "PyTorchJob",
            "metadata": job_metadata(job),
            "spec": {
                "runPolicy": {"cleanPodPolicy": "None", "backoffLimit": 10},
                "pytorchReplicaSpecs": replica_specs,
            },
        }
    ]
    if spec.nodes > 1 and isolated(platform, namespace(job)):
        out.append(peers_policy(job, JOB_NAME_LABEL))
    return out


def _replicas(pod: dict[str, Any], count: int) -> dict[str, Any]:
    return {
        "replicas": count,
        "restartPolicy": "OnFailure",
        "template": {
            "metadata": {"labels": {"app.kubernetes.io/managed-by": "mlkube"}},
            "spec": copy.deepcopy(pod),  # no object shared between replicas
        },
    }


def _pod_spec(job: TrainingJob, parts: PodParts) -> dict[str, Any]:
    spec = job.spec
    container: dict[str, Any] = {"name": "pytorch", **program(job, parts)}
    container["resources"] = parts.resources
    container["volumeMounts"] = parts.mounts
    pod: dict[str, Any] = {}
    if spec.priority:
        pod["priorityClassName"] = spec.priority
    if parts.grace is not None:
        pod["terminationGracePeriodSeconds"] = parts.grace
    pod.update(placement(parts))
    pod["containers"] = [container]
    pod["volumes"] = parts.volumes
    return pod
