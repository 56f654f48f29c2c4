"""State to bytes and back. The protocol keeps the store and manifest layer torch-free;
torch is imported the first time a checkpoint is actually written or read."""

from __future__ import annotations

import io
from collections.abc import Mapping
from typing import Any, Protocol


class Serializer(Protocol):
    def dumps(self, state: Mapping[str, Any]) -> bytes: ...

    def loads(self, data: bytes) -> dict[str, Any]: ...


class TorchSerializer:
    """``torch.save`` / ``torch.load``.

    ``weights_only=True`` by default: a checkpoint in a shared bucket is input, and
    unpickling arbitrary objects from it would run arbitrary code. ``map_location="cpu"``
    by default, so every rank does not load rank 0's tensors onto rank 0's GPU;
    ``load_state_dict`` copies them to wherever the model lives.
    """

    def __init__(self, *, map_location: Any = "cpu", weights_only: bool = True) -> None:
        self.map_location = map_location
        self.weights_only = weights_only

    def dumps(self, state: Mapping[str, Any]) -> bytes:
        import torch  # noqa: PLC0415 - the runtime's core does not need torch

        buffer = io.BytesIO()
        torch.save(dict(state), buffer)
        return buffer.getvalue()

    def loads(self, data: bytes) -> dict[str, Any]:
        import torch  # noqa: PLC0415

        state = torch.load(
            io.BytesIO(data), map_location=self.map_location, weights_only=self.weights_only
        )
        if not isinstance(state, dict):
            raise TypeError(f"checkpoint holds a {type(state).__name__}, not a dict")
        return state
