"""The one wait loop: ask a check again until it answers, bounded by a timeout.

`until` does no I/O of its own, so every layer can wait through it: the cluster's
waits (`mlkube.cluster.waiting` adds `Watched`, whose ``wake`` returns on a watch
event), the local cluster's processes (`mlkube.localcluster.processes`) and the tests.
What "may have changed" means is the caller's ``wake``; plain ``time.sleep`` is a poll.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import TypeVar

from mlkube.errors import ClusterError

T = TypeVar("T")
Wake = Callable[[float], None]
"""Block until something may have changed, or for at most the seconds given."""


class WaitTimeout(ClusterError):
    """The state waited for did not come in time."""


def until(
    what: str,
    check: Callable[[], T | None],
    *,
    timeout: float,
    wake: Wake = time.sleep,
    every: float = 0.2,
) -> T:
    """The first result of ``check`` that is not None; `WaitTimeout` naming ``what``
    after ``timeout`` seconds. ``check`` may raise to end the wait early (a state that
    can no longer change into the one wanted). ``every`` caps the time between two
    checks, whatever ``wake`` waits for."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result is not None:
            return result
        left = deadline - time.monotonic()
        if left <= 0:
            raise WaitTimeout(f"timed out after {timeout:g}s waiting for {what}")
        wake(min(every, left))


def until_complete(
    what: str,
    count: Callable[[], tuple[int, int]],
    *,
    stall: float,
    wake: Wake = time.sleep,
    every: float = 0.2,
    clock: Callable[[], float] = time.monotonic,
) -> None:
    """Until ``count()`` says ``(done, total)`` with ``done >= total``, for as long as
    ``done`` keeps growing: `WaitTimeout` only after ``stall`` seconds in which it did
    not. A wait for many things at once (1,000 nodes turning Ready on a loaded machine)
    ends when it stops moving, not after a fixed time that suits a hundred."""
    best, since = -1, clock()
    done, total = 0, 0

    def check() -> bool | None:
        nonlocal best, since, done, total
        done, total = count()
        if done >= total:
            return True
        now = clock()
        if done > best:
            best, since = done, now
        elif now - since >= stall:
            raise WaitTimeout(
                f"waiting for {what}: {done} of {total} after {stall:g}s without progress"
            )
        return None

    until(what, check, timeout=math.inf, wake=wake, every=every)
