"""Fake GPU nodes shaped like a Platform's pools, as KWOK manages them.

Labels are those the real agents set: Node Feature Discovery
(``feature.node.kubernetes.io/pci-10de.present``), GPU feature discovery
(``nvidia.com/gpu.product``, ``.count``, ``.memory``; time-slicing adds ``.replicas``,
``.sharing-strategy`` and the ``-SHARED`` product suffix), the cloud's zone and spot
labels. Capacity advertises ``nvidia.com/gpu`` as the device plugin would.
"""

from __future__ import annotations

from typing import Any

from mlkube.render.labels import pool_selector
from mlkube.spec.models import Platform, Pool
from mlkube.wellknown import GPU, GPU_PRODUCT_LABEL, HOSTNAME_LABEL, NFD_GPU_LABEL, ZONE_LABEL

KWOK_ANNOTATION = "kwok.x-k8s.io/node"


def node_name(pool: Pool, index: int) -> str:
    return f"{pool.name}-{index}"


def pool_nodes(pool: Pool) -> list[dict[str, Any]]:
    return [fake_node(pool, i) for i in range(pool.nodes)]


def platform_nodes(platform: Platform) -> list[dict[str, Any]]:
    return [node for pool in platform.spec.pools for node in pool_nodes(pool)]


def fake_node(pool: Pool, index: int) -> dict[str, Any]:
    name = node_name(pool, index)
    labels = {
        "type": "kwok",
        "kubernetes.io/os": "linux",
        "kubernetes.io/arch": "amd64",
        HOSTNAME_LABEL: name,
        ZONE_LABEL: pool.zones[index % len(pool.zones)],
        NFD_GPU_LABEL: "true",
        "nvidia.com/gpu.present": "true",
        GPU_PRODUCT_LABEL: pool.gpu.model,
        "nvidia.com/gpu.count": str(pool.gpu.count),
        **pool_selector(pool),
    }
    if pool.gpu.memory_mib:
        labels["nvidia.com/gpu.memory"] = str(pool.gpu.memory_mib)
    if pool.time_slicing is not None:
        labels.update(
            {
                GPU_PRODUCT_LABEL: f"{pool.gpu.model}-SHARED",
                "nvidia.com/gpu.replicas": str(pool.time_slicing.replicas),
                "nvidia.com/gpu.sharing-strategy": "time-slicing",
                "nvidia.com/device-plugin.config": pool.name,
            }
        )
    resources = {
        "cpu": str(pool.cpu),
        "memory": str(pool.memory),
        "pods": "110",
        GPU: str(pool.gpus_advertised),
    }
    taints = [
        {
            k: v
            for k, v in {"key": t.key, "value": t.value, "effect": t.effect}.items()
            if v is not None
        }
        for t in pool.taints
    ]
    node: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "labels": dict(sorted(labels.items())),
            "annotations": {KWOK_ANNOTATION: "fake", "node.alpha.kubernetes.io/ttl": "0"},
        },
        "spec": {"taints": taints} if taints else {},
        "status": {
            "capacity": resources,
            "allocatable": dict(resources),
            "nodeInfo": {
                "architecture": "amd64",
                "operatingSystem": "linux",
                "kubeletVersion": "fake",
                "kubeProxyVersion": "fake",
            },
        },
    }
    return node
