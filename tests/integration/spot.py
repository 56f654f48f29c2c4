"""The pieces of a spot-reclaim scenario on the local cluster: extra spot nodes, each
cloud's termination signal, the controller running as its own ServiceAccount (so its
RBAC is what is tested), and readings of what it did."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from mlkube.cluster.apply import apply_objects
from mlkube.cluster.client import Kube
from mlkube.controller.jobs import REQUEST_ANNOTATION, Request, read_record
from mlkube.controller.manifests import NAME, NAMESPACE, bundle
from mlkube.controller.signals import TERMINATE_AT_ANNOTATION, format_time
from mlkube.localcluster.nodes import fake_node
from mlkube.localcluster.processes import free_ports
from mlkube.spec import load_platform
from mlkube.spec.models import Platform, Pool

from ..conftest import EXAMPLES
from .jobs import find_job, pod_templates, pods_of, training_job
from .waiting import until

SPOT_POOL = "a100-spot"
SCENARIO_LABEL = "mlkube-test/spot-scenario"


def spot_pool() -> Pool:
    platform = load_platform(str(EXAMPLES / "platform.yaml")).spec
    assert isinstance(platform, Platform)
    return next(p for p in platform.spec.pools if p.name == SPOT_POOL)


def add_spot_nodes(kube: Kube, first: int, count: int) -> list[str]:
    pool = spot_pool()
    nodes = [fake_node(pool, i) for i in range(first, first + count)]
    for node in nodes:
        kube.create(node)
    return [n["metadata"]["name"] for n in nodes]


def renew_node(kube: Kube, name: str) -> None:
    """Replace a node that carried a notice with a fresh one of the same name (as a
    cloud brings up a new instance), so later tests see the platform as it was."""
    kube.delete("v1", "Node", name)
    index = int(name.rsplit("-", 1)[1])
    kube.create(fake_node(spot_pool(), index))


# the signals, as each cloud's agent writes them ------------------------------------


def _taint(key: str) -> Any:
    def mark(kube: Kube, node: str) -> None:
        current = kube.get("v1", "Node", node) or {}
        taints = [*(current.get("spec") or {}).get("taints", []),
                  {"key": key, "value": "notice-1", "effect": "NoSchedule"}]  # fmt: skip
        kube.patch("v1", "Node", node, {"spec": {"taints": taints}})

    return mark


def _azure(kube: Kube, node: str) -> None:
    now = format_time(datetime.now(UTC))
    condition = {"type": "VMEventScheduled", "status": "True", "reason": "VMEventScheduled",
                 "message": "VM event scheduled: Preempt", "lastTransitionTime": now,
                 "lastHeartbeatTime": now}  # fmt: skip
    kube.request(
        "PATCH", f"/api/v1/nodes/{node}/status",
        content=json.dumps({"status": {"conditions": [condition]}}),
        headers={"Content-Type": "application/strategic-merge-patch+json"},
    )  # fmt: skip


def _on_prem(kube: Kube, node: str) -> None:
    end = format_time(datetime.now(UTC) + timedelta(seconds=120))
    kube.patch("v1", "Node", node, {"metadata": {"annotations": {TERMINATE_AT_ANNOTATION: end}}})


SIGNALS = {
    "aws": _taint("aws-node-termination-handler/spot-itn"),
    "gke": _taint("cloud.google.com/impending-node-termination"),
    "aks": _azure,
    "onprem": _on_prem,
}


# jobs ---------------------------------------------------------------------------------


def spot_job(
    name: str, *, nodes: int = 1, run: str = "35s", apart: bool = True, legacy: bool = False
) -> dict[str, Any]:
    """A checkpointing training job on spot A100s; ``apart`` keeps it off nodes that run
    another scenario's pods, so each signal hits one job."""
    extra = f"  spot: true\n  checkpoint: {{uri: s3://ckpt/{name}, intervalMinutes: 10}}\n"
    job = training_job(
        name, nodes=nodes, gpus=2, pool=SPOT_POOL, run=run, extra=extra, legacy=legacy
    )[0]
    for template in pod_templates(job):
        template["metadata"].setdefault("labels", {})[SCENARIO_LABEL] = "x" if apart else name
        if apart:
            template["spec"]["affinity"] = {"podAntiAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": [{
                    "labelSelector": {"matchLabels": {SCENARIO_LABEL: "x"}},
                    "topologyKey": "kubernetes.io/hostname",
                }]}}  # fmt: skip
    return job


def running_nodes(kube: Kube, job: str, count: int, timeout: float = 90) -> dict[str, str]:
    """Pod name → node, once ``count`` pods of ``job`` run."""

    def placed() -> dict[str, str] | None:
        pods = [p for p in pods_of(kube, job) if p["status"].get("phase") == "Running"]
        if len(pods) != count:
            return None
        return {p["metadata"]["name"]: p["spec"]["nodeName"] for p in pods}

    return until(f"{job}: {count} pods running", placed, timeout, every=0.5)


def record(kube: Kube, job: str) -> list[Request]:
    return read_record(find_job(kube, job) or {})


def requested_events(kube: Kube, job: str) -> list[dict[str, Any]]:
    return [
        e for e in kube.list("v1", "Event", "ml-training")
        if e.get("reason") == "CheckpointRequested" and e["involvedObject"]["name"] == job
    ]  # fmt: skip


def delivered(kube: Kube, job: str) -> str | None:
    """The request id every live pod of ``job`` carries, once they all do."""
    ids = {(p["metadata"].get("annotations") or {}).get(REQUEST_ANNOTATION)
           for p in pods_of(kube, job) if p["status"].get("phase") == "Running"}  # fmt: skip
    return ids.pop() if len(ids) == 1 and None not in ids else None


# the controller as a process, with its own ServiceAccount ----------------------------


def serviceaccount_kubeconfig(kube: Kube, admin: Path, out: Path) -> Path:
    """Install the controller's RBAC from its shipped bundle, then a kubeconfig that
    authenticates as its ServiceAccount with a bound token (TokenRequest)."""
    apply_objects(kube, [o for o in bundle() if o["kind"] != "Deployment"])
    return token_kubeconfig(kube, admin, out, NAME)


def token_kubeconfig(kube: Kube, admin: Path, out: Path, account: str) -> Path:
    """A kubeconfig for ServiceAccount ``account`` in the controller's namespace."""
    request = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
               "spec": {"expirationSeconds": 3600}}  # fmt: skip
    token = kube.request(
        "POST", f"/api/v1/namespaces/{NAMESPACE}/serviceaccounts/{account}/token", json=request
    )["status"]["token"]
    config = yaml.safe_load(admin.read_text())
    config["users"] = [{"name": account, "user": {"token": token}}]
    config["contexts"][0]["context"]["user"] = account
    out.write_text(yaml.safe_dump(config))
    return out


def restricted_account(kube: Kube, name: str, rules: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A ServiceAccount bound to a ClusterRole of ``rules`` only: the objects, applied."""
    meta = {"name": name, "labels": {"mlkube-test/restricted": "true"}}
    objs: list[dict[str, Any]] = [
        {"apiVersion": "v1", "kind": "ServiceAccount",
         "metadata": {**meta, "namespace": NAMESPACE}},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
         "metadata": meta, "rules": rules},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
         "metadata": meta,
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                     "name": name},
         "subjects": [{"kind": "ServiceAccount", "name": name, "namespace": NAMESPACE}]},
    ]  # fmt: skip
    apply_objects(kube, objs)
    return objs


def with_server(kubeconfig: Path, server: str, out: Path) -> Path:
    """The same kubeconfig, pointed at another address (a TcpProxy in front of the
    API server); the server's certificate is for 127.0.0.1, whatever the port."""
    config = yaml.safe_load(kubeconfig.read_text())
    config["clusters"][0]["cluster"]["server"] = server
    out.write_text(yaml.safe_dump(config))
    return out


class TcpProxy:
    """A TCP forwarder on 127.0.0.1 in front of the API server, so a test can make the
    server go silent (connections accepted, nothing forwarded, nothing answered) or go
    away (connections refused) under a running controller, while the real server
    stays up for every other test."""

    def __init__(self, target: str) -> None:
        host, _, port = target.removeprefix("https://").rpartition(":")
        self.target = (host, int(port))
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        self.address = f"https://127.0.0.1:{self.listener.getsockname()[1]}"
        self.silent = threading.Event()
        self._open: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def go_silent(self) -> None:
        """From now on nothing passes, either way, on old connections or new ones."""
        self.silent.set()

    def cut(self) -> None:
        """Drop every open connection mid-stream; new ones pass as before."""
        for sock in list(self._open):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
                sock.close()
        self._open.clear()

    def close(self) -> None:
        """Refuse new connections and cut the open ones."""
        self.silent.set()
        self.listener.close()
        for sock in list(self._open):
            with contextlib.suppress(OSError):
                sock.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            self._open.append(client)
            if self.silent.is_set():
                continue  # accepted, and never answered
            upstream = socket.create_connection(self.target)
            self._open.append(upstream)
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    def _pipe(self, source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                while self.silent.is_set():
                    time.sleep(0.5)  # hold it: a server that stopped answering
                sink.sendall(data)


@dataclass
class ControllerProcess:
    process: subprocess.Popen[bytes]
    metrics_port: int
    log: Path

    @classmethod
    def start(cls, kubeconfig: Path, log: Path, *args: str) -> ControllerProcess:
        (port,) = free_ports(1)
        argv = [sys.executable, "-m", "mlkube", "controller", "run", "--kubeconfig",
                str(kubeconfig), "--metrics-bind-address", f"127.0.0.1:{port}", *args]  # fmt: skip
        with log.open("ab") as out:
            process = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT)
        return cls(process, port, log)

    def metrics(self) -> dict[str, float]:
        """Samples by name with labels, e.g. ``mlkube_leader`` or
        ``mlkube_checkpoint_requests_total{signal="aws-spot-interruption"}``."""
        url = f"http://127.0.0.1:{self.metrics_port}/metrics"
        with urllib.request.urlopen(url, timeout=5) as response:
            text = response.read().decode()
        out: dict[str, float] = {}
        for line in text.splitlines():
            if line and not line.startswith("#"):
                name, _, value = line.rpartition(" ")
                out[name] = float(value)
        return out

    def metric(self, name: str) -> float:
        """A sample's value, summed over its labels."""
        return sum(v for k, v in self.metrics().items() if k == name or k.startswith(name + "{"))

    def ready(self) -> bool:
        try:
            self.metrics()
        except OSError:
            return False
        return True

    def stop(self, sig: signal.Signals = signal.SIGTERM, timeout: float = 15) -> int:
        if self.process.poll() is None:
            os.kill(self.process.pid, sig)
        return self.process.wait(timeout)

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def errors(self) -> list[str]:
        """The one-line errors it ended with (``mlkube: …``)."""
        return [line for line in self.output().splitlines() if line.startswith("mlkube: ")]
