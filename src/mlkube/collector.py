"""Pausing Python's cyclic garbage collector over work on many acyclic objects.

Its own module (no I/O, nothing imported) so that lint can take the pause without
loading the cluster client."""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager


class CollectorPause:
    """Python's cyclic garbage collector off while a body is decoded (or a batch runs).

    Decoding allocates millions of dicts and lists (17 MB of JSON for 5,000 pods), and
    every 700 allocations start a collection; as the heap grows, full collections
    follow, each walking everything decoded so far: 5,000 pods decode several times
    faster without the collector (docs/benchmarks.md). A decoded body holds no reference
    cycles, so the collector has nothing to find in it. Threads that decode at once
    share one pause; a collector the caller turned off (``gc.disable()``) stays off.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._holders = 0
        self._was_enabled = False

    @contextmanager
    def held(self) -> Iterator[None]:
        with self._lock:
            if self._holders == 0:
                self._was_enabled = gc.isenabled()
                gc.disable()
            self._holders += 1
        try:
            yield
        finally:
            with self._lock:
                self._holders -= 1
                if self._holders == 0 and self._was_enabled:
                    gc.enable()


PAUSE = CollectorPause()


def collector_paused() -> AbstractContextManager[None]:
    """The collector off for a whole batch of work on decoded objects (doctor's gather
    and diagnosis, lint's read and rules), sharing the pause the cluster client's
    ``decode`` takes, so it is on again only at the end."""
    return PAUSE.held()
