"""The guide's walkthrough on the local cluster: the example Platform and the resnet
PyTorchJob are admitted by Kueue, scheduled by the real scheduler onto the A100
pool, run, and end Succeeded; priorities preempt; quota holds."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from mlkube.cluster.client import Kube
from mlkube.cluster.evidence import gather
from mlkube.doctor import diagnose
from mlkube.manifests.yamlstream import read_paths
from mlkube.render import render_paths

from ..conftest import DEMO, EXAMPLES, Run
from .jobs import delete_job, submit, training_job, wait_for, with_run, workload_conditions
from .waiting import until


@pytest.fixture
def cleanup(kube: Kube) -> Iterator[list[str]]:
    names: list[str] = []
    yield names
    for name in names:
        delete_job(kube, name)


def test_resnet_is_admitted_scheduled_on_a100_and_succeeds(kube: Kube, cleanup: list[str]) -> None:
    bundle = render_paths([str(EXAMPLES / "platform.yaml"), str(EXAMPLES / "resnet-training.yaml")])
    job = with_run(next(o for o in bundle if o["kind"] == "PyTorchJob"), "3s")
    volumes = [d.obj for d in read_paths([str(DEMO / "resnet-volumes.yaml")])]
    cleanup.append("resnet-training")
    submit(kube, [*volumes, job])
    # the job Succeeds when its master does; the workers finish their own run after it
    status = wait_for(
        kube, "resnet-training", lambda s: s.phase == "Succeeded" and "Running" not in s.pods
    )
    assert status.queue["state"] in ("admitted", "finished")
    assert status.queue["clusterQueue"] == "training"
    assert status.pods == {"Succeeded": 4}
    assert status.nodes and all(n.startswith("a100-") and "spot" not in n for n in status.nodes)


def test_higher_priority_job_preempts_a_lower_one_when_the_pool_is_full(
    kube: Kube, cleanup: list[str]
) -> None:
    cleanup += ["filler", "urgent"]
    submit(kube, training_job("filler", nodes=2, gpus=8, priority="ml-training-low", run="10m"))
    wait_for(kube, "filler", lambda s: s.phase == "Running" and s.pods.get("Running") == 2)
    submit(kube, training_job("urgent", nodes=1, gpus=8, priority="ml-training-high"))
    preempted = until(
        "filler's Workload preempted",
        lambda: (
            (c := workload_conditions(kube, "filler")).get("Preempted", {}).get("status") == "True"
            and c
        ),
    )
    assert preempted["Evicted"]["reason"] == "Preempted"
    evicted = [f for f in diagnose(gather(kube, "ml-training"), "filler") if f.rule == "DK203"]
    assert evicted and "to admit PyTorchJob ml-training/urgent" in evicted[0].message
    urgent = wait_for(kube, "urgent", lambda s: s.phase == "Succeeded")
    assert all(n.startswith("a100-") for n in urgent.nodes)


def _cohort_gpus(kube: Kube, queue: str, flavor: str) -> int:
    """The most GPUs of ``flavor`` that ``queue`` could ever be admitted with: the
    nominal quotas of every ClusterQueue in its cohort, as the cluster holds them."""
    queues = kube.list("kueue.x-k8s.io/v1beta2", "ClusterQueue")
    cohort = next(q for q in queues if q["metadata"]["name"] == queue)["spec"].get("cohortName")
    return sum(
        int(r["nominalQuota"])
        for q in queues
        if q["metadata"]["name"] == queue or (cohort and q["spec"].get("cohortName") == cohort)
        for group in q["spec"].get("resourceGroups", [])
        for f in group["flavors"]
        if f["name"] == flavor
        for r in f["resources"]
        if r["name"] == "nvidia.com/gpu"
    )


def test_job_larger_than_its_queue_quota_is_held(kube: Kube, cleanup: list[str]) -> None:
    cleanup.append("too-big")
    submit(kube, training_job("too-big", nodes=3, gpus=8))  # 24 A100s; the cohort has 16
    status = wait_for(
        kube, "too-big", lambda s: s.queue.get("state") == "pending" and s.queue.get("message")
    )
    assert status.phase == "Queued" and not status.pods
    assert status.queue["message"].startswith("couldn't assign flavors")
    # and held for good: it asks more A100s than the whole cohort holds, not only now
    assert _cohort_gpus(kube, "training", "a100") == 16
    (held,) = [f for f in diagnose(gather(kube, "ml-training"), "too-big") if f.rule == "DK202"]
    assert "held by Kueue" in held.message and "ClusterQueue 'training'" in held.message


def test_every_example_passes_server_dry_run_and_apply_is_idempotent(
    local_cluster: Path, mlkube: Run
) -> None:
    dry = mlkube("apply", str(EXAMPLES), "--dry-run=server", kubeconfig=local_cluster)
    assert dry.code == 0, dry.err
    assert "inferenceservice ml-serving/llama-chat" in dry.out
    again = mlkube("apply", str(EXAMPLES / "platform.yaml"), kubeconfig=local_cluster)
    assert again.code == 0, again.err
    assert "nothing to change" in again.err
