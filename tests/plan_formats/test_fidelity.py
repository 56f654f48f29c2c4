"""The fidelity harness without a cluster: what it submits (the TrainJob mlkube renders,
its pods running the scaled duration), how it reads a Workload, and how it scores."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import bench.plan_fidelity as pf
import pytest
from bench.plan_fidelity import (
    HOLD,
    LATENCY,
    SCENARIOS,
    Observed,
    _observe,
    compare,
    load_replays,
    main,
    render_job,
    replay_model,
    replay_record,
    rescore,
    transitions,
)

from mlkube.errors import InputError
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
    assert a.pairs_same_order == 1.0 and a.within_5_percent == 3
    assert abs(a.admission_error_median - 0.0) < 1e-9  # errors 0, 0.02, 0: upper median 0
    swapped = compare(observed, result({"a": 0, "b": 700, "c": 600}, {}))
    assert not swapped.same_order and swapped.order_simulated == ["a", "c", "b"]
    # pairs (a,b), (a,c) agree, (b,c) does not: 2 of 3
    assert abs(swapped.pairs_same_order - 2 / 3) < 1e-9
    assert swapped.finish_error_max == 1.0  # finished for real, never in the simulation


def test_the_replay_clock_stretches_the_stacks_own_delays_not_the_traces() -> None:
    # At 50x, each wall second of Kueue or the Job controller is 50 trace-seconds:
    # requeue batching 1 s -> 50, refused-pod back-off 1-60 s -> 50-3,000, failed-pod
    # back-off 10 s-10 min -> 500-30,000. The rendezvous timeout (600 s) is the trace's.
    platform = load_platform(EXAMPLE).spec
    assert isinstance(platform, Platform)
    model = replay_model(platform, 50.0)
    assert model.requeue_delay == 50.0
    assert model.pod_backoff == (50.0, 3000.0)
    assert model.pod_failure_backoff == (500.0, 30000.0)
    assert model.rendezvous_timeout == 600.0


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


# --rescore: a recorded replay scored again without a cluster. The files below are made
# by hand in the two formats the harness has written: with its ``replay`` record (trace,
# Platform, scale, latency) and without (the afternoon of 2026-12-07 and before).


def test_transitions_read_admissions_evictions_and_the_finish_from_the_timeline() -> None:
    timeline = [
        (4.0, "QuotaReserved=False:Pending:insufficient unused quota; Admitted=False:x:y"),
        (10.0, "QuotaReserved=True:QuotaReserved:ok; Admitted=True:Admitted:ok"),
        (30.0, "QuotaReserved=True:QuotaReserved:ok; Evicted=True:Preempted:p; Admitted=True:A:"),
        (31.0, "QuotaReserved=False:Pending:p; Evicted=True:Preempted:p; Admitted=False:N:"),
        (50.0, "QuotaReserved=True:Q:; Evicted=False:QuotaReserved:Previously; Admitted=True:A:"),
        (90.0, "QuotaReserved=True:Q:; Admitted=True:A:; Finished=True:Succeeded:done"),
    ]
    assert transitions(timeline) == ([10.0, 50.0], [30.0], 90.0)
    assert transitions([]) == ([], [], None)


def _row(job: str, admitted: float | None, finished: float | None, **kw: object) -> dict[str, Any]:
    return {"job": job, "admitted": admitted, "finished": finished, "evictions": 0, **kw}


def test_a_replay_with_its_record_is_rescored_on_its_own_clock(tmp_path: Path) -> None:
    # One 8-GPU job, 100 trace-s, replayed at 10x with 2 s latency: the simulation holds
    # its quota 100 + 2 x 10 = 120 trace-s, admitted at 0. Kueue's: admitted 5, done 130.
    solo = TraceJob("solo", 0, "ml-training", "training", 1, 8, 100, "ml-training-high", "a100")
    record = replay_record({"scenario": "hand"}, [solo], EXAMPLE, scale=10.0, latency=2.0)
    rows = [_row("solo", 5.0, 130.0, created=1.0, running=8.0)]
    path = tmp_path / "replay.json"
    path.write_text(json.dumps({"hand": {"per_job": rows, "replay": record}}))
    (r,) = load_replays(str(path), scale=99.0, latency=9.0)  # the file's own win
    assert (r.scale, r.latency, r.jobs) == (10.0, 2.0, [solo])
    a = rescore(r)
    (row,) = a.per_job
    assert (row["simulated_admitted"], row["simulated_finished"]) == (0.0, 120.0)
    assert a.span == 130.0  # the real finish is the last thing either side saw
    assert abs(a.admission_error_max - 5 / 130) < 1e-9
    assert abs(a.finish_error_max - 10 / 130) < 1e-9


def test_a_replay_written_before_the_record_takes_what_it_lacks_from_the_command_line(
    tmp_path: Path,
) -> None:
    rows = [_row(j.name, 0.0, 700.0) for j in SCENARIOS["fifo"]]
    rows[0]["timeline"] = [
        [0.0, "QuotaReserved=True:Q:; Admitted=True:A:"],
        [40.0, "QuotaReserved=True:Q:; Evicted=True:Preempted:; Admitted=True:A:"],
        [60.0, "QuotaReserved=True:Q:; Evicted=False:Q:; Admitted=True:A:"],
        [70.0, "QuotaReserved=True:Q:; Evicted=True:Preempted:; Admitted=True:A:"],
    ]
    rows[0]["evictions"] = 1  # the old harness kept 0 or 1; the timeline tells 2
    old = tmp_path / "old.json"
    old.write_text(json.dumps({"fifo": {"per_job": rows, "replay_seconds": 88.0}}))
    with pytest.raises(InputError, match="records no scale: give --scale"):
        load_replays(str(old))
    (r,) = load_replays(str(old), scale=20.0)
    assert r.jobs == SCENARIOS["fifo"] and (r.scale, r.latency) == (20.0, LATENCY)
    assert r.observed["fifo-a"].evictions == 2
    assert r.record["source"] == {"scenario": "fifo"} and r.record["completed_at_rescore"]
    # a trace replayed from a file: found by its name among --trace
    trace = tmp_path / "mine.csv"
    trace.write_text(
        "name,submit,namespace,queue,nodes,gpus_per_node,duration,priority\n"
        "x,0,ml-training,training,1,8,100,ml-training-high\n"
    )
    (tmp_path / "mine.json").write_text(json.dumps({"mine.csv": {"per_job": [_row("x", 0, 100)]}}))
    with pytest.raises(InputError, match="records no trace: give it with --trace"):
        load_replays(str(tmp_path / "mine.json"), scale=5.0)
    (m,) = load_replays(str(tmp_path / "mine.json"), traces=[str(trace)], scale=5.0)
    assert [j.name for j in m.jobs] == ["x"]
    # rescored and written, the file is complete: no arguments needed the next time
    out = tmp_path / "again.json"
    assert main(["--rescore", str(tmp_path / "mine.json"), "--trace", str(trace),
                 "--scale", "5", "--json", str(out)]) == 0  # fmt: skip
    (again,) = load_replays(str(out))
    assert (again.scale, [j.name for j in again.jobs]) == (5.0, ["x"])


def test_rescore_of_a_file_that_is_not_a_replay_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("[1, 2]")
    assert main(["--rescore", str(bad)]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"{bad}:1: not a replay file (no replays in it)"


def test_a_replay_run_writes_what_rescore_reads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # main() as a replay runs it, with the cluster part stood in for: each job "seen"
    # admitted 10 trace-s after its submit and done 50 trace-s after its duration. The
    # file it writes is rescored from itself alone, to the same agreement.
    class NoKube:
        def __enter__(self) -> NoKube:
            return self

        def __exit__(self, *exc: object) -> None:
            return None

    def fake_replay(kube: object, platform: object, jobs: list[TraceJob], scale: float,
                    timeout: float) -> dict[str, Observed]:  # fmt: skip
        return {
            j.name: Observed(j.name, admitted=j.submit + 10, finished=j.submit + j.duration + 50,
                             timeline=[(j.submit + 10, "QuotaReserved=True:Q:; Admitted=True:A:")])
            for j in jobs
        }  # fmt: skip

    monkeypatch.setattr("mlkube.localcluster.cluster.running", lambda name: object())
    monkeypatch.setattr("mlkube.localcluster.cluster.kubeconfig_path", lambda name: tmp_path)
    monkeypatch.setattr(pf, "load_connection", lambda path: None)
    monkeypatch.setattr(pf, "Kube", lambda conn: NoKube())
    monkeypatch.setattr(pf, "replay", fake_replay)
    out = tmp_path / "run.json"
    assert main(["--scenario", "fifo", "--generate", "6", "--scale", "30", "--json", str(out)]) == 0
    written = json.loads(out.read_text())
    assert set(written) == {"fifo", "generated-6-seed3"}
    record = written["generated-6-seed3"]["replay"]
    assert record["source"] == {"generate": 6, "seed": 3} and record["scale"] == 30.0
    assert record["latency"] == LATENCY and len(record["jobs"]) == 6
    assert "kind: Platform" in record["platform_text"]
    row = written["fifo"]["per_job"][0]
    assert row["admissions"] == [row["admitted"]] and row["evicted_at"] == []
    again = {r.name: rescore(r) for r in load_replays(str(out))}
    for name, entry in written.items():
        assert again[name].admission_error_mean == entry["admission_error_mean"]
        assert again[name].order_simulated == entry["order_simulated"]
