"""Each local cluster's webhook servers read their certificate from a directory of the
cluster's own, not from controller-runtime's machine-wide default
(``/tmp/k8s-webhook-server/serving-certs``), which every cluster on the machine wrote
(two clusters with different PKIs served each other's certificate).

Proved on the serving cluster, whose four controllers with webhooks (Training Operator,
JobSet, Trainer v2, KServe) all read controller-runtime's default directory under their
``TMPDIR``: another certificate of the same CA (the API server's) put into the cluster's
own directory is what each webhook port serves next (controller-runtime's certwatcher
reloads it); the shared directory is never read. The webhook certificate is put back.
"""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest

from mlkube.fileio import write_atomic
from mlkube.localcluster import cluster, controllers
from mlkube.localcluster.binaries import cache_root
from mlkube.localcluster.components import Layout
from mlkube.localcluster.pki import Pki

from .conftest import NAME
from .waiting import until

CLUSTER = f"{NAME}-serving"  # the serving_cluster fixture's
WEBHOOK_PORTS = ("training-operator-webhook", "jobset-webhook", "trainer-webhook", "kserve-webhook")


def _der(pem: bytes) -> bytes:
    return ssl.PEM_cert_to_DER_cert(pem.decode())


def _served(port: int) -> bytes:
    return _der(ssl.get_server_certificate(("127.0.0.1", port), timeout=5).encode())


@pytest.fixture
def layout(serving_cluster: Path) -> Layout:
    root = cluster.cluster_root(CLUSTER)
    assert serving_cluster.parent == root
    state = cluster.State.load(root / "state.json")
    return Layout(root, Pki(cache_root() / "pki" / cluster.PKI_FORMAT), state.ports)


def test_each_webhook_server_reads_the_clusters_own_certificate(layout: Layout) -> None:
    cert_dir = controllers.webhook_cert_dir(layout)
    assert cert_dir.is_relative_to(layout.root)
    pki = layout.pki
    webhook = (pki.path("webhook.crt").read_bytes(), pki.path("webhook.key").read_bytes())
    other = (pki.path("apiserver.crt").read_bytes(), pki.path("apiserver.key").read_bytes())
    assert _der(other[0]) != _der(webhook[0])
    ports = {name: layout.ports[name] for name in WEBHOOK_PORTS}
    for name, port in ports.items():
        assert _served(port) == _der(webhook[0]), name

    def serving(cert: bytes) -> list[str] | None:
        wrong = [name for name, port in ports.items() if _served(port) != _der(cert)]
        return None if wrong else list(ports)

    try:
        # the key first: a watcher that reads between the two sees a pair that does not
        # match, which certwatcher rejects and keeps the old one
        write_atomic(cert_dir / "tls.key", other[1])
        write_atomic(cert_dir / "tls.crt", other[0])
        until("every webhook port to serve the cluster's new certificate",
              lambda: serving(other[0]), timeout=60, every=0.5)  # fmt: skip
    finally:
        write_atomic(cert_dir / "tls.key", webhook[1])
        write_atomic(cert_dir / "tls.crt", webhook[0])
    until("the webhook certificate back", lambda: serving(webhook[0]), timeout=60, every=0.5)
