"""Diagnoses of pods that started and then failed: OOM kills, image pulls, crash loops."""

from __future__ import annotations

from collections.abc import Iterator

from mlkube.quantity import format_bytes, parse_quantity
from mlkube.rules.doctor.common import (
    at,
    container_spec,
    container_statuses,
    owner,
    owners,
    pods,
)
from mlkube.rules.model import Rule, Severity, Violation
from mlkube.snapshots.evidence import Evidence


def pod_oom_killed(evidence: Evidence) -> Iterator[Violation]:
    """Finds containers the kernel killed for going over their memory limit.

    ## Why is this bad?
    A container past its memory limit is killed by the kernel (exit 137, reason
    `OOMKilled`) whatever its QoS class, and a training job then restarts from its last
    checkpoint, or from the start. Host memory is easy to underestimate: DataLoader
    workers with pinned memory can need twice the GPU's memory in RAM.

    ## Example
    ```yaml
    lastState:
      terminated: {reason: OOMKilled, exitCode: 137}
    ```

    ## Use instead
    ```yaml
    resources:
      requests: {memory: 96Gi}
      limits: {memory: 96Gi}
    ```
    """
    index = owners(evidence)
    for pod in pods(evidence):
        for i, status in container_statuses(pod):
            for state in ("lastState", "state"):
                terminated = (status.get(state) or {}).get("terminated") or {}
                if terminated.get("reason") != "OOMKilled":
                    continue
                name = status.get("name", "")
                resources = container_spec(pod, name).get("resources") or {}
                limit = (resources.get("limits") or {}).get("memory")
                request = (resources.get("requests") or {}).get("memory")
                restarts = status.get("restartCount", 0)
                sized = f"memory request {request or 'none'}, limit {limit or 'none'}"
                fix = "set a memory limit with an equal request, sized to the job's peak use"
                if limit and parse_quantity(limit):
                    bigger = format_bytes(round((parse_quantity(limit) or 0) * 1.5 / 2**30) * 2**30)
                    fix = (
                        f"raise the memory limit of container {name!r} to {bigger} (1.5x) and "
                        "set the request equal to it, so the kubelet does not evict it first"
                    )
                yield Violation(
                    at(evidence, pod, "status", "containerStatuses", i, state, "terminated"),
                    f"container {name!r} of {owner(pod, index)} was OOMKilled (exit "
                    f"{terminated.get('exitCode', 137)}, {restarts} restarts) with {sized}",
                    fix,
                )
                break


def image_pull_failing(evidence: Evidence) -> Iterator[Violation]:
    """Finds containers whose image cannot be pulled.

    ## Why is this bad?
    The pod never starts. Large images (model weights baked in) make it worse: a
    20 GB pull on a slow node times out and backs off again and again.

    ## Example
    ```yaml
    state:
      waiting: {reason: ImagePullBackOff}
    ```

    ## Use instead
    ```yaml
    predictor:
      model:
        storageUri: s3://models/llm   # weights pulled by KServe's storage-initializer
    ```
    """
    index = owners(evidence)
    for pod in pods(evidence):
        for i, status in container_statuses(pod):
            waiting = (status.get("state") or {}).get("waiting") or {}
            if waiting.get("reason") not in ("ImagePullBackOff", "ErrImagePull"):
                continue
            image = status.get("image") or container_spec(pod, status.get("name", "")).get("image")
            fix = f"check that {image!r} exists and the node can pull it (name, tag, pull secret)"
            if "InferenceService" in owner(pod, index) or "weight" in str(image).lower():
                fix += (
                    "; keep model weights out of the image: put them in object storage and "
                    "set storageUri, so KServe's storage-initializer downloads them"
                )
            yield Violation(
                at(evidence, pod, "status", "containerStatuses", i, "state", "waiting"),
                f"container {status.get('name')!r} of {owner(pod, index)} "
                f"cannot pull image {image!r}: "
                f"{waiting.get('reason')} {waiting.get('message', '')}".rstrip(),
                fix,
            )


def container_crash_looping(evidence: Evidence) -> Iterator[Violation]:
    """Finds containers that keep exiting with an error (other than OOM kills).

    ## Why is this bad?
    Every restart of a training process loses the work since its last checkpoint, and
    a distributed job waits at its next collective for the rank that died.

    ## Example
    ```yaml
    lastState:
      terminated: {reason: Error, exitCode: 1}
    state:
      waiting: {reason: CrashLoopBackOff}
    ```

    ## Use instead
    ```text
    kubectl logs POD -c CONTAINER --previous   # the error of the last run
    ```
    """
    index = owners(evidence)
    for pod in pods(evidence):
        for i, status in container_statuses(pod):
            waiting = (status.get("state") or {}).get("waiting") or {}
            last = (status.get("lastState") or {}).get("terminated") or {}
            if waiting.get("reason") != "CrashLoopBackOff" or last.get("reason") == "OOMKilled":
                continue
            name, meta = status.get("name", ""), pod["metadata"]
            yield Violation(
                at(evidence, pod, "status", "containerStatuses", i, "lastState"),
                f"container {name!r} of {owner(pod, index)} is crash-looping: last exit "
                f"{last.get('exitCode', '?')} ({last.get('reason', 'unknown')}), "
                f"{status.get('restartCount', 0)} restarts",
                f"read the last run's error: kubectl logs -n {meta.get('namespace')} "
                f"{meta['name']} -c {name} --previous",
            )


RULES: tuple[Rule[Evidence], ...] = (
    Rule(
        "DK101", Severity.ERROR, "Raise the memory limit and set the request equal.", pod_oom_killed
    ),
    Rule("DK102", Severity.ERROR, "Fix the image reference or pull access.", image_pull_failing),
    Rule("DK103", Severity.ERROR, "Read the previous run's logs.", container_crash_looping),
)
