"""What a Node object says about its GPUs (shared by doctor and preflight)."""

from __future__ import annotations

from typing import Any

from mlkube.quantity import parse_quantity
from mlkube.wellknown import GPU, GPU_PRODUCT_LABEL, NFD_GPU_LABEL


def gpu_allocatable(node: dict[str, Any]) -> float:
    """GPUs the device plugin advertises on ``node`` (0 when it does not run)."""
    allocatable = node.get("status", {}).get("allocatable") or {}
    return parse_quantity(allocatable.get(GPU, 0)) or 0.0


def gpu_labelled(node: dict[str, Any]) -> bool:
    """Whether NFD or GPU feature discovery labelled ``node`` as having NVIDIA GPUs."""
    labels = node.get("metadata", {}).get("labels") or {}
    return labels.get(NFD_GPU_LABEL) == "true" or GPU_PRODUCT_LABEL in labels
