"""Diagnoses of pods held by their volumes: a claim that does not exist or is not bound."""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterator
from typing import Any

from mlkube.rules.doctor.common import about, by_workload, pods, unschedulable
from mlkube.rules.model import Rule, Severity, Violation
from mlkube.snapshots.evidence import Evidence

# The scheduler's VolumeBinding PreFilter: the claim lister's NotFound error, and its
# own reason for claims of an Immediate class that are not bound yet
# (kubernetes/kubernetes pkg/scheduler/framework/plugins/volumebinding/volume_binding.go).
_NOT_FOUND = re.compile(r'persistentvolumeclaim "([^"]+)" not found')
_UNBOUND = "pod has unbound immediate PersistentVolumeClaims"
_DEFAULT_CLASS = "storageclass.kubernetes.io/is-default-class"
_NO_PROVISIONER = "kubernetes.io/no-provisioner"
_CLAIMS = ("v1", "PersistentVolumeClaim")
_CLASSES = ("storage.k8s.io/v1", "StorageClass")


def blocked_by_claim(message: str) -> bool:
    """Whether the scheduler's message says a claim, not a node, holds the pod."""
    return bool(_NOT_FOUND.search(message)) or _UNBOUND in message


def _claim_volumes(pod: dict[str, Any]) -> list[tuple[int, str]]:
    return [
        (i, v["persistentVolumeClaim"]["claimName"])
        for i, v in enumerate(pod.get("spec", {}).get("volumes") or [])
        if "persistentVolumeClaim" in v
    ]


def _blocking(
    pod: dict[str, Any], message: str, claims: dict[tuple[str, str], dict[str, Any]]
) -> list[str]:
    """The claims of ``pod`` that hold it: the one not found, or those not bound."""
    missing = _NOT_FOUND.search(message)
    if missing:
        return [missing.group(1)]
    ns = str(pod["metadata"].get("namespace"))
    named = [name for _, name in _claim_volumes(pod)]
    unbound = [
        n for n in named if claims.get((ns, n), {}).get("status", {}).get("phase") != "Bound"
    ]
    return unbound or named


def _class_name(c: dict[str, Any]) -> str:
    return f"{c['metadata']['name']!r} ({c['provisioner']})"


def _provision(evidence: Evidence, claim: dict[str, Any] | None) -> tuple[str, str]:
    """Whether any StorageClass could provide the claim: (what the evidence says, the fix)."""
    if not evidence.serves(*_CLASSES):
        return "StorageClasses could not be read", "check the claim's StorageClass by hand"
    classes = evidence.of(*_CLASSES)
    defaults = [
        c for c in classes if (c["metadata"].get("annotations") or {}).get(_DEFAULT_CLASS) == "true"
    ]
    wanted = None if claim is None else claim.get("spec", {}).get("storageClassName")
    if wanted == "":
        return (
            'it asks for no StorageClass (storageClassName: ""), so only a PersistentVolume '
            "created by hand can bind it",
            "create a PersistentVolume that matches the claim",
        )
    if wanted is None and not defaults:
        others = ", ".join(_class_name(c) for c in classes)
        return (
            f"there is no default StorageClass{f' (there are {others})' if others else ''}",
            "set storageClassName to a class that provisions, or create a PersistentVolume",
        )
    chosen = (
        defaults[0]
        if wanted is None
        else next((c for c in classes if c["metadata"]["name"] == wanted), None)
    )
    if chosen is None:
        known = ", ".join(sorted(repr(c["metadata"]["name"]) for c in classes)) or "none"
        return (
            f"its StorageClass {wanted!r} does not exist (StorageClasses: {known})",
            "recreate it with an existing storageClassName (a claim's class cannot change)",
        )
    kind = "the default StorageClass" if wanted is None else "StorageClass"
    if chosen["provisioner"] == _NO_PROVISIONER:
        return (
            f"{kind} {_class_name(chosen)} provisions nothing",
            "create a PersistentVolume for the claim",
        )
    if claim is None:
        return f"{kind} {_class_name(chosen)} would provision it", ""
    return (
        f"{kind} {_class_name(chosen)} has not provisioned it",
        "see the claim's events (kubectl describe pvc) and the provisioner's logs",
    )


def volume_claim_unavailable(evidence: Evidence) -> Iterator[Violation]:
    """Finds pods held by a PersistentVolumeClaim that does not exist or is not bound.

    Reported once per claim and workload, with whether any StorageClass could provide it.

    ## Why is this bad?
    The scheduler will not place a pod until every claim it mounts exists and (for an
    `Immediate` class) is bound. Each of a job's pods repeats the same message, and
    none of them says whether creating the claim would be enough.

    ## Example
    ```text
    0/10 nodes are available: persistentvolumeclaim "datasets" not found.
    ```

    ## Use instead
    ```yaml
    kind: PersistentVolumeClaim
    metadata: {name: datasets, namespace: ml-training}
    spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 500Gi}}}
    ```
    """
    if not evidence.serves(*_CLAIMS):
        claims: dict[tuple[str, str], dict[str, Any]] = {}
    else:
        claims = {
            (str(c["metadata"].get("namespace")), c["metadata"]["name"]): c
            for c in evidence.of(*_CLAIMS)
        }

    def waiting() -> Iterator[tuple[dict[str, Any], str]]:
        for pod in pods(evidence):
            message = unschedulable(pod)
            if message is not None and blocked_by_claim(message):
                for claim_name in _blocking(pod, message, claims):
                    yield pod, claim_name

    for of, name, members in sorted(
        by_workload(evidence, waiting()), key=lambda g: (str(g[0]), g[1])
    ):
        first = min(members, key=lambda p: str(p["metadata"]["name"]))
        ns = str(first["metadata"].get("namespace"))
        index = next((i for i, n in _claim_volumes(first) if n == name), None)
        field = ("spec", "volumes", index) if index is not None else ("status", "conditions")
        where, who = about(evidence, of, members, *field)
        claim = claims.get((ns, name))
        if claim is None and evidence.serves(*_CLAIMS):
            state = "does not exist"
        elif claim is None:
            state = "could not be read"
        else:
            state = f"is not bound (phase {claim.get('status', {}).get('phase', 'unknown')})"
        why, fix = _provision(evidence, claim)
        if claim is None and evidence.serves(*_CLAIMS):
            why += "; " + _others(name, [n for c_ns, n in claims if c_ns == ns], ns)
        if claim is None:
            fix = (
                f"create PersistentVolumeClaim {name!r} in namespace {ns!r}, or correct the "
                "claim name in the pod template" + (f"; {fix}" if fix else "")
            )
        else:
            fix = f"claim {ns}/{name}: {fix}"
        yield Violation(
            where,
            f"{who} cannot be scheduled: PersistentVolumeClaim {ns}/{name} {state}; {why}",
            fix,
        )


def _others(name: str, existing: list[str], ns: str) -> str:
    """Which existing claims of the namespace might be the one meant."""
    if not existing:
        return f"namespace {ns!r} has no PersistentVolumeClaims"
    close = difflib.get_close_matches(name, existing, n=3, cutoff=0.6)
    if close:
        return f"did the pod mean {', '.join(repr(c) for c in close)}? (claims in {ns!r})"
    shown = ", ".join(repr(c) for c in sorted(existing)[:5])
    return f"no existing claim is close (claims in {ns!r}: {shown})"


RULES: tuple[Rule[Evidence], ...] = (
    Rule(
        "DK205",
        Severity.ERROR,
        "Create the claim, or give it a StorageClass that provisions.",
        volume_claim_unavailable,
    ),
)
