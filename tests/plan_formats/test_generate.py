"""The synthetic trace generator: the same seed gives the same trace, every job fits
the Platform it was made for, and the CSV it writes has the trace columns."""

from __future__ import annotations

import csv
import itertools
import statistics
from pathlib import Path

from mlkube.plan.generate import COLUMNS, generate, write_csv
from mlkube.quantity import parse_quantity
from mlkube.spec.load import load_platform
from mlkube.spec.models import Platform

EXAMPLE = Path(__file__).parents[2] / "examples" / "platform.yaml"


def platform() -> Platform:
    spec = load_platform(str(EXAMPLE)).spec
    assert isinstance(spec, Platform)
    return spec


def test_the_same_seed_gives_the_same_trace() -> None:
    p = platform()
    assert generate(200, 7, p) == generate(200, 7, p)
    assert generate(200, 7, p) != generate(200, 8, p)


def test_every_job_fits_its_queue_pool_and_namespace() -> None:
    p = platform()
    pools = {pool.name: pool for pool in p.spec.pools}
    queues = {q.name: q for q in p.spec.queues}
    quota = {ns.name: ns.quota for ns in p.spec.namespaces if ns.quota}
    classes = {c.name for c in p.spec.priority_classes}
    for job in generate(500, 1, p):
        queue = queues[job.queue]
        assert job.namespace in queue.namespaces
        assert job.pool in {f.pool for f in queue.flavors}
        pool = pools[job.pool or ""]
        assert 1 <= job.gpus_per_node <= pool.gpu.count
        assert 1 <= job.nodes <= pool.nodes
        ns = quota[job.namespace]
        assert job.nodes * job.gpus_per_node <= ns.gpu
        # research borrows at most 8 a100 GPUs (nominal 0): a bigger job waits forever
        if (job.queue, job.pool) == ("research", "a100"):
            assert job.nodes * job.gpus_per_node <= 8
        # or its ResourceQuota would refuse it forever: what the pods request, as
        # rendered (memory plus /dev/shm, a quarter more), must fit
        assert job.nodes * job.memory * 1.25 <= (parse_quantity(ns.memory) or 0)
        assert job.memory <= (parse_quantity(pool.memory) or 0) / 2
        assert job.priority is None or job.priority in classes
        assert job.spot == (pool.capacity == "spot")
        assert not job.spot or job.checkpoint_interval  # spot jobs checkpoint


def test_arrivals_are_sorted_and_durations_heavy_tailed() -> None:
    jobs = generate(2000, 3, platform())
    submits = [j.submit for j in jobs]
    assert submits == sorted(submits) and submits[0] == 0
    durations = [j.duration for j in jobs]
    assert min(durations) >= 300
    # heavy tail: the mean is well above the median, and a few jobs run for days
    assert statistics.mean(durations) > 1.5 * statistics.median(durations)
    assert max(durations) > 50 * statistics.median(durations)
    gaps = [b - a for a, b in itertools.pairwise(submits)]
    # exponential gaps: their standard deviation is about their mean
    assert 0.8 < statistics.stdev(gaps) / statistics.mean(gaps) < 1.2


def test_write_csv_round_trips_the_fields(tmp_path: Path) -> None:
    jobs = generate(20, 5, platform())
    path = tmp_path / "trace.csv"
    write_csv(jobs, str(path))
    with path.open(newline="") as f:
        rows = list(csv.DictReader(f))
    assert tuple(rows[0]) == COLUMNS
    assert len(rows) == 20
    for job, row in zip(jobs, rows, strict=True):
        assert row["name"] == job.name
        assert float(row["submit"]) == job.submit
        assert float(row["duration"]) == job.duration
        assert float(row["memory"]) == job.memory and "e" not in row["memory"]
        assert (int(row["nodes"]), int(row["gpus_per_node"])) == (job.nodes, job.gpus_per_node)
        assert row["priority"] == (job.priority or "")
        assert row["spot"] == ("true" if job.spot else "false")
        assert row["checkpoint_interval"] == (
            "" if job.checkpoint_interval is None else f"{job.checkpoint_interval:g}"
        )


def test_zero_jobs_is_an_empty_trace() -> None:
    assert generate(0, 1, platform()) == []
