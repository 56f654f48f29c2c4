"""Planner throughput: simulated jobs per wall-clock second on the example Platform.

    python bench/plan_throughput.py [--jobs 10000 100000 1000000] [--reclaim-rate 0.02]

A synthetic trace (seeded; not the shipped generator, so that this measures the
simulator alone): jobs of 1, 2, 4 or 8 GPUs on one node and some of 2 × 8, in the
`training` and `research` queues, exponential durations (mean 30 min) and arrivals at
about 85 % of what the namespace quota lets run. Reading and reporting are not timed;
the simulation is, in this process, once per size (wall and CPU seconds: on a shared
machine the CPU time is the one to compare). Cost should grow about linearly.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from mlkube.plan.model import build_model
from mlkube.plan.simulate import simulate
from mlkube.plan.types import TraceJob
from mlkube.spec.load import load_platform
from mlkube.spec.models import Platform

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "platform.yaml"
PRIORITIES = ("ml-training-high", "ml-training-low")


def trace(n: int, seed: int = 1) -> list[TraceJob]:
    rng = random.Random(seed)
    jobs = []
    t = 0.0
    for i in range(n):
        t += rng.expovariate(1 / 480)
        wide = rng.random() < 0.05
        gpus = 8 if wide else rng.choice((1, 2, 4, 8))
        research = rng.random() < 0.3
        jobs.append(
            TraceJob(
                name=f"j{i}",
                submit=t,
                namespace="ml-training",
                queue="research" if research else "training",
                nodes=2 if wide else 1,
                gpus_per_node=gpus,
                duration=rng.expovariate(1 / 1800) + 60,
                priority=PRIORITIES[1] if research else rng.choice(PRIORITIES),
                spot=rng.random() < 0.6,
                checkpoint_interval=600.0 if rng.random() < 0.5 else None,
                team=f"team-{i % 7}",
            )
        )
    return jobs


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--reclaim-rate", type=float, default=0.02)
    args = parser.parse_args()
    spec = load_platform(str(EXAMPLE)).spec
    assert isinstance(spec, Platform)
    model = build_model(spec, reclaim_rate=args.reclaim_rate)
    print(
        f"{'jobs':>9} {'seconds':>8} {'cpu s':>8} {'jobs/s':>8} {'sim h/s':>8}"
        f" {'finished':>9} {'preempt':>8}"
    )
    for n in args.jobs:
        jobs = trace(n)
        start, cpu = time.perf_counter(), time.process_time()
        result = simulate(model, jobs, seed=1)
        seconds = time.perf_counter() - start
        cpu = time.process_time() - cpu
        finished = sum(1 for j in result.jobs if j.finished is not None)
        preempted = sum(len(j.preemptions) for j in result.jobs)
        print(
            f"{n:>9} {seconds:>8.2f} {cpu:>8.2f} {n / seconds:>8.0f}"
            f" {result.span / 3600 / seconds:>8.0f}"
            f" {finished:>9} {preempted:>8}",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
