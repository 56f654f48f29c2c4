"""Platform → namespaces, quotas, priority classes, Kueue queues, isolation, time-slicing,
Kubeflow Trainer's training runtimes, and the Platform itself, stored on the cluster
for jobs applied without it."""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import yaml

from mlkube.quantity import format_bytes, format_cores, quantity
from mlkube.render.labels import metadata, pool_selector, pool_tolerations
from mlkube.render.trainjob import render_runtimes
from mlkube.spec.models import Platform, Pool, Queue, QueueFlavor
from mlkube.wellknown import GPU

KUEUE_API = "kueue.x-k8s.io/v1beta2"
TIME_SLICING_NAMESPACE = "gpu-operator"
TIME_SLICING_CONFIGMAP = "time-slicing-config"
# Where the cluster keeps its Platform, as kubeadm keeps its ClusterConfiguration in
# the ConfigMap kube-system/kubeadm-config (and lets nodes read it through a Role).
STORED_NAMESPACE = "kube-system"
STORED_NAME = "mlkube-platform"
STORED_KEY = "platform.yaml"


def render_platform(platform: Platform) -> list[dict[str, Any]]:
    spec = platform.spec
    out: list[dict[str, Any]] = []
    for pc in spec.priority_classes:
        obj: dict[str, Any] = {
            "apiVersion": "scheduling.k8s.io/v1",
            "kind": "PriorityClass",
            "metadata": metadata(pc.name),
            "value": pc.value,
            "globalDefault": pc.global_default,
            "description": pc.description or f"mlkube priority {pc.name}",
        }
        if pc.preemption_policy:
            obj["preemptionPolicy"] = pc.preemption_policy
        out.append(obj)
    for ns in spec.namespaces:
        out.append({"apiVersion": "v1", "kind": "Namespace", "metadata": metadata(ns.name)})
        if ns.quota is not None:
            hard = {f"requests.{GPU}": str(ns.quota.gpu)}
            if ns.quota.memory is not None:
                hard["requests.memory"] = str(ns.quota.memory)
            if ns.quota.cpu is not None:
                hard["requests.cpu"] = str(ns.quota.cpu)
            out.append(
                {
                    "apiVersion": "v1",
                    "kind": "ResourceQuota",
                    "metadata": metadata("gpu-quota", ns.name),
                    "spec": {"hard": dict(sorted(hard.items()))},
                }
            )
        if ns.isolated:
            out.append(
                {
                    "apiVersion": "networking.k8s.io/v1",
                    "kind": "NetworkPolicy",
                    "metadata": metadata("default-deny-ingress", ns.name),
                    "spec": {"podSelector": {}, "policyTypes": ["Ingress"]},
                }
            )
    used = {f.pool for q in spec.queues for f in q.flavors}
    for pool in spec.pools:
        if pool.name in used:
            out.append(_resource_flavor(pool))
    for queue in spec.queues:
        out.append(_cluster_queue(queue, platform))
        out.extend(
            {
                "apiVersion": KUEUE_API,
                "kind": "LocalQueue",
                "metadata": metadata(queue.name, ns),
                "spec": {"clusterQueue": queue.name},
            }
            for ns in queue.namespaces
        )
    sliced = [p for p in spec.pools if p.time_slicing is not None]
    if sliced:
        out.append(_time_slicing(sliced))
    if spec.training.operator == "trainer":
        out.extend(render_runtimes(platform))
    out.extend(_stored(platform))
    return out


def _stored(platform: Platform) -> list[dict[str, Any]]:
    """The Platform spec as written, in a ConfigMap every authenticated user may read:
    `mlkube apply job.yaml` resolves the job's pool and queue against it."""
    spec = platform.model_dump(mode="json", by_alias=True, exclude_unset=True)
    rule = {"apiGroups": [""], "resources": ["configmaps"], "resourceNames": [STORED_NAME]}
    return [
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": metadata(STORED_NAME, STORED_NAMESPACE),
            "data": {STORED_KEY: yaml.safe_dump(spec, sort_keys=False)},
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "Role",
            "metadata": metadata(f"{STORED_NAME}-reader", STORED_NAMESPACE),
            "rules": [{**rule, "verbs": ["get"]}],
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": metadata(f"{STORED_NAME}-reader", STORED_NAMESPACE),
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "Role",
                "name": f"{STORED_NAME}-reader",
            },
            "subjects": [
                {
                    "apiGroup": "rbac.authorization.k8s.io",
                    "kind": "Group",
                    "name": "system:authenticated",
                }
            ],
        },
    ]


def _resource_flavor(pool: Pool) -> dict[str, Any]:
    spec: dict[str, Any] = {"nodeLabels": pool_selector(pool)}
    tolerations = pool_tolerations(pool)
    if tolerations:
        spec["tolerations"] = tolerations  # Kueue adds them to the pods it admits here
    return {
        "apiVersion": KUEUE_API,
        "kind": "ResourceFlavor",
        "metadata": metadata(pool.name),
        "spec": spec,
    }


def _flavor_quota(flavor: QueueFlavor, pool: Pool) -> dict[str, Any]:
    pool_gpus = pool.nodes * pool.gpus_advertised
    gpus = pool_gpus if flavor.gpus is None else flavor.gpus
    # CPU and memory follow the GPUs: a queue with half the pool's GPUs gets half its hosts.
    share = Fraction(gpus, pool_gpus) if pool_gpus else Fraction(0)
    cpu = _exact(pool.cpu) * pool.nodes * share
    memory = _exact(pool.memory) * pool.nodes * share
    # Quantities as strings, as the API server stores them: re-applies then change nothing.
    gpu: dict[str, Any] = {"name": GPU, "nominalQuota": str(gpus)}
    if flavor.borrowing_limit is not None:
        gpu["borrowingLimit"] = str(flavor.borrowing_limit)
    return {
        "name": pool.name,
        "resources": [
            {"name": "cpu", "nominalQuota": format_cores(cpu)},
            {"name": "memory", "nominalQuota": format_bytes(memory)},
            gpu,
        ],
    }


def _exact(value: str | int | float) -> Fraction:
    """A validated spec quantity, exactly (no float rounding, no overflow)."""
    exact = quantity(value)
    assert exact is not None  # the spec validated it
    return Fraction(exact)


def _cluster_queue(queue: Queue, platform: Platform) -> dict[str, Any]:
    flavors = []
    for flavor in queue.flavors:
        pool = platform.spec.pool(flavor.pool)
        assert pool is not None  # PlatformSpec validated the reference
        flavors.append(_flavor_quota(flavor, pool))
    preemption: dict[str, Any] = {"withinClusterQueue": queue.preemption}
    spec: dict[str, Any] = {
        "namespaceSelector": {
            "matchExpressions": [
                {
                    "key": "kubernetes.io/metadata.name",
                    "operator": "In",
                    "values": sorted(queue.namespaces),
                }
            ]
        },
        "queueingStrategy": "BestEffortFIFO",
        "resourceGroups": [{"coveredResources": ["cpu", "memory", GPU], "flavors": flavors}],
        "preemption": preemption,
    }
    if queue.cohort:
        spec["cohortName"] = queue.cohort
        preemption["reclaimWithinCohort"] = "Any"
    return {
        "apiVersion": KUEUE_API,
        "kind": "ClusterQueue",
        "metadata": metadata(queue.name),
        "spec": spec,
    }


def _time_slicing(pools: list[Pool]) -> dict[str, Any]:
    """The GPU Operator's device-plugin config: one key per pool, picked by node label
    ``nvidia.com/device-plugin.config=<pool>``; the ClusterPolicy names this ConfigMap."""
    data = {}
    for pool in pools:
        assert pool.time_slicing is not None
        config = {
            "version": "v1",
            "flags": {"migStrategy": "none"},
            "sharing": {
                "timeSlicing": {
                    "renameByDefault": False,
                    "failRequestsGreaterThanOne": True,
                    "resources": [{"name": GPU, "replicas": pool.time_slicing.replicas}],
                }
            },
        }
        data[pool.name] = yaml.safe_dump(config, sort_keys=False)
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": metadata(TIME_SLICING_CONFIGMAP, TIME_SLICING_NAMESPACE),
        "data": data,
    }
