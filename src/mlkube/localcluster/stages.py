"""KWOK stages: the lifecycle of fake nodes and pods.

KWOK's own default stages come from its release (the kwok binary has none built in);
mlkube adds a stage that finishes the pods of a Kubeflow training job, as a kubelet
would report a training process that exits 0: after the time their
``kwok.mlkube.dev/run`` annotation gives (``"20s"``), else after 10 seconds.
"""

from __future__ import annotations

from typing import Any

import yaml

from mlkube.crds import module_dir
from mlkube.localcluster.binaries import version
from mlkube.wellknown import JOB_NAME_LABEL

RUN_ANNOTATION = "kwok.mlkube.dev/run"
DEFAULT_RUN_MILLISECONDS = 10_000
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


def _running_training_pods() -> list[dict[str, Any]]:
    return [
        {"key": ".metadata.deletionTimestamp", "operator": "DoesNotExist"},
        {"key": ".status.phase", "operator": "In", "values": ["Running"]},
        {"key": f'.metadata.labels["{JOB_NAME_LABEL}"]', "operator": "Exists"},
    ]


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
        out.extend(d for d in yaml.safe_load_all((root / name).read_text()) if d)
    out.append(training_pod_complete())
    return out
