"""The simulation's mutable state: pools and their nodes, ClusterQueues and cohorts with
their usage, and each job as it goes through queue, admission and pods. Plain holders;
what changes them is in ``admission``, ``queues``, ``pods``, ``spot`` and ``simulate``."""

from __future__ import annotations

from mlkube.plan.model import ClusterQueueModel, PoolModel, pod_memory
from mlkube.plan.types import JobResult, TraceJob

# Event kinds, in the order events of the same instant are handled.
SUBMIT, FINISH, RECLAIM, RETURN, REQUEUE, RETRY, RENDEZVOUS = 0, 1, 2, 3, 4, 5, 6
# A job's state.
QUEUED, ADMITTED, RUNNING, DONE = 0, 1, 2, 3


class PoolState:
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
        self.usage = PoolUsage(model.nodes * model.gpus_per_node)


class PoolUsage:
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


class FlavorState:
    __slots__ = ("admitted", "index", "last", "limit", "nominal", "pool", "potential", "usage")

    def __init__(self, pool: str, nominal: tuple[float, float, float], limit: float | None) -> None:
        self.pool = pool
        self.nominal = nominal
        self.limit = limit  # GPU borrowing limit; CPU and memory have none rendered
        self.usage = [0.0, 0.0, 0.0]
        self.admitted: set[JobState] = set()
        self.index = 0
        # the most its queue could ever hold of it (``admission.potential``), once the
        # cohort is known
        self.potential = (0.0, 0.0, 0.0)


class CohortState:
    __slots__ = ("members", "nominal", "usage")

    def __init__(self) -> None:
        self.members: list[QueueState] = []
        self.nominal: dict[str, list[float]] = {}
        self.usage: dict[str, list[float]] = {}


class QueueState:
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
        "nofit",
        "preemptions",
        "ready",
    )

    def __init__(self, model: ClusterQueueModel) -> None:
        self.model = model
        self.name = model.name
        self.flavors = [FlavorState(f.pool, f.nominal, f.borrowing_limit[0]) for f in model.flavors]
        for i, f in enumerate(self.flavors):
            f.index = i
        self.cohort: CohortState | None = None
        # Pending jobs, one heap per identical request: (−priority, order, seq, job).
        self.buckets: dict[tuple[object, ...], list[tuple[int, float, int, JobState]]] = {}
        self.inadmissible: set[tuple[object, ...]] = set()  # buckets set aside
        self.groups: dict[tuple[object, ...], list[tuple[int, float, int, tuple[object, ...]]]] = {}
        self.blocked: set[tuple[object, ...]] = set()  # groups set aside
        # per bucket that last did not fit: its pools' versions then, and whether its
        # GPUs alone would have (``queues.set_aside``)
        self.nofit: dict[tuple[object, ...], tuple[tuple[int, ...], bool]] = {}
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


class JobState:
    __slots__ = (
        "admit_time",
        "borrows",
        "cq",
        "created",
        "done",
        "epoch",
        "failed_pods",
        "failures",
        "flavor",
        "flavor_pools",
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
        "retries",
        "retry_at",
        "run_start",
        "state",
        "sync_at",
        "trace",
    )

    def __init__(
        self, index: int, trace: TraceJob, cq: QueueState, priority: int, pools: frozenset[str]
    ):
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
        self.flavor: FlavorState | None = None
        self.flavor_pools: tuple[str, ...] = ()  # its pools, in its queue's flavor order
        self.borrows = False
        self.admit_time = 0.0
        self.run_start = 0.0
        self.done = 0.0  # seconds of work checkpointed (kept across preemptions)
        self.epoch = 0
        self.pods: list[tuple[PoolState, int]] = []  # its pods placed on nodes
        self.created = 0  # its pods created (the namespace quota let them in)
        self.failures = 0  # Job syncs refused by the quota since the last that was not
        self.failed_pods = 0  # its pods that failed at rendezvous
        self.retries = 0  # RETRY events scheduled: only the latest one counts
        self.sync_at = 0.0  # when its Job is next synced, after a refused pod
        self.retry_at: float | None = None  # that sync, when it is an event
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

    def __lt__(self, other: JobState) -> bool:
        return self.index < other.index
