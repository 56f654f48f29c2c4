"""The `mlkube-lint` pre-commit hook, run by the real pre-commit: `try-repo` on this
checkout (it installs mlkube into a fresh virtualenv, from PyPI), and a user's
`.pre-commit-config.yaml` whose `args` reach `mlkube lint`."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from ..conftest import ROOT

# A GPU Job whose only finding at warning or above is MK208 (the image tag `latest`).
WARNING_ONLY = """\
apiVersion: batch/v1
kind: Job
metadata:
  name: prep
  namespace: ml
spec:
  template:
    spec:
      restartPolicy: Never
      containers:
        - name: prep
          image: prep:latest
          resources:
            requests: {cpu: "1", memory: 8Gi, nvidia.com/gpu: 1}
            limits: {memory: 8Gi, nvidia.com/gpu: 1}
"""
# Not Kubernetes YAML, and matched by the hook's `exclude`: a Helm template.
HELM_TEMPLATE = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}\n"


def _git(cwd: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, capture_output=True, text=True, check=True
    ).stdout.strip()


def _commit_all(repo: Path) -> str:
    _git(repo, "add", "-A")
    _git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "t")
    return _git(repo, "rev-parse", "HEAD")


@pytest.fixture(scope="module")
def hook_repo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """This checkout as its working tree stands, committed in a repository of its own
    (pre-commit installs hooks from a commit)."""
    repo = tmp_path_factory.mktemp("hook-repo")
    files = _git(ROOT, "ls-files", "--cached", "--others", "--exclude-standard", "-z")
    for name in filter(None, files.split("\0")):
        if (ROOT / name).is_file():
            (repo / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, repo / name)
    _git(repo, "init", "-q")
    return repo, _commit_all(repo)


@pytest.fixture
def project(tmp_path: Path) -> Iterator[Path]:
    """A user's repository with one manifest and one Helm template."""
    repo = tmp_path / "project"
    (repo / "deploy").mkdir(parents=True)
    (repo / "deploy" / "job.yaml").write_text(WARNING_ONLY)
    (repo / "chart" / "templates").mkdir(parents=True)
    (repo / "chart" / "templates" / "cm.yaml").write_text(HELM_TEMPLATE)
    _git(repo, "init", "-q")
    _commit_all(repo)
    yield repo


def _pre_commit(cwd: Path, home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PRE_COMMIT_HOME": str(home), "PRE_COMMIT_COLOR": "never"}
    return subprocess.run(
        [sys.executable, "-m", "pre_commit", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )


def test_try_repo_runs_the_hook_on_yaml_and_fails_on_a_warning(
    hook_repo: tuple[Path, str], project: Path, tmp_path: Path
) -> None:
    repo, _ = hook_repo
    proc = _pre_commit(project, tmp_path / "home", "try-repo", str(repo), "mlkube-lint",
                       "--all-files", "--verbose")  # fmt: skip
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "deploy/job.yaml:12: warning MK208 image-tag-mutable" in proc.stdout
    assert "cm.yaml" not in proc.stdout  # the template was not handed to mlkube


def _config(repo: Path, rev: str, args: list[str]) -> str:
    hook = {"id": "mlkube-lint", "args": args}
    return yaml.safe_dump({"repos": [{"repo": str(repo), "rev": rev, "hooks": [hook]}]})


def test_args_pass_through_to_mlkube_lint(
    hook_repo: tuple[Path, str], project: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    repo, rev = hook_repo
    home = tmp_path_factory.mktemp("pre-commit-home")  # one install for the three runs
    config = project / ".pre-commit-config.yaml"
    (project / "lint.yaml").write_text("lint:\n  disable: [image-tag-mutable]\n")

    runs = {}
    for name, args in {
        "defaults": [],
        "fail-on": ["--fail-on", "error"],
        "config": ["--config", "lint.yaml"],
    }.items():
        config.write_text(_config(repo, rev, args))
        runs[name] = _pre_commit(project, home, "run", "--all-files", "--verbose")
    assert runs["defaults"].returncode == 1, runs["defaults"].stdout
    assert "MK208" in runs["defaults"].stdout
    assert runs["fail-on"].returncode == 0, runs["fail-on"].stdout
    assert "MK208" in runs["fail-on"].stdout  # still reported, no longer failing
    assert runs["config"].returncode == 0, runs["config"].stdout
    assert "MK208" not in runs["config"].stdout
