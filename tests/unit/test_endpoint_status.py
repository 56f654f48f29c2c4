"""An endpoint's serving facts from the objects KServe and the HPA controller write.

The metric value case cannot happen on the local cluster until the metrics pipeline
runs (issue 16 §2): the HPA below has the status shape the HPA controller writes for a
Pods metric it read (kubernetes pkg/controller/podautoscaler/horizontal.go,
``computeStatusForPodsMetric``: ``currentMetrics[].pods.current.averageValue``)."""

from __future__ import annotations

from typing import Any

from mlkube.cluster.endpoints import describe, shortfall, summary

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


def _sized(min_replicas: int | None, desired: int, ready: int, hpa_min: int | None) -> str | None:
    isvc = {**ISVC, "spec": {"predictor": {} if min_replicas is None else
                             {"minReplicas": min_replicas}}}  # fmt: skip
    deployment = {"spec": {"replicas": desired}, "status": {"readyReplicas": ready}}
    hpas = []
    if hpa_min is not None:
        hpa = _hpa("llm-predictor", None)
        hpa["spec"]["minReplicas"] = hpa_min
        hpas.append(hpa)
    return shortfall(isvc, summary(isvc, deployment, [], {}, hpas))


def test_ready_waits_for_the_endpoints_own_floor_not_for_the_first_pod() -> None:
    """KServe's Ready comes with one pod; an endpoint asks for its minReplicas, the
    HPA's minimum when one scales it, or the Deployment's replicas without one."""
    # KServe made the Deployment at 1 for an external autoscaler; the HPA wants 3
    assert _sized(3, 1, 1, 3) == (
        "KServe reports Ready, but 1 of the 3 predictor pods it should run "
        "(its minReplicas 3) are ready"
    )
    assert _sized(1, 3, 2, 3) == (
        "KServe reports Ready, but 2 of the 3 predictor pods it should run "
        "(HPA llm minReplicas 3) are ready"
    )
    assert _sized(None, 2, 1, None) == (
        "KServe reports Ready, but 1 of the 2 predictor pods it should run "
        "(Deployment llm-predictor replicas 2) are ready"
    )
    assert _sized(3, 3, 3, 3) is None
    assert _sized(3, 5, 3, 3) is None  # the HPA's scale-up follows load: not waited for
    assert _sized(0, 0, 0, None) is None  # scaled to zero on purpose
    knative = summary(ISVC, None, [], {}, [])
    assert shortfall({**ISVC, "spec": {"predictor": {"minReplicas": 2}}}, knative) is None
