"""KServe's controller manager, run out of cluster against a local cluster in its
``Standard`` (raw Deployment) mode: its CRDs, ``inferenceservice-config`` ConfigMap,
webhooks and ClusterServingRuntimes, all read from the release's own install manifests
(``install/<version>/`` of the ``github.com/kserve/kserve`` module), never written here.

What differs from the release's install, and why:
- ``deploy.defaultDeploymentMode`` is ``Standard``, the change KServe's own
  standard-mode installer makes (``update_isvc_config
  deploy.defaultDeploymentMode=Standard`` in kserve-standard-mode-full-install-with-
  manifests.sh). Knative is not run: a ``Knative``-mode InferenceService is left to
  report what KServe reports without it.
- Each webhook is called at ``https://127.0.0.1:<port>`` with mlkube's webhook
  certificate (valid for 127.0.0.1), in place of the ``kserve-webhook-server-service``
  Service and cert-manager's certificate: no kube-proxy, no cert-manager. KServe's
  manager reads the certificate from controller-runtime's default directory
  (``$TMPDIR/k8s-webhook-server/serving-certs``), with the cluster's own ``TMPDIR``
  (`controllers.webhook_cert_dir`), as the Training Operator does.
- Only the ``serving.kserve.io`` controller's objects: the LLMInferenceService and
  LocalModel controllers, their CRDs and webhooks are not part of this manager.
"""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path
from typing import Any

import yaml

from mlkube.crds import module_dir
from mlkube.localcluster.binaries import MODULES, Binaries, version
from mlkube.localcluster.components import Layout

NAMESPACE = "kserve"  # constants.KServeNamespace: POD_NAMESPACE, else "kserve"
CONFIGMAP = "inferenceservice-config"
WEBHOOK_SERVICE = "kserve-webhook-server-service"  # the webhooks of this manager
DEPLOYMENT_MODE = "Standard"
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_KIND = re.compile(r"^kind:\s*(\S+)\s*$", re.M)
# The objects of install/<v>/kserve.yaml this manager needs (the rest: CRDs, RBAC for
# in-cluster ServiceAccounts, Deployments, cert-manager objects, Services).
_KINDS = frozenset(
    {"ConfigMap", "ClusterStorageContainer", "MutatingWebhookConfiguration",
     "ValidatingWebhookConfiguration"}
)  # fmt: skip


def release_dir() -> Path:
    return module_dir(MODULES["kserve"], version("kserve")) / "install" / version("kserve")


def _documents(path: Path, kinds: frozenset[str]) -> list[dict[str, Any]]:
    """The documents of a multi-document file whose top-level ``kind`` is in ``kinds``,
    parsing only those: kserve.yaml is 7 MB, nearly all of it CRDs not needed here."""
    out = []
    for text in re.split(r"^---\s*$", path.read_text(), flags=re.M):
        kind = _KIND.search(text)
        if kind is None or kind.group(1) not in kinds:
            continue
        doc = yaml.load(text, Loader=_LOADER)
        if doc and doc.get("kind") in kinds:
            out.append(doc)
    return out


def crds() -> list[dict[str, Any]]:
    """The release's ``serving.kserve.io`` CRDs (kserve-crds.yaml): InferenceService,
    ServingRuntime, ClusterServingRuntime, TrainedModel, InferenceGraph and
    ClusterStorageContainer, all of which the manager watches or reads."""
    return _documents(release_dir() / "kserve-crds.yaml", frozenset({"CustomResourceDefinition"}))


def _b64(path: Path) -> str:
    return base64.b64encode(path.read_bytes()).decode()


def _standard(configmap: dict[str, Any]) -> dict[str, Any]:
    deploy = json.loads(configmap["data"]["deploy"])
    deploy["defaultDeploymentMode"] = DEPLOYMENT_MODE
    data = {**configmap["data"], "deploy": json.dumps(deploy, indent=2)}
    return {**configmap, "data": data}


def _webhooks(config: dict[str, Any], layout: Layout) -> dict[str, Any] | None:
    """The configuration with each of this manager's webhooks called by URL, or None
    when it holds none of them (the LLMInferenceService and LocalModel ones)."""
    hooks = [
        w for w in config["webhooks"] if w["clientConfig"]["service"]["name"] == WEBHOOK_SERVICE
    ]
    if not hooks:
        return None
    port = layout.ports["kserve-webhook"]
    for hook in hooks:
        path = hook["clientConfig"]["service"]["path"]
        hook["clientConfig"] = {
            "url": f"https://127.0.0.1:{port}{path}",
            "caBundle": _b64(layout.pki.ca),
        }
    annotations = config["metadata"].pop("annotations", {})
    annotations.pop("cert-manager.io/inject-ca-from", None)  # no cert-manager here
    if annotations:
        config["metadata"]["annotations"] = annotations
    config["metadata"].pop("creationTimestamp", None)
    return {**config, "webhooks": hooks}


def install_objects(layout: Layout) -> list[dict[str, Any]]:
    """What the manager needs before it starts: its namespace, ConfigMap (in
    ``Standard`` mode), the default ClusterStorageContainer (which the pod mutator reads
    to inject the storage-initializer) and its webhook configurations."""
    out: list[dict[str, Any]] = [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}}
    ]
    for doc in _documents(release_dir() / "kserve.yaml", _KINDS):
        kind, name = doc["kind"], doc["metadata"]["name"]
        if kind == "ConfigMap" and name == CONFIGMAP:
            out.append(_standard(doc))
        elif kind == "ClusterStorageContainer":
            doc["metadata"].pop("namespace", None)  # cluster-scoped
            out.append(doc)
        elif kind.endswith("WebhookConfiguration"):
            config = _webhooks(doc, layout)
            if config is not None:
                out.append(config)
    return out


def runtimes() -> list[dict[str, Any]]:
    """The ClusterServingRuntimes the release installs (kserve-cluster-resources.yaml:
    sklearn, huggingface, …); applied once the manager's validating webhook answers."""
    path = release_dir() / "kserve-cluster-resources.yaml"
    return _documents(path, frozenset({"ClusterServingRuntime"}))


def argv(b: Binaries, layout: Layout) -> list[str]:
    """The manager's own flags. Its webhook server has no host flag and listens on every
    interface at ``--webhook-port``; its metrics and probes are bound to 127.0.0.1."""
    p = layout.ports
    return [
        b["kserve-manager"],
        f"--kubeconfig={layout.kubeconfig}",
        f"--metrics-addr=127.0.0.1:{p['kserve-metrics']}",
        f"--health-probe-addr=127.0.0.1:{p['kserve-health']}",
        f"--webhook-port={p['kserve-webhook']}",
        "--leader-elect=false",
    ]


def env() -> dict[str, str]:
    return {"POD_NAMESPACE": NAMESPACE}
