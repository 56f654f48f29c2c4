"""Findings on pods of any workload kind are named by the top-level owner, once per
cause. Ownership as the controllers set it: LeaderWorkerSet → StatefulSet → Pod with
the ``leaderworkerset.sigs.k8s.io/name`` label (kubernetes-sigs/lws
pkg/controllers/leaderworkerset_controller.go), RayJob → RayCluster → Pod
(ray-project/kuberay ray-operator/controllers/ray), MPIJob → Pod with the
``training.kubeflow.org/job-name`` label (kubeflow/training-operator
pkg/controller.v1/mpi), InferenceService → Deployment → ReplicaSet → Pod (kserve
raw deployment mode)."""

from __future__ import annotations

from typing import Any

import pytest

from mlkube.doctor import diagnose
from mlkube.snapshots.evidence import Evidence

NS = "ml"
CRASH = {"name": "c", "restartCount": 4,
         "state": {"waiting": {"reason": "CrashLoopBackOff"}},
         "lastState": {"terminated": {"reason": "Error", "exitCode": 1}}}  # fmt: skip


def _ref(api: str, kind: str, name: str) -> dict[str, Any]:
    return {"apiVersion": api, "kind": kind, "name": name, "controller": True}


def _obj(name: str, owner: dict[str, Any] | None = None, **labels: str) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "namespace": NS, "labels": labels}
    if owner:
        meta["ownerReferences"] = [owner]
    return {"metadata": meta}


def _crashing(name: str, owner: dict[str, Any], **labels: str) -> dict[str, Any]:
    pod = _obj(name, owner, **labels)
    return {**pod, "spec": {"containers": [{"name": "c", "image": "x:1"}]},
            "status": {"phase": "Running", "containerStatuses": [CRASH]}}  # fmt: skip


CASES = {
    "LeaderWorkerSet": (
        {"apps/v1/StatefulSet": [_obj("vllm", _ref("leaderworkerset.x-k8s.io/v1",
                                                   "LeaderWorkerSet", "vllm"))],
         "leaderworkerset.x-k8s.io/v1/LeaderWorkerSet": [_obj("vllm")]},
        [_crashing(f"vllm-{i}", _ref("apps/v1", "StatefulSet", "vllm"),
                   **{"leaderworkerset.sigs.k8s.io/name": "vllm"}) for i in range(2)],
        "LeaderWorkerSet ml/vllm",
    ),
    "RayJob": (
        {"ray.io/v1/RayCluster": [_obj("sweep-raycluster", _ref("ray.io/v1", "RayJob", "sweep"))],
         "ray.io/v1/RayJob": [_obj("sweep")]},
        [_crashing(f"sweep-worker-{i}", _ref("ray.io/v1", "RayCluster", "sweep-raycluster"),
                   **{"ray.io/cluster": "sweep-raycluster"}) for i in range(3)],
        "RayJob ml/sweep",
    ),
    "MPIJob": (
        {"kubeflow.org/v1/MPIJob": [_obj("lammps")]},
        [_crashing(f"lammps-worker-{i}", _ref("kubeflow.org/v1", "MPIJob", "lammps"),
                   **{"training.kubeflow.org/job-name": "lammps"}) for i in range(2)],
        "MPIJob ml/lammps",
    ),
    "InferenceService": (
        {"apps/v1/ReplicaSet": [_obj("iris-predictor-5f", _ref("apps/v1", "Deployment",
                                                                "iris-predictor"))],
         "apps/v1/Deployment": [_obj("iris-predictor", _ref("serving.kserve.io/v1beta1",
                                                            "InferenceService", "iris"))],
         "serving.kserve.io/v1beta1/InferenceService": [_obj("iris")]},
        [_crashing(f"iris-predictor-5f-{i}", _ref("apps/v1", "ReplicaSet", "iris-predictor-5f"),
                   **{"serving.kserve.io/inferenceservice": "iris"}) for i in range(2)],
        "InferenceService ml/iris",
    ),
}  # fmt: skip


@pytest.mark.parametrize("kind", CASES)
def test_a_crash_loop_is_one_finding_at_the_top_level_owner(kind: str) -> None:
    owners, pods, named = CASES[kind]
    evidence = Evidence("c", NS, "t", {**owners, "v1/Pod": pods})
    (finding,) = [f for f in diagnose(evidence) if f.rule == "DK103"]
    assert f"{finding.where.obj.kind} {NS}/{finding.where.obj.name}" == named
    names = ", ".join(sorted(p["metadata"]["name"] for p in pods))
    assert finding.message.startswith(
        f"container 'c' of {named}: {len(pods)} pod(s) ({names}) is crash-looping"
    )
    assert f"{4 * len(pods)} restarts" in finding.message
    top = named.split()[1].split("/")[1]
    mine = diagnose(evidence, top)  # an endpoint whose pods crash is also not Ready (DK401)
    assert "DK103" in {f.rule for f in mine} and {f.where.obj.name for f in mine} == {top}


def test_a_pod_without_an_owner_is_its_own_finding() -> None:
    pods = [_crashing("lone", _ref("v1", "Node", "n"))]
    pods[0]["metadata"].pop("ownerReferences")
    (finding,) = diagnose(Evidence("c", NS, "t", {"v1/Pod": pods}))
    assert (finding.where.obj.kind, finding.where.obj.name) == ("Pod", "lone")
    assert finding.message.startswith("container 'c' of pod ml/lone is crash-looping")
