"""The renderer's decisions, each checked on the object it produces."""

from __future__ import annotations

from typing import Any

import pytest

from mlkube.errors import InputError
from mlkube.manifests.yamlstream import read_text
from mlkube.quantity import parse_quantity
from mlkube.render import render_specs
from mlkube.spec import load_specs

PLATFORM = """\
apiVersion: mlkube.dev/v1alpha1
kind: Platform
metadata: {name: p}
spec:
  priorityClasses: [{name: high, value: 1000}]
  pools:
    - {name: a100, gpu: {model: A100, count: 8}, nodes: 2, zones: [a, b], provider: aws,
       cpu: "96", memory: 1024Gi, taints: [{key: nvidia.com/gpu, value: present}]}
    - {name: spot, gpu: {model: A100, count: 8}, nodes: 2, zones: [a], capacity: spot,
       provider: {provider}}
    - {name: dev, gpu: {model: T4, count: 1}, nodes: 1, zones: [a], timeSlicing: {replicas: 4}}
  namespaces: [{name: ml, quota: {gpu: 8}, isolated: true}]
  queues: [{name: q, namespaces: [ml], flavors: [{pool: a100, gpus: 8}]}]
---
"""


OPERATORS = ("trainer", "training-operator")


def render(spec: str, provider: str = "aws", operator: str = "trainer") -> list[dict[str, Any]]:
    platform = PLATFORM.replace("{provider}", provider)
    platform = platform.replace("\nspec:\n", f"\nspec:\n  training: {{operator: {operator}}}\n")
    return render_specs(load_specs(read_text(platform + spec, "t.yaml")))


def one(bundle: list[dict[str, Any]], kind: str, name: str | None = None) -> dict[str, Any]:
    return next(o for o in bundle if o["kind"] == kind and name in (None, o["metadata"]["name"]))


def job(**spec: str) -> str:
    fields = {"image": "t:1", "nodes": "2", "memory": "64Gi", "pool": "a100", **spec}
    body = "\n".join(f"  {k}: {v}" for k, v in fields.items())
    head = "apiVersion: mlkube.dev/v1alpha1\nkind: TrainingJob\n"
    return f"{head}metadata: {{name: j, namespace: ml}}\nspec:\n{body}\n"


def pod(bundle: list[dict[str, Any]], role: str = "Master") -> dict[str, Any]:
    """The pod spec of a PyTorchJob's ``role``, or a TrainJob's: its runtime's pod spec
    (the runtime it names, from the bundle) under its runtime patch's fields."""
    (training,) = [o for o in bundle if o["kind"] in ("PyTorchJob", "TrainJob")]
    if training["kind"] == "TrainJob":
        patch = training["spec"]["runtimePatches"][0]["trainingRuntimeSpec"]["template"]
        runtime = one(bundle, "ClusterTrainingRuntime", training["spec"]["runtimeRef"]["name"])
        return {
            **runtime["spec"]["template"]["spec"]["replicatedJobs"][0]["template"]["spec"][
                "template"
            ]["spec"],
            **patch["spec"]["replicatedJobs"][0]["template"]["spec"]["template"]["spec"],
        }
    spec: dict[str, Any] = training["spec"]["pytorchReplicaSpecs"][role]
    return spec["template"]["spec"]  # type: ignore[no-any-return]


def resources(bundle: list[dict[str, Any]]) -> dict[str, Any]:
    (training,) = [o for o in bundle if o["kind"] in ("PyTorchJob", "TrainJob")]
    if training["kind"] == "TrainJob":
        return training["spec"]["trainer"]["resourcesPerNode"]  # type: ignore[no-any-return]
    return pod(bundle)["containers"][0]["resources"]  # type: ignore[no-any-return]


@pytest.mark.parametrize("operator", OPERATORS)
def test_memory_request_equals_limit_and_includes_shm(operator: str) -> None:
    res = resources(render(job(shm="16Gi"), operator=operator))
    assert res["requests"]["memory"] == res["limits"]["memory"] == "80Gi"  # 64Gi + 16Gi
    assert res["requests"]["cpu"] == res["limits"]["cpu"]  # Guaranteed QoS
    volumes = pod(render(job(), operator=operator))["volumes"]
    shm = next(v for v in volumes if v["name"] == "dshm")
    assert shm["emptyDir"] == {"medium": "Memory", "sizeLimit": "16Gi"}  # memory/4 by default


@pytest.mark.parametrize("operator", OPERATORS)
def test_job_lands_on_its_pool_and_tolerates_its_taints(operator: str) -> None:
    spec = pod(render(job(), operator=operator), "Worker")
    assert spec["nodeSelector"] == {"mlkube.dev/pool": "a100", "nvidia.com/gpu.product": "A100"}
    assert spec["tolerations"] == [
        {"key": "nvidia.com/gpu", "operator": "Equal", "value": "present", "effect": "NoSchedule"}
    ]


@pytest.mark.parametrize("operator", OPERATORS)
@pytest.mark.parametrize(("provider", "grace", "label"), [
    ("aws", 105, ("eks.amazonaws.com/capacityType", "SPOT")),
    ("gcp", 15, ("cloud.google.com/gke-spot", "true")),
    ("azure", 15, ("kubernetes.azure.com/scalesetpriority", "spot")),
])  # fmt: skip
def test_spot_grace_fits_the_providers_notice(
    provider: str, grace: int, label: tuple[str, str], operator: str
) -> None:
    spec = job(pool="spot", spot="true", checkpoint="{uri: s3://b/ckpt}")
    pod_spec = pod(render(spec, provider, operator))
    assert pod_spec["terminationGracePeriodSeconds"] == grace
    assert pod_spec["nodeSelector"][label[0]] == label[1]


@pytest.mark.parametrize(("operator", "label"), [
    ("trainer", "jobset.sigs.k8s.io/jobset-name"),
    ("training-operator", "training.kubeflow.org/job-name"),
])  # fmt: skip
def test_distributed_job_in_isolated_namespace_gets_an_ingress_only_peer_policy(
    operator: str, label: str
) -> None:
    policy = one(render(job(), operator=operator), "NetworkPolicy", "j-peers")
    assert policy["spec"]["policyTypes"] == ["Ingress"]
    assert "egress" not in policy["spec"]
    assert policy["spec"]["podSelector"] == {"matchLabels": {label: "j"}}


def test_single_node_job_needs_no_peer_policy() -> None:
    assert not [o for o in render(job(nodes="1")) if o["metadata"]["name"] == "j-peers"]


def test_cluster_queue_quota_follows_the_gpu_share() -> None:
    cq = one(render(""), "ClusterQueue")
    resources = {
        r["name"]: r["nominalQuota"]
        for r in cq["spec"]["resourceGroups"][0]["flavors"][0]["resources"]
    }
    # 8 of the pool's 16 GPUs: half of its 2 × 96 CPUs and 2 × 1024 GiB
    assert resources == {"cpu": "96", "memory": "1Ti", "nvidia.com/gpu": "8"}


def test_time_sliced_pool_gets_a_device_plugin_config_and_no_product_selector() -> None:
    endpoint = """\
apiVersion: mlkube.dev/v1alpha1
kind: InferenceEndpoint
metadata: {name: e, namespace: ml}
spec:
  model: {format: huggingface, storageUri: "hf://m/m"}
  resources: {gpus: 1}
  pool: dev
  profile: development
"""
    bundle = render(endpoint)
    config = one(bundle, "ConfigMap", "time-slicing-config")
    assert "replicas: 4" in config["data"]["dev"]
    predictor = one(bundle, "InferenceService")["spec"]["predictor"]
    assert predictor["minReplicas"] == 0
    assert predictor["nodeSelector"] == {
        "mlkube.dev/pool": "dev", "nvidia.com/gpu.sharing-strategy": "time-slicing"
    }  # fmt: skip


def test_production_gpu_endpoint_scales_on_a_per_pod_gpu_metric() -> None:
    endpoint = """\
apiVersion: mlkube.dev/v1alpha1
kind: InferenceEndpoint
metadata: {name: e, namespace: ml}
spec:
  model: {format: huggingface, storageUri: "hf://m/m"}
  resources: {gpus: 1}
  pool: a100
  autoscaling: {gpuUtilization: 60}
"""
    bundle = render(endpoint)
    isvc = one(bundle, "InferenceService")
    assert isvc["metadata"]["annotations"]["serving.kserve.io/autoscalerClass"] == "external"
    assert isvc["spec"]["predictor"]["minReplicas"] == 3
    hpa = one(bundle, "HorizontalPodAutoscaler")
    assert hpa["spec"]["scaleTargetRef"]["name"] == "e-predictor"
    (metric,) = hpa["spec"]["metrics"]
    assert metric["type"] == "Pods" and metric["pods"]["metric"]["name"] == "DCGM_FI_DEV_GPU_UTIL"
    assert metric["pods"]["target"] == {"type": "AverageValue", "averageValue": "60"}
    assert (
        "DCGM_FI_DEV_GPU_UTIL"
        in one(bundle, "ConfigMap", "mlkube-prometheus-adapter-rules")["data"]["config.yaml"]
    )
    assert one(bundle, "PodDisruptionBudget")["spec"]["maxUnavailable"] == 1
    assert "behavior" not in hpa["spec"]  # the HPA's defaults: 300 s before scaling down


def test_a_scale_down_window_is_the_hpas_scale_down_stabilisation() -> None:
    endpoint = """\
apiVersion: mlkube.dev/v1alpha1
kind: InferenceEndpoint
metadata: {name: e, namespace: ml}
spec:
  model: {format: huggingface, storageUri: "hf://m/m"}
  resources: {gpus: 1}
  pool: a100
  autoscaling: {gpuUtilization: 60, scaleDownStabilizationSeconds: 30}
"""
    hpa = one(render(endpoint), "HorizontalPodAutoscaler")
    assert hpa["spec"]["behavior"] == {"scaleDown": {"stabilizationWindowSeconds": 30}}


def test_spot_mismatch_and_oversized_jobs_are_refused() -> None:
    with pytest.raises(InputError, match="pool 'spot' is spot"):
        render(job(pool="spot"))
    with pytest.raises(InputError, match="16 GPUs per node, but pool 'a100' nodes have 8"):
        render(job(gpusPerNode="16"))
    assert parse_quantity("1Ti") == 2**40
