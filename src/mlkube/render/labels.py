"""The node-facing facts of a pool (selector, tolerations) and object metadata."""

from __future__ import annotations

from typing import Any

from mlkube.spec.models import Pool
from mlkube.wellknown import GPU_PRODUCT_LABEL, POOL_LABEL, SPOT_BY_PROVIDER

MANAGED_BY = {"app.kubernetes.io/managed-by": "mlkube"}


def pool_selector(pool: Pool) -> dict[str, str]:
    """Labels that pick exactly this pool's nodes (the ResourceFlavor's nodeLabels)."""
    labels = {POOL_LABEL: pool.name}
    if pool.time_slicing is None:
        # GPU feature discovery appends "-SHARED" to the product on time-sliced nodes.
        labels[GPU_PRODUCT_LABEL] = pool.gpu.model
    if pool.spot:
        spot = SPOT_BY_PROVIDER[pool.provider]
        labels[spot.label] = spot.value
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
