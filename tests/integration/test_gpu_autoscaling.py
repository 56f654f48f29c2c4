"""GPU autoscaling end to end on real components: the dcgm-exporter stand-in (the one
simulated part: utilisation comes from each pod's ``kwok.mlkube.dev/gpu-utilization``),
a real Prometheus, a real prometheus-adapter behind the API server's aggregator, the
real KServe controller (Standard mode) and the HPA controller of the real
kube-controller-manager: examples/llm-endpoint.yaml, rendered by mlkube and applied,
becomes Ready through KServe, and the HPA mlkube renders (3 to 9 replicas, target 70 %)
scales the predictor Deployment KServe made.

Utilisation is patched onto the running predictor pods, not set through
``spec.predictor.annotations``: KServe copies those into the Deployment's pod template,
so changing them rolls every pod (a new ReplicaSet) instead of raising the load on the
pods the HPA is watching; a real GPU's load likewise rises on the pods that run.

The endpoint sets ``autoscaling.scaleDownStabilizationSeconds: 20``: with the HPA's
default window of 300 s, the scale-down alone would take over five minutes.

Runs on the serving cluster (``cluster up --serving --gpu-metrics``), shared with the
other serving tests.
"""

from __future__ import annotations

import math
import os
import signal
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from bench.serving_scaleup import (
    HPA,
    ISVC,
    NAMESPACE,
    endpoint_bundle,
    hpa_value,
    one,
    predictor_deployment,
    ready_pods,
    replicas,
    set_utilization,
)

from mlkube.cluster.apply import apply_objects
from mlkube.cluster.client import Kube
from mlkube.cluster.kubeconfig import load_connection
from mlkube.localcluster import cluster, metrics_pipeline, processes
from mlkube.localcluster.components import Layout
from mlkube.localcluster.pki import Pki
from mlkube.manifests.objects import condition
from mlkube.wellknown import ZONE_LABEL

from .conftest import NAME
from .waiting import until

CLUSTER = f"{NAME}-serving"  # the serving_cluster fixture's
ISVC_API = "serving.kserve.io/v1beta1"
TARGET = 70  # examples/llm-endpoint.yaml: autoscaling.gpuUtilization
MIN = 3  # its minReplicas


@pytest.fixture(scope="module")
def gpu_cluster(serving_cluster: Path) -> Path:
    return serving_cluster


@pytest.fixture(scope="module")
def bundle() -> list[dict[str, Any]]:
    return endpoint_bundle(scale_down_seconds=20)


@pytest.fixture(scope="module")
def kube(gpu_cluster: Path) -> Iterator[Kube]:
    with Kube(load_connection(str(gpu_cluster))) as client:
        yield client


def _isvc_ready(kube: Kube) -> dict[str, Any] | None:
    isvc = kube.get(ISVC_API, "InferenceService", ISVC, NAMESPACE)
    return isvc if isvc and condition(isvc, "Ready").get("status") == "True" else None


def _no_pods(kube: Kube) -> bool:
    return not kube.list("v1", "Pod", NAMESPACE, f"serving.kserve.io/inferenceservice={ISVC}")


@pytest.fixture(scope="module")
def endpoint(kube: Kube, bundle: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """The rendered endpoint applied: KServe makes the predictor Deployment, KWOK runs
    its pods, the InferenceService Ready at minReplicas. Removed after the module, its
    pods awaited gone (the other serving tests need the GPUs and the name)."""
    hpa = one(bundle, "HorizontalPodAutoscaler")
    assert hpa["spec"]["scaleTargetRef"]["name"] == f"{ISVC}-predictor"
    apply_objects(kube, bundle)
    try:
        until(f"InferenceService {ISVC} Ready", partial(_isvc_ready, kube), timeout=180)
        until(f"{MIN} predictor pods Ready", lambda: len(ready_pods(kube)) == MIN or None,
              timeout=120)  # fmt: skip
        yield hpa
    finally:
        for obj in reversed(bundle):
            meta = obj["metadata"]
            kube.delete(obj["apiVersion"], obj["kind"], meta["name"], meta.get("namespace"))
        until(f"pods of {ISVC} gone", partial(_no_pods, kube), timeout=120)


def test_kserve_runs_the_endpoint_over_three_zones(kube: Kube, endpoint: dict[str, Any]) -> None:
    """KServe's own Deployment (owned by the InferenceService) is what the HPA aims at;
    its pods spread one a zone (maxSkew 1 over the Platform's three zones)."""
    deployment = kube.get("apps/v1", "Deployment", f"{ISVC}-predictor", NAMESPACE)
    assert deployment is not None
    (owner,) = deployment["metadata"]["ownerReferences"]
    assert (owner["kind"], owner["name"]) == ("InferenceService", ISVC)
    zones = set()
    for pod in ready_pods(kube):
        node = kube.get("v1", "Node", pod["spec"]["nodeName"])
        assert node is not None
        zones.add(node["metadata"]["labels"][ZONE_LABEL])
    assert len(zones) == MIN


def test_the_adapter_runs_exactly_the_rule_mlkube_renders(
    gpu_cluster: Path, bundle: list[dict[str, Any]]
) -> None:
    rendered = one(bundle, "ConfigMap")["data"]["config.yaml"]
    assert (gpu_cluster.parent / "prometheus-adapter.yaml").read_text() == rendered


def test_prometheus_keeps_the_exporters_pod_labels(kube: Kube, endpoint: dict[str, Any]) -> None:
    """honor_labels: the series carry the GPU user's pod and namespace, not the scrape's."""
    port = cluster.State.load(cluster.cluster_root(CLUSTER) / "state.json").ports["prometheus"]
    names = {p["metadata"]["name"] for p in ready_pods(kube)}

    def series() -> set[str] | None:
        answer = httpx.get(
            f"http://127.0.0.1:{port}/api/v1/series",
            params={"match[]": f'DCGM_FI_DEV_GPU_UTIL{{namespace="{NAMESPACE}"}}'},
            timeout=5,
        ).json()
        pods = {s["pod"] for s in answer["data"]}
        return pods if names <= pods else None

    assert names <= until("Prometheus to scrape the predictor pods' GPUs", series, timeout=60)


def test_hpa_reads_gpu_utilisation_then_scales_up_and_back_down(
    kube: Kube, endpoint: dict[str, Any]
) -> None:
    # 40 %: below the target, at minReplicas already: the HPA reads it and stays.
    set_utilization(kube, 40)
    until("the HPA to read 40 from DCGM_FI_DEV_GPU_UTIL", lambda: hpa_value(kube) == "40",
          timeout=120)  # fmt: skip
    hpa = kube.get(*HPA, ISVC, NAMESPACE)
    assert hpa is not None
    assert condition(hpa, "ScalingActive")["reason"] == "ValidMetricFound"
    assert replicas(kube) == MIN

    # 95 %: ceil(3 × 95 / 70) = 5 replicas, within the default scale-up policy (at most
    # double, or 4 more pods, per 15 s). The new pods' GPUs read 0 %: (3 × 95) / 5 = 57,
    # ceil(5 × 57 / 70) = 5, so it stays there.
    set_utilization(kube, 95)
    wanted = math.ceil(MIN * 95 / TARGET)
    assert wanted == 5
    until(f"the HPA to scale to {wanted}", lambda: replicas(kube) == wanted, timeout=120)
    until(f"{wanted} predictor pods Ready", lambda: len(ready_pods(kube)) == wanted, timeout=60)
    until("the HPA to read the new pods too", lambda: hpa_value(kube) == "57", timeout=60)
    assert replicas(kube) == wanted

    # 10 % on every pod: ceil(5 × 10 / 70) = 1, held at minReplicas, after the 20 s
    # scale-down window the endpoint asks for.
    set_utilization(kube, 10)
    until("the HPA to read 10", lambda: hpa_value(kube) == "10", timeout=90)
    until(f"the HPA to scale down to {MIN}", lambda: replicas(kube) == MIN, timeout=120)
    until(f"{MIN} predictor pods", lambda: len(ready_pods(kube)) == MIN, timeout=60)


# When the HPA cannot read its metric: what it says (doctor's endpoint rules read these).


def hpa_for(name: str, hpa: dict[str, Any]) -> dict[str, Any]:
    """The rendered HPA, aimed at the Deployment ``name``."""
    spec = {**hpa["spec"], "scaleTargetRef": {**hpa["spec"]["scaleTargetRef"], "name": name}}
    return {**hpa, "metadata": {**hpa["metadata"], "name": name}, "spec": spec}


def scaling_inactive(kube: Kube, name: str) -> dict[str, Any] | None:
    hpa = kube.get(*HPA, name, NAMESPACE)
    active = condition(hpa, "ScalingActive") if hpa else {}
    return active if active.get("status") == "False" else None


def test_no_series_for_the_pods(kube: Kube, endpoint: dict[str, Any]) -> None:
    """Pods that use no GPU have no DCGM series, while the endpoint's GPU pods have: the
    adapter serves the metric and finds no value for these pods, an empty list.

    The pods are Ready before the HPA exists: for a target with no pods at all the
    adapter answers NotFound instead ("no resource names requested while producing a
    query", prometheus-adapter pkg/custom-provider/series_registry.go QueryForMetric).
    That is what this test once saw, "could not find the metric": its pods asked no
    memory, which ml-serving's quota requires, so none was ever created."""
    bundle = endpoint_bundle()
    deployment = predictor_deployment(one(bundle, "InferenceService"))
    name = "cpu-only-predictor"
    deployment["metadata"]["name"] = name
    labels = {"app": name}
    # none of KServe's labels: labelled as llama-chat's predictor (as predictor_deployment
    # makes it), the Deployment was gone within a minute on the cluster where KServe's
    # controller reconciles llama-chat (seen twice, 2026-12-07), and no pod ever existed
    deployment["metadata"]["labels"] = labels
    deployment["spec"]["selector"] = {"matchLabels": labels}
    deployment["spec"]["template"]["metadata"]["labels"] = labels
    deployment["spec"]["replicas"] = 3  # minReplicas: the HPA goes straight to its metric
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    # memory too: the namespace's quota (requests.memory) refuses a pod without it,
    # and with no pod at all the adapter answers NotFound (see above)
    container["resources"] = {"requests": {"cpu": "1", "memory": "1Gi"}}
    kube.apply(deployment)

    def ready() -> bool:
        pods = kube.list("v1", "Pod", NAMESPACE, f"app={name}")
        return sum(bool(condition(p, "Ready").get("status") == "True") for p in pods) == 3

    until("3 CPU-only pods Ready", ready, timeout=120)
    kube.apply(hpa_for(name, endpoint))
    active = until("the HPA to fail reading", lambda: scaling_inactive(kube, name), timeout=120)
    assert active["reason"] == "FailedGetPodsMetric"
    # the HPA controller's REST metrics client on the adapter's empty list
    assert active["message"] == (
        "the HPA was unable to compute the replica count: unable to get metric "
        "DCGM_FI_DEV_GPU_UTIL: no metrics returned from custom metrics API"
    )
    kube.delete(*HPA, name, NAMESPACE)
    kube.delete("apps/v1", "Deployment", name, NAMESPACE)


def test_adapter_rule_does_not_match_the_exporters_labels(
    kube: Kube, endpoint: dict[str, Any]
) -> None:
    """Prometheus scraping the exporter without ``honor_labels``, with the ``namespace``
    and ``pod`` labels Kubernetes service discovery gives the exporter's own pod: the
    GPU user's labels become ``exported_namespace``/``exported_pod``, and mlkube's rule
    (``pod``, ``namespace``) finds only the exporter. Prometheus reloads its
    configuration on SIGHUP; the original is put back after."""
    state = cluster.State.load(cluster.cluster_root(CLUSTER) / "state.json")
    pid, binary = state.processes["prometheus"]
    config_path = cluster.cluster_root(CLUSTER) / "prometheus.yml"
    original = config_path.read_text()
    config = yaml.safe_load(original)
    (job,) = config["scrape_configs"]
    job["honor_labels"] = False
    job["static_configs"][0]["labels"] = {
        "namespace": "gpu-operator",
        "pod": "nvidia-dcgm-exporter-x7k2p",
    }
    try:
        config_path.write_text(yaml.safe_dump(config))
        assert processes.alive(pid, binary)
        os.kill(pid, signal.SIGHUP)
        active = until("the HPA to fail reading", lambda: scaling_inactive(kube, ISVC), timeout=120)
        assert active["reason"] == "FailedGetPodsMetric"
        # the adapter serves the metric, for the exporter's pod only: an empty list,
        # which the HPA's REST metrics client reports as such
        assert active["message"] == (
            "the HPA was unable to compute the replica count: unable to get metric "
            "DCGM_FI_DEV_GPU_UTIL: no metrics returned from custom metrics API"
        )
    finally:
        config_path.write_text(original)
        os.kill(pid, signal.SIGHUP)
    until("the HPA to read again", lambda: hpa_value(kube) is not None, timeout=120)


def test_no_apiservice(kube: Kube, endpoint: dict[str, Any]) -> None:
    """Without the adapter's APIServices the custom metrics API is not there at all.
    Run last: the APIServices are put back after."""
    layout_ports = cluster.State.load(cluster.cluster_root(CLUSTER) / "state.json").ports
    registration = metrics_pipeline.registration(
        Layout(cluster.cluster_root(CLUSTER), Pki(Path()), layout_ports)
    )
    services = [o for o in registration if o["kind"] == "APIService"]
    try:
        for service in services:
            kube.delete("apiregistration.k8s.io/v1", "APIService", service["metadata"]["name"])
        active = until("the HPA to fail reading", lambda: scaling_inactive(kube, ISVC), timeout=120)
        assert active["reason"] == "FailedGetPodsMetric"
        # client-go's custom metrics client, when discovery has no such group
        assert active["message"].endswith(
            "unable to fetch metrics from custom metrics API: "
            "no custom metrics API (custom.metrics.k8s.io) registered"
        )
    finally:
        for service in services:
            kube.apply(service)
