"""`mlkube doctor` on workloads of any kind, with the real API server (ResourceQuota
admission), controller-manager (Job, Deployment), scheduler and Kueue: each cause is
one finding named by the top-level owner, with its concrete fix, and the evidence
costs a bounded number of list calls."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mlkube.cluster.apply import apply_objects
from mlkube.cluster.client import Kube
from mlkube.cluster.evidence import gather

from ..conftest import Run
from .conftest import Namespaces
from .jobs import delete_job, training_job
from .waiting import until

NAMESPACE = "dk-mixed"
KUEUE = "kueue.x-k8s.io/v1beta2"
COHORT = "dk-cohort"
_T4 = {"tolerations": [{"operator": "Exists"}], "nodeSelector": {"mlkube.dev/pool": "t4"}}


def _obj(api: str, kind: str, name: str, namespace: str | None, **fields: Any) -> dict[str, Any]:
    meta = {"name": name, "namespace": namespace} if namespace else {"name": name}
    return {"apiVersion": api, "kind": kind, "metadata": meta, **fields}


def _gpu_job(name: str, gpus: int, parallelism: int) -> dict[str, Any]:
    container = {"name": "c", "image": "registry.example/prep:1.0",
                 "resources": {"limits": {"nvidia.com/gpu": str(gpus)}}}  # fmt: skip
    spec = {"containers": [container], "restartPolicy": "Never", **_T4}
    job = {"parallelism": parallelism, "completions": parallelism, "template": {"spec": spec}}
    return _obj("batch/v1", "Job", name, NAMESPACE, spec=job)


def _deployment(name: str, claim: str) -> dict[str, Any]:
    """Three replicas of a server mounting ``claim``, which nobody created."""
    container = {"name": "s", "image": "registry.example/server:1.0",
                 "volumeMounts": [{"name": "w", "mountPath": "/models"}]}  # fmt: skip
    volumes = [{"name": "w", "persistentVolumeClaim": {"claimName": claim}}]
    template = {"metadata": {"labels": {"app": name}},
                "spec": {"containers": [container], "volumes": volumes, **_T4}}  # fmt: skip
    spec = {"replicas": 3, "selector": {"matchLabels": {"app": name}}, "template": template}
    return _obj("apps/v1", "Deployment", name, NAMESPACE, spec=spec)


def _queue(name: str, gpus: int, spot: int = 0) -> dict[str, Any]:
    """A ClusterQueue of cohort COHORT with ``gpus`` A100s of nominal quota (and room
    for the CPU and memory of any job, so that only the GPUs can refuse it), and
    ``spot`` GPUs of a flavor on the spot pool's nodes."""

    def flavor(name: str, gpus: int) -> dict[str, Any]:
        resources = [
            {"name": "cpu", "nominalQuota": "1000"},
            {"name": "memory", "nominalQuota": "10Ti"},
            {"name": "nvidia.com/gpu", "nominalQuota": str(gpus)},
        ]
        return {"name": name, "resources": resources}

    flavors = [flavor("dk-a100", gpus)] + ([flavor("dk-spot", spot)] if spot else [])
    group = {"coveredResources": ["cpu", "memory", "nvidia.com/gpu"], "flavors": flavors}
    spec = {"cohortName": COHORT, "namespaceSelector": {}, "resourceGroups": [group]}
    return _obj(KUEUE, "ClusterQueue", name, None, spec=spec)


def _doctor(mlkube: Run, kubeconfig: Path, *args: str) -> tuple[int, dict[str, Any], str]:
    result = mlkube("doctor", *args, "-n", NAMESPACE, "-o", "json", kubeconfig=kubeconfig)
    return result.code, json.loads(result.out) if result.out else {}, result.err


def _by_rule(findings: list[dict[str, Any]], rule: str) -> list[dict[str, Any]]:
    return [f for f in findings if f["rule"] == rule]


def test_each_workload_cause_is_one_finding_with_its_owner_and_fix(
    kube: Kube, local_cluster: Path, mlkube: Run, namespaces: Namespaces, tmp_path: Path
) -> None:
    namespaces(NAMESPACE)
    flavors = [
        _obj(KUEUE, "ResourceFlavor", f"dk-{pool}", None,
             spec={"nodeLabels": {"mlkube.dev/pool": pool}})
        for pool in ("a100", "spot")
    ]  # fmt: skip
    flavors[1]["spec"]["nodeLabels"]["mlkube.dev/pool"] = "a100-spot"
    # dk-small's 32 spot GPUs are no use to a job on the on-demand A100 pool.
    queues = [_queue("dk-small", 8, spot=32), _queue("dk-lender", 8)]
    local = _obj(KUEUE, "LocalQueue", "dk-small", NAMESPACE, spec={"clusterQueue": "dk-small"})
    quota = _obj("v1", "ResourceQuota", "gpu", NAMESPACE,
                 spec={"hard": {"requests.nvidia.com/gpu": "1"}})  # fmt: skip
    (big,) = training_job(
        "big", nodes=3, gpus=8, namespace=NAMESPACE, queue=None, priority=None, run="1h"
    )
    big["metadata"].setdefault("labels", {})["kueue.x-k8s.io/queue-name"] = "dk-small"
    try:
        apply_objects(kube, [*flavors, *queues, local, quota])
        apply_objects(
            kube,
            [_gpu_job("batch", 1, 2), _gpu_job("huge", 2, 1), _deployment("server", "weights")],
        )
        apply_objects(kube, [big])
        _diagnosed(kube, local_cluster, mlkube)
        # Saved, the same evidence gives the same diagnosis offline.
        saved = tmp_path / "evidence.json"
        _, live, _ = _doctor(mlkube, local_cluster, "--save", str(saved))
        _, offline, _ = _doctor(mlkube, local_cluster, "--from", str(saved))
        assert offline["findings"] == live["findings"]
    finally:
        delete_job(kube, "big", namespace=NAMESPACE)
        for q in queues:
            kube.delete(KUEUE, "ClusterQueue", q["metadata"]["name"])
        for f in flavors:
            kube.delete(KUEUE, "ResourceFlavor", f["metadata"]["name"])


def _diagnosed(kube: Kube, local_cluster: Path, mlkube: Run) -> None:
    wanted = {("DK204", "Job", "batch"), ("DK204", "Job", "huge"),
              ("DK205", "Deployment", "server"), ("DK202", "TrainJob", "big")}  # fmt: skip
    seen: list[tuple[str, str, str | None]] = []

    def complete() -> list[dict[str, Any]] | None:
        _, payload, _ = _doctor(mlkube, local_cluster)
        findings = payload.get("findings", [])
        seen[:] = [(f["rule"], f["object"]["kind"], f["object"]["name"]) for f in findings]
        got = set(seen)
        three = any("3 pod(s)" in f["message"] for f in _by_rule(findings, "DK205"))
        return findings if wanted <= got and three else None

    findings = until(f"{wanted} (last: {seen})", complete, timeout=120, every=2)

    # The Job refused by the ResourceQuota: once, at the Job, with the quota's numbers.
    batch, huge = sorted(_by_rule(findings, "DK204"), key=lambda f: f["object"]["name"])
    assert batch["message"].startswith(
        f"Job {NAMESPACE}/batch cannot create its pods: ResourceQuota {NAMESPACE}/gpu: "
        "a pod asks 1 requests.nvidia.com/gpu, 0 of 1 left"
    ), batch["message"]
    assert "never" not in batch["message"]
    assert (
        "it can never run: one pod asks 2 requests.nvidia.com/gpu and the quota allows 1"
        in (huge["message"])
    )
    # The Deployment's three pods waiting for a claim: one finding, at the Deployment.
    (claim,) = _by_rule(findings, "DK205")
    assert claim["object"]["kind"] == "Deployment"
    assert claim["message"].startswith(f"Deployment {NAMESPACE}/server: 3 pod(s) (server-")
    assert f"PersistentVolumeClaim {NAMESPACE}/weights does not exist" in claim["message"]
    assert f"namespace '{NAMESPACE}' has no PersistentVolumeClaims" in claim["message"]
    assert (
        f"create PersistentVolumeClaim 'weights' in namespace '{NAMESPACE}'"
        in (claim["remediation"])
    )
    assert not _by_rule(findings, "DK201")  # not the scheduler's raw message per pod
    # The TrainJob larger than its queue and all it may borrow: 24 GPUs, 8 + 8.
    (held,) = _by_rule(findings, "DK202")
    assert held["message"].startswith(f"TrainJob {NAMESPACE}/big is held by Kueue: ")
    assert (
        "it can never be admitted: asks 24 nvidia.com/gpu in all, ClusterQueue 'dk-small' "
        f"with all it may borrow in cohort '{COHORT}' has 16"
    ) in held["message"], held["message"]

    # Asked by name, each is found, with the objects that make it up.
    code, only, _ = _doctor(mlkube, local_cluster, "server")
    assert code == 1 and [f["rule"] for f in only["findings"]] == ["DK205"]
    assert only["summary"]["objects"] >= 4  # the Deployment, its ReplicaSet, 3 pods
    code, only, _ = _doctor(mlkube, local_cluster, "batch")
    assert code == 1 and [f["rule"] for f in only["findings"]] == ["DK204"]
    assert only["summary"]["objects"] >= 1

    # Pods of four kinds of owner, listed in a bounded number of calls (issue 11: 14).
    evidence = gather(kube, NAMESPACE)
    listed = set(evidence.objects)
    assert {"apps/v1/ReplicaSet", "apps/v1/Deployment", "batch/v1/Job"} <= listed
    assert evidence.calls <= 14, sorted(listed)


def test_a_workload_that_does_not_exist_exits_non_zero_and_says_so(
    local_cluster: Path, mlkube: Run, namespaces: Namespaces
) -> None:
    namespaces(NAMESPACE)
    code, payload, err = _doctor(mlkube, local_cluster, "nosuch")
    assert code == 2 and payload == {}
    assert err.startswith(
        f"mlkube: no job, endpoint or pod named 'nosuch' in namespace '{NAMESPACE}'"
    )
