"""The static half of doctor's "can never run": a workload that asks more than the
objects in the same input will ever give it (its namespace's ResourceQuota, the
largest node of its pool, its ClusterQueue with all it may borrow in its cohort)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from mlkube.manifests import fit
from mlkube.manifests.objects import Manifest, as_str_map
from mlkube.quantity import parse_quantity
from mlkube.rules.lint.inventory import Inventory, PodFacts, WorkloadFacts
from mlkube.rules.model import Rule, Severity, Violation
from mlkube.wellknown import GPU, POOL_LABEL


def workload_never_fits(inv: Inventory) -> Iterator[Violation]:
    """Finds workloads that can never run: larger than their namespace's quota, than
    any node of their pool, or than their queue can ever admit.

    A pod is compared with the largest node its node selector picks (Node objects or
    the Platform's pools in the input); each pod, and a training job's pods together
    (they start together or not at all), with the ResourceQuotas of its namespace; a
    queued job's pods together with its ClusterQueue's nominal quota plus what it may
    borrow from the other ClusterQueues of its cohort, in the flavors whose node labels
    its pods can have.

    ## Why is this bad?
    Nothing reports it later: the API server refuses each pod over the quota (the job
    sits at "created"), the scheduler leaves an oversized pod Pending, and Kueue keeps
    an oversized job suspended, all for ever, with messages that read like waiting.

    ## Example
    ```yaml
    kind: ResourceQuota
    spec: {hard: {requests.memory: 512Gi}}
    ---
    kind: TrainJob
    spec: {trainer: {numNodes: 2, resourcesPerNode: {requests: {memory: 964Gi}}}}
    ```

    ## Use instead
    ```yaml
    spec: {trainer: {numNodes: 2, resourcesPerNode: {requests: {memory: 240Gi}}}}
    ```
    """
    for w in inv.workloads:
        for pod in w.pods:
            shortfalls = _over_quota(inv, w, pod.requests, "each pod")
            shortfalls += _over_nodes(inv, pod)
            for text in shortfalls:
                yield Violation(pod.resources_at or pod.at, f"{w.ref} can never run: {text}")
        total = fit.added(*(fit.scaled(p.requests, p.replicas) for p in w.pods))
        if w.distributed and all(not _over_quota(inv, w, p.requests, "") for p in w.pods):
            for text in _over_quota(inv, w, total, "its pods together"):
                yield Violation(w.at, f"{w.ref} can never run: {text}")
        for text in _over_queue(inv, w, total):
            yield Violation(w.labels_at, f"{w.ref} can never be admitted: {text}")


def _over_quota(inv: Inventory, w: WorkloadFacts, ask: fit.Amounts, who: str) -> list[str]:
    verb = "ask" if who.endswith("together") else "asks"
    return [
        f"{who} {s.said(verb)}"
        for quota in inv.namespaced("ResourceQuota", w.namespace)
        for s in fit.over_quota(ask, fit.amounts(quota.get("spec", "hard")), quota.ref.name)
    ]


def _over_nodes(inv: Inventory, pod: PodFacts) -> list[str]:
    """Against the Node objects of the input its selector picks, else the Platform's
    pool it selects by the pool label. A pod that selects no pool may run on nodes the
    input does not show: nothing is said of it."""
    selector = pod.node_selector
    if not selector:
        return []
    nodes = [
        (n.ref.name, fit.amounts(n.get("status", "allocatable")))
        for n in inv.of_kind("Node")
        if all(n.labels.get(k) == v for k, v in selector.items())
    ]
    if not nodes and POOL_LABEL in selector:
        pool = selector[POOL_LABEL]
        nodes = [(pool, size) for p in inv.of_kind("Platform") for size in _pool(p, pool)]
        where = f"a node of pool {pool!r}"
    else:
        shown = ", ".join(f"{k}={v}" for k, v in sorted(selector.items()))
        where = f"the largest node matching {shown}"
    return [f"each pod {s}" for s in fit.over_nodes(pod.requests, nodes, where)]


def _pool(platform: Manifest, name: str) -> list[fit.Amounts]:
    """One node of the Platform's pool ``name``: its CPU, memory and GPUs (a
    time-sliced GPU counts as its replicas, as the device plugin advertises it)."""
    pools = platform.get("spec", "pools")
    for pool in pools if isinstance(pools, list) else []:
        if not isinstance(pool, dict) or pool.get("name") != name:
            continue
        gpu: Any = pool.get("gpu") if isinstance(pool.get("gpu"), dict) else {}
        slicing: Any = pool.get("timeSlicing") if isinstance(pool.get("timeSlicing"), dict) else {}
        size = fit.amounts({k: pool[k] for k in ("cpu", "memory") if k in pool})
        count = parse_quantity(gpu.get("count"))
        if count is not None:
            size[GPU] = count * (parse_quantity(slicing.get("replicas")) or 1)
        return [size]
    return []


def _over_queue(inv: Inventory, w: WorkloadFacts, total: fit.Amounts) -> list[str]:
    if not w.batch or not w.queue:
        return []
    local = [q for q in inv.namespaced("LocalQueue", w.namespace) if q.ref.name == w.queue]
    target = str(local[0].get("spec", "clusterQueue")) if local else None
    queues = {q.ref.name: q for q in inv.of_kind("ClusterQueue")}
    if target not in queues:
        return []  # MK803 / MK807 say the queue is missing
    queue = queues[target].obj
    cohort = queues[target].get("spec", "cohortName")
    capacity = fit.queue_capacity(queue, [q.obj for q in queues.values()])
    flavors = {f.ref.name: f for f in inv.of_kind("ResourceFlavor")}
    capacity = {
        name: c
        for name, c in capacity.items()
        if name not in flavors or all(_selects(p, flavors[name]) for p in w.pods)
    }
    return [
        f"its pods together {s.said('ask')}"
        + (f" (with all it may borrow in cohort {cohort!r})" if cohort else "")
        for s in fit.over_queue(total, capacity, str(target))
    ]


def _selects(pod: PodFacts, flavor: Manifest) -> bool:
    """Whether Kueue could give ``pod`` this flavor: none of the flavor's node labels
    contradicts the pod's node selector (pkg/scheduler/flavorassigner)."""
    labels = as_str_map(flavor.get("spec", "nodeLabels"))
    return all(labels.get(k, v) == v for k, v in pod.node_selector.items())


INPUT_RULES: tuple[Rule[Inventory], ...] = (
    Rule(
        "MK820",
        Severity.ERROR,
        "Ask for less per pod or in all, or raise the quota, node size or queue that refuses it.",
        workload_never_fits,
    ),
)
OBJECT_RULES: tuple[Rule[Manifest], ...] = ()
