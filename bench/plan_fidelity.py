"""Does ``mlkube plan`` agree with the real Kueue? Replay a trace on the local cluster
(real Kueue and scheduler, KWOK pods that run for the job's duration scaled down with
``kwok.mlkube.dev/run``) and compare each job's admission and finish with
``simulate(...)`` on the same trace and Platform: the admission order, and the time
error per job as a fraction of the trace's span (issue 10, section 2).

    mlkube cluster up --name plan-fidelity --platform examples/platform.yaml
    python bench/plan_fidelity.py --scenario fifo [--scale 20] [--json OUT]
    python bench/plan_fidelity.py --scenario cohort --generate 24 --seed 3 --scale 20
    python bench/plan_fidelity.py --trace T.csv --scale 200 --timeout 1800
    mlkube cluster down --name plan-fidelity
    python bench/plan_fidelity.py --rescore OUT.json [--json RESCORED.json]

``--rescore`` scores a recorded replay (a ``--json`` file) again with the current
simulator, without a cluster: the file holds each job's real admissions, evictions and
finish, and (since ``replay`` records were written) the trace, scale, latency and
Platform it was replayed with. Older files lack the record: the trace comes from the
scenario name (as the scenario is defined now), ``generated-N-seedS``, or a ``--trace``
file of the same name, and the scale, latency and Platform from the command line.

Each trace job is rendered as a TrainingJob by mlkube's own render (as
tests/integration/jobs.py does) and created at ``submit / scale`` seconds after the
replay starts. The replay polls the Kueue Workloads every ``POLL`` seconds and keeps,
per job, the first time it saw it Admitted and Finished (and the conditions'
lastTransitionTime, whole seconds, as a check, and the conditions as they changed);
times are scaled back to trace seconds before they are compared. The simulation runs
on the replay's clock: the stack's own delays (Kueue's 1 s requeue batching, the
``LATENCY`` a job holds its quota beyond its run) are ``scale`` times longer in trace
seconds. Kueue is right where the two disagree.
"""

from __future__ import annotations

import argparse
import json
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mlkube.cluster.apply import apply_objects
from mlkube.cluster.client import Kube
from mlkube.cluster.kubeconfig import load_connection
from mlkube.errors import InputError, MlkubeError
from mlkube.localcluster import cluster
from mlkube.localcluster.stages import RUN_ANNOTATION
from mlkube.manifests.yamlstream import read_paths, read_text
from mlkube.plan.generate import generate
from mlkube.plan.model import RENDEZVOUS_TIMEOUT, REQUEUE_DELAY, Model, build_model
from mlkube.plan.simulate import simulate
from mlkube.plan.trace import read_trace
from mlkube.plan.types import JobResult, PlanResult, TraceJob
from mlkube.render import render_specs
from mlkube.spec import SpecFile, load_platform, load_specs
from mlkube.spec.models import Platform
from mlkube.wellknown import JOBSET_LABEL

ROOT = Path(__file__).resolve().parent.parent
CLUSTER = "plan-fidelity"
EXAMPLE_PLATFORM = ROOT / "examples" / "platform.yaml"
WORKLOAD_API = "kueue.x-k8s.io/v1beta2"
TRAINER_API = "trainer.kubeflow.org/v1alpha1"
POLL = 0.25  # seconds between two looks at the Workloads
# Admission → pods running (JobSet, Job, scheduler, KWOK) ≈ 1 s, pods done → Workload
# Finished ≈ 0.7 s: measured on the mixed trace's events, 2026-12-07 (1.7–2.3 s).
LATENCY = 1.8
# A gang's pods run together: real ranks wait for each other at rendezvous, so each
# finishes the job's duration after the last one started. KWOK runs each pod on its own
# clock from its own start, so a gang's pods are created with this far run end (a KWOK
# delay may be a time) and given the real one once all of them run (``_release_gangs``).
# A rank that waited RENDEZVOUS_TIMEOUT trace-seconds fails: the harness deletes the
# running pods of a gang not all running by then, and the Job controller replaces them.
HOLD = "2099-01-01T00:00:00Z"


def _job(name: str, submit: float, duration: float, **kw: Any) -> TraceJob:
    fields: dict[str, Any] = {
        "namespace": "ml-training", "queue": "training", "nodes": 1, "gpus_per_node": 8,
        "priority": "ml-training-high", "pool": "a100", "memory": 16 * 2**30, "cpu": 4.0,
    }  # fmt: skip
    fields.update(kw)
    return TraceJob(name=name, submit=submit, duration=duration, **fields)


# Deterministic traces, each small enough to check on paper (trace seconds).
SCENARIOS: dict[str, list[TraceJob]] = {
    # one ClusterQueue (training: 16 a100 GPUs = 2 nodes), whole-node jobs: two run at a
    # time, the rest wait in submission order
    "fifo": [
        _job("fifo-a", 0, 600),
        _job("fifo-b", 30, 900),
        _job("fifo-c", 60, 300),
        _job("fifo-d", 90, 600),
        _job("fifo-e", 120, 300),
    ],
    # a two-node gang waits for both nodes; BestEffortFIFO lets the one-node job behind it
    # pass (it fits the quota the gang cannot use yet)
    "gang": [
        _job("gang-a", 0, 600),
        _job("gang-b", 30, 600, nodes=2),
        _job("gang-c", 60, 300),
    ],
    # borrowing and reclaim in cohort `ml` (a100: training 16 nominal, research 0 and
    # may borrow 8): research borrows training's idle 8; training takes them back
    # (reclaimWithinCohort: Any) for its second job; a research job that must borrow
    # waits (no preemption while borrowing), then goes before the evicted one (priority)
    "cohort": [
        _job("borrow-a", 0, 1200, queue="research", priority="ml-training-low"),
        _job("train-a", 60, 600),
        _job("train-b", 120, 600),
        _job("borrow-b", 180, 300, queue="research", priority="ml-training-high"),
    ],
    # a gang under the namespace quota (ml-training: 16 GPUs): a and d fill it; the Job
    # controller creates b's pods one by one as quota frees (a ends), pod 0 holding its 8
    # GPUs while pod 1 waits; c competes with b's pod 1 when d ends (whose back-off ends
    # first wins); b's running rank times out at rendezvous 600 s after it started and
    # its pods are made again; b's pods end together, its duration after the last started
    "gang-quota": [
        _job("gq-a", 0, 600),
        _job("gq-d", 0, 900),
        _job("gq-b", 30, 600, nodes=2, pool="a100-spot", spot=True, checkpoint_interval=900),
        _job("gq-c", 700, 600, pool="a100-spot", spot=True, checkpoint_interval=900),
    ],
    # a high-priority job preempts a low one in the same ClusterQueue
    "priority": [
        _job("prio-low-a", 0, 1200, priority="ml-training-low"),
        _job("prio-low-b", 0, 1200, priority="ml-training-low"),
        _job("prio-high", 300, 600, nodes=2),
    ],
}


@dataclass
class Observed:
    """One job as the cluster showed it, in trace seconds from the replay's start."""

    name: str
    admitted: float | None = None
    finished: float | None = None
    admitted_condition: float | None = None  # Workload condition, whole seconds
    finished_condition: float | None = None
    evictions: int = 0
    timeline: list[tuple[float, str]] = field(default_factory=list)  # what changed, when
    created: float | None = None  # when the harness created it (its lag behind submit)
    running: float | None = None  # when all its pods were first seen Running
    # from the namespace's events: pods preempted by kube-scheduler (not Kueue), pod
    # creations the ResourceQuota refused
    scheduler_preempted: int = 0
    quota_refused: int = 0


def render_job(platform: SpecFile, job: TraceJob, prefix: str, scale: float) -> dict[str, Any]:
    """``job`` as the TrainJob mlkube renders for it, its pods running ``duration / scale``."""
    priority = f"  priority: {job.priority}\n" if job.priority else ""
    pool = f"  pool: {job.pool}\n" if job.pool else ""
    memory = int(job.memory) if job.memory else 16 * 2**30
    if job.spot or job.checkpoint_interval:  # a spot pool needs both (render checks)
        minutes = max(1, round((job.checkpoint_interval or 900) / 60))
        priority += (
            f"  checkpoint: {{uri: 's3://plan-fidelity/{job.name}', intervalMinutes: {minutes}}}\n"
        )
        priority += "  spot: true\n" if job.spot else ""
    spec = (
        "apiVersion: mlkube.dev/v1alpha1\nkind: TrainingJob\n"
        f"metadata: {{name: {prefix}{job.name}, namespace: {job.namespace}}}\n"
        "spec:\n  image: trainer:1.0\n"
        f"  nodes: {job.nodes}\n  gpusPerNode: {job.gpus_per_node}\n{pool}"
        f'  cpu: "{job.cpu or 4:g}"\n  memory: "{memory}"\n  queue: {job.queue}\n{priority}'
    )
    objs = render_specs([platform, *load_specs(read_text(spec, f"{job.name}.yaml"))])
    (trainjob,) = [o for o in objs if o["kind"] == "TrainJob"]
    run_ms = max(1, round(job.duration / scale * 1000))
    for template in _pod_templates(trainjob):
        annotations = template.setdefault("metadata", {}).setdefault("annotations", {})
        annotations[RUN_ANNOTATION] = HOLD if job.nodes > 1 else f"{run_ms}ms"
    return trainjob


def _pod_templates(trainjob: dict[str, Any]) -> list[dict[str, Any]]:
    (patch,) = [
        p for p in trainjob["spec"]["runtimePatches"] if p["manager"] == "mlkube.dev/render"
    ]
    jobs = patch["trainingRuntimeSpec"]["template"]["spec"]["replicatedJobs"]
    return [j["template"]["spec"]["template"] for j in jobs]


def replay(
    kube: Kube, platform: SpecFile, jobs: Sequence[TraceJob], scale: float, timeout: float
) -> dict[str, Observed]:
    """Submit each job at its scaled time; watch until all have finished (or timeout)."""
    prefix = f"f{int(time.time()) % 100000}-"
    pending = sorted(jobs, key=lambda j: j.submit)
    rendered = {j.name: render_job(platform, j, prefix, scale) for j in pending}
    seen = {j.name: Observed(j.name) for j in jobs}
    by_name = {j.name: j for j in jobs}
    namespaces = sorted({j.namespace for j in jobs})
    released: set[str] = set()  # pod UIDs given their end
    start = time.time()
    try:
        while time.time() - start < timeout:
            now = time.time()
            while pending and pending[0].submit / scale <= now - start:
                job = pending.pop(0)
                apply_objects(kube, [rendered[job.name]])
                seen[job.name].created = (time.time() - start) * scale
            for ns in namespaces:
                for w in kube.list(WORKLOAD_API, "Workload", ns):
                    _observe(w, prefix, seen, start=start, scale=scale, now=now)
                pods = kube.list("v1", "Pod", ns, JOBSET_LABEL)
                _pods_running(pods, prefix, by_name, seen, (now - start) * scale)
                _release_gangs(kube, pods, prefix, by_name, scale=scale, released=released)
            if not pending and all(o.finished is not None for o in seen.values()):
                break
            time.sleep(max(0.0, POLL - (time.time() - now)))
    finally:
        for ns in namespaces:
            _count_events(kube.list("v1", "Event", ns), prefix, seen)
        for j in jobs:
            kube.delete(TRAINER_API, "TrainJob", prefix + j.name, j.namespace)
    return seen


def _count_events(events: list[dict[str, Any]], prefix: str, seen: dict[str, Observed]) -> None:
    """Per job, from the events of its pods (``<job>-node-…``) and Job: preemptions by
    kube-scheduler and pod creations refused by the ResourceQuota."""
    for e in events:
        obj = e.get("involvedObject", {})
        rest = obj.get("name", "")[len(prefix) :] if obj.get("name", "").startswith(prefix) else ""
        name = rest.split("-node-")[0] if "-node-" in rest else None
        if name not in seen:
            continue
        count = int(e.get("count") or (e.get("series") or {}).get("count") or 1)
        if obj.get("kind") == "Pod" and e.get("reason") == "Preempted":
            seen[name].scheduler_preempted += count
        if e.get("reason") == "FailedCreate" and "exceeded quota" in e.get("message", ""):
            seen[name].quota_refused += count


def _gangs(
    pods: list[dict[str, Any]], prefix: str, jobs: dict[str, TraceJob]
) -> dict[str, list[dict[str, Any]]]:
    """The live pods of each trace job (not deleted, not ended)."""
    out: dict[str, list[dict[str, Any]]] = {}
    for pod in pods:
        owner = pod["metadata"].get("labels", {}).get(JOBSET_LABEL, "")
        name = owner[len(prefix) :] if owner.startswith(prefix) else None
        live = pod.get("status", {}).get("phase") in ("Pending", "Running")
        if name in jobs and live and "deletionTimestamp" not in pod["metadata"]:
            out.setdefault(name, []).append(pod)
    return out


def _all_running(job: TraceJob, pods: list[dict[str, Any]]) -> bool:
    return len(pods) == job.nodes and all(p["status"].get("phase") == "Running" for p in pods)


def _pods_running(
    pods: list[dict[str, Any]],
    prefix: str,
    jobs: dict[str, TraceJob],
    seen: dict[str, Observed],
    now: float,
) -> None:
    """The first time all of a job's pods were seen Running (trace seconds)."""
    for name, live in _gangs(pods, prefix, jobs).items():
        if seen[name].running is None and _all_running(jobs[name], live):
            seen[name].running = now


def _release_gangs(
    kube: Kube,
    pods: list[dict[str, Any]],
    prefix: str,
    jobs: dict[str, TraceJob],
    *,
    scale: float,
    released: set[str],
) -> None:
    """Once all of a gang's pods run, each gets the same end: the job's duration from
    now, as ranks that start together at rendezvous end together."""
    now = time.time()
    for name, live in _gangs(pods, prefix, jobs).items():
        job = jobs[name]
        uids = {p["metadata"]["uid"] for p in live}
        if job.nodes < 2 or uids <= released:
            continue
        if not _all_running(job, live):
            _time_out(kube, live, now - RENDEZVOUS_TIMEOUT / scale)
            continue
        end = datetime.fromtimestamp(now + job.duration / scale, tz=UTC)
        stamp = end.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        for p in live:
            meta = p["metadata"]
            kube.patch("v1", "Pod", meta["name"], {"metadata": {"annotations": {
                RUN_ANNOTATION: stamp}}}, meta["namespace"])  # fmt: skip
        released |= uids


def _time_out(kube: Kube, live: list[dict[str, Any]], before: float) -> None:
    """The running pods of a gang whose first rank started ``before`` (a time) or
    earlier: their ranks time out at rendezvous, so the pods go (the Job counts them
    failed and makes them again)."""
    running = [p for p in live if p["status"].get("phase") == "Running"]
    started = [_stamp(p["status"]["startTime"]) for p in running if p["status"].get("startTime")]
    if started and min(started) <= before:
        for p in running:
            kube.delete("v1", "Pod", p["metadata"]["name"], p["metadata"]["namespace"])


def _stamp(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def _observe(
    w: dict[str, Any],
    prefix: str,
    seen: dict[str, Observed],
    *,
    start: float,
    scale: float,
    now: float,
) -> None:
    owners = [o["name"] for o in w["metadata"].get("ownerReferences", [])]
    name = next((o[len(prefix) :] for o in owners if o.startswith(prefix)), None)
    if name not in seen:
        return
    o = seen[name]
    conditions = {c["type"]: c for c in w.get("status", {}).get("conditions", [])}

    def when(kind: str) -> float | None:
        c = conditions.get(kind)
        if not c or c.get("status") != "True":
            return None
        stamp = datetime.fromisoformat(c["lastTransitionTime"].replace("Z", "+00:00"))
        return (stamp.timestamp() - start) * scale

    if when("Admitted") is not None and o.admitted is None:
        o.admitted, o.admitted_condition = (now - start) * scale, when("Admitted")
    was_evicted = bool(o.timeline) and "Evicted=True" in o.timeline[-1][1]
    if when("Evicted") is not None and not was_evicted:
        o.evictions += 1
    state = "; ".join(
        f"{c['type']}={c.get('status')}:{c.get('reason', '')}:{c.get('message', '')[:160]}"
        for c in conditions.values()
        if c["type"] in ("QuotaReserved", "Admitted", "Evicted", "PodsReady", "Finished")
    )
    if not o.timeline or o.timeline[-1][1] != state:
        o.timeline.append(((now - start) * scale, state))
    if when("Finished") is not None and o.finished is None:
        o.finished, o.finished_condition = (now - start) * scale, when("Finished")


def replay_model(platform: Platform, scale: float) -> Model:
    """``platform``'s model on the replay's clock: the stack's own delays are wall-clock,
    so ``scale`` times longer in trace seconds: Kueue's 1 s requeue batching, the Job
    controller's back-offs after a refused pod (1–60 s) and after a failed one (10 s–10
    min). The rendezvous timeout is the trace's (the harness deletes a gang's waiting
    pods after ``RENDEZVOUS_TIMEOUT / scale`` wall-seconds)."""
    model = build_model(platform)
    base, longest = model.pod_backoff
    first, most = model.pod_failure_backoff
    return replace(
        model,
        requeue_delay=REQUEUE_DELAY * scale,
        pod_backoff=(base * scale, longest * scale),
        pod_failure_backoff=(first * scale, most * scale),
    )


def simulated(
    platform: Platform, jobs: Sequence[TraceJob], scale: float = 1.0, latency: float = 0.0
) -> PlanResult:
    """The simulator's answer for the replay, on its clock (``replay_model``): each job
    holds its quota ``latency`` wall-seconds beyond its run (its pods start after
    admission, and Kueue sees it Finished after they end), ``latency × scale``
    trace-seconds."""
    held = [replace(j, duration=j.duration + latency * scale) for j in jobs]
    return simulate(replay_model(platform, scale), held, seed=0, reclaim_rate=0.0)


@dataclass
class Agreement:
    jobs: int
    order_real: list[str]
    order_simulated: list[str]
    same_order: bool
    span: float
    admission_error_max: float  # fraction of the span
    admission_error_mean: float
    finish_error_max: float
    finish_error_mean: float
    per_job: list[dict[str, Any]]
    # How far the replay lags behind its own clock, in trace seconds (÷ scale: wall):
    # the harness creating a job after its submit time, and a job's pods running later
    # after its admission than the simulator's do (the stack's latency, the Job
    # controller's back-off after a refused pod, kube-scheduler's queue): p50, p95, max.
    submit_lag: tuple[float, float, float] = (0.0, 0.0, 0.0)
    start_lag: tuple[float, float, float] = (0.0, 0.0, 0.0)
    scheduler_preempted: int = 0  # pods preempted by kube-scheduler, which plan leaves out
    quota_refused: int = 0  # pod creations the ResourceQuota refused
    replay_seconds: float = 0.0  # wall time of the replay
    simulate_seconds: float = 0.0  # wall time of the simulation of the same trace
    # Of the pairs of jobs admitted on both sides at distinct times, the share admitted
    # in the same order; the median admission error (upper median) and how many jobs
    # are within 5 % of the span; jobs evicted for real, in the simulation, and both.
    pairs_same_order: float = float("nan")
    admission_error_median: float = float("nan")
    within_5_percent: int = 0
    evicted: tuple[int, int, int] = (0, 0, 0)


def compare(observed: dict[str, Observed], result: PlanResult) -> Agreement:
    """Admission order and per-job time errors; the span is the real replay's."""
    sim = {j.name: j for j in result.jobs}

    def order(times: dict[str, float | None]) -> list[str]:
        return [n for n, _ in sorted(((n, t) for n, t in times.items() if t is not None),
                                     key=lambda x: (x[1], x[0]))]  # fmt: skip

    real_order = order({n: o.admitted for n, o in observed.items()})
    sim_order = order({n: _first(sim.get(n)) for n in observed})
    ends = [t for o in observed.values() for t in (o.finished, o.admitted) if t is not None]
    span = max([*ends, result.span]) or 1.0
    rows, adm, fin, submit_lag, start_lag = [], [], [], [], []
    for name, o in sorted(observed.items()):
        s = sim.get(name)
        admissions, evicted_at, _ = transitions(o.timeline)
        a = _error(o.admitted, _first(s), span)
        f = _error(o.finished, s.finished if s else None, span)
        adm += [a] if a is not None else []
        fin += [f] if f is not None else []
        if s is not None and o.created is not None:
            submit_lag.append(o.created - s.submit)
        if s is not None and s.starts and s.admissions and o.running and o.admitted:
            start_lag.append((o.running - o.admitted) - (s.starts[0] - s.admissions[0]))
        rows.append({
            "job": name, "admitted": o.admitted, "simulated_admitted": _first(s),
            "finished": o.finished, "simulated_finished": s.finished if s else None,
            "running": o.running, "simulated_running": s.starts[0] if s and s.starts else None,
            "created": o.created, "admitted_condition": o.admitted_condition,
            "evictions": o.evictions, "simulated_preemptions": len(s.preemptions) if s else None,
            "scheduler_preempted": o.scheduler_preempted, "quota_refused": o.quota_refused,
            "admission_error": a, "finish_error": f, "timeline": o.timeline,
            "admissions": admissions, "evicted_at": evicted_at,
            "finished_condition": o.finished_condition,
            "simulated_admissions": s.admissions if s else [],
            "simulated_preempted_at": s.preemptions if s else [],
        })  # fmt: skip
    return Agreement(
        jobs=len(observed),
        order_real=real_order,
        order_simulated=sim_order,
        same_order=real_order == sim_order,
        span=span,
        admission_error_max=max(adm, default=float("nan")),
        admission_error_mean=sum(adm) / len(adm) if adm else float("nan"),
        finish_error_max=max(fin, default=float("nan")),
        finish_error_mean=sum(fin) / len(fin) if fin else float("nan"),
        per_job=rows,
        submit_lag=_spread(submit_lag),
        start_lag=_spread(start_lag),
        scheduler_preempted=sum(o.scheduler_preempted for o in observed.values()),
        quota_refused=sum(o.quota_refused for o in observed.values()),
        pairs_same_order=_pairs_same_order(rows),
        admission_error_median=sorted(adm)[len(adm) // 2] if adm else float("nan"),
        within_5_percent=sum(1 for e in adm if e <= 0.05),
        evicted=(
            sum(1 for r in rows if r["evictions"]),
            sum(1 for r in rows if r["simulated_preemptions"]),
            sum(1 for r in rows if r["evictions"] and r["simulated_preemptions"]),
        ),
    )


def _pairs_same_order(rows: list[dict[str, Any]]) -> float:
    both = [(r["admitted"], r["simulated_admitted"]) for r in rows
            if r["admitted"] is not None and r["simulated_admitted"] is not None]  # fmt: skip
    same = total = 0
    for i, (real_a, sim_a) in enumerate(both):
        for real_b, sim_b in both[i + 1 :]:
            if real_a == real_b or sim_a == sim_b:
                continue
            total += 1
            same += (real_a < real_b) == (sim_a < sim_b)
    return same / total if total else float("nan")


def _spread(values: list[float]) -> tuple[float, float, float]:
    """p50, p95 (nearest rank) and max; zeros when there are none."""
    if not values:
        return (0.0, 0.0, 0.0)
    v = sorted(values)
    return (v[(len(v) - 1) // 2], v[max(0, -(-95 * len(v) // 100) - 1)], v[-1])


def _first(job: JobResult | None) -> float | None:
    return job.admissions[0] if job and job.admissions else None


def _error(real: float | None, sim: float | None, span: float) -> float | None:
    """|real - simulated| / span; 1.0 when only one of them happened."""
    if real is None and sim is None:
        return None
    if real is None or sim is None:
        return 1.0
    return abs(real - sim) / span


def report(name: str, a: Agreement, out: Callable[[str], None] = print, scale: float = 1.0) -> None:
    out(f"scenario {name}: {a.jobs} jobs, span {a.span:.0f} trace-s")
    out(f"  admission order  real {' '.join(a.order_real)}")
    out(f"                   sim  {' '.join(a.order_simulated)}")
    out(f"  same order: {'yes' if a.same_order else 'NO'}"
        f" ({a.pairs_same_order:.1%} of job pairs in the same order)")  # fmt: skip
    out(f"  admission error  max {a.admission_error_max:.1%}  mean {a.admission_error_mean:.1%}"
        f"  median {a.admission_error_median:.1%}; {a.within_5_percent} of {a.jobs} jobs"
        " within 5 % of the span")  # fmt: skip
    out(f"  finish error     max {a.finish_error_max:.1%}  mean {a.finish_error_mean:.1%}")
    out(f"  evicted real {a.evicted[0]}, simulated {a.evicted[1]}, both {a.evicted[2]}")
    for what, lag in (("submit", a.submit_lag), ("pod start", a.start_lag)):
        wall = " / ".join(f"{x / scale:.1f}" for x in lag)
        out(f"  {what} lag p50 / p95 / max: {' / '.join(f'{x:.0f}' for x in lag)} trace-s"
            f" ({wall} s)")  # fmt: skip
    out(f"  pods preempted by kube-scheduler {a.scheduler_preempted},"
        f" pod creations refused by the ResourceQuota {a.quota_refused}")  # fmt: skip
    if a.replay_seconds and a.simulate_seconds:
        out(
            f"  trace-s per wall-s: replay {a.span / a.replay_seconds:,.0f}"
            f" ({a.replay_seconds:.0f} s), simulation {a.span / a.simulate_seconds:,.0f}"
            f" ({a.simulate_seconds:.3f} s)"
        )
    for r in a.per_job:
        out(
            f"    {r['job']:<12} admitted {_t(r['admitted'])} (sim {_t(r['simulated_admitted'])})"
            f"  finished {_t(r['finished'])} (sim {_t(r['simulated_finished'])})"
            f"  evicted {r['evictions']} (sim {r['simulated_preemptions']})"
        )


def _t(v: float | None) -> str:
    return "    –" if v is None else f"{v:5.0f}"


_CONDITION = re.compile(r"(?:^|; )(QuotaReserved|Admitted|Evicted|PodsReady|Finished)=(\w+)")


def transitions(
    timeline: Sequence[tuple[float, str] | list[Any]],
) -> tuple[list[float], list[float], float | None]:
    """A job's admissions and evictions (each time its Workload's ``Admitted`` or
    ``Evicted`` condition turned True) and its finish, from the states the replay saw."""
    admissions: list[float] = []
    evictions: list[float] = []
    finished: float | None = None
    before: dict[str, str] = {}
    for when, state in timeline:
        now = dict(_CONDITION.findall(str(state)))
        for kind, times in (("Admitted", admissions), ("Evicted", evictions)):
            if now.get(kind) == "True" and before.get(kind) != "True":
                times.append(float(when))
        if finished is None and now.get("Finished") == "True":
            finished = float(when)
        before = now
    return admissions, evictions, finished


def _commit() -> str | None:
    try:
        done = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"],
                              capture_output=True, text=True, check=False, timeout=10)  # fmt: skip
    except OSError:
        return None
    return done.stdout.strip() or None


def replay_record(
    source: dict[str, Any], jobs: Sequence[TraceJob], platform: str, scale: float, latency: float
) -> dict[str, Any]:
    """What a later ``--rescore`` needs besides the observations: the trace (where it
    came from, and its jobs), the Platform (its path and text), scale and latency."""
    return {
        "source": source,
        "jobs": [asdict(j) for j in jobs],
        "platform": str(Path(platform).resolve()),
        "platform_text": Path(platform).read_text(),
        "scale": scale,
        "latency": latency,
        "poll": POLL,
        "rendezvous_timeout": RENDEZVOUS_TIMEOUT,
        "commit": _commit(),
        "recorded": datetime.now(tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


def observed_from(rows: Sequence[dict[str, Any]]) -> dict[str, Observed]:
    """The replay's observations back from its ``per_job`` rows (any format written)."""
    seen = {}
    for r in rows:
        timeline = [(float(t), str(s)) for t, s in r.get("timeline", [])]
        evictions = len(transitions(timeline)[1]) if timeline else int(r.get("evictions") or 0)
        seen[r["job"]] = Observed(
            r["job"],
            admitted=r.get("admitted"),
            finished=r.get("finished"),
            admitted_condition=r.get("admitted_condition"),
            finished_condition=r.get("finished_condition"),
            evictions=evictions,
            timeline=timeline,
            created=r.get("created"),
            running=r.get("running"),
            scheduler_preempted=int(r.get("scheduler_preempted") or 0),
            quota_refused=int(r.get("quota_refused") or 0),
        )
    return seen


@dataclass
class Recorded:
    """One replay of a ``--json`` file, ready to be scored again."""

    name: str
    jobs: list[TraceJob]
    observed: dict[str, Observed]
    platform: Platform
    scale: float
    latency: float
    record: dict[str, Any]
    replay_seconds: float = 0.0


def load_replays(
    path: str,
    *,
    traces: Sequence[str] = (),
    platform: str | None = None,
    scale: float | None = None,
    latency: float | None = None,
) -> list[Recorded]:
    """The replays of ``path``. What the file records wins; the arguments stand in for
    what it lacks (files written before the ``replay`` record): ``traces`` by file name,
    ``platform`` (default examples/platform.yaml), ``scale`` (no default: a wrong one
    would score the replay against another clock), ``latency`` (default LATENCY)."""
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError) as e:
        raise InputError(path, 1, f"not a replay file ({e})") from e
    if not isinstance(data, dict) or not data:
        raise InputError(path, 1, "not a replay file (no replays in it)")
    by_name = {Path(t).name: t for t in traces}
    out = []
    for name, entry in data.items():
        if not isinstance(entry, dict) or "per_job" not in entry:
            raise InputError(path, 1, f"replay {name!r} has no per_job rows")
        record = entry.get("replay") or {}
        platform_path = record.get("platform") or platform or str(EXAMPLE_PLATFORM)
        if record.get("platform_text"):
            docs = read_text(record["platform_text"], platform_path)
        else:
            docs = list(read_paths([platform_path]))
        specs = [f.spec for f in load_specs(docs) if isinstance(f.spec, Platform)]
        if len(specs) != 1:
            raise InputError(path, 1, f"replay {name!r}: expected one Platform, found {len(specs)}")
        spec = specs[0]
        generated = re.fullmatch(r"generated-(\d+)-seed(\d+)", name)
        source: dict[str, Any] = record.get("source") or {}
        if record.get("jobs") is not None:
            jobs = [TraceJob(**j) for j in record["jobs"]]
        elif name in SCENARIOS:  # as the scenario is defined now
            jobs, source = SCENARIOS[name], {"scenario": name}
        elif generated:
            jobs = generate(int(generated[1]), int(generated[2]), spec)
            source = {"generate": int(generated[1]), "seed": int(generated[2])}
        elif name in by_name or Path(name).is_file():
            trace = by_name.get(name) or name
            jobs, source = read_trace(trace), {"trace": str(Path(trace).resolve())}
        else:
            raise InputError(path, 1, f"replay {name!r} records no trace: give it with --trace")
        got_scale = record.get("scale", scale)
        if got_scale is None:
            raise InputError(path, 1, f"replay {name!r} records no scale: give --scale")
        got_latency = record.get("latency", LATENCY if latency is None else latency)
        if not record.get("jobs"):  # written before the record: completed from the arguments
            made = replay_record(source, jobs, platform_path, float(got_scale), float(got_latency))
            for unknown in ("poll", "rendezvous_timeout", "commit", "recorded"):
                del made[unknown]  # of this run, not of the replay's
            record = {**made, **record, "completed_at_rescore": True}
        out.append(
            Recorded(
                name=name,
                jobs=jobs,
                observed=observed_from(entry["per_job"]),
                platform=spec,
                scale=float(got_scale),
                latency=float(got_latency),
                record=record,
                replay_seconds=float(entry.get("replay_seconds") or 0.0),
            )
        )
    return out


def rescore(r: Recorded) -> Agreement:
    """``r`` scored with the current simulator (and timed like a replay's simulation)."""
    started = time.perf_counter()
    sim = simulated(r.platform, r.jobs, r.scale, r.latency)
    simulated_in = time.perf_counter() - started
    agreement = compare(r.observed, sim)
    agreement.replay_seconds = r.replay_seconds
    agreement.simulate_seconds = simulated_in
    return agreement


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scenario", choices=sorted(SCENARIOS), action="append")
    parser.add_argument("--scale", type=float, help="trace seconds per second (default 20)")
    parser.add_argument("--platform", default=str(EXAMPLE_PLATFORM))
    parser.add_argument("--timeout", type=float, default=600.0, help="per scenario, seconds")
    parser.add_argument("--generate", type=int, metavar="N", help="also a generated N-job trace")
    parser.add_argument("--seed", type=int, default=3, help="of the generated trace")
    parser.add_argument("--trace", action="append", default=[], help="also this trace file")
    parser.add_argument("--json", help="write the per-job comparison here")
    parser.add_argument(
        "--latency",
        type=float,
        help=f"wall seconds a job holds its quota beyond its run on the local stack ({LATENCY})",
    )
    parser.add_argument("--rescore", metavar="REPLAY.json", help="score a recorded replay again")
    args = parser.parse_args(argv)
    if args.rescore:
        return _rescore(args)
    args.scale = 20.0 if args.scale is None else args.scale
    args.latency = LATENCY if args.latency is None else args.latency
    # a SIGTERM (timeout, kill) still deletes the replay's TrainJobs (replay's finally)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    platform = load_platform(args.platform)
    assert isinstance(platform.spec, Platform)
    if cluster.running(CLUSTER) is None:
        print(f"no cluster {CLUSTER!r}: mlkube cluster up --name {CLUSTER} --platform ...")
        return 2
    scenarios = {name: SCENARIOS[name] for name in args.scenario or []}
    sources: dict[str, dict[str, Any]] = {name: {"scenario": name} for name in scenarios}
    if args.generate:
        jobs = generate(args.generate, args.seed, platform.spec)
        name = f"generated-{args.generate}-seed{args.seed}"
        scenarios[name] = jobs
        sources[name] = {"generate": args.generate, "seed": args.seed}
    for path in args.trace:
        scenarios[Path(path).name] = read_trace(path)
        sources[Path(path).name] = {"trace": str(Path(path).resolve())}
    if not scenarios:
        scenarios, sources = {"fifo": SCENARIOS["fifo"]}, {"fifo": {"scenario": "fifo"}}
    results = {}
    records = {
        name: replay_record(sources[name], jobs, args.platform, args.scale, args.latency)
        for name, jobs in scenarios.items()
    }
    with Kube(load_connection(str(cluster.kubeconfig_path(CLUSTER)))) as kube:
        for name, jobs in scenarios.items():
            started = time.perf_counter()
            sim = simulated(platform.spec, jobs, args.scale, args.latency)
            simulated_in = time.perf_counter() - started
            started = time.perf_counter()
            seen = replay(kube, platform, jobs, args.scale, args.timeout)
            results[name] = compare(seen, sim)
            results[name].replay_seconds = time.perf_counter() - started
            results[name].simulate_seconds = simulated_in
            report(name, results[name], scale=args.scale)
            if args.json:  # after each replay: a stopped run keeps the ones done
                _write(args.json, results, records)
    return 0


def _write(path: str, results: dict[str, Agreement], records: dict[str, dict[str, Any]]) -> None:
    out = {k: {**asdict(v), "replay": records[k]} for k, v in results.items()}
    Path(path).write_text(json.dumps(out, indent=1))


def _rescore(args: argparse.Namespace) -> int:
    try:
        recorded = load_replays(
            args.rescore,
            traces=args.trace,
            platform=args.platform,
            scale=args.scale,
            latency=args.latency,
        )
    except MlkubeError as e:
        print(e, file=sys.stderr)
        return 2
    results, records = {}, {}
    for r in recorded:
        results[r.name] = rescore(r)
        records[r.name] = r.record
        print(f"rescored with scale {r.scale:g}, latency {r.latency:g} s")
        report(r.name, results[r.name], scale=r.scale)
    if args.json:
        _write(args.json, results, records)
    return 0


if __name__ == "__main__":
    sys.exit(main())
