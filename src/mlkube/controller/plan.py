"""What to do about one training job, decided on plain data: the job's pods, the nodes
they run on, the requests already recorded on the job, and the time. No I/O here, so
every decision is unit-tested on snapshots."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from mlkube.controller.jobs import REQUEST_ANNOTATION, Request, handled, request_id
from mlkube.controller.signals import (
    Notice,
    format_time,
    node_notice,
    parse_time,
    pod_disruption,
)

# Evict this long before the grace period would overrun the node's end, so SIGKILL
# comes from the kubelet, on time, not from the cloud pulling the plug.
EVICTION_MARGIN = timedelta(seconds=5)
DEFAULT_GRACE_SECONDS = 30
TERMINAL_PHASES = ("Succeeded", "Failed")
NEVER = datetime.max.replace(tzinfo=UTC)  # the end of a node with no notice


@dataclass
class JobPlan:
    request: Request | None = None  # a new request to record on the job
    current: str | None = None  # the request id the job's pods should carry
    deliver: list[dict[str, Any]] = field(default_factory=list)
    evict: list[dict[str, Any]] = field(default_factory=list)
    wake_at: datetime | None = None  # look again then (a pending eviction)

    @property
    def idle(self) -> bool:
        return not (self.request or self.deliver or self.evict or self.wake_at)


def live(pod: dict[str, Any]) -> bool:
    return (pod.get("status") or {}).get("phase") not in TERMINAL_PHASES


def active_notices(
    pods: list[dict[str, Any]], nodes: Mapping[str, dict[str, Any]]
) -> dict[str, Notice]:
    """The notices that touch the job: its nodes' and its pods' own."""
    out: dict[str, Notice] = {}
    for pod in pods:
        if not live(pod):
            continue
        node = nodes.get(str((pod.get("spec") or {}).get("nodeName") or ""))
        if node is None:
            # Unscheduled, or its node is already gone (the pod garbage collector marks
            # such pods DisruptionTarget): too late to ask it anything.
            continue
        # A pod evicted because its node is going away (by us, or a cloud's drain) is
        # that node's notice, not a new one: only a disruption on a quiet node counts.
        notice = node_notice(node) or pod_disruption(pod)
        if notice is not None:
            out[notice.key] = notice
    return out


def grace(pod: dict[str, Any]) -> int:
    value = (pod.get("spec") or {}).get("terminationGracePeriodSeconds")
    return int(value) if value is not None else DEFAULT_GRACE_SECONDS


def plan_job(
    job_uid: str,
    pods: list[dict[str, Any]],
    nodes: Mapping[str, dict[str, Any]],
    record: list[Request],
    *,
    observed: Mapping[str, datetime],
    now: datetime,
) -> JobPlan:
    """``observed`` maps node names to when their notice was first seen."""
    plan = JobPlan()
    notices = active_notices(pods, nodes)
    if not notices:
        return plan
    new = sorted(set(notices) - handled(record))
    if new:
        first = notices[new[0]]
        current = plan.request = Request(
            request_id(job_uid, tuple(new)),
            tuple(new),
            first.signal.name,
            tuple(sorted({notices[k].node for k in new})),
            format_time(now),
        )
    else:
        current = next(r for r in reversed(record) if set(r.notices) & set(notices))
    plan.current = current.id
    asked = parse_time(current.at) or now
    # Pods created after the request (replacements) start from the newest checkpoint.
    plan.deliver = [
        p
        for p in pods
        if live(p)
        and ((p.get("metadata") or {}).get("annotations") or {}).get(REQUEST_ANNOTATION)
        != current.id
        and (parse_time((p.get("metadata") or {}).get("creationTimestamp")) or asked) <= asked
    ]
    # The pods whose node goes first are asked first: they are evicted first, and a pod
    # asked before its SIGTERM checkpoints on the request, not only on the signal.
    ends = node_ends(notices, observed, now)
    plan.deliver.sort(key=lambda p: ends.get(_node_of(p), NEVER))
    for pod in pods:
        node_name = str((pod.get("spec") or {}).get("nodeName") or "")
        notice = next((n for n in notices.values() if n.node == node_name and n.signal.drain), None)
        if notice is None or not live(pod) or (pod.get("metadata") or {}).get("deletionTimestamp"):
            continue
        end = notice.end(observed.get(node_name, now))
        at = end - timedelta(seconds=grace(pod)) - EVICTION_MARGIN
        if at <= now:
            plan.evict.append(pod)
        elif plan.wake_at is None or at < plan.wake_at:
            plan.wake_at = at
    return plan


def node_ends(
    notices: Mapping[str, Notice], observed: Mapping[str, datetime], now: datetime
) -> dict[str, datetime]:
    """Each noticed node's end: the soonest of its notices'."""
    ends: dict[str, datetime] = {}
    for notice in notices.values():
        end = notice.end(observed.get(notice.node, now))
        ends[notice.node] = min(end, ends.get(notice.node, end))
    return ends


def _node_of(pod: dict[str, Any]) -> str:
    return str((pod.get("spec") or {}).get("nodeName") or "")


def first_to_ask(plan: JobPlan, nodes: Mapping[str, dict[str, Any]]) -> dict[str, Any]:
    """The pod the urgent pass asks: one on a node with no notice if there is one, as
    it outlives the others and tells its peers through the ranks' agreement."""
    quiet = [p for p in plan.deliver
             if node_notice(nodes.get(str(p["spec"].get("nodeName")), {})) is None]  # fmt: skip
    return (quiet or plan.deliver)[0]


def utcnow() -> datetime:
    return datetime.now(UTC)
