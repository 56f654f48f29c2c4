"""The controller image, built by tools/image.sh from the Containerfile: its config and
layers as buildah records them, and mlkube run inside it by a real OCI runtime (runc)
with the read-only root filesystem and the user the Deployment gives it."""

from __future__ import annotations

import json
import subprocess
import tomllib
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mlkube.cli.main import REPORT_BUGS

from ..conftest import ROOT
from .tools import need

PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
VERSION = PROJECT["version"]
SITE = "opt/mlkube/lib/python3.11/site-packages"


def _run(*argv: str, timeout: float = 900) -> str:
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
    assert proc.returncode == 0, f"{' '.join(argv)} failed ({proc.returncode}):\n{proc.stderr}"
    return proc.stdout


@pytest.fixture(scope="module")
def image() -> str:
    need("buildah", "debootstrap")
    reference = _run("bash", str(ROOT / "tools" / "image.sh")).strip().splitlines()[-1]
    assert reference == f"localhost/mlkube:{VERSION}"
    return reference


@pytest.fixture(scope="module")
def config(image: str) -> dict[str, Any]:
    inspected = json.loads(_run("buildah", "inspect", "--type", "image", image))
    oci: dict[str, Any] = inspected["OCIv1"]["config"]
    return oci


@pytest.fixture(scope="module")
def rootfs(image: str) -> Iterator[Path]:
    """The image's file system, as the layers stack it."""
    container = _run("buildah", "from", "--name", f"mlkube-test-{uuid.uuid4().hex[:8]}", image)
    container = container.strip()
    try:
        yield Path(_run("buildah", "mount", container).strip())
    finally:
        subprocess.run(["buildah", "rm", container], capture_output=True, check=False)


def test_config_runs_mlkube_as_the_deployments_user(config: dict[str, Any]) -> None:
    assert config["Entrypoint"] == ["/opt/mlkube/bin/mlkube"]
    assert config["Cmd"] == ["controller", "run"]
    # the Deployment's securityContext: runAsNonRoot, runAsUser 65532
    assert config["User"] == "65532:65532"
    assert "PYTHONDONTWRITEBYTECODE=1" in config["Env"]


def test_labels_say_source_version_and_licence(config: dict[str, Any]) -> None:
    labels = config["Labels"]
    assert labels["org.opencontainers.image.version"] == VERSION
    assert labels["org.opencontainers.image.licenses"] == PROJECT["license"]
    assert REPORT_BUGS.startswith(labels["org.opencontainers.image.source"] + "/")
    assert len(labels["org.opencontainers.image.revision"]) == 40  # the checkout's commit


def test_layers_hold_the_wheel_and_no_build_tools(rootfs: Path) -> None:
    dist_info = rootfs / SITE / f"mlkube-{VERSION}.dist-info"
    assert (dist_info / "INSTALLER").read_text().strip() == "pip"
    assert (dist_info / "WHEEL").is_file()  # installed from a wheel, not a source tree
    assert "mlkube/controller/run.py" in (dist_info / "RECORD").read_text()
    assert not (rootfs / SITE / "mlkube" / "__init__.py").is_symlink()
    # pip ran from its wheel file in the build stage: none of it is left
    assert not list((rootfs / SITE).glob("pip*"))
    for path in ("wheels", "pip", "usr/bin/gcc", "usr/bin/cc", "usr/bin/make", "usr/bin/pip3"):
        assert not (rootfs / path).exists(), path
    assert not list((rootfs / "usr/lib/python3.11").glob("ensurepip"))
    # compiled at install time, since a read-only root cannot take bytecode later
    assert list((rootfs / SITE / "mlkube" / "__pycache__").glob("*.cpython-311.pyc"))
    passwd = (rootfs / "etc/passwd").read_text()
    assert any(line.split(":")[2] == "65532" for line in passwd.splitlines())


def _oci_run(rootfs: Path, config: dict[str, Any], args: list[str], tmp: Path) -> str:
    """Run the image's entrypoint with ``args`` in a runc container whose root is the
    image's file system, mounted read-only, as the image's user."""
    tmp.mkdir()
    subprocess.run(["runc", "spec", "--bundle", str(tmp)], check=True)
    spec = json.loads((tmp / "config.json").read_text())
    uid, gid = (int(n) for n in config["User"].split(":"))
    spec["root"] = {"path": str(rootfs), "readonly": True}
    spec["process"].update(
        terminal=False,
        args=[*config["Entrypoint"], *args],
        env=config["Env"],
        cwd=config["WorkingDir"],
        user={"uid": uid, "gid": gid},
    )
    (tmp / "config.json").write_text(json.dumps(spec))
    name = f"mlkube-test-{uuid.uuid4().hex[:8]}"
    return _run("runc", "run", "--bundle", str(tmp), name, timeout=120)


def test_mlkube_runs_inside_on_a_read_only_root(
    rootfs: Path, config: dict[str, Any], tmp_path: Path
) -> None:
    need("runc")
    assert _oci_run(rootfs, config, ["--version"], tmp_path / "a").strip() == f"mlkube {VERSION}"
    out = _oci_run(rootfs, config, ["controller", "run", "--help"], tmp_path / "b")
    assert "--metrics-bind-address" in out and "--leader-elect" in out


def test_the_root_really_is_read_only(rootfs: Path, config: dict[str, Any], tmp_path: Path) -> None:
    """The premise of the test above: a write to the root fails in that container."""
    need("runc")
    script = (
        "import os\ntry:\n open('/probe', 'w')\nexcept OSError as e:\n print(e.errno, os.getuid())"
    )
    config = {**config, "Entrypoint": ["/opt/mlkube/bin/python", "-c", script]}
    assert _oci_run(rootfs, config, [], tmp_path / "a").split() == ["30", "65532"]  # EROFS
