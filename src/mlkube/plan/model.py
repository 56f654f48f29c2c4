"""A Platform as the simulator sees it: exactly what `render.platform` renders (pools as
ResourceFlavors and nodes, ClusterQueues with nominal quota, borrowing limits, cohorts
and preemption, LocalQueues, namespace ResourceQuotas, PriorityClass values), as plain
numbers, so that the simulation never re-reads the spec. No I/O."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from fractions import Fraction

from mlkube.quantity import quantity
from mlkube.spec.models import Platform

GPU, CPU, MEMORY = 0, 1, 2  # the resources every rendered ClusterQueue covers, in order
Vector = tuple[float, float, float]
# A reclaimed spot node comes back (a replacement joins the pool) after this long.
REPLACEMENT_DELAY = 300.0
# Kueue retries the inadmissible workloads of a cohort this long after capacity is
# released there (v0.19.2 pkg/cache/queue/inadmissible_workloads.go, requeueBatchPeriod).
REQUEUE_DELAY = 1.0
# A Job whose pod the namespace ResourceQuota refused is synced again after an
# exponential back-off per Job, from 1 s doubling to 60 s, reset once all its pods are
# created (kubernetes pkg/controller/job/job_controller.go, DefaultJobApiBackOff and
# MaxJobApiBackOff, the Job queue's ItemExponentialFailureRateLimiter).
POD_BACKOFF = (1.0, 60.0)
# A rank waits this long for the others at rendezvous, then fails (PyTorch's static TCP
# rendezvous, torch/distributed/elastic/rendezvous/static_tcp_rendezvous.py,
# _default_timeout_seconds); the Job controller replaces a failed pod after its pod
# failure back-off: 10 s doubling with each pod of the Job failed since its last
# success, at most 10 min (pkg/controller/job/backoff_utils.go,
# getRemainingTimeForFailuresCount; DefaultJobPodFailureBackOff, MaxJobPodFailureBackOff).
RENDEZVOUS_TIMEOUT = 600.0
POD_FAILURE_BACKOFF = (10.0, 600.0)
# A Job fails at its 7th failed pod (the default backoffLimit, 6); the rendered JobSet
# then replaces it at once with a new Job (no back-off in JobSet), 3 times (MAX_RESTARTS):
# the job fails after 28 failed pods.
JOB_POD_FAILURES = 7
POD_FAILURES = JOB_POD_FAILURES * 4


@dataclass(frozen=True, slots=True)
class Prices:
    """Per GPU-hour."""

    on_demand: float = 0.0
    spot: float = 0.0


@dataclass(frozen=True, slots=True)
class PoolModel:
    name: str
    gpu_model: str
    nodes: int
    gpus_per_node: int  # as advertised: physical GPUs times time-slicing replicas
    physical_gpus_per_node: int  # what is paid for
    cpu_per_node: float
    memory_per_node: float
    spot: bool
    reclaim_rate: float  # reclaims per node-hour (0 on on-demand pools)
    price: float  # per GPU-hour, 0 when no prices were given


@dataclass(frozen=True, slots=True)
class FlavorQuota:
    """One flavor of a ClusterQueue: nominal quota and borrowing limit per resource
    (GPU, CPU, memory); a borrowing limit of None is unlimited (not rendered)."""

    pool: str
    nominal: Vector
    borrowing_limit: tuple[float | None, float | None, float | None]


@dataclass(frozen=True, slots=True)
class ClusterQueueModel:
    name: str
    cohort: str | None
    flavors: tuple[FlavorQuota, ...]
    within_cluster_queue: str  # "LowerPriority" or "Never"
    reclaim_within_cohort: bool  # "Any" when the queue has a cohort, as rendered


@dataclass(frozen=True, slots=True)
class NamespaceQuota:
    """`requests.nvidia.com/gpu`, and `requests.cpu` / `requests.memory` when set."""

    gpu: float
    cpu: float | None
    memory: float | None


@dataclass(frozen=True, slots=True)
class Model:
    name: str
    pools: dict[str, PoolModel]
    queues: dict[str, ClusterQueueModel]
    local_queues: dict[tuple[str, str], str]  # (namespace, LocalQueue) → ClusterQueue
    quotas: dict[str, NamespaceQuota]
    priorities: dict[str, int]
    default_priority: int  # the globalDefault PriorityClass's value, else 0
    prices_given: bool
    replacement_delay: float = REPLACEMENT_DELAY
    requeue_delay: float = REQUEUE_DELAY  # seconds of the clock the trace is in
    # first and longest back-off (seconds); (0, 0): a refused job tries again at every
    # release of quota, waiting jobs by priority then age
    pod_backoff: tuple[float, float] = POD_BACKOFF
    # a gang's pods running while the others wait fail after this long (0: never)
    rendezvous_timeout: float = RENDEZVOUS_TIMEOUT
    pod_failure_backoff: tuple[float, float] = POD_FAILURE_BACKOFF  # first, longest
    pod_failures: int = POD_FAILURES
    namespaces: frozenset[str] = field(default_factory=frozenset)


def pod_memory(memory: float) -> float:
    """The memory a rendered pod requests for a job of ``memory`` bytes per pod:
    `render.training` sets request == limit == memory plus the ``/dev/shm`` tmpfs, a
    quarter of the memory and at least 1 GiB (``shm_bytes``). The quota and the nodes
    see that sum. 0 (no memory given) stays 0."""
    return memory + max(float(2**30), memory / 4) if memory > 0 else 0.0


def _num(value: str | int | float | None) -> float:
    exact = quantity(value) if value is not None else None
    return float(exact) if exact is not None else 0.0


def build_model(
    platform: Platform,
    *,
    name: str | None = None,
    prices: Mapping[str, Prices] | None = None,
    reclaim_rate: float | None = None,
) -> Model:
    """The simulation model of ``platform``. ``prices`` (a ``--prices`` file), when
    given, replaces the pools' ``pricePerGpuHour``; ``reclaim_rate``, when given,
    applies to every spot pool instead of its ``reclaimRate``."""
    spec = platform.spec
    pools: dict[str, PoolModel] = {}
    for p in spec.pools:
        if prices:
            given = prices.get(p.name)
            price = (given.spot if p.spot else given.on_demand) if given else 0.0
        else:
            price = p.price_per_gpu_hour or 0.0
        rate = p.reclaim_rate if reclaim_rate is None else reclaim_rate
        pools[p.name] = PoolModel(
            name=p.name,
            gpu_model=p.gpu.model,
            nodes=p.nodes,
            gpus_per_node=p.gpus_advertised,
            physical_gpus_per_node=p.gpu.count,
            cpu_per_node=_num(p.cpu),
            memory_per_node=_num(p.memory),
            spot=p.spot,
            reclaim_rate=(rate or 0.0) if p.spot else 0.0,
            price=price,
        )
    queues: dict[str, ClusterQueueModel] = {}
    local: dict[tuple[str, str], str] = {}
    for q in spec.queues:
        flavors = []
        for f in q.flavors:
            pool = pools[f.pool]
            pool_gpus = pool.nodes * pool.gpus_per_node
            gpus = pool_gpus if f.gpus is None else f.gpus
            # As rendered: CPU and memory quota follow the GPU share of the pool.
            share = Fraction(gpus, pool_gpus) if pool_gpus else Fraction(0)
            cpu = float(Fraction(pool.cpu_per_node) * pool.nodes * share)
            mem = float(Fraction(pool.memory_per_node) * pool.nodes * share)
            limit = None if f.borrowing_limit is None else float(f.borrowing_limit)
            flavors.append(FlavorQuota(f.pool, (float(gpus), cpu, mem), (limit, None, None)))
        queues[q.name] = ClusterQueueModel(
            name=q.name,
            cohort=q.cohort,
            flavors=tuple(flavors),
            within_cluster_queue=q.preemption,
            reclaim_within_cohort=q.cohort is not None,
        )
        for ns in q.namespaces:
            local[(ns, q.name)] = q.name
    quotas = {
        ns.name: NamespaceQuota(
            gpu=float(ns.quota.gpu),
            cpu=_num(ns.quota.cpu) if ns.quota.cpu is not None else None,
            memory=_num(ns.quota.memory) if ns.quota.memory is not None else None,
        )
        for ns in spec.namespaces
        if ns.quota is not None
    }
    default = next((pc.value for pc in spec.priority_classes if pc.global_default), 0)
    return Model(
        name=name or platform.metadata.name,
        pools=pools,
        queues=queues,
        local_queues=local,
        quotas=quotas,
        priorities={pc.name: pc.value for pc in spec.priority_classes},
        default_priority=default,
        prices_given=bool(prices) or any(p.price_per_gpu_hour is not None for p in spec.pools),
        namespaces=frozenset(ns.name for ns in spec.namespaces),
    )
