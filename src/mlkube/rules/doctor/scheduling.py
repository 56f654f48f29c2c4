"""Diagnoses of pods the scheduler cannot place, and of jobs Kueue holds or evicts."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from mlkube.manifests import fit
from mlkube.manifests.nodes import gpu_allocatable, gpu_labelled
from mlkube.manifests.objects import Location, condition
from mlkube.rules.doctor.common import (
    about,
    at,
    by_workload,
    container_statuses,
    gpus_of,
    pods,
    unschedulable,
)
from mlkube.rules.doctor.owners import TRAINJOB, controller_ref
from mlkube.rules.doctor.storage import blocked_by_claim
from mlkube.rules.model import Rule, Severity, Violation
from mlkube.snapshots.evidence import GPU_OPERATOR_NAMESPACE, Evidence
from mlkube.wellknown import GPU, TRAINER_API

KUEUE = "kueue.x-k8s.io/v1beta2"
_COUNTED = re.compile(r"^(\d+) (.+)$")
_JOB_UID = re.compile(r"JobUID: ([0-9a-f-]+)")
# Kueue's flavor assigner: "insufficient quota for nvidia.com/gpu in flavor a100, ..."
# (kubernetes-sigs/kueue pkg/scheduler/flavorassigner/flavorassigner.go)
_TRIED = re.compile(r"insufficient quota for \S+ in flavor ([^,\s]+)")


def _reasons(message: str) -> list[str]:
    """``0/10 nodes are available: 2 Insufficient nvidia.com/gpu, 8 node(s) had …`` → reasons."""
    summary = message.split("preemption:", maxsplit=1)[0].split(": ", 1)[-1].strip().rstrip(".")
    return [m.group(2) for part in summary.split(", ") if (m := _COUNTED.match(part.strip()))]


def _tolerates(pod: dict[str, Any], taint: dict[str, Any]) -> bool:
    for t in pod.get("spec", {}).get("tolerations") or []:
        key_ok = t.get("key") in (None, "", taint.get("key"))
        value_ok = t.get("operator") == "Exists" or t.get("value") == taint.get("value")
        effect_ok = t.get("effect") in (None, "", taint.get("effect"))
        if key_ok and value_ok and effect_ok:
            return True
    return False


def _untolerated(evidence: Evidence, pod: dict[str, Any]) -> list[str]:
    taints = {
        f"{t['key']}={t.get('value', '')}:{t['effect']}"
        for n in evidence.of("v1", "Node")
        for t in n.get("spec", {}).get("taints") or []
        if t.get("effect") in ("NoSchedule", "NoExecute") and not _tolerates(pod, t)
    }
    return sorted(taints)


def _failing(pod: dict[str, Any]) -> bool:
    reasons = {
        ((s.get("state") or {}).get("waiting") or {}).get("reason")
        for _, s in container_statuses(pod)
    }
    return bool(reasons & {"CrashLoopBackOff", "Error", "ImagePullBackOff"})


def _gpu_causes(evidence: Evidence, pod: dict[str, Any]) -> list[str]:
    """Why no node has the GPUs: which of the guide's causes the evidence shows."""
    nodes = evidence.of("v1", "Node")
    labelled = [n for n in nodes if gpu_labelled(n)]
    total = sum(gpu_allocatable(n) for n in nodes)
    causes: list[str] = []
    if not labelled:
        causes.append("no node carries GPU labels: NFD / GPU feature discovery is not labelling")
    elif not total:
        causes.append(
            f"{len(labelled)} node(s) have GPU labels but advertise no {GPU}: "
            "the device plugin is not running or not registered"
        )
    operator_pods = [
        p
        for p in evidence.of("v1", "Pod")
        if p["metadata"].get("namespace") == GPU_OPERATOR_NAMESPACE
    ]
    broken = sorted(p["metadata"]["name"] for p in operator_pods if _failing(p))
    if broken:
        causes.append(f"GPU Operator pods failing: {', '.join(broken[:5])}")
    holders = sorted(
        ((p, gpus_of(p)) for p in evidence.of("v1", "Pod") if _holdsgpu_allocatable(p)),
        key=lambda h: -h[1],
    )
    held = sum(g for _, g in holders)
    if total and held + gpus_of(pod) > total and not never_fits(evidence, pod):
        names = ", ".join(
            f"{p['metadata'].get('namespace')}/{p['metadata']['name']} ({g:g})"
            for p, g in holders[:5]
        )
        causes.append(
            f"{held:g} of {total:g} GPUs are allocated, e.g. to {names}; "
            "check whether they are idle (nvidia-smi in a debug pod)"
        )
    return causes


def _holdsgpu_allocatable(pod: dict[str, Any]) -> bool:
    """Bound and not finished: the scheduler counts its GPUs as taken."""
    phase = pod.get("status", {}).get("phase")
    return (
        bool(pod.get("spec", {}).get("nodeName"))
        and phase in ("Running", "Pending")
        and bool(gpus_of(pod))
    )


def pod_unschedulable(evidence: Evidence) -> Iterator[Violation]:
    """Finds pending pods the scheduler cannot place, and says which cause it is.

    Reported once per workload (its top-level owner: the Deployment, not the
    ReplicaSet; the TrainJob, not its Jobs) and cause, naming the pods; a pod larger
    than every node of its pool is said to be one that can never run.

    ## Why is this bad?
    `0/5 nodes are available: 5 Insufficient nvidia.com/gpu` has several causes: GPUs
    held by other (possibly idle) pods, nodes without GPU labels or without a device
    plugin advertising capacity, a crash-looping GPU Operator, a taint the pod does
    not tolerate, or a node selector no node matches. Each needs a different fix.

    ## Example
    ```text
    0/10 nodes are available: 2 Insufficient nvidia.com/gpu, 8 node(s) had untolerated taint
    ```

    ## Use instead
    ```yaml
    tolerations: [{key: nvidia.com/gpu, operator: Exists, effect: NoSchedule}]
    nodeSelector: {nvidia.com/gpu.product: NVIDIA-A100-SXM4-80GB}
    ```
    """

    def refused() -> Iterator[tuple[dict[str, Any], tuple[str, str, str]]]:
        for pod in pods(evidence):
            message = unschedulable(pod)
            if message is None or blocked_by_claim(message):  # DK205 names the claim
                continue
            yield pod, (message, *_why(evidence, pod, message))

    for of, (message, causes, fixes), members in by_workload(evidence, refused()):
        where, who = about(evidence, of, members, "status", "conditions")
        yield Violation(
            where,
            f"{who} cannot be scheduled: {message}" + (f"; {causes}" if causes else ""),
            fixes or "read the scheduler's message: no node passes its filters",
        )


def _why(evidence: Evidence, pod: dict[str, Any], message: str) -> tuple[str, str]:
    """The causes the evidence shows for the scheduler's ``message``, and their fixes."""
    reasons = _reasons(message)
    causes: list[str] = []
    fixes: list[str] = []
    never = never_fits(evidence, pod)
    if never:
        causes.append(f"it can never run: each pod {'; '.join(str(s) for s in never)}")
        fixes.append(
            "ask for less per pod (split the job over more, smaller pods) or use a pool "
            "with larger nodes"
        )
    if f"Insufficient {GPU}" in reasons:
        causes += _gpu_causes(evidence, pod)
        if not never:
            fixes.append(f"free or add {GPU} capacity (see the causes above)")
    if any("untolerated taint" in r for r in reasons):
        taints = ", ".join(_untolerated(evidence, pod)) or "see the nodes"
        causes.append(f"nodes have taints the pod does not tolerate: {taints}")
        fixes.append(
            "add the pool's tolerations to the pod (mlkube render does this from the Platform)"
        )
    if any("affinity/selector" in r for r in reasons):
        selector = pod.get("spec", {}).get("nodeSelector") or {}
        causes.append(
            f"no node matches the pod's node selector or affinity {selector or ''}".rstrip()
        )
        fixes.append(
            "check the GPU model and pool labels the pod selects against the nodes' labels"
        )
    return "; ".join(causes), "; ".join(fixes)


def never_fits(evidence: Evidence, pod: dict[str, Any]) -> list[fit.Shortfall]:
    """What one pod asks more of than the largest node of its pool (the nodes its
    selector picks and whose taints it tolerates) will ever offer."""
    spec = pod.get("spec") or {}
    ask = fit.pod_requests(
        [c.get("resources") or {} for c in spec.get("containers") or []],
        [c.get("resources") or {} for c in spec.get("initContainers") or []],
    )
    selector = spec.get("nodeSelector") or {}
    pool = [
        (str(n["metadata"]["name"]), fit.amounts((n.get("status") or {}).get("allocatable")))
        for n in evidence.of("v1", "Node")
        if all((n["metadata"].get("labels") or {}).get(k) == v for k, v in selector.items())
        and all(
            _tolerates(pod, t)
            for t in (n.get("spec") or {}).get("taints") or []
            if t.get("effect") in ("NoSchedule", "NoExecute")
        )
    ]
    named = ", ".join(f"{k}={v}" for k, v in sorted(selector.items()))
    return fit.over_nodes(
        ask,
        pool,
        f"the largest node of its pool ({named})" if named else "the largest node it tolerates",
    )


def kueue_workload_pending(evidence: Evidence) -> Iterator[Violation]:
    """Finds jobs that Kueue holds: not admitted, with the queue, its usage and position.

    A job that asks more in all than its ClusterQueue can ever have (its nominal quota
    plus what it may borrow in its cohort) is said to be one that can never be admitted.

    ## Why is this bad?
    A job Kueue has not admitted stays suspended: no pod exists, so `kubectl get pods`
    shows nothing wrong. The answer is in the Workload: which ClusterQueue, how much of
    its quota is used and by whom, and how many workloads are ahead.

    ## Example
    ```text
    couldn't assign flavors to pod set worker: insufficient quota for nvidia.com/gpu
    ```

    ## Use instead
    ```yaml
    flavors: [{pool: a100, gpus: 16, borrowingLimit: 8}]   # or ask for fewer GPUs
    ```
    """
    workloads = evidence.of(KUEUE, "Workload")
    queues = {q["metadata"]["name"]: q for q in evidence.of(KUEUE, "ClusterQueue")}
    local = {
        (q["metadata"].get("namespace"), q["metadata"]["name"]): q.get("spec", {}).get(
            "clusterQueue"
        )
        for q in evidence.of(KUEUE, "LocalQueue")
    }

    def cluster_queue(w: dict[str, Any]) -> str | None:
        return local.get((w["metadata"].get("namespace"), w.get("spec", {}).get("queueName")))

    admitted = [w for w in workloads if _reserved(w) and not _finished(w)]
    pending = sorted(
        (w for w in workloads if not _reserved(w) and not _finished(w)),
        key=lambda w: (
            -(w.get("spec", {}).get("priority") or 0),
            w["metadata"].get("creationTimestamp", ""),
        ),
    )  # Kueue's BestEffortFIFO order: priority, then age
    for position, w in enumerate(pending):
        cq = cluster_queue(w)
        ahead = sum(1 for other in pending[:position] if cluster_queue(other) == cq)
        detail = [f"queue {w.get('spec', {}).get('queueName')!r} → ClusterQueue {cq!r}"]
        if cq is None:
            detail.append("the LocalQueue does not exist in this namespace")
        detail += _gpu_usage(queues.get(str(cq), {}))
        running = sorted(_job(o) for o in admitted if cluster_queue(o) == cq)
        if running:
            detail.append(f"admitted now: {', '.join(running[:5])}")
        why = str(condition(w, "QuotaReserved").get("message") or "")
        never = _over_queue(w, queues.get(str(cq)), list(queues.values()), why)
        if never:
            detail.append(f"it can never be admitted: {'; '.join(never)}")
        else:
            detail.append(f"position {ahead + 1} in its ClusterQueue")
        why = why or "waiting to be evaluated"
        yield Violation(
            _at_job(evidence, w),
            f"{_job(w)} is held by Kueue: {why} ({'; '.join(detail)})",
            f"lower what the job asks in all below what ClusterQueue {cq!r} can ever have, or "
            "raise its nominal quota (or its cohort's): no amount of waiting admits it"
            if never
            else "wait for quota, lower the job's GPU request, raise the ClusterQueue's nominal "
            "quota or borrowing limit, or give the job a higher priority",
        )


def _over_queue(
    w: dict[str, Any], queue: dict[str, Any] | None, queues: list[dict[str, Any]], why: str
) -> list[str]:
    """What the whole job (every pod set, every pod) asks more of than its ClusterQueue
    can ever have: its nominal quota plus what it may borrow in its cohort, in the
    flavors Kueue tried for it (those its message names: a flavor whose nodes the job
    does not select is no capacity of its)."""
    if queue is None:
        return []
    ask: fit.Amounts = {}
    for pod_set in (w.get("spec") or {}).get("podSets") or []:
        spec = (pod_set.get("template") or {}).get("spec") or {}
        one = fit.pod_requests(
            [c.get("resources") or {} for c in spec.get("containers") or []],
            [c.get("resources") or {} for c in spec.get("initContainers") or []],
        )
        ask = fit.added(ask, fit.scaled(one, int(pod_set.get("count") or 1)))
    capacity = fit.queue_capacity(queue, queues)
    tried = set(_TRIED.findall(why))
    if tried:
        capacity = {f: c for f, c in capacity.items() if f in tried}
    cohort = (queue.get("spec") or {}).get("cohortName")
    name = queue["metadata"]["name"]
    where = (
        f"ClusterQueue {name!r} with all it may borrow in cohort {cohort!r}"
        if cohort
        else (f"ClusterQueue {name!r}")
    )
    return [
        f"asks {fit.shown(s.resource, s.asked)} in all, {where} has "
        f"{fit.shown(s.resource, s.most).split(' ', 1)[0]}"
        for s in fit.over_queue(ask, capacity, name)
    ]


def _reserved(w: dict[str, Any]) -> bool:
    return condition(w, "QuotaReserved").get("status") == "True"


def _finished(w: dict[str, Any]) -> bool:
    return condition(w, "Finished").get("status") == "True"


def _job(w: dict[str, Any]) -> str:
    """The job a Workload stands for: ``PyTorchJob ml/resnet``."""
    owners = w["metadata"].get("ownerReferences") or [{}]
    name = owners[0].get("name", w["metadata"]["name"])
    return f"{owners[0].get('kind', 'Workload')} {w['metadata'].get('namespace')}/{name}"


def _at_job(evidence: Evidence, w: dict[str, Any]) -> Location:
    """A finding about a Kueue Workload points at the job it stands for (its owner), as
    users name it; a Workload with no owner at itself."""
    up = controller_ref(w)
    if up is None:
        return at(evidence, w, "status", "conditions")
    meta = {"namespace": w["metadata"].get("namespace"), "name": up.get("name")}
    job = {"apiVersion": up.get("apiVersion", ""), "kind": up.get("kind", ""), "metadata": meta}
    return at(evidence, job)


def _gpu_usage(cluster_queue: dict[str, Any]) -> list[str]:
    return [
        f"{flavor['name']}: {r.get('total', '0')} GPUs reserved"
        for flavor in cluster_queue.get("status", {}).get("flavorsReservation") or []
        for r in flavor.get("resources") or []
        if r.get("name") == GPU
    ]


def pod_disrupted(evidence: Evidence) -> Iterator[Violation]:
    """Finds pods that were preempted or evicted, and what displaced them.

    ## Why is this bad?
    A preempted or evicted training pod loses the work since its last checkpoint; the
    `DisruptionTarget` condition (and Kueue's `Evicted` condition on the Workload) say
    who did it: the scheduler for a higher-priority pod, Kueue for a higher-priority
    workload, the kubelet under node pressure, a drain, or a tainted node.

    ## Example
    ```yaml
    conditions:
      - {type: DisruptionTarget, status: "True", reason: PreemptionByScheduler}
    ```

    ## Use instead
    ```yaml
    priorityClassName: ml-training-high   # and checkpoints, so a preemption costs little
    ```
    """

    def disrupted() -> Iterator[tuple[dict[str, Any], str]]:
        for pod in pods(evidence):
            target = condition(pod, "DisruptionTarget")
            if target.get("status") == "True":
                yield pod, str(target.get("reason"))

    for of, reason, members in by_workload(evidence, disrupted()):
        where, who = about(evidence, of, members, "status", "conditions")
        first = min(members, key=lambda p: str(p["metadata"]["name"]))
        message = condition(first, "DisruptionTarget").get("message", "")
        yield Violation(
            where,
            f"{who} {'was' if len(members) == 1 else 'were'} disrupted: {reason}: {message}".rstrip(
                ": "
            ),
            "give the job a higher PriorityClass, or make sure it checkpoints and resumes",
        )
    jobs = {
        j["metadata"].get("uid"): f"{kind} {j['metadata'].get('namespace')}/{j['metadata']['name']}"
        for api, kind in (("kubeflow.org/v1", "PyTorchJob"), (TRAINER_API, TRAINJOB))
        for j in evidence.of(api, kind)
    }
    for w in evidence.of(KUEUE, "Workload"):
        preempted, evicted = condition(w, "Preempted"), condition(w, "Evicted")
        reason = preempted if preempted.get("status") == "True" else evicted
        if reason.get("status") == "True":
            message = str(reason.get("message", ""))
            by = _JOB_UID.search(message)
            displaced = f", to admit {jobs[by.group(1)]}" if by and by.group(1) in jobs else ""
            yield Violation(
                _at_job(evidence, w),
                f"{_job(w)} was evicted by Kueue{displaced}: {reason.get('reason')}: {message}",
                "give the job a higher priority, or let it checkpoint: Kueue requeues it",
            )


RULES: tuple[Rule[Evidence], ...] = (
    Rule("DK201", Severity.ERROR, "Act on the cause named in the message.", pod_unschedulable),
    Rule(
        "DK202",
        Severity.WARNING,
        "Free quota, lower the request, or raise the queue's quota.",
        kueue_workload_pending,
    ),
    Rule("DK203", Severity.WARNING, "Raise the job's priority or checkpoint it.", pod_disrupted),
)
