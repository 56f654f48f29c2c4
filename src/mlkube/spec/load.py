"""Reading spec documents: each validation error becomes ``file:line: field: problem``."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError

from mlkube.errors import InputError
from mlkube.manifests.objects import format_path
from mlkube.manifests.yamlstream import Document, read_paths
from mlkube.spec.models import InferenceEndpoint, Platform, TrainingJob

API_VERSION = "mlkube.dev/v1alpha1"
Spec = Platform | TrainingJob | InferenceEndpoint
_KINDS: dict[str, type[BaseModel]] = {
    "Platform": Platform,
    "TrainingJob": TrainingJob,
    "InferenceEndpoint": InferenceEndpoint,
}


@dataclass(frozen=True, slots=True)
class SpecFile:
    """A validated spec and the document it was read from (for later errors)."""

    spec: Spec
    doc: Document

    def error(self, path: Iterable[str | int], message: str) -> InputError:
        path = tuple(path)
        return InputError(
            self.doc.source, self.doc.line_of(path), f"{format_path(path)}: {message}"
        )


def is_spec(obj: Any) -> bool:
    return isinstance(obj, dict) and obj.get("apiVersion") == API_VERSION


def load_spec(doc: Document) -> SpecFile:
    """A validated spec; a key given twice is an error (kubectl's strict decoding)."""
    for dup in doc.duplicates:
        where = format_path((*dup.path, dup.key))
        raise InputError(doc.source, dup.line, f"{where}: given twice (first on line {dup.first})")
    obj = doc.obj
    kind = obj.get("kind") if isinstance(obj, dict) else None
    model = _KINDS.get(str(kind))
    if model is None:
        known = ", ".join(_KINDS)
        raise InputError(
            doc.source, doc.line_of(("kind",)), f"unknown kind {kind!r} (one of {known})"
        )
    try:
        spec = model.model_validate(obj)
    except ValidationError as exc:
        error = exc.errors()[0]
        loc = tuple(s for s in error["loc"] if isinstance(s, str | int))
        # Union and validator frames add non-field steps: keep those the document has.
        message = str(error["msg"]).removeprefix("Value error, ")
        where = format_path(loc) or "document"
        raise InputError(doc.source, doc.line_of(loc), f"{where}: {message}") from None
    assert isinstance(spec, Platform | TrainingJob | InferenceEndpoint)
    return SpecFile(spec, doc)


def load_specs(docs: Iterable[Document]) -> list[SpecFile]:
    return [load_spec(d) for d in docs if d.obj is not None]


def load_paths(paths: Sequence[str]) -> list[SpecFile]:
    """Every spec in ``paths``; a document that is not a spec is refused, by its line."""
    docs = []
    for doc in read_paths(paths):
        if doc.obj is None:
            continue
        if not is_spec(doc.obj):
            raise InputError(
                doc.source, doc.line, f"not an mlkube spec (apiVersion: {API_VERSION})"
            )
        docs.append(doc)
    return load_specs(docs)


def load_platform(path: str) -> SpecFile:
    """The one Platform spec in ``path`` (for `cluster up --platform`, `preflight`)."""
    platforms = [f for f in load_specs(read_paths([path])) if isinstance(f.spec, Platform)]
    if len(platforms) != 1:
        raise InputError(path, 1, f"expected exactly one Platform spec, found {len(platforms)}")
    return platforms[0]
