"""PF109 passes when the adapter's rule and the exporter's labels line up, and fails
with the cause when either is wrong. Each broken case changes one real shape of the
served case (tests/unit/preflight/gpu-metric-served.json) the way that cause changes
what the cluster answers: a wrong rule or unlabelled series leave ``pods/<metric>``
out of the custom metrics API's discovery; a scrape without honorLabels leaves the
metric served but naming the exporter's own pods."""

from __future__ import annotations

import copy

import yaml

from mlkube.preflight import judge
from mlkube.render.serving import adapter_rules
from mlkube.rules.model import Finding
from mlkube.rules.preflight import Subject
from mlkube.snapshots.facts import ADAPTER_CONFIGMAP, GPU_METRIC, Facts

from .test_preflight import ready

UNSERVED = ["namespaces/DCGM_FI_DEV_GPU_UTIL"]


def _pf109(facts: Facts) -> list[Finding]:
    return [f for f in judge(Subject(facts)) if f.rule == "PF109"]


def _with_rule(facts: Facts, **change: object) -> Facts:
    """``facts`` whose adapter rule for the metric has ``change`` merged in, and which the
    adapter then no longer serves per pod."""
    assert facts.adapter_config is not None
    config = yaml.safe_load(facts.adapter_config["data"]["config.yaml"])
    config["rules"][0].update(change)
    facts.adapter_config["data"] = {"config.yaml": yaml.safe_dump(config)}
    facts.custom_metric_resources = UNSERVED
    facts.gpu_metric_pods = {}
    return facts


def test_served_for_the_gpu_pods_by_mlkubes_rule_passes() -> None:
    facts = ready()
    assert facts.adapter_config is not None
    assert (
        'seriesQuery: DCGM_FI_DEV_GPU_UTIL{namespace!="",pod!=""}'
        in (facts.adapter_config["data"]["config.yaml"])
    )
    assert _pf109(facts) == []


def test_no_adapter_registered() -> None:
    facts = ready()
    facts.custom_metrics, facts.custom_metrics_apiservice = None, None
    (finding,) = _pf109(facts)
    assert finding.message == (
        "no APIService registers custom.metrics.k8s.io (v1beta1.custom.metrics.k8s.io): "
        "no metrics adapter is installed"
    )


def test_the_adapters_apiservice_not_available() -> None:
    """The condition as the aggregator wrote it on the local cluster for a missing Service."""
    facts = ready()
    assert facts.custom_metrics_apiservice is not None
    facts.custom_metrics_apiservice["status"]["conditions"] = [{
        "type": "Available", "status": "False", "reason": "ServiceNotFound",
        "message": 'service/prometheus-adapter in "monitoring" is not present',
    }]  # fmt: skip
    (finding,) = _pf109(facts)
    assert finding.message.startswith(
        "APIService v1beta1.custom.metrics.k8s.io is not Available: ServiceNotFound: "
        'service/prometheus-adapter in "monitoring" is not present'
    )


def test_a_rule_that_names_the_metric_otherwise() -> None:
    facts = _with_rule(ready(), name={"matches": "^DCGM_FI_DEV_GPU_UTIL$", "as": "gpu_util"})
    (finding,) = _pf109(facts)
    assert finding.message == (
        f"the custom metrics API serves no pods/{GPU_METRIC}: no rule in ConfigMap "
        f"monitoring/mlkube-prometheus-adapter-rules serves {GPU_METRIC} (1 rules)"
    )


def test_a_rule_selecting_labels_the_exporter_does_not_set() -> None:
    """Written for dcgm-exporter's old label names (pod_name, pod_namespace)."""
    facts = _with_rule(
        ready(),
        seriesQuery='DCGM_FI_DEV_GPU_UTIL{pod_namespace!="",pod_name!=""}',
        resources={"overrides": {"pod_namespace": {"resource": "namespace"},
                                 "pod_name": {"resource": "pod"}}},
    )  # fmt: skip
    (finding,) = _pf109(facts)
    assert "is wrong: its seriesQuery" in finding.message
    assert "selects on 'pod_namespace', 'pod_name', which dcgm-exporter's series do not" in (
        finding.message
    )


def test_a_rule_mapping_exported_pod_to_pods() -> None:
    """Written for a scrape without honorLabels, where the GPU pod is exported_pod."""
    facts = _with_rule(
        ready(),
        seriesQuery='DCGM_FI_DEV_GPU_UTIL{namespace!=""}',
        resources={"overrides": {"namespace": {"resource": "namespace"},
                                 "exported_pod": {"resource": "pod"}}},
    )  # fmt: skip
    (finding,) = _pf109(facts)
    assert "its resources map the label 'exported_pod' to pods" in finding.message


def test_a_right_rule_and_series_without_pod_labels() -> None:
    """The exporter without DCGM_EXPORTER_KUBERNETES=true: no series has namespace and
    pod, so mlkube's (right) rule matches none and the adapter serves nothing per pod."""
    facts = ready()
    facts.custom_metric_resources, facts.gpu_metric_pods = [], {}
    (finding,) = _pf109(facts)
    assert finding.message.startswith(f"the custom metrics API serves no pods/{GPU_METRIC}: ")
    assert "the exporter's series carry none: run dcgm-exporter with " in finding.message
    assert "DCGM_EXPORTER_KUBERNETES=true" in finding.message


def test_series_labelled_with_the_exporters_own_pod() -> None:
    """Scraped without honorLabels: `pod` is the dcgm-exporter pod in gpu-operator."""
    facts = copy.deepcopy(ready())
    facts.gpu_metric_pods = {"gpu-operator": ["nvidia-dcgm-exporter-7xk2p"]}
    (finding,) = _pf109(facts)
    assert "values only for pods that use no GPU (gpu-operator/nvidia-dcgm-exporter-7xk2p)" in (
        finding.message
    )
    assert "honorLabels: true" in finding.message


def test_no_series_for_the_running_gpu_pods() -> None:
    facts = ready()
    facts.gpu_metric_pods = {}
    (finding,) = _pf109(facts)
    assert finding.message.startswith(
        f"{GPU_METRIC} has no value for any running GPU pod (ml/llm-predictor-7467d8db54-pbpfd"
    )


def test_preflight_looks_for_the_adapter_rules_where_mlkube_renders_them() -> None:
    rendered = adapter_rules([GPU_METRIC])["metadata"]
    assert (rendered["namespace"], rendered["name"]) == ADAPTER_CONFIGMAP
