"""Applying objects with server-side apply, in dependency order, saying what changed."""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from mlkube.cluster.client import Kube
from mlkube.errors import MlkubeError
from mlkube.manifests.order import ordered

_VOLATILE = ("managedFields", "resourceVersion", "generation", "creationTimestamp", "uid")


@dataclass(frozen=True)
class Applied:
    kind: str
    namespace: str | None
    name: str
    action: str  # created | configured | unchanged

    def __str__(self) -> str:
        where = f"{self.namespace}/" if self.namespace else ""
        return f"{self.kind.lower()} {where}{self.name} {self.action}"


def _stable(obj: dict[str, Any] | None) -> Any:
    if obj is None:
        return None
    meta = {k: v for k, v in obj.get("metadata", {}).items() if k not in _VOLATILE}
    return {**{k: v for k, v in obj.items() if k != "status"}, "metadata": meta}


def apply_objects(
    kube: Kube, objects: Iterable[dict[str, Any]], *, dry_run: bool = False
) -> list[Applied]:
    """Apply ``objects`` (CRDs and namespaces first, workloads last)."""
    out = []
    for obj in ordered(list(objects)):
        meta = obj["metadata"]
        resource = kube.resource(obj["apiVersion"], obj["kind"])
        namespace = meta.get("namespace") or ("default" if resource.namespaced else None)
        before = kube.get(obj["apiVersion"], obj["kind"], meta["name"], namespace)
        after = kube.apply(obj, dry_run=dry_run)
        if before is None:
            action = "created"
        else:
            action = "unchanged" if _stable(before) == _stable(after) else "configured"
        out.append(
            Applied(
                obj["kind"],
                namespace,
                meta["name"],
                action + (" (server dry run)" if dry_run else ""),
            )
        )
        if obj["kind"] == "CustomResourceDefinition" and not dry_run:
            wait_established(kube, meta["name"])
            for version in obj["spec"]["versions"]:
                kube.forget(f"{obj['spec']['group']}/{version['name']}")
    return out


def wait_established(kube: Kube, name: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        crd = kube.get("apiextensions.k8s.io/v1", "CustomResourceDefinition", name)
        conditions = (crd or {}).get("status", {}).get("conditions") or []
        if any(c.get("type") == "Established" and c.get("status") == "True" for c in conditions):
            return
        time.sleep(0.1)
    raise MlkubeError(f"CRD {name} not established after {timeout:.0f}s")
