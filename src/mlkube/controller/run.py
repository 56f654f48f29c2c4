"""``mlkube controller run``: wire the controller, leader election and metrics, and run
until SIGTERM (or until the lease is lost: a replica that may no longer act exits, and
its Deployment restarts it as a candidate)."""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
import uuid
from dataclasses import dataclass

from mlkube.cluster.client import Kube
from mlkube.controller.leader import LeaderElector
from mlkube.controller.metrics import Metrics
from mlkube.controller.reconciler import Controller, Options

log = logging.getLogger("mlkube.controller")
LEASE_NAME = "mlkube-controller"
EXIT_LOST_LEASE = 1


@dataclass
class RunOptions:
    metrics_address: str = "127.0.0.1:9402"
    leader_elect: bool = True
    lease_namespace: str = "mlkube-system"
    identity: str = ""
    options: Options | None = None


def identity() -> str:
    """The pod name in a cluster (Downward API), else host and pid; plus a nonce, so a
    restarted process never mistakes its predecessor's lease for its own."""
    base = os.environ.get("POD_NAME") or f"{socket.gethostname()}-{os.getpid()}"
    return f"{base}-{uuid.uuid4().hex[:6]}"


def run(kube: Kube, opts: RunOptions, stop: threading.Event | None = None) -> int:
    stop = stop or threading.Event()
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
    me = opts.identity or identity()
    options = opts.options or Options()
    options.identity = me
    metrics = Metrics()
    server = metrics.serve(opts.metrics_address) if opts.metrics_address else None
    controller = Controller(kube, options, metrics)
    controller.start()
    elector: LeaderElector | None = None
    try:
        if not opts.leader_elect:
            controller.lead()
        else:
            elector = LeaderElector(kube, opts.lease_namespace, LEASE_NAME, me)
            threading.Thread(target=elector.run, args=(stop,), daemon=True).start()
            while not stop.is_set() and not elector.leading.wait(0.5):
                pass
            if elector.leading.is_set():
                controller.lead()
        while not stop.wait(0.5):
            if elector is not None and elector.lost.is_set():
                return EXIT_LOST_LEASE
        return 0
    finally:
        controller.stop()
        if elector is not None:
            elector.release()
        if server is not None:
            server.shutdown()
        log.info("controller %s stopped", me)
