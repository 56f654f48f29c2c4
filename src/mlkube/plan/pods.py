"""An admitted job's pods, as the Job controller and kube-scheduler make them.

The Job controller creates the pods one by one, and the namespace's ResourceQuota lets
each in or refuses it on its own: the pods created so far hold their quota, and a Job
that was refused is synced again after its back-off (``Model.pod_backoff``, Kubernetes'
1 s doubling to 60 s; only the first sync after quota came back is an event).
kube-scheduler places each created pod on its own, on a live node of the flavor's pool
with enough free GPUs, CPU and memory (the node with most free GPUs first, as
LeastAllocated spreads), and the pod holds that node. The job runs when all its pods
are placed: a gang's ranks wait for each other at rendezvous, so the work starts with
the last one and all of them end together; the ranks that waited
``Model.rendezvous_timeout`` fail, and their pods are made again. Its work since the
last checkpoint is lost when they stop before it is done."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from mlkube.plan.model import JOB_POD_FAILURES, Model
from mlkube.plan.state import ADMITTED, FINISH, RENDEZVOUS, RETRY, RUNNING, JobState

if TYPE_CHECKING:
    from mlkube.plan.simulate import Sim


def start(sim: Sim, job: JobState) -> bool:
    """A job just admitted (its Job unsuspended, synced at once): True if it runs."""
    create(sim, job)
    return place(sim, job)


def create(sim: Sim, job: JobState) -> bool:
    """One sync of the job's Job: create the missing pods while the ResourceQuota lets
    them in; when it refuses one, the next sync is after the back-off. True when all
    of the job's pods exist."""
    trace = job.trace
    n = trace.nodes
    quota = sim.model.quotas.get(trace.namespace)
    if quota is None:
        job.created = n
    elif job.created < n:
        used = sim.ns_used[trace.namespace]
        pod = (float(trace.gpus_per_node), trace.cpu, job.mem)
        limits = (quota.gpu, quota.cpu, quota.memory)
        while job.created < n:
            for r in range(3):
                limit = limits[r]
                if limit is not None and pod[r] > 0 and used[r] + pod[r] > limit + 1e-9:
                    break  # the ResourceQuota admission plugin refuses the pod
            else:
                for r in range(3):
                    used[r] += pod[r]
                job.created += 1
                continue
            break
    if job.created == n:
        job.failures = 0
        sim.refused.get(trace.namespace, {}).pop(job, None)
        return True
    if sim.model.pod_backoff[0] > 0:
        job.sync_at = sim.now + _backoff(sim, job)
        sim.refused.setdefault(trace.namespace, {})[job] = None
    return False


def _backoff(sim: Sim, job: JobState) -> float:
    """The Job queue's ItemExponentialFailureRateLimiter: base × 2^failures, capped;
    one more failure counted."""
    base, longest = sim.model.pod_backoff
    delay = min(base * 2.0 ** min(job.failures, 32), longest)
    job.failures += 1
    return delay


def released(sim: Sim, namespace: str) -> None:
    """Quota back in ``namespace``: each Job it refused tries again at its next sync
    (its syncs before then would have been refused too, each a failure more). A sync
    with no release since the last refusal would be refused again: it is not an event."""
    for job in sim.refused.get(namespace, ()):
        if job.retry_at is not None:
            continue  # a sync is due already
        while job.sync_at < sim.now:
            job.sync_at += _backoff(sim, job)
        job.retry_at = job.sync_at
        job.retries += 1
        sim.push(job.sync_at, RETRY, job, job.retries)


def place(sim: Sim, job: JobState) -> bool:
    """kube-scheduler binds each created pod that finds a node; the job runs once all
    of its pods are bound. True if it runs."""
    trace = job.trace
    assert job.flavor is not None
    pool = sim.pools[job.flavor.pool]
    gpu, cpu, mem = trace.gpus_per_node, trace.cpu, job.mem
    free_gpu, free_cpu, free_mem, alive = pool.free_gpu, pool.free_cpu, pool.free_mem, pool.alive
    while len(job.pods) < job.created:
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
            break
        free_gpu[best] -= gpu
        free_cpu[best] -= cpu
        free_mem[best] -= mem
        job.pods.append((pool, best))
        pool.jobs[best].add(job.index)
        pool.usage.change(sim.now, used=gpu)
        if len(job.pods) == 1 and trace.nodes > 1 and sim.model.rendezvous_timeout > 0:
            # the first rank runs and waits for the others
            sim.push(sim.now + sim.model.rendezvous_timeout, RENDEZVOUS, job, job.epoch)
    if len(job.pods) < trace.nodes:
        return False
    job.state = RUNNING
    job.run_start = sim.now
    job.result.starts.append(sim.now)
    job.epoch += 1
    job.result.nodes = [f"{pool.name}-{n}" for _, n in job.pods]
    sim.running += 1
    sim.push(sim.now + (trace.duration - job.done), FINISH, job, job.epoch)
    return True


def stop(sim: Sim, job: JobState, *, finished: bool) -> None:
    """Pods gone (the job ended, or was evicted running or not): nodes and namespace
    quota back; work accounted. Also for a job none of whose pods the quota let in: its
    Job's sync still due is for a Job now suspended (the suspended sync succeeds and
    resets its back-off), so it must not stand for the next admission's."""
    trace = job.trace
    if job.state == RUNNING:
        ran = sim.now - job.run_start
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
            pool_name = job.pods[0][0].name
            sim.lost[pool_name] = sim.lost.get(pool_name, 0.0) + lost
        sim.running -= 1
    for pool, n in job.pods:
        pool.free_gpu[n] += trace.gpus_per_node
        pool.free_cpu[n] += trace.cpu
        pool.free_mem[n] += job.mem
        pool.jobs[n].discard(job.index)
        pool.usage.change(sim.now, used=-trace.gpus_per_node)
    job.pods = []
    sim.refused.get(trace.namespace, {}).pop(job, None)
    job.failures = 0
    job.retry_at = None
    job.retries += 1  # a sync still due is for pods that no longer exist
    if trace.namespace in sim.ns_used and job.created:
        used = sim.ns_used[trace.namespace]
        pod = (float(trace.gpus_per_node), trace.cpu, job.mem)
        for r in range(3):
            used[r] -= job.created * pod[r]
        released(sim, trace.namespace)
    job.created = 0
    job.epoch += 1
    job.state = ADMITTED
    sim.waiting_dirty = True


def retry(sim: Sim, job: JobState, retries: int) -> None:
    """The job's back-off ended: its Job is synced again; placing is for
    ``retry_waiting``."""
    if job.retries == retries and job.state == ADMITTED:
        job.retry_at = None
        create(sim, job)
        sim.waiting_dirty = True


def rendezvous_timeout(sim: Sim, job: JobState, epoch: int) -> None:
    """A gang still not all running when its first rank's rendezvous times out: its
    pods fail, their quota and nodes come back, and the Job controller creates them
    again after its pod failure back-off; after ``Model.pod_failures`` failed pods the
    job fails (the Job's backoffLimit and the JobSet's restarts spent, counted together).
    """
    if job.epoch != epoch or job.state != ADMITTED:
        return
    before = job.failed_pods
    job.failed_pods += len(job.pods)
    if job.failed_pods >= sim.model.pod_failures:
        sim.fail(job)  # the Job's backoffLimit and the JobSet's restarts are spent
        return
    stop(sim, job, finished=False)
    job.sync_at = sim.now + failure_backoff(sim.model, before, job.failed_pods)
    job.retry_at = job.sync_at
    job.retries += 1
    sim.push(job.sync_at, RETRY, job, job.retries)


def failure_backoff(model: Model, before: int, after: int) -> float:
    """How long the Job controller waits to replace failed pods, ``after`` of the job's
    pods having failed (``before`` until now): 10 s doubling per failed pod of its Job,
    capped; none when the Job reached its backoffLimit and the JobSet made a new one."""
    if after // JOB_POD_FAILURES > before // JOB_POD_FAILURES:
        return 0.0
    first, longest = model.pod_failure_backoff
    return min(first * 2.0 ** (after % JOB_POD_FAILURES - 1), longest)


def retry_waiting(sim: Sim) -> None:
    """Admitted jobs whose pods are not all running, by pod priority and age: the
    scheduler tries their pods that exist (and, without a back-off, the Job controller
    creates the missing ones); a request that failed is not tried again behind itself."""
    if not sim.waiting_dirty or not sim.waiting:
        sim.waiting_dirty = False
        return
    sim.waiting_dirty = False
    eager = sim.model.pod_backoff[0] <= 0
    failed: set[tuple[object, ...]] = set()
    still: list[JobState] = []
    # kube-scheduler's queue: higher pod priority first, then the older pods.
    order = sorted(sim.waiting, key=lambda j: (-j.priority, j.admit_time, j.index))
    for job in order:
        assert job.flavor is not None
        key = (job.trace.namespace, job.flavor.pool, job.key)
        if key in failed:
            still.append(job)
            continue
        if eager:
            create(sim, job)
        if place(sim, job):
            continue
        if len(job.pods) < job.created or (eager and job.created < job.trace.nodes):
            failed.add(key)  # no node (or, eager, no quota) for one more of its pods
        still.append(job)
    still.sort(key=lambda j: (j.admit_time, j.index))
    sim.waiting = still
