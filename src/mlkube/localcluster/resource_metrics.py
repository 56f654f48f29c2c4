"""The resource metrics pipeline of ``cluster up --cpu-metrics``: what KServe's CPU
autoscaling (``scaleMetric: cpu``, an HPA on ``metrics.k8s.io``) reads on a real cluster.

- KWOK plays each node's kubelet: with the release's ``Metric`` ``metrics-resource``
  (kustomize/metrics/resource) it serves the kubelet's ``/metrics/resource`` for every
  node at ``/metrics/nodes/<node>/metrics/resource``, and with its
  ``ClusterResourceUsage`` ``usage-from-annotation`` (kustomize/metrics/usage) a
  container's CPU use is its pod's ``kwok.x-k8s.io/usage-cpu`` annotation (default 1m),
  integrated into ``container_cpu_usage_seconds_total``. That is the one simulated
  part, and it is KWOK's own: there are no containers.
- The real metrics-server (built from ``sigs.k8s.io/metrics-server``) scrapes every
  node, as its upstream manifest runs it (``--kubelet-use-node-status-port``, InternalIP
  first, ``--metric-resolution=15s``): each node's status carries KWOK's port
  (``kwok --node-port``) and InternalIP 127.0.0.1 (``--node-ip``), and the annotation
  ``metrics.k8s.io/resource-metrics-path`` names KWOK's per-node path, as kwokctl's
  node template sets it (kustomize/kwokctl/resource/node.yaml).
- It serves ``metrics.k8s.io`` on 127.0.0.1, registered as the APIService
  ``v1beta1.metrics.k8s.io`` through an ExternalName ``localhost`` Service, the way the
  GPU pipeline's adapter is (`metrics_pipeline.registration`).

Pure functions of the binaries, the cluster's directory and its ports, as
`components` is; `cluster.up` starts them.

Timing (what the scale-up benchmark breaks down): metrics-server scrapes every
`METRIC_RESOLUTION` and serves the CPU rate between its last two scrapes; KWOK
integrates usage at scrape time at the rate the annotation says then, so the first
scrape after a change reports the new rate whole. The HPA controller syncs every 15 s.
"""

from __future__ import annotations

from typing import Any

import yaml

from mlkube.crds import module_dir
from mlkube.localcluster.binaries import MODULES, Binaries, version
from mlkube.localcluster.components import Layout
from mlkube.localcluster.metrics_pipeline import loopback_service

METRIC_RESOLUTION = "15s"  # metrics-server's manifests/base/deployment.yaml
NAMESPACE = "kube-system"  # where upstream's manifests install it
SERVICE = "metrics-server"
GROUP = "metrics.k8s.io"
# metrics-server's resource.AnnotationResourceMetricsPath: a node's own path
PATH_ANNOTATION = "metrics.k8s.io/resource-metrics-path"
# The release's usage-from-annotation: a container's CPU use, a quantity ("950m")
CPU_USAGE_ANNOTATION = "kwok.x-k8s.io/usage-cpu"
_RELEASE = (
    "kustomize/metrics/resource/metrics-resource.yaml",
    "kustomize/metrics/usage/usage-from-annotation.yaml",
)


def kwok_objects() -> list[dict[str, Any]]:
    """KWOK's ``Metric`` (the kubelet's resource metrics, per node) and
    ``ClusterResourceUsage`` (usage from pod annotations), read from KWOK's release:
    added to its ``--config`` beside the stages."""
    root = module_dir(MODULES["kwok"], version("kwok"))
    docs = (yaml.safe_load_all((root / path).read_text()) for path in _RELEASE)
    return [doc for each in docs for doc in each if doc]


def node_path(objects: list[dict[str, Any]], node: str) -> str:
    """Where KWOK serves ``node``'s resource metrics: the Metric's path, per node."""
    (metric,) = [o for o in objects if o["kind"] == "Metric"]
    path: str = metric["spec"]["path"]
    return path.replace("{nodeName}", node)


def annotate(node: dict[str, Any], objects: list[dict[str, Any]]) -> dict[str, Any]:
    """``node`` telling metrics-server where its kubelet's resource metrics are."""
    meta = node["metadata"]
    annotations = {**meta.get("annotations", {}), PATH_ANNOTATION: node_path(objects, meta["name"])}
    return {**node, "metadata": {**meta, "annotations": annotations}}


def argv(b: Binaries, layout: Layout) -> list[str]:
    """Upstream's manifest's flags (manifests/base/deployment.yaml), on 127.0.0.1 and
    the cluster's kubeconfig; ``--kubelet-insecure-tls`` as kwokctl adds it: KWOK's
    server presents a self-signed certificate that no CA vouches for."""
    kubeconfig = layout.kubeconfig
    return [
        b["metrics-server"],
        f"--secure-port={layout.ports['metrics-server']}",
        "--bind-address=127.0.0.1",
        f"--cert-dir={layout.root / 'metrics-server-certs'}",
        f"--kubeconfig={kubeconfig}",
        f"--authentication-kubeconfig={kubeconfig}",
        f"--authorization-kubeconfig={kubeconfig}",
        "--kubelet-preferred-address-types=InternalIP,ExternalIP,Hostname",
        "--kubelet-use-node-status-port",
        "--kubelet-insecure-tls",
        f"--metric-resolution={METRIC_RESOLUTION}",
    ]


def registration(layout: Layout) -> list[dict[str, Any]]:
    """metrics-server's Service and APIService as upstream's manifests
    (manifests/base/service.yaml, apiservice.yaml with ``insecureSkipTLSVerify``), the
    Service an ExternalName ``localhost`` (`metrics_pipeline.loopback_service`)."""
    port = layout.ports["metrics-server"]
    service = loopback_service(SERVICE, NAMESPACE, port)
    api_service = {
        "apiVersion": "apiregistration.k8s.io/v1",
        "kind": "APIService",
        "metadata": {"name": f"v1beta1.{GROUP}"},
        "spec": {
            "group": GROUP,
            "version": "v1beta1",
            "groupPriorityMinimum": 100,
            "versionPriority": 100,
            "insecureSkipTLSVerify": True,
            "service": {"name": SERVICE, "namespace": NAMESPACE, "port": port},
        },
    }
    return [service, api_service]
