"""``mlkube controller run``: wire the controller, leader election and metrics, and run
until SIGTERM. It ends on its own, with one line saying why, when it can no longer do
its job: the Lease cannot be taken (namespace missing, not allowed), the Lease was lost
(its Deployment restarts it as a candidate), or the API server has not answered for
``give_up_seconds``.

Every call to the API server has a timeout, and the shutdown path waits on none of
them for more than a couple of seconds: a SIGTERM against a server that does not answer
ends the process at once.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlkube.cluster.client import Kube
from mlkube.cluster.kubeconfig import SERVICE_ACCOUNT
from mlkube.controller.leader import LeaderElector, Timing
from mlkube.controller.metrics import Metrics
from mlkube.controller.reachability import Reachability
from mlkube.controller.reconciler import Controller, Options
from mlkube.errors import Unreachable

log = logging.getLogger("mlkube.controller")
LEASE_NAME = "mlkube-controller"
# Where `mlkube controller manifests` puts the Lease's Role (controller.manifests).
DEFAULT_LEASE_NAMESPACE = "mlkube-system"
SHUTDOWN_WAIT = 2.5  # seconds, at most, for the Lease to be handed over on exit


@dataclass
class RunOptions:
    metrics_address: str = "127.0.0.1:9402"
    leader_elect: bool = True
    lease_namespace: str = DEFAULT_LEASE_NAMESPACE
    identity: str = ""
    give_up_seconds: float = 30.0
    timing: Timing | None = None
    options: Options | None = None


def default_lease_namespace(service_account: Path = SERVICE_ACCOUNT) -> str:
    """In a pod, the pod's own namespace (as controller-runtime defaults it); outside,
    the namespace the shipped bundle creates, so a replica run from a laptop and the
    Deployment's replicas elect among themselves. Not the kubeconfig context's
    namespace: a context on "default" would hold a second, separate election."""
    try:
        namespace = (service_account / "namespace").read_text().strip()
    except OSError:
        return DEFAULT_LEASE_NAMESPACE
    return namespace or DEFAULT_LEASE_NAMESPACE


def identity() -> str:
    """The pod name in a cluster (Downward API), else host and pid; plus a nonce, so a
    restarted process never mistakes its predecessor's lease for its own."""
    base = os.environ.get("POD_NAME") or f"{socket.gethostname()}-{os.getpid()}"
    return f"{base}-{uuid.uuid4().hex[:6]}"


def run(kube: Kube, opts: RunOptions, stop: threading.Event | None = None) -> int:
    """0 after SIGTERM (or ``stop``); raises an MlkubeError saying why otherwise."""
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
    reach = Reachability(kube, opts.give_up_seconds)
    untime = metrics.time_collections()
    elector: LeaderElector | None = None
    electing: threading.Thread | None = None
    try:
        # Raises Unreachable at once when nothing listens, after give_up_seconds when
        # the server does not answer; SIGTERM meanwhile ends the run at once.
        if not _until(stop, controller.start, opts.give_up_seconds, kube):
            return 0
        reach.start()
        if opts.leader_elect:
            elector = LeaderElector(kube, opts.lease_namespace, LEASE_NAME, me, opts.timing)
            # The first attempt before anything else: a missing namespace or a missing
            # right ends the run here, within seconds, with one line.
            if not _until(stop, elector.try_once, opts.give_up_seconds, kube):
                return 0
            electing = threading.Thread(target=elector.run, args=(stop,), name="leader",
                                        daemon=True)  # fmt: skip
            electing.start()
        else:
            controller.lead()
        while not stop.wait(0.2):
            if elector is not None:
                if elector.failure is not None:
                    raise elector.failure
                if elector.leading.is_set() and not controller.leading.is_set():
                    controller.lead()
            reach.check()
        return 0
    finally:
        stop.set()  # also when ending on an error: the elector releases the Lease
        controller.stop()
        reach.stop()
        if electing is not None:
            electing.join(SHUTDOWN_WAIT)  # its release: two short requests at most
        if server is not None:
            threading.Thread(target=server.shutdown, daemon=True).start()
        untime()
        log.info("controller %s stopped", me)


def _until(stop: threading.Event, step: Callable[[], Any], seconds: float, kube: Kube) -> bool:
    """Run ``step`` in a daemon thread and wait for it, for ``stop``, or for
    ``seconds``: True when it finished (its exception is raised here), False on stop.
    The main thread stays free to notice SIGTERM while a request hangs."""
    done = threading.Event()
    failure: list[BaseException] = []

    def target() -> None:
        try:
            step()
        except BaseException as exc:
            failure.append(exc)
        finally:
            done.set()

    threading.Thread(target=target, name="startup", daemon=True).start()
    waited = 0.0
    while not done.wait(0.1):
        waited += 0.1
        if stop.is_set():
            return False
        if waited >= seconds:
            raise Unreachable(
                f"the API server at {kube.connection.server} (context "
                f"{kube.connection.context!r}) did not answer within {seconds:.0f} s"
            )
    if failure:
        raise failure[0]
    return True
