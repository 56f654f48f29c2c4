"""Workloads whose pods get accelerators through DRA claims, told which claims they are.

A pod names a ResourceClaimTemplate (or ResourceClaim); whether that hands out GPUs is
written in the template, which may come before or after the pod in the input. Like a
TrainJob waiting for its runtime, a workload waits for its claims: it passes on as a
`ClaimedManifest` once they have been read, or at the end with those that were, so
that every rule sees the GPUs its containers claim.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from mlkube.manifests.accelerators import (
    ClaimedManifest,
    ClaimRef,
    claim_device_classes,
    claim_sources,
    is_claim,
)
from mlkube.manifests.objects import Manifest
from mlkube.manifests.workloads import pod_templates

_Key = tuple[str, str, str, str]  # deployment unit, namespace, kind, name


def with_device_claims(items: Iterable[tuple[str, Manifest]]) -> Iterator[tuple[str, Manifest]]:
    """``(unit, object)`` pairs, each once, a workload that uses DRA claims with the
    classes of those its deployment unit defines (held back until they have all been
    read, or to the end)."""
    known: dict[_Key, tuple[str, ...]] = {}
    waiting: list[tuple[str, Manifest, set[ClaimRef]]] = []
    for unit, m in items:
        if is_claim(m):
            known[(unit, m.ref.namespace or "default", m.ref.kind, m.ref.name)] = (
                claim_device_classes(m)
            )
            yield unit, m
            continue
        refs = _claim_refs(m)
        if not refs:
            yield unit, m
        elif all(_key(unit, m, ref) in known for ref in refs):
            yield unit, _claimed(unit, m, refs, known)
        else:
            waiting.append((unit, m, refs))
    for unit, m, refs in waiting:
        yield unit, _claimed(unit, m, refs, known)


def _key(unit: str, m: Manifest, ref: ClaimRef) -> _Key:
    return (unit, m.ref.namespace or "default", *ref)


def _claim_refs(m: Manifest) -> set[ClaimRef]:
    return {
        ref for t in pod_templates(m) for c in t.containers for ref in claim_sources(t.spec, c.spec)
    }


def _claimed(
    unit: str, m: Manifest, refs: set[ClaimRef], known: dict[_Key, tuple[str, ...]]
) -> Manifest:
    claims = {ref: known[_key(unit, m, ref)] for ref in refs if _key(unit, m, ref) in known}
    if not claims:
        return m
    return ClaimedManifest(m.obj, m.ref, m.doc, m.base, claims=claims)
