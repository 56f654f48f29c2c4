"""`cluster up --cpu-metrics`, its pure parts: what KWOK is given from its release to
play the kubelets' resource metrics, where each node says they are, and how
metrics-server is run and registered."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlkube.localcluster import components, resource_metrics
from mlkube.localcluster.binaries import Binaries
from mlkube.localcluster.components import PORT_NAMES, Layout
from mlkube.localcluster.nodes import fake_node
from mlkube.localcluster.pki import Pki
from mlkube.spec.models import Gpu, Pool

BINARIES = Binaries({"metrics-server": Path("/bin/metrics-server"), "kwok": Path("/bin/kwok")})
# What metrics-server v0.8.0 decodes from a kubelet's /metrics/resource
# (pkg/scraper/client/resource/decode.go); a node without CPU and memory is dropped.
DECODED = {
    "node_cpu_usage_seconds_total",
    "node_memory_working_set_bytes",
    "container_cpu_usage_seconds_total",
    "container_memory_working_set_bytes",
    "container_start_time_seconds",
}
DECODED_CPU = "container_cpu_usage_seconds_total"


@pytest.fixture
def layout(tmp_path: Path) -> Layout:
    return Layout(tmp_path, Pki(tmp_path / "pki"), {n: 20000 + i for i, n in enumerate(PORT_NAMES)})


def test_kwok_gets_the_releases_metric_and_usage_objects() -> None:
    objects = resource_metrics.kwok_objects()
    by_kind = {o["kind"]: o for o in objects}
    assert sorted(by_kind) == ["ClusterResourceUsage", "Metric"]
    metric = by_kind["Metric"]
    assert metric["spec"]["path"] == "/metrics/nodes/{nodeName}/metrics/resource"
    assert {m["name"] for m in metric["spec"]["metrics"]} >= DECODED
    # the container's CPU is the integral of its usage, as a kubelet's counter is
    (cpu,) = [m for m in metric["spec"]["metrics"] if m["name"] == DECODED_CPU]
    assert cpu["kind"] == "counter" and "CumulativeUsage" in cpu["value"]
    # ...and its usage is the pod's annotation
    (usage,) = by_kind["ClusterResourceUsage"]["spec"]["usages"]
    assert (
        f'pod.metadata.annotations["{resource_metrics.CPU_USAGE_ANNOTATION}"]'
        in (usage["usage"]["cpu"]["expression"])
    )


def test_a_node_names_its_own_path_on_kwoks_server() -> None:
    pool = Pool(name="t4", nodes=1, zones=["z"], gpu=Gpu(model="Tesla-T4", count=4))
    node = fake_node(pool, 0)
    annotated = resource_metrics.annotate(node, resource_metrics.kwok_objects())
    assert annotated["metadata"]["annotations"][resource_metrics.PATH_ANNOTATION] == (
        "/metrics/nodes/t4-0/metrics/resource"
    )
    # KWOK's own annotation stays; the node given is left as it was
    assert annotated["metadata"]["annotations"]["kwok.x-k8s.io/node"] == "fake"
    assert resource_metrics.PATH_ANNOTATION not in node["metadata"]["annotations"]


def test_kwok_gives_nodes_its_port_only_when_asked(layout: Layout, tmp_path: Path) -> None:
    stages = tmp_path / "stages.yaml"
    port = f"--node-port={layout.ports['kwok']}"
    assert port in components.kwok(BINARIES, layout, stages, node_port=True)
    assert not any(a.startswith("--node-port") for a in components.kwok(BINARIES, layout, stages))


def test_metrics_server_runs_as_upstreams_manifest_on_loopback(layout: Layout) -> None:
    argv = resource_metrics.argv(BINARIES, layout)
    assert argv[0] == "/bin/metrics-server"
    assert "--bind-address=127.0.0.1" in argv
    assert f"--secure-port={layout.ports['metrics-server']}" in argv
    # manifests/base/deployment.yaml of v0.8.0
    for flag in (
        "--kubelet-preferred-address-types=InternalIP,ExternalIP,Hostname",
        "--kubelet-use-node-status-port",
        "--metric-resolution=15s",
    ):
        assert flag in argv
    assert f"--kubeconfig={layout.kubeconfig}" in argv


def test_the_apiservice_reaches_it_through_an_externalname_localhost(layout: Layout) -> None:
    service, api = resource_metrics.registration(layout)
    port = layout.ports["metrics-server"]
    assert service["spec"] == {
        "type": "ExternalName",
        "externalName": "localhost",
        "ports": [{"name": "https", "port": port, "targetPort": port}],
    }
    assert api["metadata"]["name"] == "v1beta1.metrics.k8s.io"
    assert (api["spec"]["group"], api["spec"]["version"]) == ("metrics.k8s.io", "v1beta1")
    assert api["spec"]["service"] == {
        "name": service["metadata"]["name"],
        "namespace": service["metadata"]["namespace"],
        "port": port,
    }
