"""What a workload does, judged by what it runs rather than by its API group.

Rules whose premise is PyTorch (a DataLoader's shared memory), training (checkpoints,
host memory) or serving (replicas behind an endpoint) ask these small functions, so
that a JobSet running torchrun is a PyTorch job, an MPIJob running LAMMPS is not, and
a GPU stress Deployment that opens no port is no endpoint.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from mlkube.manifests.fieldpath import FieldPath
from mlkube.manifests.objects import Manifest, dig
from mlkube.manifests.trainer import SHIPPED_RUNTIMES, is_runtime, is_trainjob
from mlkube.manifests.workloads import (
    KSERVE_FRAMEWORKS,
    Container,
    PodTemplate,
    is_batch,
    is_serving_kind,
    is_training,
)

# torchrun, python -m torch.distributed.run, the deprecated torch.distributed.launch.
_TORCH_LAUNCH = re.compile(r"\btorchrun\b|\btorch\.distributed\.(?:run|launch)\b")
# What torchrun, the Training Operator (PET_*) and torch.distributed's env:// read.
_TORCH_ENV_PREFIXES = ("PET_", "TORCHELASTIC_")
_TORCH_ENV = frozenset({"MASTER_ADDR"})
# NCCL's settings: a sign of PyTorch on GPUs, but model servers (vLLM) set them too.
_NCCL_ENV = "NCCL_"
_TORCH_WORDS = ("torch", "deepspeed")
_MPI_LAUNCH = re.compile(r"(?:^|[\s/;&|])(?:mpirun|mpiexec|horovodrun)\b")
# Trainer's shipped runtimes that run PyTorch (DeepSpeed runs on it under an MPI policy).
_TORCH_RUNTIMES = frozenset(r for r in SHIPPED_RUNTIMES if r.startswith(("torch", "deepspeed")))

# Model servers, as their images and commands name them: vLLM, Triton, Hugging Face
# TGI and TEI, SGLang, TorchServe, TensorFlow Serving, TensorRT-LLM, LMDeploy, Ollama,
# llama.cpp, NVIDIA NIM and KServe's own model servers.
_SERVER = re.compile(
    r"vllm|tritonserver|text-(?:generation|embeddings)-(?:launcher|inference|router)"
    r"|sglang|torchserve"
    r"|tensorflow[_/-]?(?:model[_-]server|serving)|trtllm-serve|lmdeploy|ollama"
    r"|llama-server|llama\.cpp|nvcr\.io/nim/|kserve/[a-z]+server|huggingfaceserver"
    r"|ray\s+serve|serve\s+run",
    re.IGNORECASE,
)
_RAY = "ray.io"


def _words(value: Any) -> list[str]:
    if isinstance(value, list):
        return [str(v) for v in value]
    return [str(value)] if value is not None else []


def _program(c: Container) -> str:
    """The container's command and args as one text (shell scripts included)."""
    return " ".join([*_words(c.spec.get("command")), *_words(c.spec.get("args"))])


def _env_names(c: Container) -> set[str]:
    env = c.spec.get("env")
    if not isinstance(env, list):
        return set()
    return {str(e.get("name")) for e in env if isinstance(e, dict) and e.get("name")}


def _app(t: PodTemplate) -> list[Container]:
    return [c for c in t.containers if not c.init]


def _ml_policy(m: Manifest) -> dict[str, Any] | None:
    """A Trainer runtime's ``mlPolicy`` (a TrainJob merged with its runtime has one)."""
    policy = m.get("spec", "mlPolicy")
    return policy if isinstance(policy, dict) else None


def mentions_torch(c: Container) -> bool:
    """Whether the image or program names PyTorch (pytorch/pytorch, ``import torch``) or
    DeepSpeed, which runs on it."""
    text = f"{c.image} {_program(c)}".lower()
    return any(word in text for word in _TORCH_WORDS)


def launches_torch(c: Container) -> bool:
    """Whether the container starts torch.distributed: torchrun or its module forms, or
    the environment torchrun and the Training Operator set (PET_*, MASTER_ADDR)."""
    if _TORCH_LAUNCH.search(_program(c)):
        return True
    names = _env_names(c)
    return bool(names & _TORCH_ENV) or any(n.startswith(_TORCH_ENV_PREFIXES) for n in names)


def _sets_nccl(c: Container) -> bool:
    return any(n.startswith(_NCCL_ENV) for n in _env_names(c))


def launches_mpi(m: Manifest, t: PodTemplate) -> bool:
    """Whether the pods are part of an MPI job: an MPIJob, or mpirun/mpiexec/horovodrun."""
    if m.ref.kind == "MPIJob":
        return True
    return any(_MPI_LAUNCH.search(_program(c)) for c in _app(t))


def _trainer_runs_torch(m: Manifest) -> bool | None:
    """What a Trainer object's runtime says: its torch policy, or the shipped runtime a
    lone TrainJob names; None when it does not say."""
    policy = _ml_policy(m)
    if policy is not None:
        return True if isinstance(policy.get("torch"), dict) else None
    if is_trainjob(m):
        name = dig(m.obj, ("spec", "runtimeRef", "name"))
        return True if name in _TORCH_RUNTIMES else None
    return None


def runs_pytorch(m: Manifest, t: PodTemplate) -> bool:
    """Whether ``t``'s pods run PyTorch.

    A PyTorchJob does by definition, a Trainer runtime (or TrainJob on one) with a torch
    policy does; any other pod does when it launches torch.distributed, sets NCCL_*, or
    names torch (or DeepSpeed) in its image or program. An MPI job (mpirun, an MPIJob)
    counts only when it names torch itself: its NCCL settings serve any collective
    library.
    """
    if (m.ref.group, m.ref.kind) == ("kubeflow.org", "PyTorchJob"):
        return True
    if is_trainjob(m) or is_runtime(m):
        said = _trainer_runs_torch(m)
        if said is not None:
            return said
    apps = _app(t)
    if any(mentions_torch(c) for c in apps):
        return True
    if m.ref.group == _RAY:
        entrypoint = " ".join(_words(m.get("spec", "entrypoint"))).lower()
        if any(word in entrypoint for word in _TORCH_WORDS):
            return True
    if launches_mpi(m, t):
        return False
    return any(launches_torch(c) or _sets_nccl(c) for c in apps)


def runs_to_completion(m: Manifest) -> bool:
    """Batch kinds, and bare pods that are not restarted once they succeed."""
    if (m.ref.group, m.ref.kind) == ("", "Pod"):
        return m.get("spec", "restartPolicy") in ("Never", "OnFailure")
    return is_batch(m)


def trains(m: Manifest, t: PodTemplate) -> bool:
    """Whether ``t``'s pods train: a training kind, a run-to-completion workload with
    accelerators, or any other workload running PyTorch's distributed launcher (a
    JobSet, a RayCluster) that serves nothing."""
    if is_training(m) or (runs_to_completion(m) and t.accelerators() > 0):
        return True
    apps = _app(t)
    if not any(launches_torch(c) for c in apps) or launches_mpi(m, t):
        return False
    return not serves(m, t)


def rendezvous(m: Manifest, t: PodTemplate) -> bool:
    """Whether ``t``'s pods must reach one another to run: a Kubeflow training kind (its
    ranks rendezvous, its MPI launcher reaches the workers), torch.distributed, or MPI.
    A batch job whose pods each work alone does not, accelerators or not."""
    if is_training(m) or launches_mpi(m, t):
        return True
    return any(launches_torch(c) for c in _app(t))


def serves(m: Manifest, t: PodTemplate) -> bool:
    """Whether ``t``'s pods serve requests: a serving kind, or a long-running pod that
    opens a container port, probes its readiness over HTTP or gRPC, or runs a known
    model server. Batch and training pods do not (a rendezvous port is no endpoint);
    whether a Service in the same input selects the pods is for the input's rules to
    add."""
    if is_serving_kind(m):  # KServe's, LeaderWorkerSet, RayService (manifests.workloads)
        return True
    if is_batch(m) or is_training(m) or m.ref.group == _RAY:
        return False
    return any(_listens(c) or runs_model_server(c) for c in _app(t))


def _listens(c: Container) -> bool:
    """A container port, or a readiness probe that calls an HTTP or gRPC endpoint."""
    ports = c.spec.get("ports")
    if isinstance(ports, list) and any(
        isinstance(p, dict) and p.get("containerPort") is not None for p in ports
    ):
        return True
    probe = c.spec.get("readinessProbe")
    return isinstance(probe, dict) and any(k in probe for k in ("httpGet", "grpc"))


def runs_model_server(c: Container) -> bool:
    """Whether the image or program is a known model server (vLLM, Triton, TGI, …)."""
    return bool(_SERVER.search(c.image) or _SERVER.search(_program(c)))


def _has_storage(block: dict[str, Any]) -> bool:
    if block.get("storageUri") or block.get("storage"):
        return True
    env = block.get("env")
    return isinstance(env, list) and any(
        isinstance(e, dict) and e.get("name") == "STORAGE_URI" for e in env
    )


def storageless_models(m: Manifest) -> Iterator[tuple[str, FieldPath]]:
    """The model blocks of an InferenceService predictor that say nowhere where the
    model is stored, as (framework, path). Such a predictor is either an image with the
    weights baked in or a multi-model server whose TrainedModels carry the storage."""
    if (m.ref.group, m.ref.kind) != ("serving.kserve.io", "InferenceService"):
        return
    predictor = m.get("spec", "predictor")
    if not isinstance(predictor, dict) or predictor.get("storageUris"):
        return
    for framework in KSERVE_FRAMEWORKS:
        block = predictor.get(framework)
        if isinstance(block, dict) and not _has_storage(block):
            yield framework, ("spec", "predictor", framework)


def trained_model_host(m: Manifest) -> str | None:
    """The InferenceService a KServe TrainedModel with a storageUri loads into, or None."""
    if (m.ref.group, m.ref.kind) != ("serving.kserve.io", "TrainedModel"):
        return None
    host = m.get("spec", "inferenceService")
    if not host or not m.get("spec", "model", "storageUri"):
        return None
    return str(host)
