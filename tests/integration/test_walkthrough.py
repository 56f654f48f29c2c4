"""The guide's walkthrough on the local cluster: the example Platform and the resnet
job, a TrainJob (Kubeflow Trainer v2), are admitted by Kueue, run as a JobSet placed by
the real scheduler onto the A100 pool, and end Complete; priorities preempt; quota
holds. The legacy PyTorchJob path runs the same job to Succeeded."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from mlkube.cluster.client import Kube
from mlkube.cluster.evidence import gather
from mlkube.cluster.status import Status
from mlkube.doctor import diagnose
from mlkube.manifests.yamlstream import read_paths
from mlkube.render import render_specs
from mlkube.spec import load_specs

from ..conftest import DEMO, EXAMPLES, Run
from .jobs import (
    delete_job,
    platform,
    pods_of,
    submit,
    training_job,
    wait_for,
    with_run,
    workload_conditions,
)
from .waiting import until

RESNET = "resnet-training.yaml"


@pytest.fixture
def cleanup(kube: Kube) -> Iterator[list[str]]:
    names: list[str] = []
    yield names
    for name in names:
        delete_job(kube, name)


def _run_resnet(kube: Kube, cleanup: list[str], *, legacy: bool) -> Status:
    """The guide's resnet job, rendered for the operator asked, run to its end: admitted
    by Kueue to ClusterQueue `training`, its 4 pods on on-demand A100 nodes."""
    specs = [*platform(legacy=legacy), *load_specs(read_paths([str(EXAMPLES / RESNET)]))]
    (job,) = [o for o in render_specs(specs) if o["kind"] in ("TrainJob", "PyTorchJob")]
    volumes = [d.obj for d in read_paths([str(DEMO / "resnet-volumes.yaml")])]
    cleanup.append("resnet-training")
    submit(kube, [*volumes, with_run(job, "3s")])
    # A PyTorchJob Succeeds when its master does; its workers finish their own run after.
    status = wait_for(
        kube, "resnet-training", lambda s: s.phase == "Succeeded" and "Running" not in s.pods
    )
    assert status.kind == ("PyTorchJob" if legacy else "TrainJob")
    assert status.queue["state"] in ("admitted", "finished")
    assert status.queue["clusterQueue"] == "training"
    assert status.pods == {"Succeeded": 4}
    assert status.nodes and all(n.startswith("a100-") and "spot" not in n for n in status.nodes)
    return status


def test_resnet_trainjob_is_admitted_placed_on_a100_and_completes(
    kube: Kube, cleanup: list[str]
) -> None:
    _run_resnet(kube, cleanup, legacy=False)
    job = kube.get("trainer.kubeflow.org/v1alpha1", "TrainJob", "resnet-training", "ml-training")
    assert job is not None
    assert {c["type"]: c["status"] for c in job["status"]["conditions"]}["Complete"] == "True"
    # What Trainer made of it, seen on the real pods (one JobSet Job of 4 indexed pods):
    # the runtime's priority and grace period, the patch's volumes, the trainer block's
    # resources, torch's env.
    pods = pods_of(kube, "resnet-training")
    pod = pods[0]
    assert pod["spec"]["priorityClassName"] == "ml-training-high"
    assert pod["spec"]["terminationGracePeriodSeconds"] == 120
    assert {v["name"] for v in pod["spec"]["volumes"]} >= {"dshm", "dataset", "checkpoints"}
    (node,) = [c for c in pod["spec"]["containers"] if c["name"] == "node"]
    assert node["resources"]["limits"]["nvidia.com/gpu"] == "1"
    env = {e["name"]: e.get("value") for e in node.get("env", [])}
    assert env["PET_NNODES"] == "4" and env["PET_NPROC_PER_NODE"] == "1"
    assert "/dev/shm" in {m["mountPath"] for m in node["volumeMounts"]}
    # The peers NetworkPolicy mlkube renders selects these pods by a label JobSet sets.
    specs = [*platform(), *load_specs(read_paths([str(EXAMPLES / RESNET)]))]
    (policy,) = [o for o in render_specs(specs) if o["kind"] == "NetworkPolicy"
                 and o["metadata"]["name"] == "resnet-training-peers"]  # fmt: skip
    selected = policy["spec"]["podSelector"]["matchLabels"].items()
    assert len(pods) == 4 and all(selected <= p["metadata"]["labels"].items() for p in pods)


def test_resnet_pytorchjob_the_legacy_path_is_admitted_and_succeeds(
    kube: Kube, cleanup: list[str]
) -> None:
    _run_resnet(kube, cleanup, legacy=True)


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
    assert evicted and "to admit TrainJob ml-training/urgent" in evicted[0].message
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
