"""The local cluster's failure paths that need no cluster: a component that crashes at
start, tools/ found outside a checkout, the API Priority and Fairness objects."""

from __future__ import annotations

import shutil
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

import pytest

from mlkube.cli.main import main
from mlkube.errors import MlkubeError
from mlkube.localcluster import components, processes
from mlkube.localcluster.binaries import CHECKOUT_TOOLS, MODULES, tools_dir, version

ROOT = Path(__file__).resolve().parents[2]
# What kube-apiserver prints when its port is taken (cmd/kube-apiserver, net.Listen).
CRASH = (
    "echo 'I1202 06:00:00.000000 1 options.go:249] external host was not specified'; "
    'echo \'E1202 06:00:00.100000 1 run.go:72] "command failed" err="failed to listen '
    "on 127.0.0.1:6443: listen tcp 127.0.0.1:6443: bind: address already in use\"' >&2; "
    "exit 1"
)


def test_a_component_that_exits_at_start_is_reported_at_once_with_its_log(
    tmp_path: Path,
) -> None:
    log = tmp_path / "kube-apiserver.log"
    pid = processes.start(["/bin/sh", "-c", CRASH], log)
    started = time.monotonic()
    with pytest.raises(MlkubeError, match=r"exited with code 1 at start") as info:
        processes.wait_until("kube-apiserver", lambda: False, timeout=120, log=log, pid=pid)
    assert "bind: address already in use" in str(info.value)
    assert time.monotonic() - started < 30  # at once, not after the 120 s timeout


def test_a_check_that_says_the_process_exited_ends_the_wait(tmp_path: Path) -> None:
    """As `cluster._Starter` checks: its MlkubeError is not taken for "not up yet"."""
    log = tmp_path / "etcd.log"
    pid = processes.start(["/bin/sh", "-c", "exit 2"], log)

    def check() -> bool:
        if not processes.alive(pid):
            raise MlkubeError("etcd exited")
        return False

    started = time.monotonic()
    with pytest.raises(MlkubeError, match="etcd exited"):
        processes.wait_until("etcd", check, timeout=120, log=log)
    assert time.monotonic() - started < 30


def test_a_component_that_is_slow_is_still_waited_for(tmp_path: Path) -> None:
    log = tmp_path / "slow.log"
    marker = tmp_path / "ready"
    pid = processes.start(["/bin/sh", "-c", f"sleep 0.5; touch {marker}; sleep 30"], log)
    try:
        processes.wait_until("slow", marker.exists, timeout=60, log=log, pid=pid)
    finally:
        processes.stop(pid, "/bin/sh")


def _copy_tools(target: Path) -> Path:
    shutil.copytree(CHECKOUT_TOOLS, target, ignore=shutil.ignore_patterns("smoke-test.sh"))
    return target


def test_tools_are_found_outside_the_checkout(tmp_path: Path) -> None:
    installed = _copy_tools(tmp_path / "share" / "mlkube" / "tools")
    assert tools_dir([tmp_path / "no-checkout" / "tools", installed]) == installed


def test_a_tools_dir_without_every_module_is_not_taken(tmp_path: Path) -> None:
    partial = _copy_tools(tmp_path / "partial")
    (partial / "kueue" / "go.mod").unlink()
    with pytest.raises(MlkubeError, match=r"cannot find mlkube's tools/.*MLKUBE_TOOLS"):
        tools_dir([partial])


def test_the_wheel_ships_what_cluster_up_needs_and_finds_it_installed(tmp_path: Path) -> None:
    """Build the wheel from a copy of the sources, install it into a fresh virtualenv
    without the checkout, and ask the installed package for its tools and versions."""
    source = tmp_path / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info")
    for name in ("src", "tools"):
        shutil.copytree(ROOT / name, source / name, ignore=ignore)
    pip = [sys.executable, "-m", "pip"]
    subprocess.run(
        [*pip, "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(tmp_path), "."],
        cwd=source,
        check=True,
    )
    (wheel,) = tmp_path.glob("mlkube-*.whl")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    subprocess.run(
        [*pip, "--python", str(python), "install", "--no-deps", "-q", str(wheel)], check=True
    )
    # The dependencies from this virtualenv (a plain path: its .pth files, among them
    # the editable install pointing at the checkout, are not read).
    (site,) = venv.glob("lib/python*/site-packages")
    (site / "dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")
    shutil.rmtree(source)  # no checkout to fall back on
    probe = (
        "from mlkube.localcluster.binaries import MODULES, tools_dir, version\n"
        "print(tools_dir())\n"
        "print(*(version(c) for c in MODULES))\n"
        "import mlkube; print(mlkube.__file__)\n"
    )
    out = subprocess.run(
        [str(python), "-c", probe], cwd=tmp_path, capture_output=True, text=True, check=True
    ).stdout.splitlines()
    assert Path(out[0]).is_relative_to(venv), out
    assert "site-packages" in out[2] and Path(out[2]).is_relative_to(venv)  # not the checkout
    assert (Path(out[0]) / "build.sh").is_file()
    assert out[1].split() == [version(c) for c in MODULES]  # the checkout's own pins


def test_throttling_gives_the_service_accounts_one_level_of_their_own() -> None:
    level, ballast, schema = components.throttling(["ci/doctor", "ci/other"])
    assert level["spec"]["limited"]["limitResponse"] == {"type": "Reject"}
    assert level["spec"]["limited"]["borrowingLimitPercent"] == 0  # cannot borrow seats
    assert ballast["spec"]["limited"]["lendablePercent"] == 100  # others may use it all
    assert schema["spec"]["priorityLevelConfiguration"]["name"] == level["metadata"]["name"]
    (rule,) = schema["spec"]["rules"]
    assert [s["serviceAccount"] for s in rule["subjects"]] == [
        {"namespace": "ci", "name": "doctor"},
        {"namespace": "ci", "name": "other"},
    ]
    assert components.throttling([]) == []


def test_every_module_pins_its_component() -> None:
    assert all(version(c).startswith("v") for c in MODULES)


def test_cluster_up_refuses_a_throttle_that_names_no_serviceaccount(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["cluster", "up", "--name", "never-started", "--throttle", "doctor"]) == 2
    assert "expected NAMESPACE/SERVICEACCOUNT" in capsys.readouterr().err
