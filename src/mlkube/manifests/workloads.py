"""The pod templates inside any workload kind, built-in or custom.

Every linter rule about pods goes through `pod_templates`, so a rule written once
applies to a Deployment, a PyTorchJob, an InferenceService predictor or a RayJob
worker group alike. Kinds are data in `_EXTRACTORS`; adding one is one entry.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from mlkube.manifests.accelerators import accelerator, claimed_devices, counts_devices
from mlkube.manifests.objects import Location, Manifest, as_str_map, dig
from mlkube.manifests.trainer import TEMPLATE, EffectiveTrainJob
from mlkube.manifests.yamlstream import FieldPath
from mlkube.quantity import parse_quantity, whole_number
from mlkube.wellknown import ISVC_LABEL

KSERVE_FRAMEWORKS = (
    "model", "sklearn", "xgboost", "tensorflow", "pytorch", "triton", "onnx",
    "huggingface", "lightgbm", "paddle", "pmml",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Container:
    """A container (or a CRD's container-like block) and where it sits in its object."""

    spec: dict[str, Any]
    path: FieldPath
    init: bool = False
    # CRDs that spell container fields differently (TrainJob's resourcesPerNode).
    aliases: Mapping[str, str] = field(default_factory=dict)
    # The accelerator DeviceClasses it gets through DRA claims, one entry per device.
    claimed: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        return str(self.spec.get("name") or "")

    @property
    def image(self) -> str:
        return str(self.spec.get("image") or "")

    def field(self, *sub: str | int) -> FieldPath:
        if sub and isinstance(sub[0], str):
            sub = (self.aliases.get(sub[0], sub[0]), *sub[1:])
        return self.path + sub

    def resource(self, kind: str, name: str) -> Any:
        """``resources.<kind>.<name>`` as written, or None."""
        return dig(self.spec, ("resources", kind, name))

    def accelerator_requests(self) -> dict[str, Any]:
        """The accelerator resources this container asks for, each as written: the
        limit, or the request where no limit is set."""
        resources = self.spec.get("resources")
        if not isinstance(resources, dict):  # the common case, kept cheap: every rule asks
            return {}
        out: dict[str, Any] = {}
        for kind in ("requests", "limits"):  # the limit wins
            block = resources.get(kind)
            if isinstance(block, dict):
                for name, value in block.items():
                    if value is not None and accelerator(str(name)):
                        out[str(name)] = value
        return out

    def accelerators(self) -> float:
        """Accelerator devices this container gets, from device plugins and DRA claims; a
        share of one (Intel millicores) counts as one device."""
        asked = self.accelerator_requests()
        claimed = float(len(self.claimed))
        if not asked:
            return claimed
        devices = [parse_quantity(v) or 0.0 for r, v in asked.items() if counts_devices(r)]
        if devices:
            return sum(devices) + claimed
        shared = any((parse_quantity(v) or 0.0) > 0 for v in asked.values())
        return claimed + (1.0 if shared else 0.0)

    @property
    def mounts(self) -> list[dict[str, Any]]:
        mounts = self.spec.get("volumeMounts")
        return [m for m in mounts if isinstance(m, dict)] if isinstance(mounts, list) else []


@dataclass(frozen=True, slots=True)
class PodTemplate:
    """The pod spec of one replica type of a workload."""

    manifest: Manifest
    path: FieldPath  # of the pod spec (or of the CRD block that plays its part)
    role: str
    replicas: int
    labels: dict[str, str]
    containers: tuple[Container, ...]

    @property
    def spec(self) -> dict[str, Any]:
        value = self.manifest.get(*self.path)
        return value if isinstance(value, dict) else {}

    def at(self, *sub: str | int) -> Location:
        return self.manifest.at(*self.path, *sub)

    def accelerators(self) -> float:
        """Accelerator devices one pod gets, from device plugins and DRA claims."""
        return sum(c.accelerators() for c in self.containers if not c.init)

    @property
    def volumes(self) -> list[dict[str, Any]]:
        volumes = self.spec.get("volumes")
        return [v for v in volumes if isinstance(v, dict)] if isinstance(volumes, list) else []

    @property
    def tolerations(self) -> list[dict[str, Any]]:
        tolerations = self.spec.get("tolerations")
        if not isinstance(tolerations, list):
            return []
        return [t for t in tolerations if isinstance(t, dict)]

    @property
    def where(self) -> str:
        return f"{self.role} pods" if self.role else "pods"


@lru_cache(maxsize=64)
def pod_templates(m: Manifest) -> tuple[PodTemplate, ...]:
    """The pod templates of ``m``, or () for kinds that run no pods.

    Cached: every rule asks for the templates of the manifest being linted, and a
    manifest is immutable once read.
    """
    extract = _EXTRACTORS.get((m.ref.group, m.ref.kind))
    return tuple(extract(m)) if extract else ()


def is_batch(m: Manifest) -> bool:
    """Kinds that run to completion and that Kueue admits by their queue label."""
    return (m.ref.group, m.ref.kind) in _BATCH


def is_training(m: Manifest) -> bool:
    """Kinds that exist to train: the Training Operator's jobs, Trainer's TrainJob and runtimes.
    Other kinds train when what they run says so (`mlkube.manifests.recognise`)."""
    return (m.ref.group, m.ref.kind) in _TRAINING_KINDS


_TRAINING_KINDS = frozenset(
    {
        *(("kubeflow.org", kind) for kind in ("PyTorchJob", "TFJob", "MPIJob", "XGBoostJob")),
        *(("kubeflow.org", kind) for kind in ("PaddleJob", "JAXJob")),
        *(("trainer.kubeflow.org", kind) for kind in ("TrainJob", "TrainingRuntime")),
        ("trainer.kubeflow.org", "ClusterTrainingRuntime"),
    }
)


def _replicas(value: Any, default: int = 1) -> int:
    """A replica count as the API server decodes it (int32, not negative); else the
    default, and the schema-invalid rule reports the value."""
    count = whole_number(value)
    return count if count is not None and count >= 0 else default


def _containers(m: Manifest, spec_path: FieldPath) -> tuple[Container, ...]:
    out: list[Container] = []
    spec = m.get(*spec_path)
    for key, init in (("initContainers", True), ("containers", False)):
        items = m.get(*spec_path, key)
        if isinstance(items, list):
            out += [
                Container(c, (*spec_path, key, i), init, claimed=claimed_devices(m, spec, c))
                for i, c in enumerate(items)
                if isinstance(c, dict)
            ]
    return tuple(out)


def _template(m: Manifest, template: FieldPath, role: str = "", replicas: int = 1) -> PodTemplate:
    spec = (*template, "spec")
    labels = as_str_map(m.get(*template, "metadata", "labels"))
    return PodTemplate(m, spec, role, replicas, labels, _containers(m, spec))


def _pod(m: Manifest) -> Iterator[PodTemplate]:
    yield PodTemplate(m, ("spec",), "", 1, m.labels, _containers(m, ("spec",)))


def _spec_template(replicas_field: str | None) -> Callable[[Manifest], Iterator[PodTemplate]]:
    def extract(m: Manifest) -> Iterator[PodTemplate]:
        replicas = _replicas(m.get("spec", replicas_field)) if replicas_field else 1
        yield _template(m, ("spec", "template"), "", replicas)

    return extract


def _cronjob(m: Manifest) -> Iterator[PodTemplate]:
    yield _template(m, ("spec", "jobTemplate", "spec", "template"))


def _kubeflow(m: Manifest) -> Iterator[PodTemplate]:
    """PyTorchJob, TFJob, MPIJob, …: ``spec.<x>ReplicaSpecs.<Role>.template``."""
    spec = m.get("spec")
    if not isinstance(spec, dict):
        return
    for key, roles in spec.items():
        if str(key).endswith("ReplicaSpecs") and isinstance(roles, dict):
            for role, replica in roles.items():
                if isinstance(replica, dict):
                    count = _replicas(replica.get("replicas"))
                    yield _template(m, ("spec", key, role, "template"), str(role), count)


def _trainjob(m: Manifest) -> Iterator[PodTemplate]:
    """Kubeflow Trainer v2: with its runtime merged in, the JobSet it runs; alone, the
    trainer block stands for the node container."""
    if isinstance(m, EffectiveTrainJob):
        yield from _runtime(m)
        return
    trainer = m.get("spec", "trainer")
    if not isinstance(trainer, dict):
        return
    synthetic = dict(trainer, resources=trainer.get("resourcesPerNode"), name="node")
    container = Container(synthetic, ("spec", "trainer"), aliases={"resources": "resourcesPerNode"})
    count = _replicas(trainer.get("numNodes"))
    yield PodTemplate(m, ("spec", "trainer"), "node", count, {}, (container,))


def _inferenceservice(m: Manifest) -> Iterator[PodTemplate]:
    """KServe components are pod specs with the model container beside ``containers``."""
    for role in ("predictor", "transformer", "explainer"):
        component = m.get("spec", role)
        if not isinstance(component, dict):
            continue
        path: FieldPath = ("spec", role)
        containers = list(_containers(m, path))
        for framework in KSERVE_FRAMEWORKS:
            if isinstance(component.get(framework), dict):
                containers.append(Container(component[framework], (*path, framework)))
        labels = {ISVC_LABEL: m.ref.name, "component": role}
        count = _replicas(component.get("minReplicas"))
        yield PodTemplate(m, path, role, count, labels, tuple(containers))


def _jobset_spec(spec: FieldPath) -> Callable[[Manifest], Iterator[PodTemplate]]:
    """A JobSet spec at ``spec``: a JobSet's own, or the template of a Trainer runtime."""

    def extract(m: Manifest) -> Iterator[PodTemplate]:
        jobs = m.get(*spec, "replicatedJobs")
        for i, job in enumerate(jobs if isinstance(jobs, list) else []):
            if isinstance(job, dict):
                count = _replicas(job.get("replicas")) * _replicas(
                    dig(job, ("template", "spec", "parallelism"))
                )
                role = str(job.get("name") or i)
                path = (*spec, "replicatedJobs", i, "template", "spec", "template")
                yield _template(m, path, role, count)

    return extract


_jobset = _jobset_spec(("spec",))
_runtime = _jobset_spec((*TEMPLATE, "spec"))


def _ray(cluster: FieldPath) -> Callable[[Manifest], Iterator[PodTemplate]]:
    def extract(m: Manifest) -> Iterator[PodTemplate]:
        if isinstance(m.get(*cluster, "headGroupSpec"), dict):
            yield _template(m, (*cluster, "headGroupSpec", "template"), "head")
        groups = m.get(*cluster, "workerGroupSpecs")
        for i, group in enumerate(groups if isinstance(groups, list) else []):
            if isinstance(group, dict):
                role = str(group.get("groupName") or f"worker{i}")
                count = _replicas(group.get("replicas"))
                yield _template(m, (*cluster, "workerGroupSpecs", i, "template"), role, count)

    return extract


_BATCH = {
    ("batch", "Job"),
    ("kubeflow.org", "PyTorchJob"),
    ("kubeflow.org", "TFJob"),
    ("kubeflow.org", "MPIJob"),
    ("kubeflow.org", "XGBoostJob"),
    ("kubeflow.org", "PaddleJob"),
    ("kubeflow.org", "JAXJob"),
    ("trainer.kubeflow.org", "TrainJob"),
    ("jobset.x-k8s.io", "JobSet"),
    ("ray.io", "RayJob"),
}

_EXTRACTORS: dict[tuple[str, str], Callable[[Manifest], Iterator[PodTemplate]]] = {
    ("", "Pod"): _pod,
    ("apps", "Deployment"): _spec_template("replicas"),
    ("apps", "StatefulSet"): _spec_template("replicas"),
    ("apps", "ReplicaSet"): _spec_template("replicas"),
    ("apps", "DaemonSet"): _spec_template(None),
    ("batch", "Job"): _spec_template("parallelism"),
    ("batch", "CronJob"): _cronjob,
    **{key: _kubeflow for key in _BATCH if key[0] == "kubeflow.org"},
    ("trainer.kubeflow.org", "TrainJob"): _trainjob,
    ("trainer.kubeflow.org", "TrainingRuntime"): _runtime,
    ("trainer.kubeflow.org", "ClusterTrainingRuntime"): _runtime,
    ("serving.kserve.io", "InferenceService"): _inferenceservice,
    ("jobset.x-k8s.io", "JobSet"): _jobset,
    ("ray.io", "RayJob"): _ray(("spec", "rayClusterSpec")),
    ("ray.io", "RayCluster"): _ray(("spec",)),
}
