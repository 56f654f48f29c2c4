"""Applying objects with server-side apply, in dependency order, saying what changed.

As kubectl does, and where kubectl stops short:
- CRDs go first; objects of a kind that a CRD of the same input defines are applied
  once that CRD is Established and discovery serves the kind. Every kind is checked
  before anything is written, so an unknown kind leaves the cluster untouched.
- A field another field manager owns is a conflict, reported with that manager and
  the fields; ``force`` (``--force-conflicts``) takes them over.
- A server dry run cannot establish a new CRD, so the objects of its kinds are listed
  as not checked, rather than failing the whole dry run as kubectl does ("no matches
  for kind"): everything else is still validated by the server.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from mlkube.cluster.client import ApiError, Kube, Resource
from mlkube.cluster.platform import stored_platform
from mlkube.cluster.waiting import Watched, until
from mlkube.errors import ClusterError, InputError, MlkubeError, UsageError
from mlkube.manifests.order import ordered
from mlkube.manifests.yamlstream import read_paths
from mlkube.render import render_specs
from mlkube.spec import Platform, is_spec, load_specs

CRD = ("apiextensions.k8s.io/v1", "CustomResourceDefinition")
_VOLATILE = ("managedFields", "resourceVersion", "generation", "creationTimestamp", "uid")
_MANAGER = re.compile(r'conflict with "([^"]+)"(?: with subresource "([^"]+)")?')
_MAX_FIELDS = 8


@dataclass(frozen=True)
class Applied:
    kind: str
    namespace: str | None
    name: str
    action: str  # created | configured | unchanged | unchecked
    note: str = ""

    @property
    def said(self) -> str:
        return "not checked" if self.action == "unchecked" else self.action

    def __str__(self) -> str:
        where = f"{self.namespace}/" if self.namespace else ""
        note = f" ({self.note})" if self.note else ""
        return f"{self.kind.lower()} {where}{self.name} {self.said}{note}"


@dataclass(frozen=True)
class Conflict:
    """A field of the applied object that another field manager owns."""

    manager: str
    field: str
    subresource: str = ""


class ApplyConflict(ClusterError):
    """Server-side apply refused: fields owned by other managers (409, not forced)."""

    def __init__(self, what: str, conflicts: Sequence[Conflict]) -> None:
        self.conflicts = list(conflicts)
        owners: dict[str, list[str]] = {}
        for c in self.conflicts:
            owner = f'"{c.manager}"' + (f" (subresource {c.subresource})" if c.subresource else "")
            owners.setdefault(owner, []).append(c.field)
        parts = []
        for owner, fields in owners.items():
            more = f" and {len(fields) - _MAX_FIELDS} more" if len(fields) > _MAX_FIELDS else ""
            parts.append(f"{', '.join(fields[:_MAX_FIELDS])}{more} owned by field manager {owner}")
        super().__init__(
            f"{what}: conflict: {'; '.join(parts)}. Change these fields with that manager, "
            "drop them from the input, or take them over with --force-conflicts"
        )


def conflicts(causes: Iterable[dict[str, Any]]) -> list[Conflict]:
    """The FieldManagerConflict causes of a 409 Status, as the API server words them:
    ``conflict with "kubectl-edit" [with subresource "scale"] using v1 [at <time>]``.
    A cause's type is serialised as ``reason`` (metav1.StatusCause)."""
    out = []
    for cause in causes:
        if cause.get("reason") != "FieldManagerConflict":
            continue
        match = _MANAGER.search(str(cause.get("message", "")))
        manager, subresource = (match.group(1), match.group(2) or "") if match else ("?", "")
        out.append(Conflict(manager, str(cause.get("field", "")), subresource))
    return out


def load_inputs(kube: Kube, paths: Sequence[str]) -> list[dict[str, Any]]:
    """Rendered specs and plain manifests from ``paths``. Jobs and endpoints without a
    Platform in the input are resolved against the Platform the cluster holds."""
    docs = [d for d in read_paths(paths) if d.obj is not None]
    specs = load_specs([d for d in docs if is_spec(d.obj)])
    plain = [d for d in docs if not is_spec(d.obj)]
    for d in plain:
        obj = d.obj
        meta = obj.get("metadata") if isinstance(obj, dict) else None
        if not (
            isinstance(obj, dict)
            and isinstance(obj.get("apiVersion"), str)
            and isinstance(obj.get("kind"), str)
            and isinstance(meta, dict)
            and isinstance(meta.get("name"), str)
        ):
            raise InputError(
                d.source, d.line, "not a Kubernetes object (apiVersion, kind, metadata.name)"
            )
    out: list[dict[str, Any]] = []
    if specs:
        known, origin = None, None
        if not any(isinstance(f.spec, Platform) for f in specs):
            stored = stored_platform(kube)
            known, origin = stored.platform, stored.origin
        out = render_specs(specs, known=known, origin=origin)
    return out + [d.obj for d in plain]


def apply_objects(
    kube: Kube,
    objects: Iterable[dict[str, Any]],
    *,
    dry_run: bool = False,
    force: bool = False,
    namespace: str = "default",
    progress: Callable[[Applied], None] | None = None,
    timeout: float = 60.0,
) -> list[Applied]:
    """Apply ``objects`` (CRDs and namespaces first, workloads last); namespaced objects
    without a namespace go to ``namespace``. ``progress`` hears of each as it is done,
    so what was applied before an error is known."""
    items = ordered(list(objects))
    defined = _defined_by_crds(items)
    plans = [_plan(kube, obj, defined, namespace) for obj in items]  # refuse before writing
    out: list[Applied] = []

    def done(applied: Applied) -> None:
        out.append(applied)
        if progress is not None:
            progress(applied)

    crds = [p for p in plans if (p.obj["apiVersion"], p.obj["kind"]) == CRD]
    rest = [p for p in plans if (p.obj["apiVersion"], p.obj["kind"]) != CRD]
    for plan in crds:
        done(_apply_one(kube, plan, dry_run, force))
    if crds and not dry_run:
        for plan in crds:
            wait_established(kube, plan.obj["metadata"]["name"], timeout)
        for api_version, kind in sorted({(p.obj["apiVersion"], p.obj["kind"]) for p in rest}):
            if (api_version, kind) in defined:
                wait_served(kube, api_version, kind, timeout)
    for plan in rest:
        if plan.pending and dry_run:
            crd = defined[(plan.obj["apiVersion"], plan.obj["kind"])]
            done(
                Applied(
                    plan.obj["kind"],
                    plan.namespace,
                    plan.obj["metadata"]["name"],
                    "unchecked",
                    f"server dry run: served once CRD {crd['metadata']['name']} is applied",
                )
            )
            continue
        done(_apply_one(kube, plan, dry_run, force))
    return out


@dataclass(frozen=True)
class _Plan:
    obj: dict[str, Any]
    namespace: str | None
    pending: bool  # its kind comes with a CRD of the input and is not served yet


def _plan(
    kube: Kube, obj: dict[str, Any], defined: dict[tuple[str, str], dict[str, Any]], default: str
) -> _Plan:
    key = (obj["apiVersion"], obj["kind"])
    meta = obj["metadata"]
    resource = _served(kube, *key)
    if resource is not None:
        namespaced = resource.namespaced
    elif key in defined:
        namespaced = defined[key]["spec"].get("scope", "Namespaced") == "Namespaced"
    else:
        raise UsageError(
            f"{key[1]} {meta['name']}: the API server does not serve {key[1]} in {key[0]}:"
            " install its CRD first, or include the CRD in this apply"
        )
    namespace = (meta.get("namespace") or default) if namespaced else None
    new_meta = {k: v for k, v in meta.items() if k != "namespace"}
    if namespace:
        new_meta["namespace"] = namespace
    return _Plan({**obj, "metadata": new_meta}, namespace, resource is None)


def _defined_by_crds(objects: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    """(apiVersion, kind) → the CRD of the input that serves it."""
    out = {}
    for crd in objects:
        if (crd.get("apiVersion"), crd.get("kind")) != CRD:
            continue
        spec = crd.get("spec") or {}
        kind = (spec.get("names") or {}).get("kind")
        for version in spec.get("versions") or []:
            if version.get("served", True) and kind:
                out[(f"{spec.get('group')}/{version.get('name')}", str(kind))] = crd
    return out


def _served(kube: Kube, api_version: str, kind: str) -> Resource | None:
    try:
        return kube.resource(api_version, kind)
    except ClusterError:
        raise
    except MlkubeError:  # discovery answered: not served
        return None


def _apply_one(kube: Kube, plan: _Plan, dry_run: bool, force: bool) -> Applied:
    obj, meta = plan.obj, plan.obj["metadata"]
    what = f"{obj['kind'].lower()} {plan.namespace + '/' if plan.namespace else ''}{meta['name']}"
    before = kube.get(obj["apiVersion"], obj["kind"], meta["name"], plan.namespace)
    try:
        after = kube.apply(obj, dry_run=dry_run, force=force)
    except ApiError as exc:
        found = conflicts(exc.causes) if exc.status == 409 else []
        if found:
            raise ApplyConflict(what, found) from None
        raise
    if before is None:
        action = "created"
    else:
        action = "unchanged" if _stable(before) == _stable(after) else "configured"
    note = "server dry run" if dry_run else ""
    return Applied(obj["kind"], plan.namespace, meta["name"], action, note)


def _stable(obj: dict[str, Any] | None) -> Any:
    if obj is None:
        return None
    meta = {k: v for k, v in obj.get("metadata", {}).items() if k not in _VOLATILE}
    return {**{k: v for k, v in obj.items() if k != "status"}, "metadata": meta}


def wait_established(kube: Kube, name: str, timeout: float = 60.0) -> None:
    """Until the CRD ``name`` is Established; its names refused end the wait at once."""
    crd = Watched(kube, *CRD, name)

    def established() -> bool | None:
        obj = crd.get()
        if obj is None:
            raise ClusterError(f"CRD {name} was deleted while waiting for it to be Established")
        conditions = {c.get("type"): c for c in obj.get("status", {}).get("conditions") or [] if c}
        names = conditions.get("NamesAccepted") or {}
        if names.get("status") == "False":
            raise ClusterError(f"CRD {name}: names not accepted: {names.get('message', '')}")
        return True if (conditions.get("Established") or {}).get("status") == "True" else None

    until(f"CRD {name} to be Established", established, timeout=timeout, wake=crd.wake, every=5)


def wait_served(kube: Kube, api_version: str, kind: str, timeout: float = 60.0) -> Resource:
    """Until discovery serves ``kind``: an Established CRD reaches discovery a moment
    later. Discovery has no watch: this one polls, forgetting what was cached."""

    def served() -> Resource | None:
        kube.forget(api_version)
        return _served(kube, api_version, kind)

    return until(f"the API server to serve {kind} in {api_version}", served, timeout=timeout)
