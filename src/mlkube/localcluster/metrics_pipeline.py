"""The GPU metrics pipeline of ``cluster up --gpu-metrics``: the dcgm-exporter stand-in
(`gpumetrics`), a real Prometheus scraping it, a real prometheus-adapter serving
``custom.metrics.k8s.io`` from Prometheus, registered with the API server's aggregator.
The HPA controller of the real kube-controller-manager reads the metric through it.

Pure functions of the binaries, the cluster's directory and its ports, as
`components` is; `cluster.up` starts them.

Timing (what the scale-up benchmark breaks down): Prometheus scrapes every
`SCRAPE_INTERVAL`, the adapter re-lists the series it serves every `RELIST_INTERVAL`
(a new metric name is served after at most that; the values of one already served are
read from Prometheus on each request), and the HPA controller syncs every 15 s (its
default, ``--horizontal-pod-autoscaler-sync-period``).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import yaml

from mlkube.localcluster.binaries import Binaries
from mlkube.localcluster.components import Layout
from mlkube.render.serving import ADAPTER_CONFIGMAP, ADAPTER_NAMESPACE, adapter_rules
from mlkube.spec.models import Autoscaling

SCRAPE_INTERVAL = "5s"  # dcgm-exporter's ServiceMonitor in the GPU Operator: 15s
RELIST_INTERVAL = "10s"  # upstream's manifests: 1m; must not be shorter than a scrape
ADAPTER_SERVICE = "prometheus-adapter"  # as upstream's deploy/manifests name it
CUSTOM_METRICS = "custom.metrics.k8s.io"
SCRAPE_JOB = "nvidia-dcgm-exporter"  # the job the GPU Operator's ServiceMonitor makes


def exporter_argv(layout: Layout) -> list[str]:
    return [
        sys.executable,
        "-m",
        "mlkube.localcluster.gpumetrics",
        f"--kubeconfig={layout.kubeconfig}",
        f"--port={layout.ports['gpu-metrics']}",
    ]


def prometheus_config(layout: Layout) -> dict[str, Any]:
    """One static target, the exporter. ``honor_labels``: the exporter's own ``pod`` and
    ``namespace`` labels (the GPU's user) win over any the scrape would attach, as the
    GPU Operator's ServiceMonitor sets ``honorLabels: true``."""
    return {
        "global": {"scrape_interval": SCRAPE_INTERVAL, "evaluation_interval": SCRAPE_INTERVAL},
        "scrape_configs": [
            {
                "job_name": SCRAPE_JOB,
                "honor_labels": True,
                "scrape_interval": SCRAPE_INTERVAL,
                "static_configs": [{"targets": [f"127.0.0.1:{layout.ports['gpu-metrics']}"]}],
            }
        ],
    }


def prometheus_argv(b: Binaries, layout: Layout) -> list[str]:
    return [
        b["prometheus"],
        f"--config.file={layout.root / 'prometheus.yml'}",
        f"--storage.tsdb.path={layout.root / 'prometheus'}",
        f"--web.listen-address=127.0.0.1:{layout.ports['prometheus']}",
        "--log.level=warn",
    ]


def adapter_rules_configmap(metrics: list[str] | None = None) -> dict[str, Any]:
    """The ConfigMap the adapter reads its rules from: the one mlkube renders into a
    bundle with GPU autoscaling (`render.serving.adapter_rules`), for the endpoint
    spec's default metric unless told. `cluster up` applies it; applying a bundle
    (or anything else) that changes it restarts the adapter with it (`configmap_pod`)."""
    return adapter_rules(metrics or [Autoscaling().metric])


def adapter_config_file(layout: Layout) -> Path:
    """Where the adapter's ``--config`` is: the ConfigMap's key, as mounted."""
    return layout.root / "prometheus-adapter.yaml"


def adapter_argv(b: Binaries, layout: Layout) -> list[str]:
    """prometheus-adapter, run by `configmap_pod` with its rules from the ConfigMap
    ``monitoring/mlkube-prometheus-adapter-rules``, restarted when they change."""
    kubeconfig = layout.kubeconfig
    adapter = [
        b["prometheus-adapter"],
        f"--secure-port={layout.ports['prometheus-adapter']}",
        "--bind-address=127.0.0.1",
        f"--cert-dir={layout.root / 'prometheus-adapter-certs'}",
        f"--lister-kubeconfig={kubeconfig}",
        f"--authentication-kubeconfig={kubeconfig}",
        f"--authorization-kubeconfig={kubeconfig}",
        f"--prometheus-url=http://127.0.0.1:{layout.ports['prometheus']}/",
        f"--config={adapter_config_file(layout)}",
        f"--metrics-relist-interval={RELIST_INTERVAL}",
    ]
    return [
        sys.executable,
        "-m",
        "mlkube.localcluster.configmap_pod",
        f"--kubeconfig={kubeconfig}",
        f"--configmap={ADAPTER_NAMESPACE}/{ADAPTER_CONFIGMAP}",
        "--key=config.yaml",
        f"--file={adapter_config_file(layout)}",
        "--",
        *adapter,
    ]


def loopback_service(name: str, namespace: str, port: int) -> dict[str, Any]:
    """A Service through which the aggregator reaches an API server that runs outside
    the cluster on ``localhost:port``: an ExternalName, which the aggregator resolves to
    that host and the Service's port (an Endpoints object may not hold a loopback IP)."""
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "type": "ExternalName",
            "externalName": "localhost",
            "ports": [{"name": "https", "port": port, "targetPort": port}],
        },
    }


def registration(layout: Layout) -> list[dict[str, Any]]:
    """The adapter's Service and APIServices, as upstream's manifests (deploy/manifests:
    service.yaml, api-service.yaml with ``insecureSkipTLSVerify``), but the Service is an
    ExternalName ``localhost``: the aggregator resolves it to ``localhost:<port>``, where
    the adapter runs outside the cluster (an Endpoints object may not hold a loopback
    address)."""
    port = layout.ports["prometheus-adapter"]
    service = loopback_service(ADAPTER_SERVICE, ADAPTER_NAMESPACE, port)
    services = [
        {
            "apiVersion": "apiregistration.k8s.io/v1",
            "kind": "APIService",
            "metadata": {"name": f"{version}.{CUSTOM_METRICS}"},
            "spec": {
                "group": CUSTOM_METRICS,
                "version": version,
                "groupPriorityMinimum": 100,
                "versionPriority": priority,
                "insecureSkipTLSVerify": True,
                "service": {"name": ADAPTER_SERVICE, "namespace": ADAPTER_NAMESPACE, "port": port},
            },
        }
        for version, priority in (("v1beta1", 100), ("v1beta2", 200))
    ]
    return [service, *services]


def write_configs(layout: Layout) -> None:
    """Prometheus's configuration; the adapter's comes from its ConfigMap."""
    (layout.root / "prometheus.yml").write_text(
        yaml.safe_dump(prometheus_config(layout), sort_keys=False)
    )
