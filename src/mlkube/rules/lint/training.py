"""Rules on training jobs: shared memory, the Training Operator's contract, host memory,
data on every role, checkpoints on spot capacity, and images every worker agrees on."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from mlkube.manifests.fieldpath import FieldPath
from mlkube.manifests.objects import Location, Manifest, dig
from mlkube.manifests.recognise import runs_pytorch, trains
from mlkube.manifests.trainer import (
    SHIPPED_RUNTIMES,
    TEMPLATE,
    EffectiveTrainJob,
    is_runtime,
    is_trainer_step,
)
from mlkube.manifests.workloads import Container, PodTemplate, pod_templates
from mlkube.quantity import parse_quantity
from mlkube.rules.lint.common import accelerator_containers, containers, names
from mlkube.rules.lint.inventory import Inventory
from mlkube.rules.model import Rule, Severity, Violation
from mlkube.wellknown import CAPACITY_LABEL, CHECKPOINT_PATH_ANNOTATION, SPOT_LABELS

SHM = "/dev/shm"

_PYTORCHJOB = ("kubeflow.org", "PyTorchJob")
_TRAINJOB = ("trainer.kubeflow.org", "TrainJob")
# Roles that coordinate and need no dataset: MPIJob's launcher, TFJob's PS, Ray's head.
_COORDINATOR_ROLES = frozenset({"launcher", "ps", "head"})
_INITIALIZER_JOBS = frozenset({"dataset-initializer", "model-initializer", "initializer"})

_UNKNOWN_NOTICE = 120


@dataclass(frozen=True, slots=True)
class _Spot:
    """Why a pod template lands on spot capacity, and how long its pods get to stop."""

    provider: str
    notice: int
    how: str
    where: Location


def _kind(m: Manifest) -> tuple[str, str]:
    return m.ref.group, m.ref.kind


def _dicts(value: Any) -> list[dict[str, Any]]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _strings(value: Any) -> list[str]:
    if isinstance(value, list):
        return [str(v) for v in value]
    return [str(value)] if value is not None else []


def _trainer_step(m: Manifest, t: PodTemplate) -> bool:
    """False for the jobs of a Trainer runtime (or of a TrainJob run on one) that do not
    train: the dataset and model initializers."""
    if isinstance(m, EffectiveTrainJob) or is_runtime(m):
        return is_trainer_step(m, t.path)
    return True


def _trains(m: Manifest, t: PodTemplate) -> bool:
    return _trainer_step(m, t) and trains(m, t)


def _patch_pod_specs(m: Manifest) -> Iterator[tuple[dict[str, Any], FieldPath]]:
    """The pod specs a TrainJob's runtime patches aim at jobs other than initializers."""
    patches = m.get("spec", "runtimePatches")
    for i, patch in enumerate(patches if isinstance(patches, list) else []):
        base = ("spec", "runtimePatches", i, "trainingRuntimeSpec", "template", "spec")
        jobs = dig(patch, (*base[3:], "replicatedJobs"))
        for j, job in enumerate(jobs if isinstance(jobs, list) else []):
            if not isinstance(job, dict) or str(job.get("name")) in _INITIALIZER_JOBS:
                continue
            sub = ("template", "spec", "template", "spec")
            spec = dig(job, sub)
            if isinstance(spec, dict):
                yield spec, (*base, "replicatedJobs", j, *sub)


def _pod_specs(t: PodTemplate) -> list[tuple[dict[str, Any], FieldPath]]:
    """The pod-spec blocks that shape ``t``'s pods, with their paths.

    A TrainJob whose runtime is not in the input says what its pods get only through
    its patches (and the overrides of earlier API versions) aimed at its trainer job.
    """
    m = t.manifest
    if _kind(m) != _TRAINJOB or isinstance(m, EffectiveTrainJob):
        return [(t.spec, t.path)]
    out: list[tuple[dict[str, Any], FieldPath]] = list(_patch_pod_specs(m))
    for key, sub in (("podTemplateOverrides", ("spec",)), ("podSpecOverrides", ())):
        items = m.get("spec", key)
        for i, item in enumerate(items if isinstance(items, list) else []):
            spec = dig(item, sub)
            jobs = names(dig(item, ("targetJobs",)))
            if isinstance(spec, dict) and (not jobs or jobs - _INITIALIZER_JOBS):
                out.append((spec, ("spec", key, i, *sub)))
    return out


def _spec_fields(t: PodTemplate, key: str) -> Iterator[tuple[Any, FieldPath]]:
    for spec, path in _pod_specs(t):
        if key in spec:
            yield spec[key], (*path, key)


def _volumes(t: PodTemplate) -> list[dict[str, Any]]:
    return [v for value, _ in _spec_fields(t, "volumes") for v in _dicts(value)]


def _override_containers(t: PodTemplate) -> list[dict[str, Any]]:
    """A TrainJob's container overrides (its trainer block has no volumeMounts of its own)."""
    if _kind(t.manifest) != _TRAINJOB or isinstance(t.manifest, EffectiveTrainJob):
        return []
    return [c for value, _ in _spec_fields(t, "containers") for c in _dicts(value)]


def _mounts(t: PodTemplate, c: Container) -> list[dict[str, Any]]:
    extra = [mount for o in _override_containers(t) for mount in _dicts(o.get("volumeMounts"))]
    return c.mounts + extra


def _env_names(t: PodTemplate, c: Container) -> set[str]:
    extra = {name for o in _override_containers(t) for name in names(o.get("env"))}
    return names(c.spec.get("env")) | extra


def _container_at(m: Manifest, c: Container, key: str) -> Location:
    return m.at(*c.field(key)) if key in c.spec else m.at(*c.path)


def _needs_shm(m: Manifest, t: PodTemplate) -> bool:
    """PyTorch training pods, whatever their kind; not MPI jobs that do not run torch."""
    if m.ref.group == "ray.io":  # KubeRay mounts a memory-backed /dev/shm in every Ray pod
        return False
    if is_runtime(m) and t.accelerators() <= 0:
        return False  # its TrainJobs size the pods and may patch /dev/shm in: judged merged
    if t.role.lower() in _COORDINATOR_ROLES and t.accelerators() <= 0:
        return False  # an MPI launcher starts the ranks over ssh and trains nothing itself
    return _trains(m, t) and runs_pytorch(m, t)


def _trainers(t: PodTemplate) -> list[Container]:
    """The containers that train: those with accelerators, or every app container."""
    app = [c for c in t.containers if not c.init]
    return [c for c in app if c.accelerators() > 0] or app


def _shm_problem(mounts: list[dict[str, Any]], memory_volumes: set[str]) -> str | None:
    at_shm = [mount for mount in mounts if str(mount.get("mountPath", "")).rstrip("/") == SHM]
    if not at_shm:
        return f"mounts nothing at {SHM}, so it gets the container runtime's 64Mi"
    if not any(str(mount.get("name")) in memory_volumes for mount in at_shm):
        volume = at_shm[0].get("name")
        return f"mounts {volume!r} at {SHM}, which is not an emptyDir with medium: Memory"
    return None


def shm_missing(m: Manifest) -> Iterator[Violation]:
    """Finds PyTorch training pods without a memory-backed `/dev/shm`.

    ## Why is this bad?
    DataLoader worker processes hand batches to the trainer through shared memory,
    and NCCL uses it between the GPUs of a node. A container's `/dev/shm` is 64Mi
    unless a volume is mounted there, and Kubernetes has no shm-size setting: the
    job dies with "bus error" or "No space left on device", or NCCL hangs. The
    emptyDir's pages count towards the container's memory limit, so size both.
    PyTorch is recognised by what the pods run, whatever their kind: a PyTorchJob,
    a Trainer runtime with a torch policy, torchrun or `torch.distributed.run`, the
    PET_*, MASTER_ADDR or NCCL_* environment, or torch in the image or command. An
    MPI job (mpirun, an MPIJob) that does not name torch is not held to this.

    ## Example
    ```yaml
    containers:
      - name: pytorch
        image: registry.example.com/trainer:1.4.2
        resources:
          limits: {nvidia.com/gpu: 8, memory: 256Gi}
    ```

    ## Use instead
    ```yaml
    containers:
      - name: pytorch
        image: registry.example.com/trainer:1.4.2
        resources:
          limits: {nvidia.com/gpu: 8, memory: 256Gi}
        volumeMounts:
          - {name: dshm, mountPath: /dev/shm}
    volumes:
      - name: dshm
        emptyDir: {medium: Memory, sizeLimit: 64Gi}
    ```
    """
    for t in pod_templates(m):
        if not _needs_shm(m, t):
            continue
        memory_volumes = {
            str(v.get("name")) for v in _volumes(t) if dig(v, ("emptyDir", "medium")) == "Memory"
        }
        for c in _trainers(t):
            problem = _shm_problem(_mounts(t, c), memory_volumes)
            if problem:
                yield Violation(
                    _container_at(m, c, "volumeMounts"),
                    f"container {c.name!r} of the {t.where} {problem}",
                )


def pytorchjob_container_name(m: Manifest) -> Iterator[Violation]:
    """Finds PyTorchJob replicas with no container named `pytorch`.

    ## Why is this bad?
    The Training Operator finds the training container by its name, `pytorch`: that
    is the container it gives `MASTER_ADDR`, `MASTER_PORT`, `WORLD_SIZE` and `RANK`
    and whose port (default 23456) it exposes for the rendezvous. Its validation
    rejects a PyTorchJob in which a replica type has no such container.

    ## Example
    ```yaml
    Worker:
      template:
        spec:
          containers:
            - name: trainer
              image: registry.example.com/trainer:1.4.2
    ```

    ## Use instead
    ```yaml
    Worker:
      template:
        spec:
          containers:
            - name: pytorch
              image: registry.example.com/trainer:1.4.2
    ```
    """
    if _kind(m) != _PYTORCHJOB:
        return
    for t in pod_templates(m):
        found = [c.name for c in t.containers if not c.init]
        if "pytorch" not in found:
            named = ", ".join(repr(name) for name in found) or "none"
            yield Violation(
                t.at("containers"),
                f"the {t.where} have no container named 'pytorch' (found {named})",
            )


def pytorchjob_master_count(m: Manifest) -> Iterator[Violation]:
    """Finds PyTorchJobs whose Master replica type has other than one replica.

    ## Why is this bad?
    The Master is rank 0 and the rendezvous address every Worker connects to: there
    is exactly one. The Training Operator rejects a PyTorchJob whose Master asks for
    any other count. To add ranks, raise the Worker replicas.

    ## Example
    ```yaml
    pytorchReplicaSpecs:
      Master:
        replicas: 2
    ```

    ## Use instead
    ```yaml
    pytorchReplicaSpecs:
      Master:
        replicas: 1
      Worker:
        replicas: 1
    ```
    """
    if _kind(m) != _PYTORCHJOB:
        return
    path = ("spec", "pytorchReplicaSpecs", "Master", "replicas")
    replicas = m.get(*path)
    if isinstance(replicas, int) and not isinstance(replicas, bool) and replicas != 1:
        yield Violation(m.at(*path), f"the Master has {replicas} replicas: it must have 1")


def training_memory_burstable(m: Manifest) -> Iterator[Violation]:
    """Finds accelerator training containers allowed to use more memory than they request.

    ## Why is this bad?
    Under node memory pressure the kubelet evicts first the pods whose usage exceeds
    their request, whatever their priority; a container over its limit is OOM-killed
    by the kernel in any QoS class. A training pod that grows past its request is
    thus the first to go, and with it the whole distributed job. Request what the
    job needs at its peak and make that the limit too (a limit alone sets the
    request to it).

    ## Example
    ```yaml
    resources:
      requests: {memory: 32Gi}
      limits: {nvidia.com/gpu: 1, memory: 64Gi}
    ```

    ## Use instead
    ```yaml
    resources:
      requests: {memory: 64Gi}
      limits: {nvidia.com/gpu: 1, memory: 64Gi}
    ```
    """
    for t, c in accelerator_containers(m):
        if not _trains(m, t):
            continue
        request = c.resource("requests", "memory")
        limit = c.resource("limits", "memory")
        if request is None:
            continue
        if limit is None:
            yield Violation(
                m.at(*c.field("resources", "requests", "memory")),
                f"accelerator container {c.name!r} of the {t.where} requests {request} "
                "memory and has no memory limit",
            )
            continue
        low, high = parse_quantity(request), parse_quantity(limit)
        if low is not None and high is not None and high > low:
            yield Violation(
                m.at(*c.field("resources", "limits", "memory")),
                f"accelerator container {c.name!r} of the {t.where} requests {request} "
                f"memory but may use up to {limit}",
            )


def _checkpoint_path(path: str) -> bool:
    return "checkpoint" in path.lower() or "ckpt" in path.lower()


def _claims(t: PodTemplate) -> dict[str, str]:
    """PVCs mounted by the template's containers (claim name → a mount path).

    Checkpoint mounts are left out: rank 0 alone often saves them, and a ReadWriteOnce
    claim cannot be shared anyway.
    """
    volumes = {
        str(v.get("name")): str(dig(v, ("persistentVolumeClaim", "claimName")))
        for v in t.volumes
        if dig(v, ("persistentVolumeClaim", "claimName"))
    }
    out: dict[str, str] = {}
    for c in t.containers:
        for mount in c.mounts:
            claim = volumes.get(str(mount.get("name")))
            path = str(mount.get("mountPath", ""))
            if claim is not None and not _checkpoint_path(path):
                out.setdefault(claim, path)
    return out


def _compute_roles(templates: tuple[PodTemplate, ...]) -> list[PodTemplate]:
    """The roles that train: those with accelerators, or all but coordinators."""
    gpu = [t for t in templates if t.accelerators() > 0]
    return gpu or [t for t in templates if t.role.lower() not in _COORDINATOR_ROLES]


def replica_volumes_inconsistent(m: Manifest) -> Iterator[Violation]:
    """Finds multi-role training jobs where a role lacks a claim another role mounts.

    ## Why is this bad?
    Every rank of a data-parallel job reads its shard of the dataset and, on resume,
    the last checkpoint. A PersistentVolumeClaim mounted on the Master only leaves
    the Workers to train on nothing, or to fail on a missing path, while the Master's
    logs look healthy. Roles that only coordinate (an MPIJob launcher, a Ray head
    without GPUs) are not held to this when the other roles have the GPUs, and
    checkpoint mounts are left out: rank 0 alone often writes them.

    ## Example
    ```yaml
    Master:
      template:
        spec:
          containers:
            - name: pytorch
              volumeMounts: [{name: data, mountPath: /data}]
          volumes:
            - {name: data, persistentVolumeClaim: {claimName: dataset-pvc}}
    Worker:
      template:
        spec:
          containers:
            - name: pytorch
    ```

    ## Use instead
    ```yaml
    Master:
      template:
        spec:
          containers:
            - name: pytorch
              volumeMounts: [{name: data, mountPath: /data}]
          volumes:
            - {name: data, persistentVolumeClaim: {claimName: dataset-pvc}}
    Worker:
      template:
        spec:
          containers:
            - name: pytorch
              volumeMounts: [{name: data, mountPath: /data}]
          volumes:
            - {name: data, persistentVolumeClaim: {claimName: dataset-pvc}}
    ```
    """
    templates = pod_templates(m)
    if len(templates) < 2 or not any(_trains(m, t) for t in templates):
        return
    claims = {t.role: _claims(t) for t in templates}
    for t in _compute_roles(templates):
        missing: dict[str, tuple[PodTemplate, str]] = {}
        for other in templates:
            for claim, path in claims[other.role].items():
                if claim not in claims[t.role]:
                    missing.setdefault(claim, (other, path))
        for claim, (other, path) in missing.items():
            yield Violation(
                t.at("containers"),
                f"the {t.where} do not mount PVC {claim!r}, which the {other.where} "
                f"mount at {path}",
            )


def _toleration_spot(tolerations: Any, path: FieldPath) -> tuple[str, str, FieldPath] | None:
    for i, toleration in enumerate(tolerations if isinstance(tolerations, list) else []):
        if not isinstance(toleration, dict):
            continue
        key = str(toleration.get("key") or "")
        for label, value in SPOT_LABELS:
            exists = toleration.get("operator") == "Exists"
            if key == label and (exists or str(toleration.get("value")) == value):
                return label, value, (*path, i)
    return None


def _affinity_spot(affinity: Any, path: FieldPath) -> tuple[str, str, FieldPath] | None:
    sub = ("nodeAffinity", "requiredDuringSchedulingIgnoredDuringExecution", "nodeSelectorTerms")
    for i, term in enumerate(_dicts(dig(affinity, sub))):
        for j, expr in enumerate(_dicts(term.get("matchExpressions"))):
            values = set(_strings(expr.get("values")))
            for label, value in SPOT_LABELS:
                if expr.get("key") == label and expr.get("operator") == "In" and value in values:
                    return label, value, (*path, *sub, i, "matchExpressions", j)
    return None


def _selector_spot(selector: Any, path: FieldPath) -> tuple[str, str, FieldPath] | None:
    for label, value in SPOT_LABELS:
        if isinstance(selector, dict) and str(selector.get(label)) == value:
            return label, value, (*path, label)
    return None


_SPOT_FIELDS = (
    ("nodeSelector", "nodeSelector", _selector_spot),
    ("affinity", "required node affinity", _affinity_spot),
    ("tolerations", "toleration", _toleration_spot),
)


def _capacity_label(t: PodTemplate) -> _Spot | None:
    m = t.manifest
    if t.labels.get(CAPACITY_LABEL) == "spot" and t.path[-1:] == ("spec",):
        where = m.at(*t.path[:-1], "metadata", "labels", CAPACITY_LABEL)
    elif m.labels.get(CAPACITY_LABEL) == "spot":
        where = m.at("metadata", "labels", CAPACITY_LABEL)
    else:
        return None
    return _Spot("", _UNKNOWN_NOTICE, f"label {CAPACITY_LABEL}=spot", where)


def _spot(t: PodTemplate) -> _Spot | None:
    """How ``t`` targets spot capacity, if it does; shared by MK206 and MK207."""
    for key, what, find in _SPOT_FIELDS:
        for value, path in _spec_fields(t, key):
            found = find(value, path)
            if found:
                label, expected, where = found
                spot = SPOT_LABELS[label, expected]
                return _Spot(
                    spot.provider,
                    spot.pod_notice_seconds,
                    f"{what} {label}={expected}",
                    t.manifest.at(*where),
                )
    return _capacity_label(t)


def _checkpoints(m: Manifest) -> bool:
    """Whether any role of ``m`` mounts or names a checkpoint location."""
    if CHECKPOINT_PATH_ANNOTATION in m.annotations:
        return True
    for t, c in containers(m, init=True):
        if any(_checkpoint_path(str(mount.get("mountPath", ""))) for mount in _mounts(t, c)):
            return True
        if any("CHECKPOINT" in name.upper() for name in _env_names(t, c)):
            return True
    return False


def spot_without_checkpoint(m: Manifest) -> Iterator[Violation]:
    """Finds training pods on spot capacity in jobs that write no checkpoint.

    ## Why is this bad?
    Spot nodes are reclaimed with seconds to two minutes of notice, often several at
    once. A job with no checkpoint restarts from step zero each time, so a long run
    on spot may never finish and costs more than on-demand would have. mlkube looks
    for a volume mounted at a path containing `checkpoint` or `ckpt`, an environment
    variable whose name contains `CHECKPOINT`, or the `mlkube.dev/checkpoint-path`
    annotation.

    ## Example
    ```yaml
    spec:
      nodeSelector: {karpenter.sh/capacity-type: spot}
      containers:
        - name: pytorch
          image: registry.example.com/trainer:1.4.2
    ```

    ## Use instead
    ```yaml
    spec:
      nodeSelector: {karpenter.sh/capacity-type: spot}
      containers:
        - name: pytorch
          image: registry.example.com/trainer:1.4.2
          env: [{name: MLKUBE_CHECKPOINT_DIR, value: /checkpoints}]
          volumeMounts: [{name: checkpoints, mountPath: /checkpoints}]
      volumes:
        - {name: checkpoints, persistentVolumeClaim: {claimName: run-42-checkpoints}}
    ```
    """
    templates = [t for t in pod_templates(m) if _trains(m, t)]
    if not templates or is_runtime(m) or _checkpoints(m):
        return
    for t in templates:
        spot = _spot(t)
        if spot:
            yield Violation(
                spot.where,
                f"the {t.where} run on spot capacity ({spot.how}) but the job writes no checkpoint",
            )


def spot_grace_exceeds_notice(m: Manifest) -> Iterator[Violation]:
    """Finds spot pods whose termination grace period outlasts the spot notice.

    ## Why is this bad?
    When a spot node is reclaimed its pods get SIGTERM, then the node is gone when
    the provider's notice runs out, whatever `terminationGracePeriodSeconds` says:
    AWS gives two minutes (best effort), Azure at least 30 seconds, and GKE 30
    seconds of which graceful node shutdown gives ordinary pods 15. A final
    checkpoint that needs the longer grace period is cut off and lost. Checkpoint
    periodically, and save on SIGTERM only what fits in the notice.

    ## Example
    ```yaml
    spec:
      nodeSelector: {cloud.google.com/gke-spot: "true"}
      terminationGracePeriodSeconds: 300
    ```

    ## Use instead
    ```yaml
    spec:
      nodeSelector: {cloud.google.com/gke-spot: "true"}
      terminationGracePeriodSeconds: 15
    ```
    """
    for t in pod_templates(m):
        grace = t.spec.get("terminationGracePeriodSeconds")
        if not isinstance(grace, int) or isinstance(grace, bool):
            continue
        spot = _spot(t)
        if spot and grace > spot.notice:
            provider = f"{spot.provider} spot" if spot.provider else "spot"
            yield Violation(
                t.at("terminationGracePeriodSeconds"),
                f"the {t.where} ask for {grace}s to terminate but {provider} nodes "
                f"({spot.how}) give pods {spot.notice}s",
            )


def _mutable_tag(image: str) -> str | None:
    """Why ``image`` may resolve differently on each pull, or None if it cannot."""
    if not image or "@sha256:" in image:
        return None
    name = image.rsplit("/", 1)[-1]
    if ":" not in name:
        return "has no tag"
    return "uses the tag 'latest'" if name.rsplit(":", 1)[1] == "latest" else None


def _reproducible_kind(m: Manifest) -> bool:
    templates = pod_templates(m)
    return _kind(m) == ("serving.kserve.io", "InferenceService") or any(
        t.accelerators() > 0 or trains(m, t) for t in templates
    )


def image_tag_mutable(m: Manifest) -> Iterator[Violation]:
    """Finds accelerator, training and serving containers whose image tag can move.

    ## Why is this bad?
    An image with no tag means `:latest`, and `latest` is whatever was pushed last.
    A worker restarted after a push, or scheduled on a node that has not cached the
    image, pulls different code than its peers: ranks disagree on the model and the
    job hangs or silently diverges, and serving replicas answer differently. A fixed
    tag or, better, a digest makes every pod run the same bytes.

    ## Example
    ```yaml
    containers:
      - name: pytorch
        image: registry.example.com/trainer:latest
    ```

    ## Use instead
    ```yaml
    containers:
      - name: pytorch
        image: registry.example.com/trainer:1.4.2   # or trainer@sha256:<digest>
    ```
    """
    if not _reproducible_kind(m):
        return
    for t, c in containers(m, init=True):
        problem = _mutable_tag(c.image)
        if problem:
            yield Violation(
                m.at(*c.field("image")),
                f"image {c.image!r} of container {c.name!r} of the {t.where} {problem}",
            )


_IGNORES_MAX_RESTARTS = frozenset(
    {"RestartJobSetAndIgnoreMaxRestarts", "RestartJobAndIgnoreMaxRestarts"}
)
_RESTART_BUDGET = 3


def _jobset_spec(m: Manifest) -> FieldPath | None:
    """Where the JobSet spec of ``m`` sits: a JobSet's own, or a TrainJob's runtime's."""
    if _kind(m) == ("jobset.x-k8s.io", "JobSet"):
        return ("spec",)
    if isinstance(m, EffectiveTrainJob):
        return (*TEMPLATE, "spec")
    return None


def _preemption_reason(job: Any) -> str | None:
    """The reason a Job fails with when a pod of it is preempted, or None when the Job
    takes the preemption in its stride (a podFailurePolicy rule ignores DisruptionTarget)."""
    for rule in _dicts(dig(job, ("template", "spec", "podFailurePolicy", "rules"))):
        conditions = {str(c.get("type")) for c in _dicts(rule.get("onPodConditions"))}
        if "DisruptionTarget" in conditions:
            if rule.get("action") == "Ignore":
                return None
            if rule.get("action") == "FailJob":
                return "PodFailurePolicy"
    return "BackoffLimitExceeded"  # the pod counts as failed; enough of them fail the Job


def _preemption_ignored(policy: Any, job: Any) -> bool:
    """Whether JobSet restarts after ``job`` is preempted without counting the restart:
    the first failure-policy rule that matches the Job's failure decides."""
    reason = _preemption_reason(job)
    if reason is None:
        return True
    name = str(job.get("name")) if isinstance(job, dict) else ""
    for rule in _dicts(dig(policy, ("rules",))):
        reasons = _strings(rule.get("onJobFailureReasons"))
        targets = _strings(rule.get("targetReplicatedJobs"))
        if (not reasons or reason in reasons) and (not targets or name in targets):
            if rule.get("onJobFailureMessagePatterns"):
                continue  # matches some messages only: cannot be relied on for preemptions
            return str(rule.get("action")) in _IGNORES_MAX_RESTARTS
    return False


def _restart_budget(m: Manifest, t: PodTemplate) -> tuple[str, Location] | None:
    """Why a preemption of ``t``'s pods may end ``m``, and where its budget is set."""
    if _kind(m) == _PYTORCHJOB:
        limit = m.get("spec", "runPolicy", "backoffLimit")
        if isinstance(limit, int) and not isinstance(limit, bool) and limit < _RESTART_BUDGET:
            where = m.at("spec", "runPolicy", "backoffLimit")
            return (
                f"runPolicy.backoffLimit {limit} fails the job after {limit + 1} pod failures",
                where,
            )
        return None
    spec = _jobset_spec(m)
    if spec is None:
        return None
    policy = m.get(*spec, "failurePolicy")
    restarts = dig(policy, ("maxRestarts",))
    restarts = restarts if isinstance(restarts, int) and not isinstance(restarts, bool) else 0
    if restarts >= _RESTART_BUDGET:
        return None
    job = m.get(*t.path[:-4])  # the replicated job whose pod spec this is
    if _preemption_ignored(policy, job):
        return None
    field = ("maxRestarts",) if dig(policy, ("maxRestarts",)) is not None else ()
    where = m.at(*spec, "failurePolicy", *field)
    return f"failurePolicy.maxRestarts {restarts} ends the job at preemption {restarts + 1}", where


def spot_restart_budget_small(m: Manifest) -> Iterator[Violation]:
    """Finds training jobs on spot capacity whose restart budget preemptions would spend.

    ## Why is this bad?
    Each spot reclaim kills a pod, and to its operator a killed pod is a failure like
    any other. A JobSet (and so a Kubeflow Trainer TrainJob) restarts after a failed
    Job only `failurePolicy.maxRestarts` times, 0 unless set; a PyTorchJob gives up
    after `runPolicy.backoffLimit` failures. On spot capacity, where a day may bring
    several reclaims, a small budget ends the run for good on the third preemption
    even though nothing is wrong with it. Either give the job a budget that outlasts
    a run's preemptions or, better, let preemptions restart it without counting: a
    Job `podFailurePolicy` rule that fails the Job on the pod condition
    `DisruptionTarget` (reason `PodFailurePolicy`), and a JobSet failure-policy rule
    that answers `PodFailurePolicy` with `RestartJobSetAndIgnoreMaxRestarts`, so the
    budget is kept for real failures.

    ## Example
    ```yaml
    failurePolicy:
      maxRestarts: 1
    replicatedJobs:
      - name: node
        template:
          spec:
            template:
              spec:
                nodeSelector: {karpenter.sh/capacity-type: spot}
    ```

    ## Use instead
    ```yaml
    failurePolicy:
      maxRestarts: 3
      rules:
        - name: preempted
          action: RestartJobSetAndIgnoreMaxRestarts
          onJobFailureReasons: [PodFailurePolicy]
    replicatedJobs:
      - name: node
        template:
          spec:
            podFailurePolicy:
              rules:
                - action: FailJob
                  onPodConditions: [{type: DisruptionTarget}]
            template:
              spec:
                nodeSelector: {karpenter.sh/capacity-type: spot}
    ```
    """
    for t in pod_templates(m):
        if not _trains(m, t) or is_runtime(m):
            continue
        spot = _spot(t)
        if spot is None:
            continue
        budget = _restart_budget(m, t)
        if budget:
            why, where = budget
            yield Violation(
                where,
                f"the {t.where} may run on spot capacity ({spot.how}) and {why}",
            )
            return


def trainjob_runtime_undefined(inv: Inventory) -> Iterator[Violation]:
    """Finds TrainJobs whose runtime no input defines and Kubeflow Trainer does not ship.

    ## Why is this bad?
    A TrainJob is only the job-specific half of a run: its pods come from the
    TrainingRuntime or ClusterTrainingRuntime it names in `runtimeRef` (kind
    ClusterTrainingRuntime unless set; a TrainingRuntime must be in the TrainJob's
    namespace). Trainer's webhook rejects a TrainJob whose runtime does not exist, and
    a misspelt name is only found at apply time. The runtimes Trainer v2.3.0 installs
    (`torch-distributed`, `deepspeed-distributed`, the `torchtune-*` ones, …) are
    known; any other must be defined in the input or already be on the cluster, in
    which case this finding is for information only.

    ## Example
    ```yaml
    kind: TrainJob
    spec:
      runtimeRef:
        name: torch-distributed-v2
    ```

    ## Use instead
    ```yaml
    kind: TrainJob
    spec:
      runtimeRef:
        name: torch-distributed
    ```
    """
    for use in inv.runtime_uses:
        kind, namespace, name = use.runtime
        if name in inv.names(kind, namespace):
            continue
        if kind == "ClusterTrainingRuntime" and name in SHIPPED_RUNTIMES:
            continue
        where = f" in namespace {namespace!r}" if namespace else ""
        yield Violation(
            use.at,
            f"{use.job} runs on {kind} {name!r}, which no input defines{where} "
            "and Trainer v2.3.0 does not ship",
        )


OBJECT_RULES: tuple[Rule[Manifest], ...] = (
    Rule(
        "MK201",
        Severity.WARNING,
        "Mount an emptyDir with medium: Memory at /dev/shm in the training container.",
        shm_missing,
    ),
    Rule(
        "MK202",
        Severity.ERROR,
        "Name the training container of every replica type 'pytorch'.",
        pytorchjob_container_name,
    ),
    Rule(
        "MK203",
        Severity.ERROR,
        "Give the Master exactly one replica and scale the Workers instead.",
        pytorchjob_master_count,
    ),
    Rule(
        "MK204",
        Severity.WARNING,
        "Set the memory request and limit both to the job's peak need.",
        training_memory_burstable,
    ),
    Rule(
        "MK205",
        Severity.WARNING,
        "Mount the same claims in every role that trains.",
        replica_volumes_inconsistent,
    ),
    Rule(
        "MK206",
        Severity.WARNING,
        "Write checkpoints to a persistent volume and resume from the latest one.",
        spot_without_checkpoint,
    ),
    Rule(
        "MK207",
        Severity.WARNING,
        "Keep terminationGracePeriodSeconds within the spot notice and checkpoint periodically.",
        spot_grace_exceeds_notice,
    ),
    Rule(
        "MK208",
        Severity.WARNING,
        "Pin the image to a version tag and, better, its digest.",
        image_tag_mutable,
    ),
    Rule(
        "MK209",
        Severity.WARNING,
        "Let preemptions restart the job without counting (a DisruptionTarget podFailurePolicy "
        "rule and a RestartJobSetAndIgnoreMaxRestarts failure-policy rule), or allow 3 or more "
        "restarts.",
        spot_restart_budget_small,
    ),
)

INPUT_RULES: tuple[Rule[Inventory], ...] = (
    Rule(
        "MK210",
        Severity.INFO,
        "Name a runtime the input defines or Trainer ships, or make sure it is on the cluster.",
        trainjob_runtime_undefined,
    ),
)
