"""Where this process stands in the job: its rank, the world size and the rendezvous
master, read from the environment that launched it. Pure functions of a mapping; no
torch, no I/O.

Three launchers set that environment, each its own way:

- **torchrun** (``torch.distributed.run``) sets, per process, ``RANK``, ``WORLD_SIZE``,
  ``LOCAL_RANK``, ``LOCAL_WORLD_SIZE``, ``GROUP_RANK`` (the node), ``MASTER_ADDR``,
  ``MASTER_PORT`` and ``TORCHELASTIC_RUN_ID``. Inside a process it launched these are the
  truth, and they take precedence over whatever the pod's environment said.
- **Kubeflow Trainer v2** (TrainJob, torch plugin,
  ``pkg/runtime/framework/plugins/torch/torch.go`` at v2.3.0) sets, per pod (node),
  ``PET_NNODES``, ``PET_NPROC_PER_NODE`` (a number, or ``auto``), ``PET_NODE_RANK``
  (the Job's completion index), ``PET_MASTER_ADDR`` (``<trainjob>-node-0-0.<trainjob>``)
  and ``PET_MASTER_PORT`` (29500), and nothing else: torchrun reads them.
- **Training Operator v1** (PyTorchJob, ``pkg/controller.v1/pytorch/envvar.go`` at
  v1.9.4) sets, per pod, ``MASTER_ADDR``, ``MASTER_PORT``, ``WORLD_SIZE`` (replicas ×
  nproc per node), ``RANK`` (the *pod's* index, Master 0, Workers from 1) and the same
  ``PET_*`` variables.

A pod-level source describes a node, not a process: its ``rank`` is the global rank of
the node's first process (``node_rank × nproc_per_node``), which is the process's rank
when the container runs one process per node without torchrun.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

TRAINER_MASTER_PORT = 29500  # Trainer v2.3.0 pkg/constants: ContainerTrainerPort


@dataclass(frozen=True, slots=True)
class Topology:
    source: str  # "torchrun" | "trainer" | "training-operator"
    rank: int | None  # global rank; None when nproc per node is "auto" (pod-level only)
    world_size: int | None  # None when it cannot be known before torchrun starts
    local_rank: int  # 0 for a pod-level source
    node_rank: int
    nnodes: int | None  # None for an elastic range such as "1:4"
    nproc_per_node: int | None  # None for "auto"
    master_addr: str
    master_port: int


def _int(env: Mapping[str, str], name: str) -> int | None:
    raw = env.get(name, "").strip()
    try:
        value = int(raw)
    except ValueError:
        return None
    return value if value >= 0 else None


def from_torchrun(env: Mapping[str, str]) -> Topology | None:
    """The process torchrun started: it always sets ``LOCAL_RANK`` and
    ``TORCHELASTIC_RUN_ID`` beside ``RANK`` and ``WORLD_SIZE``."""
    if "TORCHELASTIC_RUN_ID" not in env and "LOCAL_RANK" not in env:
        return None
    rank, world, local = _int(env, "RANK"), _int(env, "WORLD_SIZE"), _int(env, "LOCAL_RANK")
    if rank is None or world is None or local is None or not rank < world:
        return None
    per_node = _int(env, "LOCAL_WORLD_SIZE")
    nnodes = world // per_node if per_node and world % per_node == 0 else None
    node = _int(env, "GROUP_RANK")
    return Topology(
        source="torchrun",
        rank=rank,
        world_size=world,
        local_rank=local,
        node_rank=node if node is not None else (rank // per_node if per_node else 0),
        nnodes=nnodes,
        nproc_per_node=per_node,
        master_addr=env.get("MASTER_ADDR", ""),
        master_port=_int(env, "MASTER_PORT") or 0,
    )


def from_training_operator(env: Mapping[str, str]) -> Topology | None:
    """A PyTorchJob's pod (Training Operator v1): ``MASTER_ADDR`` and ``WORLD_SIZE``
    are what Trainer v2 never sets. Its ``RANK`` is the pod's index."""
    if "MASTER_ADDR" not in env or "WORLD_SIZE" not in env:
        return None
    world = _int(env, "WORLD_SIZE")
    node = _int(env, "PET_NODE_RANK")
    node = node if node is not None else _int(env, "RANK")
    if world is None or node is None:
        return None
    per_node = _int(env, "PET_NPROC_PER_NODE") if "PET_NPROC_PER_NODE" in env else 1
    nnodes = _int(env, "PET_NNODES")
    if nnodes is None and per_node:
        nnodes = world // per_node
    return Topology(
        source="training-operator",
        rank=node * per_node if per_node is not None else None,
        world_size=world if per_node is not None else None,  # "auto": WORLD_SIZE is a guess
        local_rank=0,
        node_rank=node,
        nnodes=nnodes,
        nproc_per_node=per_node,
        master_addr=env["MASTER_ADDR"],
        master_port=_int(env, "MASTER_PORT") or 0,
    )


def from_trainer(env: Mapping[str, str]) -> Topology | None:
    """A TrainJob's pod (Kubeflow Trainer v2): only the ``PET_*`` variables."""
    node, nnodes = _int(env, "PET_NODE_RANK"), _int(env, "PET_NNODES")
    if node is None or "PET_NNODES" not in env:
        return None
    per_node = _int(env, "PET_NPROC_PER_NODE") if "PET_NPROC_PER_NODE" in env else 1
    return Topology(
        source="trainer",
        rank=node * per_node if per_node is not None else None,
        world_size=nnodes * per_node if nnodes is not None and per_node is not None else None,
        local_rank=0,
        node_rank=node,
        nnodes=nnodes,
        nproc_per_node=per_node,
        master_addr=env.get("PET_MASTER_ADDR", ""),
        master_port=_int(env, "PET_MASTER_PORT") or TRAINER_MASTER_PORT,
    )


SOURCES: tuple[Callable[[Mapping[str, str]], Topology | None], ...] = (
    from_torchrun,  # a process torchrun launched: its own values win
    from_training_operator,  # sets PET_* too, so it is asked before Trainer v2
    from_trainer,
)


def topology(env: Mapping[str, str]) -> Topology | None:
    """This process's place in the job, from the first source that recognises the
    environment; None outside any of them (a single process)."""
    for source in SOURCES:
        found = source(env)
        if found is not None:
            return found
    return None
