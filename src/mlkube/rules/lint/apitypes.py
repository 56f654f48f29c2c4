"""The type of every field of the built-in kinds, from the Kubernetes OpenAPI, and of
the ML kinds, from their released CRDs.

`apitypes.json` is generated from the OpenAPI definitions of Kubernetes
`K8S_VERSION` (as kubernetes-validate ships them, a development dependency) and the
CRDs of the releases `mlkube.crds` pins (Trainer, JobSet, Training Operator, KServe,
Kueue) by
``python -m mlkube.rules.lint.apitypes_build > src/mlkube/rules/lint/apitypes.json``, and a
test checks it is current. It keeps only what decoding needs, so that lint can check
every field of an object in one cheap walk (no jsonschema at run time):

- a type letter: ``s`` string, ``b`` boolean, ``i`` int64, ``i32`` int32, ``n``
  number, ``q`` quantity, ``x`` int-or-string, ``null`` anything (raw JSON);
- ``["a", item]`` a list, ``["m", value]`` a map, ``{field: type}`` an object;
- ``"#Name"`` a definition of ``defs`` (kept by reference: PodSpec is written once;
  loading links each reference to the definition itself).

``kinds`` maps ``apiVersion/kind`` to its definition. Unknown fields are not checked
(strict field validation is the API server's business), nor are CEL rules, enums or
patterns: this is what decoding refuses, the rest is `kubectl apply --dry-run=server`'s.
"""

from __future__ import annotations

import hashlib
import json
from functools import cache
from pathlib import Path
from typing import Any

K8S_VERSION = "1.37.0"
_DATA = Path(__file__).with_name("apitypes.json")
# Definitions decoded specially, whatever their schema says.
_SPECIAL: dict[str, str | None] = {
    "io.k8s.apimachinery.pkg.api.resource.Quantity": "q",
    "io.k8s.apimachinery.pkg.util.intstr.IntOrString": "x",
    "io.k8s.apimachinery.pkg.apis.meta.v1.Time": "s",
    "io.k8s.apimachinery.pkg.apis.meta.v1.MicroTime": "s",
    "io.k8s.apimachinery.pkg.runtime.RawExtension": None,
    "io.k8s.apimachinery.pkg.apis.meta.v1.FieldsV1": None,
    "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSON": None,
}

Type = str | list[Any] | dict[str, Any] | None


@cache
def _tables() -> tuple[dict[str, Type], dict[str, str]]:
    """The tables, with every ``#Name`` replaced by the definition itself (shared, so
    recursive definitions stay finite), for a walk with no lookups."""
    data = json.loads(_DATA.read_text())
    defs: dict[str, Type] = data["defs"]

    def link(kind: Type) -> Type:
        return defs.get(kind[1:]) if isinstance(kind, str) and kind.startswith("#") else kind

    todo: list[Type] = list(defs.values())
    seen: set[int] = set()
    while todo:
        kind = todo.pop()
        if id(kind) in seen:
            continue
        seen.add(id(kind))
        if isinstance(kind, dict):
            for name, sub in kind.items():
                kind[name] = link(sub)
                todo.append(kind[name])
        elif isinstance(kind, list):
            kind[1] = link(kind[1])
            todo.append(kind[1])
    return defs, data["kinds"]


def of_kind(api_version: str, kind: str) -> Type:
    """The type of objects of ``apiVersion``/``kind``, or None for kinds it lacks."""
    defs, kinds = _tables()
    name = kinds.get(f"{api_version}/{kind}")
    return defs.get(name) if name else None


def definition(name: str) -> Type:
    """The definition ``name`` (``io.k8s.api.core.v1.Container``), linked."""
    return _tables()[0].get(name)


def _type(schema: dict[str, Any]) -> Type:
    """The compact type of one OpenAPI (JSON schema) node."""
    if "$ref" in schema:
        name = str(schema["$ref"]).rpartition("/")[2]
        return _SPECIAL.get(name, f"#{name}")
    if len(schema.get("allOf", ())) == 1:
        return _type(schema["allOf"][0])
    kinds = schema.get("type")
    if isinstance(kinds, list):
        kinds = next(iter(k for k in kinds if k != "null"), None) if len(kinds) <= 2 else None
    if schema.get("format") == "int-or-string":
        return "x"
    simple = {"string": "s", "boolean": "b", "number": "n"}
    if kinds in simple:
        return simple[kinds]
    if kinds == "integer":
        return "i32" if schema.get("format") == "int32" else "i"
    if kinds == "array":
        return ["a", _type(schema.get("items") or {})]
    if "properties" in schema:
        return {k: _type(v) for k, v in schema["properties"].items()}
    extra = schema.get("additionalProperties")
    if isinstance(extra, dict):
        return ["m", _type(extra)]
    return None


def _crd_type(schema: dict[str, Any]) -> Type:
    """The compact type of one node of a CRD's structural schema."""
    if schema.get("x-kubernetes-int-or-string"):
        return "x"
    if schema.get("x-kubernetes-preserve-unknown-fields") and "properties" not in schema:
        return None
    kind = schema.get("type")
    simple = {"string": "s", "boolean": "b", "number": "n"}
    if kind in simple:
        return simple[kind]
    if kind == "integer":
        return "i32" if schema.get("format") == "int32" else "i"
    if kind == "array":
        return ["a", _crd_type(schema.get("items") or {})]
    if "properties" in schema:
        return {k: _crd_type(v) for k, v in schema["properties"].items()}
    extra = schema.get("additionalProperties")
    if isinstance(extra, dict):
        return ["m", _crd_type(extra)]
    return None


def _intern(kind: Type, defs: dict[str, Type]) -> Type:
    """``kind`` with each object type that is not tiny kept once in ``defs`` under the
    hash of its content: the CRDs embed PodSpec inline, many times over."""
    if isinstance(kind, list):
        return [kind[0], _intern(kind[1], defs)]
    if not isinstance(kind, dict):
        return kind
    linked = {k: _intern(v, defs) for k, v in kind.items()}
    if len(linked) < 3:
        return linked
    text = json.dumps(linked, sort_keys=True, separators=(",", ":"))
    name = "crd." + hashlib.sha256(text.encode()).hexdigest()[:16]
    defs.setdefault(name, linked)
    return f"#{name}"


def generate() -> dict[str, Any]:
    """The tables, from kubernetes-validate's copy of the OpenAPI and the released CRDs
    (`mlkube.crds`), both fetched only here, in development."""
    import kubernetes_validate  # noqa: PLC0415 - a development dependency

    from mlkube.crds import load_crds  # noqa: PLC0415 - fetches releases (go mod download)

    root = Path(kubernetes_validate.__file__).parent / "kubernetes-json-schema"
    schemas = json.loads((root / f"v{K8S_VERSION}-local" / "_definitions.json").read_text())
    defs: dict[str, Type] = {}
    kinds: dict[str, str] = {}
    for name, schema in sorted(schemas["$defs"].items()):
        if name in _SPECIAL:
            continue
        defs[name] = _type(schema)
        for gvk in schema.get("x-kubernetes-group-version-kind", ()):
            group = f"{gvk['group']}/" if gvk["group"] else ""
            kinds[f"{group}{gvk['version']}/{gvk['kind']}"] = name
    crds: dict[str, Type] = {}
    for crd in load_crds():
        spec = crd["spec"]
        for version in spec["versions"]:
            if version.get("served"):
                key = f"{spec['group']}/{version['name']}/{spec['names']['kind']}"
                kind = _intern(_crd_type(version["schema"]["openAPIV3Schema"]), crds)
                kinds[key] = kind[1:] if isinstance(kind, str) else key
                if not isinstance(kind, str):
                    crds[key] = kind
    defs.update(sorted(crds.items()))
    return {"version": K8S_VERSION, "defs": defs, "kinds": dict(sorted(kinds.items()))}


def dumps(tables: dict[str, Any]) -> str:
    """One definition a line: small, and diffs stay readable."""
    lines = [
        f"{json.dumps(k)}:{json.dumps(v, separators=(',', ':'))}" for k, v in tables["defs"].items()
    ]
    kinds = json.dumps(tables["kinds"], separators=(",", ":"))
    return (
        f'{{"version":{json.dumps(tables["version"])},\n"kinds":{kinds},\n"defs":{{\n'
        + ",\n".join(lines)
        + "\n}}\n"
    )
