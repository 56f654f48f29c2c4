"""`mlkube status` and `mlkube wait --for=Ready` follow an InferenceService on the local
cluster: its predictor Deployment, ready pods per zone, and the HPA that scales it.

This cluster runs no KServe controller (the serving cluster does): the Deployment and
HPA are created as KServe's Standard mode creates them, and the isvc's status is written
through the status subresource as KServe's raw reconciler writes it (`serving`). The
Deployment controller, scheduler, KWOK and the HPA controller acting on them are real.
The same wait and status against the real KServe controller: test_serving_doctor.py.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path

from mlkube.cluster.client import Kube
from mlkube.cluster.status import Status, follow

from ..conftest import Run
from . import serving
from .conftest import Namespaces
from .waiting import until

NAMESPACE = "serving-status"


def test_wait_follows_an_endpoint_to_ready_with_its_zones_and_autoscaler(
    kube: Kube, local_cluster: Path, mlkube: Run, namespaces: Namespaces
) -> None:
    namespaces(NAMESPACE)
    owner = serving.isvc(kube, NAMESPACE, "llm", mode="Standard", min_replicas=3)
    serving.predictor(kube, owner, replicas=3)
    serving.autoscaler(kube, NAMESPACE, "llm", 3, 4)

    seen: list[Status] = []
    done: list[Status] = []
    waiter = threading.Thread(
        target=lambda: done.append(
            follow(kube, "llm", NAMESPACE, "Ready", 120, changed=seen.append, every=1)
        )
    )
    waiter.start()

    def available() -> bool:
        d = kube.get("apps/v1", "Deployment", "llm-predictor", NAMESPACE) or {}
        return (d.get("status") or {}).get("readyReplicas") == 3

    until("3 predictor pods ready", available, timeout=120)
    # The HPA controller reads the scale and fails on the metric (no adapter yet).
    until("the HPA's status", lambda: _hpa_current(kube) == 3, timeout=120)
    assert not done, "wait returned before KServe reported Ready"
    serving.report_ready(kube, NAMESPACE, "llm")
    waiter.join(timeout=60)
    assert done and done[0].phase == "Ready"
    assert seen[0].phase == "NotReady"  # it waited through the NotReady state

    result = mlkube("status", "llm", "-n", NAMESPACE, "-o", "json", kubeconfig=local_cluster)
    assert result.code == 0, result.err
    status = json.loads(result.out)
    endpoint = status["endpoint"]
    assert status["phase"] == "Ready"
    assert endpoint["mode"] == "Standard"
    assert endpoint["deployment"] == "llm-predictor"
    assert endpoint["replicas"] == {"desired": 3, "ready": 3}
    # The T4 pool has one node in each of three zones (examples/platform.yaml), and the
    # predictor spreads over zones with maxSkew 1: one ready pod in each.
    assert endpoint["zones"] == {"us-east-1a": 1, "us-east-1b": 1, "us-east-1c": 1}
    hpa = endpoint["autoscaler"]
    # It could not compute a desired count: the controller's 0 there is no wish.
    assert (hpa["name"], hpa["current"], hpa["desired"]) == ("llm", 3, None)
    assert (hpa["min"], hpa["max"]) == (3, 4)
    assert hpa["metrics"] == [{"name": serving.GPU_METRIC, "current": None, "target": "70"}]
    assert hpa["message"].startswith("FailedGetPodsMetric: the HPA was unable to compute")

    text = mlkube("status", "llm", "-n", NAMESPACE, kubeconfig=local_cluster).out.strip()
    assert text.startswith(
        f"InferenceService {NAMESPACE}/llm: Ready (3 Running; 3/3 ready: us-east-1a 1, "
        f"us-east-1b 1, us-east-1c 1; HPA llm 3 (desired ?, 3-4), {serving.GPU_METRIC} ?/70)"
    )


def test_a_knative_endpoint_without_knative_says_so(
    kube: Kube, local_cluster: Path, mlkube: Run, namespaces: Namespaces
) -> None:
    """mlkube renders `development` endpoints in Knative mode; the local cluster serves
    no serving.knative.dev, and KServe records only an event (ServerlessModeRejected)."""
    namespaces(NAMESPACE + "-kn")
    serving.isvc(kube, NAMESPACE + "-kn", "dev", mode="Knative", min_replicas=0)
    result = mlkube("status", "dev", "-n", NAMESPACE + "-kn", kubeconfig=local_cluster)
    assert result.out.strip() == (
        f"InferenceService {NAMESPACE}-kn/dev: NotReady (no pods) — Knative mode needs "
        "Knative Serving, and this cluster does not serve serving.knative.dev (deploy it "
        "in Standard mode, or install Knative)"
    )
    waited = mlkube(
        "wait", "dev", "-n", NAMESPACE + "-kn", "--for=Ready", "--timeout=2s",
        kubeconfig=local_cluster,
    )  # fmt: skip
    assert waited.code == 1
    assert "Knative mode needs Knative Serving" in waited.out


def _hpa_current(kube: Kube) -> int | None:
    hpa = kube.get("autoscaling/v2", "HorizontalPodAutoscaler", "llm", NAMESPACE) or {}
    status = hpa.get("status") or {}
    active = {c["type"]: c for c in status.get("conditions") or []}.get("ScalingActive", {})
    return status.get("currentReplicas") if active.get("status") == "False" else None
