"""Doctor's endpoint and autoscaler diagnoses, made to happen on the local cluster where
it can already produce them: a Knative-mode endpoint without Knative, an endpoint
scaled to zero, a GPU HPA with no metrics adapter registered, and one whose adapter's
APIService is not Available. The real API server, aggregator and HPA controller say
what doctor reads. The storage-initializer, readiness-probe and KServe-rejected Knative
cases run on the real KServe controller in test_serving_doctor.py; the adapter-rule
case needs the metrics pipeline (issue 16 §2).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mlkube.cluster.client import Kube

from ..conftest import Run
from . import scenarios, serving
from .conftest import Namespaces
from .waiting import until

CUSTOM_METRICS = "v1beta1.custom.metrics.k8s.io"


def _findings(mlkube: Run, kubeconfig: Path, namespace: str) -> list[dict[str, Any]]:
    result = mlkube("doctor", "-n", namespace, "-o", "json", kubeconfig=kubeconfig)
    findings: list[dict[str, Any]] = json.loads(result.out)["findings"]
    return findings


def test_knative_mode_and_scale_to_zero_are_told_apart(
    kube: Kube, local_cluster: Path, mlkube: Run, namespaces: Namespaces
) -> None:
    namespaces("dk-knative")
    namespaces("dk-zero")
    serving.isvc(kube, "dk-knative", "dev", mode="Knative", min_replicas=0)
    serving.isvc(kube, "dk-zero", "iris", mode="Standard", min_replicas=0)
    (knative,) = _findings(mlkube, local_cluster, "dk-knative")
    assert knative["rule"] == "DK405"
    assert "this cluster does not serve serving.knative.dev" in knative["message"]
    (zero,) = _findings(mlkube, local_cluster, "dk-zero")
    assert zero["rule"] == "DK406"
    assert zero["message"].startswith("InferenceService dk-zero/iris is scaled to zero")


def _pf109(mlkube: Run, kubeconfig: Path, namespace: str) -> str:
    result = mlkube("preflight", "-n", namespace, "-o", "json", kubeconfig=kubeconfig)
    (finding,) = [f for f in json.loads(result.out)["findings"] if f["rule"] == "PF109"]
    return str(finding["message"])


def test_an_autoscaler_without_an_adapter_and_with_an_unavailable_one(
    kube: Kube, local_cluster: Path, mlkube: Run, namespaces: Namespaces
) -> None:
    """First no APIService at all; then one registered for an adapter Service that does
    not exist, which the aggregator marks not Available (ServiceNotFound). Doctor (DK402)
    and preflight (PF109) each say which."""
    namespaces("dk-hpa-adapter")
    scenarios.autoscaler(kube, "dk-hpa-adapter", 1)

    def why() -> str | None:
        found = [
            f for f in _findings(mlkube, local_cluster, "dk-hpa-adapter") if f["rule"] == "DK402"
        ]
        return found[0]["message"] if found else None

    message = until("DK402", why, timeout=90, every=2)  # the HPA syncs every 15 s
    assert f"no APIService registers custom.metrics.k8s.io ({CUSTOM_METRICS})" in message
    assert "no custom metrics API (custom.metrics.k8s.io) registered" in message
    assert _pf109(mlkube, local_cluster, "dk-hpa-adapter") == (
        f"no APIService registers custom.metrics.k8s.io ({CUSTOM_METRICS}): "
        "no metrics adapter is installed"
    )
    kube.create({
        "apiVersion": "apiregistration.k8s.io/v1",
        "kind": "APIService",
        "metadata": {"name": CUSTOM_METRICS},
        "spec": {
            "service": {"namespace": "dk-hpa-adapter", "name": "prometheus-adapter"},
            "group": "custom.metrics.k8s.io", "version": "v1beta1",
            "insecureSkipTLSVerify": True, "groupPriorityMinimum": 100, "versionPriority": 100,
        },
    })  # fmt: skip
    try:

        def not_available() -> str | None:
            message = why()
            return message if message and "is not Available" in message else None

        unavailable = until("DK402 on the APIService", not_available, timeout=60, every=1)
        assert (
            f"APIService {CUSTOM_METRICS} is not Available: ServiceNotFound: "
            'service/prometheus-adapter in "dk-hpa-adapter" is not present'
        ) in unavailable
        assert _pf109(mlkube, local_cluster, "dk-hpa-adapter").startswith(
            f"APIService {CUSTOM_METRICS} is not Available: ServiceNotFound: "
        )
    finally:
        kube.delete("apiregistration.k8s.io/v1", "APIService", CUSTOM_METRICS)
