"""Leader election on a coordination.k8s.io Lease, with client-go's semantics
(k8s.io/client-go/tools/leaderelection/leaderelection.go):

- Expiry is judged by the local clock: a candidate notes *when it saw the record
  change*, and takes the Lease only when it has not changed for a whole lease duration
  (``isLeaseValid``: observedTime + leaseDurationSeconds). The other holder's
  ``renewTime`` is never compared with our clock, so clock skew cannot steal a lease.
- The leader renews every retry period and gives up leading when it could not renew
  for the renew deadline, which is shorter than the lease (``NewLeaderElector`` refuses
  lease <= renew deadline <= retry x 1.2), so it stops acting before anyone else may
  take over. Core components' defaults: lease 15 s, renew deadline 10 s, retry 2 s.
- Every write carries the Lease's resourceVersion: a 409 means someone else wrote
  first. A 422 (Invalid) is not that; it is an error, and so are 403 (the Role does not
  let us take the Lease) and a 404 on create (the namespace does not exist). Those
  three do not fix themselves, so they end the election with a message saying what to
  do, instead of retrying every 2 s forever.
- On a clean exit the Lease is released (``ReleaseOnCancel``): holder cleared,
  duration 1 s, so a standby takes over at once.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from mlkube.cluster.client import ApiError, Kube, NotFound
from mlkube.controller.signals import format_time
from mlkube.errors import ClusterError, MlkubeError, Unreachable

log = logging.getLogger("mlkube.controller")
LEASE_API = "coordination.k8s.io/v1"
JITTER = 1.2  # client-go's JitterFactor
RELEASE_TIMEOUT = 1.0  # seconds per request while handing the Lease over on exit


class LeaseRefused(ClusterError):
    """The Lease cannot be taken, and retrying will not change that."""


class LeaseLost(ClusterError):
    """This replica led and could not renew its Lease within the renew deadline."""


@dataclass(frozen=True)
class Timing:
    lease: float = 15.0
    renew_deadline: float = 10.0
    retry: float = 2.0

    def __post_init__(self) -> None:
        # The same checks as client-go's NewLeaderElector.
        if not self.lease > self.renew_deadline > JITTER * self.retry > 0:
            raise ValueError(
                "leader election needs lease > renew deadline > 1.2 x retry period > 0, "
                f"got {self.lease}, {self.renew_deadline}, {self.retry}"
            )


class Election:
    """The decisions of client-go's tryAcquireOrRenew, on plain data and a local
    monotonic clock: no I/O, so they are tested directly."""

    def __init__(self, identity: str, timing: Timing,
                 clock: Callable[[], float] = time.monotonic) -> None:  # fmt: skip
        self.identity = identity
        self.timing = timing
        self.clock = clock
        self.observed: dict[str, Any] | None = None  # the Lease's spec as last seen
        self.observed_at = 0.0  # when (our clock) it last changed

    def observe(self, spec: dict[str, Any]) -> None:
        if spec != self.observed:
            self.observed = dict(spec)
            self.observed_at = self.clock()

    def holder(self) -> str:
        return str((self.observed or {}).get("holderIdentity") or "")

    def is_leader(self) -> bool:
        return self.holder() == self.identity

    def lease_valid(self) -> bool:
        duration = float((self.observed or {}).get("leaseDurationSeconds") or 0)
        return self.observed_at + duration > self.clock()

    def held_by_another(self) -> bool:
        return bool(self.holder()) and not self.is_leader() and self.lease_valid()

    def desired(self, now: datetime) -> dict[str, Any]:
        """The spec to write to take or renew the Lease."""
        old = self.observed or {}
        stamp = format_time(now)
        spec: dict[str, Any] = {
            "holderIdentity": self.identity,
            "leaseDurationSeconds": int(self.timing.lease),
            "renewTime": stamp,
            "acquireTime": stamp,
            "leaseTransitions": int(old.get("leaseTransitions") or 0),
        }
        if self.is_leader():
            spec["acquireTime"] = old.get("acquireTime") or stamp
        elif old:
            spec["leaseTransitions"] += 1
        return spec

    def released(self, now: datetime) -> dict[str, Any]:
        """client-go's release(): no holder, a 1 s lease, the transitions kept."""
        stamp = format_time(now)
        return {
            "holderIdentity": "",
            "leaseDurationSeconds": 1,
            "renewTime": stamp,
            "acquireTime": stamp,
            "leaseTransitions": int((self.observed or {}).get("leaseTransitions") or 0),
        }

    def wrote(self, spec: dict[str, Any]) -> None:
        self.observed = dict(spec)
        self.observed_at = self.clock()


class LeaderElector:
    def __init__(
        self,
        kube: Kube,
        namespace: str,
        name: str,
        identity: str,
        timing: Timing | None = None,
    ) -> None:
        self.kube = kube
        self.namespace = namespace
        self.name = name
        self.identity = identity
        self.timing = timing or Timing()
        self.election = Election(identity, self.timing)
        self.leading = threading.Event()
        self.lost = threading.Event()
        self.failure: MlkubeError | None = None  # why the election ended, if it did
        self._last_error = ""
        self._unreachable = False  # the last failure was no answer at all
        # Each request may take at most this long: an attempt (a GET and a PUT) ends
        # well inside the renew deadline, so a leader that cannot renew notices in time.
        self._request_timeout = self.timing.renew_deadline / 4

    @property
    def lease(self) -> str:
        return f"{self.namespace}/{self.name}"

    def run(self, stop: threading.Event) -> None:
        """Acquire (every retry period, jittered), then renew until ``stop``, loss, or
        an error that retrying cannot fix (``failure`` says which). On ``stop``, the
        Lease is released here, after the last renewal, never racing it."""
        try:
            while not stop.is_set() and not self.try_once():
                stop.wait(self.timing.retry * random.uniform(1.0, JITTER))
            if not stop.is_set():
                self._renew(stop)
        except MlkubeError as exc:  # LeaseRefused
            self.failure = exc
            self.leading.clear()
        if stop.is_set():
            self._release()

    def _renew(self, stop: threading.Event) -> None:
        last = time.monotonic()
        while not stop.wait(self.timing.retry):
            if self.try_once():
                last = time.monotonic()
            elif time.monotonic() - last >= self.timing.renew_deadline:
                why = self._last_error or "another candidate holds it"
                kind = Unreachable if self._unreachable else LeaseLost
                self.failure = kind(
                    f"lost the Lease {self.lease}: not renewed for "
                    f"{self.timing.renew_deadline:.0f} s ({why})"
                )
                log.error("%s", self.failure)
                self.leading.clear()
                self.lost.set()
                return

    def try_once(self) -> bool:
        """One tryAcquireOrRenew: True when this replica holds the Lease afterwards.
        Raises LeaseRefused for what retrying cannot fix; logs other failures."""
        try:
            won = self._try()
        except LeaseRefused:
            raise
        except MlkubeError as exc:
            self._note_error(str(exc))
            self._unreachable = isinstance(exc, Unreachable)
            return False
        if won and not self.leading.is_set():
            log.info("became leader (Lease %s) as %s", self.lease, self.identity)
            self.leading.set()
        if won:
            self._last_error, self._unreachable = "", False
        return won

    def _release(self) -> None:
        """Hand the Lease over (client-go's ReleaseOnCancel), with short timeouts: a
        server that does not answer must not hold up the shutdown."""
        if not self.leading.is_set():
            return
        self.leading.clear()
        self._request_timeout = RELEASE_TIMEOUT
        try:
            lease = self._get()
            spec = (lease or {}).get("spec") or {}
            if lease is not None and spec.get("holderIdentity") == self.identity:
                self.election.observe(spec)
                lease["spec"] = self.election.released(datetime.now(UTC))
                self._update(lease)
                log.info("released the Lease %s", self.lease)
        except MlkubeError as exc:
            log.warning("could not release the Lease %s: %s", self.lease, exc)

    # one attempt ---------------------------------------------------------------------

    def _try(self) -> bool:
        now = datetime.now(UTC)
        lease = self._get()
        if lease is None:
            spec = self.election.desired(now)
            body = {
                "apiVersion": LEASE_API,
                "kind": "Lease",
                "metadata": {"name": self.name, "namespace": self.namespace},
                "spec": spec,
            }
            if not self._write("create", lambda: self.kube.request(
                    "POST", self._path(), json=body, timeout=self._request_timeout)):  # fmt: skip
                return False
            self.election.wrote(spec)
            return True
        self.election.observe(lease.get("spec") or {})
        if self.election.held_by_another():
            return False
        spec = self.election.desired(now)
        lease["spec"] = spec
        if not self._write("update", lambda: self._update(lease)):
            return False
        self.election.wrote(spec)
        return True

    def _path(self, name: str | None = None) -> str:
        return self.kube.resource(LEASE_API, "Lease").path(self.namespace, name)

    def _get(self) -> dict[str, Any] | None:
        try:
            lease: dict[str, Any] = self.kube.request(
                "GET", self._path(self.name), timeout=self._request_timeout
            )
        except NotFound:
            return None
        except ApiError as exc:
            raise self._refusal("get", exc) from None
        return lease

    def _update(self, lease: dict[str, Any]) -> Any:
        return self.kube.request(
            "PUT", self._path(self.name), json=lease, timeout=self._request_timeout
        )

    def _write(self, verb: str, write: Callable[[], Any]) -> bool:
        """True when written; False when another candidate wrote first (409)."""
        try:
            write()
        except ApiError as exc:
            if exc.status == 409:
                return False
            raise self._refusal(verb, exc) from None
        return True

    def _refusal(self, verb: str, exc: ApiError) -> MlkubeError:
        """What an error answer to ``verb`` on the Lease means: LeaseRefused when
        retrying cannot help, else the error itself (retried)."""
        if exc.status == 403:
            return LeaseRefused(
                f"not allowed to {verb} the Lease {self.lease} ({exc.message}): apply the "
                "controller's Role (`mlkube controller manifests`), pass --lease-namespace, "
                "or run with --no-leader-elect"
            )
        if exc.status == 404 and verb == "create":
            return LeaseRefused(
                f"the lease namespace {self.namespace!r} does not exist: create it "
                f"(`kubectl create namespace {self.namespace}`, or apply "
                "`mlkube controller manifests`), or pass --lease-namespace"
            )
        if exc.status == 422:
            return LeaseRefused(
                f"the API server rejected the Lease {self.lease} as invalid ({exc.message})"
            )
        return exc

    def _note_error(self, message: str) -> None:
        if message != self._last_error:  # once per distinct error, not every 2 s
            log.warning("leader election (Lease %s): %s", self.lease, message)
        self._last_error = message
