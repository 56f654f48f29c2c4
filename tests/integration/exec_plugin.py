"""An exec credential plugin for the tests, doing what `aws eks get-token` does for EKS:
hand out a short-lived token for an identity the API server knows. Here the identity
is a ServiceAccount and the token comes from its TokenRequest, asked for with an admin
kubeconfig (client-go's plugin protocol: k8s.io/client-go/plugin/pkg/client/auth/exec).

Environment (set in the kubeconfig's ``exec.env``):
    PLUGIN_ADMIN_KUBECONFIG   the admin kubeconfig used to call TokenRequest
    PLUGIN_SERVICE_ACCOUNT    namespace/name of the ServiceAccount
    PLUGIN_CALLS              file: one JSON line per invocation (its KUBERNETES_EXEC_INFO,
                              when it ran, which token and expiry it handed out)
    PLUGIN_TTL                seconds until the expirationTimestamp it reports (default:
                              the token's own)
    PLUGIN_BOGUS_FIRST        if set, the first invocation hands out a token the server
                              rejects (as a revoked or rotated credential would be)
    PLUGIN_CLIENT_CERT        if set, hand out the admin kubeconfig's client certificate
                              and key instead of a token (as Teleport's `tsh kube
                              credentials` does)
"""

from __future__ import annotations

import json
import os
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from mlkube.cluster.client import Kube
from mlkube.cluster.kubeconfig import load_connection


def main() -> int:
    info = json.loads(os.environ.get("KUBERNETES_EXEC_INFO", "{}"))
    calls = Path(os.environ["PLUGIN_CALLS"])
    previous = calls.read_text().count("\n") if calls.exists() else 0
    at = datetime.now(UTC).timestamp()
    if os.environ.get("PLUGIN_CLIENT_CERT"):
        return _client_certificate(info, calls, at)
    namespace, name = os.environ["PLUGIN_SERVICE_ACCOUNT"].split("/")
    if os.environ.get("PLUGIN_BOGUS_FIRST") and previous == 0:
        token, expires = "bogus-token", datetime.now(UTC) + timedelta(hours=1)
    else:
        with Kube(load_connection(os.environ["PLUGIN_ADMIN_KUBECONFIG"])) as kube:
            review = kube.request(
                "POST",
                f"/api/v1/namespaces/{namespace}/serviceaccounts/{name}/token",
                json={
                    "apiVersion": "authentication.k8s.io/v1",
                    "kind": "TokenRequest",
                    "spec": {"expirationSeconds": 600},
                },
            )
        token = review["status"]["token"]
        expires = datetime.fromisoformat(review["status"]["expirationTimestamp"])
        if os.environ.get("PLUGIN_TTL"):
            expires = datetime.now(UTC) + timedelta(seconds=float(os.environ["PLUGIN_TTL"]))
    with calls.open("a") as f:  # what it was given and what it handed out
        f.write(json.dumps({
            "info": info, "at": at, "token": "bogus" if token == "bogus-token" else "real",
            "expires": expires.isoformat().replace("+00:00", "Z"),
        }) + "\n")  # fmt: skip
    credential = {
        "apiVersion": info.get("apiVersion", "client.authentication.k8s.io/v1"),
        "kind": "ExecCredential",
        "status": {
            "token": token,
            "expirationTimestamp": expires.isoformat().replace("+00:00", "Z"),
        },
    }
    json.dump(credential, sys.stdout)
    return 0


def _client_certificate(info: dict[str, object], calls: Path, at: float) -> int:
    admin = load_connection(os.environ["PLUGIN_ADMIN_KUBECONFIG"])
    assert admin.cert_file and admin.key_file
    with calls.open("a") as f:
        f.write(json.dumps({"info": info, "at": at, "token": "certificate"}) + "\n")
    status = {
        "clientCertificateData": Path(admin.cert_file).read_text(),
        "clientKeyData": Path(admin.key_file).read_text(),
    }
    apiversion = info.get("apiVersion", "client.authentication.k8s.io/v1")
    json.dump({"apiVersion": apiversion, "kind": "ExecCredential", "status": status}, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
