"""Kubeflow Trainer v2: a TrainJob as it really runs, its runtime merged in.

A TrainJob names a (Cluster)TrainingRuntime; the Trainer controller (v2.3.0) builds the
JobSet from the runtime's template, then
1. applies each ``spec.runtimePatches[].trainingRuntimeSpec.template.spec`` to the
   JobSet spec as a strategic merge patch (``pkg/runtime/core/trainingruntime.go``,
   ``mergeRuntimePatches``): replicated jobs, containers, volumes, env and volume
   mounts merge by name (mounts by ``mountPath``), maps merge, other lists
   (tolerations, node selector terms) are replaced;
2. sets the ``trainer`` block on the container named ``node`` of the replicated jobs
   labelled ``trainer.kubeflow.org/trainjob-ancestor-step: trainer``
   (``plugins/jobset/builder.go``, ``Trainer``): image, command and args replace,
   env is upserted by name, ``resourcesPerNode`` is merged per resource, and
   ``numNodes`` (else the runtime's ``mlPolicy.numNodes``) is the job's pod count.

`effective` returns that result as a Manifest (`EffectiveTrainJob`) whose
``spec.template`` is the merged JobSet template, at the same path as in the runtime.
Its ``at`` answers with the place each value was written: the runtime's field, the
TrainJob's trainer block or the TrainJob's patch.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from mlkube.manifests.fieldpath import FieldPath
from mlkube.manifests.objects import Location, Manifest

GROUP = "trainer.kubeflow.org"
RUNTIME_KINDS = ("ClusterTrainingRuntime", "TrainingRuntime")
ANCESTOR_LABEL = "trainer.kubeflow.org/trainjob-ancestor-step"
TRAINER_STEP = "trainer"
NODE_CONTAINER = "node"
TEMPLATE: FieldPath = ("spec", "template")  # the JobSet template, in a runtime and here
JOBS: FieldPath = (*TEMPLATE, "spec", "replicatedJobs")

# The ClusterTrainingRuntimes Trainer v2.3.0 ships (metadata.name of the files in its
# manifests/base/runtimes/, data-cache/ and torchtune/ included).
SHIPPED_RUNTIMES = frozenset(
    {
        "torch-distributed", "torch-distributed-with-cache", "deepspeed-distributed",
        "mlx-distributed", "jax-distributed", "xgboost-distributed",
        "torchtune-llama3.2-1b", "torchtune-llama3.2-3b", "torchtune-qwen2.5-1.5b",
    }
)  # fmt: skip

# Lists the strategic merge patch merges by a key (corev1 and JobSet patchMergeKey tags);
# every other list in a patch replaces the runtime's.
_MERGE_KEYS = {
    "replicatedJobs": "name",
    "containers": "name",
    "initContainers": "name",
    "volumes": "name",
    "env": "name",
    "volumeMounts": "mountPath",
    "imagePullSecrets": "name",
    "schedulingGates": "name",
    "dependsOn": "name",
}

RuntimeKey = tuple[str, str | None, str]  # kind, namespace (None for cluster-scoped), name


def is_trainjob(m: Manifest) -> bool:
    return (m.ref.group, m.ref.kind) == (GROUP, "TrainJob")


def is_runtime(m: Manifest) -> bool:
    return m.ref.group == GROUP and m.ref.kind in RUNTIME_KINDS


def runtime_key(m: Manifest) -> RuntimeKey:
    """The key a runtime is found by."""
    namespaced = m.ref.kind == "TrainingRuntime"
    return m.ref.kind, (m.ref.namespace or "default") if namespaced else None, m.ref.name


def runtime_ref(m: Manifest) -> RuntimeKey | None:
    """The runtime a TrainJob names, with the API's defaults (kind ClusterTrainingRuntime;
    a TrainingRuntime is looked up in the TrainJob's namespace), or None if it names none."""
    ref = m.get("spec", "runtimeRef")
    if not isinstance(ref, dict) or not ref.get("name"):
        return None
    group = str(ref.get("apiGroup") or GROUP)
    kind = str(ref.get("kind") or "ClusterTrainingRuntime")
    if group != GROUP or kind not in RUNTIME_KINDS:
        return None
    namespace = (m.ref.namespace or "default") if kind == "TrainingRuntime" else None
    return kind, namespace, str(ref["name"])


def job_labels(m: Manifest, pod_spec: FieldPath) -> dict[str, Any]:
    """The labels of the Job template whose pod spec sits at ``pod_spec``."""
    labels = m.get(*pod_spec[:-3], "metadata", "labels")
    return labels if isinstance(labels, dict) else {}


def is_trainer_step(m: Manifest, pod_spec: FieldPath) -> bool:
    """Whether the pod spec at ``pod_spec`` belongs to the job that trains."""
    return job_labels(m, pod_spec).get(ANCESTOR_LABEL) == TRAINER_STEP


Origin = tuple[Manifest, FieldPath]


@dataclass(frozen=True, slots=True, eq=False)
class EffectiveTrainJob(Manifest):
    """A TrainJob with its runtime's JobSet template merged in at ``spec.template``."""

    runtime: Manifest | None = None
    # Where each merged subtree was written: the longest recorded prefix of a path wins.
    origins: dict[FieldPath, Origin] = field(default_factory=dict)

    def at(self, *path: str | int) -> Location:
        for n in range(len(path), 0, -1):
            origin = self.origins.get(path[:n])
            if origin is not None:
                source, source_path = origin
                return Manifest.at(source, *source_path, *path[n:])
        return Manifest.at(self, *path)


class _Merge:
    """The merged template and the origin of each subtree written into it."""

    def __init__(self, trainjob: Manifest, runtime: Manifest) -> None:
        self.trainjob = trainjob
        template = runtime.get(*TEMPLATE)
        self.template: dict[str, Any] = (
            copy.deepcopy(template) if isinstance(template, dict) else {}
        )
        self.origins: dict[FieldPath, Origin] = {TEMPLATE: (runtime, TEMPLATE)}

    def patch(
        self, target: dict[str, Any], at: FieldPath, patch: dict[str, Any], src: FieldPath
    ) -> None:
        """Strategic-merge ``patch`` (written at ``src`` in the TrainJob) into ``target``."""
        for key, value in patch.items():
            here, there = (*at, key), (*src, key)
            old = target.get(key)
            if value is None:
                target.pop(key, None)
            elif value == old and not isinstance(value, dict | list):
                continue  # unchanged (a merge key): the value stays where it was written
            elif isinstance(value, dict) and isinstance(old, dict):
                self.patch(old, here, value, there)
            elif isinstance(value, list) and isinstance(old, list) and key in _MERGE_KEYS:
                self._merge_list(old, here, value, there, _MERGE_KEYS[key])
            else:
                target[key] = copy.deepcopy(value)
                self.origins[here] = (self.trainjob, there)

    def _merge_list(
        self, target: list[Any], at: FieldPath, patch: list[Any], src: FieldPath, key: str
    ) -> None:
        index = {str(v.get(key)): i for i, v in enumerate(target) if isinstance(v, dict)}
        for j, item in enumerate(patch):
            if not isinstance(item, dict):
                continue
            i = index.get(str(item.get(key)))
            if i is None:
                index[str(item.get(key))] = len(target)
                self.origins[(*at, len(target))] = (self.trainjob, (*src, j))
                target.append(copy.deepcopy(item))
            else:
                self.patch(target[i], (*at, i), item, (*src, j))

    def trainer(self, trainer: dict[str, Any], numbers: dict[str, Any]) -> None:
        """The ``trainer`` block on the node container of the trainer step's jobs."""
        src: FieldPath = ("spec", "trainer")
        jobs = self.template.get("spec", {}).get("replicatedJobs")
        for i, job in enumerate(jobs if isinstance(jobs, list) else []):
            pod: FieldPath = (*JOBS, i, "template", "spec", "template", "spec")
            labels = _dig_dict(job, ("template", "metadata", "labels"))
            if not isinstance(job, dict) or labels.get(ANCESTOR_LABEL) != TRAINER_STEP:
                continue
            job_spec = job.setdefault("template", {}).setdefault("spec", {})
            nodes = trainer.get("numNodes")
            if nodes is not None:
                job_spec["parallelism"] = nodes
                self.origins[(*JOBS, i, "template", "spec", "parallelism")] = (
                    self.trainjob,
                    (*src, "numNodes"),
                )
            elif numbers.get("numNodes") is not None:
                job_spec["parallelism"] = numbers["numNodes"]
                self.origins[(*JOBS, i, "template", "spec", "parallelism")] = (
                    self.origins[TEMPLATE][0],
                    ("spec", "mlPolicy", "numNodes"),
                )
            if not trainer:
                continue
            containers = _dig_dict(job_spec, ("template", "spec")).get("containers")
            for k, c in enumerate(containers if isinstance(containers, list) else []):
                if isinstance(c, dict) and c.get("name") == NODE_CONTAINER:
                    self._container(c, (*pod, "containers", k), trainer, src)

    def _container(
        self, c: dict[str, Any], at: FieldPath, trainer: dict[str, Any], src: FieldPath
    ) -> None:
        runtime_origin = self.origins[TEMPLATE][0]
        for key in c:  # what the runtime wrote stays its own once the container is re-pointed
            self.origins.setdefault((*at, key), (runtime_origin, (*at, key)))
        self.origins[at] = (self.trainjob, src)  # missing fields: the TrainJob's to add
        for key in ("image", "command", "args"):
            if trainer.get(key) is not None:
                c[key] = copy.deepcopy(trainer[key])
                self.origins[(*at, key)] = (self.trainjob, (*src, key))
        env = trainer.get("env")
        if isinstance(env, list):
            old = c.get("env")
            if not isinstance(old, list):
                c["env"] = old = []
                self.origins[(*at, "env")] = (self.trainjob, (*src, "env"))
            self._merge_list(old, (*at, "env"), env, (*src, "env"), "name")
        wanted = trainer.get("resourcesPerNode")
        if isinstance(wanted, dict):
            resources = c.get("resources")
            if not isinstance(resources, dict):
                c["resources"] = resources = {}
                self.origins[(*at, "resources")] = (self.trainjob, (*src, "resourcesPerNode"))
            for kind in ("requests", "limits"):
                block = wanted.get(kind)
                if not isinstance(block, dict):
                    continue
                target = resources.get(kind)
                if not isinstance(target, dict):
                    resources[kind] = target = {}
                    self.origins[(*at, "resources", kind)] = (
                        self.trainjob,
                        (*src, "resourcesPerNode", kind),
                    )
                for name, value in block.items():
                    target[name] = value
                    self.origins[(*at, "resources", kind, name)] = (
                        self.trainjob,
                        (*src, "resourcesPerNode", kind, name),
                    )


def _dig_dict(value: Any, path: FieldPath) -> dict[str, Any]:
    for step in path:
        value = value.get(step) if isinstance(value, dict) else None
    return value if isinstance(value, dict) else {}


def effective(trainjob: Manifest, runtime: Manifest) -> EffectiveTrainJob:
    """``trainjob`` as Trainer v2.3.0 runs it on ``runtime``."""
    merge = _Merge(trainjob, runtime)
    patches = trainjob.get("spec", "runtimePatches")
    for n, _patch in enumerate(patches if isinstance(patches, list) else []):
        src: FieldPath = ("spec", "runtimePatches", n, "trainingRuntimeSpec", "template", "spec")
        spec = trainjob.get(*src)
        if isinstance(spec, dict):
            merge.patch(merge.template.setdefault("spec", {}), (*TEMPLATE, "spec"), spec, src)
    trainer = trainjob.get("spec", "trainer")
    policy = runtime.get("spec", "mlPolicy")
    merge.trainer(
        trainer if isinstance(trainer, dict) else {}, policy if isinstance(policy, dict) else {}
    )
    spec = trainjob.get("spec")
    obj = dict(trainjob.obj, spec=dict(spec if isinstance(spec, dict) else {}))
    obj["spec"]["template"] = merge.template
    obj["spec"]["mlPolicy"] = copy.deepcopy(policy)
    merge.origins[("spec", "mlPolicy")] = (runtime, ("spec", "mlPolicy"))
    return EffectiveTrainJob(
        obj, trainjob.ref, trainjob.doc, trainjob.base, runtime=runtime, origins=merge.origins
    )
