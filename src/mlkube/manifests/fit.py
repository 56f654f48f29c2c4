"""Whether a workload can ever run: its pod against the largest node of its pool, its
pods against the namespace's ResourceQuota, and the whole job against what its
ClusterQueue can ever have (nominal quota plus what it may borrow in its cohort).

Shared by lint (the static half: the objects in one input) and doctor (the live
half: the objects in a snapshot). Plain dicts in, numbers out; no I/O.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from mlkube.quantity import format_bytes, format_cores, parse_quantity

Amounts = dict[str, float]
# Pod-level resources ResourceQuota counts under the bare name as well (core/v1
# ResourceName docs: "cpu" and "requests.cpu" are the same quota).
_BARE_QUOTA = ("cpu", "memory", "ephemeral-storage")


def pod_requests(
    resources: Iterable[Mapping[str, Any]], init: Iterable[Mapping[str, Any]] = ()
) -> Amounts:
    """What a pod asks of a node, from its containers' ``resources`` blocks: each
    resource's request, or its limit when no request is set (the API server defaults
    the request to the limit), summed over the containers, at least the largest of
    any init container (which run one at a time, before them)."""
    total: Amounts = {}
    for block in resources:
        for name, amount in _requests(block).items():
            total[name] = total.get(name, 0.0) + amount
    for block in init:
        for name, amount in _requests(block).items():
            total[name] = max(total.get(name, 0.0), amount)
    return total


def _requests(block: Mapping[str, Any]) -> Amounts:
    found: Amounts = {}
    for kind in ("limits", "requests"):  # requests last: they win over limits
        values = block.get(kind) if isinstance(block, Mapping) else None
        for name, raw in (values or {}).items() if isinstance(values, Mapping) else ():
            amount = parse_quantity(raw)
            if amount is not None and math.isfinite(amount):
                found[str(name)] = amount
    return found


def amounts(values: Any) -> Amounts:
    """A ``{name: quantity}`` map (allocatable, hard, used) as numbers; bad ones dropped."""
    if not isinstance(values, Mapping):
        return {}
    out: Amounts = {}
    for name, raw in values.items():
        amount = parse_quantity(raw)
        if amount is not None and math.isfinite(amount):
            out[str(name)] = amount
    return out


def shown(resource: str, amount: float) -> str:
    """``964Gi memory``, ``90 cpu``, ``24 nvidia.com/gpu``."""
    if resource in ("memory", "ephemeral-storage") or resource.startswith("hugepages-"):
        return f"{format_bytes(amount)} {resource}"
    if resource == "cpu":
        return f"{format_cores(amount)} cpu"
    return f"{amount:g} {resource}"


@dataclass(frozen=True, slots=True)
class Shortfall:
    """One resource a workload asks more of than ``where`` can ever give."""

    resource: str
    asked: float
    most: float
    where: str

    def __str__(self) -> str:
        return self.said("asks")

    def said(self, verb: str) -> str:
        """``asks 24 nvidia.com/gpu, ClusterQueue 'a' has 16`` (``verb``: ask, asks)."""
        return f"{verb} {shown(self.resource, self.asked)}, {self.where} has {_amount(self)}"


def _amount(s: Shortfall) -> str:
    return shown(s.resource, s.most).split(" ", 1)[0]


def over_nodes(ask: Amounts, nodes: Iterable[tuple[str, Amounts]], where: str) -> list[Shortfall]:
    """The resources of one pod larger than every node of its pool offers (``nodes``:
    each node's name and allocatable; ``where``: ``the largest node of pool 'a100'``).
    No nodes: nothing to say here."""
    sized = list(nodes)
    if not sized:
        return []
    out = []
    for resource, asked in sorted(ask.items()):
        if asked <= 0:
            continue
        most = max(n.get(resource, 0.0) for _, n in sized)
        if asked > most:
            out.append(Shortfall(resource, asked, most, where))
    return out


def over_quota(ask: Amounts, hard: Amounts, quota: str) -> list[Shortfall]:
    """The resources of ``ask`` (one pod, or all of a job's pods) above a ResourceQuota's
    ``hard`` limits on requests."""
    out = []
    for resource, asked in sorted(ask.items()):
        keys = [f"requests.{resource}"] + ([resource] if resource in _BARE_QUOTA else [])
        limits = [hard[k] for k in keys if k in hard]
        if limits and asked > min(limits):
            out.append(Shortfall(resource, asked, min(limits), f"ResourceQuota {quota!r}"))
    return out


def scaled(ask: Amounts, count: int) -> Amounts:
    return {k: v * count for k, v in ask.items()}


def added(*asks: Amounts) -> Amounts:
    total: Amounts = {}
    for ask in asks:
        for k, v in ask.items():
            total[k] = total.get(k, 0.0) + v
    return total


def queue_capacity(
    queue: Mapping[str, Any], queues: Iterable[Mapping[str, Any]]
) -> dict[str, Amounts]:
    """What ClusterQueue ``queue`` can ever admit, by flavor: each resource's nominal
    quota plus what it may borrow from the other ClusterQueues of its cohort (their
    nominal quota, or lendingLimit, summed; capped by its own borrowingLimit)."""
    cohort = _spec(queue).get("cohortName") or _spec(queue).get("cohort")
    name = (queue.get("metadata") or {}).get("name")
    lendable: dict[tuple[str, str], float] = {}
    for other in queues:
        spec = _spec(other)
        if not cohort or (other.get("metadata") or {}).get("name") == name:
            continue
        if (spec.get("cohortName") or spec.get("cohort")) != cohort:
            continue
        for flavor, resource in _resources(other):
            key = (flavor, str(resource.get("name")))
            limit = resource.get("lendingLimit", resource.get("nominalQuota"))
            lendable[key] = lendable.get(key, 0.0) + (parse_quantity(limit) or 0.0)
    capacity: dict[str, Amounts] = {}
    for flavor, resource in _resources(queue):
        rname = str(resource.get("name"))
        nominal = parse_quantity(resource.get("nominalQuota")) or 0.0
        borrow = lendable.get((flavor, rname), 0.0)
        if resource.get("borrowingLimit") is not None:
            borrow = min(borrow, parse_quantity(resource.get("borrowingLimit")) or 0.0)
        capacity.setdefault(flavor, {})[rname] = nominal + borrow
    return capacity


def over_queue(ask: Amounts, capacity: dict[str, Amounts], queue: str) -> list[Shortfall]:
    """The resources of a whole job more than any one flavor of ``queue`` can ever
    admit (Kueue gives each pod set one flavor). Resources the queue does not cover
    are not its to refuse."""
    out = []
    for resource, asked in sorted(ask.items()):
        offered = [c[resource] for c in capacity.values() if resource in c]
        if asked > 0 and offered and asked > max(offered):
            out.append(Shortfall(resource, asked, max(offered), f"ClusterQueue {queue!r}"))
    return out


def _spec(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    spec = obj.get("spec")
    return spec if isinstance(spec, Mapping) else {}


def _resources(queue: Mapping[str, Any]) -> Iterable[tuple[str, Mapping[str, Any]]]:
    for group in _spec(queue).get("resourceGroups") or []:
        for flavor in (group or {}).get("flavors") or []:
            for resource in (flavor or {}).get("resources") or []:
                if isinstance(resource, Mapping):
                    yield str(flavor.get("name")), resource
