"""GPU autoscaling latency on the local cluster: from the moment GPU utilisation crosses
the HPA's target to the first new predictor pod Ready, broken down by stage.

On a cluster of its own (``cluster up --gpu-metrics``, examples/platform.yaml), the HPA
mlkube renders for examples/llm-endpoint.yaml (3 to 9 replicas, target 70 %) on a
predictor Deployment shaped as KServe's (until KServe's controller runs here, issue 16
§1). Each run starts from 3 Ready pods at 40 % that the HPA has read, then sets 95 %
on all of them (t = 0) and records when

1. Prometheus has scraped 95 for every pod            (scrape interval, 5 s)
2. the custom metrics API answers 95 for every pod    (prometheus-adapter)
3. the Deployment asks for more replicas              (HPA controller, 15 s sync)
4. the first new pod is bound to a node               (ReplicaSet controller, scheduler)
5. the first new pod is Ready                         (KWOK)

Stages are polled every 50 ms, so each time is late by up to that much. Between runs
every pod is set to 40 % until the HPA has scaled back to 3 (the endpoint's scale-down
window is 20 s here, as in the integration test).

    python bench/serving_scaleup.py [--runs N]

The helpers here (the rendered endpoint, the KServe-shaped predictor Deployment) are
also what tests/integration/test_gpu_autoscaling.py runs on.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from mlkube.cluster.client import Kube
from mlkube.cluster.kubeconfig import load_connection
from mlkube.localcluster import cluster
from mlkube.localcluster.gpumetrics import UTILIZATION_ANNOTATION
from mlkube.manifests.objects import condition
from mlkube.manifests.yamlstream import read_text
from mlkube.quantity import parse_quantity
from mlkube.render import render_specs
from mlkube.spec import Platform, load_platform, load_specs
from mlkube.wait import until

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
ISVC, NAMESPACE = "llama-chat", "ml-serving"  # examples/llm-endpoint.yaml
SELECTOR = f"app=isvc.{ISVC}-predictor"
HPA = ("autoscaling/v2", "HorizontalPodAutoscaler")
METRIC = "DCGM_FI_DEV_GPU_UTIL"


def endpoint_bundle(scale_down_seconds: int | None = None) -> list[dict[str, Any]]:
    """What mlkube renders for examples/llm-endpoint.yaml on examples/platform.yaml,
    optionally with ``autoscaling.scaleDownStabilizationSeconds``."""
    doc = yaml.safe_load((EXAMPLES / "llm-endpoint.yaml").read_text())
    if scale_down_seconds is not None:
        doc["spec"]["autoscaling"]["scaleDownStabilizationSeconds"] = scale_down_seconds
    platform = load_platform(str(EXAMPLES / "platform.yaml")).spec
    assert isinstance(platform, Platform)
    files = load_specs(read_text(yaml.safe_dump(doc), "llm-endpoint.yaml"))
    return render_specs(files, known=platform)


def one(bundle: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    (obj,) = [o for o in bundle if o["kind"] == kind]
    return obj


def predictor_deployment(isvc: dict[str, Any]) -> dict[str, Any]:
    """The Deployment KServe's Standard mode makes of an InferenceService's predictor
    (kserve pkg/controller/v1beta1/inferenceservice/reconcilers/deployment): named
    ``<isvc>-predictor``, KServe's labels, one ``kserve-container`` with the model's
    resources, and the predictor's placement."""
    name = isvc["metadata"]["name"]
    predictor = isvc["spec"]["predictor"]
    labels = {
        "serving.kserve.io/inferenceservice": name,
        "app": f"isvc.{name}-predictor",
        "component": "predictor",
    }
    pod_spec: dict[str, Any] = {
        "containers": [
            {
                "name": "kserve-container",
                "image": "kserve/huggingfaceserver:v0.20.0",
                "resources": predictor["model"]["resources"],
            }
        ],
    }
    for key in ("nodeSelector", "tolerations", "priorityClassName", "topologySpreadConstraints"):
        if key in predictor:
            pod_spec[key] = predictor[key]
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": f"{name}-predictor",
            "namespace": isvc["metadata"]["namespace"],
            "labels": labels,
        },
        "spec": {
            "replicas": predictor["minReplicas"],
            "selector": {"matchLabels": {"app": labels["app"]}},
            "template": {"metadata": {"labels": labels}, "spec": pod_spec},
        },
    }


def predictor_pods(kube: Kube) -> list[dict[str, Any]]:
    pods = kube.list("v1", "Pod", NAMESPACE, SELECTOR)
    return [p for p in pods if not p["metadata"].get("deletionTimestamp")]


def ready_pods(kube: Kube) -> list[dict[str, Any]]:
    return [p for p in predictor_pods(kube) if condition(p, "Ready").get("status") == "True"]


def set_utilization(kube: Kube, percent: int) -> list[str]:
    """Annotate every predictor pod with ``percent``; the pods' names."""
    names = []
    for pod in predictor_pods(kube):
        body = {"metadata": {"annotations": {UTILIZATION_ANNOTATION: str(percent)}}}
        kube.patch("v1", "Pod", pod["metadata"]["name"], body, NAMESPACE)
        names.append(pod["metadata"]["name"])
    return names


def hpa_value(kube: Kube) -> str | None:
    """The HPA's current average of the metric, while ScalingActive; else None."""
    hpa = kube.get(*HPA, ISVC, NAMESPACE)
    if hpa is None or condition(hpa, "ScalingActive").get("status") != "True":
        return None
    for metric in (hpa.get("status") or {}).get("currentMetrics") or []:
        if metric.get("type") == "Pods":
            return str(metric["pods"]["current"]["averageValue"])
    return None


def replicas(kube: Kube) -> int:
    deployment = kube.get("apps/v1", "Deployment", f"{ISVC}-predictor", NAMESPACE)
    assert deployment is not None
    return int(deployment["spec"]["replicas"])


def deploy(kube: Kube, bundle: list[dict[str, Any]]) -> None:
    """The rendered adapter rules and HPA, and the predictor at minReplicas, Ready."""
    kube.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}})
    kube.apply(one(bundle, "ConfigMap"))
    deployment = predictor_deployment(one(bundle, "InferenceService"))
    kube.apply(deployment)
    wanted = deployment["spec"]["replicas"]
    until(f"{wanted} predictor pods Ready", lambda: len(ready_pods(kube)) == wanted or None,
          timeout=120)  # fmt: skip
    kube.apply(one(bundle, "HorizontalPodAutoscaler"))


# The benchmark ---------------------------------------------------------------------

POLL = 0.05


def _prometheus_min(port: int, names: list[str]) -> float | None:
    query = f'min({METRIC}{{namespace="{NAMESPACE}",pod=~"{"|".join(names)}"}})'
    answer = httpx.get(f"http://127.0.0.1:{port}/api/v1/query", params={"query": query}, timeout=5)
    result = answer.json()["data"]["result"]
    return float(result[0]["value"][1]) if result else None


def _adapter_values(kube: Kube, names: list[str]) -> list[float]:
    path = f"/apis/custom.metrics.k8s.io/v1beta2/namespaces/{NAMESPACE}/pods/*/{METRIC}"
    body = kube.request("GET", path, params={"labelSelector": SELECTOR})
    values = {i["describedObject"]["name"]: i["value"] for i in body.get("items") or []}
    return [parse_quantity(values[n]) or 0.0 for n in names if n in values]


def one_run(kube: Kube, prometheus_port: int, bundle: list[dict[str, Any]]) -> dict[str, float]:
    # Start: 3 Ready pods at 40 %, read by the HPA. From a previous run's 5 pods, 40 %
    # on each is ceil(5 × 40 / 70) = 3 after the scale-down window.
    def settled() -> bool:
        set_utilization(kube, 40)
        return len(ready_pods(kube)) == 3 and replicas(kube) == 3 and hpa_value(kube) == "40"

    until("3 Ready pods at 40 %, read by the HPA", lambda: settled() or None, timeout=240,
          every=2)  # fmt: skip
    before = {p["metadata"]["name"] for p in predictor_pods(kube)}

    t0 = time.monotonic()
    names = set_utilization(kube, 95)
    marks: dict[str, float] = {}

    def mark(stage: str, reached: Callable[[], bool]) -> None:
        until(stage, lambda: reached() or None, timeout=180, every=POLL)
        marks[stage] = time.monotonic() - t0

    def new_pods() -> list[dict[str, Any]]:
        return [p for p in predictor_pods(kube) if p["metadata"]["name"] not in before]

    mark("scraped", lambda: (_prometheus_min(prometheus_port, names) or 0) >= 95)
    mark("adapter", lambda: sorted(_adapter_values(kube, names)) == [95.0] * len(names))
    mark("hpa", lambda: replicas(kube) > 3)
    mark("bound", lambda: any(p["spec"].get("nodeName") for p in new_pods()))
    mark("ready", lambda: any(condition(p, "Ready").get("status") == "True" for p in new_pods()))
    return marks


def _spread(values: list[float]) -> str:
    return f"{statistics.median(values):6.2f}s [{min(values):.2f}, {max(values):.2f}]"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    name = f"bench-scaleup-{os.getpid()}"
    platform = load_platform(str(EXAMPLES / "platform.yaml"))
    try:
        cluster.up(name, platform, lambda m: print(f"  {m}"), gpu_metrics=True)
        port = cluster.State.load(cluster.cluster_root(name) / "state.json").ports["prometheus"]
        bundle = endpoint_bundle(scale_down_seconds=20)
        with Kube(load_connection(str(cluster.kubeconfig_path(name)))) as kube:
            deploy(kube, bundle)
            runs = []
            for i in range(args.runs):
                marks = one_run(kube, port, bundle)
                runs.append(marks)
                print(f"run {i + 1}: " + ", ".join(f"{k} {v:.2f}s" for k, v in marks.items()))
    finally:
        cluster.down(name, lambda _m: None)
    print("\nstage (time since the previous one): median [min, max] over", len(runs), "runs")
    previous = [0.0] * len(runs)
    for stage in runs[0]:
        deltas = [r[stage] - p for r, p in zip(runs, previous, strict=True)]
        previous = [r[stage] for r in runs]
        print(
            f"  {stage:8} {statistics.median(deltas):6.2f}s [{min(deltas):.2f}, {max(deltas):.2f}]"
        )
    totals = [r["ready"] for r in runs]
    print(f"  total    {statistics.median(totals):6.2f}s [{min(totals):.2f}, {max(totals):.2f}]")
    return 0


if __name__ == "__main__":
    sys.exit(main())
