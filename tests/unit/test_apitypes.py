"""The OpenAPI type tables lint checks every built-in field against (issue 17 §3)."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlkube.lint import lint_manifests
from mlkube.manifests.objects import manifests
from mlkube.manifests.yamlstream import read_text
from mlkube.rules.lint import apitypes


def test_the_tables_are_current() -> None:
    """Regenerated from kubernetes-validate's copy of the Kubernetes OpenAPI."""
    current = Path(apitypes.__file__).with_name("apitypes.json").read_text()
    assert current == apitypes.dumps(apitypes.generate()), (
        "regenerate: python -m mlkube.rules.lint.apitypes_build"
        " > src/mlkube/rules/lint/apitypes.json"
    )


def test_the_tables_hold_what_the_openapi_says() -> None:
    """Spot checks against the Kubernetes API reference (apps/v1 DeploymentSpec,
    core/v1 Container, ServicePort, ResourceRequirements)."""
    deployment = apitypes.of_kind("apps/v1", "Deployment")
    assert isinstance(deployment, dict)
    spec = deployment["spec"]
    assert isinstance(spec, dict)
    assert spec["replicas"] == "i32" and spec["paused"] == "b"
    container = apitypes.definition("io.k8s.api.core.v1.Container")
    assert isinstance(container, dict)
    assert container["args"] == ["a", "s"] and container["ports"][0] == "a"
    requirements = container["resources"]
    assert isinstance(requirements, dict) and requirements["limits"] == ["m", "q"]
    port = apitypes.definition("io.k8s.api.core.v1.ServicePort")
    assert isinstance(port, dict) and port["targetPort"] == "x" and port["port"] == "i32"
    assert apitypes.of_kind("example.com/v1", "Widget") is None


def _mk001(text: str) -> list[tuple[int, str, str]]:
    report = lint_manifests(manifests(read_text(text, "t.yaml")))
    return [(f.where.line, f.where.field, f.message) for f in report.findings if f.rule == "MK001"]


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("spec.ports[0].port", '"80"', "expected an int32, found the string '80'"),
        ("spec.ports[0].targetPort", "[80]", "expected an integer or a string, found a list"),
        ("spec.sessionAffinityConfig", "true", "expected a mapping, found the boolean true"),
        ("spec.externalIPs", "1.2.3.4", "expected a list, found the string '1.2.3.4'"),
    ],
)
def test_every_field_of_a_built_in_kind_is_typed(field: str, value: str, expected: str) -> None:
    lines = {
        "spec.ports[0].port": "  ports:\n  - port: {v}\n",
        "spec.ports[0].targetPort": "  ports:\n  - port: 80\n    targetPort: {v}\n",
        "spec.sessionAffinityConfig": "  sessionAffinityConfig: {v}\n",
        "spec.externalIPs": "  externalIPs: {v}\n",
    }
    text = "apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec:\n" + lines[field].format(
        v=value
    )
    ((line, found_field, message),) = _mk001(text)
    assert (found_field, message) == (field, expected)
    assert line == text.count("\n")  # the last line holds the value


def test_unknown_fields_and_nulls_are_left_to_the_api_server() -> None:
    text = (
        "apiVersion: v1\nkind: Service\nmetadata: {name: s, creationTimestamp: null}\n"
        "spec:\n  notAField: 3\n  ports:\n  - port: 80.0\n    targetPort: http\n"
    )
    assert _mk001(text) == []


def test_the_ml_kinds_are_typed_by_their_released_crds() -> None:
    """JobSet's spec.suspend is a boolean and Kueue's ClusterQueue resourceGroups a list
    (sigs.k8s.io/jobset v0.12.0 and sigs.k8s.io/kueue v0.19.2 CRDs, as mlkube.crds pins)."""
    text = (
        "apiVersion: jobset.x-k8s.io/v1alpha2\nkind: JobSet\nmetadata: {name: j}\n"
        'spec:\n  suspend: "true"\n'
        "---\napiVersion: kueue.x-k8s.io/v1beta2\nkind: ClusterQueue\nmetadata: {name: q}\n"
        "spec:\n  resourceGroups: {coveredResources: [cpu]}\n"
    )
    assert _mk001(text) == [
        (5, "spec.suspend", "expected true or false, found the string 'true'"),
        (11, "spec.resourceGroups", "expected a list, found a mapping"),
    ]
