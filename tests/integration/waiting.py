"""How integration tests wait: for a condition, never for a fixed time, through the
library's one wait loop (`mlkube.cluster.waiting.until`). Tests' checks answer with
truthiness (``not pods`` means gone), so a falsy answer means "not yet" here."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from mlkube.cluster import waiting

T = TypeVar("T")


def until(what: str, check: Callable[[], T | None], timeout: float = 60, every: float = 0.25) -> T:
    """The first truthy value of ``check()``, checked at least every ``every`` seconds."""
    try:
        return waiting.until(what, lambda: check() or None, timeout=timeout, every=every)
    except waiting.WaitTimeout as exc:
        raise AssertionError(str(exc)) from None
