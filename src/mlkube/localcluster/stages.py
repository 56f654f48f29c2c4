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
  after its termination notice;
- KServe's predictor pods (labelled ``serving.kserve.io/inferenceservice``): Running
  with their containers started but not ready, then Ready after the longest
  ``readinessProbe.initialDelaySeconds`` of their containers (at once without a probe),
  so that the Deployment, and through it the InferenceService, becomes Ready by
  KServe's own status logic. ``kwok.mlkube.dev/fail: Unready`` keeps a predictor pod
  unready, with the kubelet's ``Unhealthy`` "Readiness probe failed" event;
  ``kwok.mlkube.dev/fail-storage-initializer: OOMKilled | BadStorageUri`` makes its
  storage-initializer init container die (out of memory, or exit 1 with the real
  initializer's "No model found" error as its termination message) and back off,
  the pod held Pending, as the kubelet reports it.
"""

from __future__ import annotations

from typing import Any

import yaml

from mlkube.crds import module_dir
from mlkube.localcluster.binaries import version
from mlkube.wellknown import ISVC_LABEL, JOB_NAME_LABEL, JOBSET_LABEL

RUN_ANNOTATION = "kwok.mlkube.dev/run"
FAIL_ANNOTATION = "kwok.mlkube.dev/fail"
FAIL_INIT_ANNOTATION = "kwok.mlkube.dev/fail-storage-initializer"
UNREADY = "Unready"  # a FAIL_ANNOTATION value: the readiness probe keeps failing
INIT_FAILURES = ("OOMKilled", "BadStorageUri")  # FAIL_INIT_ANNOTATION's values
STORAGE_INITIALIZER = "storage-initializer"  # KServe's constants.StorageInitializerContainerName
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
_NO_INIT_FAILURE = {
    "key": f'.metadata.annotations["{FAIL_INIT_ANNOTATION}"]',
    "operator": "DoesNotExist",
}
_NOT_PULL_FAILING = {
    "key": f'.metadata.annotations["{FAIL_ANNOTATION}"]',
    "operator": "NotIn",
    "values": ["ImagePullBackOff"],
}
_STAY_OUT_OF: dict[str, list[dict[str, Any]]] = {
    # Predictor pods have stages of their own (readiness after the probe's delay).
    "pod-ready": [
        _NOT_PULL_FAILING,
        _NO_INIT_FAILURE,
        {"key": f'.metadata.labels["{ISVC_LABEL}"]', "operator": "DoesNotExist"},
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


# KServe predictor pods -----------------------------------------------------------------

# The pod's addresses, as KWOK's own pod-ready stage gives them (kustomize/stage/pod/fast).
_ADDRESSES = (
    "{{ $hostIPs := NodeIPsWith .spec.nodeName }}\n"
    "{{ with $hostIPs }}\n"
    "hostIP: {{ index . 0 | Quote }}\n"
    "hostIPs:\n"
    "{{ range . }}\n"
    "- ip: {{ . | Quote }}\n"
    "{{ end }}\n"
    "{{ end }}\n"
    '{{ $podIPs := PodIPsWith .spec.nodeName ( or .spec.hostNetwork false ) ( or .metadata.uid "" )'
    ' ( or .metadata.name "" ) ( or .metadata.namespace "" ) }}\n'
    "{{ with $podIPs }}\n"
    "podIP: {{ index . 0 | Quote }}\n"
    "podIPs:\n"
    "{{ range . }}\n"
    "- ip: {{ . | Quote }}\n"
    "{{ end }}\n"
    "{{ end }}\n"
)


def _condition(kind: str, status: str, reason: str = "", message: str = "") -> str:
    out = f'- lastTransitionTime: {{{{ $now | Quote }}}}\n  status: "{status}"\n  type: {kind}\n'
    if reason:
        out += f"  reason: {reason}\n"
    if message:
        out += f"  message: {message}\n"
    return out


def _names(field: str) -> str:
    """``[a b]``: the names of a pod's containers, as the kubelet lists them in a
    condition's message."""
    return "[{{ range $i, $c := .spec." + field + " }}{{ if $i }} {{ end }}{{ $c.name }}{{ end }}]"


# Started, not ready: the kubelet's status before the first successful readiness probe.
_PREDICTOR_STARTED = (
    "{{ $now := Now }}\n"
    "conditions:\n"
    + _condition("Initialized", "True")
    + _condition("PodScheduled", "True")
    + _condition(
        "Ready",
        "False",
        "ContainersNotReady",
        f'"containers with unready status: {_names("containers")}"',
    )
    + _condition(
        "ContainersReady",
        "False",
        "ContainersNotReady",
        f'"containers with unready status: {_names("containers")}"',
    )
    + "containerStatuses:\n"
    "{{ range .spec.containers }}\n"
    "- image: {{ .image | Quote }}\n"
    "  name: {{ .name | Quote }}\n"
    "  ready: false\n"
    "  started: true\n"
    "  restartCount: 0\n"
    "  state:\n"
    "    running:\n"
    "      startedAt: {{ $now | Quote }}\n"
    "{{ end }}\n"
    "initContainerStatuses:\n"
    "{{ range .spec.initContainers }}\n"
    "- image: {{ .image | Quote }}\n"
    "  name: {{ .name | Quote }}\n"
    "  ready: true\n"
    "  restartCount: 0\n"
    "  state:\n"
    "    terminated:\n"
    "      exitCode: 0\n"
    "      reason: Completed\n"
    "      startedAt: {{ $now | Quote }}\n"
    "      finishedAt: {{ $now | Quote }}\n"
    "{{ end }}\n" + _ADDRESSES + "phase: Running\n"
    "startTime: {{ $now | Quote }}\n"
)

# Ready: the conditions are merged into the status above (a strategic merge patch, by
# type; null drops the reason and message of not ready), the container statuses replace
# it (they have no merge key), each still running since it started.
_PREDICTOR_READY = (
    "{{ $now := Now }}\n"
    "conditions:\n"
    + _condition("Ready", "True", "null", "null")
    + _condition("ContainersReady", "True", "null", "null")
    + "containerStatuses:\n"
    "{{ range .status.containerStatuses }}\n"
    "- image: {{ .image | Quote }}\n"
    "  name: {{ .name | Quote }}\n"
    "  ready: true\n"
    "  started: true\n"
    "  restartCount: {{ .restartCount }}\n"
    "  state:\n"
    "    running:\n"
    "      startedAt: {{ with .state.running }}{{ .startedAt | Quote }}"
    "{{ else }}{{ $now | Quote }}{{ end }}\n"
    "{{ end }}\n"
)

# The storage-initializer's log, line by line (python/storage-initializer/scripts/
# initializer-entrypoint, python/storage/kserve_storage/kserve_storage.py and logging.py,
# kserve v0.20.0): its container has terminationMessagePolicy FallbackToLogsOnError
# (pkg/utils/storage.go), so the tail of its log is its termination message. "Failed to
# fetch model. No model found in <uri>." is what Storage raises when the URI holds no
# files. A printf over the init container's args (source URI, destination).
_LOG_LINE = "%[1]s 1 storage.initializer {level} [{where}] {text}\\n"
_DOWNLOADING = _LOG_LINE.format(
    level="INFO",
    where="initializer-entrypoint:<module>():17",
    text="Initializing, args: (src_uri, dest_path): [('%[2]s', '%[3]s')]",
) + _LOG_LINE.format(
    level="INFO",
    where="kserve_storage.py:download():168",
    text="Copying contents of %[2]s to local",
)
_NO_MODEL = _DOWNLOADING + _LOG_LINE.format(
    level="ERROR",
    where="initializer-entrypoint:<module>():28",
    text="Storage initialization failed: Failed to fetch model. No model found in %[2]s.",
)


def _init_failed(reason: str, exit_code: int, log: str) -> str:
    """The storage-initializer died and backs off: the pod stays Pending, not
    initialized, its main containers waiting for it."""
    waiting_main = "    waiting:\n      reason: PodInitializing\n"
    unready = f'"containers with unready status: {_names("containers")}"'
    return (
        "{{ $now := Now }}\n"
        '{{ $t := now | date "2006-01-02 15:04:05.000" }}\n'
        "conditions:\n"
        + _condition(
            "Initialized",
            "False",
            "ContainersNotInitialized",
            f'"containers with incomplete status: [{STORAGE_INITIALIZER}]"',
        )
        + _condition("PodScheduled", "True")
        + _condition("Ready", "False", "ContainersNotReady", unready)
        + _condition("ContainersReady", "False", "ContainersNotReady", unready)
        + "initContainerStatuses:\n"
        "{{ range .spec.initContainers }}\n"
        "- image: {{ .image | Quote }}\n"
        "  name: {{ .name | Quote }}\n"
        "  ready: false\n"
        f'{{{{ if eq .name "{STORAGE_INITIALIZER}" }}}}\n'
        "  restartCount: 1\n"
        "  lastState:\n"
        "    terminated:\n"
        f"      exitCode: {exit_code}\n"
        f"      reason: {reason}\n"
        f'      message: {{{{ printf "{log}" $t (index .args 0) (index .args 1) | Quote }}}}\n'
        "      startedAt: {{ $now | Quote }}\n"
        "      finishedAt: {{ $now | Quote }}\n"
        "  state:\n"
        "    waiting:\n"
        "      reason: CrashLoopBackOff\n"
        '      message: {{ printf "back-off 10s restarting failed container=%s pod=%s_%s(%s)"'
        " .name $.metadata.name $.metadata.namespace $.metadata.uid | Quote }}\n"
        "{{ else }}\n"
        "  restartCount: 0\n"
        "  state:\n" + waiting_main + "{{ end }}\n"
        "{{ end }}\n"
        "containerStatuses:\n"
        "{{ range .spec.containers }}\n"
        "- image: {{ .image | Quote }}\n"
        "  name: {{ .name | Quote }}\n"
        "  ready: false\n"
        "  started: false\n"
        "  restartCount: 0\n"
        "  state:\n" + waiting_main + "{{ end }}\n" + _ADDRESSES + "phase: Pending\n"
        "startTime: {{ $now | Quote }}\n"
    )


def predictor_stages() -> list[dict[str, Any]]:
    """A predictor pod starts, then turns Ready after its readiness probe's initial
    delay, unless an annotation makes its probe or its storage-initializer fail."""
    predictor: dict[str, Any] = {"key": f'.metadata.labels["{ISVC_LABEL}"]', "operator": "Exists"}
    alive: dict[str, Any] = {"key": ".metadata.deletionTimestamp", "operator": "DoesNotExist"}
    pending: dict[str, Any] = {"key": ".status.phase", "operator": "In", "values": ["Pending"]}
    not_ready: dict[str, Any] = {
        "key": '.status.conditions.[] | select( .type == "Ready" ) | .status',
        "operator": "NotIn",
        "values": ["True"],
    }
    unready: dict[str, Any] = {
        "key": f'.metadata.annotations["{FAIL_ANNOTATION}"]',
        "operator": "In",
        "values": [UNREADY],
    }
    start = [alive, predictor, pending, _NO_INIT_FAILURE]
    # OOMKilled and CrashLoopBackOff predictors start, then fail by the stages above.
    starting: dict[str, Any] = {
        "key": f'.metadata.annotations["{FAIL_ANNOTATION}"]',
        "operator": "NotIn",
        "values": ["ImagePullBackOff", UNREADY],
    }
    started = {"statusTemplate": _PREDICTOR_STARTED}
    probe_failed = {
        "type": "Warning",
        "reason": "Unhealthy",
        "message": "Readiness probe failed: HTTP probe failed with statuscode: 503",
    }
    ready = _stage(
        "mlkube-predictor-ready",
        "Pod",
        [alive, predictor, {"key": ".status.phase", "operator": "In", "values": ["Running"]},
         not_ready, _NOT_FAILING],
        0,
        {"statusTemplate": _PREDICTOR_READY},
    )  # fmt: skip
    # The longest initial delay of the containers' readiness probes ("0s" without one).
    ready["spec"]["delay"]["durationFrom"] = {
        "jq": {
            "expression": "[.spec.containers[].readinessProbe.initialDelaySeconds // 0]"
            ' | max | "\\(.)s"'
        }
    }

    def init_failing(value: str) -> list[dict[str, Any]]:
        return [
            alive,
            pending,
            {"key": ".spec.nodeName", "operator": "Exists"},
            {"key": f'.metadata.annotations["{FAIL_INIT_ANNOTATION}"]', "operator": "In",
             "values": [value]},
            {"key": ".status.initContainerStatuses.[].state.waiting.reason",
             "operator": "DoesNotExist"},
        ]  # fmt: skip

    return [
        _stage("mlkube-predictor-start", "Pod", [*start, starting], 0, started),
        _stage("mlkube-predictor-start-unready", "Pod", [*start, unready], 0,
               {**started, "event": probe_failed}),
        ready,
        _stage("mlkube-storage-initializer-oom-killed", "Pod", init_failing("OOMKilled"), 2000,
               {"statusTemplate": _init_failed("OOMKilled", 137, _DOWNLOADING)}),
        _stage("mlkube-storage-initializer-bad-uri", "Pod", init_failing("BadStorageUri"), 2000,
               {"statusTemplate": _init_failed("Error", 1, _NO_MODEL)}),
    ]  # fmt: skip


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
        *predictor_stages(),
    ]
