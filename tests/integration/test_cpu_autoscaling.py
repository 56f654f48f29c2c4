"""KServe's own CPU autoscaling end to end (``cluster up --serving --cpu-metrics``): KWOK
plays each node's kubelet ``/metrics/resource`` with its resource usage emulation (a
container's CPU is its pod's ``kwok.x-k8s.io/usage-cpu``: the one simulated part), the
real metrics-server scrapes them and serves ``metrics.k8s.io`` behind the aggregator,
and the HPA that the real KServe controller makes for ``scaleMetric: cpu`` scales the
predictor Deployment through the real HPA controller.

The endpoint is examples/llm-endpoint.yaml as mlkube renders it, turned into the guide's
CPU-based HPA (`bench.serving_scaleup.cpu_peer`): the scale-up benchmark's peer. Its
predictor requests 8 CPUs; its pods are born using 40 % of them (3200m).

On a cluster of this module's own (`cpu_metrics_cluster`), with metrics-server, which
`make binaries` does not build: in CI it is built here, on first use.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pytest
from bench.serving_scaleup import (
    DEPLOYMENT,
    HPA,
    ISVC,
    ISVC_API,
    NAMESPACE,
    cpu_peer,
    cpu_usage,
    endpoint_bundle,
    gone,
    hpa_value,
    isvc_ready,
    pod_cpu_percent,
    ready_pods,
    replicas,
    set_cpu,
    with_pod_annotations,
)

from mlkube.cluster.apply import apply_objects
from mlkube.cluster.client import Kube
from mlkube.cluster.kubeconfig import load_connection
from mlkube.localcluster import cluster
from mlkube.localcluster.resource_metrics import CPU_USAGE_ANNOTATION, PATH_ANNOTATION
from mlkube.manifests.objects import condition

from .waiting import until

TARGET = 70  # cpu_peer's scaleTarget
MIN, MAX = 3, 9  # examples/llm-endpoint.yaml


@pytest.fixture(scope="module")
def kube(cpu_metrics_cluster: Path) -> Iterator[Kube]:
    with Kube(load_connection(str(cpu_metrics_cluster))) as client:
        yield client


@pytest.fixture(scope="module")
def endpoint(kube: Kube) -> Iterator[list[dict[str, Any]]]:
    """The CPU peer applied, its pods born at 40 % of their CPU request; Ready at
    minReplicas. Removed after the module."""
    objects = cpu_peer(endpoint_bundle())
    resources = objects[0]["spec"]["predictor"]["model"]["resources"]
    assert cpu_usage(40, resources) == "3200m"  # 40 % of 8 CPUs
    objects = with_pod_annotations(objects, {CPU_USAGE_ANNOTATION: "3200m"})
    apply_objects(kube, objects)
    try:
        until(f"InferenceService {ISVC} Ready", partial(isvc_ready, kube), timeout=180)
        until(f"{MIN} predictor pods Ready", lambda: len(ready_pods(kube)) == MIN, timeout=120)
        yield objects
    finally:
        for obj in reversed(objects):
            meta = obj["metadata"]
            kube.delete(obj["apiVersion"], obj["kind"], meta["name"], meta.get("namespace"))
        until(f"{ISVC}, its HPA and pods gone", partial(gone, kube), timeout=180)


def test_kwok_serves_each_nodes_resource_metrics_where_its_status_says(
    kube: Kube, endpoint: list[dict[str, Any]], cpu_metrics_cluster: Path
) -> None:
    """What metrics-server reads: the node's InternalIP, its kubelet port (KWOK's) and
    the path its annotation names; the predictor pod's CPU counter is there."""
    state = cluster.State.load(cpu_metrics_cluster.parent / "state.json")
    kwok_port = state.ports["kwok"]
    (pod, *_) = ready_pods(kube)
    node = kube.get("v1", "Node", pod["spec"]["nodeName"])
    assert node is not None
    assert node["status"]["daemonEndpoints"]["kubeletEndpoint"]["Port"] == kwok_port
    addresses = {a["type"]: a["address"] for a in node["status"]["addresses"]}
    path = node["metadata"]["annotations"][PATH_ANNOTATION]
    assert path == f"/metrics/nodes/{node['metadata']['name']}/metrics/resource"
    url = f"https://{addresses['InternalIP']}:{kwok_port}{path}"
    series = (
        f'container_cpu_usage_seconds_total{{container="kserve-container",'
        f'namespace="{NAMESPACE}",pod="{pod["metadata"]["name"]}"}} '
    )

    def scraped() -> bool:  # KWOK lists a node's pods a moment after they run
        return series in httpx.get(url, verify=False, timeout=5).text

    until("KWOK to serve the pod's CPU counter on its node's path", scraped, timeout=60)


def test_metrics_server_serves_each_pods_cpu_from_its_annotation(
    kube: Kube, endpoint: list[dict[str, Any]]
) -> None:
    names = [p["metadata"]["name"] for p in ready_pods(kube)]

    def served() -> list[float] | None:
        values = pod_cpu_percent(kube, names)
        return values if len(values) == len(names) else None

    # 3200m of 8 CPUs, each; metrics-server's rate between two scrapes of KWOK's counter
    for value in until("metrics.k8s.io to serve the pods", served, timeout=90):
        assert value == pytest.approx(40, abs=0.5)


def test_kserves_cpu_hpa_reads_metrics_server_and_scales(
    kube: Kube, endpoint: list[dict[str, Any]]
) -> None:
    """KServe makes the HPA (pkg/controller/v1beta1/inferenceservice/reconcilers/hpa:
    a Resource cpu metric, Utilization at scaleTarget, the ISVC's min and max); at 95 %
    it asks for ceil(3 × 95 / 70) = 5 replicas, and KServe leaves the Deployment's
    replicas to it (the field is the HPA's, written through the scale subresource)."""
    hpa = kube.get(*HPA, DEPLOYMENT, NAMESPACE)
    assert hpa is not None
    (owner,) = hpa["metadata"]["ownerReferences"]
    assert (owner["kind"], owner["name"]) == ("InferenceService", ISVC)
    assert hpa["spec"]["metrics"] == [
        {
            "type": "Resource",
            "resource": {
                "name": "cpu",
                "target": {"type": "Utilization", "averageUtilization": TARGET},
            },
        }
    ]
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (MIN, MAX)
    until("the HPA to read 40 % CPU", lambda: hpa_value(kube, DEPLOYMENT) == "40", timeout=120)
    hpa = kube.get(*HPA, DEPLOYMENT, NAMESPACE)
    assert hpa is not None
    assert condition(hpa, "ScalingActive")["reason"] == "ValidMetricFound"
    assert replicas(kube) == MIN

    set_cpu(kube, 95)
    wanted = math.ceil(MIN * 95 / TARGET)
    assert wanted == 5
    until(f"the HPA to scale to {wanted}", lambda: replicas(kube) == wanted, timeout=120)
    until(f"{wanted} predictor pods Ready", lambda: len(ready_pods(kube)) == wanted, timeout=60)
    deployment = kube.get("apps/v1", "Deployment", DEPLOYMENT, NAMESPACE)
    assert deployment is not None
    owners = [
        (f["manager"], f.get("subresource"))
        for f in deployment["metadata"]["managedFields"]
        if "f:replicas" in f["fieldsV1"].get("f:spec", {})
    ]
    assert owners == [("kube-controller-manager", "scale")]
    assert kube.get(ISVC_API, "InferenceService", ISVC, NAMESPACE) is not None
