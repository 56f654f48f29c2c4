"""An admitted job's pods: created when the namespace's ResourceQuota has room for all
of them, placed each on a live node of the flavor's pool with enough free GPUs, CPU and
memory (the node with most free GPUs first, as LeastAllocated spreads); the job runs
when all its pods are placed, and its work since the last checkpoint is lost when they
stop before it is done."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from mlkube.plan.state import ADMITTED, FINISH, RUNNING, JobState

if TYPE_CHECKING:
    from mlkube.plan.simulate import Sim


def start(sim: Sim, job: JobState) -> bool:
    """Create and place all of an admitted job's pods, or none."""
    trace = job.trace
    quota = sim.model.quotas.get(trace.namespace)
    if quota is not None:
        used = sim.ns_used[trace.namespace]
        limits = (quota.gpu, quota.cpu, quota.memory)
        for r in range(3):
            limit = limits[r]
            if limit is not None and job.req[r] > 0 and used[r] + job.req[r] > limit + 1e-9:
                return False  # the ResourceQuota admission plugin refuses the pods
    assert job.flavor is not None
    pool = sim.pools[job.flavor.pool]
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
        used = sim.ns_used[trace.namespace]
        for r in range(3):
            used[r] += job.req[r]
    job.pods = [(pool, n) for n in placed]
    for n in placed:
        pool.jobs[n].add(job.index)
    pool.usage.change(sim.now, used=job.req[0])
    job.state = RUNNING
    job.run_start = sim.now
    job.result.starts.append(sim.now)
    job.epoch += 1
    job.result.nodes = [f"{pool.name}-{n}" for n in placed]
    sim.running += 1
    sim.push(sim.now + (trace.duration - job.done), FINISH, job, job.epoch)
    return True


def stop(sim: Sim, job: JobState, *, finished: bool) -> None:
    """Pods gone: nodes and namespace quota back; work accounted."""
    if job.state != RUNNING:
        return
    trace = job.trace
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
        sim.lost[job.pods[0][0].name] = sim.lost.get(job.pods[0][0].name, 0.0) + lost
    pool = job.pods[0][0]
    for _, n in job.pods:
        pool.free_gpu[n] += trace.gpus_per_node
        pool.free_cpu[n] += trace.cpu
        pool.free_mem[n] += job.mem
        pool.jobs[n].discard(job.index)
    pool.usage.change(sim.now, used=-gpus)
    job.pods = []
    if trace.namespace in sim.ns_used:
        used = sim.ns_used[trace.namespace]
        for r in range(3):
            used[r] -= job.req[r]
    job.epoch += 1
    job.state = ADMITTED
    sim.running -= 1
    sim.waiting_dirty = True


def retry_waiting(sim: Sim) -> None:
    """Admitted jobs whose pods were refused or found no node, by pod priority and
    age; a request that failed is not tried again behind itself."""
    if not sim.waiting_dirty or not sim.waiting:
        sim.waiting_dirty = False
        return
    sim.waiting_dirty = False
    failed: set[tuple[object, ...]] = set()
    still: list[JobState] = []
    # kube-scheduler's queue: higher pod priority first, then the older pods.
    order = sorted(sim.waiting, key=lambda j: (-j.priority, j.admit_time, j.index))
    for job in order:
        assert job.flavor is not None
        key = (job.trace.namespace, job.flavor.pool, job.key)
        if key in failed or not start(sim, job):
            failed.add(key)
            still.append(job)
    still.sort(key=lambda j: (j.admit_time, j.index))
    sim.waiting = still
