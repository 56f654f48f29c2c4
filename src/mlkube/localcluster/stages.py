"""KWOK stages: the lifecycle of fake nodes and pods.

KWOK's own default stages come from its release (the kwok binary has none built in);
mlkube adds:

- the end of a training job's pods (a PyTorchJob's, or a JobSet's, which is what a
  TrainJob runs), as a kubelet reports a training process that exits 0: after the time
  their ``kwok.mlkube.dev/run`` annotation gives (``"20s"``), else after 10 seconds;
- the end of a batch Job's pod that is deleted (evicted) while it runs: Failed with exit
  code 143, as the kubelet reports a process that SIGTERM stopped, before it is removed.
  A Job's ``podFailurePolicy`` reads that terminal phase and the ``DisruptionTarget``
  condition the eviction set; KWOK's own stage would remove the pod still Running;
- the failures the guide describes, on pods annotated ``kwok.mlkube.dev/fail``:
  ``OOMKilled`` and ``CrashLoopBackOff`` (a running container that died and is waiting
  to restart, its last termination state saying why) and ``ImagePullBackOff`` (a
  scheduled pod whose image never arrives);
- a spot node going away: a node annotated ``kwok.mlkube.dev/reclaim: "30s"`` is
  deleted that long after the annotation appears, as a cloud reclaims an instance
  after its termination notice.
"""

from __future__ import annotations

from typing import Any

import yaml

from mlkube.crds import module_dir
from mlkube.localcluster.binaries import version
from mlkube.wellknown import JOB_NAME_LABEL, JOBSET_LABEL

RUN_ANNOTATION = "kwok.mlkube.dev/run"
FAIL_ANNOTATION = "kwok.mlkube.dev/fail"
RECLAIM_ANNOTATION = "kwok.mlkube.dev/reclaim"
DEFAULT_RUN_MILLISECONDS = 10_000
_DEFAULTS = (
    "node/fast/node-initialize.yaml",
    "node/heartbeat/node-heartbeat.yaml",
    "pod/fast/pod-ready.yaml",
    "pod/fast/pod-complete.yaml",
    "pod/fast/pod-delete.yaml",
)


def _status(
    container_state: str,
    phase: str,
    restarts: int = 0,
    scheduled: bool = False,
    *,
    keep_conditions: bool = False,
) -> str:
    """A KWOK status template: every container in ``container_state`` (YAML lines,
    indented for a container entry), not ready, and the pod in ``phase``; the pod's
    conditions set to not Ready (and scheduled), or left as they are."""
    conditions = '- lastTransitionTime: {{ $now | Quote }}\n  status: "False"\n  type: Ready\n'
    if scheduled:
        conditions += (
            '- lastTransitionTime: {{ $now | Quote }}\n  status: "True"\n  type: PodScheduled\n'
        )
    conditions = "" if keep_conditions else f"conditions:\n{conditions}"
    return (
        "{{ $now := Now }}\n"
        "containerStatuses:\n"
        "{{ range $index, $item := .spec.containers }}\n"
        "- image: {{ $item.image | Quote }}\n"
        "  name: {{ $item.name | Quote }}\n"
        "  ready: false\n"
        "  started: false\n"
        f"  restartCount: {restarts}\n"
        f"{container_state}"
        "{{ end }}\n"
        f"{conditions}"
        f"phase: {phase}\n"
    )


def _terminated(reason: str, exit_code: int) -> str:
    return (
        "    terminated:\n"
        f"      exitCode: {exit_code}\n"
        f"      reason: {reason}\n"
        "      startedAt: {{ $now | Quote }}\n"
        "      finishedAt: {{ $now | Quote }}\n"
    )


_SUCCEEDED = _status("  state:\n" + _terminated("Completed", 0), "Succeeded")
_IMAGE_PULL_BACKOFF = _status(
    "  state:\n"
    "    waiting:\n"
    "      reason: ImagePullBackOff\n"
    "      message: Back-off pulling image {{ $item.image | Quote }}\n",
    "Pending",
    scheduled=True,
)


def _died(reason: str, exit_code: int) -> str:
    """A container that terminated with ``reason`` and now backs off before restarting."""
    return _status(
        "  lastState:\n" + _terminated(reason, exit_code) + "  state:\n"
        "    waiting:\n"
        "      reason: CrashLoopBackOff\n"
        "      message: back-off 10s restarting failed container={{ $item.name }}\n",
        "Running",
        restarts=1,
    )


_NOT_FAILING = {"key": f'.metadata.annotations["{FAIL_ANNOTATION}"]', "operator": "DoesNotExist"}


_OWNED_BY_JOB = {"key": ".metadata.ownerReferences.[].kind", "operator": "In", "values": ["Job"]}
_LIVE = ("Pending", "Running")
_STAY_OUT_OF: dict[str, list[dict[str, Any]]] = {
    "pod-ready": [
        {
            "key": f'.metadata.annotations["{FAIL_ANNOTATION}"]',
            "operator": "NotIn",
            "values": ["ImagePullBackOff"],
        }
    ],
    # A JobSet's pods are a Job's too: they run as long as a training pod does.
    "pod-complete": [
        _NOT_FAILING,
        {"key": f'.metadata.labels["{JOBSET_LABEL}"]', "operator": "DoesNotExist"},
    ],
    # A node being reclaimed stops its heartbeat: a shutting-down kubelet reports nothing.
    "node-heartbeat": [
        {"key": f'.metadata.annotations["{RECLAIM_ANNOTATION}"]', "operator": "DoesNotExist"}
    ],
}


def _running_training_pods(label: str) -> list[dict[str, Any]]:
    return [
        {"key": ".metadata.deletionTimestamp", "operator": "DoesNotExist"},
        {"key": ".status.phase", "operator": "In", "values": ["Running"]},
        {"key": f'.metadata.labels["{label}"]', "operator": "Exists"},
        _NOT_FAILING,
    ]


def _stage(
    name: str,
    kind: str,
    selector: list[dict[str, Any]],
    delay_ms: int,
    next_: dict[str, Any],
    *,
    delay_from: str | None = None,
) -> dict[str, Any]:
    """A KWOK Stage; ``delay_from`` names an annotation that overrides the delay."""
    delay: dict[str, Any] = {"durationMilliseconds": delay_ms}
    if delay_from is not None:
        delay["durationFrom"] = {"expressionFrom": f'.metadata.annotations["{delay_from}"]'}
    return {
        "apiVersion": "kwok.x-k8s.io/v1alpha1",
        "kind": "Stage",
        "metadata": {"name": name},
        "spec": {
            "resourceRef": {"apiGroup": "v1", "kind": kind},
            "selector": {"matchExpressions": selector},
            "delay": delay,
            "next": next_,
        },
    }


def failure_stages() -> list[dict[str, Any]]:
    def failing(reason: str, phase: str) -> list[dict[str, Any]]:
        return [
            {"key": ".metadata.deletionTimestamp", "operator": "DoesNotExist"},
            {"key": ".status.phase", "operator": "In", "values": [phase]},
            {
                "key": f'.metadata.annotations["{FAIL_ANNOTATION}"]',
                "operator": "In",
                "values": [reason],
            },
            {
                "key": ".status.containerStatuses.[].state.waiting.reason",
                "operator": "DoesNotExist",
            },
        ]

    return [
        _stage("mlkube-pod-oom-killed", "Pod", failing("OOMKilled", "Running"), 2000,
               {"statusTemplate": _died("OOMKilled", 137)}),
        _stage("mlkube-pod-crash-loop", "Pod", failing("CrashLoopBackOff", "Running"), 2000,
               {"statusTemplate": _died("Error", 1)}),
        _stage("mlkube-pod-image-pull-backoff", "Pod",
               [*failing("ImagePullBackOff", "Pending"),
                {"key": ".spec.nodeName", "operator": "Exists"}], 1000,
               {"statusTemplate": _IMAGE_PULL_BACKOFF}),
    ]  # fmt: skip


def reclaim_stage() -> dict[str, Any]:
    reclaimed = {"key": f'.metadata.annotations["{RECLAIM_ANNOTATION}"]', "operator": "Exists"}
    return _stage(
        "mlkube-node-reclaim",
        "Node",
        [reclaimed],
        30_000,
        {"delete": True},
        delay_from=RECLAIM_ANNOTATION,
    )


def training_pod_complete() -> list[dict[str, Any]]:
    """One stage per label that marks a training pod (a stage's selector is an AND)."""
    return [
        _stage(
            name,
            "Pod",
            _running_training_pods(label),
            DEFAULT_RUN_MILLISECONDS,
            {"statusTemplate": _SUCCEEDED},
            delay_from=RUN_ANNOTATION,
        )
        for name, label in (
            ("mlkube-training-pod-complete", JOB_NAME_LABEL),
            ("mlkube-jobset-pod-complete", JOBSET_LABEL),
        )
    ]


# The conditions the eviction set (DisruptionTarget) stay, as the kubelet keeps them.
_TERMINATED_BY_SIGTERM = _status(
    "  state:\n" + _terminated("Error", 143), "Failed", keep_conditions=True
)


def terminated_job_pod() -> dict[str, Any]:
    """Weighted: where it and KWOK's pod-delete both match, KWOK takes the stage with a
    weight (pkg/utils/lifecycle), so the pod ends Failed first and is deleted next."""
    deleted_live: list[dict[str, Any]] = [
        {"key": ".metadata.deletionTimestamp", "operator": "Exists"},
        {"key": ".status.phase", "operator": "In", "values": list(_LIVE)},
        _OWNED_BY_JOB,
    ]
    stage = _stage(
        "mlkube-job-pod-terminated",
        "Pod",
        deleted_live,
        0,
        {"statusTemplate": _TERMINATED_BY_SIGTERM},
    )
    stage["spec"]["weight"] = 1
    return stage


def stages() -> list[dict[str, Any]]:
    root = module_dir("sigs.k8s.io/kwok", version("kwok")) / "kustomize" / "stage"
    out: list[dict[str, Any]] = []
    for name in _DEFAULTS:
        for stage in yaml.safe_load_all((root / name).read_text()):
            if not stage:
                continue
            # KWOK's own pod stages leave the pods that fail on purpose to mlkube's.
            extra = _STAY_OUT_OF.get(stage["metadata"]["name"], [])
            stage["spec"]["selector"]["matchExpressions"] += extra
            out.append(stage)
    return [
        *out,
        *training_pod_complete(),
        terminated_job_pod(),
        *failure_stages(),
        reclaim_stage(),
    ]
