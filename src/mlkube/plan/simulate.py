"""A discrete-event simulation of what the rendered objects make Kueue (v0.19.2, classical
preemption, BestEffortFIFO) and the scheduler do with a trace: why a job waited, what
it borrowed, who preempted whom, what spot reclaims cost. Events in a heap, no ticking;
pending jobs of a ClusterQueue are kept in buckets of identical requests, so a request
that does not fit is tried once per capacity change, not once per job behind it.

Here: the events and Kueue's scheduling cycle (pkg/scheduler/scheduler.go): each cycle
takes the head of every ClusterQueue (``queues``), assigns flavors (``admission``), and
admits the heads in the order non-borrowing first, priority, time. Evictions are
instant, and the preemptor is admitted at once (Kueue admits it in a later cycle, when
its victims have released the quota). Then ``pods`` places the admitted jobs, and
``spot`` reclaims nodes.
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Callable, Sequence
from typing import cast

from mlkube.plan import admission, pods, queues, spot
from mlkube.plan.admission import FIT, NOFIT, PREEMPT
from mlkube.plan.model import Model
from mlkube.plan.spot import Reclaim
from mlkube.plan.state import (
    ADMITTED,
    DONE,
    FINISH,
    RECLAIM,
    RENDEZVOUS,
    REQUEUE,
    RETRY,
    RETURN,
    RUNNING,
    SUBMIT,
    CohortState,
    FlavorState,
    JobState,
    PoolState,
    QueueState,
)
from mlkube.plan.stats import cost, pool_result
from mlkube.plan.stats import group as group_result
from mlkube.plan.types import JobResult, PlanResult, TraceJob

__all__ = ["Reclaim", "Watch", "simulate"]

# Told (simulated time, events so far, jobs finished) every this many events: a caller
# can show how far a long run is without the simulator doing any I/O.
Watch = Callable[[float, int, int], None]
WATCH_EVERY = 4096


class Sim:
    """One run: the state, the event heap, and what happens at each event."""

    def __init__(self, model: Model, jobs: Sequence[TraceJob], rng: random.Random) -> None:
        self.model = model
        self.rng = rng
        self.pools = {name: PoolState(p) for name, p in model.pools.items()}
        self.cqs = {name: QueueState(q) for name, q in model.queues.items()}
        cohorts: dict[str, CohortState] = {}
        for cq in self.cqs.values():
            if cq.model.cohort is None:
                continue
            cohort = cohorts.setdefault(cq.model.cohort, CohortState())
            cq.cohort = cohort
            cohort.members.append(cq)
            for f in cq.flavors:
                nominal = cohort.nominal.setdefault(f.pool, [0.0, 0.0, 0.0])
                cohort.usage.setdefault(f.pool, [0.0, 0.0, 0.0])
                for r in range(3):
                    nominal[r] += f.nominal[r]
        for cq in self.cqs.values():
            for f in cq.flavors:
                f.potential = (
                    admission.potential(self, cq, f, 0),
                    admission.potential(self, cq, f, 1),
                    admission.potential(self, cq, f, 2),
                )
        self.ns_used: dict[str, list[float]] = {ns: [0.0, 0.0, 0.0] for ns in model.quotas}
        # Per pool, how many admissions and releases of its quota so far: what a flavor
        # assignment found is still true while the count of each of its pools stands.
        self.version: dict[str, int] = dict.fromkeys(model.pools, 0)
        self.events: list[tuple[float, int, int, int, object]] = []
        self.seq = 0
        self.now = 0.0
        self.dirty: set[QueueState] = set()
        self.requeues: set[int] = set()  # cohorts (or lone queues) with a requeue due
        self.waiting: list[JobState] = []  # admitted, pods not all running: in admission order
        self.waiting_dirty = False
        # per namespace, admitted jobs the ResourceQuota refused a pod, waiting to sync
        self.refused: dict[str, dict[JobState, None]] = {}
        self.running = 0
        self.admitted = 0
        self.random_reclaims = True
        self.lost: dict[str, float] = {}  # GPU-hours of lost work, per pool
        self.future = 0  # submits and node returns still to come
        self.finished = 0
        self.jobs = [self._job(i, t) for i, t in enumerate(jobs)]

    # setup ---------------------------------------------------------------------------

    def _job(self, index: int, trace: TraceJob) -> JobState:
        model = self.model
        cq = self.cqs[model.local_queues[(trace.namespace, trace.queue)]]
        priority = (
            model.priorities[trace.priority]
            if trace.priority is not None
            else model.default_priority
        )
        pools = frozenset(
            f.pool
            for f in cq.flavors
            if (trace.pool is None or f.pool == trace.pool)
            and (trace.gpu is None or model.pools[f.pool].gpu_model == trace.gpu)
            and (trace.spot or not model.pools[f.pool].spot)
        )
        job = JobState(index, trace, cq, priority, pools)
        job.flavor_pools = tuple(f.pool for f in cq.flavors if f.pool in pools)
        self.push(trace.submit, SUBMIT, job)
        return job

    def push(self, time: float, kind: int, payload: object, epoch: int = 0) -> None:
        self.seq += 1
        if kind in (SUBMIT, RETURN):
            self.future += 1
        heapq.heappush(self.events, (time, kind, self.seq, epoch, payload))

    def schedule(self) -> None:
        """Kueue's scheduling cycles, until no head can be admitted or preempt."""
        cycles = 0
        while self.dirty:
            cycles += 1
            if cycles > 4 * len(self.jobs) + 1000:
                raise RuntimeError("the scheduling cycles do not converge (a simulator bug)")
            heads = []
            for cq in list(self.dirty):
                job = queues.head(self, cq)
                if job is None:
                    self.dirty.discard(cq)
                else:
                    heads.append(job)
            if not heads:
                return
            entries = []
            for job in heads:
                # A request that did not fit, tried again with nothing changed in its
                # pools since (a release elsewhere in the cohort requeued it): the same.
                stamp = tuple([self.version[pool] for pool in job.flavor_pools])
                known = job.cq.nofit.get(job.key)
                if known is not None and known[0] == stamp:
                    queues.set_aside(self, job, known[1])
                    continue
                mode, flavor, borrows, _targets = admission.assign(self, job)
                if mode == NOFIT:
                    job.cq.nofit[job.key] = (stamp, queues.set_aside(self, job))
                else:
                    entries.append((borrows, -job.priority, job.order, job.index, job))
            entries.sort()
            for entry in entries:
                job = entry[4]
                mode, flavor, borrows, targets = admission.assign(self, job)
                if mode == FIT:
                    assert flavor is not None
                    queues.pop(self, job)
                    self.admit(job, flavor, borrows)
                elif mode == PREEMPT:
                    for victim in targets:
                        self.evict(victim, reclaimed=False)
                    # Kueue admits it in a later cycle, once its victims have released
                    # their quota, before anything else can take it: here, at once.
                    mode, flavor, borrows, _ = admission.assign(self, job)
                    if mode == FIT:
                        assert flavor is not None
                        queues.pop(self, job)
                        self.admit(job, flavor, borrows)
                # NOFIT now: something admitted this cycle took the room; retried next cycle

    def admit(self, job: JobState, flavor: FlavorState, borrows: bool) -> None:
        job.state = ADMITTED
        self.admitted += 1
        job.flavor = flavor
        job.borrows = borrows
        job.admit_time = self.now
        job.result.admissions.append(self.now)
        job.result.flavor = flavor.pool
        admission.charge(self, job.cq, flavor, job.req, +1)
        self.version[flavor.pool] += 1
        flavor.admitted.add(job)
        if not pods.start(self, job):
            self.waiting.append(job)

    def evict(self, job: JobState, *, reclaimed: bool) -> None:
        """Kueue evicts (or the node is gone): quota back, work since the checkpoint
        lost, requeued in its old place: Kueue orders a preempted Workload by its
        creation time (v0.19.2 pkg/workload/workload.go ``GetQueueOrderTimestamp``: the
        eviction time only after a PodsReady timeout or an admission check, and a
        reclaim while borrowing, which mlkube's ClusterQueues never do)."""
        was_running = job.state == RUNNING
        pods.stop(self, job, finished=False)
        if not was_running:
            self.waiting.remove(job)
        self.unadmit(job)
        job.result.preemptions.append(self.now)
        if reclaimed:
            job.result.reclaims.append(self.now)
        job.cq.preemptions += 1
        queues.release(self, job.cq)
        queues.enqueue(self, job)

    # events --------------------------------------------------------------------------

    def unadmit(self, job: JobState) -> None:
        """Quota back to the ClusterQueue; the job's admitted GPU-hours counted."""
        flavor = job.flavor
        assert flavor is not None
        admission.charge(self, job.cq, flavor, job.req, -1)
        self.version[flavor.pool] += 1
        flavor.admitted.discard(job)
        held = (self.now - job.admit_time) * job.req[0] / 3600
        job.result.admitted_gpu_hours += held
        if job.borrows:
            job.result.borrowed_gpu_hours += held
        self.admitted -= 1

    def finish(self, job: JobState) -> None:
        pods.stop(self, job, finished=True)
        job.state = DONE
        job.result.finished = self.now
        self.finished += 1
        self.unadmit(job)
        queues.release(self, job.cq)

    def fail(self, job: JobState) -> None:
        """The job failed (its TrainJob did): its Workload is finished, never done."""
        pods.stop(self, job, finished=False)
        self.waiting.remove(job)
        job.state = DONE
        self.unadmit(job)
        queues.release(self, job.cq)

    def _reclaims(self, reclaims: Sequence[Reclaim] | None) -> None:
        """Each spot node's first reclaim drawn, or the given ones."""
        if reclaims is None:
            for pool in self.pools.values():
                for n in range(pool.model.nodes):
                    spot.next_reclaim(self, pool, n)
        else:
            self.random_reclaims = False
            for r in reclaims:
                self.push(r.time, RECLAIM, (self.pools[r.pool], r.node))

    def run(self, reclaims: Sequence[Reclaim] | None, watch: Watch | None = None) -> float:
        self._reclaims(reclaims)
        events = self.events
        last = 0.0
        count, due = 0, WATCH_EVERY if watch is not None else -1
        while events:
            time, kind, _, epoch, payload = heapq.heappop(events)
            self.now = time
            count += 1
            if count == due:
                assert watch is not None
                watch(time, count, self.finished)
                due += WATCH_EVERY
            if kind == SUBMIT:
                self.future -= 1
                assert isinstance(payload, JobState)
                queues.enqueue(self, payload)
                last = time
            elif kind == FINISH:
                assert isinstance(payload, JobState)
                if payload.epoch != epoch or payload.state != RUNNING:
                    continue
                self.finish(payload)
                last = time
            elif kind == RECLAIM:
                if self.running == 0 and self.future == 0:
                    continue
                where = cast("tuple[PoolState, int]", payload)
                spot.reclaim(self, *where)  # its next reclaim is drawn when it is replaced
                last = time
            elif kind == REQUEUE:
                assert isinstance(payload, QueueState)
                queues.requeue(self, payload)
            elif kind == RETRY:
                assert isinstance(payload, JobState)
                pods.retry(self, payload, epoch)
            elif kind == RENDEZVOUS:
                assert isinstance(payload, JobState)
                pods.rendezvous_timeout(self, payload, epoch)
            else:
                self.future -= 1
                where = cast("tuple[PoolState, int]", payload)
                spot.node_back(self, *where)
                if self.admitted or self.future:
                    last = time  # else it changes nothing any job sees
            if events and events[0][0] == time:
                continue  # the same instant: one scheduling pass after all of it
            self.schedule()
            pods.retry_waiting(self)
        self.now = last
        return last


def simulate(
    model: Model,
    jobs: Sequence[TraceJob],
    *,
    seed: int = 0,
    reclaim_rate: float | None = None,
    reclaims: Sequence[Reclaim] | None = None,
    watch: Watch | None = None,
) -> PlanResult:
    """Run ``jobs`` through ``model``. ``reclaim_rate`` (per spot node-hour) overrides
    the model's; ``reclaims`` replaces the random reclaims by an exact schedule;
    ``watch`` is told how far the run is, every `WATCH_EVERY` events."""
    if reclaim_rate is not None:
        model = spot.with_rate(model, reclaim_rate)
    sim = Sim(model, jobs, random.Random(seed))
    span = sim.run(reclaims, watch)
    sim.now = span
    for job in sim.jobs:
        if job.state == RUNNING:  # still running at the end: count what it held so far
            job.result.gpu_hours += (span - job.run_start) * job.req[0] / 3600
        if job.state in (ADMITTED, RUNNING):
            held = (span - job.admit_time) * job.req[0] / 3600
            job.result.admitted_gpu_hours += held
            if job.borrows:
                job.result.borrowed_gpu_hours += held
    results = [j.result for j in sim.jobs]
    queues = []
    by_queue: dict[str, list[JobResult]] = {}
    by_team: dict[str, list[JobResult]] = {}
    for job in sim.jobs:
        by_queue.setdefault(job.cq.name, []).append(job.result)
        by_team.setdefault(job.result.team, []).append(job.result)
    for cq in sim.cqs.values():
        cq.gpu_integral(span)
        queues.append(
            group_result(
                cq.name,
                by_queue.get(cq.name, []),
                cq.admitted_seconds / 3600,
                cq.borrowed_seconds / 3600,
            )
        )
    teams = [group_result(name, by_team[name]) for name in sorted(by_team)]
    pools = []
    alive: dict[str, float] = {}
    for name, pool in sim.pools.items():
        result, alive[name] = pool_result(
            name, pool.usage.total, pool.model.spot, pool.usage.points, span
        )
        pools.append(result)
    return PlanResult(
        platform=model.name,
        span=span,
        jobs=results,
        queues=queues,
        teams=teams,
        pools=pools,
        cost=cost(model, alive, sim.lost),
    )
