"""Requests whose answer is lost on the way back, against the real API server: reads
are repeated, writes are not repeated blindly.

A proxy on 127.0.0.1 terminates TLS with the local cluster's own serving certificate
and forwards every request to the real API server as the admin; for the requests a
test names, it forwards and then closes the connection without a word (the write
happened, the client never hears), or drops the request before forwarding it. The
API's answers are the real server's; only the network between is broken.
"""

from __future__ import annotations

import re
import ssl
import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from mlkube.cluster.auth import tls_context
from mlkube.cluster.client import Conflict, Kube, OutcomeUnknown
from mlkube.cluster.kubeconfig import Connection, load_connection
from mlkube.localcluster.pki import Pki

NAMESPACE = "client-lost-answers"


@dataclass
class Faults:
    """``(method, path pattern, "lose" | "drop")``, each used once; what arrived."""

    rules: list[tuple[str, str, str]] = field(default_factory=list)
    arrived: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def take(self, method: str, path: str) -> str | None:
        with self.lock:
            self.arrived[method] += 1
            for rule in self.rules:
                if rule[0] == method and re.search(rule[1], path):
                    self.rules.remove(rule)
                    return rule[2]
        return None


def _handler(upstream: httpx.Client, faults: Faults) -> type[BaseHTTPRequestHandler]:
    class Forward(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _forward(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            fault = faults.take(self.command, self.path)
            if fault == "drop":
                self.close_connection = True
                return
            headers = {k: v for k, v in self.headers.items()
                       if k.lower() not in ("host", "content-length", "connection")}  # fmt: skip
            response = upstream.request(self.command, self.path, content=body, headers=headers)
            if fault == "lose":
                self.close_connection = True
                return
            self.send_response(response.status_code)
            for k, v in response.headers.items():
                if k.lower() not in ("content-length", "transfer-encoding", "connection",
                                     "content-encoding"):  # fmt: skip
                    self.send_header(k, v)
            self.send_header("Content-Length", str(len(response.content)))
            self.end_headers()
            self.wfile.write(response.content)

        do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _forward

        def log_message(self, *_: Any) -> None:
            pass

    return Forward


@pytest.fixture
def proxied(local_cluster: Path) -> Iterator[tuple[Kube, Faults]]:
    admin = load_connection(str(local_cluster))
    assert admin.ca_file and admin.cert_file and admin.key_file
    pki = Pki(Path(admin.ca_file).parent)
    faults = Faults()
    upstream = httpx.Client(
        base_url=admin.server,
        verify=tls_context(admin),
        timeout=30,
    )
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(upstream, faults))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(pki.path("apiserver.crt"), pki.path("apiserver.key"))
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    connection: Connection = replace(admin, server=f"https://127.0.0.1:{server.server_port}")
    kube = Kube(connection, 10)
    kube.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}})
    faults.arrived.clear()  # count only what the test sends
    try:
        yield kube, faults
    finally:
        kube.close()
        server.shutdown()
        server.server_close()
        upstream.close()


def _configmap(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name, "namespace": NAMESPACE}, "data": {"a": "1"}}  # fmt: skip


def test_a_read_whose_answer_is_lost_is_asked_again(proxied: tuple[Kube, Faults]) -> None:
    kube, faults = proxied
    kube.create(_configmap("read-me"))
    faults.rules.append(("GET", r"/configmaps/read-me$", "lose"))
    retries = kube.stats["retries"]
    assert kube.get("v1", "ConfigMap", "read-me", NAMESPACE) is not None
    assert kube.stats["retries"] == retries + 1
    assert faults.arrived["GET"] >= 2


def test_a_create_whose_answer_is_lost_is_not_sent_again_when_it_happened(
    proxied: tuple[Kube, Faults],
) -> None:
    kube, faults = proxied
    faults.rules.append(("POST", r"/configmaps", "lose"))
    with pytest.raises(Conflict, match="may have made it"):
        kube.create(_configmap("made-once"))
    assert faults.arrived["POST"] == 1  # read back, never repeated
    assert kube.get("v1", "ConfigMap", "made-once", NAMESPACE) is not None


def test_a_create_that_never_arrived_is_sent_again_after_reading_back(
    proxied: tuple[Kube, Faults],
) -> None:
    kube, faults = proxied
    faults.rules.append(("POST", r"/configmaps", "drop"))
    created = kube.create(_configmap("second-try"))
    assert created["metadata"]["name"] == "second-try"
    assert faults.arrived["POST"] == 2  # the dropped one, then the one that made it


def test_a_conditional_write_whose_answer_is_lost_is_left_to_the_caller(
    proxied: tuple[Kube, Faults],
) -> None:
    kube, faults = proxied
    current = kube.create(_configmap("conditional"))
    faults.rules.append(("PATCH", r"/configmaps/conditional$", "lose"))
    version = current["metadata"]["resourceVersion"]
    with pytest.raises(OutcomeUnknown, match="may or may not have been carried out"):
        body = {"metadata": {"resourceVersion": version}, "data": {"a": "2"}}
        kube.patch("v1", "ConfigMap", "conditional", body, NAMESPACE)
    assert faults.arrived["PATCH"] == 1
    after = kube.get("v1", "ConfigMap", "conditional", NAMESPACE)
    assert after is not None and after["data"] == {"a": "2"}  # it did happen


def test_server_side_apply_whose_answer_is_lost_is_applied_again(
    proxied: tuple[Kube, Faults],
) -> None:
    kube, faults = proxied
    faults.rules.append(("PATCH", r"/configmaps/applied\?", "lose"))
    applied = kube.apply(_configmap("applied"))
    assert applied["data"] == {"a": "1"}, applied
    assert faults.arrived["PATCH"] == 2, (
        faults.arrived
    )  # a declared state: the second apply is a no-op
