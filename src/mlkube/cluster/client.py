"""A small, synchronous Kubernetes API client: discovery, get, list, server-side
apply, delete and watch. Enough for mlkube; one seam (`Kube`) that tests drive against
the real local cluster.

It behaves under load and faults as client-go does (see docs/decisions.md):

- errors are typed by meaning, and say what to do::

    ClusterError (errors.py, exit 4)
    ├── Unreachable (exit 3)       refused, DNS, TLS, no answer within --request-timeout
    │   └── OutcomeUnknown         a write was sent but its answer was lost
    └── ApiError                   the server answered with an error status
        ├── Unauthorized  401      ├── Conflict  409      ├── TooManyRequests  429
        ├── Forbidden     403      ├── Gone      410      └── ServerTimeout    504
        ├── NotFound      404      └── Invalid   422

- a 429 or 5xx that carries ``Retry-After`` (API Priority and Fairness rejections do)
  is retried after the server's delay, as client-go's ``checkWait`` in
  ``rest/with_retry.go``; the request was never executed, so any method may be retried;
- connection failures and 5xx without ``Retry-After`` are retried with capped
  exponential backoff and jitter (``wait.Backoff`` in apimachinery) only when repeating
  the request cannot do harm: reads, DELETE, server-side apply, merge patches and PUTs
  without a ``resourceVersion`` precondition. A write whose answer was lost is never
  repeated blindly: ``create`` re-reads, a conditional write is left to its caller;
- every request has a deadline (``Timeouts.request``, retries and waits included);
- lists are paginated (``limit``/``continue``), falling back to one full list when a
  continue token expires (410), as client-go's ``tools/pager`` does.

Retries are counted in ``Kube.stats`` and logged at debug level (``mlkube … -v 4``).
"""

from __future__ import annotations

import copy
import json
import logging
import random
import re
import socket
import ssl
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx

from mlkube.cluster.auth import authenticate, client_options
from mlkube.cluster.kubeconfig import Connection, Overrides, load_connection
from mlkube.collector import PAUSE as _PAUSE
from mlkube.errors import ClusterError, MlkubeError, Unreachable

FIELD_MANAGER = "mlkube"
PAGE_SIZE = 500  # client-go's pager default (tools/pager: defaultPageSize)
# Connections in flight at once, and kept open between requests: all of them. httpx
# keeps 20 by default and closes the rest as they go idle, so 24 threads writing at
# once (the controller's recorders and writers) opened a new TLS connection for many
# writes: a handshake each, on both sides, in the middle of a burst.
MAX_CONNECTIONS = 100
log = logging.getLogger("mlkube.cluster.client")
http_log = logging.getLogger("mlkube.cluster.client.http")  # every request, at -v 6


class ApiError(ClusterError):
    """The API server answered with an error ``Status``."""

    hint = ""

    def __init__(
        self,
        status: int,
        reason: str,
        message: str,
        hint: str = "",
        causes: list[dict[str, Any]] | None = None,
    ) -> None:
        hint = hint or self.hint
        super().__init__(
            f"API server: {status} {reason}: {message}" + (f"; {hint}" if hint else "")
        )
        self.status = status
        self.reason = reason
        self.message = message
        self.causes = causes or []  # the Status' details.causes: field, type, message


class Unauthorized(ApiError):
    hint = (
        "the server did not accept the credentials: log in again (or check the "
        "kubeconfig user's token, certificate or credential plugin)"
    )


class Forbidden(ApiError):
    """Forbidden, with what was refused to whom (parsed from the server's message)."""

    def __init__(
        self,
        status: int,
        reason: str,
        message: str,
        hint: str = "",
        causes: list[dict[str, Any]] | None = None,
    ) -> None:
        self.refusal = _refusal(message)
        super().__init__(status, reason, message, hint or _rbac_hint(self.refusal), causes)

    @property
    def verb(self) -> str | None:
        return self.refusal.get("verb")

    @property
    def resource(self) -> str | None:
        return self.refusal.get("resource")


class NotFound(ApiError):
    pass


class Conflict(ApiError):
    """409: the object changed since it was read, or already exists."""


class Gone(ApiError):
    """410: a resourceVersion or continue token too old (compacted): list again."""


class Invalid(ApiError):
    pass


class TooManyRequests(ApiError):
    hint = "the API server is overloaded (API Priority and Fairness); try again later"


class ServerTimeout(ApiError):
    hint = "the API server timed out; try again (a write may or may not have happened)"


class ServerError(ApiError):
    pass


class OutcomeUnknown(Unreachable):
    """A non-idempotent write was sent but no answer came back: it may have happened."""


class NotServed(MlkubeError):
    """The API server does not serve a kind (its CRD is not installed)."""


_BY_STATUS: dict[int, type[ApiError]] = {
    401: Unauthorized, 403: Forbidden, 404: NotFound, 409: Conflict, 410: Gone,
    422: Invalid, 429: TooManyRequests, 504: ServerTimeout,
}  # fmt: skip

# `pods is forbidden: User "x" cannot list resource "pods" in API group "" in the
# namespace "y"` (apiserver/pkg/endpoints/handlers/responsewriters/errors.go: forbiddenMessage)
_FORBIDDEN = re.compile(
    r'User "(?P<user>[^"]*)" cannot (?P<verb>\S+) resource "(?P<resource>[^"]*)"'
    r'(?: in API group "(?P<group>[^"]*)")?'
    r'(?: in the namespace "(?P<namespace>[^"]*)")?'
)


def _refusal(message: str) -> dict[str, str]:
    match = _FORBIDDEN.search(message)
    return {k: v for k, v in match.groupdict().items() if v is not None} if match else {}


def _rbac_hint(refusal: dict[str, str]) -> str:
    """The kubectl commands that grant what RBAC refused."""
    if "verb" not in refusal:
        return ""  # not RBAC (admission, say): the server's message is the reason
    user, verb, resource = refusal["user"], refusal["verb"], refusal["resource"]
    group = refusal.get("group") or ""
    qualified = f"{resource}.{group}" if group else resource
    subject = (
        f"--serviceaccount={user.removeprefix('system:serviceaccount:')}"
        if user.startswith("system:serviceaccount:")
        else f"--user={user}"
    )
    namespace = refusal.get("namespace")
    if namespace:
        grant = (
            f"kubectl create role mlkube-{verb}-{resource} -n {namespace} --verb={verb} "
            f"--resource={qualified} && kubectl create rolebinding mlkube-{verb}-{resource} "
            f"-n {namespace} --role=mlkube-{verb}-{resource} {subject}"
        )
    else:
        grant = (
            f"kubectl create clusterrole mlkube-{verb}-{resource} --verb={verb} "
            f"--resource={qualified} && kubectl create clusterrolebinding "
            f"mlkube-{verb}-{resource} --clusterrole=mlkube-{verb}-{resource} {subject}"
        )
    where = f"in namespace {namespace}" if namespace else "at cluster scope"
    return f"{user} needs '{verb}' on {qualified} {where}; grant it with: {grant}"


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


@dataclass(frozen=True)
class Timeouts:
    """``request``: the longest one request may take, retries and waits included
    (kubectl's ``--request-timeout``; 0 means none); ``connect``: to open a connection."""

    request: float = 30.0
    connect: float = 5.0


@dataclass(frozen=True)
class RetryPolicy:
    """client-go's numbers: at most 10 retries (``rest.Request.maxRetries``); faults
    (no Retry-After) back off from ``base`` doubling to ``cap``, with ``jitter`` as in
    apimachinery's ``wait.Backoff`` (each delay grows by up to ``jitter`` × itself)."""

    retries: int = 10
    fault_retries: int = 3
    base: float = 0.2
    cap: float = 5.0
    jitter: float = 1.0

    def backoff(self, fault: int) -> float:
        delay = min(self.cap, self.base * 2.0 ** (fault - 1))
        return delay + random.uniform(0, self.jitter * delay)


def _idempotent(method: str, headers: dict[str, str], body: Any) -> bool:
    """Whether sending the request twice does no more than sending it once."""
    if method in ("GET", "HEAD", "OPTIONS", "DELETE"):
        return True
    if method not in ("PATCH", "PUT"):
        return False  # POST: a second create, eviction or Event is a second one
    if "apply-patch" in headers.get("Content-Type", ""):
        return True  # server-side apply declares a state: applying it twice is a no-op
    # A merge patch or a replace is idempotent, unless it is conditional: a repeat of
    # a write that succeeded would be refused as a conflict, misleading its caller.
    meta = body.get("metadata") if isinstance(body, dict) else None
    return not (isinstance(meta, dict) and meta.get("resourceVersion"))


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


def _cause(exc: BaseException) -> str:
    """The innermost reason of a transport error, in words."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLCertVerificationError):
            return f"TLS: {seen.verify_message or seen}; check certificate-authority"
        if isinstance(seen, ssl.SSLError):
            return f"TLS: {seen.reason or seen}"
        if isinstance(seen, socket.gaierror):
            return f"the server's name does not resolve ({seen.strerror})"
        if isinstance(seen, ConnectionRefusedError):
            return "connection refused"
        seen = seen.__cause__ or seen.__context__
    return str(exc) or type(exc).__name__


def _permanent(exc: httpx.TransportError) -> bool:
    """TLS and name-resolution failures: configuration, not weather; never retried."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, (ssl.SSLError, socket.gaierror)):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


class Kube:
    def __init__(
        self,
        connection: Connection,
        timeout: float | Timeouts = 30.0,
        *,
        retry: RetryPolicy | None = None,
    ) -> None:
        self.connection = connection
        self.timeouts = timeout if isinstance(timeout, Timeouts) else Timeouts(timeout)
        self.retry = retry or RetryPolicy()
        self._http = self._client()
        self._resources: dict[tuple[str, str], Resource] = {}
        self._discovered: set[str] = set()
        self.stats: Counter[str] = Counter()  # requests, retries, retries by reason, pages
        self._stats_lock = threading.Lock()
        self._lanes: list[Kube] = []

    def _client(self) -> httpx.Client:
        return httpx.Client(
            base_url=self.connection.server,
            timeout=self._timeout(self.timeouts.request or None),
            limits=httpx.Limits(
                max_connections=MAX_CONNECTIONS, max_keepalive_connections=MAX_CONNECTIONS
            ),
            **client_options(self.connection),
        )

    def lane(self) -> Kube:
        """A client of the same server with this one's settings, discovery and request
        counts, and connections of its own (closed with it). For a pool of threads that
        must not wait on another's: httpx looks through every connection of its pool,
        under one lock, twice per request, so 16 writers and 8 open watches slowed each
        of the controller's records."""
        other = copy.copy(self)
        other._http, other._lanes = self._client(), []
        self._lanes.append(other)
        return other

    def close(self) -> None:
        for lane in self._lanes:
            lane._http.close()
        if self.stats["retries"] or self.stats["relists"]:
            log.debug("%s", self.summary())
        self._http.close()

    def __enter__(self) -> Kube:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def summary(self) -> str:
        """``N requests, M retries (429: k, …)``: what it took, for debug output."""
        reasons = ", ".join(
            f"{k.removeprefix('retry:')}: {v}"
            for k, v in sorted(self.stats.items())
            if k.startswith("retry:")
        )
        text = f"{self.stats['requests']} requests, {self.stats['retries']} retries"
        text += f" ({reasons})" if reasons else ""
        return text + (f", {self.stats['relists']} full relists" if self.stats["relists"] else "")

    def _count(self, *keys: str) -> None:
        with self._stats_lock:
            self.stats.update(keys)

    def _timeout(self, remaining: float | None) -> httpx.Timeout:
        connect = (
            self.timeouts.connect if remaining is None else min(self.timeouts.connect, remaining)
        )
        return httpx.Timeout(remaining, connect=connect)

    def _where(self) -> str:
        return f"the API server at {self.connection.server} (context {self.connection.context!r})"

    # transport ------------------------------------------------------------------

    def request(
        self, method: str, path: str, *, idempotent: bool | None = None, **kwargs: Any
    ) -> Any:
        """One request, retried as the module docstring says; the decoded body."""
        response = self.send(method, path, idempotent=idempotent, **kwargs)
        return decode(response.content) if response.content else None

    def send(
        self,
        method: str,
        path: str,
        *,
        idempotent: bool | None = None,
        stream: bool = False,
        timeout: float | None = None,
        read_timeout: float | None = None,
        **kwargs: Any,
    ) -> httpx.Response:
        """The response of ``method path``, a success (``stream``: body not read yet).

        ``timeout`` bounds the whole request, retries included (default: the client's
        ``Timeouts.request``); ``read_timeout``, if given, bounds each read instead of
        what remains of it (a watch stream is silent for long stretches)."""
        policy, started = self.retry, time.monotonic()
        limit = self.timeouts.request if timeout is None else timeout
        deadline = started + limit if limit else None
        if idempotent is None:
            headers = kwargs.get("headers") or {}
            idempotent = _idempotent(method, headers, kwargs.get("json"))
        attempt = faults = 0
        while True:
            attempt += 1
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                raise Unreachable(
                    f"{self._where()} did not answer {method} {path} within {limit:g}s"
                    " (--request-timeout)"
                )
            self._count("requests")
            wait: float | None = None
            why = ""
            t0 = time.monotonic()
            try:
                per_read = self._timeout(read_timeout or remaining)
                request = self._http.build_request(method, path, timeout=per_read, **kwargs)
                response = self._http.send(request, stream=stream)
            except httpx.TransportError as exc:
                sent = not isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout,
                                            httpx.PoolTimeout))  # fmt: skip
                faults += 1
                if (
                    isinstance(exc, httpx.TimeoutException)  # the time is spent
                    or _permanent(exc)
                    or (sent and not idempotent)
                    or faults > policy.fault_retries
                    or attempt > policy.retries
                ):
                    raise self._unreachable(
                        method, path, exc, sent=sent, idempotent=idempotent, limit=limit, started=t0
                    ) from None
                wait, why = policy.backoff(faults), f"connection: {_cause(exc)}"
                if deadline is not None and time.monotonic() + wait > deadline:
                    raise self._unreachable(
                        method, path, exc, sent=sent, idempotent=idempotent, limit=limit, started=t0
                    ) from None
            else:
                http_log.debug(
                    "%s %s %d in %.0f ms",
                    method,
                    response.url,
                    response.status_code,
                    1000 * (time.monotonic() - t0),
                )
                if response.status_code < 400:
                    return response
                if stream:
                    response.read()
                    response.close()
                error = _error(response)
                wait, why, fault = self._again(
                    response, error, idempotent=idempotent, faults=faults
                )
                faults += fault
                if wait is None or attempt > policy.retries:
                    raise error
                if deadline is not None and time.monotonic() + wait > deadline:
                    raise type(error)(
                        error.status,
                        error.reason,
                        f"{error.message} (gave up after {attempt} attempts in "
                        f"{time.monotonic() - started:.1f}s, --request-timeout {limit:g}s)",
                    )
            self._count("retries", f"retry:{why.split(':')[0].split(' ')[0]}")
            log.debug("retry %d of %s %s in %.2fs: %s", attempt, method, path, wait, why)
            time.sleep(wait)

    def _again(
        self, response: httpx.Response, error: ApiError, *, idempotent: bool, faults: int
    ) -> tuple[float | None, str, int]:
        """After an error status: the wait before repeating (None: do not), why, and
        whether it counts as a fault (backoff) rather than the server's pacing."""
        retry_after = _retry_after(response)
        status = response.status_code
        if retry_after is not None and (status == 429 or (status >= 500 and idempotent)):
            return retry_after, _reason(response), 0  # 429: refused, so not executed
        if status >= 500 and idempotent and faults < self.retry.fault_retries:
            return self.retry.backoff(faults + 1), f"{status} {error.reason}", 1
        return None, "", 0

    def _unreachable(
        self,
        method: str,
        path: str,
        exc: httpx.TransportError,
        *,
        sent: bool,
        idempotent: bool,
        limit: float,
        started: float,
    ) -> Unreachable:
        if isinstance(exc, httpx.ConnectTimeout):
            what = (
                f"did not complete a connection (TCP and TLS handshake) within "
                f"{time.monotonic() - started:.1f}s"
            )
        elif isinstance(exc, httpx.TimeoutException):
            what = f"did not answer {method} {path} within {limit:g}s (--request-timeout)"
        else:
            what = f"cannot be reached: {_cause(exc)}"
        text = f"{self._where()} {what}"
        if sent and not idempotent:
            return OutcomeUnknown(
                f"{text}; the {method} may or may not have been carried out: check before"
                " repeating it"
            )
        if not sent:
            text += "; is the cluster running, and is this the right context?"
        return Unreachable(text)

    # discovery ------------------------------------------------------------------

    def resource(self, api_version: str, kind: str) -> Resource:
        key = (api_version, kind)
        if key not in self._resources and api_version not in self._discovered:
            self._discover(api_version)
        if key not in self._resources:
            raise NotServed(
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

    def list_with_version(
        self,
        api_version: str,
        kind: str,
        namespace: str | None = None,
        selector: str | None = None,
        *,
        fields: str | None = None,
        cached: bool = False,
        limit: int = PAGE_SIZE,
        headers: dict[str, str] | None = None,
        on_page: Callable[[list[dict[str, Any]]], None] | None = None,
    ) -> tuple[list[dict[str, Any]], str]:
        """The items and the list's resourceVersion (to watch from).

        Pages follow ``metadata.continue``; when a token expires (410: etcd compacted
        the revision the list is pinned to), the list starts over as one full list,
        as client-go's pager does (``tools/pager``, ``FullListIfExpired``).
        ``on_page(items)`` is called with each page (progress, or a test's fault).
        ``fields`` is a field selector (``type=Warning``), as kubectl's.
        """
        path = self.resource(api_version, kind).path(namespace)
        params: dict[str, str] = {}
        if selector:
            params["labelSelector"] = selector
        if fields:
            params["fieldSelector"] = fields
        if cached:
            params["resourceVersion"] = "0"
        items: list[dict[str, Any]] = []
        version, token, pages = "", "", 0
        while True:
            query = {**params, "limit": str(limit)} if limit else dict(params)
            if token:
                query["continue"] = token
                query.pop("resourceVersion", None)  # the token holds the version
            try:
                body = self.request("GET", path, params=query, headers=headers)
            except Gone:
                if not token:
                    raise
                self._count("relists")
                log.debug(
                    "continue token of %s expired after %d pages: listing again in full",
                    path,
                    pages,
                )
                body = self.request("GET", path, params=params, headers=headers)
                meta = body.get("metadata") or {}
                return list(body.get("items") or []), str(meta.get("resourceVersion") or "")
            pages += 1
            self._count("pages")
            meta = body.get("metadata") or {}
            version = version or str(meta.get("resourceVersion") or "")
            page = body.get("items") or []
            items.extend(page)
            if on_page is not None:
                on_page(page)
            token = str(meta.get("continue") or "")
            if not token:
                return items, version

    def list(
        self,
        api_version: str,
        kind: str,
        namespace: str | None = None,
        selector: str | None = None,
        *,
        fields: str | None = None,
        cached: bool = False,
        limit: int = PAGE_SIZE,
        on_page: Callable[[list[dict[str, Any]]], None] | None = None,
    ) -> list[dict[str, Any]]:
        """Objects of a kind, in pages of ``limit`` (0: one request).

        ``cached`` reads the API server's watch cache (``resourceVersion=0``: as fresh
        as the cache, not a quorum read of etcd; much cheaper for thousands of
        objects). The cache may ignore ``limit`` and answer in one page; the pages it
        does return are followed all the same.
        """
        items, _ = self.list_with_version(
            api_version,
            kind,
            namespace,
            selector,
            fields=fields,
            cached=cached,
            limit=limit,
            on_page=on_page,
        )
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

    def create(self, obj: dict[str, Any], *, idempotent: bool = False) -> dict[str, Any]:
        """POST ``obj``. ``idempotent`` for a request without effect (an access review).

        When the answer to a create is lost, the object is read back: absent, the
        create is sent again; present, it may be this request's, and a Conflict says so.
        """
        meta = obj["metadata"]
        resource = self.resource(obj["apiVersion"], obj["kind"])
        namespace = meta.get("namespace") or ("default" if resource.namespaced else None)
        for attempt in (1, 2):
            try:
                result: dict[str, Any] = self.request(
                    "POST", resource.path(namespace), json=obj, idempotent=idempotent
                )
            except OutcomeUnknown:
                name = meta.get("name")
                if not name or attempt == 2:
                    raise
                if self.get(obj["apiVersion"], obj["kind"], name, namespace) is not None:
                    raise Conflict(
                        409,
                        "AlreadyExists",
                        f"{obj['kind']} {name!r} exists; the create whose answer was lost "
                        "may have made it",
                    ) from None
                self._count("retries", "retry:lost-create")
                log.debug("create of %s %s: answer lost, not there: again", obj["kind"], name)
                continue
            return result
        raise AssertionError("unreachable")  # pragma: no cover

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
        conditional (409 if the object changed since), and then it is never repeated
        when its answer is lost (the caller re-reads)."""
        path = self.resource(api_version, kind).path(namespace, name)
        meta = body.get("metadata")
        conditional = isinstance(meta, dict) and bool(meta.get("resourceVersion"))
        result: dict[str, Any] = self.request(
            "PATCH",
            f"{path}/{subresource}" if subresource else path,
            content=json.dumps(body),
            headers={"Content-Type": "application/merge-patch+json"},
            idempotent=not conditional,
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
        bookmarks: bool = True,
        headers: dict[str, str] | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Watch events (``{"type": …, "object": …}``) until the server closes the stream.

        With ``bookmarks`` (the default) the server sends ``BOOKMARK`` events, whose
        object carries only ``metadata.resourceVersion``: yielded like the others, so
        that a restart resumes from the newest version seen instead of relisting.
        Starting the watch is retried as any read; a stream that breaks just ends.
        """
        params: dict[str, str] = {"watch": "1", "timeoutSeconds": str(timeout_seconds)}
        if bookmarks:
            params["allowWatchBookmarks"] = "true"
        if resource_version:
            params["resourceVersion"] = resource_version
        path = self.resource(api_version, kind).path(namespace)
        response = self.send(
            "GET",
            path,
            params=params,
            headers=headers,
            stream=True,
            read_timeout=timeout_seconds + 10,  # longer silence: a dead connection
        )
        try:
            for line in response.iter_lines():
                if line:
                    yield json.loads(line)
        finally:
            response.close()


def open_kube(path: str | None, overrides: Overrides, timeouts: Timeouts) -> tuple[Kube, str]:
    """A client for the cluster the kubeconfig at ``path`` names, with kubectl's
    ``overrides`` (the CLI's flags), and the namespace to use; a failing exec plugin
    is reported now, before any request."""
    connection = load_connection(path, overrides=overrides)
    authenticate(connection)
    return Kube(connection, timeouts), connection.namespace


def decode(body: bytes | str) -> Any:
    """A JSON body as Python values (``json.loads``, with the collector paused)."""
    with _PAUSE.held():
        return json.loads(body)


def _reason(response: httpx.Response) -> str:
    """Why the server asked to retry, with the APF flow schema when there is one."""
    schema = response.headers.get("X-Kubernetes-PF-FlowSchema-UID")
    level = response.headers.get("X-Kubernetes-PF-PriorityLevel-UID")
    text = f"{response.status_code} Retry-After {response.headers.get('Retry-After')}s"
    if schema or level:
        text += f" (API Priority and Fairness: FlowSchema {schema}, PriorityLevel {level})"
    return text


def _error(response: httpx.Response) -> ApiError:
    try:
        status = response.json()
        if not isinstance(status, dict):
            raise ValueError("not a Status")
        reason, message = str(status.get("reason", "")), str(status.get("message", ""))
        causes = _causes(status)
    except ValueError:
        status, causes = {}, []
        reason, message = response.reason_phrase, response.text[:200]
    code = response.status_code
    cls = _BY_STATUS.get(code, ServerError if code >= 500 else ApiError)
    if reason in ("ServerTimeout", "Timeout"):
        cls = ServerTimeout
    return cls(code, reason, message, causes=causes)


def _causes(status: dict[str, Any]) -> list[dict[str, Any]]:
    details = status.get("details")
    causes = details.get("causes") if isinstance(details, dict) else None
    return [c for c in causes if isinstance(c, dict)] if isinstance(causes, list) else []
