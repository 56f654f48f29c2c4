"""Autoscaling latency of a KServe endpoint on the local cluster: from the moment the
load crosses the HPA's target to the first new predictor pod Ready, broken down by
stage, for mlkube's GPU HPA and, side by side, for the CPU-based HPA KServe makes itself.

On a cluster of its own (``cluster up --serving --gpu-metrics --cpu-metrics``,
examples/platform.yaml), the real KServe controller runs examples/llm-endpoint.yaml
as mlkube renders it (3 to 9 replicas) in one of two ways, alternating run by run:

- ``gpu``: as rendered, ``autoscalerClass: external`` and mlkube's HPA on
  ``DCGM_FI_DEV_GPU_UTIL`` (target 70) through Prometheus and prometheus-adapter; the
  load is the pods' ``kwok.mlkube.dev/gpu-utilization`` (the dcgm-exporter stand-in);
- ``cpu``: the guide's CPU-based HPA, which KServe creates itself: the same
  InferenceService without ``autoscalerClass`` and with ``scaleMetric: cpu``,
  ``scaleTarget: 70`` (an HPA on ``metrics.k8s.io``, 70 % of the CPU request), read by
  the real metrics-server from KWOK's kubelets; the load is the pods'
  ``kwok.x-k8s.io/usage-cpu`` (KWOK's resource usage emulation).

Each run applies the endpoint afresh (its pods born at 40 %), waits until it is Ready
with 3 pods and its HPA has read 40 %, waits a random 0-15 s (so that the load rises
at a random moment of the HPA's 15 s sync and of the scrapes, not just after a sync),
then sets 95 % on the three pods (t = 0) and records when

gpu: 1. Prometheus has scraped 95 for every pod       (scrape interval, 5 s)
     2. the custom metrics API answers 95 for them    (prometheus-adapter)
cpu: 1. metrics.k8s.io answers >= 90 % for every pod  (metrics-server's resolution, 15 s)
both 3. the Deployment asks for more replicas         (HPA controller, 15 s sync)
     4. the first new pod is bound to a node          (ReplicaSet controller, scheduler)
     5. the first new pod is Ready                    (KWOK)

and whether KServe wrote the predictor Deployment between t = 0 and then (its
``managedFields``: KServe leaves ``replicas`` to the HPA). Stages are polled every
50 ms, so each time is late by up to that much. The endpoint is then deleted.

    python bench/serving_scaleup.py [--runs N] [--seed S] [--json FILE]

The helpers here (the rendered endpoint, its pods, the HPA's reading) are also what
tests/integration/test_gpu_autoscaling.py and test_cpu_autoscaling.py run on.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from mlkube.cluster.apply import apply_objects
from mlkube.cluster.client import Kube
from mlkube.cluster.kubeconfig import load_connection
from mlkube.localcluster import cluster
from mlkube.localcluster.gpumetrics import UTILIZATION_ANNOTATION
from mlkube.localcluster.resource_metrics import CPU_USAGE_ANNOTATION
from mlkube.manifests.objects import condition
from mlkube.manifests.yamlstream import read_text
from mlkube.quantity import parse_quantity
from mlkube.render import render_specs
from mlkube.spec import Platform, load_platform, load_specs
from mlkube.wait import until

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
ISVC, NAMESPACE = "llama-chat", "ml-serving"  # examples/llm-endpoint.yaml
ISVC_API = "serving.kserve.io/v1beta1"
SELECTOR = f"app=isvc.{ISVC}-predictor"
DEPLOYMENT = f"{ISVC}-predictor"
HPA = ("autoscaling/v2", "HorizontalPodAutoscaler")
METRIC = "DCGM_FI_DEV_GPU_UTIL"
AUTOSCALER_CLASS = "serving.kserve.io/autoscalerClass"
CPU_TARGET = 70  # the CPU peer's scaleTarget: the GPU target's 70, as a CPU percentage
MIN = 3  # the endpoint's minReplicas


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


def cpu_peer(bundle: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rendered endpoint as the guide's CPU-based HPA would scale it: KServe's own
    HPA (no ``autoscalerClass: external``) on ``scaleMetric: cpu``, ``scaleTarget``
    `CPU_TARGET`; the rendered HPA and adapter rules are left out."""
    isvc = json.loads(json.dumps(one(bundle, "InferenceService")))
    isvc["metadata"]["annotations"].pop(AUTOSCALER_CLASS)
    isvc["spec"]["predictor"].update(scaleMetric="cpu", scaleTarget=CPU_TARGET)
    return [isvc, one(bundle, "PodDisruptionBudget")]


def with_pod_annotations(
    objects: list[dict[str, Any]], annotations: dict[str, str]
) -> list[dict[str, Any]]:
    """``objects`` with the InferenceService's predictor pods born with ``annotations``
    (KServe copies ``spec.predictor.annotations`` into the pod template)."""
    out: list[dict[str, Any]] = json.loads(json.dumps(objects))
    for obj in out:
        if obj["kind"] == "InferenceService":
            obj["spec"]["predictor"]["annotations"] = annotations
    return out


def predictor_deployment(isvc: dict[str, Any]) -> dict[str, Any]:
    """A Deployment shaped as the one KServe's Standard mode makes of an
    InferenceService's predictor (kserve pkg/controller/v1beta1/inferenceservice/
    reconcilers/deployment): named ``<isvc>-predictor``, KServe's labels, one
    ``kserve-container`` with the model's resources, and the predictor's placement.
    For tests that need such pods beside KServe's own (test_gpu_autoscaling)."""
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


def _annotate(kube: Kube, value: Callable[[dict[str, Any]], dict[str, str]]) -> list[str]:
    names = []
    for pod in predictor_pods(kube):
        body = {"metadata": {"annotations": value(pod)}}
        kube.patch("v1", "Pod", pod["metadata"]["name"], body, NAMESPACE)
        names.append(pod["metadata"]["name"])
    return names


def set_utilization(kube: Kube, percent: int) -> list[str]:
    """Annotate every predictor pod's GPUs with ``percent``; the pods' names."""
    return _annotate(kube, lambda _pod: {UTILIZATION_ANNOTATION: str(percent)})


def cpu_request_millis(pod_or_isvc_resources: dict[str, Any]) -> int:
    """A container's CPU request, in millicores."""
    millis = parse_quantity(str(pod_or_isvc_resources["requests"]["cpu"]))
    assert millis is not None
    return round(millis * 1000)


def cpu_usage(percent: int, resources: dict[str, Any]) -> str:
    """KWOK's usage annotation for a container using ``percent`` of its CPU request."""
    return f"{cpu_request_millis(resources) * percent // 100}m"


def set_cpu(kube: Kube, percent: int) -> list[str]:
    """Annotate every predictor pod's one container with ``percent`` of its CPU request
    as KWOK's usage (KWOK gives each container of the pod the annotation's value)."""

    def value(pod: dict[str, Any]) -> dict[str, str]:
        (container,) = pod["spec"]["containers"]
        return {CPU_USAGE_ANNOTATION: cpu_usage(percent, container["resources"])}

    return _annotate(kube, value)


def hpa_value(kube: Kube, name: str = ISVC) -> str | None:
    """The HPA's current average of its metric (a Pods metric's value, a Resource
    metric's utilisation in percent), while ScalingActive; else None."""
    hpa = kube.get(*HPA, name, NAMESPACE)
    if hpa is None or condition(hpa, "ScalingActive").get("status") != "True":
        return None
    for metric in (hpa.get("status") or {}).get("currentMetrics") or []:
        if metric.get("type") == "Pods":
            return str(metric["pods"]["current"]["averageValue"])
        if metric.get("type") == "Resource":
            return str(metric["resource"]["current"].get("averageUtilization"))
    return None


def replicas(kube: Kube) -> int:
    deployment = kube.get("apps/v1", "Deployment", DEPLOYMENT, NAMESPACE)
    assert deployment is not None
    return int(deployment["spec"]["replicas"])


def isvc_ready(kube: Kube) -> dict[str, Any] | None:
    isvc = kube.get(ISVC_API, "InferenceService", ISVC, NAMESPACE)
    return isvc if isvc and condition(isvc, "Ready").get("status") == "True" else None


def pod_cpu_percent(kube: Kube, names: list[str]) -> list[float]:
    """metrics.k8s.io's CPU use of each named pod that it serves, in percent of the
    pod's CPU request (what the HPA's Utilization target divides by)."""
    path = f"/apis/metrics.k8s.io/v1beta1/namespaces/{NAMESPACE}/pods"
    body = kube.request("GET", path, params={"labelSelector": SELECTOR})
    used = {
        i["metadata"]["name"]: sum(parse_quantity(c["usage"]["cpu"]) or 0 for c in i["containers"])
        for i in body.get("items") or []
    }
    pods = {p["metadata"]["name"]: p for p in predictor_pods(kube)}
    out = []
    for name in names:
        if name in used and name in pods:
            containers = pods[name]["spec"]["containers"]
            request = sum(cpu_request_millis(c["resources"]) for c in containers)
            out.append(100 * used[name] * 1000 / request)
    return out


def gone(kube: Kube) -> bool | None:
    left = kube.list("v1", "Pod", NAMESPACE, f"serving.kserve.io/inferenceservice={ISVC}")
    isvc = kube.get(ISVC_API, "InferenceService", ISVC, NAMESPACE)
    hpas = [kube.get(*HPA, n, NAMESPACE) for n in (ISVC, DEPLOYMENT)]
    return True if not left and isvc is None and not any(hpas) else None


def remove(kube: Kube, objects: list[dict[str, Any]]) -> None:
    for obj in reversed(objects):
        meta = obj["metadata"]
        kube.delete(obj["apiVersion"], obj["kind"], meta["name"], meta.get("namespace"))
    until(f"{ISVC}, its HPA and pods gone", partial(gone, kube), timeout=180, every=0.5)


# The benchmark ---------------------------------------------------------------------

POLL = 0.05
PATHS = ("gpu", "cpu")
LOW, HIGH = 40, 95


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


def _sets_replicas(entry: dict[str, Any]) -> bool:
    return "f:replicas" in entry.get("fieldsV1", {}).get("f:spec", {})


def _deployment(kube: Kube) -> dict[str, Any]:
    """Of the predictor Deployment: its generation (one more for each write to its
    spec), who owns ``spec.replicas``, and when each manager last wrote it (the scale
    subresource's entry has no time)."""
    deployment = kube.get("apps/v1", "Deployment", DEPLOYMENT, NAMESPACE)
    assert deployment is not None
    fields = deployment["metadata"].get("managedFields") or []

    def who(f: dict[str, Any]) -> str:
        return f"{f['manager']}/{f['subresource']}" if f.get("subresource") else f["manager"]

    return {
        "generation": deployment["metadata"]["generation"],
        "replicas": sorted(who(f) for f in fields if _sets_replicas(f)),
        "written": {who(f): f.get("time") for f in fields},
    }


def one_run(
    kube: Kube, path: str, prometheus_port: int, bundle: list[dict[str, Any]], phase: float
) -> dict[str, Any]:
    if path == "gpu":
        objects = with_pod_annotations(bundle, {UTILIZATION_ANNOTATION: str(LOW)})
        hpa_name, load = ISVC, set_utilization
    else:
        objects = cpu_peer(bundle)
        resources = objects[0]["spec"]["predictor"]["model"]["resources"]
        objects = with_pod_annotations(objects, {CPU_USAGE_ANNOTATION: cpu_usage(LOW, resources)})
        hpa_name, load = DEPLOYMENT, set_cpu
    apply_objects(kube, objects)
    try:
        until(f"{ISVC} Ready", partial(isvc_ready, kube), timeout=180)

        def settled() -> bool | None:
            if len(ready_pods(kube)) != MIN or replicas(kube) != MIN:
                return None
            return True if hpa_value(kube, hpa_name) == str(LOW) else None

        until(f"{MIN} Ready pods at {LOW} %, read by the HPA", settled, timeout=240, every=0.5)
        time.sleep(phase)  # not a synchronisation: a random moment to raise the load at
        before = {p["metadata"]["name"] for p in predictor_pods(kube)}
        deployment = _deployment(kube)
        loadavg = os.getloadavg()[0]

        t0 = time.monotonic()
        names = load(kube, HIGH)
        marks: dict[str, float] = {}

        def mark(stage: str, reached: Callable[[], bool]) -> None:
            until(stage, lambda: reached() or None, timeout=180, every=POLL)
            marks[stage] = time.monotonic() - t0

        def new_pods() -> list[dict[str, Any]]:
            return [p for p in predictor_pods(kube) if p["metadata"]["name"] not in before]

        if path == "gpu":
            mark("scraped", lambda: (_prometheus_min(prometheus_port, names) or 0) >= HIGH)
            mark("adapter", lambda: sorted(_adapter_values(kube, names)) == [HIGH] * len(names))
        else:
            mark("metrics", lambda: len(v := pod_cpu_percent(kube, names)) == len(names)
                 and min(v) >= 90)  # fmt: skip
        mark("hpa", lambda: replicas(kube) > MIN)
        mark("bound", lambda: any(p["spec"].get("nodeName") for p in new_pods()))
        mark("ready", lambda: any(condition(p, "Ready").get("status") == "True"
                                  for p in new_pods()))  # fmt: skip
        after = _deployment(kube)
        wrote = [w for w, t in after["written"].items() if t and deployment["written"].get(w) != t]
        return {"path": path, "phase": round(phase, 2), "load": loadavg, "marks": marks,
                "spec_writes": after["generation"] - deployment["generation"],
                "replicas_owner": after["replicas"], "wrote": sorted(wrote)}  # fmt: skip
    finally:
        remove(kube, objects)


def _writes(run: dict[str, Any]) -> str:
    """What happened to the predictor Deployment between t = 0 and the first new pod
    Ready: writes to its spec, spec.replicas's owner, which managers wrote it at all."""
    owner, wrote = " ".join(run["replicas_owner"]), " ".join(run["wrote"])
    return f"{run['spec_writes']} spec write(s), replicas owned by {owner}, written by {wrote}"


def _stats(values: list[float], unit: str = "s") -> str:
    low, high = min(values), max(values)
    return f"{statistics.median(values):6.2f}{unit} [{low:.2f}, {high:.2f}]"


def report(runs: list[dict[str, Any]]) -> None:
    for path in PATHS:
        mine = [r for r in runs if r["path"] == path]
        if not mine:
            continue
        print(f"\n{path}: stage (time since the previous one), median [min, max], {len(mine)} runs")
        previous = [0.0] * len(mine)
        for stage in mine[0]["marks"]:
            deltas = [r["marks"][stage] - p for r, p in zip(mine, previous, strict=True)]
            previous = [r["marks"][stage] for r in mine]
            print(f"  {stage:8} {_stats(deltas)}")
        print(f"  total    {_stats([r['marks']['ready'] for r in mine])}")
        print(f"  the Deployment meanwhile: {', '.join(sorted({_writes(r) for r in mine}))}")
        print(f"  load average (1 min) at t = 0: {_stats([r['load'] for r in mine], '')}")
    totals = {p: [r["marks"]["ready"] for r in runs if r["path"] == p] for p in PATHS}
    if all(totals.values()):
        ratio = statistics.median(totals["cpu"]) / statistics.median(totals["gpu"])
        print(f"\ncpu / gpu, median totals: {ratio:.2f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="runs of each path (alternating)")
    parser.add_argument("--seed", type=int, default=16, help="of the random moments")
    parser.add_argument("--json", metavar="FILE", help="write every run's marks here")
    parser.add_argument("--report", metavar="FILE", help="only report the runs of a --json FILE")
    parser.add_argument("--cluster", metavar="NAME",
                        help="a running cluster (up --serving --gpu-metrics --cpu-metrics) "
                        "to use, left running; by default one of its own")  # fmt: skip
    args = parser.parse_args()
    if args.report:
        report(json.loads(Path(args.report).read_text()))
        return 0
    rng = random.Random(args.seed)
    name = args.cluster or f"bench-scaleup-{os.getpid()}"
    platform = load_platform(str(EXAMPLES / "platform.yaml"))
    runs: list[dict[str, Any]] = []
    print(f"load average at start: {os.getloadavg()}")
    try:
        cluster.up(name, platform, lambda m: print(f"  {m}"), serving=True, gpu_metrics=True,
                   cpu_metrics=True)  # fmt: skip
        port = cluster.State.load(cluster.cluster_root(name) / "state.json").ports["prometheus"]
        bundle = endpoint_bundle()
        with Kube(load_connection(str(cluster.kubeconfig_path(name)))) as kube:
            for i in range(args.runs):
                for path in PATHS:
                    started = time.monotonic()
                    run = one_run(kube, path, port, bundle, rng.uniform(0, 15))
                    run["took"] = round(time.monotonic() - started, 1)
                    runs.append(run)
                    marks = ", ".join(f"{k} {v:.2f}s" for k, v in run["marks"].items())
                    how = f"{run['took']:.0f}s; waited {run['phase']:.1f}s, load {run['load']:.1f}"
                    print(f"run {i + 1} {path} ({how}): {marks}; {_writes(run)}", flush=True)
                    if args.json:
                        Path(args.json).write_text(json.dumps(runs, indent=1))
    finally:
        if not args.cluster:
            cluster.down(name, lambda _m: None)
        print(f"load average at end: {os.getloadavg()}")
        report(runs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
