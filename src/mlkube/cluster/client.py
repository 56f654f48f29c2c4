"""A small, synchronous Kubernetes API client: discovery, get, list, server-side
apply, delete and watch. Enough for mlkube; typed errors; one seam (`Kube`) that
tests drive against the real local cluster.

    ApiError                the server answered with an error status
    └── NotFound            404
"""

from __future__ import annotations

import json
import os
import ssl
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from typing import Any

import httpx

from mlkube.cluster.kubeconfig import Connection
from mlkube.errors import ClusterError, MlkubeError, Unreachable

FIELD_MANAGER = "mlkube"


class ApiError(ClusterError):
    def __init__(
        self, status: int, reason: str, message: str, causes: list[dict[str, Any]] | None = None
    ) -> None:
        super().__init__(f"API server: {status} {reason}: {message}")
        self.status = status
        self.reason = reason
        self.message = message
        self.causes = causes or []  # the Status' details.causes: field, type, message


class NotFound(ApiError):
    pass


@dataclass(frozen=True)
class Resource:
    """How the API server serves one kind."""

    api_version: str
    kind: str
    plural: str
    namespaced: bool

    def path(self, namespace: str | None = None, name: str | None = None) -> str:
        root = (
            f"/api/{self.api_version}"
            if "/" not in self.api_version
            else f"/apis/{self.api_version}"
        )
        if self.namespaced and namespace:
            root += f"/namespaces/{namespace}"
        root += f"/{self.plural}"
        return f"{root}/{name}" if name else root


def tls_context(connection: Connection) -> ssl.SSLContext:
    """Server verification and client certificate, as the kubeconfig says."""
    if connection.insecure:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    else:
        context = ssl.create_default_context(cafile=connection.ca_file)
    if connection.cert_file:
        context.load_cert_chain(connection.cert_file, connection.key_file)
    return context


class TokenFile(httpx.Auth):
    """A bearer token read from a file, read again when the file changes (the kubelet
    rotates projected ServiceAccount tokens)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._stamp = -1.0
        self._token = ""

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        try:
            stamp = os.stat(self.path).st_mtime
            if stamp != self._stamp:
                with open(self.path) as f:
                    self._token, self._stamp = f.read().strip(), stamp
        except OSError:
            pass  # keep the last token; the server says 401 if it is stale
        request.headers["Authorization"] = f"Bearer {self._token}"
        yield request


class Kube:
    def __init__(self, connection: Connection, timeout: float = 30.0) -> None:
        self.connection = connection
        headers = {"Authorization": f"Bearer {connection.token}"} if connection.token else {}
        self._http = httpx.Client(
            base_url=connection.server,
            verify=tls_context(connection),
            headers=headers,
            auth=TokenFile(connection.token_file) if connection.token_file else None,
            timeout=timeout,
        )
        self._resources: dict[tuple[str, str], Resource] = {}
        self._discovered: set[str] = set()

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Kube:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # transport ------------------------------------------------------------------

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise Unreachable(
                f"cannot reach the API server at {self.connection.server}"
                f" (context {self.connection.context!r}): {exc}"
            ) from None
        if response.status_code >= 400:
            raise _error(response)
        return response.json() if response.content else None

    # discovery ------------------------------------------------------------------

    def resource(self, api_version: str, kind: str) -> Resource:
        key = (api_version, kind)
        if key not in self._resources and api_version not in self._discovered:
            self._discover(api_version)
        if key not in self._resources:
            raise MlkubeError(
                f"the API server does not serve {kind} in {api_version} (CRD not installed?)"
            )
        return self._resources[key]

    def forget(self, api_version: str) -> None:
        """Discover ``api_version`` again (after a CRD was installed)."""
        self._discovered.discard(api_version)

    def _discover(self, api_version: str) -> None:
        path = f"/api/{api_version}" if "/" not in api_version else f"/apis/{api_version}"
        try:
            listing = self.request("GET", path)
        except NotFound:
            listing = {"resources": []}
        self._discovered.add(api_version)
        for r in listing.get("resources", []):
            if "/" not in r["name"]:
                self._resources[(api_version, r["kind"])] = Resource(
                    api_version, r["kind"], r["name"], bool(r["namespaced"])
                )

    # verbs -----------------------------------------------------------------------

    def get(
        self, api_version: str, kind: str, name: str, namespace: str | None = None
    ) -> dict[str, Any] | None:
        try:
            obj: dict[str, Any] = self.request(
                "GET", self.resource(api_version, kind).path(namespace, name)
            )
        except NotFound:
            return None
        return obj

    def list(
        self,
        api_version: str,
        kind: str,
        namespace: str | None = None,
        selector: str | None = None,
        *,
        cached: bool = False,
    ) -> list[dict[str, Any]]:
        """Objects of a kind; ``cached`` reads the API server's watch cache (as fresh as
        the cache, not a quorum read of etcd: much cheaper for thousands of objects)."""
        params = {"labelSelector": selector} if selector else {}
        if cached:
            params["resourceVersion"] = "0"
        body = self.request("GET", self.resource(api_version, kind).path(namespace), params=params)
        items: list[dict[str, Any]] = body.get("items", [])
        return items

    def apply(
        self, obj: dict[str, Any], *, dry_run: bool = False, force: bool = True
    ) -> dict[str, Any]:
        """Server-side apply ``obj`` as field manager ``mlkube``."""
        meta = obj["metadata"]
        resource = self.resource(obj["apiVersion"], obj["kind"])
        namespace = meta.get("namespace") or ("default" if resource.namespaced else None)
        params = {"fieldManager": FIELD_MANAGER, "force": "true" if force else "false"}
        if dry_run:
            params["dryRun"] = "All"
        result: dict[str, Any] = self.request(
            "PATCH",
            resource.path(namespace, meta["name"]),
            params=params,
            content=json.dumps(obj),
            headers={"Content-Type": "application/apply-patch+yaml"},
        )
        return result

    def create(self, obj: dict[str, Any]) -> dict[str, Any]:
        resource = self.resource(obj["apiVersion"], obj["kind"])
        namespace = obj["metadata"].get("namespace") or ("default" if resource.namespaced else None)
        result: dict[str, Any] = self.request("POST", resource.path(namespace), json=obj)
        return result

    def patch_status(self, obj: dict[str, Any], status: dict[str, Any]) -> dict[str, Any]:
        meta = obj["metadata"]
        return self.patch(obj["apiVersion"], obj["kind"], meta["name"], {"status": status},
                          meta.get("namespace"), subresource="status")  # fmt: skip

    def patch(
        self,
        api_version: str,
        kind: str,
        name: str,
        body: dict[str, Any],
        namespace: str | None = None,
        *,
        subresource: str | None = None,
    ) -> dict[str, Any]:
        """A JSON merge patch; a ``metadata.resourceVersion`` in ``body`` makes it
        conditional (409 if the object changed since)."""
        path = self.resource(api_version, kind).path(namespace, name)
        result: dict[str, Any] = self.request(
            "PATCH",
            f"{path}/{subresource}" if subresource else path,
            content=json.dumps(body),
            headers={"Content-Type": "application/merge-patch+json"},
        )
        return result

    def evict(self, name: str, namespace: str, uid: str | None = None) -> None:
        """Ask for a pod's eviction: the API server honours PodDisruptionBudgets (429)
        and the pod's own grace period. With ``uid``, only that pod: a replacement of
        the same name is a 409, never evicted by mistake."""
        eviction: dict[str, Any] = {
            "apiVersion": "policy/v1",
            "kind": "Eviction",
            "metadata": {"name": name, "namespace": namespace},
        }
        if uid:
            eviction["deleteOptions"] = {"preconditions": {"uid": uid}}
        self.request(
            "POST", self.resource("v1", "Pod").path(namespace, name) + "/eviction", json=eviction
        )

    def delete(self, api_version: str, kind: str, name: str, namespace: str | None = None) -> bool:
        try:
            self.request("DELETE", self.resource(api_version, kind).path(namespace, name))
        except NotFound:
            return False
        return True

    def watch(
        self,
        api_version: str,
        kind: str,
        namespace: str | None = None,
        resource_version: str | None = None,
        timeout_seconds: int = 60,
        *,
        bookmarks: bool = False,
        headers: dict[str, str] | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Watch events (``{"type": …, "object": …}``) until the server closes the stream."""
        params: dict[str, str] = {"watch": "1", "timeoutSeconds": str(timeout_seconds)}
        if bookmarks:
            params["allowWatchBookmarks"] = "true"
        if resource_version:
            params["resourceVersion"] = resource_version
        path = self.resource(api_version, kind).path(namespace)
        with self._http.stream(
            "GET", path, params=params, headers=headers, timeout=timeout_seconds + 10
        ) as response:
            if response.status_code >= 400:
                response.read()
                raise _error(response)
            for line in response.iter_lines():
                if line:
                    yield json.loads(line)


def _error(response: httpx.Response) -> ApiError:
    causes: list[dict[str, Any]] = []
    try:
        status = response.json()
        reason, message = str(status.get("reason", "")), str(status.get("message", ""))
        causes = _causes(status)
    except ValueError:
        reason, message = response.reason_phrase, response.text[:200]
    cls = NotFound if response.status_code == 404 else ApiError
    return cls(response.status_code, reason, message, causes)


def _causes(status: dict[str, Any]) -> list[dict[str, Any]]:
    details = status.get("details")
    causes = details.get("causes") if isinstance(details, dict) else None
    return [c for c in causes if isinstance(c, dict)] if isinstance(causes, list) else []
