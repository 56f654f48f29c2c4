"""The krew manifest: it names this version, its sha256 is that of the archive the
checkout builds, and the binary it installs runs mlkube (or says how to get it)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tarfile
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from ..conftest import ROOT

VERSION = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
MANIFEST = ROOT / "deploy" / "krew" / "mlkube.yaml"


@pytest.fixture(scope="module")
def manifest() -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load(MANIFEST.read_text())
    return doc


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    out = tmp_path_factory.mktemp("krew")
    proc = subprocess.run(
        ["bash", str(ROOT / "tools" / "krew-archive.sh"), str(out)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    path, sha = proc.stdout.split()
    return Path(path), sha


def test_manifest_is_a_krew_plugin_of_this_version(manifest: dict[str, Any]) -> None:
    assert manifest["apiVersion"] == "krew.googlecontainertools.github.com/v1alpha2"
    assert manifest["kind"] == "Plugin" and manifest["metadata"]["name"] == "mlkube"
    spec = manifest["spec"]
    assert spec["version"] == f"v{VERSION}"
    for platform in spec["platforms"]:
        assert f"/v{VERSION}/" in platform["uri"]
        assert re.fullmatch(r"[0-9a-f]{64}", platform["sha256"])


def test_sha256_is_the_checkouts_archive(
    manifest: dict[str, Any], archive: tuple[Path, str]
) -> None:
    _, sha = archive
    assert {p["sha256"] for p in manifest["spec"]["platforms"]} == {sha}, (
        "deploy/krew changed: put the sha256 tools/krew-archive.sh prints in the manifest"
    )


def test_the_archive_holds_the_bin_the_manifest_names(
    manifest: dict[str, Any], archive: tuple[Path, str], tmp_path: Path
) -> None:
    path, _ = archive
    with tarfile.open(path) as tar:
        tar.extractall(tmp_path, filter="data")
    for platform in manifest["spec"]["platforms"]:
        for entry in platform["files"]:
            assert (tmp_path / entry["from"]).is_file()
        binary = tmp_path / platform["bin"]
        assert os.access(binary, os.X_OK)
        env = {"PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin"}
        proc = subprocess.run(
            [str(binary), "--version"], env=env, capture_output=True, text=True, check=False
        )
        assert proc.returncode == 0 and proc.stdout.strip() == f"mlkube {VERSION}"
        # a machine without mlkube: the launcher says how to get it
        bare = subprocess.run([str(binary), "--version"], env={"PATH": str(tmp_path / "none")},
                              capture_output=True, text=True, check=False)  # fmt: skip
        assert bare.returncode == 127 and "pip install mlkube" in bare.stderr
