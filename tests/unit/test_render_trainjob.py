"""Kubeflow Trainer v2: the Platform's ClusterTrainingRuntimes and a job's TrainJob."""

from __future__ import annotations

from typing import Any

from mlkube.manifests.yamlstream import read_text
from mlkube.render import render_specs
from mlkube.spec import load_specs

from .test_render_decisions import job, one, render


def runtimes(bundle: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {o["metadata"]["name"]: o for o in bundle if o["kind"] == "ClusterTrainingRuntime"}


def test_one_runtime_per_priority_class_and_grace_period() -> None:
    # Grace periods a job of this Platform may need: the default (none), 120 s for an
    # on-demand job that checkpoints, and 105 s on the AWS spot pool (a 120 s notice
    # less 15 s for the node to shut down).
    found = runtimes(render(""))
    assert sorted(found) == [
        "mlkube-torch", "mlkube-torch-grace105s", "mlkube-torch-grace120s",
        "mlkube-torch-high", "mlkube-torch-high-grace105s", "mlkube-torch-high-grace120s",
    ]  # fmt: skip

    def pod(name: str) -> dict[str, Any]:
        node = found[name]["spec"]["template"]["spec"]["replicatedJobs"][0]
        return node["template"]["spec"]["template"]["spec"]  # type: ignore[no-any-return]

    assert pod("mlkube-torch-high-grace105s")["priorityClassName"] == "high"
    assert pod("mlkube-torch-high-grace105s")["terminationGracePeriodSeconds"] == 105
    assert "priorityClassName" not in pod("mlkube-torch")
    assert "terminationGracePeriodSeconds" not in pod("mlkube-torch-high")
    # GCP's 30 s notice (GKE gives pods 15 s of it): 15 s
    assert "mlkube-torch-grace15s" in runtimes(render("", provider="gcp"))


def test_the_grace_period_is_the_runtimes_not_the_patchs() -> None:
    # Kueue v0.19.2 updates an admitted TrainJob with Trainer v2.2.1's types, whose
    # PodSpecPatch has no terminationGracePeriodSeconds: a patch's would be dropped, and
    # JobSet refuses the changed template (seen on the local cluster).
    train = one(render(job(pool="spot", spot="true", checkpoint="{uri: s3://b/c}")), "TrainJob")
    assert train["spec"]["runtimeRef"]["name"] == "mlkube-torch-grace105s"
    patch = train["spec"]["runtimePatches"][0]["trainingRuntimeSpec"]["template"]["spec"]
    pod = patch["replicatedJobs"][0]["template"]["spec"]["template"]["spec"]
    assert "terminationGracePeriodSeconds" not in pod


def test_a_disruption_restarts_the_jobset_without_spending_a_restart() -> None:
    spec = runtimes(render(""))["mlkube-torch-grace105s"]["spec"]["template"]["spec"]
    (rule,) = spec["failurePolicy"]["rules"]
    assert rule["action"] == "RestartJobSetAndIgnoreMaxRestarts"
    assert rule["onJobFailureReasons"] == ["PodFailurePolicy"]  # batch/v1's reason
    job_spec = spec["replicatedJobs"][0]["template"]["spec"]
    (pod_rule,) = job_spec["podFailurePolicy"]["rules"]
    assert pod_rule == {"action": "FailJob", "onPodConditions": [{"type": "DisruptionTarget"}]}
    # podFailurePolicy is refused with restartPolicy OnFailure, JobSet's default
    assert job_spec["template"]["spec"]["restartPolicy"] == "Never"


def test_the_legacy_operator_renders_no_runtimes() -> None:
    assert runtimes(render("", operator="training-operator")) == {}


def test_trainjob_names_its_runtime_and_sizes_its_nodes() -> None:
    train = one(render(job(priority="high", gpusPerNode="4", env="{A: b}")), "TrainJob")
    assert train["spec"]["runtimeRef"] == {
        "name": "mlkube-torch-high", "apiGroup": "trainer.kubeflow.org",
        "kind": "ClusterTrainingRuntime",
    }  # fmt: skip
    trainer = train["spec"]["trainer"]
    assert (trainer["numNodes"], trainer["numProcPerNode"]) == (2, 4)
    assert trainer["resourcesPerNode"]["limits"]["nvidia.com/gpu"] == "4"
    assert trainer["env"] == [{"name": "A", "value": "b"}]


def test_mlkube_env_goes_in_the_trainer_block_not_the_patch() -> None:
    # Trainer's webhook refuses env patches of the `node` container
    # (pkg/runtime/framework/plugins/jobset/jobset.go, v2.3.0).
    train = one(render(job(checkpoint="{uri: s3://b/c}")), "TrainJob")
    names = [e["name"] for e in train["spec"]["trainer"]["env"]]
    assert "MLKUBE_CHECKPOINT_URI" in names and "MLKUBE_PODINFO_DIR" in names
    (patch,) = train["spec"]["runtimePatches"]
    assert patch["manager"] == "mlkube.dev/render"
    node = patch["trainingRuntimeSpec"]["template"]["spec"]["replicatedJobs"][0]
    (container,) = node["template"]["spec"]["template"]["spec"]["containers"]
    assert container["name"] == "node" and "env" not in container
    assert {m["name"] for m in container["volumeMounts"]} == {"dshm", "podinfo"}


def test_without_a_platform_a_job_renders_a_trainjob() -> None:
    text = "apiVersion: mlkube.dev/v1alpha1\nkind: TrainingJob\nmetadata: {name: j}\n"
    text += "spec: {image: 't:1', memory: 8Gi}\n"
    (train,) = render_specs(load_specs(read_text(text, "j.yaml")))
    assert train["kind"] == "TrainJob"
    assert train["spec"]["runtimeRef"]["name"] == "mlkube-torch"
    assert train["spec"]["trainer"]["numProcPerNode"] == 1
