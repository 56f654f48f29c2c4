"""Doctor on workloads of any kind, from snapshots recorded on the local cluster (see
each file's ``comment``): one finding per workload and cause, at the top-level owner,
with the concrete fix. The expected numbers are the scenario's, worked out by hand:
a one-GPU quota, three replicas, 3 x 8 GPUs against 8 + 8."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlkube.doctor import diagnose, examined, require_workload
from mlkube.errors import UsageError
from mlkube.snapshots.evidence import Evidence

FIXTURES = Path(__file__).parent


def _load(case: str) -> Evidence:
    return Evidence.load(str(FIXTURES / case))


def test_a_batch_job_refused_by_a_quota_is_the_jobs_finding_with_what_is_left() -> None:
    evidence = _load("quota-exceeded/batch-jobs.json")
    findings = diagnose(evidence)
    assert [(f.rule, f.where.obj.kind, f.where.obj.name) for f in findings] == [
        ("DK204", "Job", "batch"),
        ("DK204", "Job", "huge"),
    ]
    batch, huge = findings
    assert batch.message == (
        "Job dk-mixed/batch cannot create its pods: ResourceQuota dk-mixed/gpu: "
        "a pod asks 1 requests.nvidia.com/gpu, 0 of 1 left"
    )
    assert batch.remediation.startswith("wait for the namespace's other pods to finish")
    assert huge.message.endswith(
        "it can never run: one pod asks 2 requests.nvidia.com/gpu and the quota allows 1"
    )
    assert "no amount of waiting admits it" in huge.remediation
    # Asked by name, the Job is examined with its pods: not "0 objects".
    require_workload(evidence, "huge")
    assert examined(evidence, "batch") >= 2  # the Job and its running pod
    assert [f.where.obj.name for f in diagnose(evidence, "huge")] == ["huge"]


def test_a_deployments_pods_waiting_for_a_claim_are_one_finding_at_the_deployment() -> None:
    evidence = _load("volume-claim-unavailable/deployment.json")
    (finding,) = diagnose(evidence)
    assert (finding.rule, finding.where.obj.kind, finding.where.obj.name) == (
        "DK205",
        "Deployment",
        "server",
    )
    pods = sorted(p["metadata"]["name"] for p in evidence.of("v1", "Pod"))
    assert len(pods) == 3
    assert finding.message == (
        f"Deployment dk-mixed/server: 3 pod(s) ({', '.join(pods)}) cannot be scheduled: "
        "PersistentVolumeClaim dk-mixed/weights does not exist; there is no default "
        "StorageClass; namespace 'dk-mixed' has no PersistentVolumeClaims"
    )
    assert finding.remediation.startswith(
        "create PersistentVolumeClaim 'weights' in namespace 'dk-mixed'"
    )
    # The ReplicaSet between them is part of the Deployment, not a workload of its own.
    assert [f.where.obj.name for f in diagnose(evidence, "server")] == ["server"]
    with pytest.raises(UsageError, match="no job, endpoint or pod named 'server-56dddd6c8"):
        require_workload(evidence, "server-56dddd6c8")


def test_a_trainjob_larger_than_its_cohort_can_never_be_admitted() -> None:
    evidence = _load("kueue-workload-pending/cohort.json")
    (finding,) = diagnose(evidence)
    assert (finding.rule, finding.where.obj.kind, finding.where.obj.name) == (
        "DK202",
        "TrainJob",
        "big",
    )
    # Kueue's own message says "maximum capacity (16)": the same 8 + 8 as doctor's.
    assert "current podset request (24) > maximum capacity (16)" in finding.message
    assert (
        "it can never be admitted: asks 24 nvidia.com/gpu in all, ClusterQueue 'dk-small' "
        "with all it may borrow in cohort 'dk-cohort' has 16"
    ) in finding.message
    assert "position" not in finding.message  # no place in a queue it never leaves
    assert "no amount of waiting admits it" in finding.remediation


def test_a_cohort_that_could_lend_enough_makes_it_a_wait_not_a_never() -> None:
    """The premise: with the lender's quota raised to 16 the cohort has 24, and the
    same job is only waiting (its position is told instead)."""
    evidence = _load("kueue-workload-pending/cohort.json")
    for queue in evidence.objects["kueue.x-k8s.io/v1beta2/ClusterQueue"]:
        if queue["metadata"]["name"] == "dk-lender":
            for group in queue["spec"]["resourceGroups"]:
                for flavor in group["flavors"]:
                    for resource in flavor["resources"]:
                        if resource["name"] == "nvidia.com/gpu":
                            resource["nominalQuota"] = "16"
    (finding,) = diagnose(evidence)
    assert "never" not in finding.message and "position 1 in its ClusterQueue" in finding.message
