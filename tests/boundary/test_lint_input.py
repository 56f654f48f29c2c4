"""Lint never reports "no findings" about input it could not read, and its config file
is refused when it says something lint cannot do (issue 14)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ..conftest import EXAMPLES
from .runner import run_cli
from .unprivileged import run_unprivileged

# A job that MK101 (gpu-limit-missing) fires on: lint must find it, not skip it.
GPU_JOB = """\
apiVersion: batch/v1
kind: Job
metadata: {name: train, namespace: ml}
spec:
  template:
    spec:
      containers:
      - name: t
        image: trainer:1.0
        resources: {requests: {nvidia.com/gpu: 1}}
"""


def _tree_with_a_job(root: Path) -> Path:
    (root / "manifests" / "sub").mkdir(parents=True)
    shutil.copy(EXAMPLES / "platform.yaml", root / "manifests" / "platform.yaml")
    (root / "manifests" / "sub" / "job.yaml").write_text(GPU_JOB)
    return root / "manifests"


def test_the_premise_a_readable_tree_has_findings(shared_dir: Path) -> None:
    tree = _tree_with_a_job(shared_dir)
    result = run_unprivileged("lint", str(tree), "--config", "/dev/null", cwd=shared_dir)
    assert result.code == 1, result.err
    assert "MK101" in result.out


def test_an_unlistable_directory_is_an_error(shared_dir: Path) -> None:
    tree = _tree_with_a_job(shared_dir)
    (tree / "sub").chmod(0o000)
    result = run_unprivileged("lint", str(tree), "--config", "/dev/null", cwd=shared_dir)
    assert result.code == 2
    assert result.err.splitlines() == [f"mlkube: {tree / 'sub'}:0: cannot list: Permission denied"]
    assert result.out == ""


def test_an_unreadable_file_in_a_directory_is_an_error(shared_dir: Path) -> None:
    tree = _tree_with_a_job(shared_dir)
    (tree / "sub" / "job.yaml").chmod(0o000)
    result = run_unprivileged("lint", str(tree), "--config", "/dev/null", cwd=shared_dir)
    assert result.code == 2
    assert result.err.splitlines() == [
        f"mlkube: {tree / 'sub' / 'job.yaml'}:0: cannot read: Permission denied"
    ]


def test_a_listable_but_unsearchable_directory_is_an_error(shared_dir: Path) -> None:
    """Mode 644 on a directory: its names can be read, its files cannot be opened."""
    tree = _tree_with_a_job(shared_dir)
    (tree / "sub").chmod(0o644)
    result = run_unprivileged("lint", str(tree), "--config", "/dev/null", cwd=shared_dir)
    assert result.code == 2 and "Traceback" not in result.err
    assert "sub/job.yaml:0: cannot read: Permission denied" in result.err


def test_an_unsearchable_working_directory_is_a_clean_error(shared_dir: Path) -> None:
    """The default `.mlkube.yaml` lookup cannot tell whether the file exists: that is an
    error (the config could disable rules), and --config is the way out."""
    cwd = shared_dir / "cwd"
    cwd.mkdir()
    cwd.chmod(0o000)
    result = run_unprivileged("lint", str(EXAMPLES), cwd=cwd)
    assert result.code == 2
    assert len(result.err.splitlines()) == 1
    assert "cannot tell whether .mlkube.yaml exists" in result.err
    assert "--config" in result.err
    explicit = run_unprivileged("lint", str(EXAMPLES), "--config", "/dev/null", cwd=cwd)
    assert explicit.code == 0, explicit.err


def test_a_symlink_loop_says_so(tmp_path: Path) -> None:
    (tmp_path / "loop.yaml").symlink_to(tmp_path / "loop.yaml")
    result = run_cli("lint", str(tmp_path / "loop.yaml"))
    assert result.code == 2
    assert result.err_lines == [
        f"mlkube: {tmp_path}/loop.yaml:0: too many levels of symbolic links"
    ]


def test_a_dangling_symlink_in_a_directory_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "gone.yaml").symlink_to(tmp_path / "nowhere.yaml")
    result = run_cli("lint", str(tmp_path))
    assert result.code == 2
    assert result.err_lines == [
        f"mlkube: {tmp_path}/gone.yaml:0: cannot read: No such file or directory"
    ]


@pytest.mark.parametrize(
    ("config", "line", "message"),
    [
        ("lint:\n  disable: [MK101]\n---\nlint: {}\n", 4, "a second YAML document"),
        ("lint:\n  disable:\n  - MK101\n  - MK9999\n", 4, "no lint rule 'MK9999'"),
        (
            "lint:\n  severity:\n    MK101: error\n    gpu-nope: info\n",
            4,
            "no lint rule 'gpu-nope'",
        ),
    ],
)
def test_config_errors_name_their_line(
    tmp_path: Path, config: str, line: int, message: str
) -> None:
    (tmp_path / "c.yaml").write_text(config)
    result = run_cli("lint", str(EXAMPLES), "--config", str(tmp_path / "c.yaml"))
    assert result.code == 2
    assert len(result.err_lines) == 1
    assert result.err_lines[0].startswith(f"mlkube: {tmp_path / 'c.yaml'}:{line}: {message}")


def test_a_config_that_names_known_rules_is_accepted(tmp_path: Path) -> None:
    (tmp_path / "c.yaml").write_text(
        "lint:\n  disable: [gpu-limit-missing]\n  severity: {MK104: error}\n"
    )
    (tmp_path / "job.yaml").write_text(GPU_JOB)
    result = run_cli("lint", str(tmp_path / "job.yaml"), "--config", str(tmp_path / "c.yaml"))
    assert "MK101" not in result.out and result.err == ""


def test_a_config_that_is_a_directory(tmp_path: Path) -> None:
    (tmp_path / "conf").mkdir()
    (tmp_path / "conf" / "a.yaml").write_text("lint: {}\n")
    result = run_cli("lint", str(EXAMPLES), "--config", str(tmp_path / "conf"))
    assert result.code == 2
    assert result.err_lines == [f"mlkube: {tmp_path / 'conf'}:0: cannot read: Is a directory"]


@pytest.mark.parametrize("rule", ["MK9999", "gpu-nope"])
def test_disabling_an_unknown_rule_is_a_usage_error(rule: str) -> None:
    result = run_cli("lint", str(EXAMPLES), "--disable", rule, "--config", "/dev/null")
    assert result.code == 2
    assert result.err_lines == [
        f"mlkube: --disable {rule}: no lint rule by that id or name; `mlkube rules`"
    ]


def test_disabling_a_known_rule_by_name_works(tmp_path: Path) -> None:
    (tmp_path / "job.yaml").write_text(GPU_JOB)
    args = ("lint", str(tmp_path / "job.yaml"), "--config", "/dev/null")
    assert "MK101" in run_cli(*args).out
    assert "MK101" not in run_cli(*args, "--disable", "gpu-limit-missing").out


def test_a_closed_standard_input_is_an_error() -> None:
    """`mlkube lint - <&-`: Python starts with sys.stdin None."""
    proc = subprocess.run(
        [sys.executable, "-m", "mlkube", "lint", "-", "--config", "/dev/null"],
        capture_output=True,
        preexec_fn=lambda: os.close(0),
        timeout=60,
        check=False,
    )
    assert proc.returncode == 2
    assert proc.stderr.decode().splitlines() == ["mlkube: <stdin>:0: standard input is closed"]
