"""Every cloud's termination signal becomes one Notice; look-alikes do not."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from mlkube.controller.signals import (
    OBSERVED_ANNOTATION,
    TERMINATE_AT_ANNOTATION,
    node_notice,
    observed_at,
    pod_disruption,
)

from .snapshots import node, pod

T = "NoSchedule"


@pytest.mark.parametrize(
    ("taint", "signal", "drain", "window"),
    [
        ("aws-node-termination-handler/spot-itn", "aws-spot-interruption", True, 120),
        ("aws-node-termination-handler/asg-lifecycle-termination", "aws-asg-termination", True,
         120),
        ("aws-node-termination-handler/rebalance-recommendation",
         "aws-rebalance-recommendation", False, 0),
        ("karpenter.sh/disrupted", "karpenter-disruption", False, 120),
        ("cloud.google.com/impending-node-termination", "gke-impending-termination", True, 30),
    ],
)  # fmt: skip
def test_taint_signals(taint: str, signal: str, drain: bool, window: int) -> None:
    notice = node_notice(node("n1", taints=[{"key": taint, "effect": T}]))
    assert notice is not None
    assert (notice.signal.name, notice.signal.drain, notice.signal.window_seconds) == (
        signal, drain, window,
    )  # fmt: skip
    assert notice.key == "node/uid-n1" and notice.node == "n1"


def test_ordinary_taints_are_not_notices() -> None:
    taints = [{"key": "nvidia.com/gpu", "effect": T},
              {"key": "node.kubernetes.io/unschedulable", "effect": T}]  # fmt: skip
    tainted = node("n1", taints=taints)
    assert node_notice(tainted) is None
    assert node_notice(node("n2")) is None


@pytest.mark.parametrize(
    ("kind", "message", "fires"),
    [
        ("VMEventScheduled", "VM event scheduled: Preempt at Mon, 30 Nov 2026 10:00:00 GMT", True),
        ("VMEventScheduled", "VM event scheduled: Terminate", True),
        ("VMEventScheduled", "VM event scheduled: Freeze", False),  # a pause, not an end
        ("PreemptScheduled", "", True),
        ("KernelDeadlock", "Preempt", False),
    ],
)
def test_azure_scheduled_events(kind: str, message: str, fires: bool) -> None:
    cond = {"type": kind, "status": "True", "message": message}
    notice = node_notice(node("aks-1", conditions=[cond]))
    assert (notice is not None) == fires
    if notice is not None:
        assert notice.signal.name == "azure-scheduled-event" and notice.signal.window_seconds == 30


def test_azure_condition_that_cleared_is_not_a_notice() -> None:
    cond = {"type": "VMEventScheduled", "status": "False", "message": "Preempt"}
    assert node_notice(node("aks-1", conditions=[cond])) is None


def test_on_prem_annotation_carries_its_deadline() -> None:
    n = node("rack-1", annotations={TERMINATE_AT_ANNOTATION: "2026-11-29T10:00:00Z"})
    notice = node_notice(n)
    assert notice is not None and notice.signal.name == "mlkube-terminate-at"
    seen = datetime(2026, 11, 29, 9, 0, tzinfo=UTC)
    assert notice.end(seen) == datetime(2026, 11, 29, 10, 0, tzinfo=UTC)


def test_on_prem_annotation_that_is_not_a_time_is_ignored() -> None:
    assert node_notice(node("rack-1", annotations={TERMINATE_AT_ANNOTATION: "soon"})) is None


def test_window_counts_from_when_the_notice_was_seen() -> None:
    notice = node_notice(node("g", taints=[{"key": "cloud.google.com/impending-node-termination",
                                           "effect": T}]))  # fmt: skip
    assert notice is not None
    seen = datetime(2026, 11, 29, 9, 0, tzinfo=UTC)
    assert (notice.end(seen) - seen).total_seconds() == 30


def test_observed_time_is_read_back_from_the_node() -> None:
    stamped = node("n", annotations={OBSERVED_ANNOTATION: "2026-11-29T09:00:00.5Z"})
    assert observed_at(stamped) == datetime(2026, 11, 29, 9, 0, 0, 500000, tzinfo=UTC)
    assert observed_at(node("n")) is None


def test_disruption_target_is_a_pod_notice_that_drains_nothing() -> None:
    cond = {"type": "DisruptionTarget", "status": "True", "reason": "PreemptionByScheduler",
            "message": "preempted by ml/high"}  # fmt: skip
    notice = pod_disruption(pod("p", "n1", conditions=[cond], grace=45))
    assert notice is not None
    assert notice.key == "pod/uid-p" and notice.node == "n1"
    assert notice.signal.name == "disruption-target:PreemptionByScheduler"
    assert not notice.signal.drain and notice.signal.window_seconds == 45
    cond["status"] = "False"
    assert pod_disruption(pod("p", "n1", conditions=[cond])) is None
