"""An InferenceService with the objects KServe's Standard mode would create for it,
made by hand until the KServe controller runs on the local cluster (issue 16 §1).

Shapes imitated (kserve/kserve v0.20):
- pkg/controller/v1beta1/inferenceservice/reconcilers/deployment/deployment_reconciler.go:
  a Deployment ``<name>-predictor`` owned by the isvc, pods labelled
  ``serving.kserve.io/inferenceservice``, ``component: predictor``,
  ``app: isvc.<name>-predictor``, container ``kserve-container``;
- reconcilers/hpa/hpa_reconciler.go: an autoscaling/v2 HPA on that Deployment;
- pkg/apis/serving/v1beta1/inference_service_status.go: ``PredictorReady`` copied from
  the Deployment's Available condition, ``IngressReady``, and ``Ready`` when both are.
The Deployment controller, scheduler, KWOK and HPA controller that act on them are real.
"""

from __future__ import annotations

import json
from typing import Any

from mlkube.cluster.client import Kube
from mlkube.wellknown import ISVC_LABEL, ZONE_LABEL

ISVC_API = "serving.kserve.io/v1beta1"
GPU_METRIC = "DCGM_FI_DEV_GPU_UTIL"


def isvc(kube: Kube, namespace: str, name: str, *, mode: str, min_replicas: int) -> dict[str, Any]:
    """The InferenceService as mlkube renders it (annotation and predictor bounds)."""
    model = {"modelFormat": {"name": "sklearn"}, "storageUri": "gs://kfserving-examples/iris"}
    obj = {
        "apiVersion": ISVC_API,
        "kind": "InferenceService",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "annotations": {"serving.kserve.io/deploymentMode": mode},
        },
        "spec": {"predictor": {"minReplicas": min_replicas, "maxReplicas": 4, "model": model}},
    }
    return kube.create(obj)


def predictor(kube: Kube, owner: dict[str, Any], replicas: int, **container: Any) -> None:
    """The predictor Deployment, one GPU a pod on the T4 pool, spread over zones."""
    name, namespace = owner["metadata"]["name"], owner["metadata"]["namespace"]
    labels = {ISVC_LABEL: name, "component": "predictor", "app": f"isvc.{name}-predictor"}
    spec = {
        "containers": [
            {
                "name": "kserve-container",
                "image": "kserve/sklearnserver:v0.20.0",
                "resources": {"limits": {"nvidia.com/gpu": "1"}},
                **container,
            }
        ],
        "tolerations": [{"operator": "Exists"}],
        "nodeSelector": {"mlkube.dev/pool": "t4"},
        "topologySpreadConstraints": [
            {
                "maxSkew": 1,
                "topologyKey": ZONE_LABEL,
                "whenUnsatisfiable": "DoNotSchedule",
                "labelSelector": {"matchLabels": {ISVC_LABEL: name}},
            }
        ],
    }
    ref = {
        "apiVersion": ISVC_API,
        "kind": "InferenceService",
        "name": name,
        "uid": owner["metadata"]["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }
    kube.create({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": f"{name}-predictor", "namespace": namespace, "labels": labels,
                     "ownerReferences": [ref]},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": f"isvc.{name}-predictor"}},
            "template": {"metadata": {"labels": labels}, "spec": spec},
        },
    })  # fmt: skip


def autoscaler(kube: Kube, namespace: str, name: str, low: int, high: int) -> None:
    """The GPU HPA mlkube renders (render/serving.py): named like the endpoint."""
    target = {"type": "AverageValue", "averageValue": "70"}
    kube.create({
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment",
                               "name": f"{name}-predictor"},
            "minReplicas": low,
            "maxReplicas": high,
            "metrics": [{"type": "Pods", "pods": {"metric": {"name": GPU_METRIC},
                                                  "target": target}}],
        },
    })  # fmt: skip


def report_ready(kube: Kube, namespace: str, name: str) -> None:
    """Write the status KServe's raw reconciler writes once the predictor Deployment is
    Available (PropagateRawStatus), through the status subresource as KServe does."""
    obj = kube.get(ISVC_API, "InferenceService", name, namespace)
    assert obj is not None
    now = "2026-12-07T12:00:00Z"
    conditions = [
        {"type": t, "status": "True", "lastTransitionTime": now}
        for t in ("IngressReady", "PredictorReady", "Ready")
    ]
    obj["status"] = {
        "conditions": conditions,
        "deploymentMode": "Standard",
        "modelStatus": {
            "transitionStatus": "UpToDate",
            "states": {"activeModelState": "Loaded", "targetModelState": "Loaded"},
        },
    }
    kube.request(
        "PUT",
        f"/apis/{ISVC_API}/namespaces/{namespace}/inferenceservices/{name}/status",
        content=json.dumps(obj),
        headers={"Content-Type": "application/json"},
    )
