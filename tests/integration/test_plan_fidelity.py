"""`mlkube plan` against the real Kueue, in CI (issue 10): small deterministic traces
replayed on the local cluster by bench/plan_fidelity.py's harness (each job the TrainJob
mlkube renders, its KWOK pods running the scaled duration) and compared with the
simulator on the same trace and Platform. Kueue is right where they disagree."""

from __future__ import annotations

from pathlib import Path

import pytest
from bench.plan_fidelity import LATENCY, SCENARIOS, compare, replay, simulated

from mlkube.cluster.client import Kube
from mlkube.spec import load_platform
from mlkube.spec.models import Platform

from ..conftest import EXAMPLES

SCALE = 20.0  # trace seconds per second: each trace replays in one to two minutes


@pytest.mark.parametrize(
    ("scenario", "evicted"),
    [
        # a one-node job, a two-node gang, a one-node job: BestEffortFIFO lets the last
        # one pass the blocked gang; nobody is evicted
        ("gang", set()),
        # two low-priority jobs, then a high-priority two-node job that preempts both;
        # they are admitted again when it ends
        ("priority", {"prio-low-a", "prio-low-b"}),
    ],
)
def test_the_simulator_admits_in_the_order_kueue_does(
    kube: Kube, local_cluster: Path, scenario: str, evicted: set[str]
) -> None:
    platform = load_platform(str(EXAMPLES / "platform.yaml"))
    assert isinstance(platform.spec, Platform)
    jobs = SCENARIOS[scenario]
    seen = replay(kube, platform, jobs, SCALE, timeout=240)
    assert all(o.finished is not None for o in seen.values()), "the replay did not finish"
    agreement = compare(seen, simulated(platform.spec, jobs, SCALE, LATENCY))
    assert agreement.order_real == agreement.order_simulated
    assert {o.name for o in seen.values() if o.evictions} == evicted
    assert {r["job"] for r in agreement.per_job if r["simulated_preemptions"]} == evicted
    # what remains is the stack's own latency, which varies with the machine's load:
    # well under a tenth of the span (0.3–5 % measured, docs/benchmarks.md)
    assert agreement.admission_error_max < 0.1
