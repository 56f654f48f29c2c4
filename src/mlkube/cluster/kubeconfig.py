"""Reading a kubeconfig the way kubectl does: ``--kubeconfig``, else ``$KUBECONFIG``
(first file), else ``~/.kube/config``; ``--context`` picks the context."""

from __future__ import annotations

import base64
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from mlkube.errors import UsageError


@dataclass(frozen=True)
class Connection:
    """Everything needed to reach and authenticate to one API server."""

    server: str
    ca_file: str | None
    cert_file: str | None
    key_file: str | None
    token: str | None
    insecure: bool
    namespace: str
    context: str
    token_file: str | None = None  # re-read on change: projected tokens rotate


SERVICE_ACCOUNT = Path("/var/run/secrets/kubernetes.io/serviceaccount")


def in_cluster(root: Path = SERVICE_ACCOUNT) -> Connection | None:
    """The pod's own ServiceAccount, as client-go's InClusterConfig finds it."""
    host, port = (
        os.environ.get("KUBERNETES_SERVICE_HOST"),
        os.environ.get("KUBERNETES_SERVICE_PORT"),
    )
    if not host or not port or not (root / "token").is_file():
        return None
    namespace = root / "namespace"
    return Connection(
        server=f"https://{host}:{port}" if ":" not in host else f"https://[{host}]:{port}",
        ca_file=str(root / "ca.crt"),
        cert_file=None,
        key_file=None,
        token=None,
        insecure=False,
        namespace=namespace.read_text().strip() if namespace.is_file() else "default",
        context="in-cluster",
        token_file=str(root / "token"),
    )


def kubeconfig_path(explicit: str | None) -> Path:
    if explicit:
        return Path(explicit)
    env = os.environ.get("KUBECONFIG")
    if env:
        return Path(env.split(os.pathsep)[0])
    return Path.home() / ".kube" / "config"


def _named(items: Any, name: str, what: str, path: Path) -> dict[str, Any]:
    for item in items if isinstance(items, list) else []:
        if isinstance(item, dict) and item.get("name") == name:
            value = item.get(what)
            return value if isinstance(value, dict) else {}
    raise UsageError(f"{path}: no {what} named {name!r}")


def _file(section: dict[str, Any], key: str, base: Path, spill: Path) -> str | None:
    """A path for ``key`` (relative to the kubeconfig) or for its inline ``key-data``."""
    if section.get(f"{key}-data"):
        target = spill / key
        target.write_bytes(base64.b64decode(section[f"{key}-data"]))
        target.chmod(0o600)
        return str(target)
    if section.get(key):
        return str((base / section[key]).resolve())
    return None


def load_connection(kubeconfig: str | None = None, context: str | None = None) -> Connection:
    path = kubeconfig_path(kubeconfig)
    if not kubeconfig and not os.environ.get("KUBECONFIG") and not path.exists():
        inside = in_cluster()
        if inside is not None:
            return inside
    try:
        config = yaml.safe_load(path.read_text()) or {}
    except OSError as exc:
        raise UsageError(f"{path}: cannot read kubeconfig: {exc.strerror}") from None
    except yaml.YAMLError:
        raise UsageError(f"{path}: not a valid kubeconfig (YAML error)") from None
    name = context or config.get("current-context")
    if not name:
        raise UsageError(f"{path}: no current-context; pass --context")
    ctx = _named(config.get("contexts"), name, "context", path)
    cluster = _named(config.get("clusters"), str(ctx.get("cluster")), "cluster", path)
    user = (
        _named(config.get("users"), str(ctx.get("user")), "user", path) if ctx.get("user") else {}
    )
    if "exec" in user or "auth-provider" in user:
        raise UsageError(
            f"{path}: context {name!r} uses an exec or auth-provider plugin, "
            "which mlkube does not run"
        )
    spill = Path(tempfile.mkdtemp(prefix="mlkube-kubeconfig-"))
    base = path.parent
    return Connection(
        server=str(cluster.get("server", "")).rstrip("/"),
        ca_file=_file(cluster, "certificate-authority", base, spill),
        cert_file=_file(user, "client-certificate", base, spill),
        key_file=_file(user, "client-key", base, spill),
        token=user.get("token"),
        insecure=bool(cluster.get("insecure-skip-tls-verify")),
        namespace=str(ctx.get("namespace") or "default"),
        context=str(name),
    )
