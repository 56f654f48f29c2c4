"""The failures the guide describes, injected by mlkube's KWOK stages, as the real
API reports them (what `mlkube doctor` will read)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from mlkube.cluster.client import Kube
from mlkube.localcluster.stages import RECLAIM_ANNOTATION

from . import scenarios

NAMESPACE = "failures"


def _until(what: str, check: Callable[[], Any], timeout: float = 30) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.25)
    raise AssertionError(f"timed out waiting for {what}")


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
    status = _until(f"{failure} pod", lambda: (s := _status(kube, name)).get("lastState") and s)
    assert status["phase"] == "Running" and status["restartCount"] == 1
    assert status["lastState"]["terminated"]["reason"] == reason
    assert status["lastState"]["terminated"]["exitCode"] == exit_code
    assert status["state"]["waiting"]["reason"] == "CrashLoopBackOff"


def test_image_pull_backs_off_on_a_scheduled_pod(kube: Kube) -> None:
    _pod(kube, "image-pull", "ImagePullBackOff")
    status = _until(
        "ImagePullBackOff", lambda: (s := _status(kube, "image-pull")).get("state") and s
    )
    assert status["phase"] == "Pending" and status["node"].startswith("t4-")
    assert status["state"]["waiting"]["reason"] == "ImagePullBackOff"
    assert "llm-with-weights" in status["state"]["waiting"]["message"]


def test_spot_node_is_reclaimed_after_its_notice(kube: Kube) -> None:
    node = "t4-dev-0"
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
    _until("node deleted", lambda: kube.get("v1", "Node", node) is None)
