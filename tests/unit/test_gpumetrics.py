"""The dcgm-exporter stand-in: which GPUs it reports and the page it serves.

The expected lines are written by hand after NVIDIA/dcgm-exporter's ``gpuMetricsFormat``
template (pkg/dcgmexporter) and etc/dcp-metrics-included.csv."""

from __future__ import annotations

from typing import Any

from mlkube.localcluster.gpumetrics import (
    KUBERNETES_ANNOTATION,
    UTILIZATION_ANNOTATION,
    exposition,
    gpus,
)


def node(name: str, *, fake: bool = True) -> dict[str, Any]:
    annotations = {"kwok.x-k8s.io/node": "fake"} if fake else {}
    return {
        "metadata": {
            "name": name,
            "labels": {"nvidia.com/gpu.product": "Tesla-T4-SHARED"},
            "annotations": annotations,
        }
    }


def pod(
    name: str, on: str, gpus: int, *, util: str | None = None, phase: str = "Running", t: str = "1"
) -> dict[str, Any]:
    limits = {"nvidia.com/gpu": str(gpus)} if gpus else {}
    return {
        "metadata": {
            "name": name,
            "namespace": "ml",
            "creationTimestamp": f"2026-12-07T00:00:0{t}Z",
            "annotations": {UTILIZATION_ANNOTATION: util} if util is not None else {},
        },
        "spec": {
            "nodeName": on,
            "containers": [
                {"name": "sidecar"},
                {"name": "kserve-container", "resources": {"limits": limits}},
            ],
        },
        "status": {"phase": phase},
    }


NODES = {"t4-0": node("t4-0"), "real": node("real", fake=False)}


def test_one_gpu_per_gpu_of_each_running_pod_on_a_kwok_node_numbered_per_node() -> None:
    found = gpus(
        [
            pod("late", "t4-0", 1, util="95", t="2"),
            pod("early", "t4-0", 2, util="40", t="1"),
            pod("pending", "t4-0", 1, phase="Pending"),
            pod("cpu-only", "t4-0", 0),
            pod("elsewhere", "real", 1),
        ],
        NODES,
    )
    assert [(g.pod, g.index, g.container, g.utilization) for g in found] == [
        ("early", 0, "kserve-container", 40.0),
        ("early", 1, "kserve-container", 40.0),
        ("late", 2, "kserve-container", 95.0),
    ]
    assert {g.model for g in found} == {"Tesla-T4"}  # the time-slicing suffix is GFD's


def test_utilisation_defaults_to_zero_and_is_bounded() -> None:
    values = [
        gpus([pod("p", "t4-0", 1, util=u)], NODES)[0].utilization
        for u in (None, "oops", "150", "-3", "12.5%")
    ]
    assert values == [0.0, 0.0, 100.0, 0.0, 12.5]


def test_the_page_has_dcgm_exporters_help_type_and_label_order() -> None:
    (gpu,) = gpus([pod("p", "t4-0", 1, util="95")], NODES)
    lines = exposition([gpu]).splitlines()
    labels = (
        f'gpu="0",UUID="{gpu.uuid}",pci_bus_id="00000000:10:00.0",device="nvidia0",'
        'modelName="Tesla-T4",Hostname="t4-0",container="kserve-container",'
        'namespace="ml",pod="p"'
    )
    assert lines == [
        "# HELP DCGM_FI_DEV_GPU_UTIL GPU utilization (in %).",
        "# TYPE DCGM_FI_DEV_GPU_UTIL gauge",
        f"DCGM_FI_DEV_GPU_UTIL{{{labels}}} 95",
        "# HELP DCGM_FI_PROF_GR_ENGINE_ACTIVE Ratio of time the graphics engine is active.",
        "# TYPE DCGM_FI_PROF_GR_ENGINE_ACTIVE gauge",
        f"DCGM_FI_PROF_GR_ENGINE_ACTIVE{{{labels}}} 0.950000",
    ]
    assert gpu.uuid.startswith("GPU-") and len(gpu.uuid) == 40  # GPU- and a UUID


def test_a_node_without_kubernetes_mode_serves_series_without_the_pod() -> None:
    """dcgm-exporter without DCGM_EXPORTER_KUBERNETES=true: the device labels only."""
    plain = node("t4-1")
    plain["metadata"]["annotations"][KUBERNETES_ANNOTATION] = "false"
    found = gpus([pod("p", "t4-0", 1, util="95"), pod("q", "t4-1", 1, util="40")],
                 {**NODES, "t4-1": plain})  # fmt: skip
    page = exposition(found).splitlines()
    (off,) = [g for g in found if g.node == "t4-1"]
    assert (
        f'DCGM_FI_DEV_GPU_UTIL{{gpu="0",UUID="{off.uuid}",pci_bus_id="00000000:10:00.0",'
        'device="nvidia0",modelName="Tesla-T4",Hostname="t4-1"} 40'
    ) in page
    assert sum('pod="p"' in line for line in page) == 2  # the other node's, both counters
    assert not any('pod="q"' in line for line in page)


def test_an_empty_cluster_serves_the_counters_without_samples() -> None:
    assert exposition([]).count("# TYPE") == 2
