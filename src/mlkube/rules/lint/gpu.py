"""Rules on how containers ask for GPUs."""

from __future__ import annotations

from collections.abc import Iterator

from mlkube.manifests.objects import Manifest
from mlkube.manifests.workloads import GPU_RESOURCES
from mlkube.quantity import quantity
from mlkube.rules.lint.common import containers, gpu_containers, shown
from mlkube.rules.lint.inventory import Inventory
from mlkube.rules.model import Rule, Severity, Violation


def gpu_limit_missing(m: Manifest) -> Iterator[Violation]:
    """Finds containers that request GPUs without a GPU limit.

    ## Why is this bad?
    Extended resources such as `nvidia.com/gpu` cannot be overcommitted: Kubernetes
    requires the limit, and takes the request from it. A request alone is rejected by
    the API server, and the Training Operator reports it only as an Event
    (kubeflow/trainer#2363), so the job never starts and says nothing in its status.

    ## Example
    ```yaml
    resources:
      requests:
        nvidia.com/gpu: 1
    ```

    ## Use instead
    ```yaml
    resources:
      limits:
        nvidia.com/gpu: 1
    ```
    """
    for template, c in containers(m, init=True):
        for resource in GPU_RESOURCES:
            if (
                c.resource("requests", resource) is not None
                and c.resource("limits", resource) is None
            ):
                yield Violation(
                    m.at(*c.field("resources", "requests", resource)),
                    f"container {c.name!r} of the {template.where} requests {resource} "
                    "without a limit",
                )


def gpu_request_limit_mismatch(m: Manifest) -> Iterator[Violation]:
    """Finds GPU requests that differ from the GPU limit.

    ## Why is this bad?
    For extended resources the request must equal the limit; the API server rejects
    the pod otherwise. Setting both equal buys nothing else either: GPUs play no part
    in a pod's QoS class, whatever the guide's FAQ says.

    ## Example
    ```yaml
    resources:
      requests: {nvidia.com/gpu: 1}
      limits: {nvidia.com/gpu: 2}
    ```

    ## Use instead
    ```yaml
    resources:
      limits: {nvidia.com/gpu: 2}
    ```
    """
    for template, c in containers(m, init=True):
        for resource in GPU_RESOURCES:
            request = c.resource("requests", resource)
            limit = c.resource("limits", resource)
            if request is None or limit is None:
                continue
            if quantity(request) != quantity(limit):
                yield Violation(
                    m.at(*c.field("resources", "requests", resource)),
                    f"container {c.name!r} of the {template.where} requests {shown(request)} "
                    f"{resource} but its limit is {shown(limit)}",
                )


def gpu_count_fractional(m: Manifest) -> Iterator[Violation]:
    """Finds GPU counts that are not whole positive numbers.

    ## Why is this bad?
    The device plugin hands out whole devices: `0.5` or `500m` GPUs is refused by the
    API server. To share a GPU, use time-slicing or MIG, which advertise more devices.

    ## Example
    ```yaml
    resources:
      limits: {nvidia.com/gpu: 0.5}
    ```

    ## Use instead
    ```yaml
    resources:
      limits: {nvidia.com/gpu: 1}   # on a time-sliced node, one slice
    ```
    """
    for template, c in containers(m, init=True):
        for kind in ("limits", "requests"):
            for resource in GPU_RESOURCES:
                raw = c.resource(kind, resource)
                value = quantity(raw)
                if value is not None and (value < 0 or value != value.to_integral_value()):
                    yield Violation(
                        m.at(*c.field("resources", kind, resource)),
                        f"container {c.name!r} of the {template.where} asks for {shown(raw)} "
                        f"{resource}: GPUs are whole devices",
                    )


def gpu_memory_request_missing(m: Manifest) -> Iterator[Violation]:
    """Finds GPU containers without a memory request.

    ## Why is this bad?
    A GPU job needs host memory too: a DataLoader with pinned memory and many workers
    can need twice the GPU's memory in RAM. Without a request the scheduler places the
    pod as if it needed none, and under node memory pressure the kubelet evicts pods
    using more than their request first: this one, always.

    ## Example
    ```yaml
    resources:
      limits: {nvidia.com/gpu: 1}
    ```

    ## Use instead
    ```yaml
    resources:
      requests: {memory: 64Gi}
      limits: {nvidia.com/gpu: 1, memory: 64Gi}
    ```
    """
    for template, c in gpu_containers(m):
        if c.resource("requests", "memory") is None and c.resource("limits", "memory") is None:
            yield Violation(
                m.at(*c.field("resources")),
                f"GPU container {c.name!r} of the {template.where} sets no memory request",
            )


def gpu_privileged(m: Manifest) -> Iterator[Violation]:
    """Finds privileged containers that use GPUs.

    ## Why is this bad?
    The NVIDIA device plugin gives a container exactly the devices it was allocated.
    A privileged container sees every GPU on the node, so it can use (and corrupt)
    the GPUs the scheduler gave to other pods, and it can do anything else as root.

    ## Example
    ```yaml
    securityContext: {privileged: true}
    resources:
      limits: {nvidia.com/gpu: 1}
    ```

    ## Use instead
    ```yaml
    resources:
      limits: {nvidia.com/gpu: 1}
    ```
    """
    for template, c in gpu_containers(m):
        context = c.spec.get("securityContext")
        if isinstance(context, dict) and context.get("privileged") is True:
            yield Violation(
                m.at(*c.field("securityContext", "privileged")),
                f"GPU container {c.name!r} of the {template.where} is privileged",
            )


OBJECT_RULES: tuple[Rule[Manifest], ...] = (
    Rule("MK101", Severity.ERROR, "Set the GPU count under resources.limits.", gpu_limit_missing),
    Rule(
        "MK102",
        Severity.ERROR,
        "Set only the GPU limit, or make the request equal to it.",
        gpu_request_limit_mismatch,
    ),
    Rule("MK103", Severity.ERROR, "Ask for a whole number of GPUs.", gpu_count_fractional),
    Rule(
        "MK104",
        Severity.WARNING,
        "Request the host memory the job needs at its peak.",
        gpu_memory_request_missing,
    ),
    Rule(
        "MK105",
        Severity.WARNING,
        "Drop privileged: the device plugin already exposes the allocated GPUs.",
        gpu_privileged,
    ),
)

INPUT_RULES: tuple[Rule[Inventory], ...] = ()
