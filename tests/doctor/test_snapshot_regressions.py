"""Crash sites found by fuzzing mutated snapshots (test_snapshot_fuzz.py), kept as plain
tests: each mutation once crashed a doctor rule or the loader with a traceback; now it
is refused on load with the path of the field, or diagnosed."""

from __future__ import annotations

from typing import Any

import pytest

from mlkube.doctor import diagnose
from mlkube.errors import InputError
from mlkube.snapshots.evidence import Evidence

from .test_snapshot_fuzz import Mutation, mutate

CQ = "kueue.x-k8s.io/v1beta2/ClusterQueue"

# (snapshot, mutations, the field the error names); the comment is where it crashed.
REFUSED: list[tuple[str, list[Mutation], str]] = [
    # rules/doctor/scheduling.py _gpu_usage: None.get / int not iterable / KeyError 'name'
    ("distributed-job-incomplete/passes.json",
     [(("objects", CQ, 1, "status", "flavorsReservation", 1), "replace", None)],
     f'objects["{CQ}"][1].status.flavorsReservation[1]'),
    ("distributed-job-incomplete/passes.json",
     [(("objects", CQ, 1, "status", "flavorsReservation", 1, "resources"), "replace", 7)],
     f'objects["{CQ}"][1].status.flavorsReservation[1].resources'),
    ("distributed-job-incomplete/passes.json",
     [(("objects", CQ, 1, "status", "flavorsReservation", 1, "name"), "drop", None)],
     f'objects["{CQ}"][1].status.flavorsReservation[1].name'),
    # scheduling.py kueue_workload_pending: KeyError 'metadata' of a LocalQueue
    ("container-crash-looping/fires.json",
     [(("objects", "kueue.x-k8s.io/v1beta2/LocalQueue", 1, "metadata"), "replace", None)],
     'objects["kueue.x-k8s.io/v1beta2/LocalQueue"][1].metadata'),
    # the reproducer: manifests/objects.py condition() on an int status
    ("distributed-job-incomplete/fires.json",
     [(("objects", "kubeflow.org/v1/PyTorchJob", 0, "status"), "replace", 7)],
     'objects["kubeflow.org/v1/PyTorchJob"][0].status'),
    # manifests/nodes.py gpu_labelled: labels that are a list
    ("pod-unschedulable/fires.json",
     [(("objects", "v1/Node", 4, "metadata", "labels"), "replace", [{}])],
     'objects["v1/Node"][4].metadata.labels'),
    # scheduling.py _untolerated: a taint without its key (KeyError) or not an object
    ("rendezvous-blocked-by-policy/fires.json",
     [(("objects", "v1/Node", 0, "spec", "taints"), "replace", [7])],
     'objects["v1/Node"][0].spec.taints[0]'),
    # common.py container_spec / gpus_of: containers that are an int, or hold a null
    ("container-crash-looping/passes.json",
     [(("objects", "v1/Pod", 0, "spec", "containers"), "replace", -1)],
     'objects["v1/Pod"][0].spec.containers'),
    ("rendezvous-blocked-by-policy/fires.json",
     [(("objects", "v1/Pod", 1, "spec", "containers"), "null-in-list", 0)],
     'objects["v1/Pod"][1].spec.containers[0]'),
    # pods.py pod_oom_killed: a container status that is a string
    ("rendezvous-blocked-by-policy/passes.json",
     [(("objects", "v1/Pod", 0, "status", "containerStatuses", 0), "replace", "Running")],
     'objects["v1/Pod"][0].status.containerStatuses[0]'),
    # workloads.py quota_exceeded: involvedObject that is a list
    ("kueue-workload-pending/fires.json",
     [(("objects", "v1/Event", 14, "involvedObject"), "replace", [None])],
     'objects["v1/Event"][14].involvedObject'),
    # workloads.py distributed_job_incomplete: a replica spec that is a list; a label
    # that is an object (unhashable in a dict key)
    ("kueue-workload-pending/fires.json",
     [(("objects", "kubeflow.org/v1/PyTorchJob", 0, "spec", "pytorchReplicaSpecs", "Worker"),
       "replace", [7])],
     'objects["kubeflow.org/v1/PyTorchJob"][0].spec.pytorchReplicaSpecs.Worker'),
    ("kueue-workload-pending/passes.json",
     [(("objects", "v1/Pod", 0, "metadata", "labels", "training.kubeflow.org/job-name"),
       "replace", {})],
     'objects["v1/Pod"][0].metadata.labels["training.kubeflow.org/job-name"]'),
    # workloads.py: a Service without a name (KeyError), objects that are not a list
    ("distributed-job-incomplete/fires.json",
     [(("objects", "v1/Service", 0, "metadata", "name"), "drop", None)],
     'objects["v1/Service"][0].metadata.name'),
    ("pod-oom-killed/passes.json",
     [(("objects", "networking.k8s.io/v1/NetworkPolicy"), "replace", -2147483648)],
     'objects["networking.k8s.io/v1/NetworkPolicy"]'),
    # workloads.py endpoint_not_ready: spec that is a list
    ("endpoint-not-ready/fires.json",
     [(("objects", "serving.kserve.io/v1beta1/InferenceService", 0, "spec"), "replace", ["x"])],
     'objects["serving.kserve.io/v1beta1/InferenceService"][0].spec'),
    # snapshots/evidence.py Evidence.of: objects that is an int
    ("endpoint-not-ready/passes.json", [(("objects",), "replace", 7)], "objects"),
    # pods.py pod_oom_killed: 1.5 x a memory limit of 1.7e308 overflowed round()
    ("pod-oom-killed/fires.json",
     [(("objects", "v1/Pod", 0, "spec", "containers", 0, "resources", "limits", "memory"),
       "replace", "1.7e308")],
     'objects["v1/Pod"][0].spec.containers[0].resources.limits.memory'),
]  # fmt: skip


@pytest.mark.parametrize(("fixture", "changes", "field"), REFUSED, ids=lambda v: str(v)[:40])
def test_a_mutation_that_crashed_a_rule_is_refused_with_its_field(
    fixture: str, changes: list[Mutation], field: str
) -> None:
    with pytest.raises(InputError) as caught:
        Evidence.parse(mutate(fixture, changes), "snapshot.json")
    assert caught.value.message.startswith(f"{field}: ")


def _diagnosed(fixture: str, changes: list[Mutation]) -> list[Any]:
    return diagnose(Evidence.parse(mutate(fixture, changes), "snapshot.json"))


def test_a_null_status_is_an_absent_one_and_still_diagnosed() -> None:
    """Crashed common.py (``pod.get("status", {})`` returned None): null is unset."""
    findings = _diagnosed(
        "pod-unschedulable/fires.json", [(("objects", "v1/Pod", 2, "status"), "replace", None)]
    )
    assert {f.where.obj.name for f in findings if f.rule == "DK201"} == {"notol", "toomany"}


def test_a_huge_but_real_memory_limit_still_gets_a_concrete_fix() -> None:
    path = ("objects", "v1/Pod", 0, "spec", "containers", 0, "resources", "limits", "memory")
    (finding,) = _diagnosed("pod-oom-killed/fires.json", [(path, "replace", "4Ei")])
    assert "to 6291456Ti (1.5x)" in finding.remediation  # 6Ei, in the largest unit it uses
