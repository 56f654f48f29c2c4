from __future__ import annotations

from pathlib import Path

import pytest

from mlkube.errors import InputError
from mlkube.manifests.yamlstream import read_text
from mlkube.render import render_specs
from mlkube.spec import TrainingJob, load_specs
from mlkube.spec.docs import reference

JOB = """\
apiVersion: mlkube.dev/v1alpha1
kind: TrainingJob
metadata:
  name: train
  namespace: ml
spec:
  image: trainer:1.0
  nodes: {nodes}
  memory: {memory}
{extra}"""


def job(nodes: str = "2", memory: str = "16Gi", extra: str = "") -> str:
    return JOB.format(nodes=nodes, memory=memory, extra=extra)


def load(text: str) -> list[object]:
    return [f.spec for f in load_specs(read_text(text, "job.yaml"))]


def error(text: str) -> str:
    with pytest.raises(InputError) as info:
        render_specs(load_specs(read_text(text, "job.yaml")))
    return str(info.value)


def test_valid_job_loads_with_defaults() -> None:
    (spec,) = load(job())
    assert isinstance(spec, TrainingJob)
    assert spec.spec.nodes == 2 and spec.spec.gpus_per_node == 1 and not spec.spec.spot


def test_wrong_type_names_file_line_and_field() -> None:
    assert error(job(nodes="many")).startswith("job.yaml:8: spec.nodes: Input should be")


def test_bad_quantity_is_explained() -> None:
    message = error(job(memory="lots"))
    assert message.startswith("job.yaml:9: spec.memory")
    assert "not a positive Kubernetes quantity" in message


def test_missing_required_field_points_at_its_parent() -> None:
    text = job().replace("  memory: 16Gi\n", "")
    assert error(text).startswith("job.yaml:6: spec.memory: Field required")


def test_unknown_field_is_refused() -> None:
    assert error(job(extra="  gpus: 4\n")).startswith("job.yaml:10: spec.gpus: Extra inputs")


def test_spot_without_checkpoint_is_refused() -> None:
    assert "spot job needs a checkpoint" in error(job(extra="  spot: true\n"))


def test_unknown_kind_is_refused() -> None:
    text = job().replace("kind: TrainingJob", "kind: TrainingJobs")
    assert error(text).startswith("job.yaml:2: unknown kind 'TrainingJobs'")


def test_pool_must_exist_in_a_platform() -> None:
    message = error(job(extra="  pool: a100\n"))
    assert message.startswith("job.yaml:10: spec.pool: pool 'a100' is not defined")


def test_two_specs_rendering_the_same_object_are_refused() -> None:
    assert "already renders TrainJob ml/train" in error(job() + "---\n" + job())


def test_spec_reference_in_docs_is_current() -> None:
    docs = Path(__file__).parents[2] / "docs" / "spec.md"
    assert docs.read_text() == reference(), "regenerate: python -m mlkube.spec.docs > docs/spec.md"


def test_borrowing_needs_a_cohort() -> None:
    text = """\
apiVersion: mlkube.dev/v1alpha1
kind: Platform
metadata: {name: p}
spec:
  pools: [{name: a, gpu: {model: A100, count: 8}, nodes: 1, zones: [z]}]
  namespaces: [{name: ml}]
  queues:
    - name: q
      namespaces: [ml]
      flavors: [{pool: a, borrowingLimit: 2}]
"""
    assert "borrowingLimit needs a cohort" in error(text)
