"""`manifests.fit`: what a pod asks of a node, and what a quota, a node or a queue
can ever give. Expected values worked out by hand from the Kubernetes and Kueue rules
cited in each test."""

from __future__ import annotations

from typing import Any

from mlkube.manifests import fit

GI = 2**30


def test_a_request_defaults_to_the_limit_and_init_containers_count_at_their_largest() -> None:
    """core/v1 defaulting: a limit without a request is also the request. Init
    containers run one at a time before the others: the pod needs the larger of the
    largest init container and the sum of the app containers (k8s.io/component-helpers
    resource.PodRequests)."""
    ask = fit.pod_requests(
        [
            {"requests": {"cpu": "2", "memory": "8Gi"}, "limits": {"memory": "16Gi"}},
            {"limits": {"nvidia.com/gpu": 4, "memory": "4Gi"}},
        ],
        [{"requests": {"cpu": "10"}}],
    )
    assert ask == {"cpu": 10.0, "memory": 12 * GI, "nvidia.com/gpu": 4.0}


def test_quota_counts_cpu_and_memory_under_both_names_and_gpus_only_as_requests() -> None:
    hard = fit.amounts({"memory": "512Gi", "requests.memory": "600Gi",
                        "requests.nvidia.com/gpu": "16", "limits.cpu": "1"})  # fmt: skip
    (memory,) = fit.over_quota({"memory": 964 * GI, "cpu": 90.0}, hard, "q")
    assert (memory.resource, memory.most) == ("memory", 512 * GI)  # the tighter of the two
    assert str(memory) == "asks 964Gi memory, ResourceQuota 'q' has 512Gi"
    assert fit.over_quota({"nvidia.com/gpu": 16.0}, hard, "q") == []


def _queue(name: str, cohort: str | None, gpus: int, **limits: Any) -> dict[str, Any]:
    resource = {"name": "nvidia.com/gpu", "nominalQuota": str(gpus), **limits}
    spec: dict[str, Any] = {"resourceGroups": [{"coveredResources": ["nvidia.com/gpu"],
                            "flavors": [{"name": "a100", "resources": [resource]}]}]}  # fmt: skip
    if cohort:
        spec["cohortName"] = cohort
    return {"metadata": {"name": name}, "spec": spec}


def test_a_queue_can_have_its_nominal_quota_plus_what_its_cohort_lends() -> None:
    """Kueue: a ClusterQueue borrows the unused nominal quota of its cohort, at most
    its borrowingLimit; a lender keeps what is above its lendingLimit."""
    small, lender = _queue("small", "ml", 8), _queue("lender", "ml", 8)
    other = _queue("other", "elsewhere", 64)
    assert fit.queue_capacity(small, [small, lender, other]) == {"a100": {"nvidia.com/gpu": 16.0}}
    capped = _queue("small", "ml", 8, borrowingLimit="4")
    assert fit.queue_capacity(capped, [capped, lender]) == {"a100": {"nvidia.com/gpu": 12.0}}
    stingy = _queue("lender", "ml", 8, lendingLimit="2")
    assert fit.queue_capacity(small, [small, stingy]) == {"a100": {"nvidia.com/gpu": 10.0}}
    alone = _queue("alone", None, 8)
    assert fit.queue_capacity(alone, [alone, lender]) == {"a100": {"nvidia.com/gpu": 8.0}}
    (short,) = fit.over_queue({"nvidia.com/gpu": 24.0, "cpu": 500.0},
                              fit.queue_capacity(small, [small, lender]), "small")  # fmt: skip
    assert str(short) == "asks 24 nvidia.com/gpu, ClusterQueue 'small' has 16"  # cpu: not covered


def test_a_pod_larger_than_every_node_of_its_pool() -> None:
    nodes = [("a", {"nvidia.com/gpu": 8.0, "memory": 1152.0 * GI}), ("b", {"nvidia.com/gpu": 4.0})]
    (gpu,) = fit.over_nodes({"nvidia.com/gpu": 16.0, "memory": 64.0 * GI}, nodes, "the largest")
    assert (gpu.asked, gpu.most) == (16.0, 8.0)
    assert fit.over_nodes({"nvidia.com/gpu": 16.0}, [], "none") == []  # no pool: no claim
