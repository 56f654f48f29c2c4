"""The shape of a doctor snapshot: the envelope, and of each kind the fields the
diagnosis rules read, with their types.

Lenient on everything else (a snapshot holds whole objects, and newer servers add
fields), strict on what is read: a ``status`` that is a number, a label that is a list
or a quantity that is not one is refused on load, with its path, instead of crashing a
rule later. Null members were dropped before (`jsontext.parse`), so ``None`` defaults
below mean "absent".
"""

from __future__ import annotations

import math
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, TypeAdapter

from mlkube.quantity import parse_quantity


class _Read(BaseModel):
    model_config = ConfigDict(extra="ignore", strict=True)


# Beyond int64 of base units no real resource lies, and arithmetic on it (1.5x a memory
# limit) would overflow to infinity.
_LARGEST = 2**63 - 1


def _quantity(value: str | int | float) -> str | int | float:
    number = parse_quantity(value)
    if number is None or not math.isfinite(number):
        raise ValueError("not a Kubernetes quantity")
    if abs(number) > _LARGEST:
        raise ValueError("a quantity beyond 2^63-1, which no resource has")
    return value


Quantity = Annotated[str | int | float, AfterValidator(_quantity)]
Count = Annotated[int, Field(ge=0, le=2**31 - 1)]  # int32, as the API declares counts


class OwnerReference(_Read):
    kind: str
    name: str
    uid: str | None = None


class Metadata(_Read):
    name: str
    namespace: str | None = None
    uid: str | None = None
    labels: dict[str, str] | None = None
    ownerReferences: list[OwnerReference] | None = None
    creationTimestamp: str | None = None


class ObjectMetadata(Metadata):
    annotations: dict[str, str] | None = None


class Condition(_Read):
    type: str
    status: str
    reason: str | None = None
    message: str | None = None


class Status(_Read):
    conditions: list[Condition] | None = None


class Object(_Read):
    apiVersion: str | None = None
    kind: str | None = None
    metadata: Metadata


class Resources(_Read):
    limits: dict[str, Quantity] | None = None
    requests: dict[str, Quantity] | None = None


class HTTPGet(_Read):
    path: str | None = None
    port: int | str | None = None


class Probe(_Read):
    """A readiness probe, as the endpoint diagnoses name it (DK403)."""

    httpGet: HTTPGet | None = None
    initialDelaySeconds: Count | None = None
    periodSeconds: Count | None = None
    failureThreshold: Count | None = None


class Container(_Read):
    name: str
    image: str | None = None
    resources: Resources | None = None
    readinessProbe: Probe | None = None


class Toleration(_Read):
    key: str | None = None
    operator: str | None = None
    value: str | None = None
    effect: str | None = None


class ClaimSource(_Read):
    claimName: str


class Volume(_Read):
    name: str
    persistentVolumeClaim: ClaimSource | None = None


class PodSpec(_Read):
    nodeName: str | None = None
    volumes: list[Volume] | None = None
    containers: list[Container] | None = None
    initContainers: list[Container] | None = None
    tolerations: list[Toleration] | None = None
    nodeSelector: dict[str, str] | None = None


class Waiting(_Read):
    reason: str | None = None
    message: str | None = None


class Terminated(_Read):
    reason: str | None = None
    message: str | None = None
    exitCode: int | None = None


class Running(_Read):
    startedAt: str | None = None


class ContainerState(_Read):
    waiting: Waiting | None = None
    running: Running | None = None
    terminated: Terminated | None = None


class ContainerStatus(_Read):
    name: str
    image: str | None = None
    ready: bool | None = None
    restartCount: Count | None = None
    state: ContainerState | None = None
    lastState: ContainerState | None = None


class PodStatus(Status):
    phase: str | None = None
    containerStatuses: list[ContainerStatus] | None = None
    initContainerStatuses: list[ContainerStatus] | None = None


class Pod(Object):
    spec: PodSpec | None = None
    status: PodStatus | None = None


class TemplateMetadata(_Read):
    labels: dict[str, str] | None = None
    annotations: dict[str, str] | None = None


class PodTemplate(_Read):
    metadata: TemplateMetadata | None = None
    spec: PodSpec | None = None


class ReplicaSpec(_Read):
    replicas: Count | None = None
    template: PodTemplate | None = None


class PyTorchJobSpec(_Read):
    pytorchReplicaSpecs: dict[str, ReplicaSpec] | None = None


class PyTorchJob(Object):
    spec: PyTorchJobSpec | None = None
    status: Status | None = None


class Trainer(_Read):
    numNodes: Count | None = None


class TrainJobSpec(_Read):
    trainer: Trainer | None = None


class TrainJob(Object):
    """trainer.kubeflow.org/v1alpha1 (Kubeflow Trainer v2.3.0, trainjob_types.go)."""

    spec: TrainJobSpec | None = None
    status: Status | None = None


class InvolvedObject(_Read):
    apiVersion: str | None = None
    kind: str | None = None
    namespace: str | None = None
    name: str | None = None


class Event(Object):
    involvedObject: InvolvedObject | None = None
    reason: str | None = None
    message: str | None = None


class Taint(_Read):
    key: str
    value: str | None = None
    effect: str


class NodeSpec(_Read):
    taints: list[Taint] | None = None


class NodeStatus(Status):
    allocatable: dict[str, Quantity] | None = None
    capacity: dict[str, Quantity] | None = None


class Node(Object):
    spec: NodeSpec | None = None
    status: NodeStatus | None = None


class Predictor(_Read):
    minReplicas: Count | None = None


class InferenceServiceSpec(_Read):
    predictor: Predictor | None = None


class FailureInfo(_Read):
    """status.modelStatus.lastFailureInfo (kserve pkg/apis/serving/v1beta1/
    inference_service_status.go): what the storage-initializer or model server said."""

    reason: str | None = None
    message: str | None = None
    exitCode: int | None = None


class ModelStatus(_Read):
    transitionStatus: str | None = None
    lastFailureInfo: FailureInfo | None = None


class InferenceServiceStatus(Status):
    deploymentMode: str | None = None
    modelStatus: ModelStatus | None = None


class InferenceService(Object):
    metadata: ObjectMetadata
    spec: InferenceServiceSpec | None = None
    status: InferenceServiceStatus | None = None


class PodSet(_Read):
    """Workload.spec.podSets[] (kubernetes-sigs/kueue apis/kueue/v1beta2/workload_types.go)."""

    name: str | None = None
    count: Count | None = None
    template: PodTemplate | None = None


class WorkloadSpec(_Read):
    queueName: str | None = None
    priority: int | None = None
    podSets: list[PodSet] | None = None


class Workload(Object):
    spec: WorkloadSpec | None = None
    status: Status | None = None


class LocalQueueSpec(_Read):
    clusterQueue: str | None = None


class LocalQueue(Object):
    spec: LocalQueueSpec | None = None


class FlavorResource(_Read):
    name: str
    total: Quantity | None = None


class FlavorUsage(_Read):
    name: str
    resources: list[FlavorResource] | None = None


class ClusterQueueStatus(Status):
    flavorsReservation: list[FlavorUsage] | None = None


class QueueResource(_Read):
    name: str
    nominalQuota: Quantity | None = None
    borrowingLimit: Quantity | None = None
    lendingLimit: Quantity | None = None


class QueueFlavor(_Read):
    name: str
    resources: list[QueueResource] | None = None


class ResourceGroup(_Read):
    flavors: list[QueueFlavor] | None = None


class ClusterQueueSpec(_Read):
    cohortName: str | None = None
    resourceGroups: list[ResourceGroup] | None = None


class ClusterQueue(Object):
    spec: ClusterQueueSpec | None = None
    status: ClusterQueueStatus | None = None


class HorizontalPodAutoscaler(Object):
    status: Status | None = None


class ServiceReference(_Read):
    namespace: str | None = None
    name: str | None = None


class APIServiceSpec(_Read):
    service: ServiceReference | None = None
    group: str | None = None
    version: str | None = None


class APIService(Object):
    """apiregistration.k8s.io/v1: who serves an aggregated API (custom.metrics.k8s.io)."""

    spec: APIServiceSpec | None = None
    status: Status | None = None


class ClaimSpec(_Read):
    storageClassName: str | None = None
    volumeName: str | None = None


class ClaimStatus(_Read):
    phase: str | None = None


class PersistentVolumeClaim(Object):
    spec: ClaimSpec | None = None
    status: ClaimStatus | None = None


class StorageClass(Object):
    metadata: ObjectMetadata
    provisioner: str
    volumeBindingMode: str | None = None


class QuotaSpec(_Read):
    hard: dict[str, Quantity] | None = None


class QuotaStatus(_Read):
    hard: dict[str, Quantity] | None = None
    used: dict[str, Quantity] | None = None


class ResourceQuota(Object):
    spec: QuotaSpec | None = None
    status: QuotaStatus | None = None


class Envelope(_Read):
    context: str
    namespace: str | None = None
    taken: str
    objects: dict[str, list[dict[str, Any]]] = {}
    missing: list[str] = []
    calls: Count = 0


# The model of each kind the rules read, by ``apiVersion/kind``; of other kinds (the
# owners listed to walk pods up to their workload) the metadata, as `OWNERS`.
ADAPTERS: dict[str, TypeAdapter[Any]] = {
    "v1/Pod": TypeAdapter(list[Pod]),
    "v1/Event": TypeAdapter(list[Event]),
    "v1/Service": TypeAdapter(list[Object]),
    "v1/ResourceQuota": TypeAdapter(list[ResourceQuota]),
    "v1/Node": TypeAdapter(list[Node]),
    "networking.k8s.io/v1/NetworkPolicy": TypeAdapter(list[Object]),
    "autoscaling/v2/HorizontalPodAutoscaler": TypeAdapter(list[HorizontalPodAutoscaler]),
    "apiregistration.k8s.io/v1/APIService": TypeAdapter(list[APIService]),
    "kubeflow.org/v1/PyTorchJob": TypeAdapter(list[PyTorchJob]),
    "trainer.kubeflow.org/v1alpha1/TrainJob": TypeAdapter(list[TrainJob]),
    "jobset.x-k8s.io/v1alpha2/JobSet": TypeAdapter(list[Object]),
    "batch/v1/Job": TypeAdapter(list[Object]),
    "serving.kserve.io/v1beta1/InferenceService": TypeAdapter(list[InferenceService]),
    "kueue.x-k8s.io/v1beta2/Workload": TypeAdapter(list[Workload]),
    "kueue.x-k8s.io/v1beta2/LocalQueue": TypeAdapter(list[LocalQueue]),
    "kueue.x-k8s.io/v1beta2/ClusterQueue": TypeAdapter(list[ClusterQueue]),
    "scheduling.k8s.io/v1/PriorityClass": TypeAdapter(list[Object]),
    "v1/PersistentVolumeClaim": TypeAdapter(list[PersistentVolumeClaim]),
    "storage.k8s.io/v1/StorageClass": TypeAdapter(list[StorageClass]),
}
OWNERS: TypeAdapter[Any] = TypeAdapter(list[Object])
