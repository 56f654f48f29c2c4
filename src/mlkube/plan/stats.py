"""Totals over a simulation's jobs, queues and pools: wait percentiles, GPU-hours,
utilisation integrals and cost. Pure arithmetic on what the simulator recorded."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

from mlkube.plan.model import Model
from mlkube.plan.types import (
    CostResult,
    GroupResult,
    JobResult,
    PoolCost,
    PoolResult,
    WaitStats,
)


def percentile(sorted_values: Sequence[float], q: float) -> float | None:
    """The nearest-rank percentile (``q`` in 0..100): a value that occurred."""
    if not sorted_values:
        return None
    rank = max(1, math.ceil(q / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


def wait_stats(jobs: Iterable[JobResult], *, start: bool = False) -> WaitStats:
    """Over the jobs admitted (``start``: that ran)."""
    waits = sorted(w for j in jobs if (w := (j.start_wait if start else j.wait)) is not None)
    return WaitStats(percentile(waits, 50), percentile(waits, 95), waits[-1] if waits else None)


def group(
    name: str,
    jobs: list[JobResult],
    admitted_gpu_hours: float | None = None,
    borrowed_gpu_hours: float | None = None,
) -> GroupResult:
    return GroupResult(
        name=name,
        jobs=len(jobs),
        wait=wait_stats(jobs),
        admitted_gpu_hours=(
            sum(j.admitted_gpu_hours for j in jobs)
            if admitted_gpu_hours is None
            else admitted_gpu_hours
        ),
        borrowed_gpu_hours=(
            sum(j.borrowed_gpu_hours for j in jobs)
            if borrowed_gpu_hours is None
            else borrowed_gpu_hours
        ),
        preemptions=sum(len(j.preemptions) for j in jobs),
        start_wait=wait_stats(jobs, start=True),
    )


def pool_result(
    name: str, gpus: int, spot: bool, points: Sequence[tuple[float, float, float]], span: float
) -> tuple[PoolResult, float]:
    """From (time, GPUs used, GPUs alive) change points: the result, and the alive
    GPU-seconds (what is paid for) over [0, span]."""
    used_s = alive_s = 0.0
    steps: list[tuple[float, float]] = []
    for i, (t, used, alive) in enumerate(points):
        if t > span:
            break
        end = points[i + 1][0] if i + 1 < len(points) else span
        end = min(end, span)
        used_s += used * (end - t)
        alive_s += alive * (end - t)
        frac = used / gpus if gpus else 0.0
        if steps and steps[-1][0] == t:
            steps[-1] = (t, frac)
        elif not steps or steps[-1][1] != frac:
            steps.append((t, frac))
    result = PoolResult(
        name=name,
        gpus=gpus,
        spot=spot,
        average_utilisation=used_s / alive_s if alive_s > 0 else 0.0,
        idle_gpu_hours=(alive_s - used_s) / 3600,
        utilisation=steps,
    )
    return result, alive_s


def cost(
    model: Model, alive_seconds: dict[str, float], lost_gpu_hours: dict[str, float]
) -> CostResult:
    """Paid GPU-hours are physical GPUs alive over the span (a time-sliced pool pays for
    its physical GPUs); lost work is priced at the same rate."""
    pools = []
    for name, pool in model.pools.items():
        physical = pool.physical_gpus_per_node / pool.gpus_per_node if pool.gpus_per_node else 0.0
        paid = alive_seconds.get(name, 0.0) * physical / 3600
        lost = lost_gpu_hours.get(name, 0.0) * physical
        pools.append(
            PoolCost(
                pool=name,
                gpu_hours=paid,
                price=pool.price,
                cost=paid * pool.price,
                lost_work_cost=lost * pool.price,
            )
        )
    return CostResult(
        pools=pools,
        total=sum(p.cost for p in pools),
        lost_work=sum(p.lost_work_cost for p in pools),
        prices_given=model.prices_given,
    )
