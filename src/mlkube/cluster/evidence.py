"""Evidence about ML workloads, gathered once from a cluster into a plain snapshot.

A fixed list of list calls (one per kind, whatever the number of pods), so that
`mlkube doctor` costs the same on 5 pods and 5,000; every diagnosis after that is a
pure function of the snapshot. Secrets are never read, so a saved snapshot can be
attached to a bug report.
"""

from __future__ import annotations

import datetime
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from mlkube.cluster.client import Kube
from mlkube.errors import MlkubeError
from mlkube.snapshots.evidence import CLUSTER_SCOPED, GPU_OPERATOR_NAMESPACE, NAMESPACED, Evidence


def _trim(obj: dict[str, Any]) -> dict[str, Any]:
    meta = {k: v for k, v in obj.get("metadata", {}).items() if k != "managedFields"}
    return {**obj, "metadata": meta}


def gather(kube: Kube, namespace: str | None) -> Evidence:
    """One list call per kind: the workloads' namespace (or all), plus cluster scope.

    The calls run side by side and read the API server's watch cache: a snapshot for
    diagnosis need not be a quorum read, and 5,000 pods cost one call, not 5,000.
    """
    now = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
    evidence = Evidence(kube.connection.context, namespace, now)
    wanted = [(a, k, namespace) for a, k in NAMESPACED] + [(a, k, None) for a, k in CLUSTER_SCOPED]
    wanted.append(("v1", "Pod", GPU_OPERATOR_NAMESPACE))
    for api_version, kind, _ in wanted:
        try:
            kube.resource(api_version, kind)  # discovery first, once, in this thread
        except MlkubeError:
            key = f"{api_version}/{kind}"
            if key not in evidence.missing:
                evidence.missing.append(key)

    def fetch(want: tuple[str, str, str | None]) -> list[dict[str, Any]] | None:
        try:
            return kube.list(want[0], want[1], want[2], cached=True)
        except MlkubeError:  # forbidden to this identity, say: reported as missing
            return None

    served = [w for w in wanted if f"{w[0]}/{w[1]}" not in evidence.missing]
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(fetch, served))
    evidence.calls = len(served)
    for (api_version, kind, _), items in zip(served, results, strict=True):
        if items is None:
            evidence.missing.append(f"{api_version}/{kind}")
            continue
        known = evidence.objects.setdefault(f"{api_version}/{kind}", [])
        names = {(o["metadata"].get("namespace"), o["metadata"]["name"]) for o in known}
        known.extend(
            _trim(o)
            for o in items
            if (o["metadata"].get("namespace"), o["metadata"]["name"]) not in names
        )
    return evidence


__all__ = ["CLUSTER_SCOPED", "GPU_OPERATOR_NAMESPACE", "NAMESPACED", "Evidence", "gather"]
