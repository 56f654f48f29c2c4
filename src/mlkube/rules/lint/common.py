"""Small queries that many lint rules share."""

from __future__ import annotations

from collections.abc import Iterator

from mlkube.manifests.objects import Manifest
from mlkube.manifests.workloads import Container, PodTemplate, pod_templates
from mlkube.messages import clip


def containers(m: Manifest, *, init: bool = False) -> Iterator[tuple[PodTemplate, Container]]:
    """Every (template, container) of ``m``; init containers only when asked."""
    for template in pod_templates(m):
        for container in template.containers:
            if init or not container.init:
                yield template, container


def accelerator_containers(m: Manifest) -> Iterator[tuple[PodTemplate, Container]]:
    """App containers that get accelerators from a device plugin."""
    for template, container in containers(m):
        if container.accelerators() > 0:
            yield template, container


def accelerator_templates(m: Manifest) -> Iterator[PodTemplate]:
    for template in pod_templates(m):
        if template.accelerators() > 0:
            yield template


def names(items: object, key: str = "name") -> set[str]:
    """The ``key`` values of a list of mappings (volume names, container names, …)."""
    if not isinstance(items, list):
        return set()
    return {str(i[key]) for i in items if isinstance(i, dict) and i.get(key) is not None}


def shown(value: object, limit: int = 40) -> str:
    """A value as a message quotes it: repr, clipped to about ``limit`` characters (a 5,000-digit
    number or a 100 KB string is not echoed whole)."""
    if isinstance(value, list | dict):
        return "a list" if isinstance(value, list) else "a mapping"
    return clip(repr(value) if isinstance(value, str) else _number_text(value), limit)


def _number_text(value: object) -> str:
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > 10**30:
        return f"{str(value)[:20]}…"  # str() of a long int is slow and bounded by Python
    return repr(value)
