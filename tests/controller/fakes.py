"""A stand-in for the API client that answers what the reconciler asks and remembers
every call, for the controller's tests without a cluster."""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

from mlkube.cluster.client import ApiError


class FakeKube:
    """Answers what the reconciler asks, and remembers every call (from any thread:
    list appends are atomic)."""

    def __init__(self, objects: dict[tuple[str, str], dict[str, Any]]) -> None:
        self.objects = objects  # (kind, name) → object
        self.calls: list[tuple[str, ...]] = []
        self.conflicts = 0  # answer this many record patches with 409
        self.events: list[dict[str, Any]] = []
        self.patches: list[tuple[str, str, dict[str, Any]]] = []
        self.stats: Counter[str] = Counter()
        self.gates: dict[str, threading.Event] = {}  # a patch of this kind waits for it

    def lane(self) -> FakeKube:
        return self

    def get(self, api_version: str, kind: str, name: str,
            namespace: str | None = None) -> dict[str, Any] | None:  # fmt: skip
        self.calls.append(("get", kind, name))
        return self.objects.get((kind, name))

    def patch(self, api_version: str, kind: str, name: str, patch: dict[str, Any],
              namespace: str | None = None) -> dict[str, Any]:  # fmt: skip
        if kind in self.gates:
            self.gates[kind].wait(10)
        self.calls.append(("patch", kind, name))
        if kind not in ("Pod", "Node") and self.conflicts:
            self.conflicts -= 1
            raise ApiError(409, "Conflict", "the object has been modified")
        self.patches.append((kind, name, patch))
        return {}

    def create(self, obj: dict[str, Any], *, idempotent: bool = False) -> dict[str, Any]:
        self.calls.append(("create", obj["kind"], obj["metadata"]["name"]))
        self.events.append(obj)
        return obj

    def evict(self, name: str, namespace: str, uid: str | None = None) -> None:
        self.calls.append(("evict", "Pod", name))
