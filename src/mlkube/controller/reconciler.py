"""The controller proper: caches of Nodes, Pods and the training kinds' metadata kept
by informers, a work queue, and workers that carry out each job's plan.

Work for a job hit by a notice comes in two passes. Urgent: record the request on the
job (the one conditional write that makes it exactly-once) and ask one pod. Follow-up,
queued behind every job's urgent pass: ask the other pods, write the Event, evict when
the pod's grace period just fits before the node's end. Cordoning is the node's own
work item.
"""

from __future__ import annotations

import logging
import threading
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from mlkube.cluster.client import ApiError, Kube
from mlkube.controller.events import record_event
from mlkube.controller.informer import Informer, key_of
from mlkube.controller.jobs import (
    JOBSET_API,
    KUBEFLOW_KINDS,
    REQUEST_ANNOTATION,
    JobRef,
    Request,
    handled,
    job_of,
    read_record,
    record_patch,
)
from mlkube.controller.metrics import Metrics
from mlkube.controller.plan import JobPlan, active_notices, first_to_ask, plan_job, utcnow
from mlkube.controller.signals import (
    OBSERVED_ANNOTATION,
    format_time,
    node_notice,
    observed_at,
    pod_disruption,
)
from mlkube.controller.workqueue import WorkQueue
from mlkube.errors import MlkubeError

log = logging.getLogger("mlkube.controller")


@dataclass(frozen=True, slots=True)
class NodeKey:
    name: str


@dataclass(frozen=True, slots=True)
class FollowUp:
    """A job's slower work once its request is made: the other pods, the Event, the
    evictions. Queued behind every job's urgent work."""

    job: JobRef


# The kinds a request is recorded on, watched metadata-only (when the server has them),
# so recording needs no GET: the resourceVersion comes from the cache.
JOB_KINDS = (
    *(("kubeflow.org/v1", k) for k in sorted(KUBEFLOW_KINDS)),
    ("batch/v1", "Job"),
    (JOBSET_API, "JobSet"),
)


@dataclass
class Options:
    workers: int = 8
    resync_seconds: float = 30.0
    watch_timeout: int = 300
    identity: str = "mlkube-controller"


class Controller:
    def __init__(self, kube: Kube, options: Options | None = None,
                 metrics: Metrics | None = None) -> None:  # fmt: skip
        self.kube = kube
        self.options = options or Options()
        self.metrics = metrics or Metrics()
        self.queue = WorkQueue()
        self.leading = threading.Event()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._by_job: dict[JobRef, set[str]] = defaultdict(set)
        self._by_node: dict[str, set[str]] = defaultdict(set)
        self._job_of_pod: dict[str, JobRef] = {}
        self._node_of_pod: dict[str, str] = {}
        self._first_seen: dict[str, datetime] = {}
        self._records: dict[JobRef, tuple[str, list[Request]]] = {}
        self._announced: set[str] = set()
        self._delivered: dict[str, str] = {}  # pod uid → request id sent
        self._evicted: set[str] = set()
        restart = self.metrics.watch_restarts
        self.nodes = Informer(kube, "v1", "Node", self._on_node,
                              watch_timeout=self.options.watch_timeout,
                              on_restart=lambda k: restart.labels(k).inc())  # fmt: skip
        self.pods = Informer(kube, "v1", "Pod", self._on_pod,
                             watch_timeout=self.options.watch_timeout,
                             on_restart=lambda k: restart.labels(k).inc())  # fmt: skip
        self.jobs: dict[tuple[str, str], Informer] = {}
        self._threads: list[threading.Thread] = []

    # lifecycle ---------------------------------------------------------------------

    def start(self) -> None:
        def thread(target: Any, name: str) -> None:
            t = threading.Thread(target=target, name=name, daemon=True)
            t.start()
            self._threads.append(t)

        for api_version, kind in JOB_KINDS:
            try:
                self.kube.resource(api_version, kind)
            except MlkubeError:
                continue  # not served here (CRD not installed)
            informer = Informer(
                self.kube, api_version, kind, lambda _e, _o: None,
                watch_timeout=self.options.watch_timeout, metadata_only=True,
            )  # fmt: skip
            self.jobs[(api_version, kind)] = informer
            thread(informer.run, f"informer-{kind}")
        thread(self.nodes.run, "informer-nodes")
        thread(self.pods.run, "informer-pods")
        for i in range(self.options.workers):
            thread(self._work, f"worker-{i}")
        thread(self._resync, "resync")

    def wait_synced(self, timeout: float = 60) -> bool:
        informers = [self.nodes, self.pods, *self.jobs.values()]
        return all(i.synced.wait(timeout) for i in informers)

    def lead(self) -> None:
        """Start acting (on winning the election, or at once without one)."""
        self.metrics.leader.set(1)
        self.leading.set()
        self.enqueue_all()

    def stop(self) -> None:
        self._stop.set()
        self.leading.clear()
        self.metrics.leader.set(0)
        for informer in (self.nodes, self.pods, *self.jobs.values()):
            informer.stop()
        self.queue.shutdown()

    def enqueue_all(self) -> None:
        """Level-triggered backstop: look again at everything touched by a notice."""
        for node in self.nodes.snapshot():
            if node_notice(node) is not None:
                self._enqueue_node(node)
        for pod in self.pods.snapshot():
            if pod_disruption(pod) is not None:
                self._enqueue_pod_job(pod)

    # event handlers (informer threads): index and enqueue, never call the API ---------

    def _on_node(self, event: str, node: dict[str, Any]) -> None:
        name = str(node["metadata"]["name"])
        notice = node_notice(node) if event != "DELETED" else None
        with self._lock:
            if notice is None:
                self._first_seen.pop(name, None)
                return
            if name not in self._first_seen:
                self._first_seen[name] = observed_at(node) or utcnow()
                self.metrics.notices.labels(notice.signal.name).inc()
                log.info("node %s: %s (%s)", name, notice.signal.name, notice.detail)
        self._enqueue_node(node)

    def _enqueue_node(self, node: dict[str, Any]) -> None:
        name = str(node["metadata"]["name"])
        with self._lock:
            keys = self._by_node.get(name, set())
            jobs = {self._job_of_pod[k] for k in keys if k in self._job_of_pod}
        for job in jobs:
            self.queue.add(job, urgent=True)
        self.queue.add(NodeKey(name))

    def _on_pod(self, event: str, pod: dict[str, Any]) -> None:
        key = key_of(pod)
        job = job_of(pod) if event != "DELETED" else None
        node = str((pod.get("spec") or {}).get("nodeName") or "")
        with self._lock:
            old = self._job_of_pod.pop(key, None)
            if event == "DELETED":
                uid = str(pod["metadata"].get("uid"))
                self._delivered.pop(uid, None)
                self._evicted.discard(uid)
            if old is not None:
                self._by_job[old].discard(key)
                if not self._by_job[old]:
                    del self._by_job[old]
                    self._records.pop(old, None)
            old_node = self._node_of_pod.pop(key, None)
            if old_node is not None:
                self._by_node[old_node].discard(key)
                if not self._by_node[old_node]:
                    del self._by_node[old_node]
            if job is None:
                return
            self._job_of_pod[key] = job
            self._by_job[job].add(key)
            if node:
                self._node_of_pod[key] = node
                self._by_node[node].add(key)
            noticed = node in self._first_seen
        if noticed or pod_disruption(pod) is not None:
            self.queue.add(job, urgent=True)

    def _enqueue_pod_job(self, pod: dict[str, Any]) -> None:
        job = job_of(pod)
        if job is not None:
            self.queue.add(job, urgent=True)

    # workers -------------------------------------------------------------------------

    def _work(self) -> None:
        while True:
            key = self.queue.get()
            if key is None:
                return
            # Act only as leader, and only on full caches: a pod seen before its node
            # would look like a notice of its own.
            while not (self.leading.wait(1.0) and self.wait_synced(1.0)):
                if self._stop.is_set():
                    return
            try:
                if isinstance(key, NodeKey):
                    self.reconcile_node(key.name)
                elif isinstance(key, JobRef):
                    self.reconcile_job(key, urgent=True)
                elif isinstance(key, FollowUp):
                    self.reconcile_job(key.job, urgent=False)
            except Exception as exc:  # retried: level-triggered
                self.metrics.errors.inc()
                log.warning("reconcile %s failed, retrying: %s", key, exc)
                self.queue.add_after(key, 1.0)
            finally:
                self.queue.done(key)

    def _resync(self) -> None:
        while not self._stop.wait(self.options.resync_seconds):
            if self.leading.is_set():
                self.enqueue_all()

    # reconcile -----------------------------------------------------------------------

    def reconcile_node(self, name: str) -> None:
        """Cordon a node whose notice drains it, and remember when the notice was seen
        on the node itself, so the eviction deadline survives a controller restart."""
        node = self.nodes.get(name)
        notice = node_notice(node) if node else None
        if node is None or notice is None or not notice.signal.drain:
            return
        patch: dict[str, Any] = {}
        if not (node.get("spec") or {}).get("unschedulable"):
            patch["spec"] = {"unschedulable": True}
        if observed_at(node) is None:
            with self._lock:
                seen = self._first_seen.get(name) or utcnow()
            patch["metadata"] = {"annotations": {OBSERVED_ANNOTATION: format_time(seen)}}
        if not patch:
            return
        try:
            self.kube.patch("v1", "Node", name, patch)
        except ApiError as exc:
            if exc.status == 404:
                return
            raise
        if "spec" in patch:
            self.metrics.cordons.inc()
            record_event(self.kube, {"apiVersion": "v1", "kind": "Node", **node},
                         "Cordoned", f"{notice.detail}: cordoned; the node ends within "
                         f"{notice.signal.window_seconds or 'its'} s",
                         notice.key.replace("/", "-"), warning=True,
                         instance=self.options.identity)  # fmt: skip

    def reconcile_job(self, ref: JobRef, *, urgent: bool) -> None:
        """Urgent pass: record the request and deliver it to one pod (the ranks agree
        among themselves, so one pod asked is the whole job asked), then queue the
        follow-up. Follow-up pass: every other pod, the Event, the evictions."""
        with self._lock:
            keys = list(self._by_job.get(ref, ()))
        pods = [p for p in (self.pods.get(k) for k in keys) if p is not None]
        names = {str((p.get("spec") or {}).get("nodeName") or "") for p in pods}
        nodes = {n: obj for n in names if (obj := self.nodes.get(n)) is not None}
        notices = active_notices(pods, nodes)
        if not notices:
            return
        with self._lock:
            observed = {n: self._first_seen[n] for n in names if n in self._first_seen}
        for name, node in nodes.items():
            observed.setdefault(name, observed_at(node) or utcnow())
        recorded = self._record(ref, pods, nodes, set(notices), observed)
        if recorded is None:
            return  # the job is gone, or the record moved under us: queued again
        uid, job, plan = recorded
        if urgent:
            if plan.deliver:
                self._deliver(first_to_ask(plan, nodes), str(plan.current))
            self.queue.add(FollowUp(ref))
            return
        for pod in plan.deliver:
            self._deliver(pod, str(plan.current))
        with self._lock:
            record = self._records[ref][1]
        carrying = {
            p["metadata"].get("uid") for p in pods
            if (p["metadata"].get("annotations") or {}).get(REQUEST_ANNOTATION) == plan.current
        }  # fmt: skip
        asked = len(carrying | {p["metadata"].get("uid") for p in plan.deliver})
        self._announce(ref, uid, job, record=record, notices=notices, asked=asked)
        for pod in plan.evict:
            self._evict(ref, pod)
        if plan.wake_at is not None:
            self.queue.add_after(FollowUp(ref), (plan.wake_at - utcnow()).total_seconds())

    def _record(
        self,
        ref: JobRef,
        pods: list[dict[str, Any]],
        nodes: dict[str, dict[str, Any]],
        notices: set[str],
        observed: dict[str, datetime],
    ) -> tuple[str, dict[str, Any] | None, JobPlan] | None:
        """The job's plan, with a new request recorded on the job if one is due: a
        merge patch conditional on the resourceVersion read (from the metadata cache,
        else a GET; after a 409, always a GET)."""
        with self._lock:
            cached = self._records.get(ref)
        fresh = False
        for _ in range(3):
            job: dict[str, Any] | None = None
            if cached is None or not notices <= handled(cached[1]):
                job = self._job(ref, fresh)
                if job is None:
                    return None
                cached = (str(job["metadata"].get("uid", "")), read_record(job))
            uid, record = cached
            now = utcnow()
            plan = plan_job(uid, pods, nodes, record, observed=observed, now=now)
            if plan.request is None:
                with self._lock:
                    self._records[ref] = cached
                return uid, job, plan
            assert job is not None
            record = [*record, plan.request]
            try:
                self.kube.patch(ref.api_version, ref.kind, ref.name, record_patch(job, record),
                                ref.namespace)  # fmt: skip
            except ApiError as exc:
                if exc.status == 404:
                    return None
                if exc.status != 409:
                    raise
                self.metrics.conflicts.inc()  # another replica, a user, or a stale cache
                cached, fresh = None, True
                continue
            first = min(observed.get(n, now) for n in plan.request.nodes)
            self.metrics.requests.labels(plan.request.signal).inc()
            self.metrics.request_latency.observe(max(0.0, (now - first).total_seconds()))
            log.info("%s: checkpoint request %s (%s on %s)", ref, plan.request.id,
                     plan.request.signal, ", ".join(plan.request.nodes))  # fmt: skip
            with self._lock:
                self._records[ref] = (uid, record)
            return uid, job, plan
        self.queue.add(ref, urgent=True)
        return None

    def _job(self, ref: JobRef, fresh: bool) -> dict[str, Any] | None:
        """The job's metadata: from the watch cache unless ``fresh`` is asked for."""
        informer = self.jobs.get((ref.api_version, ref.kind))
        if informer is not None and not fresh:
            cached = informer.get(f"{ref.namespace}/{ref.name}")
            if cached is not None:
                return {"apiVersion": ref.api_version, "kind": ref.kind,
                        "metadata": cached.get("metadata") or {}}  # fmt: skip
        return self.kube.get(ref.api_version, ref.kind, ref.name, ref.namespace)

    def _announce(self, ref: JobRef, uid: str, job: dict[str, Any] | None, *,
                  record: list[Request], notices: dict[str, Any], asked: int) -> None:  # fmt: skip
        """An Event per active request, level-triggered: a replica that recorded a
        request and died before announcing it is made up for by the next one (the
        Event's name is the request's, so a second write is a 409)."""
        for request in record:
            if request.id in self._announced or not set(request.notices) & set(notices):
                continue
            meta = {"name": ref.name, "namespace": ref.namespace, "uid": uid}
            involved = job or {"apiVersion": ref.api_version, "kind": ref.kind, "metadata": meta}
            record_event(self.kube, involved, "CheckpointRequested",
                         f"{request.signal} on {', '.join(request.nodes)}: asked {asked} "
                         f"pod(s) to checkpoint (request {request.id})",
                         request.id, instance=self.options.identity)  # fmt: skip
            self._announced.add(request.id)

    def _deliver(self, pod: dict[str, Any], request: str) -> None:
        """Annotate ``pod`` with ``request``, once per process: the pod cache shows our
        own write only a watch event later."""
        meta = pod["metadata"]
        key = str(meta.get("uid"))
        with self._lock:
            if self._delivered.get(key) == request:
                return
        # The uid in the patch is a precondition: a replacement pod of the same name
        # (the Training Operator reuses names) answers 422, uid immutable, and is not
        # asked by mistake.
        patch = {"metadata": {"uid": meta.get("uid"),
                              "annotations": {REQUEST_ANNOTATION: request}}}  # fmt: skip
        try:
            self.kube.patch("v1", "Pod", meta["name"], patch, meta["namespace"])
        except ApiError as exc:
            if exc.status not in (404, 409, 422):
                raise
            return
        with self._lock:
            self._delivered[key] = request
        self.metrics.deliveries.inc()

    def _evict(self, ref: JobRef, pod: dict[str, Any]) -> None:
        meta = pod["metadata"]
        key = str(meta.get("uid"))
        with self._lock:
            if key in self._evicted:  # the cache has not caught up with it yet
                return
        try:
            self.kube.evict(meta["name"], meta["namespace"], meta.get("uid"))
        except ApiError as exc:
            if exc.status in (404, 409):  # gone, or a new pod of that name
                return
            if exc.status == 429:  # a PodDisruptionBudget says not now
                self.queue.add_after(FollowUp(ref), 5.0)
                return
            raise
        with self._lock:
            self._evicted.add(key)
        self.metrics.evictions.inc()
        log.info("%s: evicted %s from %s", ref, meta["name"], pod["spec"].get("nodeName"))
