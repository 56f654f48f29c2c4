"""Termination notices, normalised: every cloud says "this node is going away" in its
own way; the controller acts on one shape, a ``Notice``.

| source                            | where it shows                                   | window |
|-----------------------------------|--------------------------------------------------|--------|
| AWS (aws-node-termination-handler)| taint ``aws-node-termination-handler/spot-itn``,  | 120 s  |
|                                   | ``…/asg-lifecycle-termination``                  |        |
| AWS rebalance recommendation      | taint ``…/rebalance-recommendation`` (advisory)  |   –    |
| Karpenter                         | taint ``karpenter.sh/disrupted`` (it drains)     | 120 s  |
| GKE                               | taint ``cloud.google.com/impending-node-termination`` | 30 s |
| AKS (Node Problem Detector)       | condition ``VMEventScheduled`` naming Preempt or  |  30 s  |
|                                   | Terminate; older ``PreemptScheduled``            |        |
| on-prem / anything else           | annotation ``mlkube.dev/terminate-at: <RFC 3339>``| to it |
| any eviction or preemption        | pod condition ``DisruptionTarget=True``          | grace  |

A notice's ``key`` is its identity for "one request per job per notice": a node notice
is keyed by the node's UID (a reclaimed node is reclaimed once), a pod's
DisruptionTarget by the pod's UID.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from mlkube.manifests.objects import condition

TERMINATE_AT_ANNOTATION = "mlkube.dev/terminate-at"
# Written by the controller on the node: when it first saw the notice, so that the
# eviction deadline survives a restart (NoSchedule taints carry no timeAdded).
OBSERVED_ANNOTATION = "mlkube.dev/notice-observed-at"
# The conditions a notice is read from: a Node's (AKS), a Pod's (any disruption).
NODE_NOTICE_CONDITIONS = ("VMEventScheduled", "PreemptScheduled")
POD_NOTICE_CONDITION = "DisruptionTarget"


@dataclass(frozen=True, slots=True)
class Signal:
    name: str
    window_seconds: int
    drain: bool  # cordon the node and evict the job's pods before the window closes


TAINT_SIGNALS = {
    "aws-node-termination-handler/spot-itn": Signal("aws-spot-interruption", 120, True),
    "aws-node-termination-handler/asg-lifecycle-termination": Signal(
        "aws-asg-termination", 120, True
    ),
    "aws-node-termination-handler/rebalance-recommendation": Signal(
        "aws-rebalance-recommendation", 0, False
    ),
    "karpenter.sh/disrupted": Signal("karpenter-disruption", 120, False),
    "cloud.google.com/impending-node-termination": Signal("gke-impending-termination", 30, True),
}
AZURE = Signal("azure-scheduled-event", 30, True)
ON_PREM = Signal("mlkube-terminate-at", 0, True)
AZURE_EVENTS = ("Preempt", "Terminate")


@dataclass(frozen=True, slots=True)
class Notice:
    key: str
    signal: Signal
    node: str
    detail: str
    deadline: datetime | None = None  # when the source says the node goes away

    def end(self, observed: datetime) -> datetime:
        """When the node is gone: the source's deadline, else observed + window."""
        if self.deadline is not None:
            return self.deadline
        return datetime.fromtimestamp(observed.timestamp() + self.signal.window_seconds, UTC)


def parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def format_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def node_notice(node: dict[str, Any]) -> Notice | None:
    """The termination notice a node carries, or None."""
    meta = node.get("metadata") or {}
    name, uid = str(meta.get("name", "")), str(meta.get("uid", ""))
    key = f"node/{uid}"
    for taint in (node.get("spec") or {}).get("taints") or []:
        signal = TAINT_SIGNALS.get(str(taint.get("key")))
        if signal is not None:
            return Notice(key, signal, name, f"taint {taint['key']}")
    for kind in NODE_NOTICE_CONDITIONS:
        cond = condition(node, kind)
        message = str(cond.get("message", ""))
        if cond.get("status") == "True" and (
            kind == "PreemptScheduled" or any(e in message for e in AZURE_EVENTS)
        ):
            return Notice(key, AZURE, name, f"condition {kind}: {message}".strip().rstrip(":"))
    annotations = meta.get("annotations") or {}
    if TERMINATE_AT_ANNOTATION in annotations:
        deadline = parse_time(annotations[TERMINATE_AT_ANNOTATION])
        if deadline is not None:
            return Notice(key, ON_PREM, name, f"annotation {TERMINATE_AT_ANNOTATION}", deadline)
    return None


def observed_at(node: dict[str, Any]) -> datetime | None:
    annotations = (node.get("metadata") or {}).get("annotations") or {}
    return parse_time(annotations.get(OBSERVED_ANNOTATION))


def pod_disruption(pod: dict[str, Any]) -> Notice | None:
    """A pod the API server marked for disruption (eviction, preemption, taint
    manager, graceful node shutdown): its own notice; it is already terminating, so
    nothing is drained."""
    cond = condition(pod, POD_NOTICE_CONDITION)
    if cond.get("status") != "True":
        return None
    meta = pod.get("metadata") or {}
    grace = int((pod.get("spec") or {}).get("terminationGracePeriodSeconds") or 30)
    signal = Signal(f"disruption-target:{cond.get('reason', 'unknown')}", grace, False)
    node = str((pod.get("spec") or {}).get("nodeName") or "")
    return Notice(f"pod/{meta.get('uid', '')}", signal, node, str(cond.get("message", "")))
