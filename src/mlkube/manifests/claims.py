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

_Key = tuple[str, str, str]  # namespace, kind, name


def with_device_claims(items: Iterable[Manifest]) -> Iterator[Manifest]:
    """``items``, each once, a workload that uses DRA claims with the classes of those
    the input defines (held back until they have all been read, or to the end)."""
    known: dict[_Key, tuple[str, ...]] = {}
    waiting: list[tuple[Manifest, set[ClaimRef]]] = []
    for m in items:
        if is_claim(m):
            known[(m.ref.namespace or "default", m.ref.kind, m.ref.name)] = claim_device_classes(m)
            yield m
            continue
        refs = _claim_refs(m)
        if not refs:
            yield m
        elif all(_key(m, ref) in known for ref in refs):
            yield _claimed(m, refs, known)
        else:
            waiting.append((m, refs))
    for m, refs in waiting:
        yield _claimed(m, refs, known)


def _key(m: Manifest, ref: ClaimRef) -> _Key:
    return (m.ref.namespace or "default", *ref)


def _claim_refs(m: Manifest) -> set[ClaimRef]:
    return {
        ref for t in pod_templates(m) for c in t.containers for ref in claim_sources(t.spec, c.spec)
    }


def _claimed(m: Manifest, refs: set[ClaimRef], known: dict[_Key, tuple[str, ...]]) -> Manifest:
    claims = {ref: known[_key(m, ref)] for ref in refs if _key(m, ref) in known}
    if not claims:
        return m
    return ClaimedManifest(m.obj, m.ref, m.doc, m.base, claims=claims)
