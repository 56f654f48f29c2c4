"""The serving walkthrough of `make demo`: GPU utilisation of the production LLM
endpoint's predictor pods rises to 95 % and the HPA that mlkube rendered (on
dcgm-exporter's DCGM_FI_DEV_GPU_UTIL, through prometheus-adapter) adds replicas to the
Deployment KServe made.

The utilisation is the one simulated part: the dcgm-exporter stand-in reads it from each
pod's ``kwok.mlkube.dev/gpu-utilization`` annotation, patched here onto the running pods
(a real GPU's load rises on the pods that run; changing ``spec.predictor.annotations``
would roll every pod instead).

    python demo/gpu_load.py settle     # against $KUBECONFIG (`cluster up --gpu-metrics`)
    python demo/gpu_load.py PERCENT

``settle``: KServe makes the predictor Deployment with one replica when the autoscaler
is external (mlkube's HPA), and the InferenceService is Ready with that one pod; the HPA
then raises it to minReplicas. This waits for those pods Ready, spread over the zones,
and for the HPA to read their utilisation.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from mlkube.cluster.client import Kube
from mlkube.cluster.kubeconfig import load_connection
from mlkube.localcluster.gpumetrics import UTILIZATION_ANNOTATION
from mlkube.manifests.objects import condition
from mlkube.wait import until

ISVC, NS = "llama-chat", "ml-serving"  # examples/llm-endpoint.yaml
SELECTOR = f"serving.kserve.io/inferenceservice={ISVC}"
HPA = ("autoscaling/v2", "HorizontalPodAutoscaler")


def say(message: str) -> None:
    print(f"-- {message}", flush=True)


def pods(kube: Kube) -> list[dict[str, Any]]:
    return [
        p
        for p in kube.list("v1", "Pod", NS, SELECTOR)
        if not p["metadata"].get("deletionTimestamp")
    ]


def ready(kube: Kube) -> int:
    return sum(condition(p, "Ready").get("status") == "True" for p in pods(kube))


def hpa_status(kube: Kube) -> dict[str, Any]:
    hpa = kube.get(*HPA, ISVC, NS)
    return (hpa or {}).get("status") or {}


def settle(kube: Kube) -> None:
    hpa = kube.get(*HPA, ISVC, NS)
    assert hpa is not None, f"no HPA {ISVC} in {NS}: apply examples/llm-endpoint.yaml first"
    least = int(hpa["spec"]["minReplicas"])
    until(f"{least} predictor pods Ready (minReplicas)", lambda: ready(kube) >= least or None,
          timeout=180)  # fmt: skip
    until(
        "the HPA to read the pods' GPU utilisation",
        lambda: hpa_status(kube).get("currentMetrics") or None,
        timeout=120,
    )
    say(f"{ready(kube)} predictor pods Ready, the HPA reads their GPU utilisation")


def load(kube: Kube, percent: str) -> None:
    before = ready(kube)
    for pod in pods(kube):
        body = {"metadata": {"annotations": {UTILIZATION_ANNOTATION: percent}}}
        kube.patch("v1", "Pod", pod["metadata"]["name"], body, NS)
    say(f"GPU utilisation of {before} predictor pods set to {percent} %")
    wanted = until(
        "the HPA to ask for more replicas",
        lambda: n if (n := int(hpa_status(kube).get("desiredReplicas", 0))) > before else None,
        timeout=180,
    )
    say(f"the HPA wants {wanted} replicas (target 70 %)")
    until(f"{wanted} predictor pods Ready", lambda: ready(kube) >= wanted or None, timeout=180)
    say(f"{ready(kube)} predictor pods Ready")


def main() -> int:
    with Kube(load_connection(os.environ.get("KUBECONFIG"))) as kube:
        if sys.argv[1:] == ["settle"]:
            settle(kube)
        else:
            load(kube, sys.argv[1] if len(sys.argv) > 1 else "95")
    return 0


if __name__ == "__main__":
    sys.exit(main())
