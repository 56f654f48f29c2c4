"""Prometheus metrics of one controller, on its own registry (so two controllers in
one process, as in tests, do not collide), served on /metrics."""

from __future__ import annotations

import gc
import ipaddress
import re
import time
from collections.abc import Callable
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

from mlkube.errors import UsageError

_LABEL = re.compile(r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)")


def parse_bind_address(address: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[v6]:PORT`` for IPv6; ``:PORT`` is 127.0.0.1) as a bind
    address, or a UsageError saying what is wrong with it."""
    what = f"--metrics-bind-address {address[:80]!r}"
    host, sep, port_text = address.rpartition(":")
    if not sep:
        raise UsageError(f"{what}: expected HOST:PORT, e.g. 127.0.0.1:9402")
    if not port_text.isdigit() or not 1 <= int(port_text[:6]) <= 65535:
        raise UsageError(f"{what}: the port must be a number from 1 to 65535")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise UsageError(f"{what}: {host!r} is not an IPv6 address") from None
    elif host and not _host(host):
        raise UsageError(f"{what}: {host[:80]!r} is not an IP address or a host name")
    return host, int(port_text)


def _host(host: str) -> bool:
    labels = host.rstrip(".").split(".")
    if all(label.isdigit() for label in labels):  # looks like IPv4: must be one
        try:
            ipaddress.IPv4Address(host)
        except ValueError:
            return False
        return True
    return len(host) <= 253 and all(_LABEL.fullmatch(label) for label in labels)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.notices = Counter(
            "mlkube_termination_notices", "Termination notices seen, by signal", ["signal"],
            registry=r,
        )  # fmt: skip
        self.requests = Counter(
            "mlkube_checkpoint_requests",
            "Checkpoint requests recorded on jobs (one per job per notice)", ["signal"],
            registry=r,
        )  # fmt: skip
        self.deliveries = Counter(
            "mlkube_checkpoint_deliveries", "Pods annotated with a checkpoint request",
            registry=r,
        )  # fmt: skip
        self.evictions = Counter(
            "mlkube_evictions", "Pods evicted ahead of a node's end", registry=r
        )
        self.cordons = Counter("mlkube_cordons", "Nodes cordoned", registry=r)
        self.conflicts = Counter(
            "mlkube_record_conflicts",
            "Job records changed under the controller (retried)", registry=r,
        )  # fmt: skip
        self.errors = Counter(
            "mlkube_reconcile_errors",
            "Reconciles that failed for a temporary reason and were retried with backoff",
            registry=r,
        )  # fmt: skip
        self.refusals = Counter(
            "mlkube_reconcile_refusals",
            "Reconciles the API server refused (forbidden, invalid): reported once, "
            "tried again after a pause", registry=r,
        )  # fmt: skip
        self.watch_restarts = Counter(
            "mlkube_watch_restarts", "Watches that ended and were started again", ["kind"],
            registry=r,
        )  # fmt: skip
        self.api_requests = Gauge(
            "mlkube_api_requests", "Requests made to the API server (retries included)",
            registry=r,
        )  # fmt: skip
        self.leader = Gauge("mlkube_leader", "1 while this replica leads", registry=r)
        self.request_latency = Histogram(
            "mlkube_request_latency_seconds",
            "From the controller first seeing a notice to the job's request being recorded",
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30),
            registry=r,
        )
        self.gc_pauses = Histogram(
            "mlkube_gc_pause_seconds",
            "Collections of Python's cyclic garbage collector, by generation: each holds "
            "every thread of the process", ["generation"],
            buckets=(0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1),
            registry=r,
        )  # fmt: skip

    def time_collections(self) -> Callable[[], None]:
        """Observe every garbage collection of this process in ``gc_pauses``, until the
        function returned is called. A full collection walks every object the caches
        hold, and the records wait while it runs (controller/projection.py)."""
        started = 0.0

        def callback(phase: str, info: dict[str, int]) -> None:
            nonlocal started
            if phase == "start":
                started = time.perf_counter()
            else:
                pause = time.perf_counter() - started
                self.gc_pauses.labels(str(info["generation"])).observe(pause)

        gc.callbacks.append(callback)
        return lambda: gc.callbacks.remove(callback)

    def serve(self, address: str) -> Any:
        """Serve /metrics on ``address`` (an empty host: 127.0.0.1, never every
        interface by accident)."""
        host, port = parse_bind_address(address)
        try:
            server, _thread = start_http_server(port, addr=host or "127.0.0.1",
                                                registry=self.registry)  # fmt: skip
        except OSError as exc:
            raise UsageError(
                f"--metrics-bind-address {address!r}: cannot listen there: {exc.strerror}"
            ) from None
        return server
