"""`render -o DIR` on a file system that refuses (issue 14): each failure is one line and
exit 2, nothing half-written is left, and the previous bundle is intact."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest

from mlkube.fileio import replace_directory
from mlkube.render.output import MARKER

from ..conftest import EXAMPLES
from .runner import run_cli
from .unprivileged import run_unprivileged


@pytest.fixture
def previous(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A bundle from an earlier render, which a failed render must leave as it was."""
    monkeypatch.chdir(tmp_path)
    result = run_cli("render", str(EXAMPLES / "platform.yaml"), "--output-dir", "bundle")
    assert result.code == 0, result.err
    return tmp_path / "bundle"


def _tree(path: Path) -> dict[str, str]:
    return {str(p.relative_to(path)): p.read_text() for p in sorted(path.rglob("*"))}


def _one_line(result_err: str) -> str:
    lines = result_err.splitlines()
    assert len(lines) == 1, result_err
    assert "Traceback" not in result_err
    return lines[0]


def test_a_parent_that_is_a_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    Path("notes").write_text("a file")
    for target in ("notes/out", "notes/a/b"):
        result = run_cli("render", str(EXAMPLES), "--output-dir", target)
        assert result.code == 2
        assert "notes is not a directory" in _one_line(result.err)
    assert Path("notes").read_text() == "a file"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes"]


@pytest.mark.parametrize("target", [".", "./", "..", "/"])
def test_the_working_directory_is_never_replaced(previous: Path, target: str) -> None:
    before = sorted(p.name for p in previous.parent.iterdir())
    result = run_cli("render", str(EXAMPLES), "--output-dir", target)
    assert result.code == 2
    assert "working directory" in _one_line(result.err)
    assert sorted(p.name for p in previous.parent.iterdir()) == before  # no ..old.* left


def test_an_empty_output_path(previous: Path) -> None:
    result = run_cli("render", str(EXAMPLES), "--output-dir", "")
    assert result.code == 2
    line = _one_line(result.err)
    assert "an empty path" in line and "mlkube: :" not in line


def test_a_directory_render_did_not_write_is_refused(tmp_path: Path) -> None:
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "x.yaml").write_text("kind: Mine\n")
    result = run_cli("render", str(EXAMPLES), "--output-dir", str(tmp_path / "mine"))
    assert result.code == 2 and "not written by mlkube render" in _one_line(result.err)
    assert (tmp_path / "mine" / "x.yaml").read_text() == "kind: Mine\n"


def test_a_render_replaces_its_own_earlier_bundle(previous: Path) -> None:
    before = _tree(previous)
    result = run_cli("render", str(EXAMPLES), "--output-dir", "bundle")
    assert result.code == 0, result.err
    after = _tree(previous)
    assert after["kustomization.yaml"].startswith(MARKER)
    assert len(after) > len(before)  # the platform alone, then every example
    assert sorted(p.name for p in previous.parent.iterdir()) == ["bundle"]


def _limited_file_size() -> None:  # in the child, before exec: as `ulimit -f 0`
    resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0))


def _render_with_no_file_size(*args: str, cwd: Path) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "mlkube", "render", str(EXAMPLES), *args],
        capture_output=True,
        cwd=cwd,
        preexec_fn=_limited_file_size,
        timeout=120,
        check=False,
    )


def test_a_file_size_limit_keeps_the_previous_bundle(previous: Path) -> None:
    """EFBIG: Python ignores SIGXFSZ, so the write fails with an OSError mid-bundle."""
    before = _tree(previous)
    proc = _render_with_no_file_size("--output-dir", "bundle", cwd=previous.parent)
    assert proc.returncode == 2
    assert "bundle: cannot write the bundle: File too large" in _one_line(proc.stderr.decode())
    assert _tree(previous) == before
    assert sorted(p.name for p in previous.parent.iterdir()) == ["bundle"]  # no staging left


def test_a_file_size_limit_on_standard_output(tmp_path: Path) -> None:
    with (tmp_path / "out.yaml").open("wb") as out:
        proc = subprocess.run(
            [sys.executable, "-m", "mlkube", "render", str(EXAMPLES)],
            stdout=out,
            stderr=subprocess.PIPE,
            preexec_fn=_limited_file_size,
            timeout=120,
            check=False,
        )
    assert proc.returncode == 2
    assert "<stdout>: File too large" in _one_line(proc.stderr.decode())


def test_an_unwritable_parent(shared_dir: Path) -> None:
    locked = shared_dir / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    result = run_unprivileged("render", str(EXAMPLES), "--output-dir", "locked/out", cwd=shared_dir)
    assert result.code == 2
    assert "locked/out: cannot write the bundle: Permission denied" in _one_line(result.err)
    assert list(locked.iterdir()) == []


def test_a_failed_swap_puts_the_previous_version_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The second rename failing (a full or read-only disk in between) is injected: no
    real file system fails exactly there on demand."""
    target = tmp_path / "out"
    target.mkdir()
    (target / "a.yaml").write_text("old")
    real = os.rename
    calls: list[str] = []

    def rename(src: str | Path, dst: str | Path) -> None:
        calls.append(str(dst))
        if len(calls) == 2:
            raise OSError(28, "No space left on device")
        real(src, dst)

    def fill(staging: Path) -> None:
        (staging / "a.yaml").write_text("new")

    monkeypatch.setattr(os, "rename", rename)
    with pytest.raises(OSError, match="No space"):
        replace_directory(target, fill)
    monkeypatch.undo()
    assert (target / "a.yaml").read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
