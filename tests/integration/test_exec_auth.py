"""Reaching the local cluster as a managed one is reached: a KUBECONFIG of two files
(cluster and context in one, an exec-plugin user in the other, as `aws eks
update-kubeconfig` appends a user to an existing config), a plugin handing out
ServiceAccount tokens (tests/integration/exec_plugin.py), impersonation,
tls-server-name, proxies, and inline keys that never reach the disk."""

from __future__ import annotations

import base64
import contextlib
import json
import os
import select
import signal
import socket
import socketserver
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from mlkube.cluster.client import ApiError, Kube, NotFound
from mlkube.cluster.kubeconfig import Impersonation, Overrides, load_connection
from mlkube.rbac import deployer_rbac

from ..conftest import EXAMPLES, Result
from .waiting import until

NAMESPACE = "auth-test"
PLUGIN = Path(__file__).with_name("exec_plugin.py")


def _run(env: dict[str, str], *args: str, timeout: float = 300) -> Result:
    proc = subprocess.run(
        [sys.executable, "-m", "mlkube", *args],
        capture_output=True, env={**os.environ, **env}, timeout=timeout, check=False,
    )  # fmt: skip
    return Result(proc.returncode, proc.stdout.decode(), proc.stderr.decode())


@pytest.fixture(scope="module")
def accounts(local_cluster: Path) -> Iterator[None]:
    """ServiceAccounts for the plugin: `exec-admin` (cluster-admin) and `deployer`
    (only the generated deployer RBAC)."""
    with Kube(load_connection(str(local_cluster))) as kube:
        yield from _accounts(kube)


def _accounts(kube: Kube) -> Iterator[None]:
    kube.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}})
    for sa in ("exec-admin", "deployer", "nobody"):
        kube.apply({"apiVersion": "v1", "kind": "ServiceAccount",
                    "metadata": {"name": sa, "namespace": NAMESPACE}})  # fmt: skip
    kube.apply({
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
        "metadata": {"name": "auth-test-exec-admin"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                    "name": "cluster-admin"},
        "subjects": [{"kind": "ServiceAccount", "name": "exec-admin", "namespace": NAMESPACE}],
    })  # fmt: skip
    yield
    kube.delete("rbac.authorization.k8s.io/v1", "ClusterRoleBinding", "auth-test-exec-admin")


def _admin(local_cluster: Path) -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load(local_cluster.read_text())
    return doc


def merged(
    local_cluster: Path, root: Path, sa: str = "exec-admin", **plugin_env: str
) -> tuple[str, Path]:
    """KUBECONFIG of two files, and the plugin's call log."""
    admin = _admin(local_cluster)
    cluster = admin["clusters"][0]["cluster"]
    (root / "site").mkdir(parents=True)
    (root / "user" / "bin").mkdir(parents=True)
    (root / "site" / "ca.crt").write_bytes(Path(cluster["certificate-authority"]).read_bytes())
    site = root / "site" / "config"
    site.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config",
        "clusters": [{"name": "local", "cluster": {
            "server": cluster["server"], "certificate-authority": "ca.crt",  # relative
            "extensions": [{"name": "client.authentication.k8s.io/exec",
                            "extension": {"audience": "mlkube-test"}}]}}],
        "contexts": [{"name": "local", "context": {
            "cluster": "local", "user": "exec-user", "namespace": NAMESPACE}}],
        "current-context": "local",
    }))  # fmt: skip
    wrapper = root / "user" / "bin" / "plugin"
    wrapper.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{PLUGIN}" "$@"\n')
    wrapper.chmod(0o755)
    calls = root / "calls"
    env = {"PLUGIN_ADMIN_KUBECONFIG": str(local_cluster), "PLUGIN_CALLS": str(calls),
           "PLUGIN_SERVICE_ACCOUNT": f"{NAMESPACE}/{sa}",
           **plugin_env}  # fmt: skip
    user = root / "user" / "config"
    user.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config",
        "users": [{"name": "exec-user", "user": {"exec": {
            "apiVersion": "client.authentication.k8s.io/v1", "command": "./bin/plugin",
            "interactiveMode": "Never", "provideClusterInfo": True,
            "env": [{"name": k, "value": v} for k, v in env.items()],
            "installHint": "it is tests/integration/exec_plugin.py"}}}],
    }))  # fmt: skip
    return f"{site}{os.pathsep}{user}", calls


def _calls(log: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def _whoami(kube: Kube) -> str:
    review = kube.create({"apiVersion": "authentication.k8s.io/v1",
                          "kind": "SelfSubjectReview", "metadata": {}})  # fmt: skip
    return str(review["status"]["userInfo"]["username"])


def test_verbs_work_through_a_merged_kubeconfig_with_an_exec_user(
    local_cluster: Path, accounts: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    kubeconfig, log = merged(local_cluster, tmp_path)
    env = {"KUBECONFIG": kubeconfig}
    monkeypatch.setenv("KUBECONFIG", kubeconfig)
    with Kube(load_connection()) as kube:
        assert _whoami(kube) == f"system:serviceaccount:{NAMESPACE}:exec-admin"
    (info,) = [c["info"] for c in _calls(log)]
    assert info["spec"]["interactive"] is False
    cluster = info["spec"]["cluster"]
    assert cluster["server"] == _admin(local_cluster)["clusters"][0]["cluster"]["server"]
    ca = Path(_admin(local_cluster)["clusters"][0]["cluster"]["certificate-authority"])
    assert base64.b64decode(cluster["certificate-authority-data"]) == ca.read_bytes()
    assert cluster["config"] == {"audience": "mlkube-test"}

    for verb in (["doctor"], ["preflight"], ["apply", str(EXAMPLES), "--dry-run=server"]):
        before = len(_calls(log))
        result = _run(env, *verb)
        assert result.code in (0, 1), result.err  # findings are fine; errors are not
        assert "mlkube:" not in result.err, result.err
        assert len(_calls(log)) == before + 1  # one plugin run for the verb's many requests
    assert "pass  PF108" in _run(env, "preflight").out  # cluster-admin may do it all


def test_a_credential_is_fetched_again_when_it_expires(
    local_cluster: Path, accounts: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    kubeconfig, log = merged(local_cluster, tmp_path, PLUGIN_TTL="6")
    monkeypatch.setenv("KUBECONFIG", kubeconfig)
    seen: list[tuple[float, int]] = []
    with Kube(load_connection()) as kube:

        def refetched() -> bool | None:  # a request every 0.25 s until the second fetch
            kube.list("v1", "ServiceAccount", NAMESPACE)
            seen.append((time.time(), len(_calls(log))))
            return True if len(_calls(log)) >= 2 else None

        with contextlib.suppress(AssertionError):  # the asserts below say what is missing
            until("a second credential", refetched, timeout=60, every=0.25)
    first, second = _calls(log)[:2]
    expires = datetime.fromisoformat(first["expires"].replace("Z", "+00:00")).timestamp()
    before = [count for at, count in seen if at < expires - 0.5]
    assert before and set(before) == {1}  # every request before expiry: the cached one
    assert second["at"] >= expires  # fetched again only once it had expired
    assert len(_calls(log)) == 2


def test_a_rejected_credential_is_replaced_once(
    local_cluster: Path, accounts: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    kubeconfig, log = merged(local_cluster, tmp_path, PLUGIN_BOGUS_FIRST="1")
    monkeypatch.setenv("KUBECONFIG", kubeconfig)
    with Kube(load_connection()) as kube:
        assert _whoami(kube) == f"system:serviceaccount:{NAMESPACE}:exec-admin"
        assert [c["token"] for c in _calls(log)] == ["bogus", "real"]
        kube.list("v1", "ServiceAccount", NAMESPACE)
        assert len(_calls(log)) == 2  # the good one is kept


def test_a_plugin_may_hand_out_a_client_certificate(
    local_cluster: Path, accounts: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    kubeconfig, log = merged(local_cluster, tmp_path, PLUGIN_CLIENT_CERT="1")
    monkeypatch.setenv("KUBECONFIG", kubeconfig)
    with Kube(load_connection()) as kube:
        assert _whoami(kube) == "mlkube-admin"  # the certificate's CN, not a token's user
        kube.list("v1", "ServiceAccount", NAMESPACE)
    assert [c["token"] for c in _calls(log)] == ["certificate"]


def test_a_plugin_that_keeps_failing_is_one_line(
    local_cluster: Path, accounts: None, tmp_path: Path
) -> None:
    kubeconfig, _ = merged(local_cluster, tmp_path, PLUGIN_SERVICE_ACCOUNT=f"{NAMESPACE}/ghost")
    result = _run({"KUBECONFIG": kubeconfig}, "doctor")
    assert result.code != 0
    assert result.err.startswith("mlkube: exec plugin 'plugin' of user 'exec-user'"), result.err
    assert result.err.count("\n") == 1 and "Traceback" not in result.err


def test_the_generated_deployer_rbac_is_what_preflight_checks(
    local_cluster: Path, kube: Kube, accounts: None, tmp_path: Path
) -> None:
    who = {"kind": "ServiceAccount", "name": "deployer", "namespace": NAMESPACE}
    objects = deployer_rbac(NAMESPACE, who)
    for obj in objects:
        kube.apply(obj)
    try:
        kubeconfig, _ = merged(local_cluster, tmp_path / "deployer", sa="deployer")
        granted = _run({"KUBECONFIG": kubeconfig}, "preflight")
        assert "mlkube:" not in granted.err, granted.err
        assert "pass  PF108" in granted.out, granted.out
        # The premise: an identity without the deployer role fails the same check.
        kubeconfig, _ = merged(local_cluster, tmp_path / "nobody", sa="nobody")
        reader = [o for o in deployer_rbac(NAMESPACE, {**who, "name": "nobody"})
                  if o["metadata"]["name"] == "mlkube-preflight-reader"]  # fmt: skip
        binding = {**reader[-1], "metadata": {"name": "auth-test-nobody-reader"}}
        kube.apply(binding)
        denied = _run({"KUBECONFIG": kubeconfig}, "preflight")
        assert "fail  PF108" in denied.out, denied.out + denied.err
    finally:
        for obj in reversed(objects):
            kind, name = obj["kind"], obj["metadata"]["name"]
            kube.delete(obj["apiVersion"], kind, name, obj["metadata"].get("namespace"))
        kube.delete("rbac.authorization.k8s.io/v1", "ClusterRoleBinding", "auth-test-nobody-reader")


def test_impersonation_from_flags_and_kubeconfig(
    local_cluster: Path, accounts: None, tmp_path: Path
) -> None:
    deployer = f"system:serviceaccount:{NAMESPACE}:deployer"
    who = Impersonation(user=deployer, groups=("system:serviceaccounts", "system:authenticated"))
    connection = load_connection(str(local_cluster), overrides=Overrides(impersonate=who))
    with Kube(connection) as kube:
        assert _whoami(kube) == deployer
        with pytest.raises(ApiError) as refused:  # and it is the deployer's rights that count
            kube.list("v1", "Secret", "kube-system")
        assert refused.value.status == 403
    admin = _admin(local_cluster)
    admin["users"][0]["user"]["as"] = deployer
    path = tmp_path / "as"
    path.write_text(yaml.safe_dump(admin))
    with Kube(load_connection(str(path))) as kube:
        assert _whoami(kube) == deployer
    flag = _run({"KUBECONFIG": str(local_cluster)}, "preflight", "--as", deployer)
    assert flag.code == 4, flag.err  # the server refused the deployer, not the admin
    assert f'User "{deployer}" cannot list' in flag.err, flag.err


def test_tls_server_name_is_the_name_checked(local_cluster: Path, tmp_path: Path) -> None:
    admin = _admin(local_cluster)
    admin["clusters"][0]["cluster"]["tls-server-name"] = "kubernetes.default"  # in the cert
    good = tmp_path / "good"
    good.write_text(yaml.safe_dump(admin))
    with Kube(load_connection(str(good))) as kube:
        assert kube.request("GET", "/version")["major"]
    admin["clusters"][0]["cluster"]["tls-server-name"] = "not-in-the-cert.example"
    bad = tmp_path / "bad"
    bad.write_text(yaml.safe_dump(admin))
    result = _run({"KUBECONFIG": str(bad)}, "preflight")
    assert result.code == 3, result.err  # unreachable: the certificate is not for that name
    assert "not-in-the-cert.example" in result.err or "certificate" in result.err


# Proxies ---------------------------------------------------------------------------------


class _Tunnel(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    targets: list[str]


def _pipe(a: socket.socket, b: socket.socket) -> None:
    sockets = [a, b]
    while True:
        ready, _, _ = select.select(sockets, [], [], 30)
        if not ready:
            return
        for s in ready:
            data = s.recv(65536)
            if not data:
                return
            (b if s is a else a).sendall(data)


class _HttpConnect(socketserver.BaseRequestHandler):
    """An HTTP CONNECT proxy, as squid or a corporate proxy answers one."""

    def handle(self) -> None:
        head = b""
        while b"\r\n\r\n" not in head:
            head += self.request.recv(4096)
        method, target, _ = head.split(b"\r\n", 1)[0].decode().split(" ")
        assert isinstance(self.server, _Tunnel)
        self.server.targets.append(f"{method} {target}")
        host, port = target.rsplit(":", 1)
        with socket.create_connection((host, int(port))) as upstream:
            self.request.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
            _pipe(self.request, upstream)


class _Socks5(socketserver.BaseRequestHandler):
    """A SOCKS5 proxy without authentication (RFC 1928), CONNECT only."""

    def handle(self) -> None:
        s = self.request
        greeting = s.recv(2)
        s.recv(greeting[1])
        s.sendall(b"\x05\x00")
        _, _, _, kind = s.recv(4)
        host = socket.inet_ntoa(s.recv(4)) if kind == 1 else s.recv(s.recv(1)[0]).decode()
        port = int.from_bytes(s.recv(2), "big")
        assert isinstance(self.server, _Tunnel)
        self.server.targets.append(f"SOCKS {host}:{port}")
        with socket.create_connection((host, port)) as upstream:
            s.sendall(b"\x05\x00\x00\x01" + socket.inet_aton("127.0.0.1") + b"\x00\x00")
            _pipe(s, upstream)


@pytest.mark.parametrize(("scheme", "handler"), [("http", _HttpConnect), ("socks5", _Socks5)])
def test_verbs_go_through_the_kubeconfig_proxy(
    local_cluster: Path, tmp_path: Path, scheme: str, handler: type[socketserver.BaseRequestHandler]
) -> None:
    server = _Tunnel(("127.0.0.1", 0), handler)
    server.targets = []
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        admin = _admin(local_cluster)
        admin["clusters"][0]["cluster"]["proxy-url"] = (
            f"{scheme}://127.0.0.1:{server.server_address[1]}"
        )
        path = tmp_path / "proxied"
        path.write_text(yaml.safe_dump(admin))
        result = _run({"KUBECONFIG": str(path)}, "doctor")
        assert result.code in (0, 1), result.err
        port = admin["clusters"][0]["cluster"]["server"].rsplit(":", 1)[1]
        assert server.targets and all(t.endswith(f"127.0.0.1:{port}") for t in server.targets)
    finally:
        server.shutdown()
        server.server_close()


# Inline keys -----------------------------------------------------------------------------


def _inline(local_cluster: Path, path: Path) -> Path:
    admin = _admin(local_cluster)
    cluster, user = admin["clusters"][0]["cluster"], admin["users"][0]["user"]
    for section, key in ((cluster, "certificate-authority"), (user, "client-certificate"),
                         (user, "client-key")):  # fmt: skip
        section[f"{key}-data"] = base64.b64encode(Path(section.pop(key)).read_bytes()).decode()
    path.write_text(yaml.safe_dump(admin))
    return path


def test_inline_key_data_leaves_nothing_in_the_temp_dir(
    local_cluster: Path, kube: Kube, accounts: None, tmp_path: Path
) -> None:
    kubeconfig = _inline(local_cluster, tmp_path / "inline")
    spill = tmp_path / "tmp"
    spill.mkdir()
    env = {"KUBECONFIG": str(kubeconfig), "TMPDIR": str(spill)}
    probe = _run(env, "--version")  # the premise: TMPDIR is where tempfile would write
    where = subprocess.run(
        [sys.executable, "-c", "import tempfile; print(tempfile.gettempdir())"],
        env={**os.environ, **env}, capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    assert probe.code == 0 and where == str(spill)
    for verb in (["doctor", "-n", NAMESPACE], ["preflight"],
                 ["apply", str(EXAMPLES), "--dry-run=server"]):  # fmt: skip
        result = _run(env, *verb)
        assert result.code in (0, 1), result.err
        assert list(spill.iterdir()) == [], verb

    kube.apply({
        "apiVersion": "kubeflow.org/v1", "kind": "PyTorchJob",
        "metadata": {"name": "never-admitted", "namespace": NAMESPACE},
        "spec": {"runPolicy": {"suspend": True}, "pytorchReplicaSpecs": {"Master": {
            "replicas": 1, "restartPolicy": "OnFailure",
            "template": {"spec": {"containers": [{"name": "pytorch", "image": "busybox"}]}}}}},
    })  # fmt: skip
    try:
        with subprocess.Popen(
            [sys.executable, "-m", "mlkube", "wait", "never-admitted", "-n", NAMESPACE,
             "--for=Succeeded", "--timeout=10m"],
            env={**os.environ, **env}, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        ) as waiting:  # fmt: skip
            try:
                assert waiting.stdout is not None
                first = waiting.stdout.readline()  # it has connected and read the job
                assert b"Queued" in first or b"Pending" in first, first
                assert waiting.poll() is None  # still waiting, key loaded
                os.kill(waiting.pid, signal.SIGKILL)
                assert waiting.wait(timeout=30) == -signal.SIGKILL
            finally:
                if waiting.poll() is None:
                    waiting.kill()
    finally:
        kube.delete("kubeflow.org/v1", "PyTorchJob", "never-admitted", NAMESPACE)
    assert list(spill.iterdir()) == []


def test_the_controller_keeps_its_lease_through_expiring_exec_credentials(
    local_cluster: Path, accounts: None, tmp_path: Path
) -> None:
    """A long-running verb outlives its credential: the controller, authenticated by the
    plugin with 6-second tokens, renews its Lease past the first token's expiry."""
    kubeconfig, log = merged(local_cluster, tmp_path, PLUGIN_TTL="6")
    argv = [sys.executable, "-m", "mlkube", "controller", "run", "--lease-namespace",
            NAMESPACE, "--metrics-bind-address", ""]  # fmt: skip
    out = (tmp_path / "controller.log").open("wb")
    process = subprocess.Popen(
        argv, env={**os.environ, "KUBECONFIG": kubeconfig}, stdout=out, stderr=subprocess.STDOUT
    )
    try:
        with Kube(load_connection(str(local_cluster))) as kube:

            def renewed_after_expiry() -> dict[str, Any] | None:
                calls = _calls(log)
                lease = kube.get("coordination.k8s.io/v1", "Lease", "mlkube-controller", NAMESPACE)
                if len(calls) < 2 or not lease or process.poll() is not None:
                    assert process.poll() is None, (tmp_path / "controller.log").read_text()
                    return None
                first = datetime.fromisoformat(calls[0]["expires"].replace("Z", "+00:00"))
                renew = datetime.fromisoformat(lease["spec"]["renewTime"].replace("Z", "+00:00"))
                return lease if renew > first else None

            lease = until("a Lease renewed after the first credential expired",
                          renewed_after_expiry, timeout=90, every=1)  # fmt: skip
        assert lease["spec"]["holderIdentity"]
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
        out.close()
        with Kube(load_connection(str(local_cluster))) as kube, contextlib.suppress(NotFound):
            kube.delete("coordination.k8s.io/v1", "Lease", "mlkube-controller", NAMESPACE)
