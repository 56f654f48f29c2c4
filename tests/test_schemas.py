"""Every rendered object validates against the real schemas: Kubernetes' OpenAPI for
built-in kinds (kubernetes-validate), the released CRDs for Kubeflow, KServe, Kueue.

Validation is strict, as ``kubectl apply`` (fieldValidation=Strict) is: a field the
schema does not know is an error, not silently pruned. CEL rules are not evaluated
here; the server dry-run against the local cluster covers them.
"""

from __future__ import annotations

import copy
from functools import cache
from typing import Any

import jsonschema
import kubernetes_validate
import pytest

from mlkube.crds import load_crds
from mlkube.manifests.yamlstream import read_text
from mlkube.render import render_paths, render_specs
from mlkube.spec import load_specs

from .conftest import EXAMPLES
from .golden_bundles import legacy_platform

K8S_VERSION = "1.34.0"


@cache
def crd_schemas() -> dict[tuple[str, str], dict[str, Any]]:
    """(apiVersion, kind) → the strict openAPIV3Schema of each served version."""
    out = {}
    for crd in load_crds():
        spec = crd["spec"]
        for version in spec["versions"]:
            if version.get("served"):
                key = (f"{spec['group']}/{version['name']}", spec["names"]["kind"])
                out[key] = _strict(copy.deepcopy(version["schema"]["openAPIV3Schema"]))
    return out


def _strict(schema: dict[str, Any]) -> dict[str, Any]:
    if (
        "properties" in schema
        and "additionalProperties" not in schema
        and not schema.get("x-kubernetes-preserve-unknown-fields")
    ):
        schema["additionalProperties"] = False
    for value in schema.get("properties", {}).values():
        _strict(value)
    for key in ("items", "additionalProperties"):
        if isinstance(schema.get(key), dict):
            _strict(schema[key])
    for key in ("allOf", "anyOf", "oneOf"):
        for sub in schema.get(key, []):
            _strict(sub)
    return schema


def validate(obj: dict[str, Any]) -> str | None:
    key = (obj["apiVersion"], obj["kind"])
    schema = crd_schemas().get(key)
    if schema is not None:
        errors = sorted(jsonschema.Draft7Validator(schema).iter_errors(obj), key=str)
        return "; ".join(f"{list(e.absolute_path)}: {e.message}" for e in errors) or None
    try:
        kubernetes_validate.validate(obj, K8S_VERSION, strict=True)
    except kubernetes_validate.ValidationError as exc:
        return f"{list(exc.absolute_path)}: {exc.message}"
    return None


BUNDLE = render_paths([str(EXAMPLES)])
# The legacy path: the same jobs as PyTorchJobs (the rest of the bundle is the same).
LEGACY = [
    o
    for o in render_specs(
        load_specs(
            read_text(legacy_platform(), "platform.yaml")
            + [d for n in ("resnet-training.yaml", "spot-training.yaml")
               for d in read_text((EXAMPLES / n).read_text(), n)]
        )
    )
    if o["apiVersion"] == "kubeflow.org/v1"
]  # fmt: skip


@pytest.mark.parametrize(
    "obj",
    BUNDLE + LEGACY,
    ids=[
        f"{o['kind']}-{o['metadata'].get('namespace', '')}-{o['metadata']['name']}"
        for o in BUNDLE + LEGACY
    ],
)
def test_rendered_object_validates(obj: dict[str, Any]) -> None:
    assert validate(obj) is None


def test_both_training_operators_are_validated() -> None:
    kinds = {o["kind"] for o in BUNDLE + LEGACY}
    assert {"TrainJob", "ClusterTrainingRuntime", "PyTorchJob"} <= kinds


def test_every_custom_kind_has_a_real_schema() -> None:
    builtin_groups = {"v1", "apps/v1", "policy/v1", "autoscaling/v2", "scheduling.k8s.io/v1",
                      "networking.k8s.io/v1", "batch/v1",
                      "rbac.authorization.k8s.io/v1"}  # fmt: skip
    custom = {
        (o["apiVersion"], o["kind"])
        for o in BUNDLE + LEGACY
        if o["apiVersion"] not in builtin_groups
    }
    assert custom and custom <= set(crd_schemas())


def test_strict_validation_catches_a_misspelt_field() -> None:
    job = next(o for o in LEGACY if o["kind"] == "PyTorchJob")
    broken = copy.deepcopy(job)
    broken["spec"]["pytorchReplicaSpecs"]["Master"]["replica"] = 1
    assert "replica" in (validate(broken) or "")
    trainjob = copy.deepcopy(next(o for o in BUNDLE if o["kind"] == "TrainJob"))
    patch = trainjob["spec"]["runtimePatches"][0]["trainingRuntimeSpec"]["template"]["spec"]
    patch["replicatedJobs"][0]["template"]["spec"]["template"]["spec"]["priorityClassName"] = "x"
    assert "priorityClassName" in (validate(trainjob) or "")  # PodSpecPatch has none
    runtime = copy.deepcopy(next(o for o in BUNDLE if o["kind"] == "ClusterTrainingRuntime"))
    del runtime["spec"]["template"]["spec"]["failurePolicy"]["rules"][0]["name"]
    assert "name" in (validate(runtime) or "")
    quota = copy.deepcopy(next(o for o in BUNDLE if o["kind"] == "ResourceQuota"))
    quota["spec"]["hardd"] = quota["spec"].pop("hard")
    assert "hardd" in (validate(quota) or "")
