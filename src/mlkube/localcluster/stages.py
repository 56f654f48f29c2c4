"""KWOK stages: the lifecycle of fake nodes and pods.

KWOK's own default stages come from its release (the kwok binary has none built in);
mlkube adds:

- the end of a Kubeflow training job's pods, as a kubelet reports a training process
  that exits 0: after the time their ``kwok.mlkube.dev/run`` annotation gives
  (``"20s"``), else after 10 seconds;
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
from mlkube.wellknown import JOB_NAME_LABEL

RUN_ANNOTATION = "kwok.mlkube.dev/run"
FAIL_ANNOTATION = "kwok.mlkube.dev/fail"
RECLAIM_ANNOTATION = "kwok.mlkube.dev/reclaim"
DEFAULT_RUN_MILLISECONDS = 10_000
FAILURES = ("OOMKilled", "CrashLoopBackOff", "ImagePullBackOff")
_DEFAULTS = (
    "node/fast/node-initialize.yaml",
    "node/heartbeat/node-heartbeat.yaml",
    "pod/fast/pod-ready.yaml",
    "pod/fast/pod-complete.yaml",
    "pod/fast/pod-delete.yaml",
)

_SUCCEEDED = """\
{{ $now := Now }}
containerStatuses:
{{ range $index, $item := .spec.containers }}
- image: {{ $item.image | Quote }}
  name: {{ $item.name | Quote }}
  ready: false
  restartCount: 0
  started: false
  state:
    terminated:
      exitCode: 0
      finishedAt: {{ $now | Quote }}
      reason: Completed
      startedAt: {{ $now | Quote }}
{{ end }}
conditions:
- lastTransitionTime: {{ $now | Quote }}
  status: "False"
  type: Ready
phase: Succeeded
"""


_NOT_FAILING = {"key": f'.metadata.annotations["{FAIL_ANNOTATION}"]', "operator": "DoesNotExist"}


_STAY_OUT_OF = {
    "pod-ready": {
        "key": f'.metadata.annotations["{FAIL_ANNOTATION}"]',
        "operator": "NotIn",
        "values": ["ImagePullBackOff"],
    },
    "pod-complete": _NOT_FAILING,
    # A node being reclaimed stops its heartbeat: a shutting-down kubelet reports nothing.
    "node-heartbeat": {
        "key": f'.metadata.annotations["{RECLAIM_ANNOTATION}"]',
        "operator": "DoesNotExist",
    },
}


def _running_training_pods() -> list[dict[str, Any]]:
    return [
        {"key": ".metadata.deletionTimestamp", "operator": "DoesNotExist"},
        {"key": ".status.phase", "operator": "In", "values": ["Running"]},
        {"key": f'.metadata.labels["{JOB_NAME_LABEL}"]', "operator": "Exists"},
        _NOT_FAILING,
    ]


def _stage(
    name: str, kind: str, selector: list[dict[str, Any]], delay_ms: int, next_: dict[str, Any]
) -> dict[str, Any]:
    return {
        "apiVersion": "kwok.x-k8s.io/v1alpha1",
        "kind": "Stage",
        "metadata": {"name": name},
        "spec": {
            "resourceRef": {"apiGroup": "v1", "kind": kind},
            "selector": {"matchExpressions": selector},
            "delay": {"durationMilliseconds": delay_ms},
            "next": next_,
        },
    }


def _died(reason: str, exit_code: int) -> str:
    """A container that terminated with ``reason`` and now backs off before restarting."""
    return f"""\
{{{{ $now := Now }}}}
containerStatuses:
{{{{ range $index, $item := .spec.containers }}}}
- image: {{{{ $item.image | Quote }}}}
  name: {{{{ $item.name | Quote }}}}
  ready: false
  restartCount: 1
  started: false
  lastState:
    terminated:
      exitCode: {exit_code}
      reason: {reason}
      startedAt: {{{{ $now | Quote }}}}
      finishedAt: {{{{ $now | Quote }}}}
  state:
    waiting:
      reason: CrashLoopBackOff
      message: back-off 10s restarting failed container={{{{ $item.name }}}}
{{{{ end }}}}
conditions:
- lastTransitionTime: {{{{ $now | Quote }}}}
  status: "False"
  type: Ready
phase: Running
"""


_IMAGE_PULL_BACKOFF = """\
{{ $now := Now }}
containerStatuses:
{{ range $index, $item := .spec.containers }}
- image: {{ $item.image | Quote }}
  name: {{ $item.name | Quote }}
  ready: false
  restartCount: 0
  started: false
  state:
    waiting:
      reason: ImagePullBackOff
      message: Back-off pulling image {{ $item.image | Quote }}
{{ end }}
conditions:
- lastTransitionTime: {{ $now | Quote }}
  status: "True"
  type: PodScheduled
- lastTransitionTime: {{ $now | Quote }}
  status: "False"
  type: Ready
phase: Pending
"""


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
    stage = _stage(
        "mlkube-node-reclaim",
        "Node",
        [{"key": f'.metadata.annotations["{RECLAIM_ANNOTATION}"]', "operator": "Exists"}],
        30_000,
        {"delete": True},
    )
    stage["spec"]["delay"]["durationFrom"] = {
        "expressionFrom": f'.metadata.annotations["{RECLAIM_ANNOTATION}"]'
    }
    return stage


def training_pod_complete() -> dict[str, Any]:
    return {
        "apiVersion": "kwok.x-k8s.io/v1alpha1",
        "kind": "Stage",
        "metadata": {"name": "mlkube-training-pod-complete"},
        "spec": {
            "resourceRef": {"apiGroup": "v1", "kind": "Pod"},
            "selector": {"matchExpressions": _running_training_pods()},
            "weight": 10,
            "delay": {
                "durationMilliseconds": DEFAULT_RUN_MILLISECONDS,
                "durationFrom": {"expressionFrom": f'.metadata.annotations["{RUN_ANNOTATION}"]'},
            },
            "next": {"statusTemplate": _SUCCEEDED},
        },
    }


def stages() -> list[dict[str, Any]]:
    root = module_dir("sigs.k8s.io/kwok", version("kwok")) / "kustomize" / "stage"
    out: list[dict[str, Any]] = []
    for name in _DEFAULTS:
        for stage in yaml.safe_load_all((root / name).read_text()):
            if not stage:
                continue
            # KWOK's own pod stages leave the pods that fail on purpose to mlkube's.
            extra = _STAY_OUT_OF.get(stage["metadata"]["name"])
            if extra is not None:
                stage["spec"]["selector"]["matchExpressions"].append(extra)
            out.append(stage)
    return [*out, training_pod_complete(), *failure_stages(), reclaim_stage()]
