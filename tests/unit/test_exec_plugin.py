"""Running exec credential plugins as client-go does: what the plugin is given, what it
may answer, and a one-line error naming the plugin for each way it can fail.

The plugins here are small shell scripts standing in for `aws`, `gke-gcloud-auth-plugin`
and `kubelogin` (which cannot run here); their answers follow client-go's ExecCredential
(k8s.io/client-auth/apis/clientauthentication/v1). Talking to a real API server through
a plugin is tested in tests/integration/test_exec_auth.py.
"""

from __future__ import annotations

import json
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from mlkube.cluster.auth import CredentialError, ExecPlugin
from mlkube.cluster.kubeconfig import ExecConfig, load_connection

V1 = "client.authentication.k8s.io/v1"


def plugin(tmp_path: Path, body: str) -> Path:
    script = tmp_path / "plugin"
    script.write_text("#!/bin/sh\n" + textwrap.dedent(body))
    script.chmod(0o755)
    return script


def credential(token: str = "t0k3n", expires: datetime | None = None, api: str = V1) -> str:
    status: dict[str, Any] = {"token": token}
    if expires:
        status["expirationTimestamp"] = expires.isoformat().replace("+00:00", "Z")
    return json.dumps({"apiVersion": api, "kind": "ExecCredential", "status": status})


def exec_config(tmp_path: Path, **fields: Any) -> ExecConfig:
    """Through the loader, as a kubeconfig would give it."""
    spec = {"apiVersion": V1, "command": "./plugin", "interactiveMode": "Never", **fields}
    path = tmp_path / "config"
    path.write_text(yaml.safe_dump({
        "clusters": [{"name": "c", "cluster": {
            "server": "https://127.0.0.1:6443", "insecure-skip-tls-verify": True,
            "extensions": [{"name": "client.authentication.k8s.io/exec",
                            "extension": {"audience": "ml"}}]}}],
        "users": [{"name": "eks-user", "user": {"exec": spec}}],
        "contexts": [{"name": "c", "context": {"cluster": "c", "user": "eks-user"}}],
        "current-context": "c",
    }))  # fmt: skip
    config = load_connection(str(path)).exec
    assert config is not None
    return config


def test_what_the_plugin_is_given(tmp_path: Path) -> None:
    seen = tmp_path / "seen"
    plugin(
        tmp_path,
        f"""\
        echo "$KUBERNETES_EXEC_INFO" > {seen}.info
        echo "$AWS_PROFILE $1 $2" > {seen}.env
        cat > {seen}.stdin
        echo '{credential()}'
    """,
    )
    config = exec_config(
        tmp_path, args=["eks", "get-token"], env=[{"name": "AWS_PROFILE", "value": "ml"}],
        provideClusterInfo=True,
    )  # fmt: skip
    assert ExecPlugin(config).token() == "t0k3n"
    info = json.loads(Path(f"{seen}.info").read_text())
    assert info["apiVersion"] == V1 and info["kind"] == "ExecCredential"
    assert info["spec"]["interactive"] is False
    assert info["spec"]["cluster"]["server"] == "https://127.0.0.1:6443"
    assert info["spec"]["cluster"]["insecure-skip-tls-verify"] is True
    assert info["spec"]["cluster"]["config"] == {"audience": "ml"}
    assert Path(f"{seen}.env").read_text() == "ml eks get-token\n"
    assert Path(f"{seen}.stdin").read_text() == ""  # not interactive: no stdin


def test_no_cluster_info_unless_asked(tmp_path: Path) -> None:
    seen = tmp_path / "seen"
    plugin(
        tmp_path,
        f"""\
        echo "$KUBERNETES_EXEC_INFO" > {seen}
        echo '{credential()}'
    """,
    )
    ExecPlugin(exec_config(tmp_path)).token()
    assert "cluster" not in json.loads(seen.read_text())["spec"]


def test_cached_until_expiry(tmp_path: Path) -> None:
    later = datetime.now(UTC) + timedelta(hours=1)
    plugin(tmp_path, f"echo '{credential(expires=later)}'\n")
    fresh = ExecPlugin(exec_config(tmp_path))
    fresh.token(), fresh.token(), fresh.token()
    assert fresh.calls == 1
    past = datetime.now(UTC) - timedelta(seconds=1)
    plugin(tmp_path, f"echo '{credential(expires=past)}'\n")
    stale = ExecPlugin(exec_config(tmp_path))
    stale.token(), stale.token()
    assert stale.calls == 2


def test_refresh_after_a_rejection_drops_only_the_rejected_token(tmp_path: Path) -> None:
    plugin(tmp_path, f"echo '{credential()}'\n")
    p = ExecPlugin(exec_config(tmp_path))
    p.token()
    p.refresh("some older token")
    p.token()
    assert p.calls == 1
    p.refresh("t0k3n")
    p.token()
    assert p.calls == 2


def test_a_client_certificate_credential(tmp_path: Path) -> None:
    plugin(
        tmp_path,
        """\
        echo '{"apiVersion": "client.authentication.k8s.io/v1", "kind": "ExecCredential",
               "status": {"clientCertificateData": "-----BEGIN CERTIFICATE-----...",
                          "clientKeyData": "-----BEGIN RSA PRIVATE KEY-----..."}}'
    """,
    )
    got = ExecPlugin(exec_config(tmp_path)).credential()
    assert got.token is None and got.cert is not None and got.key is not None


FAILURES = {
    "not installed": ({"command": "aws-nonexistent", "installHint": "Install the AWS CLI:\n"
                       "  https://docs.aws.amazon.com/cli/"}, None,
                      "is not installed (not found in PATH): Install the AWS CLI: https://"),
    "missing path": ({"command": "./bin/missing"}, None, "is not installed (no program at /"),
    "no hint": ({"command": "kubelogin-nonexistent"}, None, "fix users[].user.exec.command"),
    "always needs a terminal": ({"interactiveMode": "Always"}, f"echo '{credential()}'",
                                "needs a terminal (interactiveMode: Always)"),
    "exits non-zero": ({}, "echo 'error: token expired, run gcloud auth login' >&2; exit 1",
                       "failed (exit 1): error: token expired, run gcloud auth login"),
    "not json": ({}, "echo 'Please visit https://microsoft.com/devicelogin'",
                 "not an ExecCredential (not JSON)"),
    "wrong version": ({}, f"echo '{credential(api='client.authentication.k8s.io/v1beta1')}'",
                      "answered apiVersion 'client.authentication.k8s.io/v1beta1'"),
    "no token": ({}, """echo '{"apiVersion": "client.authentication.k8s.io/v1",
                 "kind": "ExecCredential", "status": {}}'""", "neither a token nor"),
    "bad expiry": ({}, """echo '{"apiVersion": "client.authentication.k8s.io/v1",
                   "kind": "ExecCredential",
                   "status": {"token": "x", "expirationTimestamp": "tomorrow"}}'""",
                   "bad expirationTimestamp"),
}  # fmt: skip


@pytest.mark.parametrize("name", list(FAILURES))
def test_plugin_failures_are_one_line_naming_the_plugin(tmp_path: Path, name: str) -> None:
    fields, body, says = FAILURES[name]
    if body is not None:
        plugin(tmp_path, body + "\n")
    config = exec_config(tmp_path, **fields)
    with pytest.raises(CredentialError) as info:
        ExecPlugin(config).token()
    message = str(info.value)
    assert "\n" not in message
    assert says in message, message
    assert "user 'eks-user'" in message and f"{tmp_path / 'config'}:" in message
