"""What the controller remembers between events, behind one lock and named operations.

Everything here is a cache or an index: the truth is in the API (the record on the job,
the first-seen time on the node, the request id on the pod), so losing this state costs
reads, never a second request. Every collection is bounded by what the cluster holds,
except the request ids already announced, which are kept in an LRU of fixed size.
"""

from __future__ import annotations

import threading
from collections import OrderedDict, defaultdict
from collections.abc import Hashable, Iterable
from dataclasses import dataclass
from datetime import datetime

from mlkube.controller.jobs import JobRef, Request, handled

ANNOUNCED_KEEP = 4096  # request ids; each is announced once per process, then forgotten


@dataclass(frozen=True, slots=True)
class CachedRecord:
    """A job's uid and the requests recorded on it, as last read or written."""

    uid: str
    requests: tuple[Request, ...]

    def handles(self, notices: Iterable[str]) -> bool:
        return set(notices) <= handled(list(self.requests))


@dataclass(frozen=True, slots=True)
class Refusal:
    """A reconcile the API server refused (forbidden, invalid): reported once, tried
    again only at ``retry_at`` (monotonic seconds)."""

    reason: str
    retry_at: float


class Announced:
    """Request ids whose Event this process has written: an LRU, so a long-lived
    controller does not grow with every request it ever made. Forgetting one costs a
    second Event write, which the API server answers 409 (the Event's name is the
    request's)."""

    def __init__(self, keep: int = ANNOUNCED_KEEP) -> None:
        self.keep = keep
        self._ids: OrderedDict[str, None] = OrderedDict()

    def __contains__(self, request_id: object) -> bool:
        return request_id in self._ids

    def __len__(self) -> int:
        return len(self._ids)

    def add(self, request_id: str) -> None:
        self._ids[request_id] = None
        self._ids.move_to_end(request_id)
        while len(self._ids) > self.keep:
            self._ids.popitem(last=False)


class ControllerState:
    def __init__(self, announced_keep: int = ANNOUNCED_KEEP) -> None:
        self._lock = threading.Lock()
        self._pods_of_job: dict[JobRef, set[str]] = defaultdict(set)
        self._pods_on_node: dict[str, set[str]] = defaultdict(set)
        self._job_of_pod: dict[str, JobRef] = {}
        self._node_of_pod: dict[str, str] = {}
        self._first_seen: dict[str, datetime] = {}
        # What the plan reads of each pod and noticed node, as last seen: an event that
        # changes none of it (our own write's echo, a status heartbeat) plans nothing.
        self._pod_views: dict[str, Hashable] = {}
        self._node_views: dict[str, Hashable] = {}
        self._records: dict[JobRef, CachedRecord] = {}
        self._targets: dict[JobRef, JobRef] = {}  # JobSet → the job its record goes on
        self._announced = Announced(announced_keep)
        self._delivered: dict[str, str] = {}  # pod uid → request id sent
        self._evicted: set[str] = set()  # pod uids
        self._refused: dict[Hashable, Refusal] = {}
        self._inflight: set[Hashable] = set()  # writes handed to the writer pool
        self._stale: set[JobRef] = set()  # a record write found the cached job stale

    # the pod index ---------------------------------------------------------------------

    def index_pod(self, key: str, job: JobRef | None, node: str, view: Hashable = None) -> bool:
        """Where pod ``key`` belongs now (``job`` None: not a training pod, or gone), and
        what the plan reads of it (``view``); False when that is as last seen."""
        with self._lock:
            changed = self._pod_views.get(key) != view or key not in self._job_of_pod
            self._unindex(key)
            if job is None:
                return changed
            self._pod_views[key] = view
            self._job_of_pod[key] = job
            self._pods_of_job[job].add(key)
            if node:
                self._node_of_pod[key] = node
                self._pods_on_node[node].add(key)
            return changed

    def forget_pod(self, key: str, uid: str) -> None:
        with self._lock:
            self._unindex(key)
            self._delivered.pop(uid, None)
            self._evicted.discard(uid)

    def _unindex(self, key: str) -> None:
        self._pod_views.pop(key, None)
        old = self._job_of_pod.pop(key, None)
        if old is not None:
            self._pods_of_job[old].discard(key)
            if not self._pods_of_job[old]:
                del self._pods_of_job[old]
                self._records.pop(old, None)  # the job's last pod is gone
                self._stale.discard(old)
                self._targets.pop(old, None)
        node = self._node_of_pod.pop(key, None)
        if node is not None:
            self._pods_on_node[node].discard(key)
            if not self._pods_on_node[node]:
                del self._pods_on_node[node]

    def pods_of(self, job: JobRef) -> list[str]:
        with self._lock:
            return sorted(self._pods_of_job.get(job, ()))

    def jobs_on(self, node: str) -> set[JobRef]:
        with self._lock:
            keys = self._pods_on_node.get(node, set())
            return {self._job_of_pod[k] for k in keys if k in self._job_of_pod}

    # notices -------------------------------------------------------------------------

    def notice_seen(self, node: str, when: datetime) -> bool:
        """Remember when ``node``'s notice was first seen; True the first time."""
        with self._lock:
            if node in self._first_seen:
                return False
            self._first_seen[node] = when
            return True

    def notice_gone(self, node: str) -> None:
        with self._lock:
            self._first_seen.pop(node, None)
            self._node_views.pop(node, None)

    def node_changed(self, node: str, view: Hashable) -> bool:
        """Remember what the plan reads of noticed ``node``; False when it is as last
        seen (a cordon's echo, a heartbeat): its jobs have nothing new to plan."""
        with self._lock:
            old = self._node_views.get(node, self)
            self._node_views[node] = view
            return old != view

    def noticed(self, node: str) -> bool:
        with self._lock:
            return node in self._first_seen

    def first_seen(self, nodes: Iterable[str]) -> dict[str, datetime]:
        with self._lock:
            return {n: self._first_seen[n] for n in nodes if n in self._first_seen}

    # records, Events, deliveries, evictions ------------------------------------------

    def record_of(self, job: JobRef) -> CachedRecord | None:
        with self._lock:
            return self._records.get(job)

    def remember_record(self, job: JobRef, record: CachedRecord) -> None:
        with self._lock:
            self._records[job] = record
            self._stale.discard(job)

    def mark_stale(self, job: JobRef) -> None:
        """A conditional write answered 409: plan ``job`` next from a fresh read."""
        with self._lock:
            self._stale.add(job)
            self._records.pop(job, None)

    def stale(self, job: JobRef) -> bool:
        with self._lock:
            return job in self._stale

    def target_of(self, job: JobRef) -> JobRef | None:
        """Where ``job``'s record goes (a JobSet's TrainJob), if already resolved."""
        with self._lock:
            return self._targets.get(job)

    def remember_target(self, job: JobRef, target: JobRef) -> None:
        """Resolved once per JobSet while it has pods: ownership does not change."""
        with self._lock:
            if job in self._pods_of_job:
                self._targets[job] = target

    def announced(self, request_id: str) -> bool:
        with self._lock:
            return request_id in self._announced

    def mark_announced(self, request_id: str) -> None:
        with self._lock:
            self._announced.add(request_id)

    def delivered(self, pod_uid: str, request_id: str) -> bool:
        with self._lock:
            return self._delivered.get(pod_uid) == request_id

    def mark_delivered(self, pod_uid: str, request_id: str) -> None:
        with self._lock:
            self._delivered[pod_uid] = request_id

    def evicted(self, pod_uid: str) -> bool:
        with self._lock:
            return pod_uid in self._evicted

    def mark_evicted(self, pod_uid: str) -> None:
        with self._lock:
            self._evicted.add(pod_uid)

    def begin(self, write: Hashable) -> bool:
        """Claim ``write`` (a delivery, eviction or Event) for the writer pool: False
        while it is already on its way, so two reconciles never queue it twice."""
        with self._lock:
            if write in self._inflight:
                return False
            self._inflight.add(write)
            return True

    def on_its_way(self, write: Hashable) -> bool:
        with self._lock:
            return write in self._inflight

    def end(self, write: Hashable) -> None:
        with self._lock:
            self._inflight.discard(write)

    # refusals ------------------------------------------------------------------------

    def refuse(self, key: Hashable, reason: str, retry_at: float) -> bool:
        """Remember that ``key`` was refused; True when this refusal is news (not the
        same reason as last time), so it is reported once."""
        with self._lock:
            old = self._refused.get(key)
            self._refused[key] = Refusal(reason, retry_at)
            return old is None or old.reason != reason

    def held(self, key: Hashable, now: float) -> bool:
        """True while a refused key waits for its retry: adds are dropped, no hot loop."""
        with self._lock:
            refusal = self._refused.get(key)
            return refusal is not None and now < refusal.retry_at

    def accepted(self, key: Hashable) -> bool:
        """``key`` reconciled fine; True when it had been refused before."""
        with self._lock:
            return self._refused.pop(key, None) is not None

    def sizes(self) -> dict[str, int]:
        """How much is held, by collection (for tests and debugging)."""
        with self._lock:
            return {
                "jobs": len(self._pods_of_job),
                "pods": len(self._job_of_pod),
                "noticed": len(self._first_seen),
                "pod views": len(self._pod_views),
                "node views": len(self._node_views),
                "records": len(self._records),
                "targets": len(self._targets),
                "announced": len(self._announced),
                "delivered": len(self._delivered),
                "evicted": len(self._evicted),
                "refused": len(self._refused),
                "inflight": len(self._inflight),
            }
