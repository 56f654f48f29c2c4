"""The pod templates inside any workload kind, built-in or custom.

Every linter rule about pods goes through `pod_templates`, so a rule written once
applies to a Deployment, a PyTorchJob, an InferenceService predictor or a RayJob
worker group alike. Kinds are data in `WORKLOAD_KINDS`; adding one is one entry.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Any

from mlkube.manifests.accelerators import accelerator, claimed_devices, counts_devices
from mlkube.manifests.fieldpath import FieldPath
from mlkube.manifests.objects import Location, Manifest, ObjectRef, as_str_map, dig
from mlkube.manifests.trainer import TEMPLATE, EffectiveTrainJob
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
    # Pod spec fields the controller fills in when the template leaves them unset, and
    # where in the object they are (a Volcano Job's priorityClassName).
    inherited: Mapping[str, FieldPath] = field(default_factory=dict)

    @property
    def spec(self) -> dict[str, Any]:
        value = self.manifest.get(*self.path)
        return value if isinstance(value, dict) else {}

    def pod_field(self, key: str) -> tuple[Any, Location]:
        """``key`` of the pod spec as the pods get it, and where it is written: the
        template's own, else the one its controller copies in, else (None, the template)."""
        if self.spec.get(key) is None and key in self.inherited:
            path = self.inherited[key]
            if self.manifest.get(*path) is not None:
                return self.manifest.get(*path), self.manifest.at(*path)
        return self.spec.get(key), self.at(key)

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
                # A multi-host group (TPU slices) runs numOfHosts pods per replica.
                count = _replicas(group.get("replicas")) * _replicas(group.get("numOfHosts"))
                yield _template(m, (*cluster, "workerGroupSpecs", i, "template"), role, count)

    return extract


def _pod_template(m: Manifest) -> Iterator[PodTemplate]:
    """A core/v1 PodTemplate: the template is at the top level, beside metadata."""
    yield _template(m, ("template",))


def _leaderworkerset(m: Manifest) -> Iterator[PodTemplate]:
    """LeaderWorkerSet (sigs.k8s.io/lws api/leaderworkerset/v1)."""
    yield from _lws_spec(m, ("spec",))


def _lws_spec(m: Manifest, spec: FieldPath, role: str = "") -> Iterator[PodTemplate]:
    """A LeaderWorkerSetSpec at ``spec``: ``replicas`` groups of ``size`` pods, one leader
    and size-1 workers; without a leaderTemplate the leader runs the worker template."""
    groups = _replicas(m.get(*spec, "replicas"))
    size = _replicas(m.get(*spec, "leaderWorkerTemplate", "size"))
    lwt: FieldPath = (*spec, "leaderWorkerTemplate")
    prefix = f"{role} " if role else ""
    if isinstance(m.get(*lwt, "leaderTemplate"), dict):
        yield _template(m, (*lwt, "leaderTemplate"), f"{prefix}leader", groups)
        workers = groups * max(size - 1, 0)
    else:
        workers = groups * size
    if isinstance(m.get(*lwt, "workerTemplate"), dict):
        yield _template(m, (*lwt, "workerTemplate"), f"{prefix}worker", workers)


def _disaggregatedset(m: Manifest) -> Iterator[PodTemplate]:
    """DisaggregatedSet (sigs.k8s.io/lws api/disaggregatedset/v1, prefill/decode
    serving): each of ``spec.roles`` is a named LeaderWorkerSet template."""
    roles = m.get("spec", "roles")
    for i, role in enumerate(roles if isinstance(roles, list) else []):
        if isinstance(role, dict):
            yield from _lws_spec(m, ("spec", "roles", i, "spec"), str(role.get("name") or i))


def _volcano(m: Manifest) -> Iterator[PodTemplate]:
    """Volcano Job and flow.volcano.sh JobTemplate (volcano.sh/apis batch/v1alpha1
    JobSpec): ``spec.tasks[].template``, ``replicas`` pods each."""
    tasks = m.get("spec", "tasks")
    for i, task in enumerate(tasks if isinstance(tasks, list) else []):
        if isinstance(task, dict):
            role = str(task.get("name") or f"task{i}")
            count = _replicas(task.get("replicas"), default=0)  # int32 without a default
            t = _template(m, ("spec", "tasks", i, "template"), role, count)
            # The job controller gives pods the job's priorityClassName when theirs is unset.
            yield replace(t, inherited={"priorityClassName": ("spec", "priorityClassName")})


def _serving_runtime(m: Manifest) -> Iterator[PodTemplate]:
    """KServe (Cluster)ServingRuntime (serving/v1alpha1 ServingRuntimeSpec): the pod spec
    is inlined in ``spec`` (containers, volumes, labels…), a multi-node runtime's workers
    in ``spec.workerSpec``. Replicas are the InferenceService's, so one each here."""
    labels = as_str_map(m.get("spec", "labels"))
    yield PodTemplate(m, ("spec",), "", 1, labels, _containers(m, ("spec",)))
    if isinstance(m.get("spec", "workerSpec"), dict):
        path: FieldPath = ("spec", "workerSpec")
        worker_labels = as_str_map(m.get(*path, "labels"))
        yield PodTemplate(m, path, "worker", 1, worker_labels, _containers(m, path))


def _llm_workload(m: Manifest, at: FieldPath, role: str) -> Iterator[PodTemplate]:
    """One KServe LLMInferenceService WorkloadSpec (serving/v1alpha2): ``template`` and
    ``worker`` are pod specs (not templates); with a worker the pods run as a
    LeaderWorkerSet whose size the parallelism gives (data/dataLocal, else pipeline)."""
    replicas = _replicas(m.get(*at, "replicas"))
    labels = as_str_map(m.get(*at, "labels"))
    for key, name, count in (
        ("template", role, replicas),
        ("worker", f"{role}-worker".lstrip("-"), replicas * max(_llm_size(m, at) - 1, 1)),
    ):
        if isinstance(m.get(*at, key), dict):
            path = (*at, key)
            yield PodTemplate(m, path, name, count, labels, _containers(m, path))


def _llm_size(m: Manifest, at: FieldPath) -> int:
    """ParallelismSpec.GetSize of KServe v0.20: data/dataLocal when data-parallel, else
    pipeline, else LeaderWorkerSet's default of 1."""
    data = whole_number(m.get(*at, "parallelism", "data")) or 0
    local = whole_number(m.get(*at, "parallelism", "dataLocal")) or 0
    if data > 0 or local > 0:
        return max(max(data, 1) // max(local, 1), 1)
    pipeline = whole_number(m.get(*at, "parallelism", "pipeline")) or 0
    return pipeline if pipeline > 0 else 1


def _llminferenceservice(m: Manifest) -> Iterator[PodTemplate]:
    """The decode (or only) pods at ``spec``, the prefill pods at ``spec.prefill``, and
    the router's scheduler (the endpoint picker) at ``spec.router.scheduler.template``."""
    yield from _llm_workload(m, ("spec",), "")
    if isinstance(m.get("spec", "prefill"), dict):
        yield from _llm_workload(m, ("spec", "prefill"), "prefill")
    scheduler: FieldPath = ("spec", "router", "scheduler")
    if isinstance(m.get(*scheduler, "template"), dict):
        replicas = _replicas(m.get(*scheduler, "replicas"))
        path = (*scheduler, "template")
        labels = as_str_map(m.get(*scheduler, "labels"))
        yield PodTemplate(m, path, "scheduler", replicas, labels, _containers(m, path))


def _appwrapper(m: Manifest) -> Iterator[PodTemplate]:
    """AppWrapper (project-codeflare/appwrapper api/v1beta2): each of ``spec.components``
    wraps a whole object in ``template``. Its ``podSets`` say where the pods are (paths
    like ``template.spec.template``, relative to the component); without them the pods
    are found as for the wrapped kind itself, as the AppWrapper controller infers them."""
    components = m.get("spec", "components")
    for i, component in enumerate(components if isinstance(components, list) else []):
        if not isinstance(component, dict) or not isinstance(component.get("template"), dict):
            continue
        at: FieldPath = ("spec", "components", i)
        inner = component["template"]
        kind = str(inner.get("kind") or "")
        pod_sets = component.get("podSets")
        if isinstance(pod_sets, list) and pod_sets:
            for j, pod_set in enumerate(pod_sets):
                path = _appwrapper_path(pod_set.get("path")) if isinstance(pod_set, dict) else None
                if path is not None and isinstance(m.get(*at, *path), dict):
                    count = _replicas(pod_set.get("replicas"))
                    yield _template(m, (*at, *path), f"{kind}[{j}]" if j else kind, count)
            continue
        yield from _wrapped(m, (*at, "template"), inner)


def _appwrapper_path(text: Any) -> FieldPath | None:
    """``template.spec.replicatedJobs[0].template.spec.template`` as a field path (the
    AppWrapper controller's syntax: dotted keys and ``[i]`` indices), or None."""
    if not isinstance(text, str) or not text.startswith("template"):
        return None
    out: list[str | int] = []
    for part in text.replace("[", ".[").split("."):
        if part.startswith("[") and part.endswith("]") and part[1:-1].isdigit():
            out.append(int(part[1:-1]))
        elif part and not part.startswith("["):
            out.append(part)
        else:
            return None
    return tuple(out)


def _wrapped(m: Manifest, at: FieldPath, inner: dict[str, Any]) -> Iterator[PodTemplate]:
    """The pod templates of an object nested at ``at`` in ``m``, with paths from ``m``."""
    api_version, kind = inner.get("apiVersion"), inner.get("kind")
    if not isinstance(api_version, str) or not isinstance(kind, str):
        return
    group = api_version.rpartition("/")[0]
    extract = _EXTRACTORS.get((group, kind))
    if extract is None or extract is _appwrapper:
        return
    ref = ObjectRef(api_version, kind, m.ref.namespace, str(dig(inner, ("metadata", "name")) or ""))
    nested = Manifest(inner, ref, m.doc, m.base + at)
    for t in extract(nested):
        yield replace(
            t,
            manifest=m,
            path=at + t.path,
            role=f"{kind} {t.role}" if t.role else kind,
            containers=tuple(replace(c, path=at + c.path) for c in t.containers),
            inherited={key: at + path for key, path in t.inherited.items()},
        )


@dataclass(frozen=True, slots=True)
class WorkloadKind:
    """A kind mlkube looks inside: where its pods are and what it is for, as data
    (docs/rules.md's table of kinds is generated from it)."""

    group: str
    kind: str
    extract: Callable[[Manifest], Iterator[PodTemplate]]
    pods: str  # where the pod templates are, as the docs say it
    batch: bool = False  # runs to completion, and Kueue admits it by its queue label
    kueue: bool = False  # Kueue v0.19.2 has an integration for it (queue label honoured)
    serving: bool = False  # its pods answer requests
    # A template for other objects' pods (a runtime, a serving runtime, a base config):
    # it runs nothing itself, so rules about where and how many pods run pass it by.
    template: bool = False
    training: bool = False  # a training API (Kubeflow's): it trains, whatever it runs
    priority_field: bool = True  # its pod specs have priorityClassName

    @property
    def key(self) -> tuple[str, str]:
        return self.group, self.kind


_KF = "kubeflow.org"
_TRAINER = "trainer.kubeflow.org"
_KSERVE = "serving.kserve.io"
_RAY_CLUSTER = "headGroupSpec.template, workerGroupSpecs[].template (replicas)"
WORKLOAD_KINDS: tuple[WorkloadKind, ...] = (
    WorkloadKind("", "Pod", _pod, "spec", kueue=True),
    WorkloadKind("", "PodTemplate", _pod_template, "template"),
    WorkloadKind("", "ReplicationController", _spec_template("replicas"), "spec.template"),
    WorkloadKind("apps", "Deployment", _spec_template("replicas"), "spec.template", kueue=True),
    WorkloadKind("apps", "StatefulSet", _spec_template("replicas"), "spec.template", kueue=True),
    WorkloadKind("apps", "ReplicaSet", _spec_template("replicas"), "spec.template"),
    WorkloadKind("apps", "DaemonSet", _spec_template(None), "spec.template"),
    WorkloadKind("batch", "Job", _spec_template("parallelism"), "spec.template", True, True),
    WorkloadKind("batch", "CronJob", _cronjob, "spec.jobTemplate.spec.template"),
    *(
        WorkloadKind(_KF, kind, _kubeflow, f"spec.{key}ReplicaSpecs.<role>.template",
                     True, True, training=True)
        for kind, key in (
            ("PyTorchJob", "pytorch"), ("TFJob", "tf"), ("MPIJob", "mpi"),
            ("XGBoostJob", "xgb"), ("PaddleJob", "paddle"), ("JAXJob", "jax"),
        )
    ),
    WorkloadKind(_TRAINER, "TrainJob", _trainjob,
                 "spec.trainer, or its runtime's replicatedJobs merged", True, True, training=True),
    WorkloadKind(_TRAINER, "TrainingRuntime", _runtime,
                 "spec.template.spec.replicatedJobs[].template.spec.template",
                 template=True, training=True),
    WorkloadKind(_TRAINER, "ClusterTrainingRuntime", _runtime,
                 "spec.template.spec.replicatedJobs[].template.spec.template",
                 template=True, training=True),
    WorkloadKind("jobset.x-k8s.io", "JobSet", _jobset,
                 "spec.replicatedJobs[].template.spec.template", True, True),
    WorkloadKind("ray.io", "RayJob", _ray(("spec", "rayClusterSpec")),
                 f"spec.rayClusterSpec: {_RAY_CLUSTER}", True, True),
    WorkloadKind("ray.io", "RayCluster", _ray(("spec",)), f"spec: {_RAY_CLUSTER}", kueue=True),
    WorkloadKind("ray.io", "RayService", _ray(("spec", "rayClusterConfig")),
                 f"spec.rayClusterConfig: {_RAY_CLUSTER}", kueue=True, serving=True),
    WorkloadKind("ray.io", "RayCronJob", _ray(("spec", "jobTemplate", "rayClusterSpec")),
                 f"spec.jobTemplate.rayClusterSpec: {_RAY_CLUSTER}"),
    WorkloadKind("leaderworkerset.x-k8s.io", "LeaderWorkerSet", _leaderworkerset,
                 "spec.leaderWorkerTemplate.leaderTemplate, .workerTemplate (replicas × size)",
                 kueue=True, serving=True),
    WorkloadKind("disaggregatedset.x-k8s.io", "DisaggregatedSet", _disaggregatedset,
                 "spec.roles[].spec: as LeaderWorkerSet's spec", serving=True),
    WorkloadKind("batch.volcano.sh", "Job", _volcano, "spec.tasks[].template (replicas)"),
    WorkloadKind("flow.volcano.sh", "JobTemplate", _volcano, "spec.tasks[].template (replicas)"),
    WorkloadKind("workload.codeflare.dev", "AppWrapper", _appwrapper,
                 "spec.components[].podSets[].path, else as the wrapped kind in .template",
                 True, True),
    WorkloadKind(_KSERVE, "InferenceService", _inferenceservice,
                 "spec.predictor, .transformer, .explainer (pod specs)", serving=True),
    WorkloadKind(_KSERVE, "LLMInferenceService", _llminferenceservice,
                 "spec.template, .worker, spec.prefill.template, .worker, "
                 "spec.router.scheduler.template (pod specs)", serving=True),
    WorkloadKind(_KSERVE, "LLMInferenceServiceConfig", _llminferenceservice,
                 "as LLMInferenceService", serving=True, template=True),
    WorkloadKind(_KSERVE, "ServingRuntime", _serving_runtime,
                 "spec (an inlined pod spec), spec.workerSpec", serving=True, template=True,
                 priority_field=False),
    WorkloadKind(_KSERVE, "ClusterServingRuntime", _serving_runtime,
                 "spec (an inlined pod spec), spec.workerSpec", serving=True, template=True,
                 priority_field=False),
)  # fmt: skip

_EXTRACTORS: dict[tuple[str, str], Callable[[Manifest], Iterator[PodTemplate]]] = {
    (k.group, k.kind): k.extract for k in WORKLOAD_KINDS
}
_BATCH = frozenset((k.group, k.kind) for k in WORKLOAD_KINDS if k.batch)
_TRAINING_KINDS = frozenset((k.group, k.kind) for k in WORKLOAD_KINDS if k.training)
_SERVING = frozenset((k.group, k.kind) for k in WORKLOAD_KINDS if k.serving)
_TEMPLATES = frozenset((k.group, k.kind) for k in WORKLOAD_KINDS if k.template)
_NO_PRIORITY_FIELD = frozenset((k.group, k.kind) for k in WORKLOAD_KINDS if not k.priority_field)


def looks_inside(m: Manifest) -> bool:
    """Whether ``m``'s kind is one whose pods mlkube knows where to find."""
    return (m.ref.group, m.ref.kind) in _EXTRACTORS


def is_serving_kind(m: Manifest) -> bool:
    """Kinds made to serve (KServe, LeaderWorkerSet, RayService), whatever their pods run;
    a Deployment or StatefulSet serves or not by what it does, not by its kind."""
    return (m.ref.group, m.ref.kind) in _SERVING


def is_template(m: Manifest) -> bool:
    """Kinds whose pods run only as part of other objects (Trainer runtimes, KServe
    serving runtimes and LLMInferenceServiceConfigs): their fields are checked, but they
    place no pods in any namespace of their own."""
    return (m.ref.group, m.ref.kind) in _TEMPLATES


def has_priority_field(m: Manifest) -> bool:
    """Whether ``m``'s pod templates can set priorityClassName: KServe's serving runtimes
    inline a reduced pod spec without it (ServingRuntimePodSpec, serving/v1alpha1)."""
    return (m.ref.group, m.ref.kind) not in _NO_PRIORITY_FIELD
