"""A work queue with client-go's guarantees: a key waiting to be processed is queued
once however often it is added, and a key is never processed by two workers at once
(an add during processing runs it again afterwards). Delayed adds wake up on time, and
a key delayed twice waits once, until the earlier of the two (client-go's
delaying_queue.go). Failed keys come back after the rate limiter's delay
(`mlkube.controller.ratelimit`, client-go's rate_limiting_queue.go).

Urgent keys are handed out before the others: the controller makes every affected
job's request before it does the slower follow-up work of any of them."""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from collections import deque
from collections.abc import Hashable

from mlkube.controller.ratelimit import RateLimiter


class WorkQueue:
    def __init__(self, limiter: RateLimiter | None = None) -> None:
        self.limiter = limiter or RateLimiter()
        self._cond = threading.Condition()
        self._urgent: deque[Hashable] = deque()
        self._queue: deque[Hashable] = deque()
        self._dirty: dict[Hashable, bool] = {}  # waiting keys → urgent
        self._processing: set[Hashable] = set()
        self._later: list[tuple[float, int, Hashable]] = []
        self._due: dict[Hashable, float] = {}  # delayed keys → when (the earliest asked)
        self._tie = itertools.count()
        self._closed = False

    def add(self, key: Hashable, *, urgent: bool = False) -> None:
        with self._cond:
            if self._closed:
                return
            waiting = key in self._dirty
            if waiting and (self._dirty[key] or not urgent):
                return
            self._dirty[key] = urgent
            if key not in self._processing:
                # An urgent add of a key already waiting as ordinary queues it again, in
                # front; get() skips whichever copy comes second.
                (self._urgent if urgent else self._queue).append(key)
                self._cond.notify()

    def add_after(self, key: Hashable, seconds: float) -> None:
        if seconds <= 0:
            self.add(key)
            return
        with self._cond:
            if self._closed:
                return
            at = time.monotonic() + seconds
            if key in self._due and self._due[key] <= at:
                return  # already due sooner
            self._due[key] = at
            heapq.heappush(self._later, (at, next(self._tie), key))
            self._cond.notify()

    def add_rate_limited(self, key: Hashable) -> float:
        """Try ``key`` again after the rate limiter's delay (its backoff grows with
        every failure until ``forget``); the delay chosen."""
        delay = self.limiter.when(key)
        self.add_after(key, delay)
        return delay

    def forget(self, key: Hashable) -> None:
        """``key`` succeeded (or failed for good): its next failure starts at the base."""
        self.limiter.forget(key)

    def failures(self, key: Hashable) -> int:
        return self.limiter.failures(key)

    def get(self) -> Hashable | None:
        """The next key, blocking; None once the queue is shut down."""
        with self._cond:
            while True:
                if self._closed:
                    return None
                self._promote()
                for queue in (self._urgent, self._queue):
                    while queue:
                        key = queue.popleft()
                        if key in self._dirty and key not in self._processing:
                            del self._dirty[key]
                            self._processing.add(key)
                            return key
                timeout = self._later[0][0] - time.monotonic() if self._later else None
                self._cond.wait(timeout)

    def done(self, key: Hashable) -> None:
        with self._cond:
            self._processing.discard(key)
            if key in self._dirty:
                (self._urgent if self._dirty[key] else self._queue).append(key)
                self._cond.notify()

    def shutdown(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def __len__(self) -> int:
        """Keys waiting to be handed out (not those delayed)."""
        with self._cond:
            return sum(1 for k in self._dirty if k not in self._processing)

    def delayed(self) -> int:
        """Keys waiting for their time."""
        with self._cond:
            return len(self._due)

    def _promote(self) -> None:
        now = time.monotonic()
        while self._later and self._later[0][0] <= now:
            at, _, key = heapq.heappop(self._later)
            if self._due.get(key) != at:
                continue  # superseded by an earlier time
            del self._due[key]
            if key not in self._dirty:
                self._dirty[key] = False
                if key not in self._processing:
                    self._queue.append(key)
