"""Spot reclaims: each spot node is reclaimed after a seeded exponential time (the
pool's rate per node-hour), its jobs evicted and requeued; the node comes back after
``Model.replacement_delay`` and its own clock starts again."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from mlkube.plan.model import Model
from mlkube.plan.state import RECLAIM, RETURN, PoolState

if TYPE_CHECKING:
    from mlkube.plan.simulate import Sim


@dataclass(frozen=True, slots=True)
class Reclaim:
    """An injected spot reclaim (for exact tests): ``pool``'s node ``node`` at ``time``."""

    time: float
    pool: str
    node: int


def reclaim(sim: Sim, pool: PoolState, node: int) -> None:
    if not pool.alive[node]:
        return
    for index in sorted(pool.jobs[node]):
        sim.evict(sim.jobs[index], reclaimed=True)
    pool.alive[node] = False
    pool.usage.change(sim.now, alive=-pool.model.gpus_per_node)
    sim.push(sim.now + sim.model.replacement_delay, RETURN, (pool, node))


def node_back(sim: Sim, pool: PoolState, node: int) -> None:
    pool.alive[node] = True
    pool.free_gpu[node] = pool.model.gpus_per_node
    pool.free_cpu[node] = pool.model.cpu_per_node
    pool.free_mem[node] = pool.model.memory_per_node
    pool.usage.change(sim.now, alive=pool.model.gpus_per_node)
    sim.waiting_dirty = True
    next_reclaim(sim, pool, node)


def next_reclaim(sim: Sim, pool: PoolState, node: int) -> None:
    rate = pool.model.reclaim_rate
    if rate > 0 and sim.random_reclaims:
        sim.push(sim.now + sim.rng.expovariate(rate / 3600), RECLAIM, (pool, node))


def with_rate(model: Model, rate: float) -> Model:
    pools = {n: replace(p, reclaim_rate=rate if p.spot else 0.0) for n, p in model.pools.items()}
    return replace(model, pools=pools)
