"""Doctor and preflight against servers that cannot be used: never "no findings", never
a hang. Real sockets on 127.0.0.1 (a closed port, a listener that never accepts, a TLS
server that never answers): the network faults themselves, not a mock of the API."""

from __future__ import annotations

import socket
import ssl
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from mlkube.cli.main import main
from mlkube.errors import EXIT_UNREACHABLE
from mlkube.localcluster.pki import SERVICE_IP, Pki, create

from .conftest import token_kubeconfig


@pytest.fixture
def closed_port() -> int:
    """A port nobody listens on: connections are refused."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return create(tmp_path_factory.mktemp("pki"), SERVICE_IP)


@pytest.fixture
def silent_tls_server(pki: Pki) -> Iterator[int]:
    """Completes TLS and reads the request, then never answers (a wedged apiserver)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(pki.path("apiserver.crt"), pki.path("apiserver.key"))
    done = threading.Event()
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    server.settimeout(0.2)
    held: list[socket.socket] = []

    def serve() -> None:
        while not done.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            try:
                tls = context.wrap_socket(conn, server_side=True)
                tls.recv(65536)
                held.append(tls)  # keep it open, say nothing
            except (OSError, ssl.SSLError):
                conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    done.set()
    thread.join()
    for conn in held:
        conn.close()
    server.close()


def _one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


@pytest.mark.parametrize("verb", ["doctor", "preflight"])
def test_a_refused_connection_is_exit_3_naming_the_server_and_context(
    verb: str, closed_port: int, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        [verb, "--kubeconfig", str(token_kubeconfig(tmp_path, f"https://127.0.0.1:{closed_port}"))]
    )
    out, err = capsys.readouterr()
    assert code == EXIT_UNREACHABLE
    assert out == ""  # no "No findings in 0 objects."
    line = _one_line(err)
    assert f"https://127.0.0.1:{closed_port}" in line
    assert "'far-away'" in line and "connection refused" in line


def test_a_server_that_never_completes_the_handshake_fails_within_the_timeout(
    deaf_listener: int, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    kubeconfig = token_kubeconfig(tmp_path, f"https://127.0.0.1:{deaf_listener}")
    started = time.monotonic()
    code = main(["doctor", "--kubeconfig", str(kubeconfig), "--request-timeout", "1s"])
    elapsed = time.monotonic() - started
    assert code == EXIT_UNREACHABLE
    assert "within" in _one_line(capsys.readouterr().err)
    assert elapsed < 1 + 2  # the timeout, plus slack for a loaded machine; not minutes


def test_a_server_that_accepts_and_never_answers_fails_within_the_timeout(
    silent_tls_server: int, pki: Pki, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    kubeconfig = token_kubeconfig(tmp_path, f"https://127.0.0.1:{silent_tls_server}", pki.ca)
    started = time.monotonic()
    code = main(["doctor", "--kubeconfig", str(kubeconfig), "--request-timeout", "1500ms"])
    elapsed = time.monotonic() - started
    out, err = capsys.readouterr()
    assert code == EXIT_UNREACHABLE
    assert out == ""
    assert "did not answer GET /api/v1 within 1.5s (--request-timeout)" in _one_line(err)
    assert elapsed < 1.5 + 2


def test_retries_of_a_refused_connection_show_at_verbosity_4(
    closed_port: int, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    kubeconfig = str(token_kubeconfig(tmp_path, f"https://127.0.0.1:{closed_port}"))
    assert main(["doctor", "--kubeconfig", kubeconfig, "-v", "4"]) == EXIT_UNREACHABLE
    err = capsys.readouterr().err
    retries = [line for line in err.splitlines() if line.startswith("mlkube: retry ")]
    assert len(retries) == 3  # RetryPolicy.fault_retries: refused is retried, briefly
    assert "4 requests, 3 retries (connection: 3)" in err
