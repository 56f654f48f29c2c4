"""The endpoint and autoscaler diagnoses name the cause and a concrete fix; one
finding per endpoint (the first cause that applies), never the generic one beside it."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mlkube.doctor import diagnose
from mlkube.rules.model import Finding
from mlkube.snapshots.evidence import Evidence

FIXTURES = Path(__file__).parent


def _findings(case: str, rule: str | None = None) -> list[Finding]:
    found = diagnose(Evidence.load(str(FIXTURES / f"{case}.json")))
    return [f for f in found if rule is None or f.rule == rule]


def test_an_oom_killed_storage_initializer_is_told_the_memory_to_give_it() -> None:
    """Its limit was 1Gi (inferenceservice-config's default): twice that is 2Gi."""
    by_name = {f.where.obj.name: f for f in _findings("storage-initializer-failing/fires")}
    assert set(by_name) == {"llm", "iris"}  # one finding each: no DK401 beside DK404
    oom = by_name["llm"]
    assert oom.rule == "DK404"
    assert "storage-initializer was OOMKilled downloading gs://kfserving-examples/iris" in (
        oom.message
    )
    assert "with memory limit 1Gi" in oom.message and "4 restarts" in oom.message
    assert "inferenceservice-config (namespace kserve) from 1Gi to 2Gi" in oom.remediation


def test_a_bad_storage_uri_quotes_the_storage_initializer() -> None:
    (bad,) = [
        f for f in _findings("storage-initializer-failing/fires") if f.where.obj.name == "iris"
    ]
    assert bad.message.endswith(
        "RuntimeError: Failed to fetch model. No model found in gs://kfserving-examples/iris-missing."
    )
    assert bad.where.field == "status.modelStatus.lastFailureInfo"
    assert bad.remediation.endswith("the bucket and prefix must hold the model's files")


def test_a_failing_readiness_probe_names_the_probe_and_the_kubelet_message() -> None:
    (finding,) = _findings("endpoint-readiness-failing/fires")
    assert finding.rule == "DK403"
    assert "httpGet /v1/models/llm on port 8080 (initialDelaySeconds 10" in finding.message
    assert finding.message.endswith("HTTP probe failed with statuscode: 503")
    assert "kubectl logs -n dk-pred llm-predictor-7467d8db54-pbpfd -c kserve-container" in (
        finding.remediation
    )


def test_knative_mode_without_knative_points_at_the_annotation() -> None:
    (finding,) = _findings("knative-not-installed/fires")
    assert finding.rule == "DK405"
    assert finding.where.field == 'metadata.annotations["serving.kserve.io/deploymentMode"]'
    assert "serving.kserve.io/deploymentMode: Standard" in finding.remediation
    # Knative installed: the same endpoint is scaled to zero (minReplicas 0), not rejected.
    assert [f.rule for f in _findings("knative-not-installed/passes")] == ["DK406"]


def test_the_autoscaler_says_why_it_cannot_read_its_metric() -> None:
    """Each case from its evidence: the APIService list, then the HPA controller's words
    for what prometheus-adapter answered."""
    causes = {
        "fires": "no APIService registers custom.metrics.k8s.io",
        "apiservice-unavailable": (
            "APIService v1beta1.custom.metrics.k8s.io is not Available: ServiceNotFound: "
            'service/prometheus-adapter in "monitoring" is not present'
        ),
        "metric-not-served": "the adapter serves no DCGM_FI_DEV_GPU_UTIL for pods",
        "no-series": "the adapter knows DCGM_FI_DEV_GPU_UTIL but has no series for these pods",
    }
    for case, cause in causes.items():
        (finding,) = _findings(f"hpa-metric-unavailable/{case}", "DK402")
        assert finding.message.startswith(f"HPA dk-hpa/llm cannot scale: {cause}"), case
    (unavailable,) = _findings("hpa-metric-unavailable/apiservice-unavailable", "DK402")
    assert "Service monitoring/prometheus-adapter" in unavailable.remediation
    (unserved,) = _findings("hpa-metric-unavailable/metric-not-served", "DK402")
    assert "its rule does not match the exporter's labels" in unserved.message
    (no_series,) = _findings("hpa-metric-unavailable/no-series", "DK402")
    assert "honorLabels: true" in no_series.remediation


def test_recorded_live_each_cause_of_an_unread_metric_is_named() -> None:
    """Snapshots of the serving cluster's real pipeline: a wrong adapter rule and an
    exporter without pod labels both leave the metric unknown to the adapter (its
    NotFound), for pods that do use GPUs; pods without a GPU beside served ones get an
    empty list, and are told apart by their own resources."""
    for case in ("rule-mismatch", "exporter-without-pod-label"):
        (finding,) = _findings(f"hpa-metric-unavailable/{case}", "DK402")
        assert finding.message.startswith(
            "HPA gm-diag/gpu-app cannot scale: the adapter serves no DCGM_FI_DEV_GPU_UTIL "
            "for pods although these pods use GPUs: its rule does not match the exporter's "
            "labels"
        ), case
        assert "DCGM_EXPORTER_KUBERNETES=true" in finding.remediation
    (finding,) = _findings("hpa-metric-unavailable/pods-without-gpu", "DK402")
    assert finding.where.obj.name == "cpu-app"  # gpu-app reads its metric: no finding
    assert finding.message.startswith(
        "HPA gm-diag/cpu-app cannot scale: no series of DCGM_FI_DEV_GPU_UTIL for these pods: "
        "the pods of Deployment gm-diag/cpu-app (2 pod(s) (cpu-app-"
    )
    assert "use no GPU" in finding.message
    assert finding.message.endswith("no metrics returned from custom metrics API)")
    assert finding.remediation.startswith("give the pods their GPU")


def test_without_the_apiservice_list_the_autoscaler_keeps_the_controller_message() -> None:
    """A snapshot that did not list APIServices does not claim there is none."""
    evidence = Evidence.load(str(FIXTURES / "hpa-metric-unavailable" / "fires.json"))
    del evidence.objects["apiregistration.k8s.io/v1/APIService"]
    (finding,) = [f for f in diagnose(evidence) if f.rule == "DK402"]
    assert "no APIService" not in finding.message
    assert "no custom metrics API (custom.metrics.k8s.io) registered" in finding.message


def test_a_storage_initializer_that_recovered_is_not_failing() -> None:
    """Its last run completed, or it runs again: an earlier failure is history."""
    evidence = Evidence.load(str(FIXTURES / "storage-initializer-failing" / "fires.json"))
    states = (
        {"terminated": {"reason": "Completed", "exitCode": 0}},
        {"running": {"startedAt": "2026-12-07T12:40:00Z"}},
    )
    pods = evidence.of("v1", "Pod")
    assert len(pods) == len(states)  # llm (OOMKilled) and iris (bad storageUri)
    for pod, state in zip(pods, states, strict=True):
        pod["status"]["initContainerStatuses"][0]["state"] = state  # lastState: the failure
    assert not [f for f in diagnose(evidence) if f.rule == "DK404"]


def _variant(tmp_path: Path, case: str, change: Callable[[dict[str, Any]], None]) -> list[Finding]:
    """A fixture changed in one respect, as the live KServe controller showed it."""
    snapshot = json.loads((FIXTURES / f"{case}.json").read_text())
    change(snapshot["objects"])
    path = tmp_path / "snapshot.json"
    path.write_text(json.dumps(snapshot))
    return diagnose(Evidence.load(str(path)))


def test_the_readiness_probe_kserve_defaults_is_named(tmp_path: Path) -> None:
    """KServe v0.20 gives a kserve-container without a probe tcpSocket on 8080
    (deployment_reconciler.go), as the live test saw."""

    def tcp(objects: dict[str, Any]) -> None:
        for pod in objects["v1/Pod"]:
            for container in pod["spec"]["containers"]:
                if "readinessProbe" in container:
                    container["readinessProbe"] = {
                        "tcpSocket": {"port": 8080}, "timeoutSeconds": 1, "periodSeconds": 10,
                        "successThreshold": 1, "failureThreshold": 3,
                    }  # fmt: skip

    (finding,) = _variant(tmp_path, "endpoint-readiness-failing/fires", tcp)
    assert finding.rule == "DK403"
    assert (
        "'kserve-container', tcpSocket on port 8080 (initialDelaySeconds 0, periodSeconds 10, "
        "failureThreshold 3): Readiness probe failed:" in finding.message
    )


def test_knative_mode_quotes_kserves_rejection(tmp_path: Path) -> None:
    said = (
        "It is not possible to use Knative deployment mode when Knative Services are not available"
    )

    def rejected(objects: dict[str, Any]) -> None:
        (isvc,) = objects["serving.kserve.io/v1beta1/InferenceService"]
        meta = isvc["metadata"]
        objects["v1/Event"].append({
            "apiVersion": "v1", "kind": "Event",
            "metadata": {"name": f"{meta['name']}.1", "namespace": meta["namespace"]},
            "involvedObject": {
                "kind": "InferenceService", "name": meta["name"], "namespace": meta["namespace"]
            },
            "reason": "ServerlessModeRejected", "type": "Warning", "message": said,
        })  # fmt: skip

    (finding,) = _variant(tmp_path, "knative-not-installed/fires", rejected)
    assert finding.rule == "DK405"
    assert finding.message.endswith(f"and KServe rejected it: {said}")
