"""Evidence about ML workloads, gathered once from a cluster into a plain snapshot.

List calls in rounds, each round's calls side by side: first the few kinds every
diagnosis reads, then what those objects name or need (`rules.doctor.needs`: the
owners of the pods, up to the top; claims only when a pod waits for one). One call
per kind whatever the number of pods, each in pages, so `mlkube doctor` costs the
same on 5 pods and 5,000; every diagnosis after that is a pure function of the
snapshot. Secrets are never read, so a saved snapshot can be attached to a bug report;
of a kind, only what a diagnosis reads (`needs.FIELDS`: events that are warnings).

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
from mlkube.rules.doctor.needs import FIELDS, Want, wanted
from mlkube.snapshots.evidence import Evidence

# Without these there is no diagnosis at all: the pods themselves, and the nodes they
# are (not) scheduled on.
REQUIRED = ("v1/Pod", "v1/Node")
# Owners of owners: pod → ReplicaSet → Deployment, pod → JobSet → TrainJob are two;
# a chain longer than this is not followed further (and a cycle ends).
ROUNDS = 5


def _trim(obj: dict[str, Any]) -> dict[str, Any]:
    """Without ``managedFields`` (no diagnosis reads it), in place: the object was
    just decoded for this snapshot, and copying 5,000 pods' metadata costs 0.05 s."""
    meta = obj.get("metadata")
    if isinstance(meta, dict):
        meta.pop("managedFields", None)
    return obj


def _key(want: Want) -> str:
    """``v1/Pod``; ``v1/Pod in gpu-operator`` for the extra list of another namespace."""
    api_version, kind, extra = want
    return f"{api_version}/{kind}" + (f" in {extra}" if extra else "")


def gather(kube: Kube, namespace: str | None) -> Evidence:
    """The kinds `needs.wanted` asks for, round after round until it asks for nothing
    new: the workloads' namespace (or all), cluster-scoped kinds as such.

    The calls read the API server's watch cache: a snapshot for diagnosis need not be
    a quorum read, and 5,000 pods cost one call, not 5,000.
    """
    now = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
    evidence = Evidence(kube.connection.context, namespace, now)
    done: set[Want] = set()
    pool = ThreadPoolExecutor(4)
    try:
        for _ in range(ROUNDS):
            new = [w for w in wanted(evidence) if w not in done]
            if not new:
                break
            done.update(new)
            _round(kube, evidence, new, pool)
    finally:  # an Unreachable ends it all: do not wait for the rest to time out too
        pool.shutdown(wait=False, cancel_futures=True)
    return evidence


def _round(kube: Kube, evidence: Evidence, wants: list[Want], pool: ThreadPoolExecutor) -> None:
    served: list[Want] = []
    for want in wants:
        api_version, kind, _ = want
        try:
            kube.resource(api_version, kind)  # discovery first, once, in this thread
        except NotServed:
            if f"{api_version}/{kind}" not in evidence.missing:
                evidence.missing.append(f"{api_version}/{kind}")
            continue
        served.append(want)
    futures: list[tuple[Want, Future[list[dict[str, Any]]]]] = [
        (w, pool.submit(kube.list, w[0], w[1], w[2] or evidence.namespace,
                        fields=FIELDS.get((w[0], w[1])), cached=True))
        for w in served
    ]  # fmt: skip
    evidence.calls += len(served)
    for want, future in futures:
        try:
            items = future.result()
        except ApiError as exc:  # forbidden to this identity, say: not "nothing"
            evidence.unreadable[_key(want)] = str(exc)
            continue
        known = evidence.objects.setdefault(f"{want[0]}/{want[1]}", [])
        if not known:  # the kind's first list (the extra namespace's comes after)
            known.extend(_trim(o) for o in items)
            continue
        names = {(o["metadata"].get("namespace"), o["metadata"]["name"]) for o in known}
        known.extend(
            _trim(o)
            for o in items
            if (o["metadata"].get("namespace"), o["metadata"]["name"]) not in names
        )


def require(evidence: Evidence) -> None:
    """Refuse evidence that misses what every diagnosis needs, naming what and why."""
    for key in REQUIRED:
        if key in evidence.unreadable:
            raise ClusterError(f"doctor could not read {key}: {evidence.unreadable[key]}")


__all__ = ["REQUIRED", "Evidence", "gather", "require"]
