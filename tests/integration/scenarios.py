"""Workload-level failures for doctor, set up on a live cluster: a quota that refuses
pods, a distributed job that cannot start all its ranks, a NetworkPolicy that cuts it
off, endpoints with no pods, an HPA that cannot read its metric."""

from __future__ import annotations

from typing import Any

from mlkube.cluster.apply import apply_objects
from mlkube.cluster.client import Kube
from mlkube.localcluster.stages import FAIL_ANNOTATION

from .jobs import training_job


def _job(name: str, namespace: str, nodes: int) -> dict[str, Any]:
    (job,) = training_job(
        name, nodes=nodes, gpus=8, namespace=namespace, queue=None, priority=None, run="1h"
    )
    return job


def pod(
    kube: Kube,
    namespace: str,
    name: str,
    *,
    fail: str | None = None,
    gpus: int = 1,
    tolerate: bool = True,
    select: dict[str, str] | None = None,
    image: str = "registry.example/trainer:1.0",
) -> None:
    """A pod on the T4 pool (unless ``select`` says otherwise), failing as KWOK's
    ``kwok.mlkube.dev/fail`` annotation asks, if given."""
    limits = {"memory": "8Gi", **({"nvidia.com/gpu": str(gpus)} if gpus else {})}
    container = {"name": "trainer", "image": image,
                 "resources": {"requests": {"memory": "8Gi"}, "limits": limits}}  # fmt: skip
    spec: dict[str, Any] = {"containers": [container]}
    if tolerate:
        spec["tolerations"] = [{"operator": "Exists"}]
    spec["nodeSelector"] = select or {"mlkube.dev/pool": "t4"}
    annotations = {FAIL_ANNOTATION: fail} if fail else {}
    meta = {"name": name, "namespace": namespace, "annotations": annotations}
    kube.apply(_namespace(namespace))
    kube.create({"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec})


def _obj(api: str, kind: str, name: str, namespace: str | None, **fields: Any) -> dict[str, Any]:
    meta = {"name": name, "namespace": namespace} if namespace else {"name": name}
    return {"apiVersion": api, "kind": kind, "metadata": meta, **fields}


def _namespace(name: str) -> dict[str, Any]:
    return _obj("v1", "Namespace", name, None)


def _t4_pod_spec(container: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "containers": [container],
        "tolerations": [{"operator": "Exists"}],
        "nodeSelector": {"mlkube.dev/pool": "t4"},
        **extra,
    }


_ONE_GPU = {"limits": {"nvidia.com/gpu": "1"}}


def quota(kube: Kube, namespace: str, parallelism: int) -> None:
    """A batch Job of ``parallelism`` one-GPU pods under a one-GPU quota."""
    spec = _t4_pod_spec({"name": "c", "image": "x:1", "resources": _ONE_GPU}, restartPolicy="Never")
    job = {"parallelism": parallelism, "completions": parallelism, "template": {"spec": spec}}
    apply_objects(
        kube,
        [
            _namespace(namespace),
            _obj("v1", "ResourceQuota", "gpu", namespace,
                 spec={"hard": {"requests.nvidia.com/gpu": "1"}}),
            _obj("batch/v1", "Job", "batch", namespace, spec=job),
        ],
    )  # fmt: skip


def distributed(kube: Kube, namespace: str, nodes: int, deny: bool) -> None:
    """A training job of ``nodes`` 8-GPU pods on the 2-node A100 pool, not queued."""
    objs: list[dict[str, Any]] = [_namespace(namespace), _job("dist", namespace, nodes)]
    if deny:
        deny_all = {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
        objs.append(
            _obj("networking.k8s.io/v1", "NetworkPolicy", "default-deny", namespace, spec=deny_all)
        )
    apply_objects(kube, objs)


def endpoint(kube: Kube, namespace: str, min_replicas: int) -> None:
    """An InferenceService (no KServe controller runs here: it gets no pods)."""
    model = {"modelFormat": {"name": "sklearn"}, "storageUri": "gs://b/iris"}
    spec = {"predictor": {"minReplicas": min_replicas, "model": model}}
    isvc = _obj("serving.kserve.io/v1beta1", "InferenceService", "iris", namespace, spec=spec)
    apply_objects(kube, [_namespace(namespace), isvc])


def autoscaler(kube: Kube, namespace: str, replicas: int) -> None:
    """A GPU Deployment and an HPA on a Pods metric no adapter serves."""
    container = {"name": "s", "image": "server:1", "resources": _ONE_GPU}
    template = {"metadata": {"labels": {"app": "llm"}}, "spec": _t4_pod_spec(container)}
    deployment = {
        "replicas": replicas,
        "selector": {"matchLabels": {"app": "llm"}},
        "template": template,
    }
    target = {"type": "AverageValue", "averageValue": "70"}
    metric = {
        "type": "Pods",
        "pods": {"metric": {"name": "DCGM_FI_DEV_GPU_UTIL"}, "target": target},
    }
    hpa = {
        "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "llm"},
        "minReplicas": 1,
        "maxReplicas": 4,
        "metrics": [metric],
    }
    apply_objects(
        kube,
        [
            _namespace(namespace),
            _obj("apps/v1", "Deployment", "llm", namespace, spec=deployment),
            _obj("autoscaling/v2", "HorizontalPodAutoscaler", "llm", namespace, spec=hpa),
        ],
    )
