"""The errors mlkube.runtime raises: each is one line, and each one is raised on every
rank alike, so a job never leaves some ranks waiting in a collective for the others."""

from __future__ import annotations

from mlkube.errors import MlkubeError
from mlkube.messages import one_line


class CheckpointError(MlkubeError):
    """Base class of the runtime's errors. The message is made one printable line, with
    overlong values (a 100 KB URI in the environment) clipped: it goes to the job's log."""

    def __init__(self, message: str) -> None:
        super().__init__(one_line(message))


class CheckpointConfigError(CheckpointError):
    """The checkpoint location or settings cannot be used (bad environment, missing extra)."""


class CheckpointStoreError(CheckpointError):
    """The store failed for another reason than a missing object (unreachable, full, denied)."""


class CorruptCheckpointError(CheckpointError):
    """A checkpoint that resume must not accept: no manifest, or data that does not match it."""


class CheckpointWriteError(CheckpointError):
    """Rank 0 could not write a checkpoint; no rank goes on as if it had."""


class CheckpointLoadError(CheckpointError):
    """The chosen checkpoint could not be loaded on some rank."""


class RankMismatchError(CheckpointError):
    """Ranks called ``step()`` with different step numbers: they would checkpoint apart."""
