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

from mlkube.quantity import parse_quantity

_DNS1123 = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def _dns_name(value: str) -> str:
    if len(value) > 63 or not _DNS1123.match(value):
        raise ValueError(
            "must be a DNS-1123 label: lowercase letters, digits and '-', at most 63 characters"
        )
    return value


def _quantity(value: str | int | float) -> str:
    text = str(value)
    if parse_quantity(text) is None or (parse_quantity(text) or 0) <= 0:
        raise ValueError(f"{text!r} is not a positive Kubernetes quantity (like 8, 500m, 64Gi)")
    return text


Name = Annotated[str, AfterValidator(_dns_name)]
Quantity = Annotated[str | int | float, AfterValidator(_quantity)]


class _Model(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        alias_generator=to_camel,
        populate_by_name=True,
        frozen=True,
    )


class Metadata(_Model):
    name: Name
    namespace: Name | None = None
    labels: dict[str, str] = Field(default_factory=dict)


# Platform ---------------------------------------------------------------------------


class Taint(_Model):
    key: str
    value: str | None = None
    effect: Literal["NoSchedule", "PreferNoSchedule", "NoExecute"] = "NoSchedule"


class Gpu(_Model):
    model: str = Field(description="GPU product as GPU feature discovery labels it")
    count: int = Field(ge=1, description="GPUs per node")
    memory_mib: int | None = Field(default=None, alias="memoryMiB", ge=1)


class TimeSlicing(_Model):
    replicas: int = Field(ge=2, description="pods sharing each physical GPU")


Provider = Literal["aws", "gcp", "azure", "on-prem"]


class Pool(_Model):
    name: Name
    gpu: Gpu
    nodes: int = Field(ge=0)
    zones: list[str] = Field(min_length=1)
    capacity: Literal["on-demand", "spot"] = "on-demand"
    provider: Provider = "on-prem"
    taints: list[Taint] = Field(default_factory=list)
    time_slicing: TimeSlicing | None = None
    cpu: Quantity = "32"
    memory: Quantity = "256Gi"
    node_labels: dict[str, str] = Field(default_factory=dict)

    @property
    def spot(self) -> bool:
        return self.capacity == "spot"

    @property
    def gpus_advertised(self) -> int:
        """GPUs one node advertises: physical GPUs times time-slicing replicas."""
        return self.gpu.count * (self.time_slicing.replicas if self.time_slicing else 1)


class PriorityClass(_Model):
    name: Name
    value: int = Field(ge=-(2**31), le=1_000_000_000)
    description: str = ""
    preemption_policy: Literal["PreemptLowerPriority", "Never"] | None = None
    global_default: bool = False


class Quota(_Model):
    gpu: int = Field(ge=0)
    memory: Quantity | None = None
    cpu: Quantity | None = None


class Namespace(_Model):
    name: Name
    quota: Quota | None = None
    isolated: bool = Field(
        default=False, description="deny ingress except what mlkube's policies allow"
    )


class QueueFlavor(_Model):
    pool: Name
    gpus: int | None = Field(default=None, ge=0, description="nominal GPU quota")
    borrowing_limit: int | None = Field(default=None, ge=0)


class Queue(_Model):
    name: Name
    cohort: Name | None = None
    namespaces: list[Name] = Field(min_length=1)
    flavors: list[QueueFlavor] = Field(min_length=1)
    preemption: Literal["LowerPriority", "Never"] = "LowerPriority"


class PlatformSpec(_Model):
    kubernetes_version: str = "1.34"
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
    api_version: Literal["mlkube.dev/v1alpha1"]
    kind: Literal["Platform"]
    metadata: Metadata
    spec: PlatformSpec


# TrainingJob ------------------------------------------------------------------------


class Dataset(_Model):
    claim: Name
    mount_path: str = "/data"
    read_only: bool = True


class Checkpoint(_Model):
    claim: Name | None = None
    uri: str | None = Field(default=None, pattern=r"^(s3|gs|az|abfs|file)://.+")
    mount_path: str = "/checkpoints"
    interval_minutes: int = Field(default=15, ge=1)

    @model_validator(mode="after")
    def _one_target(self) -> Checkpoint:
        if (self.claim is None) == (self.uri is None):
            raise ValueError("set exactly one of claim (a shared volume) or uri (object storage)")
        return self


class TrainingJobSpec(_Model):
    image: str = Field(min_length=1)
    command: list[str] | None = None
    args: list[str] | None = None
    env: dict[str, str] = Field(default_factory=dict)
    nodes: int = Field(default=1, ge=1, description="pods: one master and nodes-1 workers")
    gpus_per_node: int = Field(default=1, ge=0)
    pool: Name | None = None
    cpu: Quantity = "8"
    memory: Quantity
    shm: Quantity | None = None
    dataset: Dataset | None = None
    checkpoint: Checkpoint | None = None
    spot: bool = False
    priority: Name | None = None
    queue: Name | None = None

    @model_validator(mode="after")
    def _spot_needs_checkpoint(self) -> TrainingJobSpec:
        if self.spot and self.checkpoint is None:
            raise ValueError("a spot job needs a checkpoint: each reclaim would lose all its work")
        return self


class TrainingJob(_Model):
    api_version: Literal["mlkube.dev/v1alpha1"]
    kind: Literal["TrainingJob"]
    metadata: Metadata
    spec: TrainingJobSpec


# InferenceEndpoint ------------------------------------------------------------------


class ModelSource(_Model):
    format: str = Field(min_length=1, description="KServe modelFormat name: sklearn, …")
    storage_uri: str = Field(pattern=r"^(s3|gs|az|abfs|pvc|hf|oci|https?)://.+")
    runtime: str | None = None


class Resources(_Model):
    cpu: Quantity = "1"
    memory: Quantity = "2Gi"
    gpus: int = Field(default=0, ge=0)


class Autoscaling(_Model):
    gpu_utilization: int = Field(default=70, ge=1, le=100)
    metric: str = "DCGM_FI_DEV_GPU_UTIL"


class InferenceEndpointSpec(_Model):
    model: ModelSource
    resources: Resources = Field(default_factory=Resources)
    profile: Literal["production", "development"] = "production"
    pool: Name | None = None
    min_replicas: int | None = Field(default=None, ge=0)
    max_replicas: int | None = Field(default=None, ge=1)
    autoscaling: Autoscaling | None = None
    priority: Name | None = None

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
    api_version: Literal["mlkube.dev/v1alpha1"]
    kind: Literal["InferenceEndpoint"]
    metadata: Metadata
    spec: InferenceEndpointSpec
