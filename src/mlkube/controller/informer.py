"""List, then watch, forever: a local copy of one kind that survives a lost watch.

When the watch ends (the server's timeout, a dropped connection, or "410 Gone" when
the resourceVersion is too old), the informer lists again and hands every object to
its handler: the controller is level-triggered, so re-seeing an object is harmless
and a missed event is made up for by the relist.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from mlkube.cluster.client import Kube
from mlkube.errors import MlkubeError

log = logging.getLogger("mlkube.controller")

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
    ) -> None:
        self.kube = kube
        self.api_version = api_version
        self.kind = kind
        self.handler = handler
        self.watch_timeout = watch_timeout
        self.on_restart = on_restart or (lambda _kind: None)
        # Metadata only: the server sends PartialObjectMetadata (name, uid,
        # resourceVersion, annotations), not whole objects.
        self._accept = (
            {"Accept": "application/json;as={};g=meta.k8s.io;v=v1,application/json"}
            if metadata_only
            else {}
        )
        self.store: dict[str, dict[str, Any]] = {}
        self.synced = threading.Event()
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
        while not self._stop.is_set():
            try:
                version: str | None = self._relist()
                self.synced.set()
                while not self._stop.is_set() and version:
                    version = self._watch(version)
                    self.on_restart(self.kind)  # resumed from ``version``, or relisted
            except MlkubeError as exc:
                log.warning("%s watch failed, listing again: %s", self.kind, exc)
                self._stop.wait(1.0)
            except Exception:  # a transport error mid-stream: never let the loop die
                log.exception("%s watch broke, listing again", self.kind)
                self._stop.wait(1.0)

    def _relist(self) -> str:
        path = self.kube.resource(self.api_version, self.kind).path()
        headers = {k: v.format("PartialObjectMetadataList") for k, v in self._accept.items()}
        body = self.kube.request("GET", path, headers=headers)
        items = body.get("items") or []
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
        None when the server says that version is gone."""
        for event in self.kube.watch(
            self.api_version, self.kind, resource_version=version,
            timeout_seconds=self.watch_timeout, bookmarks=True,
            headers={k: v.format("PartialObjectMetadata") for k, v in self._accept.items()},
        ):  # fmt: skip
            kind, obj = event.get("type"), event.get("object") or {}
            if kind == "ERROR":
                return None  # 410 Gone, or another error: relist
            version = str((obj.get("metadata") or {}).get("resourceVersion") or version)
            if kind == "BOOKMARK":
                continue
            with self._lock:
                if kind == "DELETED":
                    self.store.pop(key_of(obj), None)
                else:
                    self.store[key_of(obj)] = obj
            self.handler(str(kind), obj)
            if self._stop.is_set():
                return None
        return version
