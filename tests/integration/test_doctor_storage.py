"""`mlkube doctor` on pods held by their volumes, with the real scheduler and
PersistentVolume controller: a claim that does not exist, then one that cannot bind."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mlkube.cluster.client import Kube

from ..conftest import Run
from .waiting import until

NAMESPACE = "doctor-pvc"


def _job(name: str, claim: str) -> dict[str, Any]:
    """A batch Job of two pods on the T4 pool, each mounting ``claim``."""
    container = {"name": "c", "image": "registry.example/prep:1.0",
                 "volumeMounts": [{"name": "data", "mountPath": "/data"}]}  # fmt: skip
    spec = {
        "containers": [container],
        "restartPolicy": "Never",
        "tolerations": [{"operator": "Exists"}],
        "nodeSelector": {"mlkube.dev/pool": "t4"},
        "volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": claim}}],
    }
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name, "namespace": NAMESPACE},
        "spec": {"parallelism": 2, "completions": 2, "template": {"spec": spec}},
    }


def _claim_findings(mlkube: Run, kubeconfig: Path, name: str) -> list[dict[str, Any]]:
    result = mlkube("doctor", name, "-n", NAMESPACE, "-o", "json", kubeconfig=kubeconfig)
    if result.code == 2:  # the Job's pods are not there yet
        return []
    return [f for f in json.loads(result.out)["findings"] if f["rule"] == "DK205"]


def test_a_missing_then_unbindable_claim_is_one_finding_naming_it(
    kube: Kube, local_cluster: Path, mlkube: Run
) -> None:
    kube.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}})
    try:
        kube.create(_job("prep", "datasets"))
        (missing,) = until(
            "DK205 on both pods",
            lambda: [
                f
                for f in _claim_findings(mlkube, local_cluster, "prep")
                if "2 pod(s)" in f["message"]
            ],
        )
        assert f"Job {NAMESPACE}/prep: 2 pod(s)" in missing["message"]
        assert f"PersistentVolumeClaim {NAMESPACE}/datasets does not exist" in missing["message"]
        assert (
            f"create PersistentVolumeClaim 'datasets' in namespace '{NAMESPACE}'"
            in (missing["remediation"])
        )
        everything = mlkube("doctor", "-n", NAMESPACE, "-o", "json", kubeconfig=local_cluster)
        rules = [f["rule"] for f in json.loads(everything.out)["findings"]]
        assert rules == ["DK205"]  # not also DK201 once per pod with the raw message

        claim = {
            "apiVersion": "v1",
            "kind": "PersistentVolumeClaim",
            "metadata": {"name": "datasets", "namespace": NAMESPACE},
            "spec": {
                "accessModes": ["ReadWriteOnce"],
                "storageClassName": "fast-ssd",
                "resources": {"requests": {"storage": "1Gi"}},
            },
        }
        kube.create(claim)
        (unbound,) = until(
            "DK205 on the unbound claim",
            lambda: [
                f
                for f in _claim_findings(mlkube, local_cluster, "prep")
                if "is not bound" in f["message"]
            ],
        )
        assert "its StorageClass 'fast-ssd' does not exist" in unbound["message"]
    finally:
        kube.delete("v1", "Namespace", NAMESPACE)


def test_doctor_on_a_workload_that_does_not_exist_exits_2(local_cluster: Path, mlkube: Run) -> None:
    result = mlkube("doctor", "no-such-job", "-n", "default", kubeconfig=local_cluster)
    assert result.code == 2
    assert result.out == ""
    assert result.err.strip().startswith(
        "mlkube: no job, endpoint or pod named 'no-such-job' in namespace 'default'"
    )
