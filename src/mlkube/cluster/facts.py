"""Facts about a cluster that preflight judges, gathered once into a plain snapshot.

Every read either succeeds or ends preflight with the server's reason (unreachable:
exit 3; forbidden: exit 4, naming the verb and resource): a prerequisite that could
not be looked at is never judged as present or absent. Only an API the cluster does
not serve (the custom metrics API unregistered) is an answer in itself."""

from __future__ import annotations

from typing import Any

from mlkube.cluster.client import ApiError, Kube, NotFound
from mlkube.snapshots.facts import ACCESS, GPU_METRIC, Facts


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
        review = kube.create(  # an access review changes nothing: safe to repeat
            {
                "apiVersion": "authorization.k8s.io/v1",
                "kind": "SelfSubjectAccessReview",
                "metadata": {},
                "spec": {"resourceAttributes": attributes},
            },
            idempotent=True,
        )
        facts.access[_access_key(check)] = bool(review.get("status", {}).get("allowed"))
    try:
        group = kube.request("GET", "/apis/custom.metrics.k8s.io")
        facts.custom_metrics = group.get("preferredVersion", {}).get("groupVersion")
    except NotFound:  # not registered; Unreachable and refusals end preflight
        facts.custom_metrics = None
    if facts.custom_metrics:
        path = f"/apis/{facts.custom_metrics}/namespaces/*/pods/*/{GPU_METRIC}"
        try:
            facts.gpu_metric_items = len(kube.request("GET", path).get("items", []))
        except ApiError:
            facts.gpu_metric_items = 0
    return facts


__all__ = ["ACCESS", "GPU_METRIC", "Facts", "gather_facts"]
