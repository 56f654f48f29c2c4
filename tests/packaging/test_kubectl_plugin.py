"""`kubectl mlkube VERB`: the real kubectl (built from the Kubernetes module the local
cluster is built from, tools/build.sh kubectl) finds the `kubectl-mlkube` entry point
on PATH and hands it the rest of the command line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

from ..conftest import ROOT
from .tools import built

VERSION = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
VENV_BIN = Path(sys.executable).parent


@pytest.fixture(scope="module")
def kubectl() -> Path:
    return built("kubectl", "kubectl")


def _kubectl(
    kubectl: Path, *args: str, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    # Only the virtualenv's bin and the system's: no other kubectl plugin on PATH.
    env = {"PATH": f"{VENV_BIN}:/usr/bin:/bin", "HOME": "/nonexistent"}
    if "PYTHONPATH" in os.environ:  # a checkout under test, beside the installed one
        env["PYTHONPATH"] = os.environ["PYTHONPATH"]
    return subprocess.run(
        [str(kubectl), *args], input=stdin, env=env, capture_output=True, text=True,
        timeout=120, check=False,
    )  # fmt: skip


def test_the_entry_point_is_installed() -> None:
    assert (VENV_BIN / "kubectl-mlkube").is_file(), "pip install -e . installs kubectl-mlkube"


def test_kubectl_mlkube_version(kubectl: Path) -> None:
    proc = _kubectl(kubectl, "mlkube", "--version")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"mlkube {VERSION}"


def test_kubectl_plugin_list_finds_it(kubectl: Path) -> None:
    proc = _kubectl(kubectl, "plugin", "list")
    assert proc.returncode == 0, proc.stderr
    assert str(VENV_BIN / "kubectl-mlkube") in proc.stdout.splitlines()


def test_kubectl_passes_verbs_flags_and_stdin(kubectl: Path) -> None:
    job = "apiVersion: batch/v1\nkind: Job\nmetadata: {name: j, namespace: ml}\n"
    job += "spec:\n  template:\n    spec:\n      containers:\n"
    job += (
        "        - {name: c, image: 'trainer:latest', resources: {limits: {nvidia.com/gpu: 1}}}\n"
    )
    proc = _kubectl(kubectl, "mlkube", "lint", "-", "--format", "json", stdin=job)
    assert proc.returncode == 1, proc.stderr  # findings
    assert "MK208" in {f["rule"] for f in json.loads(proc.stdout)["findings"]}
    bad = _kubectl(kubectl, "mlkube", "lint", "--no-such-flag", "-")
    assert bad.returncode == 2 and "unrecognized arguments: --no-such-flag" in bad.stderr


def test_kubectl_style_flags_reach_mlkube(kubectl: Path) -> None:
    """`kubectl mlkube lint -f - -o yaml`: kubectl hands over -f and -o untouched."""
    job = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: ml}\ndata: {k: v}\n"
    proc = _kubectl(kubectl, "mlkube", "lint", "-f", "-", "-o", "yaml", stdin=job)
    assert proc.returncode == 0, proc.stderr
    assert yaml.safe_load(proc.stdout) == {
        "findings": [],
        "summary": {"objects": 1, "findings": 0, "info": 0, "warning": 0, "error": 0},
    }
