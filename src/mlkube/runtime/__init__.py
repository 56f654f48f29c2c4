"""mlkube.runtime: the in-container half of spot-preemption checkpoints.

    from mlkube.runtime import Checkpointer

    ckpt = Checkpointer.from_env()
    state = ckpt.resume()
    ...
    ckpt.step(step, lambda: {"model": model.state_dict(), "optim": opt.state_dict()})
    if ckpt.should_stop:
        raise SystemExit(EXIT_PREEMPTED)

Importing this package does not import torch (see docs/runtime.md).
"""

from __future__ import annotations

from mlkube.runtime.checkpointer import EXIT_PREEMPTED, Checkpointer
from mlkube.runtime.errors import (
    CheckpointConfigError,
    CheckpointError,
    CheckpointLoadError,
    CheckpointStoreError,
    CheckpointWriteError,
    CorruptCheckpointError,
    RankMismatchError,
)
from mlkube.runtime.manifest import Manifest
from mlkube.runtime.podinfo import REQUEST_ANNOTATION
from mlkube.runtime.rng import rng_state, set_rng_state
from mlkube.runtime.serialization import Serializer, TorchSerializer
from mlkube.runtime.storage import LocalStore, S3Store, Store, open_store
from mlkube.runtime.topology import Topology, topology

__all__ = [
    "EXIT_PREEMPTED",
    "REQUEST_ANNOTATION",
    "CheckpointConfigError",
    "CheckpointError",
    "CheckpointLoadError",
    "CheckpointStoreError",
    "CheckpointWriteError",
    "Checkpointer",
    "CorruptCheckpointError",
    "LocalStore",
    "Manifest",
    "RankMismatchError",
    "S3Store",
    "Serializer",
    "Store",
    "Topology",
    "TorchSerializer",
    "open_store",
    "rng_state",
    "set_rng_state",
    "topology",
]
