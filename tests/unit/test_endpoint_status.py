"""An endpoint's serving facts from the objects KServe and the HPA controller write.

The metric value case cannot happen on the local cluster until the metrics pipeline
runs (issue 16 §2): the HPA below has the status shape the HPA controller writes for a
Pods metric it read (kubernetes pkg/controller/podautoscaler/horizontal.go,
``computeStatusForPodsMetric``: ``currentMetrics[].pods.current.averageValue``)."""

from __future__ import annotations

from typing import Any

from mlkube.cluster.endpoints import describe, summary

ISVC = {
    "metadata": {"name": "llm", "namespace": "ml",
                 "annotations": {"serving.kserve.io/deploymentMode": "Standard"}},
    "status": {"deploymentMode": "Standard"},
}  # fmt: skip


def _pod(name: str, node: str, ready: str = "True") -> dict[str, Any]:
    return {
        "metadata": {"name": name},
        "spec": {"nodeName": node},
        "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": ready}]},
    }


def _hpa(target: str, current: dict[str, Any] | None) -> dict[str, Any]:
    metric = {"name": "DCGM_FI_DEV_GPU_UTIL"}
    status: dict[str, Any] = {"currentReplicas": 2, "desiredReplicas": 3}
    if current is not None:
        status["currentMetrics"] = [
            {"type": "Pods", "pods": {"metric": metric, "current": current}}
        ]
    return {
        "metadata": {"name": "llm"},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": target},
            "minReplicas": 2,
            "maxReplicas": 6,
            "metrics": [{"type": "Pods", "pods": {"metric": metric,
                         "target": {"type": "AverageValue", "averageValue": "70"}}}],
        },
        "status": status,
    }  # fmt: skip


def test_ready_pods_by_zone_and_the_hpa_reading_its_metric() -> None:
    deployment = {"spec": {"replicas": 3}, "status": {"readyReplicas": 2}}
    pods = [_pod("a", "t4-0"), _pod("b", "t4-1"), _pod("c", "t4-2", ready="False")]
    zones = {"t4-0": "us-east-1a", "t4-1": "us-east-1b", "t4-2": "us-east-1c"}
    other = _hpa("bert-predictor", {"averageValue": "10"})  # another endpoint's
    out = summary(
        ISVC, deployment, pods, zones, [other, _hpa("llm-predictor", {"averageValue": "95"})]
    )
    assert out["replicas"] == {"desired": 3, "ready": 2}
    assert out["zones"] == {"us-east-1a": 1, "us-east-1b": 1}  # c is not ready
    hpa = out["autoscaler"]
    assert (hpa["current"], hpa["desired"], hpa["min"], hpa["max"]) == (2, 3, 2, 6)
    assert hpa["metrics"] == [{"name": "DCGM_FI_DEV_GPU_UTIL", "current": "95", "target": "70"}]
    assert describe(out) == (
        "2/3 ready: us-east-1a 1, us-east-1b 1; HPA llm 2 (desired 3, 2-6), "
        "DCGM_FI_DEV_GPU_UTIL 95/70"
    )


def test_no_deployment_and_no_autoscaler_yet() -> None:
    out = summary(ISVC, None, [], {}, [_hpa("bert-predictor", None)])
    assert out == {"mode": "Standard", "deployment": None, "zones": {}}
    assert describe(out) == ""
