"""The write protocol and resume order over a directory, without torch."""

from __future__ import annotations

import hashlib
import json
import logging
import os
from pathlib import Path

import pytest

from mlkube.runtime import checkpoints
from mlkube.runtime.errors import CheckpointConfigError, CorruptCheckpointError
from mlkube.runtime.manifest import Manifest, data_name, manifest_name
from mlkube.runtime.storage import LocalStore, Store, open_store


class Recording(LocalStore):
    """A LocalStore that remembers the order of its writes and deletes."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.ops: list[str] = []

    def put(self, name: str, data: bytes) -> None:
        super().put(name, data)
        self.ops.append(f"put {name}")

    def delete(self, name: str) -> None:
        super().delete(name)
        self.ops.append(f"delete {name}")


def _payload(step: int) -> bytes:
    return f"state of step {step} ".encode() * 100


def _write_steps(store: Store, *steps: int) -> None:
    for step in steps:
        checkpoints.write(store, step, _payload(step))


def test_put_is_atomic_and_durable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    synced: list[int] = []
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        synced.append(fd)
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    store = LocalStore(tmp_path / "ckpt")
    store.put("a", b"x" * 10_000)
    assert (tmp_path / "ckpt" / "a").read_bytes() == b"x" * 10_000
    assert os.listdir(tmp_path / "ckpt") == ["a"]
    assert len(synced) == 2  # the file, then the directory holding the new name


def test_failed_put_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", broken)
    store = LocalStore(tmp_path)
    with pytest.raises(Exception, match="No space left on device"):
        store.put("a", b"x")
    assert os.listdir(tmp_path) == []


def test_manifest_is_written_last_and_describes_the_data(tmp_path: Path) -> None:
    store = Recording(tmp_path)
    manifest = checkpoints.write(store, 7, b"payload", requests=["r-1"], world_size=4)
    assert store.ops[1:] == [f"put {data_name(7)}", f"put {manifest_name(7)}"]
    on_disk = json.loads((tmp_path / manifest_name(7)).read_text())
    assert on_disk["step"] == 7
    assert on_disk["size"] == 7
    assert on_disk["sha256"] == hashlib.sha256(b"payload").hexdigest()
    assert on_disk["requests"] == ["r-1"]
    assert on_disk["world_size"] == 4
    assert on_disk["time"].endswith("Z")
    assert Manifest.from_json((tmp_path / manifest_name(7)).read_bytes()) == manifest


def test_resume_takes_the_newest(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    _write_steps(store, 10, 30, 20)
    found = checkpoints.newest(store)
    assert found is not None
    assert found[0].step == 30
    assert found[1] == _payload(30)


def test_resume_skips_truncated_corrupt_and_manifestless(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    store = LocalStore(tmp_path)
    _write_steps(store, 10, 20, 30, 40)
    # 40: the data lost its tail (a torn copy); 30: one bit flipped; 50: a write that
    # died between data and manifest; plus a temporary file of a write that died earlier.
    with open(tmp_path / data_name(40), "r+b") as f:
        f.truncate(100)
    blob = bytearray((tmp_path / data_name(30)).read_bytes())
    blob[5] ^= 1
    (tmp_path / data_name(30)).write_bytes(bytes(blob))
    (tmp_path / data_name(50)).write_bytes(_payload(50))
    (tmp_path / f"{data_name(60)}.tmp-1234").write_bytes(b"partial")
    found = checkpoints.newest(store)
    assert found is not None
    assert found[0].step == 20
    messages = [r.getMessage() for r in caplog.records]
    assert any("step 40" in m and "has 100 bytes" in m for m in messages)
    assert any("step 30" in m and "sha256" in m for m in messages)
    assert any(data_name(50) in m and "no manifest" in m for m in messages)
    assert not any(".tmp-" in m for m in messages)  # temporary files are not even listed
    assert store.clean_partial() == [f"{data_name(60)}.tmp-1234"]
    assert not list(tmp_path.glob("*.tmp-*"))


def test_bad_manifests_are_skipped(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    _write_steps(store, 1, 2, 3)
    (tmp_path / manifest_name(3)).write_text("{not json")
    body = json.loads((tmp_path / manifest_name(2)).read_text())
    body["step"] = 9
    (tmp_path / manifest_name(2)).write_text(json.dumps(body))
    found = checkpoints.newest(store)
    assert found is not None
    assert found[0].step == 1
    with pytest.raises(CorruptCheckpointError, match="not JSON"):
        checkpoints.read(store, 3)
    with pytest.raises(CorruptCheckpointError, match="no manifest"):
        checkpoints.read(store, 4)


def test_no_checkpoint_at_all(tmp_path: Path) -> None:
    assert checkpoints.newest(LocalStore(tmp_path / "never-created")) is None


def test_rewriting_a_step_drops_its_old_manifest_first(tmp_path: Path) -> None:
    store = Recording(tmp_path)
    checkpoints.write(store, 5, b"first run")
    store.ops.clear()
    checkpoints.write(store, 5, b"second run")
    assert store.ops == [
        f"delete {manifest_name(5)}",
        f"put {data_name(5)}",
        f"put {manifest_name(5)}",
    ]
    assert checkpoints.read(store, 5)[1] == b"second run"


def test_keep_k_prunes_older_checkpoints_and_orphans(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    _write_steps(store, 1, 2, 3)
    (tmp_path / data_name(0)).write_bytes(b"orphan")
    (tmp_path / "notes.txt").write_text("not ours")
    assert checkpoints.prune(store, keep=3) == [data_name(0)]
    _write_steps(store, 4, 5)
    deleted = checkpoints.prune(store, keep=3)
    assert deleted == [manifest_name(1), manifest_name(2), data_name(1), data_name(2)]
    assert checkpoints.steps(store) == [5, 4, 3]
    assert sorted(os.listdir(tmp_path)) == sorted(
        [*(data_name(s) for s in (3, 4, 5)), *(manifest_name(s) for s in (3, 4, 5)), "notes.txt"]
    )


def test_open_store(tmp_path: Path) -> None:
    assert isinstance(open_store(dir=tmp_path), LocalStore)
    local = open_store(uri=f"file://{tmp_path}")
    assert isinstance(local, LocalStore)
    assert local.path == tmp_path
    with pytest.raises(CheckpointConfigError, match="gs:// checkpoints are not supported"):
        open_store(uri="gs://bucket/run")
    with pytest.raises(CheckpointConfigError, match="exactly one"):
        open_store(dir=tmp_path, uri="s3://b/p")
