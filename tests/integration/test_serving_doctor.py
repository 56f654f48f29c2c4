"""Doctor's endpoint diagnoses (DK403-DK405), and `mlkube wait` / `status` for an
InferenceService, on the real KServe controller (v0.20.0, Standard mode) of the serving
cluster: KServe's webhooks inject the storage-initializer, its reconciler makes the
predictor Deployment and writes the isvc's status and events; only the kubelet is
simulated (KWOK's stages, with the failure annotations of localcluster/stages.py).

What doctor is expected to say is derived from the rules' contract and from what the
kubelet and KServe say upstream, not from a run:
- the readiness probe is KServe's default for a kserve-container without one, tcpSocket
  on 8080, periodSeconds 10, failureThreshold 3 (pkg/controller/v1beta1/inferenceservice/
  reconcilers/deployment/deployment_reconciler.go), and its failure is the kubelet's
  ``Unhealthy`` event, quoted as the cluster recorded it;
- the storage-initializer's memory limit is KServe's ``storageInitializer.memoryLimit``
  of config/configmap/inferenceservice.yaml (1Gi), which the pod mutator puts on the
  container (pkg/webhook/admission/pod/storage_initializer_injector.go); the advice
  doubles it;
- a bad storageUri's text is the storage-initializer's own last log line, "...No model
  found in <uri>." (python/storage/kserve_storage/kserve_storage.py), which KServe copies into
  ``modelStatus.lastFailureInfo.message``;
- Knative mode without Knative: the Warning event ``ServerlessModeRejected``, "It is not
  possible to use Knative deployment mode when Knative Services are not available"
  (pkg/controller/v1beta1/inferenceservice/controller.go).

What differed from the derived fixtures (tests/doctor/*/fires.json), real component won:
the probe KServe puts on the server is tcpSocket (DK403 described only httpGet), and
KServe's rejection event is there to quote (DK405 said only that the CRD is not served).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mlkube.cluster.client import Kube
from mlkube.localcluster.stages import FAIL_ANNOTATION, FAIL_INIT_ANNOTATION, UNREADY
from mlkube.wellknown import ZONE_LABEL

from ..conftest import Run
from .test_serving_kserve import (
    SERVING_NS,
    _apply,
    _isvc,
    _pods,
    _ready,
    _rendered,
    _variant,
    applied,
    cpu_nodes,
    kube,
)
from .waiting import until

__all__ = ["applied", "cpu_nodes", "kube"]  # the fixtures, shared with test_serving_kserve

ENDPOINT_RULES = ("DK401", "DK403", "DK404", "DK405", "DK406")
URI = "gs://your-bucket/sklearn/iris"  # examples/sklearn-iris.yaml


def _findings(mlkube: Run, kubeconfig: Path, namespace: str) -> list[dict[str, Any]]:
    result = mlkube("doctor", "-n", namespace, "-o", "json", kubeconfig=kubeconfig)
    assert result.code in (0, 1), result.err
    findings: list[dict[str, Any]] = json.loads(result.out)["findings"]
    return findings


def _about(findings: list[dict[str, Any]], namespace: str, name: str) -> list[dict[str, Any]]:
    who = f"InferenceService {namespace}/{name} "
    return [f for f in findings if f["rule"] in ENDPOINT_RULES and who in f["message"]]


def _finding(mlkube: Run, kubeconfig: Path, namespace: str, name: str, rule: str) -> dict[str, Any]:
    """Doctor's finding about the endpoint once it is ``rule``'s (KServe and the kubelet
    take a few reconciles to say what doctor reads); then it must be the only one."""

    def check() -> list[dict[str, Any]] | None:
        about = _about(_findings(mlkube, kubeconfig, namespace), namespace, name)
        return about if any(f["rule"] == rule for f in about) else None

    (found,) = until(f"{rule} for {name}", check, timeout=120, every=2)
    return found


def test_dk403_names_the_endpoint_the_probe_and_the_kubelets_text(
    kube: Kube, serving_cluster: Path, mlkube: Run, applied: list[dict[str, Any]]
) -> None:
    _apply(kube, applied, _variant(kube, "iris-unready", {FAIL_ANNOTATION: UNREADY}))
    _apply(kube, applied, _variant(kube, "iris-healthy", {}))
    until("iris-healthy Ready", lambda: _ready(_isvc(kube, "iris-healthy")), timeout=180)
    found = _finding(mlkube, serving_cluster, SERVING_NS, "iris-unready", "DK403")
    (pod,) = _pods(kube, "iris-unready")
    name = pod["metadata"]["name"]
    # The kubelet's words: its Unhealthy event for this pod, as the cluster recorded it.
    (said,) = {
        e["message"]
        for e in kube.list("v1", "Event", SERVING_NS)
        if e["involvedObject"]["name"] == name and e["reason"] == "Unhealthy"
    }
    assert said.startswith("Readiness probe failed: ")
    # KServe gave kserve-container its default probe (no readinessProbe in the spec, no
    # ports: tcpSocket 8080, periodSeconds 10, failureThreshold 3; deployment_reconciler.go).
    assert found["message"] == (
        f"InferenceService {SERVING_NS}/iris-unready is not Ready: 1 pod(s) ({name}) run "
        "but fail the readiness probe of 'kserve-container', tcpSocket on port 8080 "
        f"(initialDelaySeconds 0, periodSeconds 10, failureThreshold 3): {said}"
    )
    assert f"kubectl logs -n {SERVING_NS} {name} -c kserve-container" in found["remediation"]
    # The healthy one beside it: Ready by KServe, so no endpoint finding at all.
    findings = _findings(mlkube, serving_cluster, SERVING_NS)
    assert not _about(findings, SERVING_NS, "iris-healthy"), findings


def test_dk404_oom_killed_storage_initializer_gets_the_memory_advice(
    kube: Kube, serving_cluster: Path, mlkube: Run, applied: list[dict[str, Any]]
) -> None:
    _apply(kube, applied, _variant(kube, "iris-oom", {FAIL_INIT_ANNOTATION: "OOMKilled"}))
    found = _finding(mlkube, serving_cluster, SERVING_NS, "iris-oom", "DK404")
    (pod,) = _pods(kube, "iris-oom")
    (init,) = pod["spec"]["initContainers"]
    # KServe's webhook gave it the release's storageInitializer resources.
    assert init["resources"]["limits"]["memory"] == "1Gi"
    assert found["message"].startswith(
        f"InferenceService {SERVING_NS}/iris-oom is not Ready: its storage-initializer was "
        f"OOMKilled downloading {URI} with memory limit 1Gi (1 pod(s) ({pod['metadata']['name']}), "
    ), found["message"]
    assert found["remediation"].startswith(
        "raise storageInitializer.memoryLimit in ConfigMap inferenceservice-config "
        "(namespace kserve) from 1Gi to 2Gi"
    ), found["remediation"]


def test_dk404_bad_storage_uri_quotes_the_storage_initializer(
    kube: Kube, serving_cluster: Path, mlkube: Run, applied: list[dict[str, Any]]
) -> None:
    _apply(kube, applied, _variant(kube, "iris-baduri", {FAIL_INIT_ANNOTATION: "BadStorageUri"}))
    found = _finding(mlkube, serving_cluster, SERVING_NS, "iris-baduri", "DK404")
    assert found["message"].startswith(
        f"InferenceService {SERVING_NS}/iris-baduri is not Ready: its storage-initializer "
        f"fails to download the model from {URI} "
    ), found["message"]
    assert found["message"].endswith(f"No model found in {URI}."), found["message"]
    assert found["remediation"] == (
        f"check storageUri {URI!r} (spec.predictor.model.storageUri): the bucket and prefix "
        "must hold the model's files"
    )
    # Read where KServe put it: the isvc's modelStatus, not only the pod.
    assert "modelStatus" in str(found["field"]) and "lastFailureInfo" in str(found["field"])


def test_dk405_from_kserves_serverless_mode_rejected_event(
    kube: Kube, serving_cluster: Path, mlkube: Run, applied: list[dict[str, Any]]
) -> None:
    objects = _rendered(kube, "dev-endpoint.yaml")
    (isvc,) = [o for o in objects if o["kind"] == "InferenceService"]
    namespace, name = isvc["metadata"]["namespace"], isvc["metadata"]["name"]
    _apply(kube, applied, objects)
    until(
        "KServe's rejection",
        lambda: [
            e
            for e in kube.list("v1", "Event", namespace)
            if e["involvedObject"]["name"] == name and e["reason"] == "ServerlessModeRejected"
        ],
    )
    found = _finding(mlkube, serving_cluster, namespace, name, "DK405")
    assert found["message"].startswith(
        f"InferenceService {namespace}/{name} is not Ready: it asks for Knative mode"
    ), found["message"]
    assert found["message"].endswith(
        "KServe rejected it: It is not possible to use Knative deployment mode when Knative "
        "Services are not available"
    ), found["message"]
    assert found["remediation"].startswith("deploy it in Standard mode")


def test_wait_returns_when_kserve_sets_ready_and_status_shows_the_predictor(
    kube: Kube, serving_cluster: Path, mlkube: Run, applied: list[dict[str, Any]]
) -> None:
    objects = _variant(kube, "iris-wait", {})
    predictor = objects[0]["spec"]["predictor"]
    predictor.update(minReplicas=3, maxReplicas=3)
    # Not Ready for a while at least: the wait must wait for KServe.
    predictor["model"]["readinessProbe"] = {
        "httpGet": {"path": "/v1/models/iris-wait", "port": 8080},
        "initialDelaySeconds": 5,
    }
    _apply(kube, applied, objects)
    assert not _ready(_isvc(kube, "iris-wait"))
    waited = mlkube(
        "wait", "iris-wait", "-n", SERVING_NS, "--for=Ready", "--timeout=180s",
        kubeconfig=serving_cluster,
    )  # fmt: skip
    assert waited.code == 0, waited.out + waited.err
    assert _ready(_isvc(kube, "iris-wait"))  # KServe said Ready: wait did not guess
    # KServe's Ready needs only the Deployment Available; mlkube's waits for the three
    # minReplicas asks for (cluster/endpoints.py `shortfall`).
    pods = [x for x in _pods(kube, "iris-wait") if _ready(x)]
    assert len(pods) == 3, waited.out
    zones: dict[str, int] = {}
    for pod in pods:
        node = kube.get("v1", "Node", pod["spec"]["nodeName"]) or {}
        zone = node["metadata"]["labels"][ZONE_LABEL]
        zones[zone] = zones.get(zone, 0) + 1
    result = mlkube(
        "status", "iris-wait", "-n", SERVING_NS, "-o", "json", kubeconfig=serving_cluster
    )
    assert result.code == 0, result.err
    status = json.loads(result.out)
    assert status["kind"] == "InferenceService" and status["phase"] == "Ready"
    endpoint = status["endpoint"]
    assert endpoint["mode"] == "Standard"
    assert endpoint["deployment"] == "iris-wait-predictor"
    assert endpoint["replicas"] == {"desired": 3, "ready": 3}
    assert endpoint["zones"] == zones


def test_wait_for_ready_waits_for_the_hpas_minimum_not_kserves_first_pod(
    kube: Kube, serving_cluster: Path, mlkube: Run, applied: list[dict[str, Any]]
) -> None:
    """The GPU endpoint mlkube renders (external autoscaler, minReplicas 3): KServe
    creates its Deployment without replicas (the API server's default, 1), and with
    that one pod Ready the Deployment is Available and KServe reports the endpoint
    Ready. Applied before its HPA, it stays so: `status` says NotReady and why, and
    `wait --for=Ready` waits; once the HPA raises it to 3, `wait` returns with the three
    ready."""
    name = "llama-wait"
    objects = {}
    for obj in _rendered(kube, "llm-endpoint.yaml"):
        if obj["kind"] in ("InferenceService", "HorizontalPodAutoscaler"):
            obj["metadata"]["name"] = name
            if obj["kind"] == "HorizontalPodAutoscaler":
                obj["spec"]["scaleTargetRef"]["name"] = f"{name}-predictor"
            objects[obj["kind"]] = obj
    isvc, hpa = objects["InferenceService"], objects["HorizontalPodAutoscaler"]
    assert isvc["metadata"]["annotations"]["serving.kserve.io/autoscalerClass"] == "external"
    assert isvc["spec"]["predictor"]["minReplicas"] == hpa["spec"]["minReplicas"] == 3
    _apply(kube, applied, [isvc])
    until("KServe to report the endpoint Ready", lambda: _ready(_isvc(kube, name)), timeout=180)
    assert len([p for p in _pods(kube, name) if _ready(p)]) == 1
    waiting = (
        "KServe reports Ready, but 1 of the 3 predictor pods it should run "
        "(its minReplicas 3) are ready"
    )
    result = mlkube("status", name, "-n", SERVING_NS, "-o", "json", kubeconfig=serving_cluster)
    status = json.loads(result.out)
    assert (status["phase"], status["message"]) == ("NotReady", waiting)
    assert status["endpoint"]["replicas"] == {"desired": 1, "ready": 1}
    # nothing will raise it: wait waits, saying why, until its timeout
    short = mlkube("wait", name, "-n", SERVING_NS, "--for=Ready", "--timeout=3s",
                   kubeconfig=serving_cluster)  # fmt: skip
    assert short.code == 1 and "timed out after 3s waiting for Ready" in short.err
    assert short.out.strip().endswith(f"— {waiting}"), short.out
    _apply(kube, applied, [hpa])
    waited = mlkube(
        "wait", name, "-n", SERVING_NS, "--for=Ready", "--timeout=240s",
        kubeconfig=serving_cluster,
    )  # fmt: skip
    assert waited.code == 0, waited.out + waited.err
    assert len([p for p in _pods(kube, name) if _ready(p)]) >= 3, waited.out
    last = waited.out.strip().splitlines()[-1]
    assert last.startswith(f"InferenceService {SERVING_NS}/{name}: Ready ("), last
