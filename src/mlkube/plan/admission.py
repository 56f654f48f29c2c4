"""What Kueue's flavor assigner and classical preemptor decide for one job (v0.19.2,
pkg/scheduler/flavorassigner, pkg/scheduler/preemption/classical, pkg/cache/scheduler):

- flavors are tried in order; the first where the job fits (borrowing or not) is taken
  (`whenCanBorrow: MayStopSearch`), else the first where preemption would make room
  (`whenCanPreempt: TryNextFlavor`);
- available quota is min(nominal + borrowingLimit - usage, cohort nominal - cohort
  usage): with no lendingLimit rendered, all unused nominal quota is lendable;
- preemption is looked for only where the job's request is within its ClusterQueue's
  nominal quota (a job that must borrow waits);
- preemption: candidates in other ClusterQueues of the cohort that are over their
  nominal quota (`reclaimWithinCohort: Any`), and lower-priority jobs of the same
  ClusterQueue (`withinClusterQueue: LowerPriority`); ordered other queue first, lower
  priority, most recently admitted; removed until the job fits, then added back in
  reverse when not needed (``targets``: when reclaiming is allowed).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from mlkube.plan.state import FlavorState, JobState, QueueState

if TYPE_CHECKING:
    from mlkube.plan.simulate import Sim

INF = math.inf
EPS = 1e-9  # quantities are compared with this slack
FIT, PREEMPT, NOFIT = 0, 1, 2  # best first


def charge(
    sim: Sim, cq: QueueState, flavor: FlavorState, req: tuple[float, float, float], sign: float
) -> None:
    cq.gpu_integral(sim.now)
    for r in range(3):
        flavor.usage[r] += sign * req[r]
    if cq.cohort is not None:
        usage = cq.cohort.usage[flavor.pool]
        for r in range(3):
            usage[r] += sign * req[r]


def available(sim: Sim, cq: QueueState, flavor: FlavorState, r: int, borrow: bool) -> float:
    used = flavor.usage[r]
    nominal = flavor.nominal[r]
    if cq.cohort is None:
        return nominal - used
    cap = INF
    if not borrow:
        cap = nominal - used
    elif r == 0 and flavor.limit is not None:
        cap = nominal + flavor.limit - used
    cohort_free = cq.cohort.nominal[flavor.pool][r] - cq.cohort.usage[flavor.pool][r]
    return min(cap, cohort_free)


def fits(
    sim: Sim, cq: QueueState, flavor: FlavorState, req: tuple[float, float, float], borrow: bool
) -> bool:
    return all(
        req[r] <= available(sim, cq, flavor, r, borrow) + 1e-9 for r in range(3) if req[r] > 0
    )


def potential(sim: Sim, cq: QueueState, flavor: FlavorState, r: int) -> float:
    nominal = flavor.nominal[r]
    if cq.cohort is None:
        return nominal
    total = cq.cohort.nominal[flavor.pool][r]
    if r == 0 and flavor.limit is not None:
        return min(nominal + flavor.limit, total)
    return total


def room(cq: QueueState, flavor: FlavorState) -> tuple[float, float, float]:
    """``available(…, borrow=True)`` of GPU, CPU and memory at once (the hot path)."""
    usage = flavor.usage
    nominal = flavor.nominal
    cohort = cq.cohort
    if cohort is None:
        return (nominal[0] - usage[0], nominal[1] - usage[1], nominal[2] - usage[2])
    total = cohort.nominal[flavor.pool]
    used = cohort.usage[flavor.pool]
    gpus = total[0] - used[0]
    if flavor.limit is not None:
        gpus = min(nominal[0] + flavor.limit - usage[0], gpus)
    return (gpus, total[1] - used[1], total[2] - used[2])


def assign(
    sim: Sim, job: JobState, req: tuple[float, float, float] | None = None
) -> tuple[int, FlavorState | None, bool, list[JobState]]:
    """(mode, flavor, borrows, preemption targets), as the flavor assigner decides
    (for ``req`` instead of the job's request, when given)."""
    cq = job.cq
    req = job.req if req is None else req
    r0, r1, r2 = req
    best: tuple[int, FlavorState | None, bool, list[JobState]] = (NOFIT, None, False, [])
    for flavor in cq.flavors:
        if flavor.pool not in job.pools:
            continue
        a0, a1, a2 = room(cq, flavor)
        nominal = flavor.nominal
        if (
            (r0 <= 0 or r0 <= a0 + EPS)
            and (r1 <= 0 or r1 <= a1 + EPS)
            and (r2 <= 0 or r2 <= a2 + EPS)
        ):
            usage = flavor.usage
            borrows = (
                (r0 > 0 and usage[0] + r0 > nominal[0] + EPS)
                or (r1 > 0 and usage[1] + r1 > nominal[1] + EPS)
                or (r2 > 0 and usage[2] + r2 > nominal[2] + EPS)
            )
            return FIT, flavor, borrows, []
        if best[0] == PREEMPT:
            continue
        most = flavor.potential
        if not (r0 <= most[0] + EPS and r1 <= most[1] + EPS and r2 <= most[2] + EPS):
            continue
        # Kueue (flavorassigner.fitsResourceQuota) looks for preemptions on a resource
        # that does not fit only when the job's request of it is within its queue's
        # nominal quota: with no `borrowWithinCohort` (mlkube renders none) and a flat
        # cohort, a job that would have to borrow waits, even for lower-priority jobs
        # of its own queue. Found by bench/plan_fidelity.py against the real Kueue.
        if (
            (r0 > 0 and r0 > a0 + EPS and r0 > nominal[0] + EPS)
            or (r1 > 0 and r1 > a1 + EPS and r1 > nominal[1] + EPS)
            or (r2 > 0 and r2 > a2 + EPS and r2 > nominal[2] + EPS)
        ):
            continue
        victims = targets(sim, job, flavor, req)
        if victims:
            best = (PREEMPT, flavor, False, victims)
    return best


def targets(
    sim: Sim, job: JobState, flavor: FlavorState, req: tuple[float, float, float]
) -> list[JobState]:
    """Kueue's classical preemption (preemption.go ``classicalPreemptions``, classical/
    candidate_generator.go) in a flat cohort without ``borrowWithinCohort``: the fewest
    candidates, in its order, whose removal lets ``job`` fit on ``flavor``; [] when
    none does.

    Candidates: the jobs of the other queues of the cohort that are over their nominal
    quota in a resource that needs preemption (``reclaimWithinCohort: Any``), then the
    lower-priority jobs of the job's own queue. When the job fits its queue's nominal
    quota as things stand, the others' jobs may be reclaimed even if the job then
    borrows; otherwise only in an attempt where it must end within its nominal quota
    (without borrowing), which comes first when its queue is under nominal: removing
    its own queue's jobs can bring it back within."""
    cq = job.cq
    free = room(cq, flavor)
    need = [r for r in range(3) if req[r] > 0 and req[r] > free[r] + EPS]
    others: list[JobState] = []
    if cq.cohort is not None and cq.model.reclaim_within_cohort:
        for member in cq.cohort.members:
            if member is cq:
                continue
            for f in member.flavors:
                if f.pool == flavor.pool and _over_nominal(f, need):
                    others.extend(f.admitted)
    own: list[JobState] = []
    if cq.model.within_cluster_queue == "LowerPriority":
        own = [o for o in flavor.admitted if o.priority < job.priority]
    if not others and not own:
        return []
    if not _could_fit(cq, flavor, req, need, own=own, others=others):
        return []  # not even without all of them: spare the search
    advantage = all(
        flavor.usage[r] + req[r] <= flavor.nominal[r] + 1e-9 for r in range(3) if req[r] > 0
    )
    candidates = sorted(others, key=_order) + sorted(own, key=_order)
    under_nominal = all(flavor.usage[r] < flavor.nominal[r] - 1e-9 for r in need)
    if not others or not under_nominal:
        attempts = [True]
    elif not advantage:
        attempts = [False, True]
    else:
        attempts = [True, False]
    for borrow in attempts:
        removed: list[JobState] = []
        for other in candidates:
            other_flavor = other.flavor
            assert other_flavor is not None
            if other.cq is not cq:
                if borrow and not advantage:
                    continue  # reclaiming from the cohort while borrowing: forbidden
                if not _over_nominal(other_flavor, need):
                    continue  # its queue is back within nominal quota: not reclaimable
            charge(sim, other.cq, other_flavor, other.req, -1)
            removed.append(other)
            if fits(sim, cq, flavor, req, borrow):
                return _fill_back(sim, job, flavor, req, removed, borrow=borrow)
        for other in removed:
            assert other.flavor is not None
            charge(sim, other.cq, other.flavor, other.req, +1)
    return []


def _order(job: JobState) -> tuple[int, float, int]:
    """Candidates in Kueue's order: lower priority, then the most recently admitted."""
    return (job.priority, -job.admit_time, job.index)


def _could_fit(
    cq: QueueState,
    flavor: FlavorState,
    req: tuple[float, float, float],
    need: list[int],
    *,
    own: list[JobState],
    others: list[JobState],
) -> bool:
    """Whether ``req`` would fit, borrowing, with every candidate gone: the most any
    attempt of ``targets`` can free (each removes some of them, and without borrowing
    less is available). False means ``targets`` finds none."""
    for r in need:
        mine = sum(o.req[r] for o in own)
        used = flavor.usage[r] - mine
        nominal = flavor.nominal[r]
        if cq.cohort is None:
            free = nominal - used
        else:
            total = cq.cohort.nominal[flavor.pool][r]
            theirs = sum(o.req[r] for o in others)
            free = total - (cq.cohort.usage[flavor.pool][r] - mine - theirs)
            if r == 0 and flavor.limit is not None:
                free = min(nominal + flavor.limit - used, free)
        if req[r] > free + EPS:
            return False
    return True


def _fill_back(
    sim: Sim,
    job: JobState,
    flavor: FlavorState,
    req: tuple[float, float, float],
    removed: list[JobState],
    *,
    borrow: bool,
) -> list[JobState]:
    """Of the ``removed`` candidates (the last one made room), those still needed when
    the others are added back in reverse order; the usage is restored."""
    cq = job.cq
    targets = [removed[-1]]
    for other in reversed(removed[:-1]):
        assert other.flavor is not None
        charge(sim, other.cq, other.flavor, other.req, +1)
        if fits(sim, cq, flavor, req, borrow):
            continue  # not needed
        charge(sim, other.cq, other.flavor, other.req, -1)
        targets.append(other)
    for other in targets:
        assert other.flavor is not None
        charge(sim, other.cq, other.flavor, other.req, +1)
    return targets


def _over_nominal(flavor: FlavorState, resources: list[int]) -> bool:
    return any(flavor.usage[r] > flavor.nominal[r] + 1e-9 for r in resources)
