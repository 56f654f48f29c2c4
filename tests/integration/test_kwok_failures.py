"""The failures the guide describes, injected by mlkube's KWOK stages, as the real
API reports them (what `mlkube doctor` will read)."""

from __future__ import annotations

from typing import Any

import pytest

from mlkube.cluster.client import Kube
from mlkube.localcluster.nodes import fake_node
from mlkube.localcluster.stages import RECLAIM_ANNOTATION
from mlkube.manifests.objects import condition
from mlkube.spec import load_platform
from mlkube.spec.models import Platform

from ..conftest import EXAMPLES
from . import scenarios
from .waiting import until

NAMESPACE = "failures"


def _pod(kube: Kube, name: str, failure: str) -> None:
    image = "registry.example/llm-with-weights:1.0"
    scenarios.pod(kube, NAMESPACE, name, fail=failure, gpus=0, image=image)


def _status(kube: Kube, name: str) -> dict[str, Any]:
    pod = kube.get("v1", "Pod", name, NAMESPACE) or {}
    statuses = pod.get("status", {}).get("containerStatuses") or [{}]
    return {
        "phase": pod.get("status", {}).get("phase"),
        "node": pod.get("spec", {}).get("nodeName"),
        **statuses[0],
    }


@pytest.mark.parametrize(
    ("failure", "reason", "exit_code"),
    [("OOMKilled", "OOMKilled", 137), ("CrashLoopBackOff", "Error", 1)],
)
def test_container_dies_and_backs_off(
    kube: Kube, failure: str, reason: str, exit_code: int
) -> None:
    name = failure.lower()
    _pod(kube, name, failure)
    status = until(f"{failure} pod", lambda: (s := _status(kube, name)).get("lastState") and s)
    assert status["phase"] == "Running" and status["restartCount"] == 1
    assert status["lastState"]["terminated"]["reason"] == reason
    assert status["lastState"]["terminated"]["exitCode"] == exit_code
    assert status["state"]["waiting"]["reason"] == "CrashLoopBackOff"


def test_image_pull_backs_off_on_a_scheduled_pod(kube: Kube) -> None:
    _pod(kube, "image-pull", "ImagePullBackOff")
    status = until(
        "ImagePullBackOff", lambda: (s := _status(kube, "image-pull")).get("state") and s
    )
    assert status["phase"] == "Pending" and status["node"].startswith("t4-")
    assert status["state"]["waiting"]["reason"] == "ImagePullBackOff"
    assert "llm-with-weights" in status["state"]["waiting"]["message"]


def test_spot_node_is_reclaimed_after_its_notice(kube: Kube) -> None:
    """On a node of its own, shaped like the Platform's T4 pool, so that the shared
    cluster keeps every node the other tests rely on."""
    platform = load_platform(str(EXAMPLES / "platform.yaml")).spec
    assert isinstance(platform, Platform)
    pool = next(p for p in platform.spec.pools if p.name == "t4-dev")
    shape = fake_node(pool, 0)
    node = shape["metadata"]["name"] = "reclaim-t4-0"
    shape["metadata"]["labels"]["kubernetes.io/hostname"] = node
    status = shape.pop("status")
    kube.patch_status(kube.create(shape), status)
    try:
        _reclaim(kube, node)
    finally:  # the cluster as it was, even when the reclaim did not happen
        if kube.get("v1", "Node", node) is not None:
            kube.delete("v1", "Node", node)


def _reclaim(kube: Kube, node: str) -> None:
    until("node Ready", lambda: condition(kube.get("v1", "Node", node) or {}, "Ready").get(
        "status") == "True")  # fmt: skip
    patch = {
        "metadata": {"annotations": {RECLAIM_ANNOTATION: "2s"}},
        "spec": {
            "taints": [
                {
                    "key": "aws-node-termination-handler/spot-itn",
                    "value": "",
                    "effect": "NoSchedule",
                }
            ]
        },
    }
    kube.patch("v1", "Node", node, patch)
    assert kube.get("v1", "Node", node) is not None  # the notice is not the end yet
    until("node deleted", lambda: kube.get("v1", "Node", node) is None)
