"""schema-invalid finds what the API server refuses to decode, and only that.

For each finding of its firing fixture, the document with every other flagged field
set to null (which decodes to the zero value) is refused by the local API server
(server-side dry run) at decoding: a built-in kind "cannot be handled", a CRD's error
names the field. Each document of its passing fixture is accepted. Kinds the local
cluster does not serve are left out."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from mlkube.cluster.client import ApiError, Kube, NotServed
from mlkube.lint import lint_manifests
from mlkube.manifests.objects import Manifest, manifests
from mlkube.manifests.yamlstream import read_paths
from mlkube.rules.model import Finding

FIXTURES = Path(__file__).parent.parent / "rules" / "schema-invalid"


def _documents(name: str) -> list[Manifest]:
    return list(manifests(read_paths([str(FIXTURES / name)])))


def _dry_run(kube: Kube, m: Manifest) -> dict[str, Any] | str:
    """The object the server would store, or its refusal."""
    try:
        resource = kube.resource(m.ref.api_version, m.ref.kind)
    except NotServed:
        pytest.skip(f"{m.ref.kind} is not served by the local cluster")
    try:
        result: dict[str, Any] = kube.request(
            "POST",
            resource.path(m.ref.namespace or "default"),
            params={"dryRun": "All", "fieldValidation": "Ignore"},
            content=json.dumps(_as_go_json(m.obj)).encode(),
            headers={"Content-Type": "application/json"},
        )
    except ApiError as exc:
        if "409" in str(exc):  # a name taken: decoded and validated before that
            return {}
        return str(exc)
    return result


def _as_go_json(value: Any) -> Any:
    """As sigs.k8s.io/yaml writes it: a whole float is written without `.0` (Go's
    json.Marshal of float64 3 is `3`), so `replicas: 3.0` reaches the server as 3."""
    if isinstance(value, dict):
        return {k: _as_go_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_as_go_json(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _findings(m: Manifest) -> list[Finding]:
    return [f for f in lint_manifests([m]).findings if f.rule == "MK001"]


def _path(field: str) -> list[str | int]:
    """``a.b[0]["c.d"]`` as steps (the fields in the fixture use no quoted keys)."""
    steps: list[str | int] = []
    for part in field.split("."):
        name, *indexes = part.split("[")
        steps.append(name)
        steps += [int(i.rstrip("]")) for i in indexes]
    return steps


def _null(obj: dict[str, Any], field: str) -> None:
    *parents, last = _path(field)
    target: Any = obj
    for step in parents:
        target = target[step]
    target[last] = None


CASES = [(i, j) for i, m in enumerate(_documents("fires.yaml")) for j in range(len(_findings(m)))]


@pytest.mark.parametrize(("index", "finding"), CASES)
def test_what_schema_invalid_finds_the_server_refuses(kube: Kube, index: int, finding: int) -> None:
    m = _documents("fires.yaml")[index]
    fields = [f.where.field for f in _findings(m)]
    alone = copy.deepcopy(m.obj)
    for other in fields[:finding] + fields[finding + 1 :]:
        _null(alone, other)
    refusal = _dry_run(kube, Manifest(alone, m.ref, m.doc))
    assert isinstance(refusal, str), f"the server accepted {m.ref} with {fields[finding]}"
    decoding = f"cannot be handled as a {m.ref.kind}" in refusal
    name = fields[finding].rpartition(".")[2].partition("[")[0]
    assert decoding or name in refusal, (fields[finding], refusal)


@pytest.mark.parametrize("index", range(len(_documents("passes.yaml"))))
def test_what_schema_invalid_passes_the_server_decodes(kube: Kube, index: int) -> None:
    m = _documents("passes.yaml")[index]
    assert not _findings(m)
    stored = _dry_run(kube, m)
    assert isinstance(stored, dict), stored
