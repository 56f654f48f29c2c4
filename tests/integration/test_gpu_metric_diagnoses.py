"""Preflight's GPU-metric check (PF109) and doctor's autoscaler diagnosis (DK402) on the
real GPU metrics pipeline of the serving cluster: real Prometheus, real
prometheus-adapter behind the aggregator, the real HPA controller; only the exporter
is a stand-in. Each way it breaks is made to happen as it happens on a real cluster:

- the adapter's rule is wrong: a ConfigMap with another rule applied with `mlkube
  apply`, which the local adapter reads its rules from and is restarted on (as a
  Deployment mounting it rolls on its checksum; localcluster/configmap_pod.py);
- the exporter's series carry no ``pod`` label: dcgm-exporter without
  ``DCGM_EXPORTER_KUBERNETES=true``, the stand-in's node annotation
  ``kwok.mlkube.dev/dcgm-exporter-kubernetes: "false"`` on every GPU node;
- no series for these pods: an HPA on GPU utilisation for pods that use no GPU.

Each is put back after (the rule re-applied, the annotation removed) and awaited
healthy again, so the other tests on the shared cluster keep a working pipeline.

Expected texts: PF109's and DK402's are the rules' own (rules/preflight/gpumetric.py,
rules/doctor/serving.py) filled in by hand with the rule that was applied; the HPA's
``ScalingActive`` message is the HPA controller's wrapping (pkg/controller/
podautoscaler: "the HPA was unable to compute the replica count: unable to get metric
%s: unable to fetch metrics from custom metrics API: %v") of custom-metrics-apiserver's
``NewMetricNotFoundError`` ("the server could not find the metric %s for %s"), which
prometheus-adapter returns when no series of its rules names the metric for pods.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from mlkube.cluster.client import Kube
from mlkube.cluster.kubeconfig import load_connection
from mlkube.localcluster import metrics_pipeline
from mlkube.localcluster.gpumetrics import KUBERNETES_ANNOTATION, UTILIZATION_ANNOTATION
from mlkube.localcluster.nodes import KWOK_ANNOTATION
from mlkube.manifests.objects import condition
from mlkube.wellknown import GPU, GPU_PRODUCT_LABEL

from ..conftest import Run
from .waiting import until

NAMESPACE = "gm-diag"
METRIC = "DCGM_FI_DEV_GPU_UTIL"
HPA = ("autoscaling/v2", "HorizontalPodAutoscaler")
CONFIGMAP = "ConfigMap monitoring/mlkube-prometheus-adapter-rules"  # render.serving
NOT_FOUND = (
    "the HPA was unable to compute the replica count: unable to get metric "
    f"{METRIC}: unable to fetch metrics from custom metrics API: "
    f"the server could not find the metric {METRIC} for pods"
)
# The metric is served (the GPU app's series), none for these pods: an empty list,
# which the HPA controller's REST metrics client reports so.
EMPTY = (
    "the HPA was unable to compute the replica count: unable to get metric "
    f"{METRIC}: no metrics returned from custom metrics API"
)
# The mistake of a rule written for Prometheus' old Kubernetes SD labels.
WRONG_QUERY = f'{METRIC}{{namespace!="",kubernetes_pod_name!=""}}'


@pytest.fixture(scope="module")
def kube(serving_cluster: Path) -> Iterator[Kube]:
    with Kube(load_connection(str(serving_cluster))) as client:
        yield client


def _deployment(name: str, replicas: int, resources: dict[str, Any]) -> dict[str, Any]:
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": NAMESPACE},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels, "annotations": {UTILIZATION_ANNOTATION: "50"}},
                "spec": {
                    "containers": [{"name": "server", "image": "vllm/vllm-openai:v0.9.0",
                                    "resources": resources}],
                    "nodeSelector": {"mlkube.dev/pool": "t4"},
                    "tolerations": [{"operator": "Exists"}],
                },
            },
        },
    }  # fmt: skip


def _autoscaler(name: str, low: int) -> dict[str, Any]:
    """The GPU HPA mlkube renders (render/serving.py), on the Deployment ``name``."""
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": name, "namespace": NAMESPACE},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
            "minReplicas": low,
            "maxReplicas": 4,
            "metrics": [{"type": "Pods", "pods": {"metric": {"name": METRIC},
                         "target": {"type": "AverageValue", "averageValue": "70"}}}],
        },
    }  # fmt: skip


def _ready_pods(kube: Kube, app: str) -> list[dict[str, Any]]:
    pods = kube.list("v1", "Pod", NAMESPACE, f"app={app}")
    return [p for p in pods if condition(p, "Ready").get("status") == "True"]


def _active(kube: Kube, name: str) -> dict[str, Any]:
    hpa = kube.get(*HPA, name, NAMESPACE)
    return condition(hpa, "ScalingActive") if hpa else {}


def _failing(kube: Kube, name: str, message: str) -> dict[str, Any]:
    """The HPA's ScalingActive once it says ``message`` (others pass by while the
    adapter restarts: its APIService unavailable)."""

    def said() -> dict[str, Any] | None:
        active = _active(kube, name)
        return active if active.get("message") == message else None

    return until(f"HPA {name} to say {message!r}", said, timeout=120)


def _reading(kube: Kube) -> bool:
    """The GPU app's HPA reads its metric (the pipeline works end to end)."""
    return _active(kube, "gpu-app").get("reason") == "ValidMetricFound"


@pytest.fixture(scope="module")
def gpu_app(kube: Kube) -> Iterator[list[str]]:
    """Two pods with a GPU each at 50 %, and the rendered GPU HPA on them, reading it.
    The namespace and all in it are removed after the module."""
    kube.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}})
    try:
        kube.apply(_deployment("gpu-app", 2, {"limits": {GPU: "1"}}))
        pods = until("2 GPU pods Ready", lambda: len(_ready_pods(kube, "gpu-app")) == 2,
                     timeout=120)  # fmt: skip
        assert pods
        kube.apply(_autoscaler("gpu-app", 2))
        until("the HPA to read the GPU pods' utilisation", lambda: _reading(kube), timeout=120)
        yield [p["metadata"]["name"] for p in _ready_pods(kube, "gpu-app")]
    finally:
        kube.delete("v1", "Namespace", NAMESPACE)
        gone = lambda: kube.get("v1", "Namespace", NAMESPACE) is None  # noqa: E731
        until(f"namespace {NAMESPACE} removed", gone, timeout=180, every=0.5)


def _pf109(mlkube: Run, kubeconfig: Path) -> tuple[str, str | None]:
    """PF109's outcome as `mlkube preflight` prints it, and its finding's message."""
    text = mlkube("preflight", "-n", NAMESPACE, "--color", "never", kubeconfig=kubeconfig)
    outcomes = dict(line.split(maxsplit=1)[::-1] for line in text.out.splitlines()
                    if line.split(maxsplit=1)[0] in ("pass", "warn", "fail"))  # fmt: skip
    answer = mlkube("preflight", "-n", NAMESPACE, "-o", "json", kubeconfig=kubeconfig)
    found = [f for f in json.loads(answer.out)["findings"] if f["rule"] == "PF109"]
    return outcomes["PF109 gpu-metric-served"], (found[0]["message"] if found else None)


def _dk402(
    mlkube: Run, kubeconfig: Path, name: str, save: Path | None = None
) -> dict[str, Any] | None:
    """Doctor's DK402 about the HPA ``name``; the evidence saved to ``save`` if given
    (the snapshots tests/doctor/hpa-metric-unavailable/ were recorded so)."""
    saving = ("--save", str(save)) if save else ()
    result = mlkube("doctor", "-n", NAMESPACE, "-o", "json", *saving, kubeconfig=kubeconfig)
    assert result.code in (0, 1), result.err
    findings = json.loads(result.out)["findings"]
    about = f"HPA {NAMESPACE}/{name} cannot scale: "
    return next((f for f in findings if f["rule"] == "DK402" and about in f["message"]), None)


def _pf109_then_dk402(
    mlkube: Run, kubeconfig: Path, kube: Kube, expected: str, saved: Path
) -> dict[str, Any]:
    """PF109 warns with ``expected``, the HPA of gpu-app reads the adapter's NotFound,
    and doctor's DK402 on it (the snapshot saved to ``saved``)."""
    until("PF109 to warn: " + expected[:60],
          lambda: _pf109(mlkube, kubeconfig) == ("warn", expected), timeout=120,
          every=1)  # fmt: skip
    active = _failing(kube, "gpu-app", NOT_FOUND)
    assert (active["status"], active["reason"]) == ("False", "FailedGetPodsMetric")
    finding: dict[str, Any] = until(
        "DK402", lambda: _dk402(mlkube, kubeconfig, "gpu-app", saved), timeout=60, every=2
    )
    return finding


def _healthy(mlkube: Run, kubeconfig: Path, kube: Kube) -> bool:
    return _pf109(mlkube, kubeconfig) == ("pass", None) and _reading(kube)


def test_pf109_passes_on_the_serving_cluster(
    mlkube: Run, serving_cluster: Path, kube: Kube, gpu_app: list[str]
) -> None:
    """The adapter's rule (read from its ConfigMap in the cluster), the custom metrics
    API listing pods/DCGM_FI_DEV_GPU_UTIL, a value for each running GPU pod."""
    assert _pf109(mlkube, serving_cluster) == ("pass", None)
    assert _dk402(mlkube, serving_cluster, "gpu-app") is None


def _rules_file(directory: Path, configmap: dict[str, Any]) -> Path:
    path = directory / f"{configmap['metadata']['name']}.yaml"
    path.write_text(yaml.safe_dump(configmap, sort_keys=False))
    return path


def test_a_wrong_adapter_rule_applied_fails_pf109_and_dk402_naming_the_rule(
    mlkube: Run, serving_cluster: Path, kube: Kube, gpu_app: list[str], tmp_path: Path
) -> None:
    rendered = metrics_pipeline.adapter_rules_configmap()
    wrong = copy.deepcopy(rendered)
    config = yaml.safe_load(wrong["data"]["config.yaml"])
    (rule,) = config["rules"]
    rule["seriesQuery"] = WRONG_QUERY
    rule["resources"]["overrides"] = {
        "namespace": {"resource": "namespace"},
        "kubernetes_pod_name": {"resource": "pod"},
    }
    wrong["data"]["config.yaml"] = yaml.safe_dump(config, sort_keys=False)
    expected = (
        f"the custom metrics API serves no pods/{METRIC}: the rule for {METRIC} in "
        f"{CONFIGMAP} is wrong: its seriesQuery {WRONG_QUERY!r} selects on "
        "'kubernetes_pod_name', which dcgm-exporter's series do not carry"
    )
    applied = mlkube("apply", str(_rules_file(tmp_path, wrong)), kubeconfig=serving_cluster)
    try:
        assert applied.code == 0, applied.err
        # the adapter restarts with the rule; its next listing of the series has none
        finding = _pf109_then_dk402(
            mlkube, serving_cluster, kube, expected, tmp_path / "rule-mismatch.json"
        )
        assert finding["message"].startswith(
            f"HPA {NAMESPACE}/gpu-app cannot scale: the adapter serves no {METRIC} for pods "
            "although these pods use GPUs: its rule does not match the exporter's labels"
        )
        assert finding["message"].endswith(f"(FailedGetPodsMetric: {NOT_FOUND})")
    finally:
        restored = mlkube("apply", str(_rules_file(tmp_path, rendered)), kubeconfig=serving_cluster)
        assert restored.code == 0, restored.err
        until("PF109 to pass again and the HPA to read",
              lambda: _healthy(mlkube, serving_cluster, kube), timeout=180, every=1)  # fmt: skip


def _gpu_nodes(kube: Kube) -> list[str]:
    return [
        n["metadata"]["name"]
        for n in kube.list("v1", "Node")
        if (n["metadata"].get("annotations") or {}).get(KWOK_ANNOTATION) == "fake"
        and GPU_PRODUCT_LABEL in (n["metadata"].get("labels") or {})
    ]


def _kubernetes_mode(kube: Kube, nodes: list[str], on: bool) -> None:
    value = None if on else "false"  # null removes the annotation (a merge patch)
    for node in nodes:
        kube.patch(
            "v1", "Node", node, {"metadata": {"annotations": {KUBERNETES_ANNOTATION: value}}}
        )


def test_exporter_series_without_the_pod_label_fail_pf109_and_dk402_naming_the_labels(
    mlkube: Run, serving_cluster: Path, kube: Kube, gpu_app: list[str], tmp_path: Path
) -> None:
    nodes = _gpu_nodes(kube)
    assert nodes
    expected = (
        f"the custom metrics API serves no pods/{METRIC}: the adapter's rule selects series "
        "labelled with namespace and pod, and the exporter's series carry none: run "
        "dcgm-exporter with DCGM_EXPORTER_KUBERNETES=true and scrape it with honorLabels: true"
    )
    _kubernetes_mode(kube, nodes, on=False)
    try:
        # series without pod: the adapter's next listing (after metrics-max-age) has none
        finding = _pf109_then_dk402(
            mlkube, serving_cluster, kube, expected,
            tmp_path / "exporter-without-pod-label.json",
        )  # fmt: skip
        assert "(dcgm-exporter without DCGM_EXPORTER_KUBERNETES=true)" in finding["message"]
    finally:
        _kubernetes_mode(kube, nodes, on=True)
        until("PF109 to pass again and the HPA to read",
              lambda: _healthy(mlkube, serving_cluster, kube), timeout=180, every=1)  # fmt: skip


def test_dk402_says_the_pods_use_no_gpu(
    mlkube: Run, serving_cluster: Path, kube: Kube, gpu_app: list[str], tmp_path: Path
) -> None:
    """The GPU HPA on pods without a GPU, beside the GPU app: the adapter serves the
    metric (the GPU pods' series) but has none for these pods, an empty list."""
    kube.apply(_deployment("cpu-app", 2, {"requests": {"cpu": "1"}}))
    until("2 CPU pods Ready", lambda: len(_ready_pods(kube, "cpu-app")) == 2, timeout=120)
    kube.apply(_autoscaler("cpu-app", 2))
    active = _failing(kube, "cpu-app", EMPTY)
    assert (active["status"], active["reason"]) == ("False", "FailedGetPodsMetric")
    pods = sorted(p["metadata"]["name"] for p in _ready_pods(kube, "cpu-app"))
    saved = tmp_path / "pods-without-gpu.json"
    finding = until("DK402", lambda: _dk402(mlkube, serving_cluster, "cpu-app", saved),
                    timeout=60, every=2)  # fmt: skip
    assert finding["message"] == (
        f"HPA {NAMESPACE}/cpu-app cannot scale: no series of {METRIC} for these pods: the pods "
        f"of Deployment {NAMESPACE}/cpu-app (2 pod(s) ({', '.join(pods)})) use no GPU, and "
        f"dcgm-exporter reports only the GPUs pods use (FailedGetPodsMetric: {EMPTY})"
    )
    # the GPU app beside it still scales: the other HPA's cause is its own
    assert _dk402(mlkube, serving_cluster, "gpu-app") is None
