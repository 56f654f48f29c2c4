"""Kueue, JobSet, Kubeflow Trainer v2 and the Kubeflow Training Operator, run out of
cluster against a local cluster: their configuration, webhooks and certificates, as data.

Each controller manages their webhook certificates with cert-controller's rotator,
which keeps a certificate from its Secret only when it is valid for the webhook
Service's DNS name. mlkube seeds those Secrets with its own webhook certificate
(valid for the DNS names and for 127.0.0.1), and points every webhook at
``https://127.0.0.1:<port>`` instead of a Service: no kube-proxy needed, and the
rotator injects the matching CA bundle itself.
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import jsonpatch
import yaml

from mlkube.crds import module_dir
from mlkube.fileio import write_atomic
from mlkube.localcluster.binaries import MODULES, Binaries, version
from mlkube.localcluster.components import Layout

KUEUE_NAMESPACE = "kueue-system"
KUEUE_SECRET = "kueue-webhook-server-cert"
KUEUE_SERVICE = "kueue-webhook-service"
TRAINING_NAMESPACE = "kubeflow"
TRAINING_SECRET = "training-operator-webhook-cert"
TRAINING_WEBHOOK = "validator.training-operator.kubeflow.org"
# The webhooks kept: the job kinds Kueue manages here, and Kueue's own kinds. The
# others (pods, deployments, …) would call handlers this configuration does not start.
KUEUE_WEBHOOKS = frozenset(
    {
        "mjob.kb.io", "vjob.kb.io", "mpytorchjob.kb.io", "vpytorchjob.kb.io",
        "mtrainjob.kb.io", "vtrainjob.kb.io",
        "mclusterqueue.kb.io", "vclusterqueue.kb.io", "vcohort.kb.io",
        "mresourceflavor.kb.io", "vresourceflavor.kb.io", "mworkload.kb.io", "vworkload.kb.io",
    }
)  # fmt: skip
KUEUE_CONVERTED = ("localqueues", "clusterqueues", "cohorts", "workloads", "multikueueclusters")
# Named explicitly: Kueue v0.19 turns the Training Operator v1 frameworks off by default
# (the TrainJob one is on), and mlkube renders both paths. Not `jobset.x-k8s.io/jobset`:
# a TrainJob's JobSet is admitted through its TrainJob, and standalone JobSets are not
# something mlkube renders.
KUEUE_FRAMEWORKS = ("batch/job", "kubeflow.org/pytorchjob", "trainer.kubeflow.org/trainjob")
JOBSET_NAMESPACE = "jobset-system"  # where JobSet's rotator looks (no ServiceAccount file here)
JOBSET_SECRET = "jobset-webhook-server-cert"
JOBSET_SERVICE = "jobset-webhook-service"
TRAINER_NAMESPACE = "kubeflow-system"  # likewise for Trainer v2
TRAINER_SECRET = "kubeflow-trainer-webhook-cert"
TRAINER_SERVICE = "kubeflow-trainer-controller-manager"


def _module(component: str) -> Path:
    return module_dir(MODULES[component], version(component))


def _b64(path: Path) -> str:
    return base64.b64encode(path.read_bytes()).decode()


def _url(layout: Layout, port: str, path: str) -> dict[str, Any]:
    return {"url": f"https://127.0.0.1:{layout.ports[port]}{path}", "caBundle": _b64(layout.pki.ca)}


# The directory the controllers' certificate rotators (cert-controller, in the Training
# Operator, JobSet and Trainer) wait for, fixed in their code: they only check that
# ``tls.crt`` exists there (``ensureCertsMounted``), never read it.
ROTATOR_CERT_DIR = Path("/tmp/k8s-webhook-server/serving-certs")
# controller-runtime's default certificate directory, under the process's os.TempDir().
_DEFAULT_CERT_DIR = ("k8s-webhook-server", "serving-certs")


def tmp_dir(layout: Layout) -> Path:
    """The ``TMPDIR`` of the cluster's controllers: Go's os.TempDir() reads it, so each
    cluster's webhook servers read their certificate from a directory of their own."""
    return layout.root / "tmp"


def webhook_cert_dir(layout: Layout) -> Path:
    """Where the webhook servers of the Training Operator, JobSet, Trainer and KServe read
    their certificate: controller-runtime's default, ``$TMPDIR/k8s-webhook-server/
    serving-certs``, with `tmp_dir` as ``TMPDIR``. Per cluster, so that clusters side
    by side (another PKI, another mlkube) never serve each other's certificate."""
    return tmp_dir(layout).joinpath(*_DEFAULT_CERT_DIR)


def controller_env(layout: Layout) -> dict[str, str]:
    """The environment of an out-of-cluster controller: its kubeconfig and `tmp_dir`."""
    return {"KUBECONFIG": str(layout.kubeconfig), "TMPDIR": str(tmp_dir(layout))}


def kueue_cert_dir(layout: Layout) -> Path:
    return layout.root / "kueue-certs"


def write_serving_cert(layout: Layout, cert_dir: Path) -> None:
    """Put the webhook certificate where a controller's webhook server reads it (in a
    cluster, the Secret would be mounted there; the rotator only checks the file).
    Written atomically: a server watching the directory never sees half a file."""
    cert_dir.mkdir(parents=True, exist_ok=True)
    for source, target in (
        ("webhook.crt", "tls.crt"),
        ("webhook.key", "tls.key"),
        ("ca.crt", "ca.crt"),
    ):
        write_atomic(cert_dir / target, layout.pki.path(source).read_bytes())


def mark_certs_mounted(layout: Layout) -> None:
    """Let the rotators' wait for `ROTATOR_CERT_DIR` end: a ``tls.crt`` there, written
    only when none is. Its content is read by no server (they read `webhook_cert_dir`),
    so a cluster never changes what another one serves."""
    if (ROTATOR_CERT_DIR / "tls.crt").is_file():
        return
    ROTATOR_CERT_DIR.mkdir(parents=True, exist_ok=True)
    write_atomic(ROTATOR_CERT_DIR / "tls.crt", layout.pki.path("webhook.crt").read_bytes())


def cert_secret(layout: Layout, name: str, namespace: str) -> dict[str, Any]:
    pki = layout.pki
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": namespace},
        "type": "Opaque",
        "data": {
            "ca.crt": _b64(pki.ca),
            "ca.key": _b64(pki.path("ca.key")),
            "tls.crt": _b64(pki.path("webhook.crt")),
            "tls.key": _b64(pki.path("webhook.key")),
        },
    }


# Kueue --------------------------------------------------------------------------------


def kueue_config(layout: Layout) -> dict[str, Any]:
    p = layout.ports
    return {
        "apiVersion": "config.kueue.x-k8s.io/v1beta2",
        "kind": "Configuration",
        "namespace": KUEUE_NAMESPACE,
        "health": {"healthProbeBindAddress": f"127.0.0.1:{p['kueue-health']}"},
        "metrics": {"bindAddress": f"127.0.0.1:{p['kueue-metrics']}"},
        "webhook": {
            "host": "127.0.0.1",
            "port": p["kueue-webhook"],
            "certDir": str(kueue_cert_dir(layout)),
        },
        "leaderElection": {"leaderElect": False},
        "internalCertManagement": {
            "enable": True,
            "webhookServiceName": KUEUE_SERVICE,
            "webhookSecretName": KUEUE_SECRET,
        },
        "manageJobsWithoutQueueName": False,
        "integrations": {"frameworks": list(KUEUE_FRAMEWORKS)},
    }


def kueue_webhooks(layout: Layout) -> list[dict[str, Any]]:
    path = _module("kueue") / "config" / "components" / "webhook" / "manifests.yaml"
    out = []
    for config in yaml.safe_load_all(path.read_text()):
        if not config:
            continue
        config["metadata"]["name"] = f"kueue-{config['metadata']['name']}"
        webhooks = [w for w in config["webhooks"] if w["name"] in KUEUE_WEBHOOKS]
        for w in webhooks:
            w["clientConfig"] = _url(layout, "kueue-webhook", w["clientConfig"]["service"]["path"])
        config["webhooks"] = webhooks
        out.append(config)
    return out


def with_kueue_conversion(crd: dict[str, Any], layout: Layout) -> dict[str, Any]:
    """Kueue's CRD with its conversion webhook (between v1beta1 and v1beta2)."""
    if (
        crd["spec"]["group"] != "kueue.x-k8s.io"
        or crd["spec"]["names"]["plural"] not in KUEUE_CONVERTED
    ):
        return crd
    conversion = {
        "strategy": "Webhook",
        "webhook": {
            "clientConfig": _url(layout, "kueue-webhook", "/convert"),
            "conversionReviewVersions": ["v1"],
        },
    }
    return {**crd, "spec": {**crd["spec"], "conversion": conversion}}


def kueue_argv(b: Binaries, layout: Layout, config: Path) -> list[str]:
    return [
        b["kueue"],
        f"--config={config}",
        f"--kubeconfig={layout.kubeconfig}",
        "--feature-gates=VisibilityOnDemand=false",
    ]


# Training Operator ----------------------------------------------------------------------


def training_webhooks(layout: Layout) -> list[dict[str, Any]]:
    path = _module("training-operator") / "manifests" / "base" / "webhook" / "manifests.yaml"
    (config,) = [c for c in yaml.safe_load_all(path.read_text()) if c]
    config["metadata"]["name"] = TRAINING_WEBHOOK
    webhooks = [w for w in config["webhooks"] if "pytorchjob" in w["name"]]
    for w in webhooks:
        w["clientConfig"] = _url(
            layout, "training-operator-webhook", w["clientConfig"]["service"]["path"]
        )
    config["webhooks"] = webhooks
    return [config]


def training_argv(b: Binaries, layout: Layout) -> list[str]:
    p = layout.ports
    return [
        b["training-operator"],
        f"--kubeconfig={layout.kubeconfig}",
        f"--metrics-bind-address=127.0.0.1:{p['training-operator-metrics']}",
        f"--health-probe-bind-address=127.0.0.1:{p['training-operator-health']}",
        f"--webhook-server-port={p['training-operator-webhook']}",
        "--enable-scheme=pytorchjob",
    ]


# JobSet and Kubeflow Trainer v2 --------------------------------------------------------


def _release_webhooks(
    component: str,
    path: str,
    names: dict[str, str],
    port: str,
    layout: Layout,
    *,
    patches: dict[str, str] | None = None,
) -> list[dict[str, Any]]:
    """The webhook configurations a release ships, renamed as its kustomization names
    them (the rotator injects its CA bundle by name), with the release's own JSON
    patches applied, each webhook pointed at ``https://127.0.0.1:<port>``."""
    root = _module(component)
    out = []
    for shipped in yaml.safe_load_all((root / path).read_text()):
        if not shipped:
            continue
        kind, name = shipped["kind"], shipped["metadata"]["name"]
        config = shipped
        if patches and kind in patches:
            patch = yaml.safe_load((root / patches[kind]).read_text())
            config = jsonpatch.apply_patch(shipped, patch)
        config["metadata"]["name"] = names[name]
        for w in config["webhooks"]:
            w["clientConfig"] = _url(layout, port, w["clientConfig"]["service"]["path"])
        out.append(config)
    return out


def jobset_webhooks(layout: Layout) -> list[dict[str, Any]]:
    # The pod webhooks only for the pods of a JobSet: the release's kustomize patches.
    patches = "config/components/webhook/patches"
    return _release_webhooks(
        "jobset",
        "config/components/webhook/manifests.yaml",
        {
            "mutating-webhook-configuration": "jobset-mutating-webhook-configuration",
            "validating-webhook-configuration": "jobset-validating-webhook-configuration",
        },
        "jobset-webhook",
        layout,
        patches={
            "MutatingWebhookConfiguration": f"{patches}/mutating-patch.yaml",
            "ValidatingWebhookConfiguration": f"{patches}/validating-patch.yaml",
        },
    )


def jobset_config(layout: Layout) -> dict[str, Any]:
    p = layout.ports
    return {
        "apiVersion": "config.jobset.x-k8s.io/v1alpha1",
        "kind": "Configuration",
        "webhook": {"host": "127.0.0.1", "port": p["jobset-webhook"]},
        "metrics": {"bindAddress": f"127.0.0.1:{p['jobset-metrics']}"},
        "health": {"healthProbeBindAddress": f"127.0.0.1:{p['jobset-health']}"},
        "leaderElection": {"leaderElect": False},
        "internalCertManagement": {
            "enable": True,
            "webhookServiceName": JOBSET_SERVICE,
            "webhookSecretName": JOBSET_SECRET,
        },
    }


def jobset_argv(b: Binaries, layout: Layout, config: Path) -> list[str]:
    return [b["jobset"], f"--config={config}", f"--kubeconfig={layout.kubeconfig}"]


def trainer_webhooks(layout: Layout) -> list[dict[str, Any]]:
    return _release_webhooks(
        "trainer",
        "manifests/base/webhook/manifests.yaml",
        {
            "mutating-webhook-configuration": "defaulter.trainer.kubeflow.org",
            "validating-webhook-configuration": "validator.trainer.kubeflow.org",
        },
        "trainer-webhook",
        layout,
    )


def trainer_config(layout: Layout) -> dict[str, Any]:
    p = layout.ports
    return {
        "apiVersion": "config.trainer.kubeflow.org/v1alpha1",
        "kind": "Configuration",
        "webhook": {"host": "127.0.0.1", "port": p["trainer-webhook"]},
        "metrics": {"bindAddress": f"127.0.0.1:{p['trainer-metrics']}"},
        "health": {"healthProbeBindAddress": f"127.0.0.1:{p['trainer-health']}"},
        "leaderElection": {"leaderElect": False},
        "certManagement": {
            "enable": True,
            "webhookServiceName": TRAINER_SERVICE,
            "webhookSecretName": TRAINER_SECRET,
        },
    }


def trainer_argv(b: Binaries, layout: Layout, config: Path) -> list[str]:
    return [b["trainer"], f"--config={config}", f"--kubeconfig={layout.kubeconfig}"]


def trainer_runtimes() -> list[dict[str, Any]]:
    """The ClusterTrainingRuntimes the release installs (torch-distributed, …), so that
    TrainJobs written for a stock Trainer install run here too."""
    root = _module("trainer") / "manifests" / "base" / "runtimes"
    out = []
    for path in sorted(root.glob("*.yaml")):
        if path.name != "kustomization.yaml":
            out += [d for d in yaml.safe_load_all(path.read_text()) if d]
    return out
