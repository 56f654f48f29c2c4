"""Diagnoses of whole workloads: quota refusals and distributed jobs that cannot
rendezvous (endpoints: `serving`)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from mlkube.manifests import fit
from mlkube.manifests.objects import Location, condition, live_manifest
from mlkube.quantity import parse_quantity
from mlkube.rules.doctor.common import at, owners, pods
from mlkube.rules.doctor.owners import TRAINJOB, top_owner
from mlkube.rules.model import Rule, Severity, Violation
from mlkube.snapshots.evidence import Evidence
from mlkube.wellknown import JOB_NAME_LABEL, TRAINER_API

_QUOTA = re.compile(
    r"exceeded quota: ([^,]+), requested: ([^,]+(?:,[^,:]+)*), used: (.+), limited: (.+)$"
)


def quota_exceeded(evidence: Evidence) -> Iterator[Violation]:
    """Finds workloads whose pods the API server refuses for exceeding a ResourceQuota.

    Names the quota, what a pod asked and what is left; a pod that asks more than the
    quota's whole limit is said to be one that can never run.

    ## Why is this bad?
    The controller keeps trying and the pods never exist: the job looks stuck at
    "Created" and the only trace is a `FailedCreate` event naming the quota.

    ## Example
    ```text
    pods "resnet-worker-2" is forbidden: exceeded quota: gpu-quota, requested:
    requests.nvidia.com/gpu=1, used: requests.nvidia.com/gpu=16, limited: requests.nvidia.com/gpu=16
    ```

    ## Use instead
    ```yaml
    namespaces: [{name: ml-training, quota: {gpu: 24}}]   # or run fewer GPUs at once
    ```
    """
    seen: set[tuple[str, str]] = set()
    index = owners(evidence)
    for event in evidence.of("v1", "Event"):
        message = str(event.get("message", ""))
        involved = dict(event.get("involvedObject") or {})
        # A TrainJob's pods are created by its Jobs: the refusal is the TrainJob's, once.
        top = top_owner(
            {"metadata": {"namespace": involved.get("namespace"), "ownerReferences": [involved]}},
            index,
        )
        if top is not None and top.kind != involved.get("kind"):
            involved = {"apiVersion": top.api_version, "kind": top.kind,
                        "namespace": top.namespace, "name": top.name}  # fmt: skip
        key = (str(involved.get("namespace")), str(involved.get("name")))
        if "exceeded quota" not in message or key in seen:
            continue
        seen.add(key)
        match = _QUOTA.search(message)
        gang = _gang(evidence, str(involved.get("kind")), key)
        detail, never = _quota_detail(match, key[0], gang) if match else (message, False)
        obj = {"apiVersion": involved.get("apiVersion", "v1"), "kind": involved.get("kind", ""),
               "metadata": {"namespace": key[0], "name": key[1]}}  # fmt: skip
        fix = (
            "lower what the job's pods ask (each, and together when they must start together) "
            "below the quota's limit, or raise the limit: no amount of waiting admits it"
            if never
            else "wait for the namespace's other pods to finish, raise the namespace's quota, "
            "or lower what the job asks for"
        )
        yield Violation(
            at(evidence, obj),
            f"{obj['kind']} {key[0]}/{key[1]} cannot create its pods: {detail}",
            fix,
        )


def _amounts(text: str) -> dict[str, str]:
    """``requests.memory=964Gi,requests.nvidia.com/gpu=8`` → {name: quantity}."""
    return dict(part.split("=", 1) for part in text.split(",") if "=" in part)


def _gang(evidence: Evidence, kind: str, key: tuple[str, str]) -> int:
    """How many pods a distributed training job needs running at once (its ranks wait
    for each other at rendezvous); 1 for anything whose pods run on their own."""
    api = {"TrainJob": TRAINER_API, "PyTorchJob": "kubeflow.org/v1"}.get(kind)
    job = next(
        (j for j in evidence.of(api, kind) if (str(j["metadata"].get("namespace")),
         j["metadata"]["name"]) == key),
        None,
    ) if api else None  # fmt: skip
    spec = (job or {}).get("spec") or {}
    if kind == "TrainJob":
        return int((spec.get("trainer") or {}).get("numNodes") or 1)
    if kind == "PyTorchJob":
        replicas = (spec.get("pytorchReplicaSpecs") or {}).values()
        return sum(int(r.get("replicas", 1)) for r in replicas) or 1
    return 1


def _quota_detail(match: re.Match[str], namespace: str, gang: int) -> tuple[str, bool]:
    """The quota, and for each resource refused what one pod asked and what is left;
    whether one pod alone, or the ``gang`` of pods that must run together, asks more
    than the limit (it can never run)."""
    quota = match.group(1).strip()
    asked, used, limited = (_amounts(match.group(i)) for i in (2, 3, 4))
    parts, never = [], []
    for name, amount in sorted(asked.items()):
        ask = parse_quantity(amount) or 0.0
        limit = parse_quantity(limited.get(name)) or 0.0
        left = max(limit - (parse_quantity(used.get(name)) or 0.0), 0.0)
        resource = name.removeprefix("requests.").removeprefix("limits.")
        parts.append(
            f"a pod asks {amount} {name}, {_left(resource, left)} of {limited.get(name, '?')} left"
        )
        if ask > limit:
            never.append(f"one pod asks {amount} {name} and the quota allows {limited.get(name)}")
        elif ask * gang > limit:
            never.append(
                f"its {gang} pods, which must run together, ask {_left(resource, ask * gang)} "
                f"{name} and the quota allows {limited.get(name)}"
            )
    text = f"ResourceQuota {namespace}/{quota}: {'; '.join(parts)}"
    if never:
        text += f"; it can never run: {'; '.join(never)}"
    return text, bool(never)


def _left(resource: str, amount: float) -> str:
    return fit.shown(resource, amount).split(" ", 1)[0]


def distributed_job_incomplete(evidence: Evidence) -> Iterator[Violation]:
    """Finds distributed jobs whose pods are not all running: the others wait at rendezvous.

    ## Why is this bad?
    `torch.distributed.init_process_group` waits until every rank has joined: with
    one worker Pending, the running ranks hang silently, holding their GPUs, until the
    rendezvous timeout (30 minutes by default).

    ## Example
    ```text
    Master: Running, Worker-0: Running, Worker-1: Pending (Insufficient nvidia.com/gpu)
    ```

    ## Use instead
    ```yaml
    metadata:
      labels: {kueue.x-k8s.io/queue-name: training}   # Kueue admits all pods or none
    ```
    """
    by_job: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for pod in pods(evidence):
        labels = pod["metadata"].get("labels") or {}
        if JOB_NAME_LABEL in labels:
            by_job.setdefault(
                (pod["metadata"].get("namespace"), labels[JOB_NAME_LABEL]), []
            ).append(pod)
    yield from _trainjobs_incomplete(evidence)
    for job in evidence.of("kubeflow.org/v1", "PyTorchJob"):
        meta = job["metadata"]
        if (
            condition(job, "Succeeded").get("status") == "True"
            or condition(job, "Failed").get("status") == "True"
        ):
            continue
        expected = sum(
            int(r.get("replicas", 1))
            for r in (job.get("spec", {}).get("pytorchReplicaSpecs") or {}).values()
        )
        members = by_job.get((meta.get("namespace"), meta["name"]), [])
        running = [p for p in members if p.get("status", {}).get("phase") == "Running"]
        if expected < 2 or not running or len(running) == expected:
            continue
        waiting = _not_running(members, running)
        missing = expected - len(members)
        if missing:
            waiting.append(f"{missing} pod(s) not created")
        service = f"{meta['name']}-master-0"
        services = {
            (s["metadata"].get("namespace"), s["metadata"]["name"])
            for s in evidence.of("v1", "Service")
        }
        if (meta.get("namespace"), service) not in services:
            waiting.append(f"Service {service} (the rendezvous address) is missing")
        yield Violation(
            at(evidence, {"apiVersion": "kubeflow.org/v1", "kind": "PyTorchJob", **job}, "status"),
            f"PyTorchJob {meta.get('namespace')}/{meta['name']}: {len(running)} of {expected} pods "
            f"running; the others block rendezvous: {'; '.join(waiting)}",
            "fix why the missing ranks cannot start (see their findings), and queue the job with "
            "Kueue so that it starts all its pods or none",
        )


def _not_running(members: list[dict[str, Any]], running: list[dict[str, Any]]) -> list[str]:
    """Each pod of the job that does not run: its phase, and why it is unscheduled."""
    return [
        f"{p['metadata']['name']} {p.get('status', {}).get('phase')}"
        + (
            f" ({condition(p, 'PodScheduled').get('message', '')[:80]})"
            if condition(p, "PodScheduled").get("status") == "False"
            else ""
        )
        for p in members
        if p not in running
    ]


def _trainjobs_incomplete(evidence: Evidence) -> Iterator[Violation]:
    """distributed_job_incomplete for TrainJobs: pods walked up to their TrainJob; the
    rendezvous address is ``<trainjob>-node-0-0.<trainjob>``, the JobSet's headless
    Service ``<trainjob>``."""
    index = owners(evidence)
    by_job: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for pod in pods(evidence):
        top = top_owner(pod, index)
        if top is not None and top.kind == TRAINJOB:
            by_job.setdefault((top.namespace, top.name), []).append(pod)
    services = {
        (str(s["metadata"].get("namespace") or ""), s["metadata"]["name"])
        for s in evidence.of("v1", "Service")
    }
    for job in evidence.of(TRAINER_API, TRAINJOB):
        meta = job["metadata"]
        if any(condition(job, c).get("status") == "True" for c in ("Complete", "Failed")):
            continue
        expected = int(((job.get("spec") or {}).get("trainer") or {}).get("numNodes") or 0)
        ns = str(meta.get("namespace") or "")
        members = by_job.get((ns, meta["name"]), [])
        running = [p for p in members if p.get("status", {}).get("phase") == "Running"]
        if expected < 2 or not running or len(running) >= expected:
            continue  # numNodes unset: the runtime's count, which doctor does not read
        waiting = _not_running(members, running)
        if expected > len(members):
            waiting.append(f"{expected - len(members)} pod(s) not created")
        if (ns, meta["name"]) not in services:
            waiting.append(f"Service {meta['name']} (the rendezvous address's domain) is missing")
        yield Violation(
            at(evidence, {"apiVersion": TRAINER_API, "kind": TRAINJOB, **job}, "status"),
            f"TrainJob {ns}/{meta['name']}: {len(running)} of {expected} pods running; "
            f"the others block rendezvous: {'; '.join(waiting)}",
            "fix why the missing ranks cannot start (see their findings), and queue the job with "
            "Kueue so that it starts all its pods or none",
        )


def rendezvous_blocked_by_policy(evidence: Evidence) -> Iterator[Violation]:
    """Finds NetworkPolicies that cut a live distributed job off from its peers or DNS.

    ## Why is this bad?
    NCCL and Gloo need every rank to reach every other one, and the master's Service
    name to resolve: a policy that allows neither leaves `init_process_group` hanging.
    This is lint's MK701/MK702 applied to the objects in the cluster.

    ## Example
    ```yaml
    spec: {podSelector: {}, policyTypes: [Ingress, Egress]}   # default deny, no allow
    ```

    ## Use instead
    ```yaml
    ingress: [{from: [{podSelector: {matchLabels: {training.kubeflow.org/job-name: resnet}}}]}]
    ```
    """
    if not evidence.of("networking.k8s.io/v1", "NetworkPolicy"):
        return  # nothing restricts any traffic
    # The linter's rules (and RE2, the Go regexps of other lint rules, with them) load
    # only for a cluster that has policies: doctor's start-up does not pay for them.
    from mlkube.rules.lint import network  # noqa: PLC0415
    from mlkube.rules.lint.inventory import Inventory  # noqa: PLC0415

    inventory = Inventory()
    for api_version, kind in (
        ("kubeflow.org/v1", "PyTorchJob"),
        (TRAINER_API, TRAINJOB),
        ("networking.k8s.io/v1", "NetworkPolicy"),
    ):
        for obj in evidence.of(api_version, kind):
            inventory.add(
                live_manifest({"apiVersion": api_version, "kind": kind, **obj}, evidence.context)
            )
    for rule in network.INPUT_RULES:
        for v in rule.check(inventory):
            yield Violation(Location(evidence.context, 0, v.where.obj, v.where.field), v.message)


RULES: tuple[Rule[Evidence], ...] = (
    Rule("DK204", Severity.ERROR, "Raise the quota or lower the request.", quota_exceeded),
    Rule("DK301", Severity.ERROR, "Start every rank, or none.", distributed_job_incomplete),
    Rule(
        "DK302",
        Severity.ERROR,
        "Allow the job's pods and DNS in the policies.",
        rendezvous_blocked_by_policy,
    ),
)
