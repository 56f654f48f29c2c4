"""Evidence about ML workloads, gathered once from a cluster into a plain snapshot.

A fixed list of list calls (one per kind, whatever the number of pods, each in pages),
so that `mlkube doctor` costs the same on 5 pods and 5,000; every diagnosis after
that is a pure function of the snapshot. Secrets are never read, so a saved snapshot
can be attached to a bug report.

Doctor must never say "nothing wrong" because it could not look: a cluster that does
not answer ends the gathering (`Unreachable`, exit 3); a kind the identity may not
list is recorded in ``Evidence.unreadable`` with the server's reason, and `require`
refuses evidence that lacks a kind every diagnosis needs (exit 4). Kinds the cluster
does not serve (a CRD not installed) are only ``missing``: that is an answer.
"""

from __future__ import annotations

import datetime
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from mlkube.cluster.client import ApiError, Kube, NotServed
from mlkube.errors import ClusterError
from mlkube.snapshots.evidence import CLUSTER_SCOPED, GPU_OPERATOR_NAMESPACE, NAMESPACED, Evidence

# Without these there is no diagnosis at all: the pods themselves, and the nodes they
# are (not) scheduled on.
REQUIRED = ("v1/Pod", "v1/Node")


def _trim(obj: dict[str, Any]) -> dict[str, Any]:
    meta = {k: v for k, v in obj.get("metadata", {}).items() if k != "managedFields"}
    return {**obj, "metadata": meta}


def _key(api_version: str, kind: str, namespace: str | None, extra: bool) -> str:
    """``v1/Pod``; ``v1/Pod in gpu-operator`` for the extra list of another namespace."""
    return f"{api_version}/{kind}" + (f" in {namespace}" if extra else "")


def gather(kube: Kube, namespace: str | None) -> Evidence:
    """One list call per kind: the workloads' namespace (or all), plus cluster scope.

    The calls run side by side and read the API server's watch cache: a snapshot for
    diagnosis need not be a quorum read, and 5,000 pods cost one call, not 5,000.
    """
    now = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
    evidence = Evidence(kube.connection.context, namespace, now)
    wanted = [(a, k, namespace, False) for a, k in NAMESPACED]
    wanted += [(a, k, None, False) for a, k in CLUSTER_SCOPED]
    wanted.append(("v1", "Pod", GPU_OPERATOR_NAMESPACE, True))
    for api_version, kind, _, _ in wanted:
        try:
            kube.resource(api_version, kind)  # discovery first, once, in this thread
        except NotServed:
            key = f"{api_version}/{kind}"
            if key not in evidence.missing:
                evidence.missing.append(key)

    served = [w for w in wanted if f"{w[0]}/{w[1]}" not in evidence.missing]
    results: dict[str, list[dict[str, Any]]] = {}
    pool = ThreadPoolExecutor(4)
    try:
        futures: list[tuple[tuple[str, str, str | None, bool], Future[list[dict[str, Any]]]]] = [
            (w, pool.submit(kube.list, w[0], w[1], w[2], cached=True)) for w in served
        ]
        for want, future in futures:
            key = _key(*want)
            try:
                results[key] = future.result()
            except ApiError as exc:  # forbidden to this identity, say: not "nothing"
                evidence.unreadable[key] = str(exc)
    finally:  # an Unreachable ends it all: do not wait for the rest to time out too
        pool.shutdown(wait=False, cancel_futures=True)
    evidence.calls = len(served)
    for want in served:
        items = results.get(_key(*want))
        if items is None:
            continue
        known = evidence.objects.setdefault(f"{want[0]}/{want[1]}", [])
        names = {(o["metadata"].get("namespace"), o["metadata"]["name"]) for o in known}
        known.extend(
            _trim(o)
            for o in items
            if (o["metadata"].get("namespace"), o["metadata"]["name"]) not in names
        )
    return evidence


def require(evidence: Evidence) -> None:
    """Refuse evidence that misses what every diagnosis needs, naming what and why."""
    for key in REQUIRED:
        if key in evidence.unreadable:
            raise ClusterError(f"doctor could not read {key}: {evidence.unreadable[key]}")


__all__ = [
    "CLUSTER_SCOPED",
    "GPU_OPERATOR_NAMESPACE",
    "NAMESPACED",
    "REQUIRED",
    "Evidence",
    "gather",
    "require",
]
