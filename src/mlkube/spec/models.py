"""Pydantic models of the three spec kinds.

Field names are the YAML's camelCase (aliases); Python attributes are snake_case.
Validation here is per document; checks across documents (a job's pool must exist
in a Platform) happen in `mlkube.render`, where all documents are known.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator
from pydantic.alias_generators import to_camel

from mlkube.quantity import INT32, INT64, quantity

_DNS1123 = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def _dns_name(value: str) -> str:
    if len(value) > 63 or not _DNS1123.match(value):
        raise ValueError(
            "must be a DNS-1123 label: lowercase letters, digits and '-', at most 63 characters"
        )
    return value


def _quantity(value: str | int | float) -> str:
    exact = quantity(value)
    text = str(value)
    if exact is None or exact <= 0:
        raise ValueError(
            f"{text[:40]!r} is not a positive Kubernetes quantity (like 8, 500m, 64Gi)"
        )
    if exact > INT64[1]:
        # The scheduler and kubelet count in int64: a larger request can never fit.
        raise ValueError(f"{text[:40]!r} is larger than Kubernetes can count (2^63-1)")
    return text


Name = Annotated[str, AfterValidator(_dns_name)]
Quantity = Annotated[str | int | float, AfterValidator(_quantity)]
# Counts are int32 in the Kubernetes APIs they are rendered into (replicas, quotas).
Int32 = Annotated[int, Field(ge=INT32[0], le=INT32[1])]


class _Model(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        strict=True,  # YAML `true` is not 1, `"3"` is not 3, and `1e3` is not a count
        alias_generator=to_camel,
        populate_by_name=True,
        frozen=True,
    )


class Metadata(_Model):
    """Name, namespace and labels, as in any Kubernetes object."""

    name: Name
    namespace: Name | None = Field(default=None, description="`default` when unset")
    labels: dict[str, str] = Field(default_factory=dict, description="copied to what is rendered")


# Platform ---------------------------------------------------------------------------


class Taint(_Model):
    """A taint the pool's nodes carry; workloads on the pool get the toleration."""

    key: str
    value: str | None = None
    effect: Literal["NoSchedule", "PreferNoSchedule", "NoExecute"] = "NoSchedule"


class Gpu(_Model):
    """The GPUs of each node of a pool."""

    model: str = Field(
        description="product as GPU feature discovery labels it (`nvidia.com/gpu.product`)"
    )
    count: Int32 = Field(ge=1, description="GPUs per node")
    memory_mib: Int32 | None = Field(default=None, alias="memoryMiB", ge=1)


class TimeSlicing(_Model):
    """NVIDIA time-slicing, for development pools only: no isolation, no latency SLA."""

    replicas: Int32 = Field(ge=2, description="pods sharing each physical GPU")


Provider = Literal["aws", "gcp", "azure", "on-prem"]


class Pool(_Model):
    """A GPU node pool. Its nodes carry `mlkube.dev/pool=<name>` (and the GPU product
    label); workloads select them by these labels and tolerate the pool's taints."""

    name: Name
    gpu: Gpu
    nodes: Int32 = Field(ge=0, description="node count (the local cluster creates this many)")
    zones: list[str] = Field(min_length=1, description="zones the nodes are spread over")
    capacity: Literal["on-demand", "spot"] = "on-demand"
    provider: Provider = Field(
        default="on-prem", description="sets the spot label and the spot notice window"
    )
    taints: list[Taint] = Field(default_factory=list)
    time_slicing: TimeSlicing | None = None
    cpu: Quantity = Field(default="32", description="allocatable CPU per node")
    memory: Quantity = Field(default="256Gi", description="allocatable memory per node")
    node_labels: dict[str, str] = Field(
        default_factory=dict, description="more labels that pick this pool's nodes"
    )
    price_per_gpu_hour: float | None = Field(
        default=None,
        ge=0,
        allow_inf_nan=False,
        description=(
            "what a GPU-hour of this pool costs (its spot price on a spot pool), for "
            "`mlkube plan`'s cost when no `--prices` file is given; not rendered"
        ),
    )
    reclaim_rate: float | None = Field(
        default=None,
        ge=0,
        allow_inf_nan=False,
        description=(
            "spot pools: node reclaims per node-hour, for `mlkube plan` when no "
            "`--spot-reclaim-rate` is given; not rendered"
        ),
    )

    @model_validator(mode="after")
    def _reclaims_are_spot(self) -> Pool:
        if self.reclaim_rate is not None and not self.spot:
            raise ValueError("reclaimRate is for spot pools (capacity: spot)")
        return self

    @property
    def spot(self) -> bool:
        return self.capacity == "spot"

    @property
    def gpus_advertised(self) -> int:
        """GPUs one node advertises: physical GPUs times time-slicing replicas."""
        return self.gpu.count * (self.time_slicing.replicas if self.time_slicing else 1)


class PriorityClass(_Model):
    """A PriorityClass: what preempts what when the cluster is full."""

    name: Name
    value: Int32 = Field(ge=-(2**31), le=1_000_000_000)
    description: str = ""
    preemption_policy: Literal["PreemptLowerPriority", "Never"] | None = None
    global_default: bool = False


class Quota(_Model):
    """A namespace's ResourceQuota on requests."""

    gpu: Int32 = Field(ge=0, description="`requests.nvidia.com/gpu`")
    memory: Quantity | None = Field(default=None, description="`requests.memory`")
    cpu: Quantity | None = Field(default=None, description="`requests.cpu`")


class Namespace(_Model):
    """A namespace for ML workloads, with its quota."""

    name: Name
    quota: Quota | None = None
    isolated: bool = Field(
        default=False, description="deny ingress except what mlkube's policies allow"
    )


class QueueFlavor(_Model):
    """A pool's share of a queue: a Kueue ResourceFlavor with nominal quota."""

    pool: Name
    gpus: Int32 | None = Field(
        default=None, ge=0, description="nominal GPU quota; default the whole pool"
    )
    borrowing_limit: Int32 | None = Field(
        default=None, ge=0, description="GPUs it may borrow from its cohort; needs a cohort"
    )


class Queue(_Model):
    """A Kueue ClusterQueue, and a LocalQueue of the same name in each namespace."""

    name: Name
    cohort: Name | None = Field(default=None, description="queues in a cohort lend and borrow")
    namespaces: list[Name] = Field(min_length=1, description="namespaces that submit to it")
    flavors: list[QueueFlavor] = Field(min_length=1)
    preemption: Literal["LowerPriority", "Never"] = Field(
        default="LowerPriority", description="preemption within the ClusterQueue"
    )

    @model_validator(mode="after")
    def _borrowing_needs_cohort(self) -> Queue:
        if self.cohort is None and any(f.borrowing_limit is not None for f in self.flavors):
            raise ValueError("borrowingLimit needs a cohort to borrow from")
        return self


class Training(_Model):
    """How TrainingJobs run on this cluster."""

    operator: Literal["trainer", "training-operator"] = Field(
        default="trainer",
        description=(
            "`trainer`: Kubeflow Trainer v2, a TrainJob per job and a ClusterTrainingRuntime "
            "per priority class; `training-operator`: the legacy Training Operator v1, "
            "a PyTorchJob per job"
        ),
    )


class PlatformSpec(_Model):
    """The cluster: its GPU pools, namespaces, priorities and queues."""

    kubernetes_version: str = Field(default="1.34", description="the target Kubernetes version")
    training: Training = Field(
        default_factory=Training, description="the operator that runs TrainingJobs"
    )
    priority_classes: list[PriorityClass] = Field(default_factory=list)
    pools: list[Pool] = Field(default_factory=list)
    namespaces: list[Namespace] = Field(default_factory=list)
    queues: list[Queue] = Field(default_factory=list)

    @model_validator(mode="after")
    def _references(self) -> PlatformSpec:
        _unique("pools", [p.name for p in self.pools])
        _unique("namespaces", [n.name for n in self.namespaces])
        _unique("priorityClasses", [p.name for p in self.priority_classes])
        _unique("queues", [q.name for q in self.queues])
        pools = {p.name for p in self.pools}
        namespaces = {n.name for n in self.namespaces}
        for queue in self.queues:
            for flavor in queue.flavors:
                if flavor.pool not in pools:
                    raise ValueError(f"queue {queue.name!r} uses undefined pool {flavor.pool!r}")
            for ns in queue.namespaces:
                if ns not in namespaces:
                    raise ValueError(f"queue {queue.name!r} serves undefined namespace {ns!r}")
        return self

    def pool(self, name: str) -> Pool | None:
        return next((p for p in self.pools if p.name == name), None)


def _unique(field: str, names: list[str]) -> None:
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise ValueError(f"{field}: {name!r} is defined twice")
        seen.add(name)


class Platform(_Model):
    """The platform: one per cluster. It renders the shared objects and shapes the local
    cluster's fake nodes."""

    api_version: Literal["mlkube.dev/v1alpha1"]
    kind: Literal["Platform"]
    metadata: Metadata
    spec: PlatformSpec


# TrainingJob ------------------------------------------------------------------------


class Dataset(_Model):
    """A PersistentVolumeClaim with the training data, mounted on every replica."""

    claim: Name
    mount_path: str = "/data"
    read_only: bool = True


class Checkpoint(_Model):
    """Where checkpoints go: a shared (ReadWriteMany) claim, or an object-store URI."""

    claim: Name | None = Field(default=None, description="a ReadWriteMany claim")
    uri: str | None = Field(
        default=None, pattern=r"^(s3|gs|az|abfs|file)://.+", description="object storage"
    )
    mount_path: str = "/checkpoints"
    interval_minutes: Int32 = Field(default=15, ge=1, description="periodic checkpoints")

    @model_validator(mode="after")
    def _one_target(self) -> Checkpoint:
        if (self.claim is None) == (self.uri is None):
            raise ValueError("set exactly one of claim (a shared volume) or uri (object storage)")
        return self


class TrainingJobSpec(_Model):
    """A distributed PyTorch job."""

    image: str = Field(min_length=1)
    command: list[str] | None = None
    args: list[str] | None = None
    env: dict[str, str] = Field(default_factory=dict)
    nodes: Int32 = Field(
        default=1, ge=1, description="pods, one per node, each with gpusPerNode GPUs"
    )
    gpus_per_node: Int32 = Field(default=1, ge=0)
    pool: Name | None = Field(default=None, description="a pool of the Platform")
    cpu: Quantity = Field(default="8", description="per pod; request == limit")
    memory: Quantity = Field(description="peak host memory per pod; request == limit")
    shm: Quantity | None = Field(
        default=None, description="`/dev/shm` size, added to memory; default memory/4"
    )
    dataset: Dataset | None = None
    checkpoint: Checkpoint | None = None
    spot: bool = Field(default=False, description="runs on a spot pool; needs a checkpoint")
    priority: Name | None = Field(default=None, description="a PriorityClass of the Platform")
    queue: Name | None = Field(default=None, description="a Kueue queue serving the namespace")

    @model_validator(mode="after")
    def _spot_needs_checkpoint(self) -> TrainingJobSpec:
        if self.spot and self.checkpoint is None:
            raise ValueError("a spot job needs a checkpoint: each reclaim would lose all its work")
        return self


class TrainingJob(_Model):
    """A training job, rendered as a Kubeflow Trainer TrainJob (`trainer.kubeflow.org/v1alpha1`),
    or as a PyTorchJob (`kubeflow.org/v1`) on a Platform with `training.operator:
    training-operator`."""

    api_version: Literal["mlkube.dev/v1alpha1"]
    kind: Literal["TrainingJob"]
    metadata: Metadata
    spec: TrainingJobSpec


# InferenceEndpoint ------------------------------------------------------------------


class ModelSource(_Model):
    """The model: weights come from storage at start, never from the image."""

    format: str = Field(min_length=1, description="KServe modelFormat name: sklearn, …")
    storage_uri: str = Field(pattern=r"^(s3|gs|az|abfs|pvc|hf|oci|https?)://.+")
    runtime: str | None = None


class Resources(_Model):
    """Per replica."""

    cpu: Quantity = "1"
    memory: Quantity = "2Gi"
    gpus: Int32 = Field(default=0, ge=0)


class Autoscaling(_Model):
    """An HPA on a per-pod GPU metric from dcgm-exporter."""

    gpu_utilization: Int32 = Field(default=70, ge=1, le=100, description="target, percent")
    metric: str = Field(default="DCGM_FI_DEV_GPU_UTIL", description="dcgm-exporter series")
    scale_down_stabilization_seconds: Int32 | None = Field(
        default=None,
        ge=0,
        le=3600,
        description="how long utilisation must stay low before replicas are removed "
        "(the HPA's scaleDown stabilizationWindowSeconds); default the HPA's 300",
    )


class InferenceEndpointSpec(_Model):
    """A model server."""

    model: ModelSource
    resources: Resources = Field(default_factory=Resources)
    profile: Literal["production", "development"] = Field(
        default="production",
        description="production: >= 3 replicas over zones, PDB; development: scale to zero",
    )
    pool: Name | None = Field(default=None, description="a pool of the Platform")
    min_replicas: Int32 | None = Field(
        default=None, ge=0, description="default 3, or 0 in development"
    )
    max_replicas: Int32 | None = Field(default=None, ge=1)
    autoscaling: Autoscaling | None = None
    priority: Name | None = Field(default=None, description="a PriorityClass of the Platform")

    @model_validator(mode="after")
    def _profile(self) -> InferenceEndpointSpec:
        if self.profile == "production" and self.min_replicas is not None and self.min_replicas < 3:
            raise ValueError("a production endpoint runs at least 3 replicas across zones")
        if self.autoscaling is not None and self.resources.gpus == 0:
            raise ValueError("autoscaling on GPU utilisation needs resources.gpus")
        if (
            self.min_replicas is not None
            and self.max_replicas is not None
            and self.max_replicas < max(self.min_replicas, 1)
        ):
            raise ValueError("maxReplicas is below minReplicas")
        return self

    @property
    def replicas(self) -> tuple[int, int]:
        """(min, max) after the profile's defaults."""
        low = self.min_replicas
        if low is None:
            low = 3 if self.profile == "production" else 0
        high = self.max_replicas or (max(low, 1) * 3 if self.profile == "production" else 1)
        return low, high


class InferenceEndpoint(_Model):
    """An inference endpoint, rendered as a KServe InferenceService (`v1beta1`)."""

    api_version: Literal["mlkube.dev/v1alpha1"]
    kind: Literal["InferenceEndpoint"]
    metadata: Metadata
    spec: InferenceEndpointSpec
