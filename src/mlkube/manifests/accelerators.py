"""Which resources and DRA device classes are accelerators, and which are NVIDIA's.

A workload is an accelerator workload when a container asks for one of the device
plugins' extended resources or, with Dynamic Resource Allocation, names a claim whose
DeviceClass hands out GPU-like devices. Rules about accelerators in general ask
`accelerator`; advice that only holds for NVIDIA's stack (MIG, time-slicing, DCGM)
asks `nvidia` as well.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from mlkube.manifests.objects import Manifest, dig
from mlkube.wellknown import GPU

# Device plugins' extended resources, each one whole device (or slice) per unit:
# NVIDIA (time-sliced GPUs renamed to gpu.shared), AMD, Habana Gaudi, GKE TPUs, AWS
# Neuron (the device and core resources of the Neuron device plugin).
_DEVICES = frozenset(
    {
        GPU, "nvidia.com/gpu.shared", "amd.com/gpu", "habana.ai/gaudi", "google.com/tpu",
        "aws.amazon.com/neuron", "aws.amazon.com/neuroncore", "aws.amazon.com/neurondevice",
    }
)  # fmt: skip
_NVIDIA_PREFIXES = ("nvidia.com/gpu", "nvidia.com/mig-")  # mig-1g.5gb, mig-3g.40gb, …
# Intel: i915 and xe (devices); millicores, memory.max and tiles (shares). AWS Neuron:
# neuron, neuroncore and neurondevice.
_PREFIXES = (*_NVIDIA_PREFIXES, "gpu.intel.com/", "aws.amazon.com/neuron")
# Intel's i915_monitoring and xe_monitoring let a monitoring agent see every GPU of
# the node; they run no work on them.
_MONITORING = "_monitoring"
# Intel's GPU Aware Scheduling resources are shares of a device, not device counts.
_INTEL_SHARES = frozenset(
    {"gpu.intel.com/millicores", "gpu.intel.com/memory.max", "gpu.intel.com/tiles"}
)

# The first DNS label of the DeviceClasses DRA drivers install for accelerators:
# gpu.nvidia.com and mig.nvidia.com (NVIDIA k8s-dra-driver-gpu), gpu.amd.com (AMD),
# gpu.intel.com and gaudi.intel.com (Intel resource drivers), tpu.google.com, and
# gpu.example.com (the DRA example driver). NVIDIA's compute-domain classes are IMEX
# channels, not GPUs.
_GPU_CLASS_LABELS = frozenset({"gpu", "mig", "tpu", "gaudi", "neuron"})
DRA_QUOTA_SUFFIX = ".deviceclass.resource.k8s.io/devices"  # quota key per DeviceClass


def accelerator(resource: str) -> bool:
    """Whether an extended resource name is an accelerator (a device or a share of one)."""
    if resource.endswith(_MONITORING):
        return False
    return resource in _DEVICES or resource.startswith(_PREFIXES)


def counts_devices(resource: str) -> bool:
    """Whether one unit of this accelerator resource is one device (or MIG slice), so
    that a count such as 0.5 is meaningless; Intel's shares (millicores) are not."""
    return accelerator(resource) and resource not in _INTEL_SHARES


def nvidia(resource: str) -> bool:
    """Whether the resource comes from NVIDIA's device plugin (GPUs, MIG, time-slicing)."""
    return resource.startswith(_NVIDIA_PREFIXES)


def gpu_device_class(name: str) -> bool:
    """Whether a DRA DeviceClass hands out accelerators, judged by its name's first label."""
    return name.split(".", 1)[0] in _GPU_CLASS_LABELS and "." in name


CLAIM_KINDS = ("ResourceClaim", "ResourceClaimTemplate")
_DRA_GROUP = "resource.k8s.io"

ClaimRef = tuple[str, str]  # kind, name (in the pod's namespace)


def is_claim(m: Manifest) -> bool:
    return m.ref.group == _DRA_GROUP and m.ref.kind in CLAIM_KINDS


def claim_device_classes(m: Manifest) -> tuple[str, ...]:
    """The DeviceClasses a ResourceClaim or ResourceClaimTemplate asks devices of, one
    entry per device (a request's ``count``, else one).

    resource.k8s.io/v1 puts a request's class under ``exactly`` (or each
    ``firstAvailable`` alternative, of which the first is counted); v1beta1 has it on
    the request itself.
    """
    devices = m.get("spec", "spec", "devices") if m.ref.kind.endswith("Template") else None
    if devices is None:
        devices = m.get("spec", "devices")
    return tuple(_request_classes(dig(devices, ("requests",))))


def _request_classes(requests: Any) -> Iterator[str]:
    for request in requests if isinstance(requests, list) else []:
        if not isinstance(request, dict):
            continue
        alternatives = request.get("firstAvailable")
        for block in (
            request,
            request.get("exactly"),
            *(alternatives[:1] if isinstance(alternatives, list) else []),
        ):
            name = block.get("deviceClassName") if isinstance(block, dict) else None
            if isinstance(name, str) and name:
                count = block.get("count")
                whole = isinstance(count, int) and not isinstance(count, bool) and count > 0
                yield from [name] * (min(count, 1024) if whole else 1)


@dataclass(frozen=True, slots=True, eq=False)
class ClaimedManifest(Manifest):
    """A workload whose pods use DRA claims, with the accelerator DeviceClasses that each
    claim or claim template of the input asks for (one entry per device)."""

    claims: Mapping[ClaimRef, tuple[str, ...]] = field(default_factory=dict)


def claim_sources(pod_spec: dict[str, Any], container: dict[str, Any]) -> tuple[ClaimRef, ...]:
    """The claims a container uses, as (kind, name) of the object that holds the request:
    ``resources.claims[].name`` names an entry of the pod's ``resourceClaims``, which
    names a ResourceClaimTemplate or a ResourceClaim."""
    used = dig(container, ("resources", "claims"))
    if not isinstance(used, list) or not used:
        return ()
    wanted = {str(c.get("name")) for c in used if isinstance(c, dict)}
    pod_claims = pod_spec.get("resourceClaims")
    out: list[ClaimRef] = []
    for claim in pod_claims if isinstance(pod_claims, list) else []:
        if not isinstance(claim, dict) or str(claim.get("name")) not in wanted:
            continue
        if claim.get("resourceClaimTemplateName"):
            out.append(("ResourceClaimTemplate", str(claim["resourceClaimTemplateName"])))
        elif claim.get("resourceClaimName"):
            out.append(("ResourceClaim", str(claim["resourceClaimName"])))
    return tuple(out)


def claimed_devices(
    m: Manifest, pod_spec: dict[str, Any], container: dict[str, Any]
) -> tuple[str, ...]:
    """The accelerator DeviceClasses ``container`` gets through DRA, one entry per
    device, where ``m`` knows its claims (see `mlkube.manifests.claims`)."""
    if not isinstance(m, ClaimedManifest):
        return ()
    return tuple(
        c
        for source in claim_sources(pod_spec, container)
        for c in m.claims.get(source, ())
        if gpu_device_class(c)
    )
