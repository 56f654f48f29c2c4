"""Every doctor rule fires on its recorded ``fires.json`` snapshot and stays silent on
its ``passes.json``. The snapshots were recorded from the local cluster with
``mlkube doctor --save`` and trimmed to the objects of the case; a snapshot derived
from another one says how in its ``comment``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mlkube.cli.main import main
from mlkube.doctor import diagnose, require_workload
from mlkube.errors import InputError, UsageError
from mlkube.rules.doctor import RULES
from mlkube.rules.model import Rule
from mlkube.snapshots.evidence import Evidence

FIXTURES = Path(__file__).parent / "doctor"


def _ids(rule: Rule[Any]) -> str:
    return f"{rule.id}-{rule.name}"


@pytest.mark.parametrize("rule", RULES, ids=_ids)
def test_doctor_rule_fires_on_its_recorded_case(rule: Rule[Any]) -> None:
    evidence = Evidence.load(str(FIXTURES / rule.name / "fires.json"))
    findings = [f for f in diagnose(evidence) if f.rule == rule.id]
    assert findings, f"{rule.id} did not fire"
    for f in findings:
        assert f.message and f.remediation and f.where.obj.name


@pytest.mark.parametrize("rule", RULES, ids=_ids)
def test_doctor_rule_passes_its_healthy_case(rule: Rule[Any]) -> None:
    evidence = Evidence.load(str(FIXTURES / rule.name / "passes.json"))
    assert not [f for f in diagnose(evidence) if f.rule == rule.id]


def test_oom_fix_names_a_concrete_limit() -> None:
    (finding,) = diagnose(Evidence.load(str(FIXTURES / "pod-oom-killed" / "fires.json")))
    assert "request 8Gi, limit 8Gi" in finding.message
    assert "to 12Gi (1.5x)" in finding.remediation


def test_unschedulable_causes_are_told_apart() -> None:
    evidence = Evidence.load(str(FIXTURES / "pod-unschedulable" / "fires.json"))
    messages = {f.where.obj.name: f.message for f in diagnose(evidence) if f.rule == "DK201"}
    assert (
        "can never run: each pod asks 16 nvidia.com/gpu, the largest node it tolerates has 8"
        in messages["toomany"]
    )
    assert "nvidia.com/gpu=present:NoSchedule" in messages["notol"]
    assert "NVIDIA-H100-80GB-HBM3" in messages["wrongmodel"]


def test_eviction_names_the_job_that_displaced_it() -> None:
    evidence = Evidence.load(str(FIXTURES / "pod-disrupted" / "fires.json"))
    (finding,) = [f for f in diagnose(evidence, "filler") if f.rule == "DK203"]
    assert "to admit PyTorchJob ml-training/urgent" in finding.message


def test_bad_snapshot_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(InputError, match="not JSON: Expecting property name"):
        Evidence.load(str(bad))


def test_a_workload_that_does_not_exist_is_an_error_not_a_clean_bill(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Exit 2 (bad usage), not 0 ("No findings") nor 1 (findings): nothing was examined."""
    snapshot = str(FIXTURES / "distributed-job-incomplete" / "fires.json")
    assert main(["doctor", "nosuch", "--from", snapshot]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err == (
        f"mlkube: no job, endpoint or pod named 'nosuch' in any namespace (snapshot {snapshot})\n"
    )


def test_a_near_miss_is_told_the_name_it_may_mean() -> None:
    evidence = Evidence.load(str(FIXTURES / "distributed-job-incomplete" / "fires.json"))
    with pytest.raises(UsageError, match=r"did you mean dist\?$"):
        require_workload(evidence, "dits")
    require_workload(evidence, "dist")  # the job, its pods and its events exist


def _findings(evidence: Evidence, rule: str) -> list[str]:
    return [f.message for f in diagnose(evidence) if f.rule == rule]


def test_rendezvous_passes_because_policies_allow_the_peers_and_dns() -> None:
    """The healthy case is behind a default deny too: without its two allow policies
    the same snapshot fires, so the rule's premise is exercised, not absent."""
    evidence = Evidence.load(str(FIXTURES / "rendezvous-blocked-by-policy" / "passes.json"))
    policies = evidence.objects["networking.k8s.io/v1/NetworkPolicy"]
    assert {p["metadata"]["name"] for p in policies} == {
        "default-deny",
        "allow-dist-peers",
        "allow-dns",
    }
    assert not _findings(evidence, "DK302")
    evidence.objects["networking.k8s.io/v1/NetworkPolicy"] = [
        p for p in policies if p["metadata"]["name"] == "default-deny"
    ]
    assert len(_findings(evidence, "DK302")) == 3  # ingress, egress, DNS


def test_distributed_job_passes_because_every_rank_runs() -> None:
    """The healthy case is a running two-rank job; with one rank Pending it fires."""
    evidence = Evidence.load(str(FIXTURES / "distributed-job-incomplete" / "passes.json"))
    pods = evidence.of("v1", "Pod")
    assert sorted(p["metadata"]["name"] for p in pods) == ["dist-master-0", "dist-worker-0"]
    assert {p["status"]["phase"] for p in pods} == {"Running"}
    assert not _findings(evidence, "DK301")
    pods[1]["status"]["phase"] = "Pending"
    (message,) = _findings(evidence, "DK301")
    assert message.startswith("PyTorchJob dk-dist/dist: 1 of 2 pods running")


def test_a_missing_claim_is_one_finding_per_claim_naming_it_and_its_provisioner() -> None:
    evidence = Evidence.load(str(FIXTURES / "volume-claim-unavailable" / "fires.json"))
    findings = diagnose(evidence)
    assert not [f for f in findings if f.rule == "DK201"]  # not the raw message per pod
    by_claim = {f.message.split("PersistentVolumeClaim ")[1].split(" ")[0]: f for f in findings}
    assert set(by_claim) == {"dk-pvc/datasets", "dk-pvc/checkpoints"}
    datasets = by_claim["dk-pvc/datasets"]
    assert datasets.message.startswith("Job dk-pvc/prep: 2 pod(s) (prep-4xk2p, prep-9qzrt)")
    assert "does not exist; the default StorageClass 'standard'" in datasets.message
    assert "create PersistentVolumeClaim 'datasets' in namespace 'dk-pvc'" in datasets.remediation
    assert (datasets.where.obj.kind, datasets.where.obj.name) == ("Job", "prep")
    checkpoints = by_claim["dk-pvc/checkpoints"]
    assert "is not bound (phase Pending)" in checkpoints.message
    assert "StorageClass 'fast-ssd' does not exist" in checkpoints.message
    (only,) = diagnose(evidence, "prep")
    assert only.where.obj.name == "prep"


def test_without_any_storage_class_the_claim_needs_a_volume_by_hand() -> None:
    evidence = Evidence.load(str(FIXTURES / "volume-claim-unavailable" / "fires.json"))
    evidence.objects["storage.k8s.io/v1/StorageClass"] = []
    messages = {f.message for f in diagnose(evidence, "prep")}
    assert messages == {
        "Job dk-pvc/prep: 2 pod(s) (prep-4xk2p, prep-9qzrt) cannot be scheduled: "
        "PersistentVolumeClaim dk-pvc/datasets does not exist; there is no default StorageClass; "
        "no existing claim is close (claims in 'dk-pvc': 'checkpoints')"
    }


def test_a_missing_claim_names_the_existing_claim_it_may_mean() -> None:
    """A claim 'dataset' exists where the pods mount 'datasets': the finding says so."""
    evidence = Evidence.load(str(FIXTURES / "volume-claim-unavailable" / "fires.json"))
    claims = evidence.objects["v1/PersistentVolumeClaim"]
    near = {**claims[0], "metadata": {**claims[0]["metadata"], "name": "dataset"}}
    claims.append(near)
    (finding,) = diagnose(evidence, "prep")
    assert finding.message.endswith("did the pod mean 'dataset'? (claims in 'dk-pvc')")
