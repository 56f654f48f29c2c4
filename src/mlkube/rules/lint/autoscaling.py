"""Rules on autoscaling accelerator workloads: on metrics that exist and that mean the
accelerators' load."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from mlkube.manifests.objects import Manifest, dig
from mlkube.manifests.workloads import pod_templates
from mlkube.rules.lint.adapter import adapter_config, adapter_rules
from mlkube.rules.lint.exporters import DCGM_1X_NAMES, exported_gpu_metric, looks_like_gpu_metric
from mlkube.rules.lint.inventory import Inventory, WorkloadFacts
from mlkube.rules.model import Rule, Severity, Violation

# HorizontalPodAutoscaler metrics. --------------------------------------------------

_ISVC = ("serving.kserve.io", "InferenceService")
_SOURCE = {
    "Resource": "resource",
    "ContainerResource": "containerResource",
    "Pods": "pods",
    "Object": "object",
    "External": "external",
}
_HOST_RESOURCES = frozenset({"cpu", "memory"})


@dataclass(frozen=True, slots=True)
class _Metric:
    index: int
    type: str
    source: dict[str, Any]

    @property
    def key(self) -> str:
        return _SOURCE[self.type]

    @property
    def name(self) -> str:
        """The resource name of Resource metrics, the metric name of the others."""
        resource = self.type in ("Resource", "ContainerResource")
        raw = self.source.get("name") if resource else dig(self.source, ("metric", "name"))
        return str(raw) if raw else ""


def _metrics(hpa: Manifest) -> list[_Metric]:
    items = hpa.get("spec", "metrics")
    out: list[_Metric] = []
    for i, item in enumerate(items if isinstance(items, list) else []):
        kind = item.get("type") if isinstance(item, dict) else None
        if isinstance(kind, str) and kind in _SOURCE and isinstance(item.get(_SOURCE[kind]), dict):
            out.append(_Metric(i, kind, item[_SOURCE[kind]]))
    return out


def _host_only(hpa: Manifest) -> list[str] | None:
    """The resources an HPA scales on when they are only cpu and memory; else None."""
    if hpa.ref.api_version == "autoscaling/v1" or not hpa.get("spec", "metrics"):
        return ["cpu"]  # v1 knows only CPU; v2 without metrics defaults to 80% CPU
    metrics = _metrics(hpa)
    if metrics and all(
        m.type in ("Resource", "ContainerResource") and m.name in _HOST_RESOURCES for m in metrics
    ):
        return sorted({m.name for m in metrics})
    return None


def _gpu_target(inventory: Inventory, hpa: Manifest) -> str | None:
    """The accelerator workload in the input that ``hpa`` scales, described; None if there
    is none."""
    kind = str(hpa.get("spec", "scaleTargetRef", "kind") or "")
    name = str(hpa.get("spec", "scaleTargetRef", "name") or "")
    namespace = hpa.ref.namespace or "default"
    for w in inventory.workloads:
        if w.namespace != namespace:
            continue
        if w.ref.kind == kind and w.ref.name == name and any(p.accelerators > 0 for p in w.pods):
            return f"accelerator {kind} {name}"
        if _is_predictor_deployment(w, kind, name):
            return f"Deployment {name} (the accelerator predictor of InferenceService {w.ref.name})"
    return None


def _is_predictor_deployment(w: WorkloadFacts, kind: str, name: str) -> bool:
    """KServe's Standard (raw) mode runs the predictor as Deployment ``<isvc>-predictor``."""
    return (
        (w.ref.group, w.ref.kind) == _ISVC
        and kind == "Deployment"
        and name in (f"{w.ref.name}-predictor", f"{w.ref.name}-predictor-default")
        and any(p.role == "predictor" and p.accelerators > 0 for p in w.pods)
    )


def hpa_cpu_for_gpu(inventory: Inventory) -> Iterator[Violation]:
    """Finds HorizontalPodAutoscalers that scale an accelerator workload on CPU or memory
    only.

    ## Why is this bad?
    An inference server can sit at 5% CPU while its GPU (or TPU) is saturated: the CPU only
    moves tensors and parses requests. An HPA on CPU then never scales up under load
    (or scales on tokenisation noise). An autoscaling/v2 HPA without `metrics` scales
    on 80% CPU by default, and autoscaling/v1 knows nothing else.

    ## Example
    ```yaml
    kind: HorizontalPodAutoscaler
    spec:
      scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: llm-predictor}
      metrics:
        - type: Resource
          resource: {name: cpu, target: {type: Utilization, averageUtilization: 80}}
    ```

    ## Use instead
    ```yaml
    kind: HorizontalPodAutoscaler
    spec:
      scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: llm-predictor}
      metrics:
        - type: Pods
          pods:
            metric: {name: DCGM_FI_DEV_GPU_UTIL}
            target: {type: AverageValue, averageValue: "70"}
    ```
    """
    for hpa in inventory.of_kind("HorizontalPodAutoscaler"):
        resources = _host_only(hpa)
        target = _gpu_target(inventory, hpa) if resources else None
        if not resources or not target:
            continue
        if hpa.ref.api_version == "autoscaling/v1":
            where, how = hpa.at("spec", "targetCPUUtilizationPercentage"), "on CPU"
        elif not hpa.get("spec", "metrics"):
            where, how = hpa.at("spec", "metrics"), "on the default 80% CPU (no metrics set)"
        else:
            where, how = hpa.at("spec", "metrics"), "on " + " and ".join(resources) + " only"
        yield Violation(where, f"HPA {hpa.ref.name} scales {target} {how}")


def _predictor_gpus(m: Manifest) -> bool:
    return any(t.role == "predictor" and t.accelerators() > 0 for t in pod_templates(m))


def _kserve_default_cpu_hpa(m: Manifest) -> bool:
    """Whether KServe makes its own HPA on its default metric (80% CPU), able to scale."""
    annotations = m.annotations
    if annotations.get("serving.kserve.io/deploymentMode") not in ("RawDeployment", "Standard"):
        return False
    if annotations.get("serving.kserve.io/autoscalerClass", "hpa") != "hpa":
        return False
    low, high = m.get("spec", "predictor", "minReplicas"), m.get("spec", "predictor", "maxReplicas")
    low = low if isinstance(low, int) and low >= 1 else 1
    return isinstance(high, int) and high > low  # else KServe pins maxReplicas to min


def isvc_scale_metric_cpu_for_gpu(m: Manifest) -> Iterator[Violation]:
    """Finds accelerator InferenceServices that autoscale on CPU or memory.

    ## Why is this bad?
    `scaleMetric: cpu` (or `memory`) scales a GPU predictor on the load of its host
    side, which stays low while the accelerator is the bottleneck: the endpoint queues
    requests and never scales up. In Standard (raw) mode KServe's own HPA scales on
    80% CPU when no metric is set. Scale on GPU utilisation with an external HPA, or
    on concurrency with Knative.

    ## Example
    ```yaml
    metadata:
      annotations: {serving.kserve.io/deploymentMode: Standard}
    spec:
      predictor:
        scaleMetric: cpu
        maxReplicas: 6
    ```

    ## Use instead
    ```yaml
    metadata:
      annotations:
        serving.kserve.io/deploymentMode: Standard
        serving.kserve.io/autoscalerClass: external   # an HPA on DCGM_FI_DEV_GPU_UTIL
    spec:
      predictor:
        maxReplicas: 6
    ```
    """
    if (m.ref.group, m.ref.kind) != _ISVC or not _predictor_gpus(m):
        return
    metric = m.get("spec", "predictor", "scaleMetric")
    metrics = m.get("spec", "predictor", "autoScaling", "metrics")
    if isinstance(metric, str) and metric in _HOST_RESOURCES:
        yield Violation(
            m.at("spec", "predictor", "scaleMetric"),
            f"the accelerator predictor scales on {metric}",
        )
    elif isinstance(metrics, list) and metrics and all(_host_metric(x) for x in metrics):
        yield Violation(
            m.at("spec", "predictor", "autoScaling", "metrics"),
            "the accelerator predictor autoscales on cpu/memory metrics only",
        )
    elif metric is None and metrics is None and _kserve_default_cpu_hpa(m):
        yield Violation(
            m.at("spec", "predictor"),
            "the accelerator predictor sets no scale metric, so KServe's HPA scales it on 80% CPU",
        )


def _host_metric(item: object) -> bool:
    return (
        isinstance(item, dict)
        and item.get("type") == "Resource"
        and str(dig(item, ("resource", "name"))) in _HOST_RESOURCES
    )


def _unknown_gpu_metric(name: str, api: str) -> str:
    current = DCGM_1X_NAMES.get(name)
    known = (
        f"it is dcgm-exporter 1.x's name: today's exporter publishes {current}"
        if current
        else "no GPU exporter publishes it (dcgm-exporter's names are DCGM_FI_*, "
        "e.g. DCGM_FI_DEV_GPU_UTIL)"
    )
    return (
        f"{known}, and no prometheus-adapter rule in the input exposes it to the {api} metrics API"
    )


def hpa_gpu_metric_unknown(inventory: Inventory) -> Iterator[Violation]:
    """Finds HPA metrics with GPU-like names that nothing exports.

    ## Why is this bad?
    An HPA reads custom and external metrics by name from an adapter, which exposes
    Prometheus series. dcgm-exporter publishes `DCGM_FI_DEV_GPU_UTIL` and other
    `DCGM_FI_*` series; `dcgm_gpu_utilization` is dcgm-exporter 1.x's name, published
    today only in an opt-in compatibility mode, and other names exist only where an
    adapter rule renames a series to them. The HPA then reports
    `FailedGetExternalMetric` (or `FailedGetPodsMetric`) and never scales.

    ## Example
    ```yaml
    metrics:
      - type: External
        external:
          metric: {name: dcgm_gpu_utilization}
          target: {type: AverageValue, averageValue: "70"}
    ```

    ## Use instead
    ```yaml
    metrics:
      - type: Pods
        pods:
          metric: {name: DCGM_FI_DEV_GPU_UTIL}
          target: {type: AverageValue, averageValue: "70"}
    ```
    """
    config_maps = inventory.of_kind("ConfigMap")
    adapters = {
        "custom": list(adapter_rules(config_maps, "rules")),
        "external": list(adapter_rules(config_maps, "externalRules")),
    }
    for hpa in inventory.of_kind("HorizontalPodAutoscaler"):
        for metric in _metrics(hpa):
            name = metric.name
            api = "external" if metric.type == "External" else "custom"
            if (
                metric.type in ("Resource", "ContainerResource")
                or not looks_like_gpu_metric(name)
                or exported_gpu_metric(name)
                or any(rule.exposes(name) for rule in adapters[api])
            ):
                continue
            yield Violation(
                hpa.at("spec", "metrics", metric.index, metric.key, "metric", "name"),
                f"{metric.type} metric {name!r} of HPA {hpa.ref.name}: "
                + _unknown_gpu_metric(name, api),
            )


def hpa_gpu_external_average(m: Manifest) -> Iterator[Violation]:
    """Finds GPU External metrics with an AverageValue target.

    ## Why is this bad?
    An External metric is one cluster-wide value, not a value per pod: with an
    `AverageValue` target the HPA divides it by the replica count. A query summing
    GPU utilisation over the endpoint's pods happens to work that way; any other
    query (an average, one GPU, all GPUs in the cluster) scales on a wrong number. A
    `Pods` metric is per-pod GPU utilisation; it needs dcgm-exporter's pod labels
    (`DCGM_EXPORTER_KUBERNETES=true`, and `honorLabels: true` in the scrape).

    ## Example
    ```yaml
    - type: External
      external:
        metric: {name: DCGM_FI_DEV_GPU_UTIL}
        target: {type: AverageValue, averageValue: "70"}
    ```

    ## Use instead
    ```yaml
    - type: Pods
      pods:
        metric: {name: DCGM_FI_DEV_GPU_UTIL}
        target: {type: AverageValue, averageValue: "70"}
    ```
    """
    if m.ref.kind != "HorizontalPodAutoscaler":
        return
    for metric in _metrics(m):
        if (
            metric.type == "External"
            and looks_like_gpu_metric(metric.name)
            and dig(metric.source, ("target", "type")) == "AverageValue"
        ):
            yield Violation(
                m.at("spec", "metrics", metric.index, "external", "target", "type"),
                f"External metric {metric.name!r} is averaged by dividing one cluster-wide "
                "value by the replica count, not per pod",
            )


def adapter_regex_invalid(m: Manifest) -> Iterator[Violation]:
    """Finds prometheus-adapter rules whose regular expressions Go cannot compile.

    ## Why is this bad?
    prometheus-adapter compiles every `seriesFilters`, `name.matches` and `=~`
    matcher of its configuration with Go's `regexp` (RE2 syntax) when it starts,
    and a pattern Go refuses (a lookahead `(?=`, a backreference `\\1`, a
    possessive `a++`) stops it loading the configuration: no custom or external
    metric is served, and every HPA that reads one reports `FailedGetPodsMetric`.

    ## Example
    ```yaml
    rules:
      - seriesQuery: 'DCGM_FI_DEV_GPU_UTIL{pod!=""}'
        name: {matches: "^(?=DCGM)(.*)$", as: "gpu_util"}
    ```

    ## Use instead
    ```yaml
    rules:
      - seriesQuery: 'DCGM_FI_DEV_GPU_UTIL{pod!=""}'
        name: {matches: "^DCGM_FI_DEV_(.*)$", as: "gpu_${1}"}
    ```
    """
    if m.ref.kind != "ConfigMap":
        return
    for problem in adapter_config(m).problems:
        yield Violation(problem.where, f"{m.ref}: {problem.message}")


OBJECT_RULES: tuple[Rule[Manifest], ...] = (
    Rule(
        "MK402",
        Severity.WARNING,
        "Scale the predictor on its accelerators' utilisation (autoscalerClass external and "
        "an HPA on it, DCGM_FI_DEV_GPU_UTIL for NVIDIA GPUs), or on concurrency with Knative.",
        isvc_scale_metric_cpu_for_gpu,
    ),
    Rule(
        "MK404",
        Severity.INFO,
        "Use a Pods metric, with dcgm-exporter's pod labels (DCGM_EXPORTER_KUBERNETES=true, "
        "honorLabels: true).",
        hpa_gpu_external_average,
    ),
    Rule(
        "MK405",
        Severity.ERROR,
        "Write the pattern in Go regexp (RE2) syntax: no lookaround, backreferences or "
        "possessive repetition.",
        adapter_regex_invalid,
    ),
)

INPUT_RULES: tuple[Rule[Inventory], ...] = (
    Rule(
        "MK401",
        Severity.WARNING,
        "Scale accelerator workloads on an accelerator metric (DCGM_FI_DEV_GPU_UTIL for NVIDIA "
        "GPUs).",
        hpa_cpu_for_gpu,
    ),
    Rule(
        "MK403",
        Severity.ERROR,
        "Use a name dcgm-exporter publishes (DCGM_FI_DEV_GPU_UTIL), or add the "
        "prometheus-adapter rule that exposes this one.",
        hpa_gpu_metric_unknown,
    ),
)
