"""Leader election on a coordination.k8s.io Lease, as client-go does it: take the
Lease when it is free or expired, renew it, and give up (stop acting) when renewing
fails for longer than the lease lasts. Every write carries the Lease's
resourceVersion, so two candidates never both win."""

from __future__ import annotations

import logging
import threading
import time
from datetime import UTC, datetime
from typing import Any

from mlkube.cluster.client import ApiError, Kube
from mlkube.controller.signals import format_time, parse_time
from mlkube.errors import MlkubeError

log = logging.getLogger("mlkube.controller")
LEASE_API = "coordination.k8s.io/v1"


class LeaderElector:
    def __init__(
        self,
        kube: Kube,
        namespace: str,
        name: str,
        identity: str,
        lease_seconds: int = 15,
    ) -> None:
        self.kube = kube
        self.namespace = namespace
        self.name = name
        self.identity = identity
        self.lease_seconds = lease_seconds
        self.leading = threading.Event()
        self.lost = threading.Event()

    def run(self, stop: threading.Event) -> None:
        """Try to lead; once leading, renew every lease/3 until ``stop`` or loss."""
        last_renewed = 0.0
        while not stop.is_set():
            try:
                ok = self._try()
            except MlkubeError as exc:
                log.warning("leader election: %s", exc)
                ok = False
            now = time.monotonic()
            if ok:
                if not self.leading.is_set():
                    log.info("became leader as %s", self.identity)
                    self.leading.set()
                last_renewed = now
            elif self.leading.is_set() and now - last_renewed > self.lease_seconds:
                log.error("lost the lease %s/%s", self.namespace, self.name)
                self.leading.clear()
                self.lost.set()
                return
            stop.wait(self.lease_seconds / 3 if self.leading.is_set() else 2.0)

    def release(self) -> None:
        """Hand the lease over at once on a clean exit (client-go's ReleaseOnCancel)."""
        if not self.leading.is_set():
            return
        try:
            lease = self.kube.get(LEASE_API, "Lease", self.name, self.namespace)
            if lease and (lease.get("spec") or {}).get("holderIdentity") == self.identity:
                lease["spec"]["holderIdentity"] = ""
                self._put(lease)
        except MlkubeError:
            pass
        self.leading.clear()

    def _try(self) -> bool:
        lease = self.kube.get(LEASE_API, "Lease", self.name, self.namespace)
        now = datetime.now(UTC)
        mine = {
            "holderIdentity": self.identity,
            "leaseDurationSeconds": self.lease_seconds,
            "renewTime": format_time(now),
        }
        if lease is None:
            body = {
                "apiVersion": LEASE_API,
                "kind": "Lease",
                "metadata": {"name": self.name, "namespace": self.namespace},
                "spec": {**mine, "acquireTime": format_time(now), "leaseTransitions": 0},
            }
            return self._write(lambda: self.kube.create(body))
        spec = lease.setdefault("spec", {})
        holder = spec.get("holderIdentity") or ""
        renewed = parse_time(spec.get("renewTime"))
        duration = int(spec.get("leaseDurationSeconds") or self.lease_seconds)
        expired = renewed is None or (now - renewed).total_seconds() > duration
        if holder and holder != self.identity and not expired:
            return False
        if holder != self.identity:
            spec["acquireTime"] = format_time(now)
            spec["leaseTransitions"] = int(spec.get("leaseTransitions") or 0) + 1
        spec.update(mine)
        return self._write(lambda: self._put(lease))

    def _put(self, lease: dict[str, Any]) -> dict[str, Any]:
        return self.kube.request(  # type: ignore[no-any-return]
            "PUT",
            self.kube.resource(LEASE_API, "Lease").path(self.namespace, self.name),
            json=lease,
        )

    @staticmethod
    def _write(write: Any) -> bool:
        try:
            write()
        except ApiError as exc:
            if exc.status in (409, 422):  # somebody else got there first
                return False
            raise
        return True
