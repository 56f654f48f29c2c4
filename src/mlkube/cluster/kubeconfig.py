"""Reading kubeconfig files the way kubectl (client-go's clientcmd) does.

Which files: ``--kubeconfig`` alone, else every file of ``$KUBECONFIG`` (missing ones
skipped), else ``~/.kube/config``, else the pod's ServiceAccount. Several files are
merged by clientcmd's rules: the first file to name a cluster, user or context wins it
whole, ``current-context`` comes from the first file that sets one, and relative paths
are resolved against the file that holds them. ``--context``, ``--cluster``, ``--user``,
``-n`` and ``--as``/``--as-group``/``--as-uid`` override what the files say.

Nothing here touches the network or runs a plugin: the result is a `Connection`, and
`mlkube.cluster.auth` turns it into TLS settings and credentials. Inline ``*-data``
material is kept in memory, never written to disk.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from mlkube.errors import InputError, UsageError
from mlkube.manifests.fieldpath import FieldPath
from mlkube.manifests.yamlstream import Document, read_stream

EXEC_API_VERSIONS = ("client.authentication.k8s.io/v1", "client.authentication.k8s.io/v1beta1")
EXEC_INFO_EXTENSION = "client.authentication.k8s.io/exec"
INTERACTIVE_MODES = ("Never", "IfAvailable", "Always")
PROXY_SCHEMES = ("http", "https", "socks5")
# The legacy in-tree auth providers, removed from client-go in 1.26, and what replaced them.
AUTH_PROVIDER_REPLACEMENTS = {
    "gcp": "gke-gcloud-auth-plugin (gcloud components install gke-gcloud-auth-plugin, "
    "then gcloud container clusters get-credentials)",
    "azure": "kubelogin (az aks install-cli, then kubelogin convert-kubeconfig -l azurecli)",
    "oidc": "kubelogin or kubectl oidc-login (an exec plugin: kubectl krew install oidc-login)",
}


@dataclass(frozen=True)
class ExecConfig:
    """An exec credential plugin (``users[].user.exec``), ready to run."""

    api_version: str
    command: str  # absolute when the kubeconfig gave a path, else looked up in PATH
    args: tuple[str, ...]
    env: tuple[tuple[str, str], ...]
    install_hint: str | None
    interactive_mode: str
    provide_cluster_info: bool
    user: str  # the kubeconfig's name for the user, for messages
    source: str  # file:line of the exec block, for messages
    cluster_info: str | None = None  # JSON of spec.cluster when provideClusterInfo


@dataclass(frozen=True)
class Impersonation:
    user: str | None = None
    uid: str | None = None
    groups: tuple[str, ...] = ()
    extra: tuple[tuple[str, tuple[str, ...]], ...] = ()


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
    ca_data: bytes | None = None  # inline material stays in memory (see auth.tls_context)
    cert_data: bytes | None = None
    key_data: bytes | None = None
    tls_server_name: str | None = None
    proxy_url: str | None = None
    disable_compression: bool = False
    username: str | None = None
    password: str | None = None
    impersonate: Impersonation = Impersonation()
    exec: ExecConfig | None = None
    # Where the TLS material came from ("client-key-data" → (file, line)), for errors
    # found only when the material is loaded.
    origin: Mapping[str, tuple[str, int]] = field(default_factory=dict, compare=False)


@dataclass(frozen=True)
class Overrides:
    """kubectl's flags that override the kubeconfig."""

    context: str | None = None
    cluster: str | None = None
    user: str | None = None
    namespace: str | None = None
    impersonate: Impersonation | None = None  # from --as, --as-group, --as-uid


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


def kubeconfig_paths(explicit: str | None) -> list[Path]:
    """The files to merge, in order of precedence."""
    if explicit:
        return [Path(explicit)]
    env = os.environ.get("KUBECONFIG")
    if env:
        seen: list[Path] = []
        for part in env.split(os.pathsep):
            if part and Path(part) not in seen:
                seen.append(Path(part))
        return seen
    return [Path.home() / ".kube" / "config"]


def kubeconfig_path(explicit: str | None) -> Path:
    """The first file: where kubectl would write."""
    return kubeconfig_paths(explicit)[0]


# One kubeconfig file ----------------------------------------------------------------


@dataclass(frozen=True)
class _Entry:
    """A named cluster, user or context, with the file and node it came from."""

    name: str
    value: dict[str, Any]
    doc: Document
    path: FieldPath  # of ``value`` inside the document

    @property
    def file(self) -> str:
        return self.doc.source

    @property
    def base(self) -> Path:
        return Path(self.doc.source).absolute().parent

    def line(self, *sub: str | int) -> int:
        return self.doc.line_of((*self.path, *sub))

    def error(self, key: str | tuple[str | int, ...], message: str) -> InputError:
        sub = key if isinstance(key, tuple) else (key,)
        shown = ".".join(str(s) for s in (*self.path, *sub))
        return InputError(self.file, self.line(*sub), f"{shown}: {message}")

    def where(self, key: str) -> tuple[str, int]:
        return self.file, self.line(key)

    def text(self, key: str) -> str | None:
        value = self.value.get(key)
        if value is None or value == "":
            return None
        if not isinstance(value, str):
            raise self.error(key, f"expected a string, got {_kind(value)}")
        return value

    def flag(self, key: str) -> bool:
        value = self.value.get(key)
        if value is None:
            return False
        if not isinstance(value, bool):
            raise self.error(key, f"expected true or false, got {_kind(value)}")
        return value

    def mapping(self, key: str) -> dict[str, Any]:
        value = self.value.get(key)
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise self.error(key, f"expected a mapping, got {_kind(value)}")
        return value

    def strings(self, key: str) -> tuple[str, ...]:
        value = self.value.get(key)
        if value is None:
            return ()
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self.error(key, "expected a list of strings")
        return tuple(value)

    def data(self, key: str) -> bytes | None:
        """A base64 ``*-data`` field, decoded."""
        value = self.value.get(key)
        if value is None or value == "":
            return None
        if not isinstance(value, str):
            raise self.error(key, f"expected base64 text, got {_kind(value)}")
        try:
            return base64.b64decode("".join(value.split()), validate=True)
        except (binascii.Error, ValueError):
            raise self.error(key, "not valid base64") from None

    def local_path(self, key: str) -> str | None:
        """A file named by ``key``, resolved against this kubeconfig's directory."""
        value = self.text(key)
        if value is None:
            return None
        path = self.base / value
        if not path.is_file():
            raise self.error(key, f"{path}: no such file")
        return str(path)


class _File:
    """One kubeconfig file's named entries and current-context."""

    def __init__(self, path: Path, *, required: bool) -> None:
        self.path = path
        self.entries: dict[str, dict[str, _Entry]] = {"cluster": {}, "user": {}, "context": {}}
        self.current_context: str | None = None
        self.preferred_namespace: str | None = None
        doc = _read(path, required=required)
        if doc is None:
            return
        top = doc.obj
        if top is None:
            return
        if not isinstance(top, dict):
            raise InputError(
                str(path), doc.line, f"not a kubeconfig: the top level is {_kind(top)}, "
                "expected a mapping with clusters, users and contexts"
            )  # fmt: skip
        current = top.get("current-context")
        if current is not None and not isinstance(current, str):
            raise InputError(
                str(path), doc.line_of(["current-context"]), "current-context: expected a string"
            )
        self.current_context = current or None
        for what in ("cluster", "user", "context"):
            self._named(doc, what)

    def _named(self, doc: Document, what: str) -> None:
        key = f"{what}s"
        items = doc.obj.get(key)
        if items is None:
            return
        if not isinstance(items, list):
            raise InputError(
                doc.source, doc.line_of([key]), f"{key}: expected a list, got {_kind(items)}"
            )
        for i, item in enumerate(items):
            where = doc.line_of([key, i])
            if not isinstance(item, dict):
                raise InputError(doc.source, where, f"{key}[{i}]: expected a mapping")
            name = item.get("name")
            if not isinstance(name, str) or not name:
                raise InputError(doc.source, where, f"{key}[{i}].name: expected a non-empty string")
            value = item.get(what)
            if value is None:
                value = {}
            if not isinstance(value, dict):
                raise InputError(
                    doc.source,
                    doc.line_of([key, i, what]),
                    f"{key}[{i}].{what}: expected a mapping, got {_kind(value)}",
                )
            if name in self.entries[what]:  # clientcmd: "duplicate name in list"
                raise InputError(doc.source, where, f"{key}: duplicate name {name!r}")
            self.entries[what][name] = _Entry(name, value, doc, (key, i, what))


def _read(path: Path, *, required: bool) -> Document | None:
    try:
        with path.open("rb") as stream:
            docs = read_stream(stream, str(path))
            try:
                return next(docs, None)
            except (ValueError, RecursionError) as exc:  # e.g. a bad !!binary scalar
                raise InputError(str(path), 1, f"not a valid kubeconfig: {exc}") from None
    except FileNotFoundError:
        if required:
            raise UsageError(f"{path}: no such kubeconfig file") from None
        return None
    except IsADirectoryError:
        raise InputError(str(path), 0, "cannot read kubeconfig: is a directory") from None
    except OSError as exc:
        raise InputError(str(path), 0, f"cannot read kubeconfig: {exc.strerror}") from None


def _kind(value: object) -> str:
    names = {str: "a string", int: "a number", float: "a number", bool: "true/false",
             list: "a list", dict: "a mapping", type(None): "nothing"}  # fmt: skip
    return names.get(type(value), type(value).__name__)


# Merging and choosing -----------------------------------------------------------------


class Kubeconfig:
    """The merged view of several kubeconfig files."""

    def __init__(self, paths: list[Path], *, explicit: bool) -> None:
        self.paths = paths
        self.files = [_File(p, required=explicit) for p in paths]
        self.current_context = next(
            (f.current_context for f in self.files if f.current_context), None
        )

    def named(self, what: str, name: str) -> _Entry | None:
        for f in self.files:  # the first file to define a name wins it whole
            if name in f.entries[what]:
                return f.entries[what][name]
        return None

    @property
    def empty(self) -> bool:
        return not any(any(f.entries.values()) for f in self.files)

    def describe(self) -> str:
        return os.pathsep.join(str(p) for p in self.paths)


def load_connection(
    kubeconfig: str | None = None,
    context: str | None = None,
    *,
    overrides: Overrides | None = None,
) -> Connection:
    """The connection kubectl would use with the same files and flags."""
    o = overrides or Overrides()
    context = context or o.context
    paths = kubeconfig_paths(kubeconfig)
    explicit = bool(kubeconfig)
    if not explicit and not os.environ.get("KUBECONFIG") and not paths[0].exists():
        inside = in_cluster()
        if inside is not None:
            return replace(inside, namespace=o.namespace or inside.namespace)
    config = Kubeconfig(paths, explicit=explicit)
    if config.empty and not explicit and not any(p.exists() for p in paths):
        raise UsageError(
            f"no kubeconfig: {config.describe()} does not exist and this is not a pod; "
            "pass --kubeconfig or set KUBECONFIG"
        )
    name = context or config.current_context
    ctx = config.named("context", name) if name else None
    if name and ctx is None:
        raise UsageError(f"{config.describe()}: no context named {name!r}")
    if ctx is None and not o.cluster:
        raise UsageError(f"{config.describe()}: no current-context; pass --context")
    cluster_name = o.cluster or (ctx.text("cluster") if ctx else None)
    if not cluster_name:
        assert ctx is not None  # without a context, --cluster was given
        raise ctx.error("cluster", "the context names no cluster; pass --cluster")
    cluster = config.named("cluster", cluster_name)
    if cluster is None:
        raise UsageError(f"{config.describe()}: no cluster named {cluster_name!r}")
    user_name = o.user or (ctx.text("user") if ctx else None)
    user = config.named("user", user_name) if user_name else None
    if user_name and user is None:
        raise UsageError(f"{config.describe()}: no user named {user_name!r}")
    namespace = o.namespace or (ctx.text("namespace") if ctx else None) or "default"
    return _connection(cluster, user, str(name or ""), namespace, o.impersonate)


def _connection(
    cluster: _Entry,
    user: _Entry | None,
    context: str,
    namespace: str,
    impersonate: Impersonation | None,
) -> Connection:
    server = cluster.text("server")
    if not server:
        raise cluster.error("server", "the cluster has no server")
    insecure = cluster.flag("insecure-skip-tls-verify")
    ca_data = _ca(cluster, "certificate-authority-data", cluster.data("certificate-authority-data"))
    ca_file = None if ca_data else cluster.local_path("certificate-authority")
    if ca_file:
        _ca(cluster, "certificate-authority", Path(ca_file).read_bytes())
    if insecure and (ca_data or ca_file):
        raise cluster.error(
            "insecure-skip-tls-verify",
            "a certificate authority together with insecure-skip-tls-verify is not "
            "allowed (kubectl refuses it too): drop one",
        )
    proxy = cluster.text("proxy-url")
    if proxy and proxy.split("://", 1)[0] not in PROXY_SCHEMES:
        raise cluster.error("proxy-url", f"{proxy!r}: use an http, https or socks5 URL")
    origin = {k: cluster.where(k) for k in ("certificate-authority", "certificate-authority-data")}
    u = user or _Entry("", {}, cluster.doc, ())
    if user is not None:
        origin.update({k: user.where(k) for k in _USER_TLS})
    cert_data, key_data = u.data("client-certificate-data"), u.data("client-key-data")
    for key, pem in (("client-certificate-data", cert_data), ("client-key-data", key_data)):
        if pem is not None and b"-----BEGIN" not in pem:
            raise u.error(key, "not a PEM certificate or key")
    cert_file = None if cert_data else u.local_path("client-certificate")
    key_file = None if key_data else u.local_path("client-key")
    if bool(cert_data or cert_file) != bool(key_data or key_file):
        raise u.error(
            "client-key" if cert_data or cert_file else "client-certificate",
            "a client certificate needs its key, and a key its certificate",
        )
    _refuse_auth_provider(u)
    token_file = u.text("tokenFile")
    if token_file:
        token_file = str(u.base / token_file)
    connection = Connection(
        server=server.rstrip("/"),
        ca_file=ca_file,
        cert_file=cert_file,
        key_file=key_file,
        token=u.text("token"),
        insecure=insecure,
        namespace=namespace,
        context=context,
        token_file=token_file,
        ca_data=ca_data,
        cert_data=cert_data,
        key_data=key_data,
        tls_server_name=cluster.text("tls-server-name"),
        proxy_url=proxy,
        disable_compression=cluster.flag("disable-compression"),
        username=u.text("username"),
        password=u.text("password"),
        impersonate=impersonate or _impersonation(u),
        origin=origin,
    )
    explicit_auth = connection.token or token_file or connection.username or cert_data or cert_file
    if "exec" in u.value and not explicit_auth:  # client-go: explicit credentials win
        connection = replace(connection, exec=_exec(u, cluster, connection))
    return connection


_USER_TLS = ("client-certificate", "client-certificate-data", "client-key", "client-key-data")


def _ca(cluster: _Entry, key: str, pem: bytes | None) -> bytes | None:
    """``pem`` if it holds at least one certificate ssl can load, else an InputError."""
    if pem is None:
        return None
    try:
        ssl.create_default_context(cadata=pem.decode("ascii"))
    except (ssl.SSLError, UnicodeDecodeError, ValueError):
        raise cluster.error(key, "not a PEM certificate authority") from None
    return pem


def _refuse_auth_provider(user: _Entry) -> None:
    if "auth-provider" not in user.value:
        return
    provider = user.mapping("auth-provider").get("name")
    replacement = AUTH_PROVIDER_REPLACEMENTS.get(str(provider))
    advice = (
        f"use the exec plugin {replacement}"
        if replacement
        else "use the exec credential plugin your provider documents"
    )
    raise user.error(
        "auth-provider",
        f"the {provider!r} auth-provider was removed from kubectl and client-go in 1.26; {advice}",
    )


def _impersonation(user: _Entry) -> Impersonation:
    extra = user.mapping("as-user-extra")
    pairs: list[tuple[str, tuple[str, ...]]] = []
    for key, values in extra.items():
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            raise user.error(("as-user-extra", str(key)), "expected a list of strings")
        pairs.append((str(key), tuple(values)))
    return Impersonation(
        user=user.text("as"),
        uid=user.text("as-uid"),
        groups=user.strings("as-groups"),
        extra=tuple(pairs),
    )


def _exec(user: _Entry, cluster: _Entry, connection: Connection) -> ExecConfig:
    spec = _Entry(user.name, user.mapping("exec"), user.doc, (*user.path, "exec"))
    api_version = spec.text("apiVersion")
    if api_version not in EXEC_API_VERSIONS:
        raise spec.error(
            "apiVersion",
            f"{api_version!r}: mlkube runs exec plugins of {' and '.join(EXEC_API_VERSIONS)}",
        )
    command = spec.text("command")
    if not command:
        raise spec.error("command", "the exec plugin has no command")
    if "/" in command:  # as client-go: a path is relative to the kubeconfig, a name to PATH
        command = str(spec.base / command)
    mode = spec.text("interactiveMode")
    if mode is None:
        if api_version.endswith("/v1"):
            raise spec.error(
                "interactiveMode", "required for client.authentication.k8s.io/v1 (Never, "
                "IfAvailable or Always)"
            )  # fmt: skip
        mode = "IfAvailable"
    if mode not in INTERACTIVE_MODES:
        raise spec.error("interactiveMode", f"{mode!r}: use Never, IfAvailable or Always")
    env = spec.value.get("env") or []
    if not isinstance(env, list) or not all(
        isinstance(e, dict) and isinstance(e.get("name"), str) and isinstance(e.get("value"), str)
        for e in env
    ):
        raise spec.error("env", "expected a list of {name, value} strings")
    info = None
    if spec.flag("provideClusterInfo"):
        info = json.dumps(_cluster_info(cluster, connection))
    return ExecConfig(
        api_version=api_version,
        command=command,
        args=spec.strings("args"),
        env=tuple((e["name"], e["value"]) for e in env),
        install_hint=spec.text("installHint"),
        interactive_mode=mode,
        provide_cluster_info=info is not None,
        user=user.name,
        source=f"{spec.file}:{spec.line()}",
        cluster_info=info,
    )


def _cluster_info(cluster: _Entry, c: Connection) -> dict[str, Any]:
    """``spec.cluster`` of KUBERNETES_EXEC_INFO, as client-go's clientauthentication.Cluster."""
    ca = c.ca_data or (Path(c.ca_file).read_bytes() if c.ca_file else None)
    info: dict[str, Any] = {"server": c.server}
    if c.tls_server_name:
        info["tls-server-name"] = c.tls_server_name
    if c.insecure:
        info["insecure-skip-tls-verify"] = True
    if ca:
        info["certificate-authority-data"] = base64.b64encode(ca).decode()
    if c.proxy_url:
        info["proxy-url"] = c.proxy_url
    if c.disable_compression:
        info["disable-compression"] = True
    extensions = cluster.value.get("extensions") or []
    for ext in extensions if isinstance(extensions, list) else []:
        if isinstance(ext, dict) and ext.get("name") == EXEC_INFO_EXTENSION:
            info["config"] = ext.get("extension")
    return info
