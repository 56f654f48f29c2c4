"""What cross-object rules know about one lint input, gathered while it streams.

Lint reads its input once, one document at a time. Object rules see each manifest
as it passes; rules across objects see this inventory at the end. The inventory keeps
the small definition kinds whole (namespaces, quotas, priority classes, policies,
queues, claims) and of each workload only the facts those rules use, so memory grows
with the number of objects, not with their size.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from mlkube.manifests import fit
from mlkube.manifests.accelerators import DRA_QUOTA_SUFFIX
from mlkube.manifests.objects import Location, Manifest, ObjectRef, as_str_map
from mlkube.manifests.recognise import rendezvous, storageless_models, trained_model_host
from mlkube.manifests.trainer import RuntimeKey, is_runtime, is_trainjob, runtime_ref
from mlkube.manifests.workloads import Container, PodTemplate, is_batch, pod_templates
from mlkube.rules.lint.endpoints import Endpoint, endpoints
from mlkube.wellknown import QUEUE_LABEL

# Kinds kept whole, by kind name (their groups are unambiguous in practice).
DEFINITION_KINDS = frozenset(
    {
        "Namespace", "ResourceQuota", "LimitRange", "PriorityClass", "NetworkPolicy",
        "PersistentVolumeClaim", "LocalQueue", "ClusterQueue", "ResourceFlavor",
        "WorkloadPriorityClass", "PodDisruptionBudget", "HorizontalPodAutoscaler",
        "ConfigMap", "TrainingRuntime", "ClusterTrainingRuntime", "Service", "TrainedModel",
        "Node", "Platform",
    }
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class ClaimUse:
    claim: str
    where: Location


@dataclass(frozen=True, slots=True)
class PodFacts:
    """One pod template, reduced to what cross-object rules ask of it."""

    at: Location
    role: str
    replicas: int
    labels: dict[str, str]
    accelerators: float  # devices from device plugins and DRA claims, per pod
    # The ResourceQuota keys that cap them: requests.<resource>, or the DRA class's.
    quota_keys: tuple[str, ...]
    priority_class: str | None
    priority_at: Location
    claims: tuple[ClaimUse, ...]
    requests: dict[str, float] = field(default_factory=dict)  # one pod's, as a node sees it
    node_selector: dict[str, str] = field(default_factory=dict)
    resources_at: Location | None = None  # the first container's resources: what it asks


@dataclass(frozen=True, slots=True)
class WorkloadFacts:
    ref: ObjectRef
    at: Location
    labels: dict[str, str]
    labels_at: Location
    batch: bool
    rendezvous: bool  # its pods must reach one another (`mlkube.manifests.recognise`)
    pods: tuple[PodFacts, ...]

    @property
    def namespace(self) -> str:
        return self.ref.namespace or "default"

    @property
    def queue(self) -> str | None:
        return self.labels.get(QUEUE_LABEL)

    @property
    def accelerators(self) -> float:
        return sum(p.accelerators * p.replicas for p in self.pods)

    @property
    def distributed(self) -> bool:
        return self.rendezvous and sum(p.replicas for p in self.pods) > 1


def _pod_facts(t: PodTemplate) -> PodFacts:
    priority = t.spec.get("priorityClassName")
    claims = tuple(
        ClaimUse(str(v["persistentVolumeClaim"]["claimName"]), t.at("volumes", i))
        for i, v in enumerate(t.volumes)
        if isinstance(v.get("persistentVolumeClaim"), dict)
        and v["persistentVolumeClaim"].get("claimName")
    )
    return PodFacts(
        at=t.at(),
        role=t.role,
        replicas=t.replicas,
        labels=t.labels,
        accelerators=t.accelerators(),
        quota_keys=_quota_keys(t),
        priority_class=str(priority) if priority else None,
        priority_at=t.at("priorityClassName"),
        claims=claims,
        requests=fit.pod_requests(
            (_resources(c) for c in t.containers if not c.init),
            (_resources(c) for c in t.containers if c.init),
        ),
        node_selector=as_str_map(t.spec.get("nodeSelector")),
        resources_at=next(
            (t.manifest.at(*c.field("resources")) for c in t.containers if _resources(c)), None
        ),
    )


def _resources(c: Container) -> dict[str, object]:
    block = c.spec.get(c.aliases.get("resources", "resources"))
    return block if isinstance(block, dict) else {}


def _quota_keys(t: PodTemplate) -> tuple[str, ...]:
    apps = [c for c in t.containers if not c.init]
    keys = {f"requests.{r}" for c in apps for r in c.accelerator_requests()}
    keys |= {f"{dc}{DRA_QUOTA_SUFFIX}" for c in apps for dc in c.claimed}
    return tuple(sorted(keys))


@dataclass(frozen=True, slots=True)
class RuntimeUse:
    """A TrainJob's ``runtimeRef``: the runtime it names and where."""

    job: ObjectRef
    runtime: RuntimeKey
    at: Location


@dataclass(frozen=True, slots=True)
class ModelUse:
    """An InferenceService predictor's model block that names no storage."""

    service: ObjectRef
    framework: str
    at: Location


@dataclass
class Inventory:
    definitions: dict[str, list[Manifest]] = field(default_factory=lambda: defaultdict(list))
    workloads: list[WorkloadFacts] = field(default_factory=list)
    runtime_uses: list[RuntimeUse] = field(default_factory=list)
    storageless_models: list[ModelUse] = field(default_factory=list)
    endpoints: list[Endpoint] = field(default_factory=list)

    def add(self, m: Manifest) -> None:
        if m.ref.kind in DEFINITION_KINDS:
            self.definitions[m.ref.kind].append(m)
        if is_trainjob(m):
            key = runtime_ref(m)
            if key is not None:
                self.runtime_uses.append(RuntimeUse(m.ref, key, m.at("spec", "runtimeRef", "name")))
        self.endpoints.extend(endpoints(m))
        for framework, path in storageless_models(m):
            self.storageless_models.append(ModelUse(m.ref, framework, m.at(*path)))
        # A runtime runs no pods of its own: they are counted in the TrainJobs that use it.
        templates = () if is_runtime(m) else pod_templates(m)
        if templates:
            self.workloads.append(
                WorkloadFacts(
                    ref=m.ref,
                    at=m.at("metadata"),
                    labels=m.labels,
                    labels_at=m.at("metadata", "labels"),
                    batch=is_batch(m),
                    rendezvous=any(rendezvous(m, t) for t in templates),
                    pods=tuple(_pod_facts(t) for t in templates),
                )
            )

    def of_kind(self, kind: str) -> list[Manifest]:
        return self.definitions.get(kind, [])

    def names(self, kind: str, namespace: str | None = None) -> set[str]:
        """Names of the objects of ``kind`` (in ``namespace``, for namespaced kinds)."""
        return {
            m.ref.name
            for m in self.of_kind(kind)
            if namespace is None or (m.ref.namespace or "default") == namespace
        }

    def namespaced(self, kind: str, namespace: str) -> list[Manifest]:
        return [m for m in self.of_kind(kind) if (m.ref.namespace or "default") == namespace]

    def service_selects(self, namespace: str, labels: dict[str, str]) -> bool:
        """Whether a Service of the input in ``namespace`` selects pods with ``labels``."""
        for service in self.namespaced("Service", namespace):
            selector = service.get("spec", "selector")
            if (
                isinstance(selector, dict)
                and selector
                and selects({"matchLabels": selector}, labels)
            ):
                return True
        return False

    def trained_models(self, service: ObjectRef) -> list[Manifest]:
        """The TrainedModels of the input that load a stored model into ``service``."""
        namespace = service.namespace or "default"
        return [
            m
            for m in self.namespaced("TrainedModel", namespace)
            if trained_model_host(m) == service.name
        ]


def selects(selector: object, labels: dict[str, str]) -> bool:
    """Whether a LabelSelector (matchLabels and matchExpressions) selects ``labels``."""
    if not isinstance(selector, dict):
        return False
    for key, value in as_str_map(selector.get("matchLabels")).items():
        if labels.get(key) != value:
            return False
    expressions = selector.get("matchExpressions")
    for expr in expressions if isinstance(expressions, list) else []:
        if not isinstance(expr, dict):
            return False
        key, op = str(expr.get("key")), expr.get("operator")
        raw = expr.get("values")
        values = {str(v) for v in raw} if isinstance(raw, list) else set()
        present = key in labels
        if (
            (op == "In" and labels.get(key) not in values)
            or (op == "NotIn" and present and labels[key] in values)
            or (op == "Exists" and not present)
            or (op == "DoesNotExist" and present)
        ):
            return False
    return True
