"""``Checkpointer``: when to checkpoint (request, interval, SIGTERM), agreed by all ranks,
written by rank 0, and where to resume from."""

from __future__ import annotations

import logging
import math
import os
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

from mlkube.runtime import checkpoints
from mlkube.runtime.coordination import Coordinator, SingleProcess, detect
from mlkube.runtime.errors import (
    CheckpointConfigError,
    CheckpointError,
    CheckpointLoadError,
    CheckpointWriteError,
    RankMismatchError,
)
from mlkube.runtime.manifest import Manifest
from mlkube.runtime.podinfo import DEFAULT_PODINFO_DIR, RequestWatcher
from mlkube.runtime.serialization import Serializer, TorchSerializer
from mlkube.runtime.signals import SigtermFlag
from mlkube.runtime.storage import Store, open_store

log = logging.getLogger(__name__)

# Exit code after a SIGTERM checkpoint: 128 + SIGTERM, what a process killed by the
# signal reports. Kubeflow's restartPolicy ExitCode retries 128-255 and fails on 1-127.
EXIT_PREEMPTED = 143

StateFn = Callable[[], Mapping[str, Any]]

_REQUESTS_KEPT = 16
_ID_SLOTS = 64  # request ids are at most 63 characters: one int per character, zero-padded


class Checkpointer:
    """Checkpoints a training loop when asked, periodically, and on SIGTERM.

    Every rank constructs one and calls ``step()`` with the same step numbers; the ranks
    agree at each check, so they all checkpoint at the same step. Rank 0 alone calls the
    state function and writes; the others wait until the checkpoint is durable.
    """

    def __init__(
        self,
        *,
        dir: str | os.PathLike[str] | None = None,
        uri: str | None = None,
        store: Store | None = None,
        interval_seconds: float | None = None,
        keep: int = 3,
        check_every: int = 1,
        podinfo_dir: str | os.PathLike[str] | None = DEFAULT_PODINFO_DIR,
        handle_sigterm: bool = True,
        serializer: Serializer | None = None,
        group: Any = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if store is None:
            store = open_store(dir=dir, uri=uri)
        elif dir is not None or uri is not None:
            raise CheckpointConfigError("give a store, or a directory or URI, not both")
        if keep < 1:
            raise CheckpointConfigError(f"keep={keep}: keep at least one checkpoint")
        if check_every < 1:
            raise CheckpointConfigError(f"check_every={check_every}: check at least every step")
        if interval_seconds is not None and not 0 <= interval_seconds < math.inf:
            raise CheckpointConfigError(
                f"interval_seconds={interval_seconds}: a finite, non-negative number of seconds"
            )
        self.store = store
        self.keep = keep
        self.check_every = check_every
        self.interval_seconds = interval_seconds
        self._serializer: Serializer = serializer or TorchSerializer()
        self._group = group
        self._clock = clock
        self._since = clock()
        self._coordinator: Coordinator | None = None
        self._requests = RequestWatcher(podinfo_dir) if podinfo_dir is not None else None
        if podinfo_dir is not None and not Path(podinfo_dir).is_dir():
            log.info(
                "no %s yet: requests count once it appears; SIGTERM counts anyway", podinfo_dir
            )
        self._handled: list[str] = []
        self._sigterm = SigtermFlag()
        if handle_sigterm:
            self._sigterm.install()
        self._should_stop = False
        self._last_step: int | None = None

    @classmethod
    def from_env(
        cls,
        environ: Mapping[str, str] | None = None,
        *,
        keep: int = 3,
        check_every: int = 1,
        handle_sigterm: bool = True,
        serializer: Serializer | None = None,
        group: Any = None,
    ) -> Checkpointer:
        """From what mlkube renders into a training container: ``MLKUBE_CHECKPOINT_DIR``
        or ``MLKUBE_CHECKPOINT_URI``, ``MLKUBE_CHECKPOINT_INTERVAL_SECONDS``,
        ``MLKUBE_PODINFO_DIR``."""
        env = os.environ if environ is None else environ
        dir, uri = (
            env.get("MLKUBE_CHECKPOINT_DIR") or None,
            env.get("MLKUBE_CHECKPOINT_URI") or None,
        )
        if dir is None and uri is None:
            raise CheckpointConfigError(
                "no checkpoint location: set MLKUBE_CHECKPOINT_DIR or MLKUBE_CHECKPOINT_URI"
            )
        if dir is not None and uri is not None:
            raise CheckpointConfigError(
                "both MLKUBE_CHECKPOINT_DIR and MLKUBE_CHECKPOINT_URI are set: set one"
            )
        raw = env.get("MLKUBE_CHECKPOINT_INTERVAL_SECONDS", "").strip()
        try:
            interval = float(raw) if raw else None
        except ValueError:
            interval = math.nan
        if interval is not None and not 0 <= interval < math.inf:
            raise CheckpointConfigError(
                f"MLKUBE_CHECKPOINT_INTERVAL_SECONDS={raw!r} is not a number of seconds"
            )
        return cls(
            dir=dir,
            uri=uri,
            interval_seconds=interval,
            keep=keep,
            check_every=check_every,
            podinfo_dir=env.get("MLKUBE_PODINFO_DIR") or DEFAULT_PODINFO_DIR,
            handle_sigterm=handle_sigterm,
            serializer=serializer,
            group=group,
        )

    @property
    def should_stop(self) -> bool:
        """True after the checkpoint that SIGTERM (on any rank) asked for: exit with 143."""
        return self._should_stop

    @property
    def last_step(self) -> int | None:
        """The step of the newest durable checkpoint: resumed from, or written since."""
        return self._last_step

    @property
    def sigterm_received(self) -> bool:
        """This process got SIGTERM (the ranks act on it at the next check)."""
        return self._sigterm.is_set

    def resume(self) -> dict[str, Any] | None:
        """The state of the newest checkpoint that verifies, or None to start afresh.

        Collective: rank 0 chooses (and removes leftover temporary files), every rank
        loads that same checkpoint, so the store must be shared by all of them.
        """
        coordinator = self._coordinate()
        chosen: tuple[Manifest, bytes] | None = None
        failure = ""
        if coordinator.rank == 0:
            try:
                if removed := self.store.clean_partial():
                    log.info("removed leftovers of interrupted writes: %s", ", ".join(removed))
                chosen = checkpoints.newest(self.store)
            except CheckpointError as exc:
                failure = str(exc)
                log.error("cannot look for checkpoints: %s", exc)
        step, failed = coordinator.max([chosen[0].step if chosen else -1, 1 if failure else 0])
        if failed:
            raise CheckpointLoadError(failure or "rank 0 could not list the checkpoints")
        state: dict[str, Any] | None = None
        if step >= 0:
            requests: tuple[str, ...] = ()
            try:
                manifest, data = chosen if chosen else checkpoints.read(self.store, step)
                state, requests = self._serializer.loads(data), manifest.requests
            except Exception as exc:
                failure = f"step {step} on rank {coordinator.rank}: {exc}"
                log.error("cannot load checkpoint %s", failure)
            [failed] = coordinator.max([1 if failure else 0])
            if failed:
                raise CheckpointLoadError(failure or f"step {step}: another rank could not load it")
            self._handled = list(requests)
            self._last_step = step
            log.info("resumed from step %d", step)
        self._since = self._clock()
        return state

    def step(self, step: int, state: StateFn) -> bool:
        """Call after each training step, on every rank; True if a checkpoint was written.

        ``state`` is called on rank 0 only, and only when a checkpoint is due. Every
        ``check_every`` steps the ranks exchange one small tensor to agree on it.
        """
        if self._should_stop or step % self.check_every:
            return False
        request = self._requests.current() if self._requests else None
        if request in self._handled:
            request = None
        sigterm = self._sigterm.is_set
        due = self.interval_seconds is not None and (
            self._clock() - self._since >= self.interval_seconds
        )
        coordinator = self._coordinate()
        asked, interval, stop, high, low = coordinator.max(
            [request is not None, due, sigterm, step, -step]
        )
        if high != -low:
            raise RankMismatchError(
                f"ranks called step() at steps {-low} to {high}: call it on every rank, alike"
            )
        if not (asked or interval or stop):
            return False
        answered = self._gather_requests(request) if asked else []
        reason = "SIGTERM" if stop else (f"request {', '.join(answered)}" if asked else "interval")
        return self._checkpoint(step, state, reason, answered, stop=bool(stop))

    def save(self, step: int, state: StateFn) -> None:
        """Checkpoint now (collective), e.g. at the end of training; no-op if already saved."""
        if step != self._last_step:
            self._checkpoint(step, state, "save()", [], stop=False)

    def close(self) -> None:
        """Give SIGTERM back its previous handler and release the store."""
        self._sigterm.uninstall()
        self.store.close()

    def __enter__(self) -> Checkpointer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _coordinate(self) -> Coordinator:
        # Looked up until a process group shows up, so a Checkpointer may be built (and
        # even resume) before init_process_group.
        if self._coordinator is None or isinstance(self._coordinator, SingleProcess):
            self._coordinator = detect(self._group)
        return self._coordinator

    def _gather_requests(self, request: str | None) -> list[str]:
        """The ids every rank saw: each rank then knows them all as answered, even the
        ids only another rank saw so far."""
        codes = [ord(c) for c in request or ""]
        rows = self._coordinate().gather(codes + [0] * (_ID_SLOTS - len(codes)))
        ids = ["".join(chr(c) for c in row if c) for row in rows]
        return sorted({i for i in ids if i})

    def _checkpoint(
        self, step: int, state: StateFn, reason: str, answered: list[str], *, stop: bool
    ) -> bool:
        coordinator = self._coordinate()
        handled = [r for r in self._handled if r not in answered] + answered
        handled = handled[-_REQUESTS_KEPT:]
        failure = ""
        started = time.monotonic()
        if coordinator.rank == 0:
            try:
                data = self._serializer.dumps(state())
                manifest = checkpoints.write(
                    self.store, step, data, requests=handled, world_size=coordinator.world_size
                )
            except Exception as exc:
                failure = f"{type(exc).__name__}: {exc}"
            else:
                log.info(
                    "checkpoint step %d (%s): %d bytes in %.2f s to %s",
                    step, reason, manifest.size, time.monotonic() - started, self.store.location,
                )  # fmt: skip
                self._prune()
        # The all_reduce is the barrier: no rank moves on before the manifest is durable.
        [failed] = coordinator.max([1 if failure else 0])
        if failed:
            message = f"checkpoint at step {step} ({reason}) failed: {failure or 'see rank 0'}"
            if stop:
                # Exiting 143 now still restarts the job, from the previous checkpoint.
                log.error("%s; stopping anyway", message)
                self._should_stop = True
                return False
            raise CheckpointWriteError(message)
        self._handled = handled
        self._last_step = step
        self._since = self._clock()
        if stop:
            self._should_stop = True
        return True

    def _prune(self) -> None:
        try:
            if deleted := checkpoints.prune(self.store, self.keep):
                log.info("pruned %s", ", ".join(deleted))
        except CheckpointError as exc:
            log.warning("could not prune old checkpoints: %s", exc)
