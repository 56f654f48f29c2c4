"""Label and annotation keys, and the node-facing facts of a pool, in one place."""

from __future__ import annotations

from typing import Any

from mlkube.spec.models import Pool

MANAGED_BY = {"app.kubernetes.io/managed-by": "mlkube"}
POOL_LABEL = "mlkube.dev/pool"
CAPACITY_LABEL = "mlkube.dev/capacity"
GPU_PRODUCT_LABEL = "nvidia.com/gpu.product"
CHECKPOINT_PATH_ANNOTATION = "mlkube.dev/checkpoint-path"
CHECKPOINT_INTERVAL_ANNOTATION = "mlkube.dev/checkpoint-interval-seconds"
ZONE_LABEL = "topology.kubernetes.io/zone"
HOSTNAME_LABEL = "kubernetes.io/hostname"
ISVC_LABEL = "serving.kserve.io/inferenceservice"

# Seconds between a spot termination notice and the node going away.
SPOT_NOTICE_SECONDS = {"aws": 120, "gcp": 30, "azure": 30, "on-prem": 120}
# The provider's own label for spot capacity, as its node pools set it.
SPOT_LABELS = {
    "aws": ("eks.amazonaws.com/capacityType", "SPOT"),
    "gcp": ("cloud.google.com/gke-spot", "true"),
    "azure": ("kubernetes.azure.com/scalesetpriority", "spot"),
    "on-prem": (CAPACITY_LABEL, "spot"),
}


def pool_selector(pool: Pool) -> dict[str, str]:
    """Labels that pick exactly this pool's nodes (the ResourceFlavor's nodeLabels)."""
    labels = {POOL_LABEL: pool.name}
    if pool.time_slicing is None:
        # GPU feature discovery appends "-SHARED" to the product on time-sliced nodes.
        labels[GPU_PRODUCT_LABEL] = pool.gpu.model
    if pool.spot:
        key, value = SPOT_LABELS[pool.provider]
        labels[key] = value
    labels.update(pool.node_labels)
    return dict(sorted(labels.items()))


def pool_tolerations(pool: Pool) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for taint in pool.taints:
        toleration: dict[str, Any] = {"key": taint.key}
        if taint.value is None:
            toleration["operator"] = "Exists"
        else:
            toleration.update(operator="Equal", value=taint.value)
        toleration["effect"] = taint.effect
        out.append(toleration)
    return out


def metadata(name: str, namespace: str | None = None, **extra: Any) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name}
    if namespace:
        meta["namespace"] = namespace
    labels = dict(MANAGED_BY)
    labels.update(extra.pop("labels", {}) or {})
    meta["labels"] = dict(sorted(labels.items()))
    annotations = extra.pop("annotations", None)
    if annotations:
        meta["annotations"] = dict(sorted(annotations.items()))
    return meta
