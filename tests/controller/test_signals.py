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


# The taint keys as each project defines them, not as signals.py spells them:
# - aws/aws-node-termination-handler pkg/node/node.go: SpotInterruptionTaint,
#   ASGLifecycleTerminationTaint, RebalanceRecommendationTaint (and
#   ScheduledMaintenanceTaint, which is a reboot or retirement notice, not a reclaim).
# - kubernetes-sigs/karpenter pkg/apis/v1/taints.go: DisruptedTaintKey =
#   apis.Group + "/disrupted", the group being "karpenter.sh".
# - GoogleCloudPlatform/k8s-node-termination-handler main.go, --taint example
#   "cloud.google.com/impending-node-termination::NoSchedule" (GKE's own handler).
AWS_SPOT_ITN = "aws-node-termination-handler/spot-itn"
AWS_ASG_TERMINATION = "aws-node-termination-handler/asg-lifecycle-termination"
AWS_REBALANCE = "aws-node-termination-handler/rebalance-recommendation"
AWS_SCHEDULED_MAINTENANCE = "aws-node-termination-handler/scheduled-maintenance"
KARPENTER_DISRUPTED = "karpenter.sh/disrupted"
GKE_TERMINATION = "cloud.google.com/impending-node-termination"

# The notice each cloud documents:
# - AWS, "Spot Instance interruption notices" (docs.aws.amazon.com/AWSEC2/latest/
#   UserGuide/spot-instance-termination-notices.html): "a warning that is issued two
#   minutes before Amazon EC2 stops or terminates your Spot Instance".
# - GKE, "Spot VMs" (docs.cloud.google.com/kubernetes-engine/docs/concepts/spot-vms):
#   after the preemption notice GKE gives Pods 30 seconds to terminate gracefully.
# - Azure, "Azure Metadata Service: Scheduled Events for Linux VMs" (learn.microsoft.com/
#   azure/virtual-machines/linux/scheduled-events): each event is scheduled a minimum
#   time ahead, "Preempt | 30 seconds" (Spot VMs), and Terminate "User Configurable: 5
#   to 15 minutes"; the shorter one is assumed for both. AKS reports them through Node
#   Problem Detector as the node condition VMEventScheduled (learn.microsoft.com/azure/
#   aks/node-problem-detector, "Node conditions").
AWS_WARNING_SECONDS = 2 * 60
GKE_NOTICE_SECONDS = 30
AZURE_PREEMPT_SECONDS = 30


@pytest.mark.parametrize(
    ("taint", "window", "drain"),
    [
        # a reclaim with the EC2 two-minute warning: drain before it ends
        (AWS_SPOT_ITN, AWS_WARNING_SECONDS, True),
        # the lifecycle hook holds the instance for its heartbeat timeout (an hour by
        # default); the shortest AWS notice, two minutes, is assumed: acting early
        (AWS_ASG_TERMINATION, AWS_WARNING_SECONDS, True),
        # a recommendation, not an interruption: no deadline, nothing drained
        (AWS_REBALANCE, 0, False),
        # Karpenter drains the node itself (on AWS within the same two-minute warning);
        # mlkube only asks for the checkpoint
        (KARPENTER_DISRUPTED, AWS_WARNING_SECONDS, False),
        (GKE_TERMINATION, GKE_NOTICE_SECONDS, True),
    ],
)
def test_each_clouds_taint_is_a_notice_with_its_documented_window(
    taint: str, window: int, drain: bool
) -> None:
    notice = node_notice(node("n1", taints=[{"key": taint, "effect": T}]))
    assert notice is not None
    assert (notice.signal.window_seconds, notice.signal.drain) == (window, drain)
    assert notice.key == "node/uid-n1" and notice.node == "n1"
    assert notice.detail == f"taint {taint}"


def test_the_five_taints_are_five_distinct_signals() -> None:
    keys = (AWS_SPOT_ITN, AWS_ASG_TERMINATION, AWS_REBALANCE, KARPENTER_DISRUPTED,
            GKE_TERMINATION)  # fmt: skip
    names = set()
    for key in keys:
        notice = node_notice(node("n", taints=[{"key": key, "effect": T}]))
        assert notice is not None
        names.add(notice.signal.name)
    assert len(names) == len(keys)


def test_aws_scheduled_maintenance_is_not_a_reclaim() -> None:
    # NTH taints for EC2 scheduled events too (system-reboot, instance-retirement): the
    # node may come back, so it is not a spot notice here.
    tainted = node("n1", taints=[{"key": AWS_SCHEDULED_MAINTENANCE, "effect": T}])
    assert node_notice(tainted) is None


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
        assert notice.signal.name == "azure-scheduled-event"
        assert notice.signal.window_seconds == AZURE_PREEMPT_SECONDS


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
