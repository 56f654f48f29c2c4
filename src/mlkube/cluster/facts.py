"""Facts about a cluster that preflight judges, gathered once into a plain snapshot."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

from mlkube.cluster.client import ApiError, Kube
from mlkube.errors import MlkubeError

GPU_METRIC = "DCGM_FI_DEV_GPU_UTIL"
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

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1, sort_keys=True)


def _access_key(check: dict[str, Any]) -> str:
    resource = check["resource"] + (f"/{check['subresource']}" if "subresource" in check else "")
    return f"{check['verb']} {resource}"


def gather_facts(kube: Kube, namespace: str) -> Facts:
    facts = Facts(kube.connection.context, namespace)
    facts.version = kube.request("GET", "/version")
    facts.nodes = kube.list("v1", "Node")
    facts.gpu_operator_pods = kube.list("v1", "Pod", "gpu-operator")
    facts.cert_manager_pods = kube.list("v1", "Pod", "cert-manager")
    facts.crds = {
        c["metadata"]["name"]: [v["name"] for v in c["spec"]["versions"] if v.get("served")]
        for c in kube.list("apiextensions.k8s.io/v1", "CustomResourceDefinition")
    }
    facts.storage_classes = kube.list("storage.k8s.io/v1", "StorageClass")
    for check in ACCESS:
        attributes = {
            k: v for k, v in check.items() if k in ("verb", "resource", "subresource", "group")
        }
        if not check.get("cluster"):
            attributes["namespace"] = namespace
        review = kube.create(
            {
                "apiVersion": "authorization.k8s.io/v1",
                "kind": "SelfSubjectAccessReview",
                "metadata": {},
                "spec": {"resourceAttributes": attributes},
            }
        )
        facts.access[_access_key(check)] = bool(review.get("status", {}).get("allowed"))
    try:
        group = kube.request("GET", "/apis/custom.metrics.k8s.io")
        facts.custom_metrics = group.get("preferredVersion", {}).get("groupVersion")
    except MlkubeError:
        facts.custom_metrics = None
    if facts.custom_metrics:
        path = f"/apis/{facts.custom_metrics}/namespaces/*/pods/*/{GPU_METRIC}"
        try:
            facts.gpu_metric_items = len(kube.request("GET", path).get("items", []))
        except ApiError:
            facts.gpu_metric_items = 0
    return facts
