"""RNG state survives the checkpoint's own serializer (``weights_only=True``)."""

from __future__ import annotations

import random

import numpy as np
import torch

from mlkube.runtime import TorchSerializer, rng_state, set_rng_state


def _draw() -> tuple[float, float, list[float]]:
    return random.random(), float(np.random.rand()), torch.rand(3).tolist()


def test_rng_state_round_trip() -> None:
    random.seed(1)
    np.random.seed(2)
    torch.manual_seed(3)
    serializer = TorchSerializer()
    saved = serializer.dumps({"rng": rng_state()})
    expected = _draw()
    _draw()
    set_rng_state(serializer.loads(saved)["rng"])
    assert _draw() == expected
