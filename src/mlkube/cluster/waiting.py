"""Waiting for the cluster to reach a state, through the one wait loop (`mlkube.wait`).

`until` asks a check again whenever something may have changed. What "may have
changed" means is the caller's ``wake``: `Watched.wake` returns on the next watch
event of one object (so a wait reacts at once and costs no requests meanwhile), and
plain ``time.sleep`` is a poll, for what no watch reports (discovery). ``every`` caps
the time between two checks either way, so a state that no event of the watched
object announces (a pod's phase, a Kueue message) is still seen.
"""

from __future__ import annotations

import math
import time
from typing import Any

from mlkube.cluster.client import ApiError, Kube
from mlkube.wait import WaitTimeout, Wake, until

__all__ = ["WaitTimeout", "Wake", "Watched", "until"]


class Watched:
    """One named object, read with `get` and waited on with `wake`.

    `wake` watches from the resourceVersion the last `get` returned, so a change made
    between the read and the watch is never missed: it is the watch's first event.
    """

    def __init__(
        self,
        kube: Kube,
        api_version: str,
        kind: str,
        name: str,
        namespace: str | None = None,
    ) -> None:
        self.kube = kube
        self.api_version = api_version
        self.kind = kind
        self.name = name
        self.namespace = namespace
        self._version: str | None = None

    def get(self) -> dict[str, Any] | None:
        obj = self.kube.get(self.api_version, self.kind, self.name, self.namespace)
        self._version = obj["metadata"].get("resourceVersion") if obj else None
        return obj

    def wake(self, seconds: float) -> None:
        """Return on the next event of this object, or after ``seconds``."""
        events = self.kube.watch(
            self.api_version,
            self.kind,
            self.namespace,
            resource_version=self._version,
            timeout_seconds=max(1, math.ceil(seconds)),
        )
        try:
            for event in events:
                if _concerns(event, self.name):
                    return
        except ApiError as exc:
            if exc.status != 403:
                raise
            time.sleep(seconds)  # may read but not watch: a poll still answers
        finally:
            close = getattr(events, "close", None)  # end the stream now, not at collection
            if close is not None:
                close()


def _concerns(event: dict[str, Any], name: str) -> bool:
    """An event about the object ``name``, or an ERROR (such as 410 Gone for a
    resourceVersion too old): either way, read the object again."""
    kind = event.get("type")
    if kind == "ERROR":
        return True
    if kind == "BOOKMARK":
        return False
    obj = event.get("object") or {}
    return bool(obj.get("metadata", {}).get("name") == name)
