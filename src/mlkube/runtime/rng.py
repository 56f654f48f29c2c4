"""Random-number-generator state, for a resume that continues the same random stream.

These capture *this process's* generators. In a multi-rank job only rank 0 writes, so
only rank 0's state would be saved: there, derive randomness from ``(seed, step, rank)``
instead (a ``torch.Generator`` seeded per step), which needs no saved state at all.
"""

from __future__ import annotations

import random
import sys
from typing import Any, cast


def rng_state() -> dict[str, Any]:
    """Python's, NumPy's (if imported), torch's CPU and (if initialised) CUDA generators.

    Only types that ``torch.load(weights_only=True)`` accepts: tuples, ints, tensors.
    """
    import torch  # noqa: PLC0415

    state: dict[str, Any] = {"python": random.getstate(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():  # type: ignore[no-untyped-call]
        state["cuda"] = torch.cuda.get_rng_state_all()
    if "numpy" in sys.modules:
        import numpy as np  # noqa: PLC0415

        raw = np.random.get_state(legacy=True)
        name, keys, pos, has_gauss, cached = cast(tuple[str, Any, int, int, float], raw)
        keys_tensor = torch.from_numpy(keys.astype(np.int64))
        state["numpy"] = (str(name), keys_tensor, int(pos), int(has_gauss), float(cached))
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore what ``rng_state`` captured."""
    import torch  # noqa: PLC0415

    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    if "numpy" in state:
        import numpy as np  # noqa: PLC0415

        name, keys, pos, has_gauss, cached = state["numpy"]
        np.random.set_state((name, keys.numpy().astype(np.uint32), pos, has_gauss, cached))
