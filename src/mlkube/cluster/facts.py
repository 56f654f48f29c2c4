"""Facts about a cluster that preflight judges, gathered once into a plain snapshot.

Every read either succeeds or ends preflight with the server's reason (unreachable:
exit 3; forbidden: exit 4, naming the verb and resource): a prerequisite that could
not be looked at is never judged as present or absent. Only an API the cluster does
not serve (the custom metrics API unregistered) is an answer in itself."""

from __future__ import annotations

from typing import Any

from mlkube.cluster.client import ApiError, Kube, NotFound
from mlkube.quantity import parse_quantity
from mlkube.snapshots.evidence import GPU_OPERATOR_NAMESPACE
from mlkube.snapshots.facts import (
    ACCESS,
    ADAPTER_CONFIGMAP,
    CUSTOM_METRICS_APISERVICE,
    GPU_METRIC,
    Facts,
)
from mlkube.wellknown import GPU


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
    _gpu_metric(kube, facts)
    return facts


def _gpu_metric(kube: Kube, facts: Facts) -> None:
    """PF109's evidence: the adapter's APIService and configuration, what the custom
    metrics API lists, the namespace's running GPU pods and the pods it has a value for
    (there and in the GPU Operator's namespace, where the exporter's own pods run)."""
    api = kube.get("apiregistration.k8s.io/v1", "APIService", CUSTOM_METRICS_APISERVICE)
    if api is not None:
        facts.custom_metrics_apiservice = {
            "metadata": {"name": api["metadata"]["name"]},
            "spec": {"service": (api.get("spec") or {}).get("service")},
            "status": {"conditions": (api.get("status") or {}).get("conditions") or []},
        }
        service = (api.get("spec") or {}).get("service") or {}
        for namespace, name in ((service.get("namespace"), service.get("name")), ADAPTER_CONFIGMAP):
            found = _config_map(kube, str(namespace), str(name)) if name else None
            if found is not None and "config.yaml" in (found.get("data") or {}):
                text = found["data"]["config.yaml"]
                source = f"ConfigMap {namespace}/{name}"
                facts.adapter_config = {"source": source, "data": {"config.yaml": text}}
                break
    for pod in kube.list("v1", "Pod", facts.namespace):
        if pod.get("status", {}).get("phase") == "Running" and _gpus(pod):
            facts.gpu_pods.setdefault(facts.namespace, []).append(pod["metadata"]["name"])
    if not facts.custom_metrics:
        return
    try:
        listing = kube.request("GET", f"/apis/{facts.custom_metrics}")
    except ApiError:  # registered but not answering: the APIService says why
        return
    facts.custom_metric_resources = sorted(r["name"] for r in listing.get("resources") or [])
    if f"pods/{GPU_METRIC}" not in facts.custom_metric_resources:
        return
    for namespace in sorted({facts.namespace, GPU_OPERATOR_NAMESPACE}):
        path = f"/apis/{facts.custom_metrics}/namespaces/{namespace}/pods/*/{GPU_METRIC}"
        try:
            items = kube.request("GET", path).get("items") or []
        except ApiError:
            items = []
        names = [str(i.get("describedObject", {}).get("name")) for i in items]
        facts.gpu_metric_items += len(names)
        if names:
            facts.gpu_metric_pods[namespace] = sorted(names)


def _gpus(pod: dict[str, Any]) -> bool:
    return any(
        parse_quantity(((c.get("resources") or {}).get("limits") or {}).get(GPU, 0))
        for c in pod.get("spec", {}).get("containers") or []
    )


def _config_map(kube: Kube, namespace: str, name: str) -> dict[str, Any] | None:
    """A ConfigMap that may hold the adapter's rules; one the reader may not get is
    not read (PF109 then says the configuration was not found, judging no rule)."""
    try:
        return kube.get("v1", "ConfigMap", name, namespace)
    except ApiError as exc:
        if exc.status != 403:
            raise
        return None


__all__ = ["ACCESS", "GPU_METRIC", "Facts", "gather_facts"]
