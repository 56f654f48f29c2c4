"""The pending jobs of each ClusterQueue, as Kueue's queue manager keeps them (v0.19.2,
pkg/cache/queue): heads by priority, then queue-order time (creation, a preempted job's
too: ``Sim.evict``); a head that does not fit is set aside (BestEffortFIFO: the next one
is tried) until capacity in its cohort is released and the requeue that follows comes
(`release`).

Pending jobs: a heap per identical request (a bucket: the same answer for all of it),
buckets grouped by (priority, pods, GPUs per pod, pools). A head that fails even
without its CPU and memory sets its whole group aside (every job of it asks the same
GPUs, and more of anything never fits where less did not); one that fails only for CPU
or memory sets aside its bucket, and the group's next bucket is tried. Heaps hold stale
entries, skipped when they surface.
"""

from __future__ import annotations

import heapq
from typing import TYPE_CHECKING

from mlkube.plan import admission
from mlkube.plan.state import QUEUED, REQUEUE, JobState, QueueState

if TYPE_CHECKING:
    from mlkube.plan.simulate import Sim


def enqueue(sim: Sim, job: JobState) -> None:
    cq = job.cq
    job.state = QUEUED
    bucket = cq.buckets.get(job.key)
    item = (-job.priority, job.order, job.index, job)
    if bucket is None:
        cq.buckets[job.key] = bucket = []
    heapq.heappush(bucket, item)
    if bucket[0] is item and job.key not in cq.inadmissible:
        offer(sim, cq, job.group, item, job.key)


def offer(
    sim: Sim,
    cq: QueueState,
    group: tuple[object, ...],
    item: tuple[int, float, int, JobState],
    key: tuple[object, ...],
) -> None:
    """A bucket's head, to its group's heap and (unless the group is set aside) to
    the queue's."""
    entry = (item[0], item[1], item[2], key)
    heapq.heappush(cq.groups.setdefault(group, []), entry)
    if group not in cq.blocked:
        heapq.heappush(cq.ready, (item[0], item[1], item[2], group))
        sim.dirty.add(cq)


def group_head(
    sim: Sim, cq: QueueState, group: tuple[object, ...]
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


def release(sim: Sim, cq: QueueState) -> None:
    """Capacity came back in ``cq``'s cohort: its inadmissible jobs are retried
    ``Model.requeue_delay`` later. Kueue batches these requeues: the first release
    after a quiet spell schedules one requeue of the whole cohort a second later
    (pkg/cache/queue/inadmissible_workloads.go, ``requeueBatchPeriod``, a delaying
    workqueue that keeps the earliest time), and releases until then join it. Jobs
    that were never tried (new, or behind in the heap) may take the capacity first."""
    key = id(cq.cohort) if cq.cohort is not None else id(cq)
    if sim.model.requeue_delay <= 0:
        requeue(sim, cq)
    elif key not in sim.requeues:
        sim.requeues.add(key)
        sim.push(sim.now + sim.model.requeue_delay, REQUEUE, cq)


def requeue(sim: Sim, cq: QueueState) -> None:
    """The inadmissible jobs of ``cq``'s cohort back to their queues' heads."""
    members = cq.cohort.members if cq.cohort is not None else [cq]
    sim.requeues.discard(id(cq.cohort) if cq.cohort is not None else id(cq))
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
            top = group_head(sim, member, group)
            if top is not None:
                heapq.heappush(member.ready, (top[0], top[1], top[2], group))
        sim.dirty.add(member)


def head(sim: Sim, cq: QueueState) -> JobState | None:
    ready = cq.ready
    while ready:
        _, _, index, group = ready[0]
        top = None if group in cq.blocked else group_head(sim, cq, group)
        if top is None or top[2] != index:
            heapq.heappop(ready)  # stale
            if top is not None:
                heapq.heappush(ready, (top[0], top[1], top[2], group))
            continue
        return cq.buckets[top[3]][0][3]
    return None


def pop(sim: Sim, job: JobState) -> None:
    cq = job.cq
    bucket = cq.buckets[job.key]
    if bucket[0][3] is job:
        heapq.heappop(bucket)
    else:  # something requeued ahead of it in this cycle
        bucket.remove(next(item for item in bucket if item[3] is job))
        heapq.heapify(bucket)
    if bucket:
        offer(sim, cq, job.group, bucket[0], job.key)
    else:
        del cq.buckets[job.key]
        top = group_head(sim, cq, job.group)
        if top is not None and job.group not in cq.blocked:
            heapq.heappush(cq.ready, (top[0], top[1], top[2], job.group))


def set_aside(sim: Sim, job: JobState, gpus_fit: bool | None = None) -> bool:
    """Set aside the head ``job``, which does not fit: its group, or only its bucket when
    its GPUs alone would fit (``gpus_fit``, when already known). Returns ``gpus_fit``."""
    cq = job.cq
    if job.req[1] or job.req[2]:
        if gpus_fit is None:
            gpus_only = (job.req[0], 0.0, 0.0)
            gpus_fit = admission.assign(sim, job, gpus_only)[0] != admission.NOFIT
        if gpus_fit:
            # Only its CPU or memory does not fit: the group's next bucket may.
            cq.inadmissible.add(job.key)
            top = group_head(sim, cq, job.group)
            if top is not None and job.group not in cq.blocked:
                heapq.heappush(cq.ready, (top[0], top[1], top[2], job.group))
            return True
    cq.blocked.add(job.group)
    return False
