"""Prometheus metrics of one controller, on its own registry (so two controllers in
one process, as in tests, do not collide), served on /metrics."""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server


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
            "mlkube_reconcile_errors", "Reconciles that failed and were retried", registry=r
        )
        self.watch_restarts = Counter(
            "mlkube_watch_restarts", "Watches that ended and were started again", ["kind"],
            registry=r,
        )  # fmt: skip
        self.leader = Gauge("mlkube_leader", "1 while this replica leads", registry=r)
        self.request_latency = Histogram(
            "mlkube_request_latency_seconds",
            "From the controller first seeing a notice to the job's request being recorded",
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30),
            registry=r,
        )

    def serve(self, address: str) -> Any:
        host, _, port = address.rpartition(":")
        server, _thread = start_http_server(int(port), addr=host or "127.0.0.1",
                                            registry=self.registry)  # fmt: skip
        return server
