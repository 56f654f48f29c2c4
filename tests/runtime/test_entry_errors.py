"""The runtime's entry points turn a bad environment or location into its own typed
error, one line, at ``from_env`` where possible rather than at the first checkpoint
hours later (issue 14); a store that turns bad later is a CheckpointError, not a raw
OSError."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlkube.runtime import (
    CheckpointConfigError,
    Checkpointer,
    CheckpointError,
    CheckpointLoadError,
    LocalStore,
)

from .jsonstate import Json


def _from_env(env: dict[str, str]) -> Checkpointer:
    return Checkpointer.from_env(env, handle_sigterm=False, serializer=Json())


def test_the_premise_a_directory_to_be_made_is_fine(tmp_path: Path) -> None:
    with _from_env({"MLKUBE_CHECKPOINT_DIR": str(tmp_path / "new")}) as ckpt:
        assert ckpt.resume() is None
        ckpt.save(1, lambda: {"a": 1})
    assert (tmp_path / "new").is_dir()


@pytest.mark.parametrize(
    ("where", "message"),
    [
        ("a-file", "not a directory, cannot hold checkpoints"),
        ("a-file/below", "cannot be a checkpoint directory: Not a directory"),
        ("loop", "cannot be a checkpoint directory: Too many levels of symbolic links"),
        ("nul\x00byte", "cannot be a checkpoint directory: embedded null byte"),
    ],
)
def test_a_directory_that_cannot_hold_checkpoints(tmp_path: Path, where: str, message: str) -> None:
    (tmp_path / "a-file").write_text("x")
    (tmp_path / "loop").symlink_to(tmp_path / "loop")
    with pytest.raises(CheckpointConfigError, match=message):
        _from_env({"MLKUBE_CHECKPOINT_DIR": str(tmp_path / where)})


def test_an_empty_file_uri() -> None:
    with pytest.raises(CheckpointConfigError, match="an empty checkpoint directory"):
        _from_env({"MLKUBE_CHECKPOINT_URI": "file://"})


@pytest.mark.parametrize("raw", ["nan", "inf", "-inf", "1e400", "ten", "-5"])
def test_an_interval_that_is_not_a_finite_number_of_seconds(tmp_path: Path, raw: str) -> None:
    env = {"MLKUBE_CHECKPOINT_DIR": str(tmp_path), "MLKUBE_CHECKPOINT_INTERVAL_SECONDS": raw}
    with pytest.raises(CheckpointConfigError, match="MLKUBE_CHECKPOINT_INTERVAL_SECONDS="):
        _from_env(env)


def test_a_huge_value_is_clipped_in_the_message() -> None:
    with pytest.raises(CheckpointConfigError) as caught:
        _from_env({"MLKUBE_CHECKPOINT_URI": "gs://" + "b" * 100_000})
    assert len(str(caught.value)) < 500
    assert "\n" not in str(caught.value)


def test_a_symlink_loop_in_the_store_is_a_checkpoint_error(tmp_path: Path) -> None:
    """It used to escape resume() as a bare OSError from listing the directory."""
    (tmp_path / "step-000000000001.ckpt").symlink_to(tmp_path / "step-000000000001.ckpt")
    with pytest.raises(CheckpointError):
        LocalStore(tmp_path).names()
    with (
        _from_env({"MLKUBE_CHECKPOINT_DIR": str(tmp_path)}) as ckpt,
        pytest.raises(CheckpointLoadError, match="Too many levels of symbolic links"),
    ):
        ckpt.resume()


def test_an_s3_configuration_botocore_refuses(monkeypatch: pytest.MonkeyPatch) -> None:
    """A region botocore cannot use: a config error at from_env, not botocore's own."""
    monkeypatch.setenv("AWS_DEFAULT_REGION", "not a region!")
    with pytest.raises(CheckpointConfigError, match="cannot make an S3 client"):
        _from_env({"MLKUBE_CHECKPOINT_URI": "s3://bucket/run"})
