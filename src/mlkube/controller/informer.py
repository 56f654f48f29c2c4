"""List, then watch, forever: a local copy of one kind that survives a lost watch.

The watch asks for bookmarks (``allowWatchBookmarks``): a BOOKMARK event carries only
a newer resourceVersion, which the informer keeps and hands to no handler. When the
watch ends (the server's timeout, a dropped connection), it resumes from the newest
resourceVersion it saw, bookmarks included, so a restart costs no relist. Only "410
Gone" (that version is too old) or another error from the server makes it list again
and hand every object to its handler: the controller is level-triggered, so re-seeing
an object is harmless and a missed event is made up for by the relist.

Failures back off as client-go's reflector does (800 ms doubling to 30 s, with
jitter), never a relist every second against a server that is down.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable
from typing import Any

from mlkube.cluster.client import ApiError, Kube

log = logging.getLogger("mlkube.controller")

BACKOFF_FIRST = 0.8  # client-go reflector: NewExponentialBackoffManager(800ms, 30s, …)
BACKOFF_CAP = 30.0

Handler = Callable[[str, dict[str, Any]], None]  # ("ADDED"|"MODIFIED"|"DELETED", obj)


def key_of(obj: dict[str, Any]) -> str:
    meta = obj.get("metadata") or {}
    namespace = meta.get("namespace")
    return f"{namespace}/{meta.get('name')}" if namespace else str(meta.get("name"))


def _uid(obj: dict[str, Any]) -> Any:
    return (obj.get("metadata") or {}).get("uid")


class Informer:
    def __init__(
        self,
        kube: Kube,
        api_version: str,
        kind: str,
        handler: Handler,
        *,
        watch_timeout: int = 300,
        on_restart: Callable[[str], None] | None = None,
        metadata_only: bool = False,
        transform: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
    ) -> None:
        self.kube = kube
        self.api_version = api_version
        self.kind = kind
        self.handler = handler
        self.watch_timeout = watch_timeout
        self.on_restart = on_restart or (lambda _kind: None)
        # What is kept of each object, applied before it is stored or handed on
        # (controller/projection.py says why).
        self.transform = transform or (lambda obj: obj)
        # Metadata only: the server sends PartialObjectMetadata (name, uid,
        # resourceVersion, annotations), not whole objects.
        self._accept = (
            {"Accept": "application/json;as={};g=meta.k8s.io;v=v1,application/json"}
            if metadata_only
            else {}
        )
        self.store: dict[str, dict[str, Any]] = {}
        self.synced = threading.Event()
        self.version = ""  # the newest resourceVersion seen: list, event or bookmark
        self.relists = 0
        self.bookmarks = 0
        self._stop = threading.Event()
        self._lock = threading.Lock()

    def snapshot(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self.store.values())

    def get(self, key: str) -> dict[str, Any] | None:
        with self._lock:
            return self.store.get(key)

    def stop(self) -> None:
        self._stop.set()

    def run(self) -> None:
        failures = 0
        while not self._stop.is_set():
            try:
                if not self.version:
                    self.version = self._relist()
                    self.synced.set()
                self.version = self._watch(self.version) or ""
                failures = 0
                self.on_restart(self.kind)  # resumed from ``version``, or relisted
            except ApiError as exc:
                if exc.status == 410:  # the version is too old: list again, at once
                    self.version = ""
                    continue
                failures += 1
                self._back_off(failures, exc)
                self.version = ""  # the server refused the watch: start over
            except Exception as exc:  # no answer, or a connection dropped mid-stream
                failures += 1
                self._back_off(failures, exc)  # then resume from ``version``

    def _back_off(self, failures: int, exc: Exception) -> None:
        delay = min(BACKOFF_CAP, BACKOFF_FIRST * 2 ** min(failures - 1, 10))
        delay *= random.uniform(1.0, 2.0)  # client-go's jitter 1.0: up to twice
        if failures == 1 or delay >= BACKOFF_CAP:
            where = f" from resourceVersion {self.version}" if self.version else ""
            log.warning("%s watch failed (%s), again in %.1f s%s",
                        self.kind, exc, delay, where)  # fmt: skip
        self._stop.wait(delay)

    def _relist(self) -> str:
        path = self.kube.resource(self.api_version, self.kind).path()
        headers = {k: v.format("PartialObjectMetadataList") for k, v in self._accept.items()}
        body = self.kube.request("GET", path, headers=headers)
        self.relists += 1
        items = [self.transform(o) for o in body.get("items") or []]
        fresh = {key_of(o): o for o in items}
        with self._lock:
            # Gone, or replaced by a new object of the same name while we did not watch.
            gone = [
                o for k, o in self.store.items()
                if k not in fresh or _uid(fresh[k]) != _uid(o)
            ]  # fmt: skip
            self.store = fresh
        for obj in gone:
            self.handler("DELETED", obj)
        for obj in items:
            self.handler("ADDED", obj)
        return str((body.get("metadata") or {}).get("resourceVersion") or "")

    def _watch(self, version: str) -> str | None:
        """Apply watch events until the stream ends; the version to resume from, or
        None when the server says to list again (an ERROR event: 410 Gone or worse).
        ``self.version`` follows every event, so a stream that breaks mid-way is
        resumed from the last one applied."""
        for event in self.kube.watch(
            self.api_version, self.kind, resource_version=version,
            timeout_seconds=self.watch_timeout, bookmarks=True,
            headers={k: v.format("PartialObjectMetadata") for k, v in self._accept.items()},
        ):  # fmt: skip
            kind, obj = event.get("type"), event.get("object") or {}
            if kind == "ERROR":
                status = obj.get("code")
                if status != 410:
                    log.warning("%s watch: the server said %s: %s", self.kind, status,
                                obj.get("message"))  # fmt: skip
                return None
            self.version = str((obj.get("metadata") or {}).get("resourceVersion") or version)
            if kind == "BOOKMARK":
                self.bookmarks += 1
                continue  # only a newer version to resume from; no object changed
            obj = self.transform(obj)
            with self._lock:
                if kind == "DELETED":
                    self.store.pop(key_of(obj), None)
                else:
                    self.store[key_of(obj)] = obj
            self.handler(str(kind), obj)
            if self._stop.is_set():
                return None
        return self.version
