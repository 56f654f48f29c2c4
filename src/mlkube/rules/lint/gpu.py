"""Rules on how containers ask for accelerators: GPUs, MIG slices, TPUs, Gaudi, Neuron."""

from __future__ import annotations

from collections.abc import Iterator

from mlkube.manifests.accelerators import accelerator, counts_devices, nvidia
from mlkube.manifests.objects import Manifest
from mlkube.manifests.workloads import Container
from mlkube.quantity import quantity
from mlkube.rules.lint.common import accelerator_containers, containers, shown
from mlkube.rules.lint.inventory import Inventory
from mlkube.rules.model import Rule, Severity, Violation

_NVIDIA_SHARING = " (time-slicing or MIG share an NVIDIA GPU as more devices)"


def _asked(c: Container, kind: str) -> list[str]:
    """The accelerator resources ``c`` names under ``resources.<kind>``."""
    block = c.spec.get("resources")
    block = block.get(kind) if isinstance(block, dict) else None
    return [str(r) for r in block if accelerator(str(r))] if isinstance(block, dict) else []


def gpu_limit_missing(m: Manifest) -> Iterator[Violation]:
    """Finds containers that request accelerators without a limit.

    ## Why is this bad?
    Extended resources such as `nvidia.com/gpu`, `amd.com/gpu`, `google.com/tpu` or
    `habana.ai/gaudi` cannot be overcommitted: Kubernetes
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
        for resource in _asked(c, "requests"):
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
    """Finds accelerator requests that differ from the limit.

    ## Why is this bad?
    For extended resources the request must equal the limit; the API server rejects
    the pod otherwise. Setting both equal buys nothing else either: extended
    resources play no part in a pod's QoS class, whatever the guide's FAQ says.

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
        for resource in _asked(c, "requests"):
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
    """Finds accelerator counts that are not whole positive numbers.

    ## Why is this bad?
    Device plugins hand out whole devices (a GPU, a MIG slice, a TPU chip, a Neuron
    core): `0.5` or `500m` of one is refused by the API server. To share an NVIDIA
    GPU, use time-slicing or MIG, which advertise more devices. Intel's shares
    (`gpu.intel.com/millicores`, `memory.max`) are amounts, not counts, and are left out.

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
            for resource in _asked(c, kind):
                if not counts_devices(resource):
                    continue
                raw = c.resource(kind, resource)
                value = quantity(raw)
                if value is not None and (value < 0 or value != value.to_integral_value()):
                    yield Violation(
                        m.at(*c.field("resources", kind, resource)),
                        f"container {c.name!r} of the {template.where} asks for {shown(raw)} "
                        f"{resource}: accelerators are whole devices"
                        + (_NVIDIA_SHARING if nvidia(resource) else ""),
                    )


def gpu_memory_request_missing(m: Manifest) -> Iterator[Violation]:
    """Finds accelerator containers without a memory request.

    ## Why is this bad?
    An accelerator job needs host memory too: a DataLoader with pinned memory and
    many workers can need twice the device's memory in RAM. Without a request the
    scheduler places the pod as if it needed none, and under node memory pressure the
    kubelet evicts pods using more than their request first: this one, always.

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
    for template, c in accelerator_containers(m):
        if c.resource("requests", "memory") is None and c.resource("limits", "memory") is None:
            yield Violation(
                m.at(*c.field("resources")),
                f"accelerator container {c.name!r} of the {template.where} sets no memory request",
            )


def gpu_privileged(m: Manifest) -> Iterator[Violation]:
    """Finds privileged containers that use accelerators.

    ## Why is this bad?
    A device plugin gives a container exactly the devices it was allocated. A
    privileged container sees every device on the node, so it can use (and corrupt)
    the accelerators the scheduler gave to other pods, and it can do anything else as
    root.

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
    for template, c in accelerator_containers(m):
        context = c.spec.get("securityContext")
        if isinstance(context, dict) and context.get("privileged") is True:
            yield Violation(
                m.at(*c.field("securityContext", "privileged")),
                f"accelerator container {c.name!r} of the {template.where} is privileged",
            )


OBJECT_RULES: tuple[Rule[Manifest], ...] = (
    Rule(
        "MK101",
        Severity.ERROR,
        "Set the accelerator count under resources.limits.",
        gpu_limit_missing,
    ),
    Rule(
        "MK102",
        Severity.ERROR,
        "Set only the accelerator limit, or make the request equal to it.",
        gpu_request_limit_mismatch,
    ),
    Rule("MK103", Severity.ERROR, "Ask for a whole number of devices.", gpu_count_fractional),
    Rule(
        "MK104",
        Severity.WARNING,
        "Request the host memory the job needs at its peak.",
        gpu_memory_request_missing,
    ),
    Rule(
        "MK105",
        Severity.WARNING,
        "Drop privileged: the device plugin already exposes the allocated devices.",
        gpu_privileged,
    ),
)

INPUT_RULES: tuple[Rule[Inventory], ...] = ()
