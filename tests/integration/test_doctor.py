"""`mlkube doctor` on the local cluster: each diagnosis reproduced with the real
scheduler, Kueue and KWOK's failure stages."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path
from typing import Any

from mlkube.cluster.client import Kube
from mlkube.cluster.evidence import gather
from mlkube.localcluster import cluster

from ..conftest import Result, Run
from . import scenarios
from .conftest import NAME, Namespaces
from .jobs import delete_job
from .waiting import until

NAMESPACE = "doctor"


def _doctor(mlkube: Run, kubeconfig: Path, *args: str) -> tuple[int, list[dict[str, Any]], str]:
    result = mlkube("doctor", *args, "-o", "json", kubeconfig=kubeconfig)
    return result.code, json.loads(result.out)["findings"], result.err


def test_each_failure_is_diagnosed_with_its_cause(
    kube: Kube, local_cluster: Path, tmp_path: Path, mlkube: Run, namespaces: Namespaces
) -> None:
    namespaces(NAMESPACE)
    scenarios.pod(kube, NAMESPACE, "oom", fail="OOMKilled")
    scenarios.pod(kube, NAMESPACE, "pull", fail="ImagePullBackOff")
    scenarios.pod(kube, NAMESPACE, "crash", fail="CrashLoopBackOff")
    scenarios.pod(kube, NAMESPACE, "toomany", gpus=16)
    scenarios.pod(kube, NAMESPACE, "notol", tolerate=False)
    scenarios.pod(
        kube, NAMESPACE, "wrongmodel", select={"nvidia.com/gpu.product": "NVIDIA-H100-80GB-HBM3"}
    )
    scenarios.pod(kube, NAMESPACE, "healthy")
    expected = {
        "oom": "DK101", "pull": "DK102", "crash": "DK103",
        "toomany": "DK201", "notol": "DK201", "wrongmodel": "DK201",
    }  # fmt: skip
    seen: dict[str, str] = {}

    def diagnosed() -> tuple[int, list[dict[str, Any]]] | None:
        code, findings, _ = _doctor(mlkube, local_cluster, "-n", NAMESPACE)
        seen.clear()
        seen.update({f["object"]["name"]: f["rule"] for f in findings})
        return (code, findings) if seen == expected else None

    code, findings = until(f"{expected} (last: {seen})", diagnosed, every=1)
    assert seen == expected  # and nothing about the healthy pod
    assert code == 1
    oom = next(f for f in findings if f["rule"] == "DK101")
    assert "to 12Gi (1.5x)" in oom["remediation"]
    toomany = next(f for f in findings if f["object"]["name"] == "toomany")
    assert (
        "it can never run: each pod asks 16 nvidia.com/gpu, the largest node of its pool"
        in (toomany["message"])
    )  # the T4 pool's nodes have 4 (examples/platform.yaml)
    notol = next(f for f in findings if f["object"]["name"] == "notol")
    assert "nvidia.com/gpu=present:NoSchedule" in notol["message"]

    saved = tmp_path / "evidence.json"
    code, live, err = _doctor(mlkube, local_cluster, "-n", NAMESPACE, "--save", str(saved))
    assert "evidence saved" in err and '"kind": "Secret"' not in saved.read_text()
    _, offline, _ = _doctor(mlkube, local_cluster, "--from", str(saved))
    assert [(f["rule"], f["object"]["name"]) for f in offline] == [
        (f["rule"], f["object"]["name"]) for f in live
    ]
    _, only_oom, _ = _doctor(mlkube, local_cluster, "oom", "--from", str(saved))
    assert [f["rule"] for f in only_oom] == ["DK101"]


def test_evidence_costs_the_same_number_of_calls_for_more_pods(
    kube: Kube, namespaces: Namespaces
) -> None:
    namespaces("doctor-scale")
    before = gather(kube, "doctor-scale").calls
    for i in range(30):
        pod = {"name": f"p{i}", "namespace": "doctor-scale"}
        spec = {"containers": [{"name": "c", "image": "x:1"}], "nodeSelector": {"no": "node"}}
        kube.create({"apiVersion": "v1", "kind": "Pod", "metadata": pod, "spec": spec})
    after = gather(kube, "doctor-scale")
    assert after.calls == before <= 14  # issue 11's bound
    assert len(after.of("v1", "Pod")) >= 30


def test_evidence_holds_the_warning_events_only(kube: Kube, namespaces: Namespaces) -> None:
    """The diagnoses read warnings only (a FailedCreate, a quota refusal): the Normal
    events, one or more per pod, are not listed (`needs.FIELDS`)."""
    namespaces("doctor-events")
    about = {"apiVersion": "batch/v1", "kind": "Job", "name": "j", "namespace": "doctor-events"}
    for name, kind, reason in (("a", "Normal", "Scheduled"), ("b", "Warning", "FailedCreate")):
        meta = {"name": name, "namespace": "doctor-events"}
        kube.create({"apiVersion": "v1", "kind": "Event", "metadata": meta, "type": kind,
                     "reason": reason, "message": "m", "involvedObject": about})  # fmt: skip
    events = gather(kube, "doctor-events").of("v1", "Event")
    assert [(e["metadata"]["name"], e["type"]) for e in events] == [("b", "Warning")]


def test_workload_failures_are_diagnosed(
    kube: Kube, local_cluster: Path, mlkube: Run, namespaces: Namespaces
) -> None:
    for name in ("dk-quota", "dk-dist", "dk-isvc-zero", "dk-hpa"):
        namespaces(name)
    scenarios.quota(kube, "dk-quota", 2)
    scenarios.distributed(kube, "dk-dist", 3, deny=True)
    scenarios.endpoint(kube, "dk-isvc-zero", 0)
    scenarios.autoscaler(kube, "dk-hpa", 1)
    expected = {"DK204", "DK301", "DK302", "DK402", "DK406"}

    def diagnosed() -> list[dict[str, Any]] | None:
        _, findings, _ = _doctor(mlkube, local_cluster, "-A")
        rules = {f["rule"] for f in findings if f["object"]["namespace"].startswith("dk-")}
        return findings if expected <= rules else None

    try:
        findings = until(f"{expected}", diagnosed, timeout=90, every=2)  # HPA syncs every 15 s
        dist = next(f for f in findings if f["rule"] == "DK301")
        assert "2 of 3 pods running" in dist["message"]
        assert dist["object"]["kind"] == "TrainJob" and dist["object"]["name"] == "dist"
        dns = [f for f in findings if f["rule"] == "DK302" and "DNS" in f["message"]]
        assert dns and dns[0]["object"]["kind"] == "NetworkPolicy"
    finally:
        delete_job(kube, "dist", namespace="dk-dist")


def test_preflight_reports_what_the_local_cluster_has_and_lacks(
    local_cluster: Path, tmp_path: Path, mlkube: Run
) -> None:
    def preflight(*args: str) -> Result:
        return mlkube("preflight", *args, kubeconfig=local_cluster)

    platform = str(Path(__file__).parents[2] / "examples" / "platform.yaml")
    result = preflight("--platform", platform, "--color", "never")
    assert result.code == 1  # no StorageClass: a fail
    lines = dict(line.split(maxsplit=1)[::-1] for line in result.out.splitlines()[-10:])
    assert lines["PF106 storage-class-present"] == "fail"
    passing = (
        "PF101 kubernetes-version",
        "PF102 gpu-nodes-labelled",
        "PF103 gpu-capacity-advertised",
        "PF107 ml-apis-served",
        "PF108 deployer-access",
        "PF201 platform-pools-present",
    )
    for check in passing:
        assert lines[check] == "pass", check
    assert lines["PF109 gpu-metric-served"] == "warn"
    bigger = tmp_path / "platform.yaml"
    bigger.write_text(Path(platform).read_text().replace("nodes: 2\n", "nodes: 5\n", 1))
    payload = json.loads(preflight("--platform", str(bigger), "-o", "json").out)
    pools = [f for f in payload["findings"] if f["rule"] == "PF201"]
    assert pools and "the Platform says 5" in pools[0]["message"]


def test_scheduler_preemption_is_diagnosed_with_its_reason(
    kube: Kube, mlkube: Run, local_cluster: Path, namespaces: Namespaces
) -> None:
    """Fill the time-sliced pool with low-priority pods, then ask for a slice at high
    priority: the scheduler preempts one. KWOK is paused meanwhile (SIGSTOP, by pid) so
    that the victim stays terminating, with its DisruptionTarget condition, as a slow
    kubelet would leave it."""
    namespace = namespaces("doctor-preempt")

    def slice_pod(name: str, priority: str) -> None:
        limits = {"nvidia.com/gpu": "1"}
        spec = {
            "priorityClassName": priority,
            "containers": [{"name": "c", "image": "notebook:1", "resources": {"limits": limits}}],
            "tolerations": [{"operator": "Exists"}],
            "nodeSelector": {"mlkube.dev/pool": "t4-dev"},
        }
        meta = {"name": name, "namespace": namespace}
        kube.create({"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec})

    for i in range(4):  # the pool: 1 node x 4 time-sliced GPUs
        slice_pod(f"low-{i}", "ml-dev")
    until(
        "4 low-priority pods Running",
        lambda: (
            sum(p["status"].get("phase") == "Running" for p in kube.list("v1", "Pod", namespace))
            == 4
        ),
    )
    state = cluster.running(NAME)
    assert state is not None
    kwok = state.processes["kwok"][0]
    os.kill(kwok, signal.SIGSTOP)
    try:
        slice_pod("urgent", "ml-serving-critical")

        def preempted() -> list[dict[str, Any]] | None:
            _, findings, _ = _doctor(mlkube, local_cluster, "-n", namespace)
            return findings if any(f["rule"] == "DK203" for f in findings) else None

        findings = until("a DK203 finding", preempted, timeout=30, every=1)
    finally:
        os.kill(kwok, signal.SIGCONT)
    (victim,) = [f for f in findings if f["rule"] == "DK203"]
    assert victim["object"]["name"].startswith("low-")
    assert "PreemptionByScheduler" in victim["message"]
