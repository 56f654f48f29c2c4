"""The manifest: the small JSON object that makes a checkpoint exist.

It is written after the data and names the data's size and sha256, so a checkpoint
exists only if its manifest does, and is whole only if the data still matches it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, TypeVar

_T = TypeVar("_T")

FORMAT = "mlkube-checkpoint/1"
_NAME = re.compile(r"^step-(\d{12})\.(json|ckpt)$")


def data_name(step: int) -> str:
    return f"step-{step:012d}.ckpt"


def manifest_name(step: int) -> str:
    return f"step-{step:012d}.json"


def parse_name(name: str) -> tuple[int, str] | None:
    """``(step, "json" | "ckpt")`` for a checkpoint object's name, None for anything else."""
    match = _NAME.match(name)
    return (int(match.group(1)), match.group(2)) if match else None


@dataclass(frozen=True, slots=True)
class Manifest:
    step: int
    data: str
    size: int
    sha256: str
    time: str
    # Checkpoint requests answered by this checkpoint or an earlier one of the run, so a
    # restarted process does not answer them again. Newest last.
    requests: tuple[str, ...] = ()
    world_size: int = 1

    def to_json(self) -> bytes:
        body = {
            "format": FORMAT,
            "step": self.step,
            "data": self.data,
            "size": self.size,
            "sha256": self.sha256,
            "time": self.time,
            "requests": list(self.requests),
            "world_size": self.world_size,
        }
        return (json.dumps(body, indent=2) + "\n").encode()

    @classmethod
    def from_json(cls, raw: bytes) -> Manifest:
        """Raises ValueError for anything but a manifest this version wrote."""
        try:
            body: Any = json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ValueError(f"manifest is not JSON ({exc})") from exc
        if not isinstance(body, dict) or body.get("format") != FORMAT:
            raise ValueError(f"manifest format is not {FORMAT}")
        try:
            manifest = cls(
                step=_typed(body, "step", int),
                data=_typed(body, "data", str),
                size=_typed(body, "size", int),
                sha256=_typed(body, "sha256", str),
                time=_typed(body, "time", str),
                requests=tuple(str(r) for r in _typed(body, "requests", list)),
                world_size=_typed(body, "world_size", int),
            )
        except KeyError as exc:
            raise ValueError(f"manifest has no {exc}") from exc
        if parse_name(manifest.data) != (manifest.step, "ckpt"):
            raise ValueError(f"manifest names data {manifest.data!r} for step {manifest.step}")
        return manifest


def _typed(body: dict[str, Any], key: str, kind: type[_T]) -> _T:
    value = body[key]
    if not isinstance(value, kind) or isinstance(value, bool):
        raise ValueError(f"manifest field {key!r} is not {kind.__name__}")
    return value
