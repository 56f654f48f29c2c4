"""What an InferenceService's status leaves out: the predictor Deployment KServe's
Standard mode creates, its ready pods per zone, and the HPA that scales it.

KServe (v0.20, pkg/controller/v1beta1/inferenceservice/reconcilers/raw) names the
predictor Deployment ``<name>-predictor`` and labels its pods
``serving.kserve.io/inferenceservice=<name>``; the isvc's ``PredictorReady`` comes
from that Deployment's Available condition. The zone of a ready pod is its node's
``topology.kubernetes.io/zone``. The HPA is whichever one targets the Deployment:
KServe's own (named like it) or the GPU one mlkube renders (named like the endpoint).
`summary` is pure; `gather` reads the objects it needs (one GET each, one HPA list).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from mlkube.cluster.client import Kube, NotServed
from mlkube.manifests.objects import condition, deployment_mode
from mlkube.wellknown import KNATIVE_MODES, ZONE_LABEL

__all__ = ["KNATIVE_MODES"]  # status reads it here

KNATIVE_SERVICE = ("serving.knative.dev/v1", "Service")


def predictor_name(isvc: dict[str, Any]) -> str:
    return f"{isvc['metadata']['name']}-predictor"


def ready(pod: dict[str, Any]) -> bool:
    return bool(
        pod.get("status", {}).get("phase") == "Running"
        and condition(pod, "Ready").get("status") == "True"
    )


def zones(pods: list[dict[str, Any]], node_zone: dict[str, str]) -> dict[str, int]:
    """Ready pods per zone (``unknown`` for a node without the zone label)."""
    counted = Counter(
        node_zone.get(str(p["spec"].get("nodeName")), "unknown") for p in pods if ready(p)
    )
    return dict(sorted(counted.items()))


def _quantity(value: Any) -> str | None:
    return None if value is None else str(value)


def _metric_values(hpa: dict[str, Any]) -> list[dict[str, Any]]:
    """Each metric of the HPA: its name, the value the controller last read (None when it
    could not read it) and the target."""
    current: dict[str, dict[str, Any]] = {}
    for m in (hpa.get("status") or {}).get("currentMetrics") or []:
        kind = str(m.get("type", ""))
        body = m.get(kind[:1].lower() + kind[1:]) or {}
        name = (body.get("metric") or {}).get("name") or body.get("name") or kind
        current[str(name)] = body.get("current") or {}
    out = []
    for m in (hpa.get("spec") or {}).get("metrics") or []:
        kind = str(m.get("type", ""))
        body = m.get(kind[:1].lower() + kind[1:]) or {}
        name = str((body.get("metric") or {}).get("name") or body.get("name") or kind)
        target = body.get("target") or {}
        now = current.get(name, {})
        out.append({
            "name": name,
            "current": _quantity(
                now.get("averageValue") or now.get("value") or now.get("averageUtilization")
            ),
            "target": _quantity(
                target.get("averageValue") or target.get("value")
                or target.get("averageUtilization")
            ),
        })  # fmt: skip
    return out


def autoscaler(hpa: dict[str, Any]) -> dict[str, Any]:
    spec, status = hpa.get("spec") or {}, hpa.get("status") or {}
    active = condition(hpa, "ScalingActive")
    # The controller writes desiredReplicas 0 when it could not compute it: not a wish.
    computed = active.get("status") != "False"
    out: dict[str, Any] = {
        "name": hpa["metadata"]["name"],
        "current": int(status.get("currentReplicas") or 0),
        "desired": int(status.get("desiredReplicas") or 0) if computed else None,
        "min": int(spec.get("minReplicas") or 1),
        "max": int(spec.get("maxReplicas") or 0),
        "metrics": _metric_values(hpa),
    }
    if not computed:
        out["message"] = f"{active.get('reason')}: {active.get('message', '')}"
    return out


def targets(hpa: dict[str, Any], deployment: str) -> bool:
    ref = (hpa.get("spec") or {}).get("scaleTargetRef") or {}
    return bool(ref.get("kind") == "Deployment" and ref.get("name") == deployment)


def summary(
    isvc: dict[str, Any],
    deployment: dict[str, Any] | None,
    pods: list[dict[str, Any]],
    node_zone: dict[str, str],
    hpas: list[dict[str, Any]],
) -> dict[str, Any]:
    """The endpoint's serving facts, from objects already read."""
    name = predictor_name(isvc)
    out: dict[str, Any] = {"mode": deployment_mode(isvc), "deployment": None}
    if deployment is not None:
        status = deployment.get("status") or {}
        out["deployment"] = name
        out["replicas"] = {
            "desired": int((deployment.get("spec") or {}).get("replicas") or 0),
            "ready": int(status.get("readyReplicas") or 0),
        }
    out["zones"] = zones(pods, node_zone)
    hpa = next((h for h in hpas if targets(h, name)), None)
    if hpa is not None:
        out["autoscaler"] = autoscaler(hpa)
    return out


def shortfall(isvc: dict[str, Any], endpoint: dict[str, Any]) -> str | None:
    """Why an endpoint KServe reports Ready is not yet at the size it asks for, or None.

    KServe's Ready follows the predictor Deployment's Available condition, which one
    ready pod satisfies; with an external autoscaler (what mlkube renders for GPU
    endpoints) KServe even creates the Deployment at one replica and leaves the HPA to
    raise it. A user waiting for Ready expects the endpoint's own floor: the
    predictor's minReplicas (KServe's default 1), the HPA's minReplicas when one scales
    it, else the Deployment's replicas (nothing but a person changes them). Replicas
    an HPA adds above its minimum follow the load: they are not waited for. A
    Knative-mode endpoint has no such Deployment here: KServe's word stands."""
    replicas = endpoint.get("replicas")
    if replicas is None:
        return None
    predictor = (isvc.get("spec") or {}).get("predictor") or {}
    floors = [(int(predictor.get("minReplicas", 1) or 0), "its minReplicas")]
    hpa = endpoint.get("autoscaler")
    if hpa is not None:
        floors.append((int(hpa["min"]), f"HPA {hpa['name']} minReplicas"))
    else:
        floors.append((int(replicas["desired"]), f"Deployment {endpoint['deployment']} replicas"))
    needed, why = max(floors, key=lambda f: f[0])
    if replicas["ready"] >= needed:
        return None
    return (
        f"KServe reports Ready, but {replicas['ready']} of the {needed} predictor pods "
        f"it should run ({why} {needed}) are ready"
    )


def knative_served(kube: Kube) -> bool:
    try:
        kube.resource(*KNATIVE_SERVICE)
    except NotServed:
        return False
    return True


def gather(kube: Kube, isvc: dict[str, Any], pods: list[dict[str, Any]]) -> dict[str, Any]:
    """`summary` of the live objects: the Deployment, the nodes of the ready pods (for
    their zones) and the namespace's HPAs."""
    namespace = isvc["metadata"]["namespace"]
    deployment = kube.get("apps/v1", "Deployment", predictor_name(isvc), namespace)
    node_zone: dict[str, str] = {}
    for node_name in sorted({str(p["spec"].get("nodeName")) for p in pods if ready(p)}):
        node = kube.get("v1", "Node", node_name)
        labels = ((node or {}).get("metadata") or {}).get("labels") or {}
        if ZONE_LABEL in labels:
            node_zone[node_name] = str(labels[ZONE_LABEL])
    try:
        hpas = kube.list("autoscaling/v2", "HorizontalPodAutoscaler", namespace)
    except NotServed:
        hpas = []
    return summary(isvc, deployment, pods, node_zone, hpas)


def describe(endpoint: dict[str, Any]) -> str:
    """``2/3 ready: us-east-1a 1, us-east-1b 1; HPA llm 2 (desired 3, 1-4),
    DCGM_FI_DEV_GPU_UTIL 95/70`` for a status line."""
    parts = []
    replicas = endpoint.get("replicas")
    if replicas is not None:
        where = ", ".join(f"{z} {n}" for z, n in endpoint.get("zones", {}).items())
        parts.append(
            f"{replicas['ready']}/{replicas['desired']} ready" + (f": {where}" if where else "")
        )
    hpa = endpoint.get("autoscaler")
    if hpa is not None:
        values = ", ".join(
            f"{m['name']} {m['current'] if m['current'] is not None else '?'}/{m['target']}"
            for m in hpa["metrics"]
        )
        parts.append(
            f"HPA {hpa['name']} {hpa['current']} (desired "
            f"{hpa['desired'] if hpa['desired'] is not None else '?'}, "
            f"{hpa['min']}-{hpa['max']})" + (f", {values}" if values else "")
        )
    return "; ".join(parts)
