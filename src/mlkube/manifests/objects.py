"""Kubernetes objects read from YAML, and the locations findings point at."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mlkube.errors import InputError
from mlkube.manifests.fieldpath import FieldPath
from mlkube.wellknown import ISVC_MODE_ANNOTATION

if TYPE_CHECKING:  # PyYAML loads with the first document read, not with the rules
    from mlkube.manifests.yamlstream import Document


@dataclass(frozen=True, slots=True)
class ObjectRef:
    """Which object: the four fields every finding names."""

    api_version: str
    kind: str
    namespace: str | None
    name: str

    @property
    def group(self) -> str:
        return self.api_version.rpartition("/")[0]

    def to_dict(self) -> dict[str, str | None]:
        return {
            "apiVersion": self.api_version,
            "kind": self.kind,
            "namespace": self.namespace,
            "name": self.name,
        }

    def __str__(self) -> str:
        where = f"{self.namespace}/" if self.namespace else ""
        return f"{self.kind} {where}{self.name}"


@dataclass(frozen=True, slots=True)
class Location:
    """Where a finding points: a file and line, an object, and a field path in it."""

    source: str
    line: int
    obj: ObjectRef
    field: str


def format_path(path: Iterable[str | int]) -> str:
    """``spec.containers[0].resources.limits["nvidia.com/gpu"]``, as users read paths."""
    out = ""
    for step in path:
        if isinstance(step, int):
            out += f"[{step}]"
            continue
        key = str(step)  # keys read from YAML are strings; live objects may differ
        if "." in key or "/" in key or not key:
            out += f'["{key}"]'
        else:
            out += f".{key}" if out else key
    return out


@dataclass(frozen=True, slots=True, eq=False)
class Manifest:
    """One Kubernetes object and the document it came from (compared by identity)."""

    obj: dict[str, Any]
    ref: ObjectRef
    doc: Document
    base: FieldPath = ()  # where the object sits in its document (items of a List)

    @property
    def source(self) -> str:
        return self.doc.source

    @property
    def labels(self) -> dict[str, str]:
        return as_str_map(self.get("metadata", "labels"))

    @property
    def annotations(self) -> dict[str, str]:
        return as_str_map(self.get("metadata", "annotations"))

    def get(self, *path: str | int) -> Any:
        return dig(self.obj, path)

    def at(self, *path: str | int) -> Location:
        """The location of ``path`` (or of its deepest existing parent)."""
        return Location(
            self.source, self.doc.line_of(self.base + path), self.ref, format_path(path)
        )


def live_manifest(obj: dict[str, Any], source: str) -> Manifest:
    """An object read from a cluster, as a Manifest, so that rules written for
    manifests judge live objects too (its "lines" are those of its JSON form)."""
    import yaml  # noqa: PLC0415 - see the imports above

    from mlkube.manifests.yamlstream import Document  # noqa: PLC0415

    node = yaml.compose(json.dumps(obj, indent=1), Loader=yaml.SafeLoader)
    assert node is not None  # JSON of an object is never empty
    return _manifest(obj, Document(obj, source, node), ())


def dig(value: Any, path: Iterable[str | int]) -> Any:
    """``value[path[0]][path[1]]…``, or None where any step is missing or mistyped."""
    for step in path:
        if isinstance(step, int):
            if not isinstance(value, list) or not -len(value) <= step < len(value):
                return None
        elif not isinstance(value, dict):
            return None
        value = value[step] if isinstance(step, int) else value.get(step)
    return value


def condition(obj: dict[str, Any], kind: str) -> dict[str, Any]:
    """The ``status.conditions`` entry of type ``kind``, or {}."""
    for c in (obj.get("status") or {}).get("conditions") or []:
        if isinstance(c, dict) and c.get("type") == kind:
            return c
    return {}


def deployment_mode(isvc: dict[str, Any]) -> str | None:
    """An InferenceService's deployment mode: the one KServe resolved (status), else the
    one its annotation asks for; None when neither says."""
    resolved = (isvc.get("status") or {}).get("deploymentMode")
    asked = ((isvc.get("metadata") or {}).get("annotations") or {}).get(ISVC_MODE_ANNOTATION)
    return str(resolved or asked) if (resolved or asked) else None


def as_str_map(value: Any) -> dict[str, str]:
    """A map of strings (labels, annotations, data); entries that are lists or maps are
    left out (the schema-invalid rule reports them), scalars are read as text."""
    if not isinstance(value, dict):
        return {}
    return {str(k): str(v) for k, v in value.items() if not isinstance(v, list | dict)}


def not_an_object(value: Any) -> str | None:
    """Why a document is not a Kubernetes object (None when it is one): a JSON request
    body or a Helm values file is YAML, but nothing the API server would take."""
    if not isinstance(value, dict):
        return f"expected a Kubernetes object, found a {type(value).__name__}"
    for key in ("apiVersion", "kind"):
        if not isinstance(value.get(key), str) or not value[key]:
            return f"object has no {key}"
    return None


def manifests(documents: Iterable[Document]) -> Iterator[Manifest]:
    """Kubernetes objects of YAML documents; ``List`` kinds are opened into their items.

    A document that is not an object is an InputError (see `not_an_object`)."""
    for doc in documents:
        if doc.obj is None:  # an empty document, as Helm leaves between templates
            continue
        problem = not_an_object(doc.obj)
        if problem is not None:
            raise InputError(doc.source, doc.line, problem)
        if doc.obj.get("kind") == "List" and isinstance(doc.obj.get("items"), list):
            for i, item in enumerate(doc.obj["items"]):
                if isinstance(item, dict):
                    yield _manifest(item, doc, ("items", i))
            continue
        yield _manifest(doc.obj, doc, ())


def _manifest(obj: dict[str, Any], doc: Document, base: FieldPath) -> Manifest:
    line = doc.line_of(base)
    api_version, kind = obj.get("apiVersion"), obj.get("kind")
    if not isinstance(api_version, str) or not api_version:
        raise InputError(doc.source, line, "object has no apiVersion")
    if not isinstance(kind, str) or not kind:
        raise InputError(doc.source, line, "object has no kind")
    meta = obj.get("metadata")
    meta = meta if isinstance(meta, dict) else {}
    namespace = meta.get("namespace")
    name = meta.get("name") or meta.get("generateName") or ""
    ref = ObjectRef(api_version, kind, str(namespace) if namespace else None, str(name))
    return Manifest(obj, ref, doc, base)
