"""The Platform travels with its bundle, and resolves jobs applied without it."""

from __future__ import annotations

import pytest
import yaml

from mlkube.errors import InputError
from mlkube.manifests.yamlstream import read_text
from mlkube.render import render_specs
from mlkube.render.platform import STORED_KEY, STORED_NAME, STORED_NAMESPACE
from mlkube.spec import Platform, load_platform, load_specs

from ..conftest import EXAMPLES

JOB = """\
apiVersion: mlkube.dev/v1alpha1
kind: TrainingJob
metadata: {name: j, namespace: ml-training}
spec: {image: "t:1", nodes: 2, gpusPerNode: 8, memory: 64Gi, pool: a100, queue: training}
"""


def platform() -> Platform:
    spec = load_platform(str(EXAMPLES / "platform.yaml")).spec
    assert isinstance(spec, Platform)
    return spec


def test_the_platform_bundle_stores_the_spec_as_written() -> None:
    bundle = render_specs([load_platform(str(EXAMPLES / "platform.yaml"))])
    (stored,) = [
        o for o in bundle if o["kind"] == "ConfigMap" and o["metadata"]["name"] == STORED_NAME
    ]
    assert stored["metadata"]["namespace"] == STORED_NAMESPACE
    text = stored["data"][STORED_KEY]
    assert Platform.model_validate(yaml.safe_load(text)) == platform()
    assert "kubernetesVersion" in text and "kubernetes_version" not in text  # the YAML's names
    # readable by whoever applies jobs: a Role on exactly that ConfigMap, bound to all users
    (role,) = [o for o in bundle if o["kind"] == "Role"]
    assert role["rules"] == [
        {"apiGroups": [""], "resources": ["configmaps"], "resourceNames": [STORED_NAME],
         "verbs": ["get"]}
    ]  # fmt: skip
    (binding,) = [o for o in bundle if o["kind"] == "RoleBinding"]
    assert binding["roleRef"]["name"] == role["metadata"]["name"]
    assert binding["subjects"][0]["name"] == "system:authenticated"


def test_a_known_platform_resolves_a_job_and_is_not_rendered() -> None:
    bundle = render_specs(load_specs(read_text(JOB, "job.yaml")), known=platform())
    # the job's own objects (its peer NetworkPolicy in the isolated namespace), none of the
    # Platform's: it is on the cluster already
    assert sorted(o["kind"] for o in bundle) == ["NetworkPolicy", "TrainJob"]
    job = next(o for o in bundle if o["kind"] == "TrainJob")
    patch = job["spec"]["runtimePatches"][0]["trainingRuntimeSpec"]["template"]["spec"]
    spec = patch["replicatedJobs"][0]["template"]["spec"]["template"]["spec"]
    assert spec["nodeSelector"]["mlkube.dev/pool"] == "a100"


def test_a_known_platform_chooses_the_training_operator() -> None:
    legacy = platform().spec.model_copy(
        update={"training": platform().spec.training.model_copy(
            update={"operator": "training-operator"})}
    )  # fmt: skip
    known = platform().model_copy(update={"spec": legacy})
    bundle = render_specs(load_specs(read_text(JOB, "job.yaml")), known=known)
    assert sorted(o["kind"] for o in bundle) == ["NetworkPolicy", "PyTorchJob"]


def test_without_a_platform_the_error_says_where_one_was_looked_for() -> None:
    origin = "a Platform: none in the input, and none on the cluster"
    with pytest.raises(InputError) as caught:
        render_specs(load_specs(read_text(JOB, "job.yaml")), origin=origin)
    assert str(caught.value) == f"job.yaml:4: spec.pool: pool 'a100' is not defined by {origin}"


def test_a_platform_in_the_input_wins_over_the_known_one() -> None:
    other = platform().model_copy(update={"spec": platform().spec.model_copy(update={"pools": []})})
    text = (EXAMPLES / "platform.yaml").read_text() + "---\n" + JOB
    bundle = render_specs(load_specs(read_text(text, "all.yaml")), known=other, origin="nowhere")
    assert any(o["kind"] == "TrainJob" for o in bundle)
    assert any(o["kind"] == "ClusterQueue" for o in bundle)
