"""The data the planner reads and writes: a trace's jobs in, the results out. Plain
data, no I/O: the readers (``plan.trace``), the simulator (``plan.simulate``) and the
reports (``plan.report``) agree through these types only."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class TraceJob:
    """One job of a trace. Times are seconds from the trace's start."""

    name: str
    submit: float
    namespace: str
    queue: str  # the LocalQueue it is submitted to
    nodes: int  # pods, admitted together (a gang)
    gpus_per_node: int
    duration: float  # seconds of work, when it runs uninterrupted
    priority: str | None  # a PriorityClass of the Platform; None: the default (0)
    pool: str | None = None  # only this pool (ResourceFlavor) may run it
    cpu: float = 0.0  # cores per pod
    memory: float = 0.0  # bytes per pod
    spot: bool = False  # may run on spot capacity
    checkpoint_interval: float | None = None  # seconds; None: a reclaim loses all work
    team: str | None = None  # for the per-team report; the namespace when None
    line: int = 0  # where in the trace file (for errors)
    gpu: str | None = None  # only pools of this GPU model may run it


@dataclass(slots=True)
class JobResult:
    name: str
    team: str
    queue: str
    submit: float
    admissions: list[float] = field(default_factory=list)  # each time Kueue admitted it
    preemptions: list[float] = field(default_factory=list)  # evicted by Kueue or reclaimed
    reclaims: list[float] = field(default_factory=list)  # the preemptions that were spot reclaims
    finished: float | None = None  # None: still queued or running at the end
    flavor: str | None = None  # the pool it last ran on
    nodes: list[str] = field(default_factory=list)  # the nodes it last ran on
    lost_gpu_hours: float = 0.0  # work done since the last checkpoint, lost to preemptions
    gpu_hours: float = 0.0  # GPU-hours it held, lost work included
    admitted_gpu_hours: float = 0.0  # GPU-hours of quota it held (admitted, running or not)
    borrowed_gpu_hours: float = 0.0  # of those, while admitted by borrowing from the cohort
    starts: list[float] = field(default_factory=list)  # each time all its pods were running

    @property
    def wait(self) -> float | None:
        """Seconds from submission to the first admission."""
        return self.admissions[0] - self.submit if self.admissions else None

    @property
    def start_wait(self) -> float | None:
        """Seconds from submission until all its pods first ran: the wait plus the time
        its pods waited for the namespace quota or for nodes."""
        return self.starts[0] - self.submit if self.starts else None


@dataclass(frozen=True, slots=True)
class WaitStats:
    p50: float | None
    p95: float | None
    max: float | None


@dataclass(frozen=True, slots=True)
class GroupResult:
    """A ClusterQueue's or a team's totals."""

    name: str
    jobs: int
    wait: WaitStats  # seconds, over the jobs that were admitted
    admitted_gpu_hours: float
    borrowed_gpu_hours: float  # over the ClusterQueue's nominal quota (from its cohort)
    preemptions: int
    start_wait: WaitStats = WaitStats(None, None, None)  # to all pods running (seconds)


@dataclass(frozen=True, slots=True)
class PoolResult:
    name: str
    gpus: int  # at the start (spot reclaims take nodes away until they are replaced)
    spot: bool
    average_utilisation: float  # 0..1, GPU-seconds used / GPU-seconds available
    idle_gpu_hours: float
    utilisation: list[tuple[float, float]]  # (time, fraction in use), a step function


@dataclass(frozen=True, slots=True)
class PoolCost:
    pool: str
    gpu_hours: float  # GPU-hours paid for (the pool's capacity over the span)
    price: float  # per GPU-hour
    cost: float
    lost_work_cost: float  # the share of cost spent on work that was lost


@dataclass(frozen=True, slots=True)
class CostResult:
    pools: list[PoolCost]
    total: float
    lost_work: float
    currency: str = "USD"
    prices_given: bool = True  # False: no prices were given, every cost is 0


@dataclass(frozen=True, slots=True)
class PlanResult:
    platform: str  # the Platform's name (or the what-if file)
    span: float  # seconds simulated: trace start to the last event
    jobs: list[JobResult]
    queues: list[GroupResult]
    teams: list[GroupResult]
    pools: list[PoolResult]
    cost: CostResult
