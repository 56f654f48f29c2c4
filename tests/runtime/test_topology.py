"""Rank, world size and master from each launcher's environment. The values imitate
what each one sets: torchrun (torch/distributed/elastic/agent/server/api.py), Kubeflow
Trainer v2.3.0's torch plugin (pkg/runtime/framework/plugins/torch/torch.go) and the
Training Operator v1.9.4 (pkg/controller.v1/pytorch/envvar.go, master.go)."""

from __future__ import annotations

from mlkube.runtime.topology import (
    Topology,
    from_torchrun,
    from_trainer,
    from_training_operator,
    topology,
)

# TrainJob "llama" with numNodes 4, numProcPerNode 8: pod llama-node-0-2-xxxxx.
TRAINER = {
    "PET_NNODES": "4",
    "PET_NPROC_PER_NODE": "8",
    "PET_NODE_RANK": "2",  # fieldRef: the Job's completion-index annotation
    "PET_MASTER_ADDR": "llama-node-0-0.llama",
    "PET_MASTER_PORT": "29500",
}
# PyTorchJob "llama", Master + 3 Workers, nprocPerNode 8: the pod llama-worker-1.
OPERATOR = {
    "PYTHONUNBUFFERED": "1",
    "MASTER_PORT": "23456",
    "PET_MASTER_PORT": "23456",
    "MASTER_ADDR": "llama-master-0",
    "PET_MASTER_ADDR": "llama-master-0",
    "WORLD_SIZE": "32",
    "RANK": "2",
    "PET_NODE_RANK": "2",
    "PET_NPROC_PER_NODE": "8",
    "PET_NNODES": "4",
}
# What torchrun adds for its local rank 3 on node 2 of 4, 8 per node.
TORCHRUN = {
    "RANK": "19",
    "WORLD_SIZE": "32",
    "LOCAL_RANK": "3",
    "LOCAL_WORLD_SIZE": "8",
    "GROUP_RANK": "2",
    "ROLE_RANK": "19",
    "MASTER_ADDR": "llama-node-0-0.llama",
    "MASTER_PORT": "29500",
    "TORCHELASTIC_RUN_ID": "none",
}


def test_trainer_v2_pod() -> None:
    assert from_trainer(TRAINER) == Topology(
        source="trainer", rank=16, world_size=32, local_rank=0, node_rank=2, nnodes=4,
        nproc_per_node=8, master_addr="llama-node-0-0.llama", master_port=29500,
    )  # fmt: skip
    assert topology(TRAINER) == from_trainer(TRAINER)


def test_trainer_v2_auto_procs_leave_the_world_size_to_torchrun() -> None:
    found = from_trainer({**TRAINER, "PET_NPROC_PER_NODE": "auto"})
    assert found is not None
    assert (found.rank, found.world_size, found.nproc_per_node) == (None, None, None)
    assert found.node_rank == 2 and found.nnodes == 4


def test_trainer_v2_one_process_per_node() -> None:
    found = from_trainer({**TRAINER, "PET_NPROC_PER_NODE": "1", "PET_NODE_RANK": "3"})
    assert found is not None and (found.rank, found.world_size) == (3, 4)


def test_training_operator_pod() -> None:
    found = from_training_operator(OPERATOR)
    assert found == Topology(
        source="training-operator", rank=16, world_size=32, local_rank=0, node_rank=2,
        nnodes=4, nproc_per_node=8, master_addr="llama-master-0", master_port=23456,
    )  # fmt: skip
    # It sets PET_* too, but it is recognised as itself.
    assert topology(OPERATOR) == found


def test_training_operator_without_nproc_is_one_process_per_pod() -> None:
    env = {k: v for k, v in OPERATOR.items() if k != "PET_NPROC_PER_NODE"}
    found = from_training_operator({**env, "WORLD_SIZE": "4"})
    assert found is not None and (found.rank, found.world_size, found.nnodes) == (2, 4, 4)


def test_torchrun_process_takes_precedence_over_the_pods_environment() -> None:
    for pod in (TRAINER, OPERATOR):
        found = topology({**pod, **TORCHRUN})
        assert found == Topology(
            source="torchrun", rank=19, world_size=32, local_rank=3, node_rank=2,
            nnodes=4, nproc_per_node=8, master_addr="llama-node-0-0.llama",
            master_port=29500,
        )  # fmt: skip


def test_torchrun_needs_its_own_markers() -> None:
    assert from_torchrun({"RANK": "1", "WORLD_SIZE": "2"}) is None
    assert from_torchrun({**TORCHRUN, "RANK": "32"}) is None  # rank outside the world


def test_nothing_recognised_is_a_single_process() -> None:
    assert topology({}) is None
    assert topology({"PET_NODE_RANK": "x", "PET_NNODES": "2"}) is None
    assert from_trainer(OPERATOR) is not None  # Trainer's reader alone would accept it


def test_elastic_range_has_no_node_count() -> None:
    found = from_trainer({**TRAINER, "PET_NNODES": "1:4"})
    assert found is not None and found.nnodes is None and found.world_size is None
