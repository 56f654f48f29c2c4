"""The serving examples on the real KServe controller (v0.20.0, Standard mode) of a local
cluster: rendered by mlkube, admitted by KServe's webhooks (the pod mutator injects the
storage-initializer), reconciled into Deployments whose pods KWOK runs, and Ready by
KServe's own status logic. What is simulated is only the kubelet (KWOK's stages).

The expected statuses come from KServe's source, not from a run:
- Ready: every condition of the ``Standard`` set True (pkg/apis/serving/v1beta1/
  inference_service_status.go), and ``modelStatus`` UpToDate / Loaded;
- a storage-initializer that died: ``PropagateModelStatus`` reads the pod's
  storage-initializer status (CrashLoopBackOff) into ``modelStatus``:
  BlockedByFailedLoad, FailedToLoad, lastFailureInfo ModelLoadFailed with the
  container's exit code and termination message;
- Knative mode without Knative: the reconciler rejects it (controller.go: event
  ``ServerlessModeRejected``) and creates nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from mlkube.cluster.apply import apply_objects, load_inputs
from mlkube.cluster.client import ApiError, Kube
from mlkube.cluster.kubeconfig import load_connection
from mlkube.localcluster.cluster import wait_nodes_ready
from mlkube.localcluster.nodes import KWOK_ANNOTATION
from mlkube.localcluster.stages import FAIL_ANNOTATION, FAIL_INIT_ANNOTATION, UNREADY
from mlkube.manifests.objects import condition
from mlkube.wellknown import HOSTNAME_LABEL, ISVC_LABEL, ZONE_LABEL

from ..conftest import EXAMPLES
from .waiting import until

ISVC = "serving.kserve.io/v1beta1"
SERVING_NS = "ml-serving"  # the examples' namespace, made by the Platform


# The Platform describes GPU pools, all tainted: a cluster's CPU nodes, where a CPU
# endpoint such as sklearn-iris runs, are not in it. One untainted node per zone.
CPU_ZONES = ("us-east-1a", "us-east-1b", "us-east-1c")


def _cpu_node(name: str, zone: str) -> dict[str, Any]:
    labels = {"type": "kwok", HOSTNAME_LABEL: name, ZONE_LABEL: zone}
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name, "labels": labels, "annotations": {KWOK_ANNOTATION: "fake"}},
    }


@pytest.fixture(scope="module")
def cpu_nodes(serving_cluster: Path) -> list[str]:
    names = [f"cpu-{i}" for i in range(len(CPU_ZONES))]
    resources = {"cpu": "16", "memory": "64Gi", "pods": "110"}
    with Kube(load_connection(str(serving_cluster))) as kube:
        for name, zone in zip(names, CPU_ZONES, strict=True):
            if kube.get("v1", "Node", name) is None:
                created = kube.create(_cpu_node(name, zone))
                kube.patch_status(created, {"capacity": resources, "allocatable": resources})
        wait_nodes_ready(kube, set(names))
    return names


@pytest.fixture
def kube(serving_cluster: Path, cpu_nodes: list[str]) -> Iterator[Kube]:
    assert cpu_nodes
    with Kube(load_connection(str(serving_cluster))) as client:
        yield client


def _rendered(kube: Kube, example: str) -> list[dict[str, Any]]:
    return load_inputs(kube, [str(EXAMPLES / example)])


@pytest.fixture
def applied(kube: Kube) -> Iterator[list[dict[str, Any]]]:
    """Objects the test applies (append, then apply), deleted after it, and their pods
    awaited gone, so that the GPUs they held are free for the next test."""
    objects: list[dict[str, Any]] = []
    yield objects
    for obj in reversed(objects):
        meta = obj["metadata"]
        kube.delete(obj["apiVersion"], obj["kind"], meta["name"], meta.get("namespace"))
    for obj in objects:
        if obj["kind"] == "InferenceService":
            meta = obj["metadata"]
            name, namespace = meta["name"], meta["namespace"]
            until(f"pods of {name} gone", partial(_gone, kube, name, namespace), timeout=120)


def _gone(kube: Kube, name: str, namespace: str) -> bool:
    return not _pods(kube, name, namespace)


def _apply(kube: Kube, applied: list[dict[str, Any]], objects: list[dict[str, Any]]) -> None:
    applied.extend(objects)
    apply_objects(kube, objects)


def _isvc(kube: Kube, name: str, namespace: str = SERVING_NS) -> dict[str, Any]:
    return kube.get(ISVC, "InferenceService", name, namespace) or {}


def _pods(kube: Kube, name: str, namespace: str = SERVING_NS) -> list[dict[str, Any]]:
    return kube.list("v1", "Pod", namespace, f"{ISVC_LABEL}={name}")


def _ready(obj: dict[str, Any]) -> bool:
    return condition(obj, "Ready").get("status") == "True"


def _wait_ready(kube: Kube, name: str, timeout: float = 180) -> dict[str, Any]:
    return until(
        f"InferenceService {name} Ready",
        lambda: i if _ready(i := _isvc(kube, name)) else None,
        timeout=timeout,
    )


def _conditions(obj: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["type"]: c for c in obj.get("status", {}).get("conditions", [])}


def test_sklearn_iris_and_llama_chat_become_ready_through_kserve(
    kube: Kube, applied: list[dict[str, Any]]
) -> None:
    objects = _rendered(kube, "sklearn-iris.yaml") + _rendered(kube, "llm-endpoint.yaml")
    _apply(kube, applied, objects)
    for name, uri in (
        ("sklearn-iris", "gs://your-bucket/sklearn/iris"),
        ("llama-chat", "hf://meta-llama/Llama-3.1-8B-Instruct"),
    ):
        isvc = _wait_ready(kube, name)
        # Standard mode's condition set (no Knative route/configuration ones): all True
        # but Stopped, KServe's informational "not stopped".
        statuses = {t: c["status"] for t, c in _conditions(isvc).items()}
        assert statuses == {
            "IngressReady": "True", "PredictorReady": "True", "Ready": "True", "Stopped": "False"
        }  # fmt: skip
        # The model's state follows in KServe's next reconcile (PropagateModelStatus
        # reads the Ready it set the time before).
        model = until(f"{name}'s model loaded", partial(_model_loaded, kube, name))
        assert model["states"] == {"activeModelState": "Loaded", "targetModelState": "Loaded"}
        assert isvc["status"]["deploymentMode"] == "Standard"
        # KServe made the Deployment; its pod mutator injected the storage-initializer.
        deployment = kube.get("apps/v1", "Deployment", f"{name}-predictor", SERVING_NS)
        assert deployment is not None
        assert deployment["metadata"]["ownerReferences"][0]["kind"] == "InferenceService"
        pods = _pods(kube, name)
        for pod in pods:
            (init,) = pod["spec"]["initContainers"]
            assert init["name"] == "storage-initializer" and init["args"][0] == uri
            assert _ready(pod)
    # Ready needs the Deployment Available, not every replica: wait for the three.
    pods = until("3 llama-chat pods ready", partial(_ready_pods, kube, "llama-chat", 3))
    zones = {_zone(kube, p["spec"]["nodeName"]) for p in pods}
    assert len(zones) >= 2, zones


def _ready_pods(kube: Kube, name: str, count: int) -> list[dict[str, Any]] | None:
    pods = [p for p in _pods(kube, name) if _ready(p)]
    return pods if len(pods) >= count else None


def _model_loaded(kube: Kube, name: str) -> dict[str, Any] | None:
    model: dict[str, Any] = _isvc(kube, name).get("status", {}).get("modelStatus", {})
    return model if model.get("transitionStatus") == "UpToDate" else None


def _zone(kube: Kube, node: str) -> str:
    found = kube.get("v1", "Node", node)
    assert found is not None
    return str(found["metadata"]["labels"][ZONE_LABEL])


def _budget(kube: Kube) -> dict[str, Any]:
    return kube.get("policy/v1", "PodDisruptionBudget", "llama-chat", SERVING_NS) or {}


def test_llama_chat_budget_refuses_an_eviction_that_would_break_it(
    kube: Kube, applied: list[dict[str, Any]]
) -> None:
    """maxUnavailable 1 over 3 pods. One pod made unready (as a failing readiness probe
    makes it) uses the whole budget: evicting another is refused with 429; once it is
    ready again, the budget allows one eviction."""
    _apply(kube, applied, _rendered(kube, "llm-endpoint.yaml"))
    _wait_ready(kube, "llama-chat")
    budget = until(
        "the budget sees 3 healthy pods",
        lambda: b if (b := _budget(kube)).get("status", {}).get("currentHealthy", 0) >= 3 else None,
    )
    assert budget["spec"]["maxUnavailable"] == 1
    first, second, *_ = sorted(_pods(kube, "llama-chat"), key=lambda p: p["metadata"]["name"])
    # The kubelet's view of a failing probe; the annotation keeps KWOK from undoing it.
    kube.patch(
        "v1",
        "Pod",
        first["metadata"]["name"],
        {"metadata": {"annotations": {FAIL_ANNOTATION: UNREADY}}},
        SERVING_NS,
    )
    conditions = [
        {**c, "status": "False"} if c["type"] in ("Ready", "ContainersReady") else c
        for c in first["status"]["conditions"]
    ]
    kube.patch_status({"apiVersion": "v1", "kind": "Pod", **first}, {"conditions": conditions})
    until(
        "no disruption allowed",
        lambda: (
            _budget(kube)["status"]["disruptionsAllowed"] == 0
            and _budget(kube)["status"]["currentHealthy"] == 2
        ),
    )
    with pytest.raises(ApiError) as refused:
        kube.evict(second["metadata"]["name"], SERVING_NS, second["metadata"]["uid"])
    assert refused.value.status == 429
    assert "disruption budget" in refused.value.message
    assert kube.get("v1", "Pod", second["metadata"]["name"], SERVING_NS) is not None
    # Ready again: one disruption allowed, and the eviction goes through.
    kube.patch(
        "v1",
        "Pod",
        first["metadata"]["name"],
        {"metadata": {"annotations": {FAIL_ANNOTATION: None}}},
        SERVING_NS,
    )
    until("one disruption allowed", lambda: _budget(kube)["status"]["disruptionsAllowed"] == 1)
    kube.evict(second["metadata"]["name"], SERVING_NS, second["metadata"]["uid"])
    until(
        "the evicted pod gone",
        lambda: kube.get("v1", "Pod", second["metadata"]["name"], SERVING_NS) is None,
    )


def _variant(
    kube: Kube, name: str, annotations: dict[str, str], **predictor: Any
) -> list[dict[str, Any]]:
    """The sklearn-iris endpoint under another name, one replica, with pod annotations
    (KServe copies ``spec.predictor.annotations`` onto the predictor pods)."""
    (isvc,) = [o for o in _rendered(kube, "sklearn-iris.yaml") if o["kind"] == "InferenceService"]
    isvc["metadata"]["name"] = name
    spec = isvc["spec"]["predictor"]
    spec.update(minReplicas=1, maxReplicas=1, annotations=annotations, **predictor)
    spec.pop("scaleMetric", None)
    spec.pop("scaleTarget", None)
    return [isvc]


def test_a_readiness_probe_makes_the_pod_wait_its_initial_delay(
    kube: Kube, applied: list[dict[str, Any]]
) -> None:
    delay = 6
    objects = _variant(kube, "iris-slow", {})
    model = objects[0]["spec"]["predictor"]["model"]
    model["readinessProbe"] = {
        "httpGet": {"path": "/v1/models/iris-slow", "port": 8080},
        "initialDelaySeconds": delay,
    }
    _apply(kube, applied, objects)
    _wait_ready(kube, "iris-slow")
    (pod,) = _pods(kube, "iris-slow")
    started = pod["status"]["containerStatuses"][0]["state"]["running"]["startedAt"]
    ready = condition(pod, "Ready")["lastTransitionTime"]
    waited = _time(ready) - _time(started)
    assert delay <= waited < delay + 30, waited


def _time(stamp: str) -> float:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def test_a_failing_readiness_probe_keeps_the_endpoint_not_ready(
    kube: Kube, applied: list[dict[str, Any]]
) -> None:
    _apply(kube, applied, _variant(kube, "iris-unready", {FAIL_ANNOTATION: UNREADY}))
    pod = until(
        "the pod running",
        lambda: next(
            (p for p in _pods(kube, "iris-unready") if p["status"].get("phase") == "Running"), None
        ),
    )
    assert condition(pod, "Ready")["status"] == "False"
    assert condition(pod, "Ready")["reason"] == "ContainersNotReady"
    events = until(
        "the probe's event",
        lambda: [
            e
            for e in kube.list("v1", "Event", SERVING_NS)
            if e["involvedObject"]["name"] == pod["metadata"]["name"] and e["reason"] == "Unhealthy"
        ],
    )
    assert events[0]["message"].startswith("Readiness probe failed:")
    isvc = until("KServe's verdict", partial(_predictor_not_ready, kube, "iris-unready"))
    # KServe copies the Deployment's Available condition, and Ready waits on the ingress,
    # which is made only for a ready predictor (kube_ingress_reconciler.go).
    conditions = _conditions(isvc)
    assert conditions["PredictorReady"]["reason"] == "MinimumReplicasUnavailable"
    assert conditions["PredictorReady"]["message"] == (
        "Deployment does not have minimum availability."
    )
    assert conditions["Ready"]["status"] == "False"
    assert conditions["Ready"]["reason"] == "Predictor ingress not created"
    assert isvc["status"]["modelStatus"]["transitionStatus"] == "InProgress"


def _predictor_not_ready(kube: Kube, name: str) -> dict[str, Any] | None:
    """Not ready for a reason: until the Deployment has an Available condition to copy,
    KServe says False without one (PropagateRawStatusWithMessages)."""
    ready = condition(isvc := _isvc(kube, name), "PredictorReady")
    return isvc if ready.get("status") == "False" and ready.get("reason") else None


@pytest.mark.parametrize(
    "case",
    [
        ("OOMKilled", "OOMKilled", 137, "Copying contents of gs://your-bucket/sklearn/iris"),
        (
            "BadStorageUri",
            "Error",
            1,
            "Failed to fetch model. No model found in gs://your-bucket/sklearn/iris.",
        ),
    ],
)
def test_a_failing_storage_initializer_blocks_the_model(
    kube: Kube, applied: list[dict[str, Any]], case: tuple[str, str, int, str]
) -> None:
    failure, reason, exit_code, says = case
    name = f"iris-{failure.lower()}"
    _apply(kube, applied, _variant(kube, name, {FAIL_INIT_ANNOTATION: failure}))
    isvc = until(
        "KServe's verdict",
        lambda: (
            i
            if (i := _isvc(kube, name))
            .get("status", {})
            .get("modelStatus", {})
            .get("transitionStatus")
            == "BlockedByFailedLoad"
            else None
        ),
        timeout=120,
    )
    model = isvc["status"]["modelStatus"]
    assert model["states"]["targetModelState"] == "FailedToLoad"
    info = model["lastFailureInfo"]
    assert info["reason"] == "ModelLoadFailed" and info["exitCode"] == exit_code
    assert says in info["message"]
    assert not _ready(isvc)
    (pod,) = _pods(kube, name)
    (init,) = pod["status"]["initContainerStatuses"]
    assert init["lastState"]["terminated"]["reason"] == reason
    assert init["state"]["waiting"]["reason"] == "CrashLoopBackOff"
    assert pod["status"]["phase"] == "Pending"


def test_a_development_endpoint_is_rejected_without_knative(
    kube: Kube, applied: list[dict[str, Any]]
) -> None:
    objects = _rendered(kube, "dev-endpoint.yaml")
    (isvc_obj,) = [o for o in objects if o["kind"] == "InferenceService"]
    assert isvc_obj["metadata"]["annotations"]["serving.kserve.io/deploymentMode"] == "Knative"
    _apply(kube, applied, objects)
    namespace = isvc_obj["metadata"]["namespace"]
    events = until(
        "KServe's rejection",
        lambda: [
            e
            for e in kube.list("v1", "Event", namespace)
            if e["involvedObject"]["name"] == "llama-dev"
            and e["reason"] == "ServerlessModeRejected"
        ],
    )
    assert events[0]["type"] == "Warning"
    assert "Knative Services are not available" in events[0]["message"]
    isvc = until("its status", partial(_with_conditions, kube, "llama-dev", namespace))
    # Initialised, then left: the reconciler stops before making anything.
    statuses = {t: c["status"] for t, c in _conditions(isvc).items()}
    assert statuses == {"IngressReady": "Unknown", "PredictorReady": "Unknown", "Ready": "Unknown"}
    assert isvc["status"]["deploymentMode"] == "Knative"
    assert kube.get("apps/v1", "Deployment", "llama-dev-predictor", namespace) is None
    assert not _pods(kube, "llama-dev", namespace)


def _with_conditions(kube: Kube, name: str, namespace: str) -> dict[str, Any] | None:
    isvc = _isvc(kube, name, namespace)
    return isvc if isvc.get("status", {}).get("conditions") else None
