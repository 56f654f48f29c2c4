"""The guide's doubtful claims that an API server can decide, decided by one
(see docs/decisions.md; NOTES.md items 1–3)."""

from __future__ import annotations

from typing import Any

import pytest

from mlkube.cluster.client import ApiError, Kube

from .conftest import Namespaces
from .waiting import until


def _quota_counted(kube: Kube, namespace: str, pods: int) -> dict[str, str]:
    """The quota's ``status.used`` once the quota controller has counted ``pods`` pods
    (admission refuses pods under a quota whose status is not computed yet)."""

    def used() -> dict[str, str] | None:
        quota = kube.get("v1", "ResourceQuota", "gpu", namespace) or {}
        counted: dict[str, str] = (quota.get("status") or {}).get("used") or {}
        return counted if counted.get("pods") == str(pods) else None

    return until(f"the quota in {namespace} counting {pods} pods", used)


def _pod(name: str, namespace: str, resources: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "containers": [{"name": "c", "image": "trainer:1.0", "resources": resources}],
            "nodeSelector": {"no-such-node": "true"},  # stays Pending: only admission matters
        },
    }


def test_limits_prefix_gpu_quota_is_accepted_but_enforces_nothing(
    kube: Kube, namespaces: Namespaces
) -> None:
    ns = namespaces("semantics-limits-quota")
    quota = {
        "apiVersion": "v1",
        "kind": "ResourceQuota",
        "metadata": {"name": "gpu", "namespace": ns},
        # `pods` is tracked beside the GPU key to see the quota controller count at all
        "spec": {"hard": {"limits.nvidia.com/gpu": "1", "pods": "10"}},
    }
    kube.create(quota)  # accepted by validation
    _quota_counted(kube, ns, 0)
    kube.create(_pod("two-gpus", ns, {"limits": {"nvidia.com/gpu": 2}}))  # over the "limit"
    kube.create(_pod("two-more", ns, {"limits": {"nvidia.com/gpu": 2}}))
    used = _quota_counted(kube, ns, 2)  # both pods admitted and counted
    assert used.get("limits.nvidia.com/gpu", "0") == "0"  # 4 GPUs asked, none counted


def test_requests_prefix_gpu_quota_is_enforced(kube: Kube, namespaces: Namespaces) -> None:
    ns = namespaces("semantics-requests-quota")
    kube.create(
        {
            "apiVersion": "v1",
            "kind": "ResourceQuota",
            "metadata": {"name": "gpu", "namespace": ns},
            "spec": {"hard": {"requests.nvidia.com/gpu": "1", "pods": "10"}},
        }
    )
    _quota_counted(kube, ns, 0)
    kube.create(_pod("first", ns, {"limits": {"nvidia.com/gpu": 1}}))
    with pytest.raises(ApiError, match="exceeded quota") as info:
        kube.create(_pod("second", ns, {"limits": {"nvidia.com/gpu": 1}}))
    assert info.value.status == 403
    assert _quota_counted(kube, ns, 1)["requests.nvidia.com/gpu"] == "1"


def test_gpu_request_needs_an_equal_limit(kube: Kube, namespaces: Namespaces) -> None:
    ns = namespaces("semantics-gpu-limits")
    with pytest.raises(ApiError, match="Limit must be set for non overcommitable resources"):
        kube.create(_pod("request-only", ns, {"requests": {"nvidia.com/gpu": 1}}))
    with pytest.raises(ApiError, match=r"must be equal to nvidia\.com/gpu limit"):
        kube.create(
            _pod(
                "unequal",
                ns,
                {"requests": {"nvidia.com/gpu": 1}, "limits": {"nvidia.com/gpu": 2}},
            )
        )
    pod = kube.create(_pod("limit-only", ns, {"limits": {"nvidia.com/gpu": 2}}))
    assert pod["spec"]["containers"][0]["resources"]["requests"] == {"nvidia.com/gpu": "2"}


@pytest.mark.parametrize(
    ("name", "resources", "qos"),
    [
        ("gpu-only", {"limits": {"nvidia.com/gpu": 1}}, "BestEffort"),
        (
            "cpu-mem-equal",
            {"limits": {"cpu": "1", "memory": "1Gi", "nvidia.com/gpu": 1}},
            "Guaranteed",
        ),
        (
            "guide-sizing",  # request 1.5x, limit 2x: Burstable, evicted first under pressure
            {"requests": {"cpu": "1", "memory": "48Gi"}, "limits": {"cpu": "1", "memory": "64Gi"}},
            "Burstable",
        ),
    ],
)
def test_qos_class_depends_on_cpu_and_memory_only(
    kube: Kube, namespaces: Namespaces, name: str, resources: dict[str, Any], qos: str
) -> None:
    pod = kube.create(_pod(f"qos-{name}", namespaces(f"semantics-qos-{name}"), resources))
    assert pod["status"]["qosClass"] == qos


def test_a_uid_in_a_patch_or_an_eviction_is_a_precondition(
    kube: Kube, namespaces: Namespaces
) -> None:
    """What the checkpoint controller relies on when the Training Operator replaces a
    pod under the same name: a write meant for the old pod fails (a patch: 422, uid
    immutable; an eviction: 409, precondition failed)."""
    ns = namespaces("uid-precondition")
    created = kube.create(_pod("p", ns, {"limits": {"memory": "1Gi"}}))
    stale = {"metadata": {"uid": "00000000-0000-0000-0000-000000000000",
                          "annotations": {"mlkube.dev/checkpoint-request": "r-1"}}}  # fmt: skip
    with pytest.raises(ApiError) as patched:
        kube.patch("v1", "Pod", "p", stale, ns)
    assert patched.value.status == 422 and "immutable" in patched.value.message
    with pytest.raises(ApiError) as evicted:
        kube.evict("p", ns, "00000000-0000-0000-0000-000000000000")
    assert evicted.value.status == 409
    current = {"metadata": {"uid": created["metadata"]["uid"],
                            "annotations": {"mlkube.dev/checkpoint-request": "r-1"}}}  # fmt: skip
    patched_ok = kube.patch("v1", "Pod", "p", current, ns)
    assert patched_ok["metadata"]["annotations"]["mlkube.dev/checkpoint-request"] == "r-1"
