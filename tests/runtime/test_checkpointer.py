"""When the Checkpointer checkpoints, once per request, and how it stops; in one process,
with a JSON serializer: no torch."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from mlkube.runtime import (
    EXIT_PREEMPTED,
    REQUEST_ANNOTATION,
    CheckpointConfigError,
    Checkpointer,
    CheckpointWriteError,
    LocalStore,
    RankMismatchError,
    checkpoints,
)
from mlkube.runtime.manifest import manifest_name

from .jsonstate import Json
from .kubelet import project


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class BrokenStore(LocalStore):
    def put(self, name: str, data: bytes) -> None:
        raise OSError("bucket is gone")


class Peer:
    """Rank 0's view of a two-rank job whose other rank saw ``request`` and is at
    ``step + skew``."""

    rank = 0
    world_size = 2

    def __init__(self, request: str | None = None, skew: int = 0) -> None:
        self.request, self.skew = request, skew

    def max(self, values: Sequence[int]) -> list[int]:
        other = [0] * len(values)
        if len(values) == 5:
            step = values[3] + self.skew
            other = [int(self.request is not None), 0, 0, step, -step]
        return [max(a, b) for a, b in zip(values, other, strict=True)]

    def gather(self, values: Sequence[int]) -> list[list[int]]:
        codes = [ord(c) for c in self.request or ""]
        return [list(values), codes + [0] * (len(values) - len(codes))]


@pytest.fixture
def podinfo(tmp_path: Path) -> Path:
    return tmp_path / "podinfo"


@pytest.fixture
def make(tmp_path: Path, podinfo: Path) -> Iterator[Any]:
    made: list[Checkpointer] = []

    def make(**options: Any) -> Checkpointer:
        options.setdefault("dir", tmp_path / "ckpt")
        options.setdefault("podinfo_dir", podinfo)
        options.setdefault("serializer", Json())
        options.setdefault("handle_sigterm", False)
        ckpt = Checkpointer(**options)
        made.append(ckpt)
        return ckpt

    yield make
    for ckpt in made:
        ckpt.close()


def _state(step: int) -> Any:
    return lambda: {"step": step}


def test_nothing_to_resume_and_nothing_due(make: Any) -> None:
    ckpt = make()
    assert ckpt.resume() is None
    assert ckpt.last_step is None
    assert not any(ckpt.step(s, _state(s)) for s in range(1, 20))
    assert not ckpt.should_stop


def test_a_request_is_answered_once_even_after_a_restart(make: Any, podinfo: Path) -> None:
    ckpt = make()
    ckpt.resume()
    assert not ckpt.step(1, _state(1))
    project(podinfo, {REQUEST_ANNOTATION: "n-1a2b3c4d-5e6f"})
    assert ckpt.step(2, _state(2))
    assert not ckpt.step(3, _state(3))
    assert not ckpt.step(4, _state(4))
    project(podinfo, {REQUEST_ANNOTATION: "n-99"})
    assert ckpt.step(5, _state(5))
    assert ckpt.last_step == 5
    ckpt.close()

    # The container restarts in the same pod: the annotation is still there.
    again = make()
    assert again.resume() == {"step": 5}
    assert again.last_step == 5
    assert not again.step(6, _state(6))
    manifest = checkpoints.read(again.store, 5)[0]
    assert manifest.requests == ("n-1a2b3c4d-5e6f", "n-99")


def test_a_request_only_another_rank_saw_is_answered_and_remembered(
    make: Any, podinfo: Path
) -> None:
    ckpt = make()
    ckpt._coordinator = Peer(request="r-abc")
    assert ckpt.step(1, _state(1))
    assert checkpoints.read(ckpt.store, 1)[0].requests == ("r-abc",)
    # Now this rank sees the same id as well: it was answered already.
    project(podinfo, {REQUEST_ANNOTATION: "r-abc"})
    ckpt._coordinator = Peer()
    assert not ckpt.step(2, _state(2))


def test_ranks_at_different_steps_are_an_error(make: Any) -> None:
    ckpt = make()
    ckpt._coordinator = Peer(skew=1)
    with pytest.raises(RankMismatchError, match="steps 7 to 8"):
        ckpt.step(7, _state(7))


def test_interval_by_this_process_clock(make: Any) -> None:
    clock = Clock()
    ckpt = make(interval_seconds=60, clock=clock)
    ckpt.resume()
    clock.now += 59
    assert not ckpt.step(1, _state(1))
    clock.now += 1
    assert ckpt.step(2, _state(2))
    clock.now += 30
    assert not ckpt.step(3, _state(3))
    clock.now += 30
    assert ckpt.step(4, _state(4))


def test_check_every_k_steps(make: Any, podinfo: Path) -> None:
    ckpt = make(check_every=4)
    project(podinfo, {REQUEST_ANNOTATION: "r-1"})
    assert [s for s in range(1, 10) if ckpt.step(s, _state(s))] == [4]


def test_sigterm_checkpoints_then_stops(make: Any, podinfo: Path) -> None:
    before = signal.getsignal(signal.SIGTERM)
    ckpt = make(handle_sigterm=True)
    assert not ckpt.step(1, _state(1))
    os.kill(os.getpid(), signal.SIGTERM)
    assert ckpt.sigterm_received
    assert ckpt.step(2, _state(2))
    assert ckpt.should_stop
    assert EXIT_PREEMPTED == 128 + signal.SIGTERM
    project(podinfo, {REQUEST_ANNOTATION: "r-late"})
    assert not ckpt.step(3, _state(3))  # stopping: no more checkpoints
    assert checkpoints.steps(ckpt.store) == [2]
    ckpt.close()
    assert signal.getsignal(signal.SIGTERM) == before


def test_a_failed_write_raises_on_a_request(make: Any, tmp_path: Path, podinfo: Path) -> None:
    ckpt = make(dir=None, store=BrokenStore(tmp_path / "ckpt"))
    project(podinfo, {REQUEST_ANNOTATION: "r-1"})
    with pytest.raises(CheckpointWriteError, match=r"step 1 .* failed: .*bucket is gone"):
        ckpt.step(1, _state(1))


def test_a_failed_write_on_sigterm_still_stops(
    make: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    ckpt = make(dir=None, store=BrokenStore(tmp_path / "ckpt"), handle_sigterm=True)
    os.kill(os.getpid(), signal.SIGTERM)
    with caplog.at_level(logging.ERROR):
        assert not ckpt.step(1, _state(1))
    assert ckpt.should_stop
    assert "stopping anyway" in caplog.text


def test_keeps_the_last_k(make: Any) -> None:
    ckpt = make(interval_seconds=0, keep=2)
    for s in range(1, 6):
        assert ckpt.step(s, _state(s))
    assert checkpoints.steps(ckpt.store) == [5, 4]


def test_save_at_the_end(make: Any, tmp_path: Path) -> None:
    ckpt = make(interval_seconds=0)
    assert ckpt.step(3, _state(3))
    ckpt.save(3, _state(3))  # already durable: not written again
    ckpt.save(4, _state(4))
    assert checkpoints.steps(ckpt.store) == [4, 3]
    assert (tmp_path / "ckpt" / manifest_name(4)).exists()


def test_from_env(tmp_path: Path) -> None:
    env = {
        "MLKUBE_CHECKPOINT_DIR": str(tmp_path / "ckpt"),
        "MLKUBE_CHECKPOINT_INTERVAL_SECONDS": "900",
        "MLKUBE_PODINFO_DIR": str(tmp_path / "podinfo"),
    }
    with Checkpointer.from_env(env, handle_sigterm=False) as ckpt:
        assert ckpt.interval_seconds == 900
        assert ckpt.store.location == str(tmp_path / "ckpt")


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({}, "no checkpoint location"),
        ({"MLKUBE_CHECKPOINT_DIR": "/a", "MLKUBE_CHECKPOINT_URI": "s3://b"}, "set one"),
        (
            {"MLKUBE_CHECKPOINT_DIR": "/a", "MLKUBE_CHECKPOINT_INTERVAL_SECONDS": "15m"},
            "not a number",
        ),
        ({"MLKUBE_CHECKPOINT_URI": "az://container/run"}, "az:// checkpoints are not supported"),
    ],
)
def test_from_env_errors(env: dict[str, str], message: str) -> None:
    with pytest.raises(CheckpointConfigError, match=message):
        Checkpointer.from_env(env, handle_sigterm=False)


def test_the_core_does_not_import_torch() -> None:
    code = (
        "import sys, mlkube.runtime, mlkube.runtime.checkpoints; "
        "assert 'torch' not in sys.modules and 'boto3' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
