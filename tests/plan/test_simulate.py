"""Hand-computed simulations: each small enough to check on paper, with the arithmetic
next to the assertion."""

from __future__ import annotations

from dataclasses import replace

import pytest

from mlkube.plan.model import Model, Prices
from mlkube.plan.simulate import Reclaim, simulate
from mlkube.plan.types import JobResult, PlanResult

from .helpers import job, platform, pool

HOUR = 3600.0


def by_name(result: PlanResult) -> dict[str, JobResult]:
    return {j.name: j for j in result.jobs}


def one_queue(nodes: int = 2, gpus: int = 4, **queue: object) -> Model:
    return platform(
        [pool("p", nodes, gpus)],
        [{"name": "q", "namespaces": ["ns"], "flavors": [{"pool": "p"}], **queue}],
    )


def cohort(limit_a: int | None = None) -> Model:
    """Queues qa and qb in cohort co, 8 GPUs nominal each, on one pool of 2 × 8 GPUs."""
    flavor_a: dict[str, object] = {"pool": "p", "gpus": 8}
    if limit_a is not None:
        flavor_a["borrowingLimit"] = limit_a
    return platform(
        [pool("p", 2, 8)],
        [
            {"name": "qa", "cohort": "co", "namespaces": ["na"], "flavors": [flavor_a]},
            {
                "name": "qb",
                "cohort": "co",
                "namespaces": ["nb"],
                "flavors": [{"pool": "p", "gpus": 8}],
            },
        ],
    )


def test_fifo_within_a_cluster_queue() -> None:
    # 8 GPUs of quota; three jobs of 8 GPUs (2 pods × 4), 100 s each, submitted at 0, 1, 2:
    # a 0→100, b 100→200, c 200→300, admitted in submission order.
    model = one_queue()
    jobs = [job(n, t, 4, 100, nodes=2) for n, t in (("a", 0), ("b", 1), ("c", 2))]
    r = by_name(simulate(model, jobs))
    assert [r[n].admissions for n in "abc"] == [[0.0], [100.0], [200.0]]
    assert [r[n].finished for n in "abc"] == [100.0, 200.0, 300.0]


def test_best_effort_fifo_lets_a_small_job_pass_a_blocked_big_one() -> None:
    # a (4 GPUs, 0→100) leaves 4; b (8 GPUs, at 1) does not fit and is set aside;
    # c (4 GPUs, at 2) fits: admitted at 2, done at 52. b waits for a: 100→200.
    model = one_queue()
    jobs = [job("a", 0, 4, 100), job("b", 1, 4, 100, nodes=2), job("c", 2, 4, 50)]
    r = by_name(simulate(model, jobs))
    assert r["c"].admissions == [2.0] and r["c"].finished == 52.0
    assert r["b"].admissions == [100.0] and r["b"].finished == 200.0


def test_higher_priority_goes_first_in_the_queue() -> None:
    # No preemption: a holds all 8 GPUs 0→100; b (low, at 1) and c (high, at 2) wait;
    # at 100 the queue orders by priority: c 100→200, then b 200→300.
    model = one_queue(preemption="Never")
    jobs = [
        job("a", 0, 4, 100, nodes=2),
        job("b", 1, 4, 100, nodes=2),
        job("c", 2, 4, 100, nodes=2, priority="high"),
    ]
    r = by_name(simulate(model, jobs))
    assert r["c"].admissions == [100.0] and r["b"].admissions == [200.0]


def test_a_preempted_job_keeps_its_place_in_the_queue() -> None:
    # Kueue orders a preempted Workload by its creation time, not its eviction (v0.19.2
    # pkg/workload/workload.go GetQueueOrderTimestamp: the eviction time counts only after
    # a PodsReady timeout or an admission check). c (high, at 2) preempts a (low, at 0):
    # a lost 2 s × 8 GPUs and is back ahead of b (queued at 1). c 2→102, a 102→202 (no
    # checkpoint: all 100 s again), b 202→302. (By eviction time, b went first.)
    model = one_queue()
    jobs = [
        job("a", 0, 4, 100, nodes=2),
        job("b", 1, 4, 100, nodes=2),
        job("c", 2, 4, 100, nodes=2, priority="high"),
    ]
    r = by_name(simulate(model, jobs))
    assert r["c"].admissions == [2.0] and r["c"].finished == 102.0
    assert r["a"].preemptions == [2.0]
    assert r["a"].admissions == [0.0, 102.0] and r["a"].finished == 202.0
    assert r["a"].lost_gpu_hours == pytest.approx(2 * 8 / HOUR)
    assert r["b"].admissions == [202.0] and r["b"].finished == 302.0


def test_preemption_takes_the_lowest_priority_then_the_most_recent() -> None:
    # 4 nodes × 2 GPUs = 8. x (low, 0) and y (low, 1) and z (low, 2) hold 2 each... a
    # high job of 4 GPUs at 10 (2 free) needs one victim: the most recently admitted of
    # the lowest priority, z.
    model = one_queue(nodes=4, gpus=2)
    jobs = [
        job("x", 0, 2, 100),
        job("y", 1, 2, 100),
        job("z", 2, 2, 100),
        job("h", 10, 2, 50, nodes=2, priority="high"),
    ]
    r = by_name(simulate(model, jobs))
    assert r["z"].preemptions == [10.0]
    assert r["x"].preemptions == [] and r["y"].preemptions == []
    assert r["h"].admissions == [10.0]


def test_gang_admission_and_a_pod_that_needs_a_whole_node() -> None:
    # 2 nodes × 8 GPUs, 16 of quota. a and b (4 GPUs each) are spread one per node (the
    # node with most free GPUs first); c asks a whole node (8): Kueue admits it at 2
    # (8 of 16 used), but no node has 8 free until a ends at 100: runs 100→150.
    # d, 3 pods × 8, can never be admitted (24 > 16 of quota).
    model = one_queue(nodes=2, gpus=8)
    jobs = [
        job("a", 0, 4, 100),
        job("b", 1, 4, 200),
        job("c", 2, 8, 50),
        job("d", 3, 8, 10, nodes=3),
    ]
    result = simulate(model, jobs)
    r = by_name(result)
    assert r["a"].nodes == ["p-0"] and r["b"].nodes == ["p-1"]
    assert r["c"].admissions == [2.0] and r["c"].finished == 150.0
    assert r["c"].wait == 0.0
    assert r["d"].admissions == [] and r["d"].finished is None


def test_a_three_pod_gang_waits_for_three_nodes() -> None:
    # 3 nodes × 8 GPUs; a holds one node 0→100; b (3 pods × 8) needs 24: admitted at 100,
    # on all three nodes, done at 150.
    model = one_queue(nodes=3, gpus=8)
    r = by_name(simulate(model, [job("a", 0, 8, 100), job("b", 1, 8, 50, nodes=3)]))
    assert r["b"].admissions == [100.0] and r["b"].finished == 150.0
    assert sorted(r["b"].nodes) == ["p-0", "p-1", "p-2"]


def test_borrowing_from_the_cohort() -> None:
    # qa has 8 nominal, qb lends its unused 8: a (16 GPUs, 100 s) is admitted at 0 borrowing
    # 8. Admitted 16 × 100 s = 0.444 GPU-h, borrowed 8 × 100 s = 0.222 GPU-h.
    result = simulate(cohort(), [job("a", 0, 8, 100, nodes=2, namespace="na", queue="qa")])
    qa = next(q for q in result.queues if q.name == "qa")
    assert result.jobs[0].admissions == [0.0]
    assert qa.admitted_gpu_hours == pytest.approx(16 * 100 / HOUR)
    assert qa.borrowed_gpu_hours == pytest.approx(8 * 100 / HOUR)
    assert result.teams[0].borrowed_gpu_hours == pytest.approx(
        16 * 100 / HOUR
    )  # the whole job borrowed


def test_a_borrowing_limit_of_zero_forbids_it() -> None:
    # 8 nominal + 0 borrowable < 16: never admitted.
    result = simulate(cohort(limit_a=0), [job("a", 0, 8, 100, nodes=2, namespace="na", queue="qa")])
    assert result.jobs[0].admissions == []


def test_reclaim_within_cohort() -> None:
    # a (qa, 16 GPUs, 1000 s) borrows qb's 8 at 0. b (qb, 8 GPUs, 100 s, lower priority
    # does not matter: reclaimWithinCohort Any) arrives at 10: qb is within its nominal,
    # so it reclaims: a is evicted at 10 (no checkpoint: 10 s × 16 GPUs lost), b runs
    # 10→110; a (needs 16, only 8 free) is admitted again at 110 and runs 1000 s → 1110.
    jobs = [
        job("a", 0, 8, 1000, nodes=2, namespace="na", queue="qa", priority="high"),
        job("b", 10, 8, 100, namespace="nb", queue="qb", priority="low"),
    ]
    r = by_name(simulate(cohort(), jobs))
    assert r["a"].preemptions == [10.0] and r["a"].admissions == [0.0, 110.0]
    assert r["b"].admissions == [10.0] and r["b"].finished == 110.0
    assert r["a"].lost_gpu_hours == pytest.approx(10 * 16 / HOUR)
    assert r["a"].finished == 1110.0


def test_a_borrowing_queue_cannot_preempt_in_the_cohort() -> None:
    # b (qb, 8 GPUs) holds qb's nominal; a (qa, 16) would have to borrow: it may not
    # reclaim (borrowWithinCohort is not rendered) and waits for b (0→100): 100→200.
    jobs = [
        job("b", 0, 8, 100, namespace="nb", queue="qb", priority="low"),
        job("a", 1, 8, 100, nodes=2, namespace="na", queue="qa", priority="high"),
    ]
    r = by_name(simulate(cohort(), jobs))
    assert r["b"].preemptions == []
    assert r["a"].admissions == [100.0]


def test_a_job_that_must_borrow_does_not_preempt_its_own_queue() -> None:
    # qa has no nominal quota on the pool (0 GPUs) and borrows qb's 16. low (qa, 8 GPUs,
    # 100 s) borrows 8 at 0. high (qa, 16 GPUs, higher priority) comes at 1: 8 are free.
    # Its 16 exceed qa's nominal 0, so Kueue does not look for preemptions at all (not
    # even lower-priority jobs of qa): high waits for low, 100 → 200. (The real Kueue
    # did so in bench/plan_fidelity.py's mixed trace; the simulator used to preempt.)
    model = platform(
        [pool("p", 2, 8)],
        [
            {"name": "qa", "cohort": "co", "namespaces": ["na"],
             "flavors": [{"pool": "p", "gpus": 0}]},
            {"name": "qb", "cohort": "co", "namespaces": ["nb"],
             "flavors": [{"pool": "p", "gpus": 16}]},
        ],
    )  # fmt: skip
    jobs = [
        job("low", 0, 8, 100, namespace="na", queue="qa", priority="low"),
        job("high", 1, 8, 100, nodes=2, namespace="na", queue="qa", priority="high"),
    ]
    r = by_name(simulate(model, jobs))
    assert r["low"].preemptions == [] and r["low"].finished == 100.0
    assert r["high"].admissions == [100.0] and r["high"].finished == 200.0


def test_capacity_released_goes_first_to_jobs_not_yet_found_inadmissible() -> None:
    # Kueue retries inadmissible workloads 1 s after quota is released in the cohort
    # (requeueBatchPeriod); a job created in that second is tried at once. The mixed
    # fidelity trace's job-000005 in the real Kueue: qa has no nominal quota on the
    # pool (4 × 8 GPUs, all qb's) and may borrow 16.
    # a (qa, 2 GPUs, 0→100) borrows 2. big (qa, 2 × 8, high) at 10: 2 + 16 > 16, and it
    # must borrow, so no preemption: inadmissible. a ends at 100: big is retried at 101.
    # c (qa, 2 GPUs, low) is created at 100.5: tried at once, 0 + 2 ≤ 16, admitted,
    # 100.5→200.5. At 101 big needs 2 + 16 > 16: waits for c; retried at 201.5, admitted.
    def model(delay: float) -> Model:
        return platform(
            [pool("p", 4, 8)],
            [
                {"name": "qa", "cohort": "co", "namespaces": ["na"],
                 "flavors": [{"pool": "p", "gpus": 0, "borrowingLimit": 16}]},
                {"name": "qb", "cohort": "co", "namespaces": ["nb"],
                 "flavors": [{"pool": "p", "gpus": 32, "borrowingLimit": 0}]},
            ],
            requeue_delay=delay,
        )  # fmt: skip

    jobs = [
        job("a", 0, 2, 100, namespace="na", queue="qa"),
        job("big", 10, 8, 100, nodes=2, namespace="na", queue="qa", priority="high"),
        job("c", 100.5, 2, 100, namespace="na", queue="qa"),
    ]
    r = by_name(simulate(model(1.0), jobs))
    assert r["c"].admissions == [100.5] and r["c"].finished == 200.5
    assert r["big"].admissions == [201.5] and r["big"].finished == 301.5
    # Without the second, big would take the 16 at 100 and c wait for it: 200 → 300.
    r = by_name(simulate(model(0.0), jobs))
    assert r["big"].admissions == [100.0] and r["c"].admissions == [200.0]


def test_a_queue_over_nominal_reclaims_once_its_own_lower_jobs_make_room() -> None:
    # Kueue tries first to preempt so that the job ends within its queue's nominal
    # quota, and then reclaims from borrowing queues too (classicalPreemptions,
    # attempts [no borrowing, borrowing]). Found on the mixed fidelity trace (job-000019
    # evicted its queue's lower jobs and research's borrowed ones at once).
    # qa and qb have 8 nominal each on 2 × 8 GPUs. own (qa, 2, low) at 0; b1 (qb, 8) at
    # 1 and b2 (qb, 4) at 2: qb borrows 4. big (qa, 8, high) at 10: qa would hold 10 > 8,
    # and only 16 - 14 = 2 are free. Without borrowing, candidates b2 (qb's most
    # recent), b1, own: b2 out leaves qb at 8 (within nominal, so b1 is no candidate),
    # own out leaves qa at 0: 0 + 8 ≤ 8 and 16 - 8 free. Adding b2 back leaves 4 free:
    # both go. big runs 10→110; own and b2 come back then.
    jobs = [
        job("own", 0, 2, 1000, namespace="na", queue="qa"),
        job("b1", 1, 8, 1000, namespace="nb", queue="qb"),
        job("b2", 2, 4, 1000, namespace="nb", queue="qb"),
        job("big", 10, 8, 100, namespace="na", queue="qa", priority="high"),
    ]
    r = by_name(simulate(cohort(), jobs))
    assert r["big"].admissions == [10.0] and r["big"].finished == 110.0
    assert r["own"].preemptions == [10.0] and r["b2"].preemptions == [10.0]
    assert r["b1"].preemptions == []
    assert r["own"].admissions == [0.0, 110.0] and r["b2"].admissions == [2.0, 110.0]


def test_priority_preemption_with_checkpoints() -> None:
    # a (low, 8 GPUs, 100 s, checkpoint every 30 s) runs from 0; b (high, 8 GPUs, 20 s) at
    # 50 preempts it: a ran 50 s, checkpointed at 30, loses 20 s × 8 GPUs = 160 GPU-s.
    # b runs 50→70; a is admitted again at 70 with 100 - 30 = 70 s left → 140.
    model = one_queue()
    jobs = [
        job("a", 0, 4, 100, nodes=2, checkpoint=30),
        job("b", 50, 4, 20, nodes=2, priority="high"),
    ]
    r = by_name(simulate(model, jobs))
    assert r["a"].preemptions == [50.0] and r["a"].admissions == [0.0, 70.0]
    assert r["a"].lost_gpu_hours == pytest.approx(160 / HOUR)
    assert r["a"].finished == 140.0 and r["b"].finished == 70.0
    # a held 8 GPUs for 50 + 70 s: 120 × 8 / 3600
    assert r["a"].gpu_hours == pytest.approx(120 * 8 / HOUR)


def test_preemption_never_in_the_queue() -> None:
    # withinClusterQueue: Never: b waits for a (0→100) whatever its priority.
    model = one_queue(preemption="Never")
    jobs = [job("a", 0, 4, 100, nodes=2), job("b", 50, 4, 20, nodes=2, priority="high")]
    r = by_name(simulate(model, jobs))
    assert r["a"].preemptions == [] and r["b"].admissions == [100.0]


def test_the_namespace_quota_refuses_pods_of_an_admitted_job() -> None:
    # The queue has 8 GPUs, the namespace a ResourceQuota of 4. Kueue admits a (0) and
    # b (1) — 4 + 4 ≤ 8 — but b's pods are refused until a ends at 100: b runs 100→200.
    model = platform(
        [pool("p", 2, 4)],
        [{"name": "q", "namespaces": ["ns"], "flavors": [{"pool": "p"}]}],
        [{"name": "ns", "quota": {"gpu": 4}}],
    )
    result = simulate(model, [job("a", 0, 4, 100), job("b", 1, 4, 100)])
    r = by_name(result)
    assert r["b"].admissions == [1.0] and r["b"].finished == 200.0
    # Kueue's wait is 0 for both; the wait to run is 0 for a and 100 - 1 = 99 s for b.
    assert r["b"].wait == 0.0 and r["b"].start_wait == 99.0
    assert result.queues[0].start_wait.max == 99.0 and result.queues[0].wait.max == 0.0


def spot_model(prices: dict[str, Prices] | None = None) -> Model:
    return platform(
        [pool("s", 1, 8, spot=True)],
        [{"name": "q", "namespaces": ["ns"], "flavors": [{"pool": "s"}]}],
        prices=prices,
    )


def test_spot_reclaim_with_checkpoints() -> None:
    # a (8 GPUs, 100 s, checkpoint every 30) is reclaimed at 70: keeps 60, loses 10 s × 8.
    # Kueue re-admits it at 70 (its quota is free) but the node is back only at
    # 70 + 300 = 370: the 40 s left run 370→410.
    jobs = [job("a", 0, 8, 100, spot=True, checkpoint=30)]
    result = simulate(spot_model(), jobs, reclaims=[Reclaim(70, "s", 0)])
    a = result.jobs[0]
    assert a.reclaims == [70.0] and a.preemptions == [70.0] and a.admissions == [0.0, 70.0]
    assert a.lost_gpu_hours == pytest.approx(10 * 8 / HOUR)
    assert a.finished == 410.0
    pool_result = result.pools[0]
    # busy 0→70 and 370→410 = 110 s of 8 GPUs; alive 0→70 and 370→410 = 110 s: 100 %
    assert pool_result.average_utilisation == pytest.approx(1.0)


def test_spot_reclaim_without_checkpoints_loses_everything() -> None:
    # Reclaimed at 70 with no checkpoint: 70 s × 8 GPUs lost, all 100 s again 370→470.
    jobs = [job("a", 0, 8, 100, spot=True)]
    a = simulate(spot_model(), jobs, reclaims=[Reclaim(70, "s", 0)]).jobs[0]
    assert a.lost_gpu_hours == pytest.approx(70 * 8 / HOUR)
    assert a.finished == 470.0


def test_a_job_that_may_not_use_spot_never_runs_on_a_spot_only_queue() -> None:
    a = simulate(spot_model(), [job("a", 0, 8, 100)]).jobs[0]
    assert a.admissions == []


def test_seeded_reclaims_are_repeatable() -> None:
    jobs = [job(f"j{i}", i * 600, 8, 3600, spot=True, checkpoint=600) for i in range(20)]
    one = simulate(spot_model(), jobs, seed=7, reclaim_rate=0.5)
    two = simulate(spot_model(), jobs, seed=7, reclaim_rate=0.5)
    assert one == two
    assert sum(len(j.reclaims) for j in one.jobs) > 0
    assert all(j.finished is not None for j in one.jobs)


def test_cost() -> None:
    # One on-demand node of 8 GPUs at 2.0 per GPU-hour, one job of 8 GPUs for an hour:
    # span 1 h, 8 GPU-h paid, 16.0; nothing lost.
    model = platform(
        [pool("p", 1, 8)],
        [{"name": "q", "namespaces": ["ns"], "flavors": [{"pool": "p"}]}],
        prices={"p": Prices(on_demand=2.0, spot=0.5)},
    )
    result = simulate(model, [job("a", 0, 8, HOUR)])
    assert result.cost.total == pytest.approx(16.0) and result.cost.lost_work == 0.0
    assert result.pools[0].idle_gpu_hours == pytest.approx(0.0)


def test_cost_of_spot_and_of_lost_work() -> None:
    # The spot case above at 1.0 per GPU-hour (the spot price): the node is paid while
    # alive, 0→70 and 370→410 = 110 s × 8 GPUs = 880 GPU-s = 0.2444 GPU-h → 0.2444;
    # lost work 10 s × 8 = 80 GPU-s → 0.0222.
    model = spot_model({"s": Prices(on_demand=3.0, spot=1.0)})
    jobs = [job("a", 0, 8, 100, spot=True, checkpoint=30)]
    cost = simulate(model, jobs, reclaims=[Reclaim(70, "s", 0)]).cost
    assert cost.total == pytest.approx(880 / HOUR)
    assert cost.lost_work == pytest.approx(80 / HOUR)


def test_prices_and_reclaim_rate_from_the_platform() -> None:
    # The Platform's pools carry them: on-demand d at 2.0 per GPU-hour, spot s at 0.5
    # and 1 reclaim per node-hour. One job of 8 GPUs on d for an hour, no reclaims given:
    # span 1 h; d paid 8 GPU-h × 2.0 = 16.0, s 8 × 0.5 = 4.0: 20.0.
    on_demand = {**pool("d", 1, 8), "pricePerGpuHour": 2.0}
    spot = {**pool("s", 1, 8, spot=True), "pricePerGpuHour": 0.5, "reclaimRate": 1}
    queues = [{"name": "q", "namespaces": ["ns"], "flavors": [{"pool": "d"}, {"pool": "s"}]}]
    model = platform([on_demand, spot], queues)
    assert model.prices_given and model.pools["s"].reclaim_rate == 1.0
    assert model.pools["d"].reclaim_rate == 0.0
    result = simulate(model, [job("a", 0, 8, HOUR)], reclaims=[])
    assert result.cost.total == pytest.approx(20.0)
    # A --prices file replaces them (d at 1.0, s not listed: 0): 8.0.
    model = platform([on_demand, spot], queues, prices={"d": Prices(on_demand=1.0)})
    result = simulate(model, [job("a", 0, 8, HOUR)], reclaims=[])
    assert result.cost.total == pytest.approx(8.0)


def test_no_prices_no_cost() -> None:
    result = simulate(one_queue(), [job("a", 0, 4, 100)])
    assert result.cost.total == 0.0 and not result.cost.prices_given


def test_the_namespace_memory_quota_refuses_pods_too() -> None:
    # Memory quota 64Gi; a and b ask 48Gi each: b's pods wait for a (0→100): 100→200.
    model = platform(
        [pool("p", 2, 4)],
        [{"name": "q", "namespaces": ["ns"], "flavors": [{"pool": "p"}]}],
        [{"name": "ns", "quota": {"gpu": 8, "memory": "64Gi"}}],
    )
    jobs = [
        replace(job("a", 0, 1, 100), memory=48 * 2**30),
        replace(job("b", 1, 1, 100), memory=48 * 2**30),
    ]
    r = by_name(simulate(model, jobs))
    assert r["b"].admissions == [1.0] and r["b"].starts == [100.0] and r["b"].finished == 200.0


def test_a_pod_larger_than_any_node_is_admitted_and_never_runs() -> None:
    # 2 nodes × 4 GPUs, quota 8: one pod of 8 GPUs is admitted (Kueue counts quota, not
    # nodes) and never placed; it holds the quota, so b (4 GPUs) waits forever too.
    model = one_queue()
    r = by_name(simulate(model, [job("a", 0, 8, 100), job("b", 1, 4, 10)]))
    assert r["a"].admissions == [0.0] and r["a"].starts == [] and r["a"].finished is None
    assert r["b"].admissions == []


def test_cpu_quota_follows_the_gpu_share() -> None:
    # The pool has 2 nodes × 32 CPUs (the default); queue qa holds 8 of 16 GPUs, so 32
    # CPUs of quota, and no cohort: a job of 1 GPU and 40 CPUs can never be admitted.
    model = platform(
        [pool("p", 2, 8)],
        [
            {"name": "qa", "namespaces": ["na"], "flavors": [{"pool": "p", "gpus": 8}]},
            {"name": "qb", "namespaces": ["nb"], "flavors": [{"pool": "p", "gpus": 8}]},
        ],
    )
    big = replace(job("a", 0, 1, 100, namespace="na", queue="qa"), cpu=40.0)
    ok = replace(job("b", 0, 1, 100, namespace="na", queue="qa"), cpu=30.0)
    r = by_name(simulate(model, [big, ok]))
    assert r["a"].admissions == [] and r["b"].admissions == [0.0]


def test_pods_waiting_for_the_quota_go_by_priority_without_a_back_off() -> None:
    # Without the Job controller's back-off (the helpers' default), refused jobs try again
    # at each release, by pod priority then age. Queue 12 GPUs, namespace quota 4. a runs
    # 0→100; b (low, at 1) and c (high, at 2) are admitted but refused; at 100 c goes
    # first: c 100→150, then b 150→250.
    model = platform(
        [pool("p", 3, 4)],
        [{"name": "q", "namespaces": ["ns"], "flavors": [{"pool": "p"}]}],
        [{"name": "ns", "quota": {"gpu": 4}}],
    )
    jobs = [job("a", 0, 4, 100), job("b", 1, 4, 100), job("c", 2, 4, 50, priority="high")]
    r = by_name(simulate(model, jobs))
    assert r["c"].starts == [100.0] and r["b"].starts == [150.0] and r["b"].finished == 250.0


def quota_model(nodes: int, gpus: int, quota: int, backoff: tuple[float, float]) -> Model:
    return platform(
        [pool("p", nodes, gpus)],
        [{"name": "q", "namespaces": ["ns"], "flavors": [{"pool": "p"}]}],
        [{"name": "ns", "quota": {"gpu": quota}}],
        pod_backoff=backoff,
    )


def test_a_refused_job_tries_again_after_the_job_controllers_back_off() -> None:
    # Kubernetes' Job controller syncs a Job whose pod the ResourceQuota refused after
    # 1 s, 2, 4, ... 60 at most (DefaultJobApiBackOff, MaxJobApiBackOff): who gets freed
    # quota is whose sync comes first, not who has the higher priority. Queue 12 GPUs,
    # namespace quota 4; a runs 0→100. b (low, at 1) is refused at 1 and synced at
    # 2, 4, 8, 16, 32, 64, 124 (+1, +2, +4, +8, +16, +32, then +60); c (high, at 40) at
    # 41, 43, 47, 55, 71, 103. a ends at 100: c's sync at 103 creates its pod (103→153);
    # b's at 124 is refused, next at 184; c ends at 153, and b runs 184→284.
    model = quota_model(3, 4, 4, (1.0, 60.0))
    jobs = [job("a", 0, 4, 100), job("b", 1, 4, 100), job("c", 40, 4, 50, priority="high")]
    r = by_name(simulate(model, jobs))
    assert r["b"].admissions == [1.0] and r["c"].admissions == [40.0]
    assert r["c"].starts == [103.0] and r["c"].finished == 153.0
    assert r["b"].starts == [184.0] and r["b"].finished == 284.0


def test_a_job_evicted_while_its_pods_wait_for_the_quota_makes_them_when_readmitted() -> None:
    # Found on the mixed 100-job fidelity trace (job-000008): a job Kueue evicts while the
    # ResourceQuota refuses its pods has a sync due that is for a Job now suspended; when
    # it is admitted again, its Job is synced at once and backs off afresh from 1 s (a
    # sync that succeeds, the suspended one, resets the Job's rate limiter). The
    # simulator kept the stale sync as "already due" and never created its pods: it held
    # its quota for ever, and the 16-GPU gangs behind it (job-000019, -086) never ran.
    # Queue 12 GPUs (3 nodes x 4) for namespaces ns (quota 4) and ns2 (none). a (ns, 4,
    # 0->10) runs; b (ns, 4, at 1) is admitted, its pod refused: its Job backs off 1, 2,
    # 4, 8 s, so when a ends at 10 its next sync is at 16. d (ns, high, 4, at 11) is
    # admitted and its pod takes the quota at once (11->111). c (ns2, high, 2 x 4, at
    # 12) needs 8 of the 4 free: Kueue evicts b (the only lower-priority job); c runs
    # 12->42. At 42 b is admitted again, refused at once (d holds the quota), and synced
    # at 43, 45, 49, 57, 73, 105, 165 (+1, +2 ... +32, then +60); d ended at 111, so
    # the sync at 165 creates b's pod: b runs 165->265.
    model = platform(
        [pool("p", 3, 4)],
        [{"name": "q", "namespaces": ["ns", "ns2"], "flavors": [{"pool": "p"}]}],
        [{"name": "ns", "quota": {"gpu": 4}}, {"name": "ns2"}],
        pod_backoff=(1.0, 60.0),
    )
    jobs = [
        job("a", 0, 4, 10),
        job("b", 1, 4, 100),
        job("d", 11, 4, 100, priority="high"),
        job("c", 12, 4, 30, nodes=2, namespace="ns2", priority="high"),
    ]
    r = by_name(simulate(model, jobs))
    assert r["d"].starts == [11.0] and r["d"].finished == 111.0
    assert r["c"].admissions == [12.0] and r["c"].finished == 42.0
    assert r["b"].admissions == [1.0, 42.0] and r["b"].preemptions == [12.0]
    assert r["b"].starts == [165.0] and r["b"].finished == 265.0


def test_a_gangs_pods_hold_the_namespace_quota_and_end_together() -> None:
    # The Job controller creates a gang's pods one by one, each let in by the
    # ResourceQuota on its own, and those created hold their quota; the ranks wait for
    # each other, so the work starts when the last pod runs and all end together (a
    # JobSet is done when its Job is, a Job when all its pods are: the last one's end).
    # Queue 40 GPUs (5 nodes × 8), namespace quota 16, no back-off. a (8, 0→600) and
    # d (8, 0→900) fill the namespace quota. b (2 × 8, at 30) is admitted, both pods
    # refused; at 600 b's pod 0 is created and bound (16 of 16 again). c (8, at 650)
    # is refused. At 900 d ends: b's pod 1 goes first (older), so b runs 900→1500 and
    # c 1500→2100. (Had b's pod 0 not held its quota, c would have run 650→1250 and b
    # waited for 16 free GPUs until 1250.)
    model = quota_model(5, 8, 16, (0.0, 0.0))
    jobs = [
        job("a", 0, 8, 600),
        job("d", 0, 8, 900),
        job("b", 30, 8, 600, nodes=2),
        job("c", 650, 8, 600),
    ]
    r = by_name(simulate(model, jobs))
    assert r["b"].admissions == [30.0] and r["c"].admissions == [650.0]
    assert r["b"].starts == [900.0] and r["b"].finished == 1500.0
    assert r["c"].starts == [1500.0] and r["c"].finished == 2100.0


def test_two_gangs_each_holding_part_of_the_quota_never_run() -> None:
    # As on a cluster with a namespace quota under the queues' (and no waitForPodsReady),
    # with ranks that wait for each other for ever (the helpers' default: no rendezvous
    # timeout): each gang holds a pod the other one's needs. Queue 48 GPUs (6 × 8), namespace quota
    # 16, the Job controller's back-off on. a (8, 0→100) and x (8, 0→200) fill the
    # namespace. b (2 × 8, at 10) is synced at 11, 13, 17, 25, 41, 73, 133, 193, 253…;
    # c (2 × 8, at 20) at 21, 23, 27, 35, 51, 83, 143, 203… a ends at 100: b's sync at
    # 133 creates its pod 0, pod 1 refused; c's at 143 is refused. x ends at 200: c's
    # sync at 203 comes before b's (253) and creates c's pod 0. Now b and c hold 8 each
    # and wait for 8 more that only the other could free: neither ever runs, and the
    # simulation ends at 200 (nothing else happens).
    model = quota_model(6, 8, 16, (1.0, 60.0))
    jobs = [
        job("a", 0, 8, 100),
        job("x", 0, 8, 200),
        job("b", 10, 8, 100, nodes=2),
        job("c", 20, 8, 100, nodes=2),
    ]
    result = simulate(model, jobs)
    r = by_name(result)
    assert r["b"].admissions == [10.0] and r["c"].admissions == [20.0]
    assert r["b"].starts == [] and r["c"].starts == []
    assert r["b"].finished is None and r["c"].finished is None
    assert result.span == 200.0


def test_a_gangs_rendezvous_timeout_gives_its_quota_back() -> None:
    # The same two gangs, with PyTorch's rendezvous timeout (600 s) and the Job
    # controller's pod failure back-off (10 s): b's pod 0, running since 133, fails at
    # 733; its 8 GPUs of quota come back and b's pods are made again at 743. c (pod 0
    # since 203, its syncs refused at 203, 263, … every 60 s) syncs at 743 too, and was
    # due first (at the release): its pod 1 gets the quota, c runs 743→843. b, refused at
    # 743, syncs at 744, 746, 750, 758, 774, 806, 866 (+1, +2 … +32, then +60): b runs
    # 866→966.
    model = replace(quota_model(6, 8, 16, (1.0, 60.0)), rendezvous_timeout=600.0)
    assert model.pod_failure_backoff == (10.0, 600.0)
    jobs = [
        job("a", 0, 8, 100),
        job("x", 0, 8, 200),
        job("b", 10, 8, 100, nodes=2),
        job("c", 20, 8, 100, nodes=2),
    ]
    r = by_name(simulate(model, jobs))
    assert r["c"].starts == [743.0] and r["c"].finished == 843.0
    assert r["b"].starts == [866.0] and r["b"].finished == 966.0
    assert r["b"].preemptions == [] and r["c"].preemptions == []  # Kueue evicted nobody


def test_failed_pods_are_replaced_after_a_back_off_that_doubles_per_job() -> None:
    # Kubernetes' Job controller replaces a failed pod 10 s × 2^(n-1) after the Job's n-th
    # failed pod, at most 10 min (backoff_utils.go); at the 7th (backoffLimit 6) the Job
    # fails and the JobSet makes a new one at once, its count from zero. The simulator
    # waited 10 s every time. Queue 12 GPUs (3 × 4), namespace quota 8, rendezvous
    # timeout 100 s. x (4, 0→1500) holds half the quota; b (2 × 4, at 1) gets its pod 0,
    # pod 1 refused. Pod 0 runs and fails 100 s later, again and again: made at 1, 111,
    # 231, 371, 551, 811, 1231 (+10, +20, +40, +80, +160, +320 after the failures at 101,
    # 211, 331, 471, 651, 911), fails at 1331 (the 7th: a new Job, made at once), fails at
    # 1431 (the new Job's 1st), made at 1441. x ends at 1500; pod 1, refused at 1441, is
    # synced at 1442, 1444, 1448, 1456, 1472, 1504: b runs 1504→1554. (With 10 s every
    # time, pod 0 was made at 1 + 110 k, last at 1431; its sync due at 1554, it failed at
    # 1531 and both pods were made at 1541.)
    model = replace(quota_model(3, 4, 8, (1.0, 60.0)), rendezvous_timeout=100.0)
    jobs = [job("x", 0, 4, 1500), job("b", 1, 4, 50, nodes=2)]
    r = by_name(simulate(model, jobs))
    assert r["b"].admissions == [1.0] and r["b"].preemptions == []
    assert r["b"].starts == [1504.0] and r["b"].finished == 1554.0
