"""The fidelity harness without a cluster: what it submits (the TrainJob mlkube renders,
its pods running the scaled duration), how it reads a Workload, and how it scores."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from bench.plan_fidelity import HOLD, SCENARIOS, Observed, _observe, compare, render_job

from mlkube.localcluster.stages import RUN_ANNOTATION
from mlkube.plan.generate import generate
from mlkube.plan.model import pod_memory
from mlkube.plan.types import CostResult, JobResult, PlanResult, TraceJob
from mlkube.spec import load_platform
from mlkube.spec.models import Platform

EXAMPLE = str(Path(__file__).parents[2] / "examples" / "platform.yaml")


def test_a_trace_job_becomes_the_rendered_trainjob_with_its_scaled_run() -> None:
    job = TraceJob("b", 30, "ml-training", "training", 2, 8, 900, "ml-training-low", "a100")
    obj = render_job(load_platform(EXAMPLE), job, "f1-", scale=20)
    assert obj["kind"] == "TrainJob" and obj["metadata"]["name"] == "f1-b"
    assert obj["metadata"]["labels"]["kueue.x-k8s.io/queue-name"] == "training"
    text = str(obj)
    assert "ml-training-low" in text
    (patch,) = [p for p in obj["spec"]["runtimePatches"] if p["manager"] == "mlkube.dev/render"]
    (replicated,) = patch["trainingRuntimeSpec"]["template"]["spec"]["replicatedJobs"]
    pod = replicated["template"]["spec"]["template"]
    # a gang's pods wait for the harness to give them all one end (ranks end together)
    assert pod["metadata"]["annotations"][RUN_ANNOTATION] == HOLD
    single = render_job(load_platform(EXAMPLE), replace(job, nodes=1), "f1-", scale=20)
    assert "'kwok.mlkube.dev/run': '45000ms'" in str(single)  # 900 s / 20


def test_every_scenario_and_a_generated_trace_render() -> None:
    platform = load_platform(EXAMPLE)
    assert isinstance(platform.spec, Platform)
    generated = generate(40, 3, platform.spec)
    assert any(j.spot for j in generated)  # a spot job needs spot: true and a checkpoint
    for jobs in [*SCENARIOS.values(), generated]:
        for job in jobs:
            render_job(platform, job, "x-", scale=10)


def workload(owner: str, **times: str) -> dict[str, object]:
    return {
        "metadata": {"ownerReferences": [{"kind": "TrainJob", "name": owner}]},
        "status": {
            "conditions": [
                {"type": t, "status": "True", "lastTransitionTime": v} for t, v in times.items()
            ]
        },
    }


def test_observe_keeps_the_first_sighting_scaled_to_trace_seconds() -> None:
    seen = {"a": Observed("a")}
    start = 1_700_000_000.0  # 2023-11-14T22:13:20Z
    admitted = workload("f1-a", Admitted="2023-11-14T22:13:22Z")
    _observe(admitted, "f1-", seen, start=start, scale=10, now=start + 2.5)
    _observe(admitted, "f1-", seen, start=start, scale=10, now=start + 3.0)
    assert seen["a"].admitted == 25.0  # the first look, not the later one
    assert seen["a"].admitted_condition == 20.0
    assert seen["a"].finished is None
    _observe(workload("other-a", Finished="2023-11-14T22:13:23Z"), "f1-", seen, start=start,
             scale=10, now=start + 4)  # fmt: skip
    assert seen["a"].finished is None  # another run's job of the same name


def result(admitted: dict[str, float], finished: dict[str, float]) -> PlanResult:
    jobs = [
        JobResult(n, "t", "training", 0.0, admissions=[t], finished=finished.get(n))
        for n, t in admitted.items()
    ]
    return PlanResult("p", 1000.0, jobs, [], [], [], CostResult([], 0.0, 0.0))


def test_compare_scores_order_and_error_as_a_fraction_of_the_span() -> None:
    observed = {
        "a": Observed("a", admitted=0.0, finished=600.0),
        "b": Observed("b", admitted=10.0, finished=900.0),
        "c": Observed("c", admitted=600.0, finished=1000.0),
    }
    a = compare(observed, result({"a": 0, "b": 30, "c": 600}, {"a": 600, "b": 930, "c": 900}))
    assert a.same_order and a.order_real == ["a", "b", "c"]
    assert a.span == 1000.0
    assert abs(a.admission_error_max - 0.02) < 1e-9  # b: 20 of 1000 s
    assert abs(a.finish_error_max - 0.1) < 1e-9  # c: 100 of 1000 s
    swapped = compare(observed, result({"a": 0, "b": 700, "c": 600}, {}))
    assert not swapped.same_order and swapped.order_simulated == ["a", "c", "b"]
    assert swapped.finish_error_max == 1.0  # finished for real, never in the simulation


def test_the_simulator_charges_a_pod_the_memory_render_requests() -> None:
    # The real ResourceQuota refused a pod of the mixed trace asking for 80Gi where the
    # trace said 64Gi: render adds /dev/shm (a quarter of the memory, at least 1 GiB) to
    # the request. 64 + 16 = 80 GiB; 2 + max(1, 0.5) = 3 GiB.
    gib = 2**30
    job = TraceJob("m", 0, "ml-training", "training", 1, 2, 100, None, "a100", memory=64 * gib)
    trainjob = render_job(load_platform(EXAMPLE), job, "f-", scale=1)
    assert trainjob["spec"]["trainer"]["resourcesPerNode"]["requests"]["memory"] == "80Gi"
    assert pod_memory(64 * gib) == 80 * gib
    assert pod_memory(2 * gib) == 3 * gib
    assert pod_memory(0) == 0
