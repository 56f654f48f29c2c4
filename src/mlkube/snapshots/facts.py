"""What preflight judges: a plain snapshot of a cluster's prerequisites, without I/O.

Gathered by `mlkube.cluster.facts`; the preflight checks import only this module.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

GPU_METRIC = "DCGM_FI_DEV_GPU_UTIL"
CUSTOM_METRICS_APISERVICE = "v1beta1.custom.metrics.k8s.io"
# Where PF109 looks for the adapter's rules, after the ConfigMap named like the Service
# the APIService names (prometheus-adapter's chart names both after the release): the
# one `mlkube render` writes (render/serving.py).
ADAPTER_CONFIGMAP = ("monitoring", "mlkube-prometheus-adapter-rules")
# What the guide's deployer must be allowed to do (its "Access and Permission Requirements").
ACCESS = (
    {"verb": "create", "resource": "pods", "subresource": "exec"},
    {"verb": "get", "resource": "pods", "subresource": "log"},
    {"verb": "create", "resource": "persistentvolumeclaims"},
    {
        "verb": "create",
        "resource": "priorityclasses",
        "group": "scheduling.k8s.io",
        "cluster": True,
    },
)


@dataclass
class Facts:
    context: str
    namespace: str
    version: dict[str, Any] = field(default_factory=dict)
    nodes: list[dict[str, Any]] = field(default_factory=list)
    gpu_operator_pods: list[dict[str, Any]] = field(default_factory=list)
    cert_manager_pods: list[dict[str, Any]] = field(default_factory=list)
    crds: dict[str, list[str]] = field(default_factory=dict)  # name → served versions
    storage_classes: list[dict[str, Any]] = field(default_factory=list)
    access: dict[str, bool] = field(default_factory=dict)  # "create pods/exec" → allowed
    custom_metrics: str | None = None  # None: the API is not registered
    gpu_metric_items: int = 0
    # PF109's evidence: the APIService v1beta1.custom.metrics.k8s.io (None: not
    # registered), what the custom metrics API lists ("pods/DCGM_FI_DEV_GPU_UTIL"),
    # the running GPU pods of the namespace, the pods it has a value for (by namespace),
    # and the adapter's configuration ({"source": "ns/name", "data": ConfigMap data}).
    custom_metrics_apiservice: dict[str, Any] | None = None
    custom_metric_resources: list[str] = field(default_factory=list)
    gpu_pods: dict[str, list[str]] = field(default_factory=dict)
    gpu_metric_pods: dict[str, list[str]] = field(default_factory=dict)
    adapter_config: dict[str, Any] | None = None

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1, sort_keys=True)
