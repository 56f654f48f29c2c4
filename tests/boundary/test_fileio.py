"""The one atomic write: the old content or the new, and no temporary file left over."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlkube.fileio import write_atomic


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
