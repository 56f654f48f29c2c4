"""A discrete-event simulation of what the rendered objects make Kueue (v0.19.2, classical
preemption, BestEffortFIFO) and the scheduler do with a trace: why a job waited, what
it borrowed, who preempted whom, what spot reclaims cost. Events in a heap, no ticking;
pending jobs of a ClusterQueue are kept in buckets of identical requests, so a request
that does not fit is tried once per capacity change, not once per job behind it.

What follows Kueue (pkg/scheduler/scheduler.go, flavorassigner, preemption/classical):
- each cycle takes the head of every ClusterQueue (priority, then queue-order time:
  creation, or the last eviction as `requeuingStrategy.timestamp: Eviction`), assigns
  flavors, and admits the heads in the order non-borrowing first, priority, time;
- a head that does not fit is inadmissible until capacity in its cohort is released
  (a workload finishes or is evicted), and the next one is tried (BestEffortFIFO);
- flavors are tried in order; the first where the job fits (borrowing or not) is taken
  (`whenCanBorrow: MayStopSearch`), else the first where preemption would make room
  (`whenCanPreempt: TryNextFlavor`);
- available quota is min(nominal + borrowingLimit - usage, cohort nominal - cohort
  usage): with no lendingLimit rendered, all unused nominal quota is lendable;
- preemption is looked for only where the job's request is within its ClusterQueue's
  nominal quota (a job that must borrow waits);
- preemption: candidates in other ClusterQueues of the cohort that are borrowing
  (`reclaimWithinCohort: Any`, only when the preemptor stays within its nominal quota,
  as `borrowWithinCohort` is not rendered), and lower-priority jobs of the same
  ClusterQueue (`withinClusterQueue: LowerPriority`); ordered other queue first, lower
  priority, most recently admitted; removed until the job fits, then added back in
  reverse when not needed. Evictions are instant, and the preemptor is admitted at
  once (Kueue admits it in a later cycle, when its victims have released the quota).

After admission, the pods: created when the namespace's ResourceQuota has room for all
of them, placed each on a live node of the flavor's pool with enough free GPUs, CPU and
memory (the node with most free GPUs first, as LeastAllocated spreads); the job runs
when all its pods are placed. Spot nodes are reclaimed at a seeded exponential rate;
a reclaimed node's jobs lose their work since the last checkpoint and are evicted and
requeued; the node is replaced after `Model.replacement_delay`.
"""

from __future__ import annotations

import heapq
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import cast

from mlkube.plan.model import ClusterQueueModel, Model, PoolModel, pod_memory
from mlkube.plan.stats import cost, pool_result
from mlkube.plan.stats import group as group_result
from mlkube.plan.types import JobResult, PlanResult, TraceJob

INF = math.inf
_SUBMIT, _FINISH, _RECLAIM, _RETURN, _REQUEUE = 0, 1, 2, 3, 4
FIT, PREEMPT, NOFIT = 0, 1, 2  # best first
QUEUED, ADMITTED, RUNNING, DONE = 0, 1, 2, 3


@dataclass(frozen=True, slots=True)
class Reclaim:
    """An injected spot reclaim (for exact tests): ``pool``'s node ``node`` at ``time``."""

    time: float
    pool: str
    node: int


class _Pool:
    __slots__ = ("alive", "free_cpu", "free_gpu", "free_mem", "jobs", "model", "name", "usage")

    def __init__(self, model: PoolModel) -> None:
        self.model = model
        self.name = model.name
        n = model.nodes
        self.free_gpu = [model.gpus_per_node] * n
        self.free_cpu = [model.cpu_per_node] * n
        self.free_mem = [model.memory_per_node] * n
        self.alive = [True] * n
        self.jobs: list[set[int]] = [set() for _ in range(n)]
        self.usage = _PoolUsage(model.nodes * model.gpus_per_node)


class _PoolUsage:
    """GPUs in use and alive, as (time, used, alive) at each change."""

    __slots__ = ("alive", "points", "total", "used")

    def __init__(self, total: int) -> None:
        self.total = total
        self.alive = float(total)
        self.used = 0.0
        self.points: list[tuple[float, float, float]] = [(0.0, 0.0, self.alive)]

    def change(self, now: float, used: float = 0.0, alive: float = 0.0) -> None:
        self.used += used
        self.alive += alive
        if self.points[-1][0] == now:
            self.points[-1] = (now, self.used, self.alive)
        else:
            self.points.append((now, self.used, self.alive))


class _Flavor:
    __slots__ = ("admitted", "index", "last", "limit", "nominal", "pool", "usage")

    def __init__(self, pool: str, nominal: tuple[float, float, float], limit: float | None) -> None:
        self.pool = pool
        self.nominal = nominal
        self.limit = limit  # GPU borrowing limit; CPU and memory have none rendered
        self.usage = [0.0, 0.0, 0.0]
        self.admitted: set[_Job] = set()
        self.index = 0


class _Cohort:
    __slots__ = ("members", "nominal", "usage")

    def __init__(self) -> None:
        self.members: list[_CQ] = []
        self.nominal: dict[str, list[float]] = {}
        self.usage: dict[str, list[float]] = {}


class _CQ:
    __slots__ = (
        "admitted_seconds",
        "blocked",
        "borrowed_seconds",
        "buckets",
        "cohort",
        "flavors",
        "groups",
        "inadmissible",
        "last",
        "model",
        "name",
        "preemptions",
        "ready",
    )

    def __init__(self, model: ClusterQueueModel) -> None:
        self.model = model
        self.name = model.name
        self.flavors = [_Flavor(f.pool, f.nominal, f.borrowing_limit[0]) for f in model.flavors]
        for i, f in enumerate(self.flavors):
            f.index = i
        self.cohort: _Cohort | None = None
        # Pending jobs, one heap per identical request: (−priority, order, seq, job).
        self.buckets: dict[tuple[object, ...], list[tuple[int, float, int, _Job]]] = {}
        self.inadmissible: set[tuple[object, ...]] = set()  # buckets set aside
        self.groups: dict[tuple[object, ...], list[tuple[int, float, int, tuple[object, ...]]]] = {}
        self.blocked: set[tuple[object, ...]] = set()  # groups set aside
        self.ready: list[tuple[int, float, int, tuple[object, ...]]] = []  # group heads
        self.last = 0.0
        self.admitted_seconds = 0.0
        self.borrowed_seconds = 0.0
        self.preemptions = 0

    def gpu_integral(self, now: float) -> None:
        dt = now - self.last
        if dt > 0:
            for f in self.flavors:
                self.admitted_seconds += f.usage[0] * dt
                self.borrowed_seconds += max(0.0, f.usage[0] - f.nominal[0]) * dt
        self.last = now


class _Job:
    __slots__ = (
        "admit_time",
        "borrows",
        "cq",
        "done",
        "epoch",
        "flavor",
        "group",
        "index",
        "key",
        "mem",
        "order",
        "pods",
        "pools",
        "priority",
        "req",
        "result",
        "run_start",
        "state",
        "trace",
    )

    def __init__(self, index: int, trace: TraceJob, cq: _CQ, priority: int, pools: frozenset[str]):
        self.index = index
        self.trace = trace
        self.cq = cq
        self.priority = priority
        self.pools = pools
        n = trace.nodes
        self.mem = pod_memory(trace.memory)  # per pod, as rendered
        self.req = (
            float(n * trace.gpus_per_node),
            n * trace.cpu,
            n * self.mem,
        )
        self.key: tuple[object, ...] = (
            priority,
            trace.nodes,
            trace.gpus_per_node,
            trace.cpu,
            self.mem,
            pools,
        )
        self.group: tuple[object, ...] = (priority, trace.nodes, trace.gpus_per_node, pools)
        self.order = trace.submit
        self.state = QUEUED
        self.flavor: _Flavor | None = None
        self.borrows = False
        self.admit_time = 0.0
        self.run_start = 0.0
        self.done = 0.0  # seconds of work checkpointed (kept across preemptions)
        self.epoch = 0
        self.pods: list[tuple[_Pool, int]] = []
        self.result = JobResult(
            name=trace.name,
            team=trace.team or trace.namespace,
            queue=trace.queue,
            submit=trace.submit,
        )

    def __hash__(self) -> int:
        return self.index

    def __eq__(self, other: object) -> bool:
        return self is other

    def __lt__(self, other: _Job) -> bool:
        return self.index < other.index


class _Sim:
    def __init__(self, model: Model, jobs: Sequence[TraceJob], rng: random.Random) -> None:
        self.model = model
        self.rng = rng
        self.pools = {name: _Pool(p) for name, p in model.pools.items()}
        self.cqs = {name: _CQ(q) for name, q in model.queues.items()}
        cohorts: dict[str, _Cohort] = {}
        for cq in self.cqs.values():
            if cq.model.cohort is None:
                continue
            cohort = cohorts.setdefault(cq.model.cohort, _Cohort())
            cq.cohort = cohort
            cohort.members.append(cq)
            for f in cq.flavors:
                nominal = cohort.nominal.setdefault(f.pool, [0.0, 0.0, 0.0])
                cohort.usage.setdefault(f.pool, [0.0, 0.0, 0.0])
                for r in range(3):
                    nominal[r] += f.nominal[r]
        self.ns_used: dict[str, list[float]] = {ns: [0.0, 0.0, 0.0] for ns in model.quotas}
        self.events: list[tuple[float, int, int, int, object]] = []
        self.seq = 0
        self.now = 0.0
        self.dirty: set[_CQ] = set()
        self.requeues: set[int] = set()  # cohorts (or lone queues) with a requeue due
        self.waiting: list[_Job] = []  # admitted, pods not all running: in admission order
        self.waiting_dirty = False
        self.running = 0
        self.admitted = 0
        self.random_reclaims = True
        self.lost: dict[str, float] = {}  # GPU-hours of lost work, per pool
        self.future = 0  # submits and node returns still to come
        self.jobs = [self._job(i, t) for i, t in enumerate(jobs)]

    # setup ---------------------------------------------------------------------------

    def _job(self, index: int, trace: TraceJob) -> _Job:
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
        job = _Job(index, trace, cq, priority, pools)
        self.push(trace.submit, _SUBMIT, job)
        return job

    def push(self, time: float, kind: int, payload: object, epoch: int = 0) -> None:
        self.seq += 1
        if kind in (_SUBMIT, _RETURN):
            self.future += 1
        heapq.heappush(self.events, (time, kind, self.seq, epoch, payload))

    # quota ---------------------------------------------------------------------------

    def _usage(
        self, cq: _CQ, flavor: _Flavor, req: tuple[float, float, float], sign: float
    ) -> None:
        cq.gpu_integral(self.now)
        for r in range(3):
            flavor.usage[r] += sign * req[r]
        if cq.cohort is not None:
            usage = cq.cohort.usage[flavor.pool]
            for r in range(3):
                usage[r] += sign * req[r]

    def _available(self, cq: _CQ, flavor: _Flavor, r: int, borrow: bool) -> float:
        used = flavor.usage[r]
        nominal = flavor.nominal[r]
        if cq.cohort is None:
            return nominal - used
        cap = INF
        if not borrow:
            cap = nominal - used
        elif r == 0 and flavor.limit is not None:
            cap = nominal + flavor.limit - used
        cohort_free = cq.cohort.nominal[flavor.pool][r] - cq.cohort.usage[flavor.pool][r]
        return min(cap, cohort_free)

    def _fits(
        self, cq: _CQ, flavor: _Flavor, req: tuple[float, float, float], borrow: bool
    ) -> bool:
        return all(
            req[r] <= self._available(cq, flavor, r, borrow) + 1e-9 for r in range(3) if req[r] > 0
        )

    def _potential(self, cq: _CQ, flavor: _Flavor, r: int) -> float:
        nominal = flavor.nominal[r]
        if cq.cohort is None:
            return nominal
        total = cq.cohort.nominal[flavor.pool][r]
        if r == 0 and flavor.limit is not None:
            return min(nominal + flavor.limit, total)
        return total

    def assign(
        self, job: _Job, req: tuple[float, float, float] | None = None
    ) -> tuple[int, _Flavor | None, bool, list[_Job]]:
        """(mode, flavor, borrows, preemption targets), as the flavor assigner decides
        (for ``req`` instead of the job's request, when given)."""
        cq = job.cq
        req = job.req if req is None else req
        best: tuple[int, _Flavor | None, bool, list[_Job]] = (NOFIT, None, False, [])
        for flavor in cq.flavors:
            if flavor.pool not in job.pools:
                continue
            if self._fits(cq, flavor, req, True):
                borrows = any(
                    flavor.usage[r] + req[r] > flavor.nominal[r] + 1e-9
                    for r in range(3)
                    if req[r] > 0
                )
                return FIT, flavor, borrows, []
            if best[0] == PREEMPT:
                continue
            if all(
                req[r] <= self._potential(cq, flavor, r) + 1e-9 for r in range(3)
            ) and self._may_preempt(cq, flavor, req):
                targets = self.targets(job, flavor, req)
                if targets:
                    best = (PREEMPT, flavor, False, targets)
        return best

    def _may_preempt(self, cq: _CQ, flavor: _Flavor, req: tuple[float, float, float]) -> bool:
        """Kueue (flavorassigner.fitsResourceQuota) looks for preemptions on a resource
        that does not fit only when the job's request of it is within its ClusterQueue's
        nominal quota: with no `borrowWithinCohort` (mlkube renders none) and a flat
        cohort, a job that would have to borrow waits, even for lower-priority jobs of
        its own queue. Found by bench/plan_fidelity.py against the real Kueue."""
        for r in range(3):
            if req[r] <= 0 or req[r] <= self._available(cq, flavor, r, True) + 1e-9:
                continue
            if req[r] > flavor.nominal[r] + 1e-9:
                return False
        return True

    def targets(self, job: _Job, flavor: _Flavor, req: tuple[float, float, float]) -> list[_Job]:
        """Kueue's classical preemption: the fewest candidates, in its order, whose
        removal lets ``job`` fit on ``flavor``; [] when none does."""
        cq = job.cq
        within_nominal = all(
            flavor.usage[r] + req[r] <= flavor.nominal[r] + 1e-9 for r in range(3) if req[r] > 0
        )
        candidates: list[tuple[int, int, float, int, _Job]] = []
        if cq.model.within_cluster_queue == "LowerPriority":
            for other in flavor.admitted:
                if other.priority < job.priority:
                    candidates.append((1, other.priority, -other.admit_time, other.index, other))
        if within_nominal and cq.cohort is not None and cq.model.reclaim_within_cohort:
            for member in cq.cohort.members:
                if member is cq:
                    continue
                for f in member.flavors:
                    if f.pool == flavor.pool and _borrowing(f):
                        for other in f.admitted:
                            candidates.append(
                                (0, other.priority, -other.admit_time, other.index, other)
                            )
        if not candidates:
            return []
        candidates.sort()
        removed: list[_Job] = []
        borrow = not within_nominal
        for cand in candidates:
            other = cand[4]
            other_flavor = other.flavor
            assert other_flavor is not None
            if other.cq is not cq and not _borrowing(other_flavor):
                continue  # its queue is back within nominal quota: no longer reclaimable
            self._usage(other.cq, other_flavor, other.req, -1)
            removed.append(other)
            if self._fits(cq, flavor, req, borrow):
                break
        else:
            for other in removed:
                assert other.flavor is not None
                self._usage(other.cq, other.flavor, other.req, +1)
            return []
        targets = [removed[-1]]
        for other in reversed(removed[:-1]):
            assert other.flavor is not None
            self._usage(other.cq, other.flavor, other.req, +1)
            if self._fits(cq, flavor, req, borrow):
                continue  # not needed
            self._usage(other.cq, other.flavor, other.req, -1)
            targets.append(other)
        for other in targets:
            assert other.flavor is not None
            self._usage(other.cq, other.flavor, other.req, +1)
        return targets

    # queues --------------------------------------------------------------------------

    # Pending jobs: a heap per identical request (a bucket: the same answer for all of
    # it), buckets grouped by (priority, pods, GPUs per pod, pools). A head that fails
    # even without its CPU and memory sets its whole group aside (every job of it asks
    # the same GPUs, and more of anything never fits where less did not); one that
    # fails only for CPU or memory sets aside its bucket, and the group's next bucket is
    # tried. Heaps hold stale entries, skipped when they surface.

    def enqueue(self, job: _Job) -> None:
        cq = job.cq
        job.state = QUEUED
        bucket = cq.buckets.get(job.key)
        item = (-job.priority, job.order, job.index, job)
        if bucket is None:
            cq.buckets[job.key] = bucket = []
        heapq.heappush(bucket, item)
        if bucket[0] is item and job.key not in cq.inadmissible:
            self._offer(cq, job.group, item, job.key)

    def _offer(
        self,
        cq: _CQ,
        group: tuple[object, ...],
        item: tuple[int, float, int, _Job],
        key: tuple[object, ...],
    ) -> None:
        """A bucket's head, to its group's heap and (unless the group is set aside) to
        the queue's."""
        entry = (item[0], item[1], item[2], key)
        heapq.heappush(cq.groups.setdefault(group, []), entry)
        if group not in cq.blocked:
            heapq.heappush(cq.ready, (item[0], item[1], item[2], group))
            self.dirty.add(cq)

    def _group_head(
        self, cq: _CQ, group: tuple[object, ...]
    ) -> tuple[int, float, int, tuple[object, ...]] | None:
        heads = cq.groups.get(group)
        while heads:
            _, _, index, key = heads[0]
            bucket = cq.buckets.get(key)
            if key in cq.inadmissible or not bucket or bucket[0][2] != index:
                heapq.heappop(heads)
                continue
            return heads[0]
        return None

    def release(self, cq: _CQ) -> None:
        """Capacity came back in ``cq``'s cohort: its inadmissible jobs are retried
        ``Model.requeue_delay`` later. Kueue batches these requeues: the first release
        after a quiet spell schedules one requeue of the whole cohort a second later
        (pkg/cache/queue/inadmissible_workloads.go, ``requeueBatchPeriod``, a delaying
        workqueue that keeps the earliest time), and releases until then join it. Jobs
        that were never tried (new, or behind in the heap) may take the capacity first."""
        key = id(cq.cohort) if cq.cohort is not None else id(cq)
        if self.model.requeue_delay <= 0:
            self.requeue(cq)
        elif key not in self.requeues:
            self.requeues.add(key)
            self.push(self.now + self.model.requeue_delay, _REQUEUE, cq)

    def requeue(self, cq: _CQ) -> None:
        """The inadmissible jobs of ``cq``'s cohort back to their queues' heads."""
        members = cq.cohort.members if cq.cohort is not None else [cq]
        self.requeues.discard(id(cq.cohort) if cq.cohort is not None else id(cq))
        for member in members:
            groups = set(member.blocked)
            member.blocked.clear()
            for key in member.inadmissible:
                head = member.buckets[key][0]
                job = head[3]
                heapq.heappush(member.groups.setdefault(job.group, []), (*head[:3], key))
                groups.add(job.group)
            member.inadmissible.clear()
            for group in groups:
                top = self._group_head(member, group)
                if top is not None:
                    heapq.heappush(member.ready, (top[0], top[1], top[2], group))
            self.dirty.add(member)

    def _head(self, cq: _CQ) -> _Job | None:
        ready = cq.ready
        while ready:
            _, _, index, group = ready[0]
            top = None if group in cq.blocked else self._group_head(cq, group)
            if top is None or top[2] != index:
                heapq.heappop(ready)  # stale
                if top is not None:
                    heapq.heappush(ready, (top[0], top[1], top[2], group))
                continue
            return cq.buckets[top[3]][0][3]
        return None

    def _pop(self, job: _Job) -> None:
        cq = job.cq
        bucket = cq.buckets[job.key]
        if bucket[0][3] is job:
            heapq.heappop(bucket)
        else:  # something requeued ahead of it in this cycle
            bucket.remove(next(item for item in bucket if item[3] is job))
            heapq.heapify(bucket)
        if bucket:
            self._offer(cq, job.group, bucket[0], job.key)
        else:
            del cq.buckets[job.key]
            top = self._group_head(cq, job.group)
            if top is not None and job.group not in cq.blocked:
                heapq.heappush(cq.ready, (top[0], top[1], top[2], job.group))

    def _inadmissible(self, job: _Job) -> None:
        cq = job.cq
        if job.req[1] or job.req[2]:
            gpus_only = (job.req[0], 0.0, 0.0)
            if self.assign(job, gpus_only)[0] != NOFIT:
                # Only its CPU or memory does not fit: the group's next bucket may.
                cq.inadmissible.add(job.key)
                top = self._group_head(cq, job.group)
                if top is not None and job.group not in cq.blocked:
                    heapq.heappush(cq.ready, (top[0], top[1], top[2], job.group))
                return
        cq.blocked.add(job.group)

    def schedule(self) -> None:
        """Kueue's scheduling cycles, until no head can be admitted or preempt."""
        cycles = 0
        while self.dirty:
            cycles += 1
            if cycles > 4 * len(self.jobs) + 1000:
                raise RuntimeError("the scheduling cycles do not converge (a simulator bug)")
            heads = []
            for cq in list(self.dirty):
                job = self._head(cq)
                if job is None:
                    self.dirty.discard(cq)
                else:
                    heads.append(job)
            if not heads:
                return
            entries = []
            for job in heads:
                mode, flavor, borrows, _targets = self.assign(job)
                if mode == NOFIT:
                    self._inadmissible(job)
                else:
                    entries.append((borrows, -job.priority, job.order, job.index, job))
            entries.sort()
            for entry in entries:
                job = entry[4]
                mode, flavor, borrows, targets = self.assign(job)
                if mode == FIT:
                    assert flavor is not None
                    self._pop(job)
                    self.admit(job, flavor, borrows)
                elif mode == PREEMPT:
                    for victim in targets:
                        self.evict(victim, reclaimed=False)
                    # Kueue admits it in a later cycle, once its victims have released
                    # their quota, before anything else can take it: here, at once.
                    mode, flavor, borrows, _ = self.assign(job)
                    if mode == FIT:
                        assert flavor is not None
                        self._pop(job)
                        self.admit(job, flavor, borrows)
                # NOFIT now: something admitted this cycle took the room; retried next cycle

    def admit(self, job: _Job, flavor: _Flavor, borrows: bool) -> None:
        job.state = ADMITTED
        self.admitted += 1
        job.flavor = flavor
        job.borrows = borrows
        job.admit_time = self.now
        job.result.admissions.append(self.now)
        job.result.flavor = flavor.pool
        self._usage(job.cq, flavor, job.req, +1)
        flavor.admitted.add(job)
        if not self.start(job):
            self.waiting.append(job)

    def evict(self, job: _Job, *, reclaimed: bool) -> None:
        """Kueue evicts (or the node is gone): quota back, work since the checkpoint
        lost, requeued by its eviction time."""
        was_running = job.state == RUNNING
        self.stop(job, finished=False)
        if not was_running:
            self.waiting.remove(job)
        self.unadmit(job)
        job.result.preemptions.append(self.now)
        if reclaimed:
            job.result.reclaims.append(self.now)
        job.cq.preemptions += 1
        job.order = self.now  # requeuingStrategy.timestamp: Eviction
        self.release(job.cq)
        self.enqueue(job)

    # pods ----------------------------------------------------------------------------

    def start(self, job: _Job) -> bool:
        """Create and place all of an admitted job's pods, or none."""
        trace = job.trace
        quota = self.model.quotas.get(trace.namespace)
        if quota is not None:
            used = self.ns_used[trace.namespace]
            limits = (quota.gpu, quota.cpu, quota.memory)
            for r in range(3):
                limit = limits[r]
                if limit is not None and job.req[r] > 0 and used[r] + job.req[r] > limit + 1e-9:
                    return False  # the ResourceQuota admission plugin refuses the pods
        assert job.flavor is not None
        pool = self.pools[job.flavor.pool]
        gpu, cpu, mem = trace.gpus_per_node, trace.cpu, job.mem
        placed: list[int] = []
        free_gpu, free_cpu, free_mem, alive = (
            pool.free_gpu,
            pool.free_cpu,
            pool.free_mem,
            pool.alive,
        )
        for _ in range(trace.nodes):
            best = -1
            best_free = -1
            for n in range(len(free_gpu)):
                if (
                    alive[n]
                    and free_gpu[n] >= gpu
                    and free_cpu[n] + 1e-9 >= cpu
                    and free_mem[n] + 1e-6 >= mem
                    and free_gpu[n] > best_free
                ):
                    best, best_free = n, free_gpu[n]
            if best < 0:
                for n in placed:
                    free_gpu[n] += gpu
                    free_cpu[n] += cpu
                    free_mem[n] += mem
                return False
            free_gpu[best] -= gpu
            free_cpu[best] -= cpu
            free_mem[best] -= mem
            placed.append(best)
        if quota is not None:
            used = self.ns_used[trace.namespace]
            for r in range(3):
                used[r] += job.req[r]
        job.pods = [(pool, n) for n in placed]
        for n in placed:
            pool.jobs[n].add(job.index)
        pool.usage.change(self.now, used=job.req[0])
        job.state = RUNNING
        job.run_start = self.now
        job.result.starts.append(self.now)
        job.epoch += 1
        job.result.nodes = [f"{pool.name}-{n}" for n in placed]
        self.running += 1
        self.push(self.now + (trace.duration - job.done), _FINISH, job, job.epoch)
        return True

    def stop(self, job: _Job, *, finished: bool) -> None:
        """Pods gone: nodes and namespace quota back; work accounted."""
        if job.state != RUNNING:
            return
        trace = job.trace
        ran = self.now - job.run_start
        gpus = job.req[0]
        job.result.gpu_hours += gpus * ran / 3600
        if finished:
            job.done = trace.duration
        else:
            # Checkpoints every `interval` seconds of this run; without any, the job
            # starts again from zero (earlier runs' work was counted when they ended).
            interval = trace.checkpoint_interval
            kept = 0.0 if interval is None else math.floor(ran / interval) * interval
            job.done = 0.0 if interval is None else job.done + kept
            lost = (ran - kept) * gpus / 3600
            job.result.lost_gpu_hours += lost
            self.lost[job.pods[0][0].name] = self.lost.get(job.pods[0][0].name, 0.0) + lost
        pool = job.pods[0][0]
        for _, n in job.pods:
            pool.free_gpu[n] += trace.gpus_per_node
            pool.free_cpu[n] += trace.cpu
            pool.free_mem[n] += job.mem
            pool.jobs[n].discard(job.index)
        pool.usage.change(self.now, used=-gpus)
        job.pods = []
        if trace.namespace in self.ns_used:
            used = self.ns_used[trace.namespace]
            for r in range(3):
                used[r] -= job.req[r]
        job.epoch += 1
        job.state = ADMITTED
        self.running -= 1
        self.waiting_dirty = True

    def retry_waiting(self) -> None:
        """Admitted jobs whose pods were refused or found no node, by pod priority and
        age; a request that failed is not tried again behind itself."""
        if not self.waiting_dirty or not self.waiting:
            self.waiting_dirty = False
            return
        self.waiting_dirty = False
        failed: set[tuple[object, ...]] = set()
        still: list[_Job] = []
        # kube-scheduler's queue: higher pod priority first, then the older pods.
        order = sorted(self.waiting, key=lambda j: (-j.priority, j.admit_time, j.index))
        for job in order:
            assert job.flavor is not None
            key = (job.trace.namespace, job.flavor.pool, job.key)
            if key in failed or not self.start(job):
                failed.add(key)
                still.append(job)
        still.sort(key=lambda j: (j.admit_time, j.index))
        self.waiting = still

    # events --------------------------------------------------------------------------

    def unadmit(self, job: _Job) -> None:
        """Quota back to the ClusterQueue; the job's admitted GPU-hours counted."""
        flavor = job.flavor
        assert flavor is not None
        self._usage(job.cq, flavor, job.req, -1)
        flavor.admitted.discard(job)
        held = (self.now - job.admit_time) * job.req[0] / 3600
        job.result.admitted_gpu_hours += held
        if job.borrows:
            job.result.borrowed_gpu_hours += held
        self.admitted -= 1

    def finish(self, job: _Job) -> None:
        self.stop(job, finished=True)
        job.state = DONE
        job.result.finished = self.now
        self.unadmit(job)
        self.release(job.cq)

    def reclaim(self, pool: _Pool, node: int) -> None:
        if not pool.alive[node]:
            return
        for index in sorted(pool.jobs[node]):
            self.evict(self.jobs[index], reclaimed=True)
        pool.alive[node] = False
        pool.usage.change(self.now, alive=-pool.model.gpus_per_node)
        self.push(self.now + self.model.replacement_delay, _RETURN, (pool, node))

    def node_back(self, pool: _Pool, node: int) -> None:
        pool.alive[node] = True
        pool.free_gpu[node] = pool.model.gpus_per_node
        pool.free_cpu[node] = pool.model.cpu_per_node
        pool.free_mem[node] = pool.model.memory_per_node
        pool.usage.change(self.now, alive=pool.model.gpus_per_node)
        self.waiting_dirty = True
        self._next_reclaim(pool, node)

    def _next_reclaim(self, pool: _Pool, node: int) -> None:
        rate = pool.model.reclaim_rate
        if rate > 0 and self.random_reclaims:
            self.push(self.now + self.rng.expovariate(rate / 3600), _RECLAIM, (pool, node))

    def run(self, reclaims: Sequence[Reclaim] | None) -> float:
        if reclaims is None:
            for pool in self.pools.values():
                for n in range(pool.model.nodes):
                    self._next_reclaim(pool, n)
        else:
            self.random_reclaims = False
            for r in reclaims:
                self.push(r.time, _RECLAIM, (self.pools[r.pool], r.node))
        events = self.events
        last = 0.0
        while events:
            time, kind, _, epoch, payload = heapq.heappop(events)
            self.now = time
            if kind == _SUBMIT:
                self.future -= 1
                assert isinstance(payload, _Job)
                self.enqueue(payload)
                last = time
            elif kind == _FINISH:
                assert isinstance(payload, _Job)
                if payload.epoch != epoch or payload.state != RUNNING:
                    continue
                self.finish(payload)
                last = time
            elif kind == _RECLAIM:
                if self.running == 0 and self.future == 0:
                    continue
                where = cast("tuple[_Pool, int]", payload)
                self.reclaim(*where)  # its next reclaim is drawn when it is replaced
                last = time
            elif kind == _REQUEUE:
                assert isinstance(payload, _CQ)
                self.requeue(payload)
            else:
                self.future -= 1
                where = cast("tuple[_Pool, int]", payload)
                self.node_back(*where)
                if self.admitted or self.future:
                    last = time  # else it changes nothing any job sees
            if events and events[0][0] == time:
                continue  # the same instant: one scheduling pass after all of it
            self.schedule()
            self.retry_waiting()
        self.now = last
        return last


def _borrowing(flavor: _Flavor) -> bool:
    return any(flavor.usage[r] > flavor.nominal[r] + 1e-9 for r in range(3))


def simulate(
    model: Model,
    jobs: Sequence[TraceJob],
    *,
    seed: int = 0,
    reclaim_rate: float | None = None,
    reclaims: Sequence[Reclaim] | None = None,
) -> PlanResult:
    """Run ``jobs`` through ``model``. ``reclaim_rate`` (per spot node-hour) overrides
    the model's; ``reclaims`` replaces the random reclaims by an exact schedule."""
    if reclaim_rate is not None:
        model = _with_rate(model, reclaim_rate)
    sim = _Sim(model, jobs, random.Random(seed))
    span = sim.run(reclaims)
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


def _with_rate(model: Model, rate: float) -> Model:
    pools = {n: replace(p, reclaim_rate=rate if p.spot else 0.0) for n, p in model.pools.items()}
    return replace(model, pools=pools)
