"""InferenceEndpoint → KServe InferenceService, PodDisruptionBudget, GPU autoscaling.

``production``: KServe Standard (raw Deployment) mode, at least 3 replicas spread
across zones, a PodDisruptionBudget, and — with GPUs — an HPA on dcgm-exporter's
``DCGM_FI_DEV_GPU_UTIL`` as a per-pod (``Pods``) metric, with the prometheus-adapter
rule that serves it. KServe is told ``autoscalerClass: external`` so that it does not
create its own CPU HPA beside ours.

``development``: KServe Knative mode, scale-to-zero, on a time-sliced GPU.
"""

from __future__ import annotations

from typing import Any

import yaml

from mlkube.render.labels import metadata, pool_selector, pool_tolerations
from mlkube.spec.models import InferenceEndpoint, Pool
from mlkube.wellknown import GPU, HOSTNAME_LABEL, ISVC_LABEL, ZONE_LABEL

ADAPTER_NAMESPACE = "monitoring"
ADAPTER_CONFIGMAP = "mlkube-prometheus-adapter-rules"
TIME_SLICED_LABEL = "nvidia.com/gpu.sharing-strategy"


def render_endpoint(endpoint: InferenceEndpoint, pool: Pool | None) -> list[dict[str, Any]]:
    spec = endpoint.spec
    name = endpoint.metadata.name
    namespace = endpoint.metadata.namespace or "default"
    production = spec.profile == "production"
    low, high = spec.replicas
    gpu_autoscaled = production and spec.resources.gpus > 0
    annotations = {
        "serving.kserve.io/deploymentMode": "Standard" if production else "Knative",
    }
    if gpu_autoscaled:
        annotations["serving.kserve.io/autoscalerClass"] = "external"

    predictor: dict[str, Any] = {"minReplicas": low, "maxReplicas": high}
    if production and not gpu_autoscaled:
        predictor.update(scaleMetric="cpu", scaleTarget=70)
    if spec.priority:
        predictor["priorityClassName"] = spec.priority
    predictor.update(_placement(endpoint, pool))
    if production:
        predictor["topologySpreadConstraints"] = _spread(name)
    model: dict[str, Any] = {"modelFormat": {"name": spec.model.format}}
    if spec.model.runtime:
        model["runtime"] = spec.model.runtime
    model["storageUri"] = spec.model.storage_uri
    model["resources"] = _resources(endpoint)
    predictor["model"] = model

    out: list[dict[str, Any]] = [
        {
            "apiVersion": "serving.kserve.io/v1beta1",
            "kind": "InferenceService",
            "metadata": metadata(
                name, namespace, labels=endpoint.metadata.labels, annotations=annotations
            ),
            "spec": {"predictor": predictor},
        }
    ]
    if production:
        out.append(
            {
                "apiVersion": "policy/v1",
                "kind": "PodDisruptionBudget",
                "metadata": metadata(name, namespace),
                "spec": {"maxUnavailable": 1, "selector": {"matchLabels": {ISVC_LABEL: name}}},
            }
        )
    if gpu_autoscaled:
        out.append(_hpa(endpoint, low, high))
    return out


def _resources(endpoint: InferenceEndpoint) -> dict[str, Any]:
    """Limits name every resource requested: KServe fills a limit the InferenceService
    leaves out from its ServingRuntime's (cpu: 1 in the released runtimes), and a request
    above it makes the predictor Deployment invalid ("must be less than or equal to cpu
    limit of 1"), as the real controller reported for llama-chat."""
    res = endpoint.spec.resources
    requests: dict[str, Any] = {"cpu": str(res.cpu), "memory": str(res.memory)}
    limits: dict[str, Any] = {"cpu": str(res.cpu), "memory": str(res.memory)}
    if res.gpus:
        limits[GPU] = str(res.gpus)
    return {"requests": requests, "limits": limits}


def _placement(endpoint: InferenceEndpoint, pool: Pool | None) -> dict[str, Any]:
    selector = pool_selector(pool) if pool is not None else {}
    sliced = pool is None or pool.time_slicing is not None
    if endpoint.spec.profile == "development" and endpoint.spec.resources.gpus and sliced:
        selector[TIME_SLICED_LABEL] = "time-slicing"
    out: dict[str, Any] = {}
    if selector:
        out["nodeSelector"] = dict(sorted(selector.items()))
    tolerations = pool_tolerations(pool) if pool is not None else []
    if tolerations:
        out["tolerations"] = tolerations
    return out


def _spread(name: str) -> list[dict[str, Any]]:
    selector = {"matchLabels": {ISVC_LABEL: name}}
    return [
        {
            "maxSkew": 1,
            "topologyKey": ZONE_LABEL,
            "whenUnsatisfiable": "DoNotSchedule",
            "labelSelector": selector,
        },
        {
            "maxSkew": 1,
            "topologyKey": HOSTNAME_LABEL,
            "whenUnsatisfiable": "ScheduleAnyway",
            "labelSelector": selector,
        },
    ]


def _hpa(endpoint: InferenceEndpoint, low: int, high: int) -> dict[str, Any]:
    assert endpoint.spec.autoscaling is not None or endpoint.spec.resources.gpus
    scaling = endpoint.spec.autoscaling
    metric = scaling.metric if scaling else "DCGM_FI_DEV_GPU_UTIL"
    target = scaling.gpu_utilization if scaling else 70
    name = endpoint.metadata.name
    spec: dict[str, Any] = {
        "scaleTargetRef": {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "name": f"{name}-predictor",
        },
        "minReplicas": max(low, 1),
        "maxReplicas": high,
        "metrics": [
            {
                "type": "Pods",
                "pods": {
                    "metric": {"name": metric},
                    "target": {"type": "AverageValue", "averageValue": str(target)},
                },
            }
        ],
    }
    window = scaling.scale_down_stabilization_seconds if scaling else None
    if window is not None:
        spec["behavior"] = {"scaleDown": {"stabilizationWindowSeconds": window}}
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": metadata(name, endpoint.metadata.namespace or "default"),
        "spec": spec,
    }


def adapter_rules(metrics: list[str]) -> dict[str, Any]:
    """prometheus-adapter rules serving dcgm-exporter series as per-pod custom metrics.

    dcgm-exporter labels each series with the pod using the GPU only when it runs
    with ``DCGM_EXPORTER_KUBERNETES=true`` and Prometheus scrapes it with
    ``honorLabels: true``; merge these rules into the adapter's ``config.yaml``.
    """
    rules = [
        {
            "seriesQuery": f'{metric}{{namespace!="",pod!=""}}',
            "resources": {
                "overrides": {
                    "namespace": {"resource": "namespace"},
                    "pod": {"resource": "pod"},
                }
            },
            "name": {"matches": f"^{metric}$", "as": metric},
            "metricsQuery": "avg(<<.Series>>{<<.LabelMatchers>>}) by (<<.GroupBy>>)",
        }
        for metric in sorted(set(metrics))
    ]
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": metadata(ADAPTER_CONFIGMAP, ADAPTER_NAMESPACE),
        "data": {"config.yaml": yaml.safe_dump({"rules": rules}, sort_keys=False)},
    }
