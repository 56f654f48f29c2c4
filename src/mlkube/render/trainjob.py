"""Kubeflow Trainer v2 (``trainer.kubeflow.org/v1alpha1``): the Platform's
ClusterTrainingRuntimes and a TrainingJob's TrainJob.

The runtime is the platform team's blueprint: the JobSet around the pods, the
priority, and what a spot eviction costs (docs/decisions.md). The TrainJob names its
runtime and carries the job's own parts: the trainer block (image, command, env,
sizing) and one runtime patch with the pod's placement, volumes and mounts.
"""

from __future__ import annotations

from typing import Any

from mlkube.render.labels import MANAGED_BY, metadata
from mlkube.render.training import (
    grace_choices,
    isolated,
    job_metadata,
    namespace,
    peers_policy,
    placement,
    pod_parts,
    program,
)
from mlkube.spec.models import Platform, Pool, TrainingJob
from mlkube.wellknown import JOBSET_LABEL, TRAINER_API

TRAINER_GROUP = "trainer.kubeflow.org"
RUNTIME_KIND = "ClusterTrainingRuntime"
RUNTIME_NAME = "mlkube-torch"
# The image of Trainer v2.3.0's torch-distributed runtime; every TrainJob sets its own.
RUNTIME_IMAGE = "pytorch/pytorch:2.13.0-cuda13.0-cudnn9-runtime"
# Trainer's names: the replicated job and container the trainer block fills in, and
# the label that tells Trainer which replicated job that is.
NODE = "node"
ANCESTOR_LABEL = f"{TRAINER_GROUP}/trainjob-ancestor-step"
FRAMEWORK_LABEL = f"{TRAINER_GROUP}/framework"
PATCH_MANAGER = "mlkube.dev/render"
# JobSet restarts a failed JobSet up to this many times (preemptions not counted).
MAX_RESTARTS = 3


def runtime_name(priority: str | None, grace: int | None) -> str:
    name = f"{RUNTIME_NAME}-{priority}" if priority else RUNTIME_NAME
    return f"{name}-grace{grace}s" if grace is not None else name


def render_runtimes(platform: Platform) -> list[dict[str, Any]]:
    """One ClusterTrainingRuntime per PriorityClass (and one without priority) and per
    grace period a job of the Platform may need (and one with the default)."""
    priorities = [None, *(pc.name for pc in platform.spec.priority_classes)]
    return [_runtime(p, g) for p in priorities for g in grace_choices(platform)]


def _runtime(priority: str | None, grace: int | None) -> dict[str, Any]:
    pod: dict[str, Any] = {}
    if priority:
        # Trainer v2.3.0's PodSpecPatch has no priorityClassName: it lives here.
        pod["priorityClassName"] = priority
    if grace is not None:
        # Not in the TrainJob's patch, though v2.3.0 has the field there: Kueue v0.19.2
        # is built on Trainer v2.2.1's types, which lack it, and its update of an
        # admitted TrainJob drops it; Trainer then asks JobSet to change the suspended
        # JobSet's grace period, which JobSet refuses (immutable): the job never starts.
        # Seen on the local cluster; docs/decisions.md.
        pod["terminationGracePeriodSeconds"] = grace
    # JobSet would default OnFailure, which the API server refuses with podFailurePolicy.
    pod["restartPolicy"] = "Never"
    pod["containers"] = [{"name": NODE, "image": RUNTIME_IMAGE}]
    node_job = {
        "name": NODE,
        "template": {
            "metadata": {"labels": {ANCESTOR_LABEL: "trainer"}},
            "spec": {
                # A pod evicted for a spot reclaim or a preemption fails its Job at once…
                "podFailurePolicy": {
                    "rules": [
                        {"action": "FailJob", "onPodConditions": [{"type": "DisruptionTarget"}]}
                    ]
                },
                "template": {"spec": pod},
            },
        },
    }
    return {
        "apiVersion": TRAINER_API,
        "kind": RUNTIME_KIND,
        "metadata": metadata(runtime_name(priority, grace), labels={FRAMEWORK_LABEL: "torch"}),
        "spec": {
            "mlPolicy": {"numNodes": 1, "torch": {}},
            "template": {
                "spec": {
                    # … and JobSet restarts it without spending a restart.
                    "failurePolicy": {
                        "maxRestarts": MAX_RESTARTS,
                        "rules": [
                            {
                                "name": "disruption",
                                "action": "RestartJobSetAndIgnoreMaxRestarts",
                                "onJobFailureReasons": ["PodFailurePolicy"],
                            }
                        ],
                    },
                    "replicatedJobs": [node_job],
                }
            },
        },
    }


def render_trainjob(
    job: TrainingJob, pool: Pool | None, platform: Platform | None
) -> list[dict[str, Any]]:
    spec = job.spec
    parts = pod_parts(job, pool)
    # env in the trainer block, not the patch: Trainer refuses env patches of `node`.
    trainer = program(job, parts)
    trainer["numNodes"] = spec.nodes
    trainer["numProcPerNode"] = spec.gpus_per_node or 1
    trainer["resourcesPerNode"] = parts.resources
    pod = placement(parts)  # the grace period is the runtime's: see _runtime
    pod["volumes"] = parts.volumes
    pod["containers"] = [{"name": NODE, "volumeMounts": parts.mounts}]
    node_patch = {
        "name": NODE,
        "template": {"spec": {"template": {"metadata": {"labels": dict(MANAGED_BY)}, "spec": pod}}},
    }
    patch = {
        "manager": PATCH_MANAGER,
        "trainingRuntimeSpec": {"template": {"spec": {"replicatedJobs": [node_patch]}}},
    }
    out: list[dict[str, Any]] = [
        {
            "apiVersion": TRAINER_API,
            "kind": "TrainJob",
            "metadata": job_metadata(job),
            "spec": {
                "runtimeRef": {
                    "name": runtime_name(spec.priority, parts.grace),
                    "apiGroup": TRAINER_GROUP,
                    "kind": RUNTIME_KIND,
                },
                "trainer": trainer,
                "runtimePatches": [patch],
            },
        }
    ]
    if spec.nodes > 1 and isolated(platform, namespace(job)):
        out.append(peers_policy(job, JOBSET_LABEL))
    return out
