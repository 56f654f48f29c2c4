"""The one atomic write (a file), and a directory made once: the old content or the new,
and no temporary left over."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlkube.fileio import create_directory, write_atomic


def test_replaces_the_content_and_leaves_nothing_else(tmp_path: Path) -> None:
    target = tmp_path / "state.json"
    target.write_text("old")
    write_atomic(target, "new")
    assert target.read_text() == "new"
    assert [p.name for p in tmp_path.iterdir()] == ["state.json"]


def test_durable_with_a_named_temporary(tmp_path: Path) -> None:
    write_atomic(tmp_path / "c.ckpt", b"\x00bytes", durable=True, tmp=tmp_path / "c.ckpt.tmp-1")
    assert (tmp_path / "c.ckpt").read_bytes() == b"\x00bytes"
    assert [p.name for p in tmp_path.iterdir()] == ["c.ckpt"]


@pytest.mark.parametrize("named", [False, True])
def test_a_failed_rename_removes_the_temporary(tmp_path: Path, named: bool) -> None:
    """The target is a non-empty directory, so the final rename fails (EISDIR)."""
    target = tmp_path / "taken"
    target.mkdir()
    (target / "keep").write_text("mine")
    tmp = tmp_path / "taken.tmp-7" if named else None
    with pytest.raises(IsADirectoryError):
        write_atomic(target, "new", tmp=tmp)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["taken"]
    assert (target / "keep").read_text() == "mine"


def test_a_directory_is_made_once_and_the_first_writer_wins(tmp_path: Path) -> None:
    """Two writers at once (two `cluster up` making the shared PKI): each fills a
    staging directory of its own; the second finds the first's and keeps it."""
    target = tmp_path / "pki"

    def second(staging: Path) -> None:
        (staging / "key").write_text("second")
        assert create_directory(target, lambda s: (s / "key").write_text("first"))

    assert not create_directory(target, second)
    assert (target / "key").read_text() == "first"
    assert [p.name for p in tmp_path.iterdir()] == ["pki"]


def test_an_empty_directory_is_replaced_and_a_failed_fill_leaves_nothing(tmp_path: Path) -> None:
    target = tmp_path / "made"
    target.mkdir()
    assert create_directory(target, lambda s: (s / "a").write_text("1"))
    assert (target / "a").read_text() == "1"

    def broken(staging: Path) -> None:
        (staging / "half").write_text("x")
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError, match="No space"):
        create_directory(tmp_path / "other", broken)
    assert [p.name for p in tmp_path.iterdir()] == ["made"]
