"""The controller proper: caches of Nodes, Pods and the training kinds' metadata kept
by informers, a work queue, workers that plan each job and record its request, and a
pool of writer threads that carry out the rest of the plan.

A job hit by a notice is urgent until its request is recorded, and the work queue
hands out urgent jobs by deadline (the node that goes first). The worker records the
request on the job (the one conditional write that makes it exactly-once) while a
writer asks one pod at the same time: the request id is derived from the job and its
notices, so it is known before the record is written. The writers then ask the other
pods and write the Event, each a task of its own, held back while any job's request is
still to be recorded; evictions due now go at once, those due later wake the job again
at their time. Cordoning is the node's own work item, written by the writers, held
back like the pods. An event that only brings back this process's own write (a pod it
asked or evicted, a node it cordoned) plans nothing.
"""

from __future__ import annotations

import hashlib
import logging
import math
import threading
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from mlkube.cluster.client import ApiError, Kube
from mlkube.controller import projection
from mlkube.controller.events import record_event
from mlkube.controller.failures import InvariantBroken, refused, what_to_do
from mlkube.controller.informer import Informer, key_of
from mlkube.controller.jobs import (
    KUBEFLOW_KINDS,
    REQUEST_ANNOTATION,
    TRAINJOB_KIND,
    JobRef,
    Request,
    job_of,
    read_record,
    record_patch,
    record_target,
)
from mlkube.controller.metrics import Metrics
from mlkube.controller.plan import (
    TERMINAL_PHASES,
    JobPlan,
    active_notices,
    first_to_ask,
    plan_job,
    utcnow,
)
from mlkube.controller.pool import Pool
from mlkube.controller.signals import (
    OBSERVED_ANNOTATION,
    TAINT_SIGNALS,
    Notice,
    format_time,
    node_notice,
    observed_at,
    pod_disruption,
)
from mlkube.controller.state import CachedRecord, ControllerState
from mlkube.controller.workqueue import WorkQueue
from mlkube.errors import MlkubeError, Unreachable
from mlkube.wellknown import JOBSET_API, TRAINER_API

log = logging.getLogger("mlkube.controller")


@dataclass(frozen=True, slots=True)
class NodeKey:
    name: str


# The kinds a request is recorded on, watched metadata-only (when the server has them),
# so recording needs no GET: the resourceVersion comes from the cache.
JOB_KINDS = (
    *(("kubeflow.org/v1", k) for k in sorted(KUBEFLOW_KINDS)),
    ("batch/v1", "Job"),
    (JOBSET_API, "JobSet"),  # its ownerReferences say whether a TrainJob controls it
    (TRAINER_API, TRAINJOB_KIND),
)


# Writer pool ranks: the first pod of a job and evictions due now go first; then the
# pods on noticed nodes, of every job (they are evicted first); the other pods next;
# Events last. Ranks above 0 wait while a job's request is not recorded.
FIRST, SOON, REST, LAST = 0, 1, 2, 3


@dataclass
class Options:
    workers: int = 8
    # Threads for pod writes, evictions and Events: None, twice the workers (the
    # writes are short and many); 0, every write in the worker itself, records too
    # (tests). Records have ``workers`` threads of their own.
    writers: int | None = None
    resync_seconds: float = 30.0
    watch_timeout: int = 300
    identity: str = "mlkube-controller"
    refused_retry_seconds: float = 60.0  # a refused key waits this long (no hot loop)


@dataclass(frozen=True, slots=True)
class Planned:
    """A job's plan, and what it was planned from."""

    uid: str
    job: dict[str, Any] | None  # the job's metadata when read for this plan
    plan: JobPlan
    record: CachedRecord  # what it was planned from


class Controller:
    def __init__(self, kube: Kube, options: Options | None = None,
                 metrics: Metrics | None = None) -> None:  # fmt: skip
        self.kube = kube  # the informers' and the workers' (reads)
        # The recorders and the writers each on connections of their own: a record
        # never waits on the writers' connection bookkeeping, nor either on the watches'.
        self.record_kube = kube.lane()
        self.write_kube = kube.lane()
        self.options = options or Options()
        self.metrics = metrics or Metrics()
        stats = kube.stats
        self.metrics.api_requests.set_function(lambda: float(stats["requests"]))
        self.queue = WorkQueue()
        writers = self.options.writers
        writers = 2 * self.options.workers if writers is None else writers
        self._recording = 0  # records handed to the recorders, not yet written
        self._recording_lock = threading.Lock()
        self.records = Pool(self.options.workers if writers else 0, name="recorder")
        self.writes = Pool(writers, hold=self._recording_pending)
        self.state = ControllerState()
        self.leading = threading.Event()
        self._stop = threading.Event()
        restart = self.metrics.watch_restarts
        self.nodes = Informer(kube, "v1", "Node", self._on_node, transform=projection.node,
                              watch_timeout=self.options.watch_timeout,
                              on_restart=lambda k: restart.labels(k).inc())  # fmt: skip
        self.pods = Informer(kube, "v1", "Pod", self._on_pod, transform=projection.pod,
                             watch_timeout=self.options.watch_timeout,
                             on_restart=lambda k: restart.labels(k).inc())  # fmt: skip
        self.jobs: dict[tuple[str, str], Informer] = {}
        self._threads: list[threading.Thread] = []

    # lifecycle ---------------------------------------------------------------------

    def start(self) -> None:
        """Discover the training kinds and start the informers and workers. Raises
        Unreachable when the API server does not answer."""

        def thread(target: Any, name: str) -> None:
            t = threading.Thread(target=target, name=name, daemon=True)
            t.start()
            self._threads.append(t)

        self.kube.resource("v1", "Node")  # the first contact: fails fast when unreachable
        for api_version, kind in JOB_KINDS:
            try:
                self.kube.resource(api_version, kind)
            except Unreachable:
                raise  # no answer: not the same as "not served here"
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
        thread(self._log_synced, "synced")

    def _log_synced(self) -> None:
        while not self._stop.is_set():
            if self.wait_synced(1.0):
                log.info("caches synced: %d nodes, %d pods", len(self.nodes.snapshot()),
                         len(self.pods.snapshot()))  # fmt: skip
                return

    def informers(self) -> list[Informer]:
        return [self.nodes, self.pods, *self.jobs.values()]

    def wait_synced(self, timeout: float = 60) -> bool:
        return all(i.synced.wait(timeout) for i in self.informers())

    def lead(self) -> None:
        """Start acting (on winning the election, or at once without one)."""
        self.metrics.leader.set(1)
        self.leading.set()
        self.enqueue_all()

    def stop(self) -> None:
        """Ask every thread to stop; waits for none of them (a worker may be inside a
        request to a server that does not answer, and they are daemon threads)."""
        self._stop.set()
        self.leading.clear()
        self.metrics.leader.set(0)
        for informer in self.informers():
            informer.stop()
        self.queue.shutdown()
        self.records.shutdown()
        self.writes.shutdown()

    def enqueue_all(self) -> None:
        """Level-triggered backstop: look again at everything touched by a notice."""
        for node in self.nodes.snapshot():
            if node_notice(node) is not None:
                self._enqueue_node(node)
        for pod in self.pods.snapshot():
            notice = pod_disruption(pod)
            job = job_of(pod) if notice is not None else None
            if notice is not None and job is not None:
                self._add_job(job, notice, str(pod["spec"].get("nodeName") or ""))

    def _add(self, key: Hashable, *, urgent: bool = False, deadline: float = math.inf) -> None:
        """Queue ``key`` unless the API server refused it and its pause is not over."""
        if not self.state.held(key, time.monotonic()):
            self.queue.add(key, urgent=urgent, deadline=deadline)

    def _add_job(self, job: JobRef, notice: Notice, node: str) -> None:
        """Queue a job touched by ``notice``: urgent, by the notice's end, unless its
        record (as last read or written) already answers the notice."""
        record = self.state.record_of(job)
        if record is not None and record.handles([notice.key]):
            self._add(job)
            return
        seen = self.state.first_seen([node]).get(node) or utcnow()
        self._add(job, urgent=True, deadline=notice.end(seen).timestamp())

    # event handlers (informer threads): index and enqueue, never call the API ---------

    def _on_node(self, event: str, node: dict[str, Any]) -> None:
        name = str(node["metadata"]["name"])
        notice = node_notice(node) if event != "DELETED" else None
        if notice is None:
            self.state.notice_gone(name)
            return
        if self.state.notice_seen(name, observed_at(node) or utcnow()):
            self.metrics.notices.labels(notice.signal.name).inc()
            log.info("node %s: %s (%s)", name, notice.signal.name, notice.detail)
        if event == "MODIFIED" and not self.state.node_changed(name, _node_view(notice)):
            self._add(NodeKey(name))  # our cordon's echo, a heartbeat: its jobs know it
            return
        self._enqueue_node(node)

    def _enqueue_node(self, node: dict[str, Any]) -> None:
        name = str(node["metadata"]["name"])
        notice = node_notice(node)
        if notice is not None:
            self.state.node_changed(name, _node_view(notice))
        for job in self.state.jobs_on(name):
            if notice is not None:
                self._add_job(job, notice, name)
        self._add(NodeKey(name))

    def _on_pod(self, event: str, pod: dict[str, Any]) -> None:
        key = key_of(pod)
        if event == "DELETED":
            self.state.forget_pod(key, str(pod["metadata"].get("uid")))
            return
        job = job_of(pod)
        node = str((pod.get("spec") or {}).get("nodeName") or "")
        changed = self.state.index_pod(key, job, node, self._pod_view(pod, job, node))
        if job is None or (event == "MODIFIED" and not changed):
            return  # not a training pod; or nothing the plan reads changed but our writes
        if self.state.noticed(node):
            host = self.nodes.get(node)
            notice = node_notice(host) if host is not None else None
        else:
            notice = None
        notice = notice or pod_disruption(pod)
        if notice is not None:
            self._add_job(job, notice, node)

    def _pod_view(self, pod: dict[str, Any], job: JobRef | None, node: str) -> Hashable:
        """What the plan reads of ``pod``, with this process's own writes taken out: a
        delivery's echo (the request id it sent) and an eviction's (the deletion and the
        DisruptionTarget it brings) leave the view as it was, so they plan nothing."""
        meta = pod["metadata"]
        uid = str(meta.get("uid"))
        request = (meta.get("annotations") or {}).get(REQUEST_ANNOTATION)
        sent = request is not None and (
            self.state.delivered(uid, str(request))
            or self.state.on_its_way(("deliver", uid, request))
        )
        if sent:
            request = None
        if self.state.evicted(uid) or self.state.on_its_way(("evict", uid)):
            deleting, disruption = False, None
        else:
            found = pod_disruption(pod)
            deleting, disruption = bool(meta.get("deletionTimestamp")), found and found.key
        phase = (pod.get("status") or {}).get("phase") in TERMINAL_PHASES
        return (uid, job, node, phase, request, deleting, disruption)

    # workers -------------------------------------------------------------------------

    def _work(self) -> None:
        while True:
            # Act only as leader, and only on full caches: a pod seen before its node
            # would look like a notice of its own. Wait before taking a key, too, so the
            # first one taken is the soonest deadline of everything the caches hold.
            while not (self.leading.wait(1.0) and self.wait_synced(1.0)):
                if self._stop.is_set():
                    return
            key = self.queue.get()
            if key is None:
                return
            while not (self.leading.wait(1.0) and self.wait_synced(1.0)):
                if self._stop.is_set():
                    return
            try:
                settled = self.reconcile(key)
            except Exception as exc:
                self._failed(key, exc)
            else:
                if settled:
                    self._succeeded(key)
            finally:
                self.queue.done(key)

    def reconcile(self, key: Hashable) -> bool:
        """False when the outcome is not known yet: a record handed to the recorders
        says itself whether it succeeded."""
        if isinstance(key, NodeKey):
            self.reconcile_node(key.name)
        elif isinstance(key, JobRef):
            return self.reconcile_job(key)
        return True

    def _succeeded(self, key: Hashable) -> None:
        self.queue.forget(key)
        if self.state.accepted(key):
            log.info("%s: reconciled again after a refusal", _describe(key))

    def _failed(self, key: Hashable, exc: Exception) -> None:
        """Temporary failures come back after the key's backoff; refusals are reported
        once (an Event and a log line naming the object) and tried again only after
        ``refused_retry_seconds``."""
        if isinstance(exc, ApiError) and refused(exc):
            self.metrics.refusals.inc()
            pause = self.options.refused_retry_seconds
            reason = f"{exc.status} {exc.reason}: {exc.message}"
            self.queue.forget(key)
            if self.state.refuse(key, reason, time.monotonic() + pause):
                log.error("%s: the API server refused: %s; %s; trying again in %.0f s",
                          _describe(key), reason, what_to_do(exc), pause)  # fmt: skip
                self._report_refusal(key, reason, what_to_do(exc))
            self.queue.add_after(key, pause)
            return
        self.metrics.errors.inc()
        tries = self.queue.failures(key) + 1
        delay = self.queue.add_rate_limited(key)
        if isinstance(exc, MlkubeError):
            log.warning("%s: failed (try %d), again in %.2f s: %s",
                        _describe(key), tries, delay, exc)  # fmt: skip
        else:  # a bug: say where, once per run of failures
            log.error("%s: failed (try %d), again in %.2f s: %s: %s",
                      _describe(key), tries, delay, type(exc).__name__, exc,
                      exc_info=tries == 1)  # fmt: skip

    def _report_refusal(self, key: Hashable, reason: str, todo: str) -> None:
        """The refusal as a Warning Event on the object; its name comes from the reason,
        so a second report (a restart, the other replica) is a 409, not another Event."""
        if isinstance(key, NodeKey):
            node = self.nodes.get(key.name) or {"metadata": {"name": key.name}}
            involved = {"apiVersion": "v1", "kind": "Node", **node}
        else:
            ref = key
            if not isinstance(ref, JobRef):
                return
            target = self._target(ref, read=False)
            involved = self._job(target, fresh=False, read=False) or _job_stub(target, "")
        digest = hashlib.sha256(reason.encode()).hexdigest()[:10]
        try:
            record_event(self.kube, involved, "ReconcileRefused",
                         f"mlkube-controller was refused: {reason}; {todo}",
                         f"refused-{digest}", warning=True,
                         instance=self.options.identity)  # fmt: skip
        except MlkubeError as exc:
            log.warning("%s: could not write the Event: %s", _describe(key), exc)

    def _resync(self) -> None:
        while not self._stop.wait(self.options.resync_seconds):
            if self.leading.is_set():
                self.enqueue_all()

    # reconcile -----------------------------------------------------------------------

    def reconcile_node(self, name: str) -> None:
        """Cordon a node whose notice drains it, and remember when the notice was seen
        on the node itself, so the eviction deadline survives a controller restart. The
        writers do it: after every pending record (rank SOON) when the notice is a
        NoSchedule or NoExecute taint, which already keeps new pods off the node; at once
        otherwise (an Azure condition, the on-prem annotation), before the evictions
        send the job's replacement pods looking for a node."""
        node = self.nodes.get(name)
        notice = node_notice(node) if node else None
        if node is None or notice is None or not notice.signal.drain:
            return
        patch: dict[str, Any] = {}
        if not (node.get("spec") or {}).get("unschedulable"):
            patch["spec"] = {"unschedulable": True}
        if observed_at(node) is None:
            seen = self.state.first_seen([name]).get(name) or utcnow()
            patch["metadata"] = {"annotations": {OBSERVED_ANNOTATION: format_time(seen)}}
        key = NodeKey(name)
        token = ("cordon", name)
        if not patch or not self.state.begin(token):
            return  # done, or on its way

        def cordon() -> None:
            try:
                self._cordon(node, notice, patch)
            finally:
                self.state.end(token)

        self.writes.submit(self._task(key, cordon), rank=SOON if _fenced(node) else FIRST)

    def _cordon(self, node: dict[str, Any], notice: Notice, patch: dict[str, Any]) -> None:
        name = str(node["metadata"]["name"])
        try:
            self.write_kube.patch("v1", "Node", name, patch)
        except ApiError as exc:
            if exc.status == 404:
                return
            raise
        if "spec" in patch:
            self.metrics.cordons.inc()
            involved = {"apiVersion": "v1", "kind": "Node", **node}
            message = (f"{notice.detail}: cordoned; the node ends within "
                       f"{notice.signal.window_seconds or 'its'} s")  # fmt: skip
            suffix = notice.key.replace("/", "-")

            def announce() -> None:
                record_event(self.write_kube, involved, "Cordoned", message, suffix, warning=True,
                             instance=self.options.identity)  # fmt: skip

            self.writes.submit(self._task(NodeKey(name), announce), rank=LAST)

    def reconcile_job(self, ref: JobRef) -> bool:
        """Plan the job. A new request goes to the recorders, and its first pod to the
        writers at the same time (the ranks agree among themselves, so one pod asked is
        the whole job asked); once it is recorded the job comes back here. Otherwise
        hand the writers every other pod, the Event and the evictions due now, and wake
        again when the next eviction is due. False when a record was handed on."""
        pods = [p for p in (self.pods.get(k) for k in self.state.pods_of(ref)) if p is not None]
        names = {str((p.get("spec") or {}).get("nodeName") or "") for p in pods}
        nodes = {n: obj for n in names if (obj := self.nodes.get(n)) is not None}
        notices = active_notices(pods, nodes)
        if not notices:
            return True
        observed = self.state.first_seen(names)
        for name, node in nodes.items():
            observed.setdefault(name, observed_at(node) or utcnow())
        target = self._target(ref)
        planned = self._plan(ref, pods, nodes, set(notices), observed, target=target)
        if planned is None:
            return True  # the job is gone
        plan = planned.plan
        carrying = {
            p["metadata"].get("uid") for p in pods
            if (p["metadata"].get("annotations") or {}).get(REQUEST_ANNOTATION) == plan.current
        }  # fmt: skip
        asked = len(carrying | {p["metadata"].get("uid") for p in plan.deliver})
        if plan.request is not None:
            deadline = min(n.end(observed.get(n.node, utcnow())) for n in notices.values())
            self._submit_record(ref, planned, observed, target=target,
                                deadline=deadline.timestamp(),
                                announce=lambda r: self._announce(target, planned, [r],
                                                                  notices, asked))  # fmt: skip
            if plan.deliver:
                first = first_to_ask(plan, nodes)
                self._submit_delivery(ref, first, str(plan.current), FIRST)
            # Evictions wait for the record: the request is on the job before any pod is
            # replaced, and a refused record (RBAC) evicts nothing until it is fixed.
            return False
        current = str(plan.current)
        if plan.deliver:  # the first one again: a no-op when it is on its way or done
            self._submit_delivery(ref, first_to_ask(plan, nodes), current, FIRST)
        leaving = {n.node for n in notices.values()}
        for pod in plan.deliver:
            on = str((pod.get("spec") or {}).get("nodeName") or "")
            self._submit_delivery(ref, pod, current, SOON if on in leaving else REST)
        record = self.state.record_of(ref)
        self._announce(target, planned, list(record.requests) if record else [], notices, asked)
        for pod in plan.evict:
            self._submit_eviction(ref, pod)
        if plan.wake_at is not None:
            self.queue.add_after(ref, (plan.wake_at - utcnow()).total_seconds())
        return True

    def _target(self, ref: JobRef, *, read: bool = True) -> JobRef:
        """The job ``ref``'s record goes on: a JobSet controlled by a TrainJob records on
        the TrainJob. Resolved once per JobSet from the JobSets' metadata cache (which
        carries ownerReferences); one GET only when the cache has not seen it yet."""
        if (ref.api_version, ref.kind) != (JOBSET_API, "JobSet"):
            return ref
        known = self.state.target_of(ref)
        if known is not None:
            return known
        jobset = self._job(ref, fresh=False, read=read)
        if jobset is None:
            return ref  # gone (the plan finds that out), or not read
        target = record_target(ref, jobset.get("metadata"))
        self.state.remember_target(ref, target)
        return target

    def _plan(
        self,
        ref: JobRef,
        pods: list[dict[str, Any]],
        nodes: dict[str, dict[str, Any]],
        notices: set[str],
        observed: dict[str, datetime],
        *,
        target: JobRef,
    ) -> Planned | None:
        """The job's plan, from its record: from memory while it already handles every
        notice; otherwise from the target's metadata (the job itself, or the TrainJob
        that controls its JobSet: the watch cache, or a GET once a write found the
        cache stale). A new request in the plan is for the caller to record."""
        fresh = self.state.stale(ref)
        record = None if fresh else self.state.record_of(ref)
        job: dict[str, Any] | None = None
        if record is None or not record.handles(notices):
            job = self._job(target, fresh)
            if job is None:
                return None
            record = CachedRecord(str(job["metadata"].get("uid", "")), tuple(read_record(job)))
        plan = plan_job(record.uid, pods, nodes, list(record.requests),
                        observed=observed, now=utcnow())  # fmt: skip
        if plan.request is None:
            self.state.remember_record(ref, record)
        elif job is None:
            raise InvariantBroken(
                f"{target}: a new request was planned from a record that handles every "
                "notice; the job's metadata was never read"
            )
        return Planned(record.uid, job, plan, record)

    def _submit_record(self, ref: JobRef, planned: Planned, observed: dict[str, datetime],
                       *, target: JobRef, deadline: float,
                       announce: Callable[[Request], None]) -> None:  # fmt: skip
        """Hand the record to the recorders, once at a time per job. Written, it is
        announced (from what the plan knew: the pods may be gone by the next plan, on
        GKE they are evicted at once) and the job is queued again for the rest of its
        plan; a 409 queues it again, urgent, to be planned from a fresh read."""
        token = ("record", ref)
        request, job = planned.plan.request, planned.job
        if request is None or job is None or not self.state.begin(token):
            return
        with self._recording_lock:
            self._recording += 1

        def write() -> None:
            try:
                written = self._write_record(ref, job, planned.record, request, observed,
                                             target=target)  # fmt: skip
            finally:
                self.state.end(token)
                with self._recording_lock:
                    self._recording -= 1
            if written:
                self._succeeded(ref)
                announce(request)
                self._add(ref)
            else:
                self.state.mark_stale(ref)
                self._add(ref, urgent=True, deadline=deadline)

        self.records.submit(self._task(ref, write), rank=FIRST)

    def _recording_pending(self) -> bool:
        """Whether a job's request is still to be recorded: queued, planned, or being
        written. The writers hold back all but rank 0 meanwhile."""
        return self._recording > 0 or self.queue.urgent_pending()

    def _write_record(self, ref: JobRef, job: dict[str, Any], record: CachedRecord,
                      request: Request, observed: dict[str, datetime], *,
                      target: JobRef) -> bool:  # fmt: skip
        """The conditional write on ``target`` (its resourceVersion is in the patch):
        True when written, False on a 409. The only exactly-once mechanism there is."""
        requests = (*record.requests, request)
        try:
            self.record_kube.patch(target.api_version, target.kind, target.name,
                                   record_patch(job, list(requests)), target.namespace)  # fmt: skip
        except ApiError as exc:
            if exc.status == 409:
                self.metrics.conflicts.inc()  # another replica, a user, or a stale cache
                return False
            raise
        now = utcnow()
        first = min(observed.get(n, now) for n in request.nodes)
        self.metrics.requests.labels(request.signal).inc()
        self.metrics.request_latency.observe(max(0.0, (now - first).total_seconds()))
        log.info("%s: checkpoint request %s (%s on %s)", target, request.id, request.signal,
                 ", ".join(request.nodes))  # fmt: skip
        self.state.remember_record(ref, CachedRecord(record.uid, requests))
        return True

    def _job(self, ref: JobRef, fresh: bool, *, read: bool = True) -> dict[str, Any] | None:
        """The job's metadata: from the watch cache unless ``fresh`` is asked for (or
        there is no cache for the kind); with ``read`` False, never from the API."""
        informer = self.jobs.get((ref.api_version, ref.kind))
        if informer is not None and not fresh:
            cached = informer.get(f"{ref.namespace}/{ref.name}")
            if cached is not None:
                return {"apiVersion": ref.api_version, "kind": ref.kind,
                        "metadata": cached.get("metadata") or {}}  # fmt: skip
        if not read:
            return None
        return self.kube.get(ref.api_version, ref.kind, ref.name, ref.namespace)

    def _announce(self, ref: JobRef, planned: Planned, record: list[Request],
                  notices: dict[str, Any], asked: int) -> None:  # fmt: skip
        """An Event per active request, level-triggered: a replica that recorded a
        request and died before announcing it is made up for by the next one (the
        Event's name is the request's, so a second write is a 409)."""
        for request in record:
            if self.state.announced(request.id) or not set(request.notices) & set(notices):
                continue
            if not self.state.begin(("announce", request.id)):
                continue  # already with the writers
            involved = planned.job or _job_stub(ref, planned.uid)
            message = (f"{request.signal} on {', '.join(request.nodes)}: asked {asked} "
                       f"pod(s) to checkpoint (request {request.id})")  # fmt: skip

            def write(request: Request = request, involved: dict[str, Any] = involved,
                      message: str = message) -> None:  # fmt: skip
                try:
                    record_event(self.write_kube, involved, "CheckpointRequested", message,
                                 request.id, instance=self.options.identity)  # fmt: skip
                    self.state.mark_announced(request.id)
                finally:
                    self.state.end(("announce", request.id))

            self.writes.submit(self._task(ref, write), rank=LAST)

    def _task(self, ref: Hashable, work: Callable[[], None]) -> Callable[[], None]:
        """``work`` for the writer pool: a failure queues the job (or node) again, as a
        failed reconcile would (backoff, or the pause after a refusal)."""

        def run() -> None:
            try:
                work()
            except Exception as exc:
                self._failed(ref, exc)

        return run

    def _submit_delivery(self, ref: JobRef, pod: dict[str, Any], request: str, rank: int) -> None:
        """Hand the writers ``pod``'s request, once: not when this process has already
        delivered it (the pod cache shows our own write only a watch event later), nor
        while it is on its way."""
        meta = pod["metadata"]
        uid = str(meta.get("uid"))
        token = ("deliver", uid, request)
        if self.state.delivered(uid, request) or not self.state.begin(token):
            return

        def deliver() -> None:
            try:
                self._deliver(pod, request)
            finally:
                self.state.end(token)

        self.writes.submit(self._task(ref, deliver), rank=rank)

    def _deliver(self, pod: dict[str, Any], request: str) -> None:
        """Annotate ``pod`` with ``request``."""
        meta = pod["metadata"]
        uid = str(meta.get("uid"))
        # The uid in the patch is a precondition: a replacement pod of the same name
        # (the Training Operator reuses names) answers 422, uid immutable, and is not
        # asked by mistake.
        patch = {"metadata": {"uid": meta.get("uid"),
                              "annotations": {REQUEST_ANNOTATION: request}}}  # fmt: skip
        try:
            self.write_kube.patch("v1", "Pod", meta["name"], patch, meta["namespace"])
        except ApiError as exc:
            if exc.status not in (404, 409, 422):
                raise
            return
        self.state.mark_delivered(uid, request)
        self.metrics.deliveries.inc()

    def _submit_eviction(self, ref: JobRef, pod: dict[str, Any]) -> None:
        uid = str(pod["metadata"].get("uid"))
        token = ("evict", uid)
        if self.state.evicted(uid) or not self.state.begin(token):
            return  # done, or on its way (the cache has not caught up with it yet)

        def evict() -> None:
            try:
                self._evict(ref, pod)
            finally:
                self.state.end(token)

        self.writes.submit(self._task(ref, evict), rank=FIRST)

    def _evict(self, ref: JobRef, pod: dict[str, Any]) -> None:
        meta = pod["metadata"]
        uid = str(meta.get("uid"))
        try:
            self.write_kube.evict(meta["name"], meta["namespace"], meta.get("uid"))
        except ApiError as exc:
            if exc.status in (404, 409):  # gone, or a new pod of that name
                return
            if exc.status == 429:  # a PodDisruptionBudget says not now
                self.queue.add_after(ref, 5.0)
                return
            raise
        self.state.mark_evicted(uid)
        self.metrics.evictions.inc()
        log.info("%s: evicted %s from %s", ref, meta["name"], pod["spec"].get("nodeName"))


def _fenced(node: dict[str, Any]) -> bool:
    """Whether the node's own notice keeps new pods off it: a termination taint with a
    NoSchedule or NoExecute effect."""
    return any(
        taint.get("key") in TAINT_SIGNALS and taint.get("effect") in ("NoSchedule", "NoExecute")
        for taint in (node.get("spec") or {}).get("taints") or []
    )


def _node_view(notice: Notice) -> Hashable:
    """What the plan reads of a noticed node."""
    return (notice.key, notice.signal, notice.deadline)


def _job_stub(ref: JobRef, uid: str) -> dict[str, Any]:
    meta = {"name": ref.name, "namespace": ref.namespace, "uid": uid or None}
    return {"apiVersion": ref.api_version, "kind": ref.kind, "metadata": meta}


def _describe(key: Hashable) -> str:
    if isinstance(key, NodeKey):
        return f"Node/{key.name}"
    return str(key)
