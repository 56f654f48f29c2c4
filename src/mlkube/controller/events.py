"""Kubernetes Events on what the controller touches. Each Event's name is derived from
what it reports, so writing it twice (a restart, a second replica) is a 409, not a
second Event."""

from __future__ import annotations

from typing import Any

from mlkube.cluster.client import ApiError, Kube
from mlkube.controller.plan import utcnow
from mlkube.controller.signals import format_time

COMPONENT = "mlkube-controller"


def record_event(
    kube: Kube,
    involved: dict[str, Any],
    reason: str,
    message: str,
    suffix: str,
    *,
    warning: bool = False,
    instance: str = "",
) -> None:
    meta = involved.get("metadata") or {}
    namespace = meta.get("namespace") or "default"
    now = format_time(utcnow())
    event = {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": f"{meta.get('name')}.{suffix}", "namespace": namespace},
        "involvedObject": {
            "apiVersion": involved.get("apiVersion"),
            "kind": involved.get("kind"),
            "name": meta.get("name"),
            "namespace": meta.get("namespace"),
            "uid": meta.get("uid"),
        },
        "reason": reason,
        "message": message[:1024],
        "type": "Warning" if warning else "Normal",
        "source": {"component": COMPONENT},
        "reportingComponent": f"mlkube.dev/{COMPONENT}",
        "reportingInstance": instance,
        "firstTimestamp": now,
        "lastTimestamp": now,
        "count": 1,
    }
    try:
        kube.create(event)
    except ApiError as exc:
        if exc.status != 409:
            raise
