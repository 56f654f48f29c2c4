"""A TrainJob merged with its runtime as Trainer v2.3.0 does it, and where its fields point."""

from __future__ import annotations

import io
from pathlib import Path

from mlkube.lint import lint_paths
from mlkube.manifests.objects import manifests
from mlkube.manifests.trainer import effective, runtime_ref
from mlkube.manifests.workloads import pod_templates
from mlkube.manifests.yamlstream import read_paths

FIXTURES = Path(__file__).parent.parent / "rules"
PASSES = FIXTURES / "shm-missing" / "passes.yaml"


def _objects(path: Path) -> dict[tuple[str, str], object]:
    return {(m.ref.kind, m.ref.name): m for m in manifests(read_paths([str(path)], None))}


def test_patch_and_trainer_merge_into_the_runtime_template() -> None:
    objs = _objects(PASSES)
    job, runtime = objs["TrainJob", "gpt-sft"], objs["ClusterTrainingRuntime", "platform-torch"]
    assert runtime_ref(job) == ("ClusterTrainingRuntime", None, "platform-torch")  # type: ignore[arg-type]
    merged = effective(job, runtime)  # type: ignore[arg-type]
    (t,) = pod_templates(merged)
    assert t.replicas == 2  # trainer.numNodes
    (c,) = t.containers
    assert c.image == "registry.example.com/ml/llama-finetune:0.9.1"
    assert c.accelerators() == 4
    assert [m["mountPath"] for m in c.mounts] == ["/dev/shm"]
    # The image is the TrainJob's; the container's name the runtime's; the mount the patch's.
    assert merged.at(*c.field("image")).obj.kind == "TrainJob"
    assert merged.at(*c.field("image")).field == "spec.trainer.image"
    assert merged.at(*c.field("name")).obj.kind == "ClusterTrainingRuntime"
    assert merged.at(*c.field("volumeMounts", 0)).field.startswith("spec.runtimePatches[0]")
    # A runtime's own mount points at the runtime.
    job, runtime = (
        objs["TrainJob", "bert-pretrain"],
        objs["ClusterTrainingRuntime", "platform-torch-shm"],
    )
    (t,) = pod_templates(effective(job, runtime))  # type: ignore[arg-type]
    at = t.manifest.at(*t.containers[0].field("volumeMounts", 0))
    assert (at.obj.kind, at.field) == (
        "ClusterTrainingRuntime",
        "spec.template.spec.replicatedJobs[0].template.spec.template.spec.containers[0].volumeMounts[0]",
    )


def test_a_trainjob_read_before_its_runtime_waits_for_it() -> None:
    text = PASSES.read_text().split("\n---\n")
    runtime = next(d for d in text if "name: platform-torch\n" in d)
    job = next(d for d in text if "name: bert-pretrain\n" in d)
    other = next(d for d in text if "name: platform-torch-shm\n" in d)
    stream = "\n---\n".join([job, runtime, other]).encode()
    report = lint_paths(["-"], stdin=io.BytesIO(stream))
    assert not [f for f in report.findings if f.name == "shm-missing"]
