"""Diagnoses of pods that started and then failed: OOM kills, image pulls, crash loops."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from mlkube.quantity import format_bytes, parse_quantity
from mlkube.rules.doctor.common import about, by_workload, container_spec, container_statuses, pods
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

    def killed() -> Iterator[tuple[dict[str, Any], tuple[str, str, str]]]:
        for pod in pods(evidence):
            for _, status in container_statuses(pod):
                for state in ("lastState", "state"):
                    terminated = (status.get(state) or {}).get("terminated") or {}
                    if terminated.get("reason") == "OOMKilled":
                        name = str(status.get("name", ""))
                        yield pod, (name, state, str(terminated.get("exitCode", 137)))
                        break

    for of, (name, state, code), members in by_workload(evidence, killed()):
        first = members[0]
        i = next(i for i, s in container_statuses(first) if s.get("name") == name)
        where, who = about(evidence, of, members, "status", "containerStatuses", i, state,
                           "terminated")  # fmt: skip
        resources = container_spec(first, name).get("resources") or {}
        limit = (resources.get("limits") or {}).get("memory")
        request = (resources.get("requests") or {}).get("memory")
        restarts = sum(_restarts(p, name) for p in members)
        sized = f"memory request {request or 'none'}, limit {limit or 'none'}"
        fix = "set a memory limit with an equal request, sized to the job's peak use"
        if limit and parse_quantity(limit):
            bigger = format_bytes(round((parse_quantity(limit) or 0) * 1.5 / 2**30) * 2**30)
            fix = (
                f"raise the memory limit of container {name!r} to {bigger} (1.5x) and "
                "set the request equal to it, so the kubelet does not evict it first"
            )
        yield Violation(
            where,
            f"container {name!r} of {who} was OOMKilled (exit {code}, {restarts} restarts) "
            f"with {sized}",
            fix,
        )


def _restarts(pod: dict[str, Any], name: str) -> int:
    return sum(
        int(s.get("restartCount") or 0) for _, s in container_statuses(pod) if s.get("name") == name
    )


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

    def failing() -> Iterator[tuple[dict[str, Any], tuple[str, str, str, str]]]:
        for pod in pods(evidence):
            for _, status in container_statuses(pod):
                waiting = (status.get("state") or {}).get("waiting") or {}
                if waiting.get("reason") in ("ImagePullBackOff", "ErrImagePull"):
                    name = str(status.get("name", ""))
                    image = status.get("image") or container_spec(pod, name).get("image")
                    yield pod, (name, str(image), "ImagePullBackOff", "")

    for of, (name, image, reason, _), members in by_workload(evidence, failing()):
        first = members[0]
        i = next(i for i, s in container_statuses(first) if s.get("name") == name)
        where, who = about(evidence, of, members, "status", "containerStatuses", i, "state",
                           "waiting")  # fmt: skip
        waiting = (first["status"]["containerStatuses"][i].get("state") or {}).get("waiting") or {}
        fix = f"check that {image!r} exists and the node can pull it (name, tag, pull secret)"
        if "InferenceService" in who or "weight" in image.lower():
            fix += (
                "; keep model weights out of the image: put them in object storage and "
                "set storageUri, so KServe's storage-initializer downloads them"
            )
        yield Violation(
            where,
            f"container {name!r} of {who} cannot pull image {image!r}: "
            f"{waiting.get('reason', reason)} {waiting.get('message', '')}".rstrip(),
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

    def looping() -> Iterator[tuple[dict[str, Any], tuple[str, str, str]]]:
        for pod in pods(evidence):
            for _, status in container_statuses(pod):
                waiting = (status.get("state") or {}).get("waiting") or {}
                last = (status.get("lastState") or {}).get("terminated") or {}
                if waiting.get("reason") == "CrashLoopBackOff" and last.get("reason") != (
                    "OOMKilled"
                ):
                    code = (str(last.get("exitCode", "?")), str(last.get("reason", "unknown")))
                    yield pod, (str(status.get("name", "")), *code)

    for of, (name, code, reason), members in by_workload(evidence, looping()):
        first = members[0]
        i = next(i for i, s in container_statuses(first) if s.get("name") == name)
        where, who = about(evidence, of, members, "status", "containerStatuses", i, "lastState")
        meta = first["metadata"]
        restarts = sum(_restarts(p, name) for p in members)
        yield Violation(
            where,
            f"container {name!r} of {who} is crash-looping: last exit {code} ({reason}), "
            f"{restarts} restarts",
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
