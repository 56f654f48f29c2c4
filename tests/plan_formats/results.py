"""Made-up PlanResults shaped like the simulator's, for the HTML report's tests (and its
screenshot) without the simulator: seeded, so each test sees the same numbers."""

from __future__ import annotations

import random

from mlkube.plan.types import (
    CostResult,
    GroupResult,
    JobResult,
    PlanResult,
    PoolCost,
    PoolResult,
    WaitStats,
)

POOLS = (("a100", 16, False, 4.1), ("a100-spot", 32, True, 1.6), ("t4", 12, False, 0.53))


def plan_result(
    platform: str = "ml-platform",
    *,
    seed: int = 1,
    teams: tuple[str, ...] = ("vision", "language", "speech"),
    jobs: int = 120,
    wait_scale: float = 1800.0,
    span: float = 3 * 86400.0,
) -> PlanResult:
    rng = random.Random(seed)
    results = []
    for i in range(jobs):
        team = teams[i % len(teams)]
        submit = rng.uniform(0, span * 0.8)
        admitted = rng.random() > 0.04
        wait = rng.expovariate(1 / (wait_scale * (1 + teams.index(team))))
        run = rng.paretovariate(1.3) * 600
        result = JobResult(name=f"job-{i}", team=team, queue="training", submit=submit)
        if admitted:
            result.admissions.append(submit + wait)
            result.finished = submit + wait + run
            result.gpu_hours = run / 3600 * 8
            if rng.random() < 0.1:
                result.preemptions.append(submit + wait + run / 2)
                result.lost_gpu_hours = run / 7200
        results.append(result)
    pools = []
    costs = []
    for name, gpus, spot, price in POOLS:
        level, points = 0.5, []
        for k in range(200):
            level = min(1.0, max(0.0, level + rng.uniform(-0.12, 0.12)))
            points.append((span * k / 200, round(level * gpus) / gpus))
        average = sum(v for _, v in points) / len(points)
        hours = gpus * span / 3600
        pools.append(PoolResult(name, gpus, spot, average, hours * (1 - average), points))
        cost = hours * price
        costs.append(PoolCost(name, hours, price, cost, cost * (0.08 if spot else 0.01)))
    groups = [
        GroupResult(t, jobs // len(teams), WaitStats(60.0, 3600.0, 7200.0), 100.0, 10.0 * k, k)
        for k, t in enumerate(teams)
    ]
    return PlanResult(
        platform=platform,
        span=span,
        jobs=results,
        queues=[GroupResult("training", jobs, WaitStats(60.0, 3600.0, 7200.0), 300.0, 0.0, 4)],
        teams=groups,
        pools=pools,
        cost=CostResult(costs, sum(c.cost for c in costs), sum(c.lost_work_cost for c in costs)),
    )
