"""Synthetic traces for a Platform, for planning before there is a real trace and for
benchmarks of any size. Seeded: the same (n, seed, Platform) gives the same trace.

The shape follows what the public GPU traces show (Philly, Alibaba): most jobs are
small and short, a few are big and long. Durations are Pareto (shape 1.3, 5 minutes
and up, capped at 3 days); GPUs per pod 1, 2, 4 or a whole node, mostly 1; a tenth of
jobs span several nodes. Arrivals are Poisson, at the rate that offers about 90 % of the
GPUs the queues (and the namespaces' quotas) allow, so queues form but drain.
"""

from __future__ import annotations

import csv
import random
from collections.abc import Iterable
from dataclasses import replace

from mlkube.errors import UsageError
from mlkube.plan.types import TraceJob
from mlkube.quantity import parse_quantity
from mlkube.spec.models import Platform, Pool, Queue, QueueFlavor, Quota

COLUMNS = (
    "name", "submit", "namespace", "queue", "nodes", "gpus_per_node", "duration", "priority",
    "pool", "cpu", "memory", "spot", "checkpoint_interval", "team",
)  # fmt: skip
TEAMS = ("vision", "language", "speech", "recsys")
MIN_DURATION = 300.0
MAX_DURATION = 3 * 86400.0
PARETO_SHAPE = 1.3
LOAD = 0.9  # offered GPU-seconds / available GPU-seconds over the trace's span
CHECKPOINT_INTERVAL = 900.0  # the TrainingJob default (15 minutes)


def generate(n: int, seed: int, platform: Platform) -> list[TraceJob]:
    """``n`` jobs over ``platform``'s queues, sorted by submit time."""
    if n < 0:
        raise UsageError(f"a trace needs n >= 0 jobs, not {n}")
    pools = {p.name: p for p in platform.spec.pools}
    choices = [
        (q, f.pool, reach)
        for q in platform.spec.queues
        for f in q.flavors
        if _usable(pools, f.pool) and (reach := _reach(platform, q, f, pools[f.pool])) > 0
    ]
    if not choices:
        raise UsageError(f"Platform {platform.metadata.name} has no queue with a GPU pool")
    priorities = [None, *(p.name for p in platform.spec.priority_classes)]
    quota = {ns.name: ns.quota for ns in platform.spec.namespaces if ns.quota}
    rng = random.Random(seed)
    jobs = [
        _job(rng, i, choices=choices, pools=pools, priorities=priorities, quota=quota)
        for i in range(n)
    ]
    capacity = sum(pools[name].gpu.count * pools[name].nodes for name in {p for _, p, _ in choices})
    used = {ns for q, _, _ in choices for ns in q.namespaces}
    if all(ns in quota for ns in used):  # ResourceQuotas cap what the queues can use
        capacity = min(capacity, sum(quota[ns].gpu for ns in used))
    work = sum(j.nodes * j.gpus_per_node * j.duration for j in jobs)
    mean_gap = work / (LOAD * capacity) / n if n else 0.0
    now = 0.0
    out = []
    for job in jobs:
        out.append(replace(job, submit=round(now, 3)))
        now += rng.expovariate(1 / mean_gap) if mean_gap > 0 else 0.0
    return out


def write_csv(jobs: Iterable[TraceJob], path: str) -> None:
    """``jobs`` in the trace CSV of docs/plan.md (empty cells for unset optional fields)."""
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(COLUMNS)
        for j in jobs:
            writer.writerow(
                [
                    j.name, _num(j.submit), j.namespace, j.queue, j.nodes, j.gpus_per_node,
                    _num(j.duration), j.priority or "", j.pool or "", _num(j.cpu), _num(j.memory),
                    "true" if j.spot else "false",
                    "" if j.checkpoint_interval is None else _num(j.checkpoint_interval),
                    j.team or "",
                ]
            )  # fmt: skip


def _reach(platform: Platform, queue: Queue, flavor: QueueFlavor, pool: Pool) -> int:
    """The most GPUs of ``pool`` that ``queue`` can ever be admitted with: its nominal
    quota and what it may borrow from its cohort (Kueue never admits a bigger job)."""
    total = pool.gpu.count * pool.nodes
    nominal = total if flavor.gpus is None else flavor.gpus
    if queue.cohort is None:
        return min(nominal, total)
    lendable = sum(
        total if f.gpus is None else f.gpus
        for q in platform.spec.queues
        if q.cohort == queue.cohort and q.name != queue.name
        for f in q.flavors
        if f.pool == flavor.pool
    )
    borrow = lendable if flavor.borrowing_limit is None else min(flavor.borrowing_limit, lendable)
    return min(nominal + borrow, total)


def _usable(pools: dict[str, Pool], name: str) -> bool:
    pool = pools.get(name)
    return pool is not None and pool.nodes > 0


def _job(
    rng: random.Random,
    i: int,
    *,
    choices: list[tuple[Queue, str, int]],
    pools: dict[str, Pool],
    priorities: list[str | None],
    quota: dict[str, Quota],
) -> TraceJob:
    queue, pool_name, reach = rng.choice(choices)
    pool = pools[pool_name]
    namespace = rng.choice(queue.namespaces)
    per_node = pool.gpu.count
    sizes = [g for g in (1, 2, 4) if g < per_node] + [per_node]
    gpus = rng.choices(sizes, weights=[8, 3, 2, 2][: len(sizes)])[0]  # mostly one GPU
    nodes = 1
    if gpus == per_node and pool.nodes > 1 and rng.random() < 0.4:
        nodes = rng.randint(2, pool.nodes)
    ns_quota = quota.get(namespace)
    limit = min(reach, ns_quota.gpu) if ns_quota else reach
    while nodes * gpus > limit and (nodes > 1 or gpus > 1):
        nodes, gpus = (nodes - 1, gpus) if nodes > 1 else (1, max(1, gpus // 2))
    duration = min(MAX_DURATION, MIN_DURATION * rng.paretovariate(PARETO_SHAPE))
    # per GPU: half the node's share, and no more than the namespace quota allows
    ns_gpus = ns_quota.gpu if ns_quota else None
    cpu = _share(pool.cpu, per_node, ns_quota.cpu if ns_quota else None, ns_gpus)
    memory = _job_memory(
        _share(pool.memory, per_node, ns_quota.memory if ns_quota else None, ns_gpus) * gpus
    )
    spot = pool.capacity == "spot"
    return TraceJob(
        name=f"job-{i:06d}",
        submit=0.0,
        namespace=namespace,
        queue=queue.name,
        nodes=nodes,
        gpus_per_node=gpus,
        duration=round(duration, 1),
        priority=rng.choice(priorities),
        pool=pool_name,
        cpu=round(cpu * gpus, 3),
        memory=float(int(memory)),
        spot=spot,
        checkpoint_interval=CHECKPOINT_INTERVAL if spot or rng.random() < 0.5 else None,
        team=rng.choice(TEAMS),
    )


def _share(
    node: str | float, gpus: int, quota: str | float | None, quota_gpus: int | None
) -> float:
    """Of ``node`` (a Quantity), what one GPU's pod asks for."""
    share = (parse_quantity(node) or 0.0) / gpus / 2
    if quota is not None and quota_gpus:
        share = min(share, (parse_quantity(quota) or 0.0) / quota_gpus)
    return share


def _job_memory(request: float) -> float:
    """The job memory whose rendered pod request (``model.pod_memory``: memory plus
    ``/dev/shm``) is ``request``, so that the pods fit the share they were given."""
    return request / 1.25 if request / 1.25 >= 4 * 2**30 else max(0.0, request - 2**30)


def _num(value: float) -> str:
    return str(int(value)) if value == int(value) else repr(value)
