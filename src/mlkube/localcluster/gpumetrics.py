"""A stand-in for dcgm-exporter: the one simulated part of the GPU metrics pipeline.

There are no GPUs on the local cluster, so nothing can measure their utilisation; this
server publishes what dcgm-exporter would, in its exposition format and label set, for
every GPU that a running pod on a KWOK node was given, and takes the value from the
pod's ``kwok.mlkube.dev/gpu-utilization`` annotation (percent, default 0). On a node
annotated ``kwok.mlkube.dev/dcgm-exporter-kubernetes: "false"`` the series carry no
``pod``, ``namespace`` or ``container`` label, as dcgm-exporter's do when it runs
without ``DCGM_EXPORTER_KUBERNETES=true`` (a misconfigured exporter, for preflight and
doctor to find on real Prometheus and adapter). Everything
after it is real: Prometheus scrapes it, prometheus-adapter serves it as a custom metric,
the HPA controller scales on it.

The format imitates NVIDIA/dcgm-exporter ``pkg/dcgmexporter`` (the ``gpuMetricsFormat``
template: ``gpu``, ``UUID``, ``pci_bus_id``, ``device``, ``modelName``, ``Hostname``,
then the pod attributes ``container``, ``namespace``, ``pod`` that
``DCGM_EXPORTER_KUBERNETES=true`` adds); names, types and help texts are those of
``etc/dcp-metrics-included.csv``. ``Hostname`` is the node's name, as the GPU Operator
sets ``NODE_NAME`` for the exporter.

Pods and nodes are watched (`Informer`), so a scrape reads memory, never the API server.

    python -m mlkube.localcluster.gpumetrics --kubeconfig K --port P
"""

from __future__ import annotations

import argparse
import logging
import math
import threading
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from mlkube.cluster.client import Kube
from mlkube.cluster.kubeconfig import load_connection
from mlkube.controller.informer import Informer
from mlkube.localcluster.nodes import KWOK_ANNOTATION
from mlkube.quantity import parse_quantity
from mlkube.wellknown import GPU, GPU_PRODUCT_LABEL

UTILIZATION_ANNOTATION = "kwok.mlkube.dev/gpu-utilization"
# On a node: "false" is dcgm-exporter there without DCGM_EXPORTER_KUBERNETES=true.
KUBERNETES_ANNOTATION = "kwok.mlkube.dev/dcgm-exporter-kubernetes"
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
# (field, Prometheus type, help) as etc/dcp-metrics-included.csv has them. GR_ENGINE_ACTIVE
# is the same activity as GPU_UTIL, sampled by the profiler, as a ratio.
GPU_UTIL = ("DCGM_FI_DEV_GPU_UTIL", "gauge", "GPU utilization (in %).")
GR_ENGINE_ACTIVE = (
    "DCGM_FI_PROF_GR_ENGINE_ACTIVE", "gauge", "Ratio of time the graphics engine is active."
)  # fmt: skip
_UUID_NAMESPACE = uuid.UUID("5f6b1f0e-3d2a-4c1e-9a57-6d6c6b756265")
log = logging.getLogger("mlkube.gpumetrics")


@dataclass(frozen=True)
class Gpu:
    """One GPU given to one container of a running pod."""

    node: str
    index: int
    model: str
    namespace: str
    pod: str
    container: str
    utilization: float  # percent
    kubernetes: bool = True  # the pod attributes (DCGM_EXPORTER_KUBERNETES=true)

    @property
    def uuid(self) -> str:
        return f"GPU-{uuid.uuid5(_UUID_NAMESPACE, f'{self.node}/{self.index}')}"


def utilization(pod: dict[str, Any]) -> float:
    """The pod's annotated utilisation in percent, 0 when absent or not a number."""
    text = ((pod.get("metadata") or {}).get("annotations") or {}).get(UTILIZATION_ANNOTATION)
    if text is None:
        return 0.0
    try:
        value = float(str(text).strip().removesuffix("%"))
    except ValueError:
        log.warning("%s: %s=%r is not a number; 0", _key(pod), UTILIZATION_ANNOTATION, text)
        return 0.0
    return min(100.0, max(0.0, value)) if math.isfinite(value) else 0.0


def _key(pod: dict[str, Any]) -> str:
    meta = pod.get("metadata") or {}
    return f"{meta.get('namespace')}/{meta.get('name')}"


def _gpus_of(container: dict[str, Any]) -> int:
    resources = container.get("resources") or {}
    amount = (resources.get("limits") or {}).get(GPU) or (resources.get("requests") or {}).get(GPU)
    return int(parse_quantity(amount) or 0) if amount else 0


def gpus(pods: Iterable[dict[str, Any]], nodes: dict[str, dict[str, Any]]) -> list[Gpu]:
    """The GPUs of running pods on KWOK nodes, numbered per node in the order the pods
    were created (as the device plugin hands out free devices)."""
    by_node: dict[str, list[dict[str, Any]]] = {}
    for pod in pods:
        node = (pod.get("spec") or {}).get("nodeName")
        meta = (nodes.get(node or "") or {}).get("metadata") or {}
        if (pod.get("status") or {}).get("phase") != "Running":
            continue
        if (meta.get("annotations") or {}).get(KWOK_ANNOTATION) != "fake":
            continue
        by_node.setdefault(str(node), []).append(pod)
    out: list[Gpu] = []
    for node, on_node in sorted(by_node.items()):
        labels = nodes[node]["metadata"].get("labels") or {}
        annotations = nodes[node]["metadata"].get("annotations") or {}
        kubernetes = str(annotations.get(KUBERNETES_ANNOTATION, "true")).lower() != "false"
        model = str(labels.get(GPU_PRODUCT_LABEL, "")).removesuffix("-SHARED")
        index = 0
        on_node.sort(key=lambda p: (p["metadata"].get("creationTimestamp", ""), _key(p)))
        for pod in on_node:
            meta = pod["metadata"]
            value = utilization(pod)
            for container in pod["spec"].get("containers") or []:
                for _ in range(_gpus_of(container)):
                    out.append(Gpu(node, index, model, meta["namespace"], meta["name"],
                                   container["name"], value, kubernetes))  # fmt: skip
                    index += 1
    return out


def _escape(value: str) -> str:
    return value.replace("\\", r"\\").replace('"', r"\"").replace("\n", r"\n")


def exposition(devices: list[Gpu]) -> str:
    """The page dcgm-exporter serves for these GPUs: HELP and TYPE for each counter,
    then one sample per GPU; integer fields as integers, ratios with six decimals."""
    lines: list[str] = []
    counters: list[tuple[tuple[str, str, str], Callable[[Gpu], str]]] = [
        (GPU_UTIL, lambda g: str(round(g.utilization))),
        (GR_ENGINE_ACTIVE, lambda g: f"{g.utilization / 100:f}"),
    ]
    for (name, kind, text), value_of in counters:
        lines += [f"# HELP {name} {text}", f"# TYPE {name} {kind}"]
        for g in devices:
            labels = {
                "gpu": str(g.index),
                "UUID": g.uuid,
                "pci_bus_id": f"00000000:{0x10 + g.index:02X}:00.0",
                "device": f"nvidia{g.index}",
                "modelName": g.model,
                "Hostname": g.node,
            }
            if g.kubernetes:
                labels.update(container=g.container, namespace=g.namespace, pod=g.pod)
            text_labels = ",".join(f'{k}="{_escape(v)}"' for k, v in labels.items())
            lines.append(f"{name}{{{text_labels}}} {value_of(g)}")
    return "\n".join(lines) + "\n"


class Exporter:
    """The watched pods and nodes, and the page made from them."""

    def __init__(self, kube: Kube) -> None:
        self.pods = Informer(kube, "v1", "Pod", lambda _type, _obj: None)
        self.nodes = Informer(kube, "v1", "Node", lambda _type, _obj: None)

    def start(self) -> None:
        for informer in (self.pods, self.nodes):
            threading.Thread(target=informer.run, daemon=True, name=informer.kind).start()

    @property
    def synced(self) -> bool:
        return self.pods.synced.is_set() and self.nodes.synced.is_set()

    def page(self) -> str:
        nodes = {n["metadata"]["name"]: n for n in self.nodes.snapshot()}
        return exposition(gpus(self.pods.snapshot(), nodes))


def serve(exporter: Exporter, port: int) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path == "/metrics":
                status, body, kind = 200, exporter.page(), CONTENT_TYPE
            elif self.path == "/health":
                ok = exporter.synced
                status, body, kind = (
                    (200 if ok else 503),
                    ("ok\n" if ok else "syncing\n"),
                    "text/plain",
                )
            else:
                status, body, kind = 404, "not found\n", "text/plain"
            data = body.encode()
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # one line per scrape every few seconds is noise

    return ThreadingHTTPServer(("127.0.0.1", port), Handler)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="mlkube-gpumetrics", description=__doc__.split("\n")[0])
    parser.add_argument("--kubeconfig", required=True)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    kube = Kube(load_connection(args.kubeconfig))
    exporter = Exporter(kube)
    exporter.start()
    server = serve(exporter, args.port)
    log.info("serving dcgm-exporter metrics on http://127.0.0.1:%d/metrics", args.port)
    server.serve_forever()


if __name__ == "__main__":
    main()
