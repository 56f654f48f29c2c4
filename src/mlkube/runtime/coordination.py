"""Agreement between ranks: one tiny all_reduce(MAX) per check, so every rank decides
to checkpoint (or stop) at the same step, whatever each one saw on its own.

A process group is used if torch.distributed has one; otherwise the process is alone.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any, Protocol


class Coordinator(Protocol):
    @property
    def rank(self) -> int: ...

    @property
    def world_size(self) -> int: ...

    def max(self, values: Sequence[int]) -> list[int]:
        """Element-wise maximum over ranks: any rank's 1 is every rank's 1."""
        ...

    def gather(self, values: Sequence[int]) -> list[list[int]]:
        """Every rank's ``values`` (of one length on all ranks), by rank."""
        ...


class SingleProcess:
    """No process group: this process decides alone."""

    rank = 0
    world_size = 1

    def max(self, values: Sequence[int]) -> list[int]:
        return list(values)

    def gather(self, values: Sequence[int]) -> list[list[int]]:
        return [list(values)]


class TorchDistributed:
    """A torch.distributed group, any backend; NCCL needs its tensors on the GPU."""

    def __init__(self, group: Any = None, device: Any = None) -> None:
        import torch  # noqa: PLC0415
        import torch.distributed as dist  # noqa: PLC0415

        self._torch, self._dist, self._group = torch, dist, group
        self._rank = dist.get_rank(group)
        self._world_size = dist.get_world_size(group)
        if device is None and dist.get_backend(group) == "nccl":
            device = torch.device("cuda", torch.cuda.current_device())
        self._device = device if device is not None else torch.device("cpu")

    @property
    def rank(self) -> int:
        return self._rank

    @property
    def world_size(self) -> int:
        return self._world_size

    def max(self, values: Sequence[int]) -> list[int]:
        tensor = self._tensor(values)
        self._dist.all_reduce(tensor, op=self._dist.ReduceOp.MAX, group=self._group)
        return [int(v) for v in tensor.tolist()]

    def gather(self, values: Sequence[int]) -> list[list[int]]:
        tensor = self._tensor(values)
        out = [self._torch.empty_like(tensor) for _ in range(self._world_size)]
        self._dist.all_gather(out, tensor, group=self._group)
        return [[int(v) for v in t.tolist()] for t in out]

    def _tensor(self, values: Sequence[int]) -> Any:
        return self._torch.tensor(list(values), dtype=self._torch.int64, device=self._device)


def detect(group: Any = None, device: Any = None) -> Coordinator:
    """The process group if there is one. A process that never imported torch has none."""
    if "torch" not in sys.modules:
        return SingleProcess()
    import torch.distributed as dist  # noqa: PLC0415

    if dist.is_available() and dist.is_initialized():
        return TorchDistributed(group, device)
    return SingleProcess()
