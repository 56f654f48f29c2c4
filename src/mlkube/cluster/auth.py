"""A `Connection` turned into what httpx needs: TLS (with inline keys kept off the disk),
a proxy, impersonation headers, and credentials that refresh themselves as client-go's
do: a token file re-read when it changes, an exec plugin run again when its credential
expires or the server answers 401.

    client_options(connection)  keyword arguments for httpx.Client
    tls_context(connection)     the ssl context alone
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import shutil
import ssl
import subprocess
import sys
import tempfile
import threading
import weakref
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import httpx

from mlkube.cluster.kubeconfig import Connection, ExecConfig
from mlkube.errors import InputError, MlkubeError

SAFE_HEADER_CHARS = "!#$&'*+-.^_`|~"  # token characters kept as they are in Impersonate-Extra-


class CredentialError(MlkubeError):
    """An exec credential plugin could not give a credential."""


# TLS ----------------------------------------------------------------------------------


def tls_context(connection: Connection) -> ssl.SSLContext:
    """Server verification and client certificate, as the kubeconfig says."""
    if connection.insecure:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    else:
        cadata = connection.ca_data.decode("ascii") if connection.ca_data else None
        context = ssl.create_default_context(cafile=connection.ca_file, cadata=cadata)
    if connection.cert_data or connection.cert_file:
        try:
            load_chain(context, connection.cert_file or connection.cert_data,
                       connection.key_file or connection.key_data)  # fmt: skip
        except ssl.SSLError as exc:
            where = "client-key-data" if connection.key_data else "client-key"
            source, line = connection.origin.get(where, (connection.context, 0))
            raise InputError(
                source, line, "the client certificate and key cannot be used together "
                f"(not PEM, or the key does not match the certificate): {exc.reason}"
            ) from None  # fmt: skip
    return context


def load_chain(context: ssl.SSLContext, cert: str | bytes | None, key: str | bytes | None) -> None:
    """``load_cert_chain`` for files (``str``) or PEM in memory (``bytes``).

    Python's ssl reads a certificate and key only from a path. In-memory PEM goes into an
    anonymous memory file (memfd) reached as /proc/self/fd/N: nothing on any file system,
    and gone with the process however it ends, SIGKILL included.
    """
    with _as_path(cert) as cert_path, _as_path(key) as key_path:
        context.load_cert_chain(cert_path, key_path)


@contextlib.contextmanager
def _as_path(material: str | bytes | None) -> Iterator[Any]:
    if material is None or isinstance(material, str):
        yield material
        return
    if hasattr(os, "memfd_create"):
        fd = os.memfd_create("mlkube-tls", os.MFD_CLOEXEC)
        try:
            os.write(fd, material)
            yield f"/proc/self/fd/{fd}"
        finally:
            os.close(fd)
        return
    folder = tempfile.mkdtemp(prefix="mlkube-tls-")  # no memfd (macOS): gone right after use
    try:
        path = os.path.join(folder, "pem")
        with open(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600), "wb") as f:
            f.write(material)
        yield path
    finally:
        shutil.rmtree(folder, ignore_errors=True)


# Credentials ---------------------------------------------------------------------------


class _Source:
    """Where a bearer token comes from; ``refresh`` after a 401 says if a retry may help."""

    def token(self) -> str | None:
        raise NotImplementedError

    def refresh(self, rejected: str | None) -> bool:
        return False


class _Static(_Source):
    def __init__(self, token: str) -> None:
        self._token = token

    def token(self) -> str:
        return self._token


class TokenFile(_Source, httpx.Auth):
    """A bearer token read from a file, read again when the file changes (the kubelet
    rotates projected ServiceAccount tokens)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._stamp = -1.0
        self._token = ""

    def token(self) -> str:
        try:
            stamp = os.stat(self.path).st_mtime
            if stamp != self._stamp:
                with open(self.path) as f:
                    self._token, self._stamp = f.read().strip(), stamp
        except OSError:
            pass  # keep the last token; the server says 401 if it is stale
        return self._token

    def refresh(self, rejected: str | None) -> bool:
        self._stamp = -1.0
        return self.token() != rejected

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = f"Bearer {self.token()}"
        yield request


@dataclass(frozen=True)
class Credential:
    token: str | None
    cert: bytes | None
    key: bytes | None
    expires: datetime | None

    def expired(self) -> bool:
        return self.expires is not None and datetime.now(UTC) >= self.expires


class ExecPlugin(_Source):
    """An exec credential plugin, run when there is no credential, when it has expired,
    and once after the server rejected it (client-go's exec authenticator)."""

    def __init__(self, config: ExecConfig) -> None:
        self.config = config
        self.calls = 0
        self._cached: Credential | None = None
        self._lock = threading.Lock()
        self._contexts: weakref.WeakSet[ssl.SSLContext] = weakref.WeakSet()

    def use_for(self, context: ssl.SSLContext) -> None:
        """A client certificate the plugin returns goes into ``context`` (for new
        connections), now and whenever it is renewed."""
        with self._lock:
            self._contexts.add(context)
            if self._cached is not None and self._cached.cert and self._cached.key:
                load_chain(context, self._cached.cert, self._cached.key)

    def credential(self) -> Credential:
        with self._lock:
            if self._cached is None or self._cached.expired():
                self._cached = self._run()
                if self._cached.cert and self._cached.key:
                    for context in list(self._contexts):
                        load_chain(context, self._cached.cert, self._cached.key)
            return self._cached

    def token(self) -> str | None:
        return self.credential().token

    def refresh(self, rejected: str | None) -> bool:
        with self._lock:
            if self._cached is not None and self._cached.token == rejected:
                self._cached = None
        return True

    def _fail(self, what: str) -> CredentialError:
        c = self.config
        return CredentialError(
            f"exec plugin {os.path.basename(c.command)!r} of user {c.user!r} ({c.source}) {what}"
        )

    def _run(self) -> Credential:
        c = self.config
        command = shutil.which(c.command) if "/" not in c.command else c.command
        if command is None or not os.access(command, os.X_OK):
            hint = " ".join((c.install_hint or "").split())
            where = "not found in PATH" if "/" not in c.command else f"no program at {c.command}"
            raise self._fail(
                f"is not installed ({where})"
                + (f": {hint}" if hint else "; install it, or fix users[].user.exec.command")
            )
        terminal = sys.stdin.isatty()
        interactive = c.interactive_mode != "Never" and terminal
        if c.interactive_mode == "Always" and not terminal:
            raise self._fail(
                "needs a terminal (interactiveMode: Always) and mlkube has none here; "
                "log in once with the plugin in a terminal, or use a plugin mode that "
                "does not prompt"
            )
        info: dict[str, Any] = {
            "apiVersion": c.api_version, "kind": "ExecCredential",
            "spec": {"interactive": interactive},
        }  # fmt: skip
        if c.cluster_info:
            info["spec"]["cluster"] = json.loads(c.cluster_info)
        env = {**os.environ, **dict(c.env), "KUBERNETES_EXEC_INFO": json.dumps(info)}
        self.calls += 1
        try:
            done = subprocess.run(
                [command, *c.args],
                env=env,
                stdin=None if interactive else subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=None if interactive else subprocess.PIPE,
                timeout=300,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise self._fail(f"could not run: {exc}") from None
        if done.returncode != 0:
            said = (done.stderr or b"").decode(errors="replace").strip().splitlines()
            last = f": {said[-1].strip()[:300]}" if said else ""
            raise self._fail(
                f"failed (exit {done.returncode}){last}; run it by hand to see why "
                "(an expired login is the usual cause)"
            )
        return self._parse(done.stdout)

    def _parse(self, out: bytes) -> Credential:
        try:
            doc = json.loads(out)
        except ValueError:
            raise self._fail("printed something that is not an ExecCredential (not JSON)") from None
        if not isinstance(doc, dict) or doc.get("kind") != "ExecCredential":
            raise self._fail("printed JSON that is not an ExecCredential")
        if doc.get("apiVersion") != self.config.api_version:
            raise self._fail(
                f"answered apiVersion {doc.get('apiVersion')!r}, but the kubeconfig asks for "
                f"{self.config.api_version!r}: make them agree"
            )
        status = doc.get("status")
        if not isinstance(status, dict):
            raise self._fail("printed an ExecCredential without a status")
        token = status.get("token")
        cert, key = status.get("clientCertificateData"), status.get("clientKeyData")
        if not (isinstance(token, str) and token) and not (
            isinstance(cert, str) and isinstance(key, str) and cert and key
        ):
            raise self._fail(
                "gave neither a token nor a client certificate and key in its ExecCredential"
            )
        expires = None
        stamp = status.get("expirationTimestamp")
        if stamp is not None:
            try:
                expires = datetime.fromisoformat(str(stamp).replace("Z", "+00:00"))
                if expires.tzinfo is None:
                    raise ValueError
            except ValueError:
                raise self._fail(f"gave a bad expirationTimestamp {stamp!r}") from None
        return Credential(
            token=token if isinstance(token, str) and token else None,
            cert=cert.encode() if isinstance(cert, str) and cert else None,
            key=key.encode() if isinstance(key, str) and key else None,
            expires=expires,
        )


_PLUGINS: dict[ExecConfig, ExecPlugin] = {}
_PLUGINS_LOCK = threading.Lock()


def exec_plugin(config: ExecConfig) -> ExecPlugin:
    """One plugin (and so one cached credential) per exec config in this process, as
    client-go caches its exec authenticators."""
    with _PLUGINS_LOCK:
        return _PLUGINS.setdefault(config, ExecPlugin(config))


def authenticate(connection: Connection) -> None:
    """Fetch an exec credential now, so that a failing plugin is reported before a verb
    starts, not as a failure of whatever request came first."""
    if connection.exec and not (connection.token or connection.token_file):
        exec_plugin(connection.exec).credential()


class ClusterAuth(httpx.Auth):
    """Per request: the TLS server name (SNI and hostname check), then a bearer token
    from one source; a 401 is retried once with a fresh token when one may exist."""

    def __init__(self, source: _Source | None, server_name: str | None = None) -> None:
        self.source = source
        self.server_name = server_name

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        if self.server_name:
            request.extensions = {**request.extensions, "sni_hostname": self.server_name}
        if self.source is None:
            yield request
            return
        token = self.source.token()
        if token:
            request.headers["Authorization"] = f"Bearer {token}"
        response = yield request
        if response.status_code == 401 and self.source.refresh(token):
            fresh = self.source.token()
            if fresh and fresh != token:
                request.headers["Authorization"] = f"Bearer {fresh}"
                yield request


def impersonation_headers(connection: Connection) -> list[tuple[str, str]]:
    """``Impersonate-*`` headers, as client-go's ImpersonationConfig sends them."""
    who = connection.impersonate
    headers: list[tuple[str, str]] = []
    if who.user:
        headers.append(("Impersonate-User", who.user))
    if who.uid:
        headers.append(("Impersonate-Uid", who.uid))
    headers += [("Impersonate-Group", g) for g in who.groups]
    for key, values in who.extra:
        name = f"Impersonate-Extra-{quote(key, safe=SAFE_HEADER_CHARS)}"
        headers += [(name, v) for v in values]
    return headers


def client_options(connection: Connection) -> dict[str, Any]:
    """``verify``, ``auth``, ``headers`` and ``proxy`` for an httpx.Client."""
    verify = tls_context(connection)
    source: _Source | None = None
    headers = impersonation_headers(connection)
    if connection.token:
        source = _Static(connection.token)
    elif connection.token_file:
        source = TokenFile(connection.token_file)
    elif connection.username:
        pair = f"{connection.username}:{connection.password or ''}".encode()
        headers.append(("Authorization", f"Basic {base64.b64encode(pair).decode()}"))
    elif connection.exec:
        plugin = exec_plugin(connection.exec)
        plugin.use_for(verify)
        source = plugin
    if connection.disable_compression:
        headers.append(("Accept-Encoding", "identity"))
    auth = None
    if source or connection.tls_server_name:
        auth = ClusterAuth(source, connection.tls_server_name)
    options: dict[str, Any] = {"verify": verify, "auth": auth, "headers": headers}
    if connection.proxy_url:
        options["proxy"] = connection.proxy_url
    return options
