"""`mlkube controller` as a user runs it: bad flags get one line and exit 2 before
anything connects or listens; a server that is not there gets exit 3; a SIGTERM while
the server does not answer ends the process at once. Real sockets, no cluster: a closed
port refuses, a listening socket that never accepts is a server that never answers."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
import yaml

from mlkube.controller.metrics import parse_bind_address
from mlkube.localcluster.processes import free_ports
from mlkube.wait import WaitTimeout, until

from ..conftest import Result, Run, token_kubeconfig


@pytest.fixture
def silent_server(deaf_listener: int) -> str:
    return f"https://127.0.0.1:{deaf_listener}"


def one_line_error(result: Result, code: int, *needles: str) -> None:
    lines = result.err.strip().splitlines()
    assert result.code == code, result.err
    assert "Traceback" not in result.err
    error = [line for line in lines if line.startswith("mlkube: ")]
    assert len(error) == 1, result.err
    for needle in needles:
        assert needle in error[0], error[0]


@pytest.mark.parametrize(
    ("address", "complaint"),
    [
        ("nonsense", "expected HOST:PORT"),
        ("127.0.0.1:99999", "port must be a number from 1 to 65535"),
        ("127.0.0.1:0", "port must be a number from 1 to 65535"),
        ("127.0.0.1:http", "port must be a number"),
        ("256.1.1.1:9402", "'256.1.1.1' is not an IP address"),
        ("[::zz]:9402", "not an IPv6 address"),
        ("bad_host!:9402", "not an IP address or a host name"),
    ],
)
def test_a_bad_metrics_address_is_one_line_and_exit_2(
    mlkube: Run, tmp_path: Path, address: str, complaint: str
) -> None:
    # The kubeconfig's server is never contacted: the flag is checked first.
    config = token_kubeconfig(tmp_path, "https://127.0.0.1:1")
    result = mlkube("controller", "run", "--kubeconfig", str(config),
                    "--metrics-bind-address", address)  # fmt: skip
    one_line_error(result, 2, "--metrics-bind-address", complaint)


@pytest.mark.parametrize(
    "address", ["127.0.0.1:9402", "[::1]:9402", ":9402", "localhost:1", "0.0.0.0:65535"]
)
def test_good_metrics_addresses_parse(address: str) -> None:
    host, port = parse_bind_address(address)
    assert address.endswith(f":{port}") and host in address


def test_a_metrics_port_taken_by_another_process_is_one_line(mlkube: Run, tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        config = token_kubeconfig(tmp_path, "https://127.0.0.1:1")
        result = mlkube("controller", "run", "--kubeconfig", str(config),
                        "--metrics-bind-address", f"127.0.0.1:{port}")  # fmt: skip
    one_line_error(result, 2, "cannot listen there")


@pytest.mark.parametrize(
    ("flags", "complaint"),
    [
        (("--workers", "0"), "--workers 0: must be at least 1"),
        (("--resync", "nan"), "--resync nan"),
        (("--give-up-after", "-5"), "--give-up-after -5.0"),
    ],
)
def test_bad_numbers_are_one_line_and_exit_2(
    mlkube: Run, tmp_path: Path, flags: tuple[str, ...], complaint: str
) -> None:
    config = token_kubeconfig(tmp_path, "https://127.0.0.1:1")
    one_line_error(mlkube("controller", "run", "--kubeconfig", str(config), *flags), 2, complaint)


@pytest.mark.parametrize("replicas", ["-1", "2147483648"])
def test_manifests_refuse_a_replica_count_a_deployment_cannot_have(
    mlkube: Run, replicas: str
) -> None:
    result = mlkube("controller", "manifests", "--replicas", replicas)
    one_line_error(result, 2, f"--replicas {replicas}")
    assert result.out == ""  # nothing half-written


def test_manifests_accept_zero_replicas(mlkube: Run) -> None:
    result = mlkube("controller", "manifests", "--replicas", "0")
    assert result.code == 0
    (deployment,) = [o for o in yaml.safe_load_all(result.out) if o["kind"] == "Deployment"]
    assert deployment["spec"]["replicas"] == 0


def test_a_server_that_refuses_connections_is_exit_3_naming_it(mlkube: Run, tmp_path: Path) -> None:
    (port,) = free_ports(1)  # nothing listens there
    config = token_kubeconfig(tmp_path, f"https://127.0.0.1:{port}")
    (metrics,) = free_ports(1)
    result = mlkube("controller", "run", "--kubeconfig", str(config),
                    "--metrics-bind-address", f"127.0.0.1:{metrics}")  # fmt: skip
    one_line_error(result, 3, f"127.0.0.1:{port}")


def test_a_server_that_never_answers_is_exit_3_after_the_give_up_time(
    mlkube: Run, tmp_path: Path, silent_server: str
) -> None:
    config = token_kubeconfig(tmp_path, silent_server)
    (metrics,) = free_ports(1)
    result = mlkube("controller", "run", "--kubeconfig", str(config), "--give-up-after", "2",
                    "--metrics-bind-address", f"127.0.0.1:{metrics}")  # fmt: skip
    one_line_error(result, 3, silent_server.removeprefix("https://"), "did not answer")


def test_sigterm_while_the_server_never_answers_ends_the_process(
    tmp_path: Path, silent_server: str
) -> None:
    config = token_kubeconfig(tmp_path, silent_server)
    (metrics,) = free_ports(1)
    log = tmp_path / "controller.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "mlkube", "controller", "run", "--kubeconfig", str(config),
             "--metrics-bind-address", f"127.0.0.1:{metrics}"],
            stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        _wait_for_metrics(metrics, process)  # up, and stuck on its first request
        process.send_signal(signal.SIGTERM)
        # A generous bound (the give-up time is 30 s, a request's timeout 30 s): before
        # this change it took about 140 s.
        assert process.wait(timeout=20) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert "Traceback" not in log.read_text()


def _wait_for_metrics(port: int, process: subprocess.Popen[bytes]) -> None:
    def served() -> bool | None:
        if process.poll() is not None:
            raise AssertionError(f"the controller exited ({process.returncode}) before serving")
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=1).close()
        except OSError:
            return None
        return True

    try:
        until("the controller's metrics", served, timeout=30, every=0.1)
    except WaitTimeout:
        raise AssertionError("the controller never served metrics") from None
