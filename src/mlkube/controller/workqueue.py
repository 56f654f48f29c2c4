"""A work queue with client-go's guarantees: a key waiting to be processed is queued
once however often it is added, and a key is never processed by two workers at once
(an add during processing runs it again afterwards). Delayed adds wake up on time, and
a key delayed twice waits once, until the earlier of the two (client-go's
delaying_queue.go). Failed keys come back after the rate limiter's delay
(`mlkube.controller.ratelimit`, client-go's rate_limiting_queue.go).

Urgent keys are handed out before the others, the soonest deadline first (the job
whose node goes away first: GKE's and Azure's 30 s before AWS's 120 s), then in the
order added. The controller marks a job urgent while its request is not yet recorded.
``urgent_pending()`` says whether any is waiting or running, so writes that can wait
(other pods, Events) hold back until every job is asked."""

from __future__ import annotations

import heapq
import itertools
import math
import threading
import time
from collections import deque
from collections.abc import Hashable

from mlkube.controller.ratelimit import RateLimiter


class WorkQueue:
    def __init__(self, limiter: RateLimiter | None = None) -> None:
        self.limiter = limiter or RateLimiter()
        self._cond = threading.Condition()
        self._urgent: list[tuple[float, int, Hashable]] = []  # (deadline, seq, key)
        self._queue: deque[Hashable] = deque()
        # waiting keys → their deadline if urgent (math.inf: urgent, no deadline), else None
        self._dirty: dict[Hashable, float | None] = {}
        self._processing: set[Hashable] = set()
        self._urgent_running: set[Hashable] = set()
        self._later: list[tuple[float, int, Hashable]] = []
        self._due: dict[Hashable, float] = {}  # delayed keys → when (the earliest asked)
        self._tie = itertools.count()
        self._closed = False

    def add(self, key: Hashable, *, urgent: bool = False, deadline: float = math.inf) -> None:
        """Queue ``key``; ``urgent`` ones go first, the soonest ``deadline`` (any
        clock, the same for every key) first."""
        with self._cond:
            if self._closed:
                return
            if key in self._dirty:  # already waiting
                waiting = self._dirty[key]
                if not urgent or (waiting is not None and waiting <= deadline):
                    return
            self._dirty[key] = deadline if urgent else None
            if key not in self._processing:
                # An urgent add of a key already waiting (ordinary, or with a later
                # deadline) queues it again, in front; get() skips the stale copy.
                self._push(key)
                self._cond.notify()

    def _push(self, key: Hashable) -> None:
        deadline = self._dirty[key]
        if deadline is None:
            self._queue.append(key)
        else:
            heapq.heappush(self._urgent, (deadline, next(self._tie), key))

    def urgent_pending(self) -> bool:
        """Whether an urgent key is waiting or being processed."""
        with self._cond:
            return bool(self._urgent_running) or any(
                d is not None and k not in self._processing for k, d in self._dirty.items()
            )

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
                while self._urgent:
                    deadline, _, key = heapq.heappop(self._urgent)
                    if key in self._dirty and self._dirty[key] == deadline \
                            and key not in self._processing:  # fmt: skip
                        return self._hand_out(key, urgent=True)
                while self._queue:
                    key = self._queue.popleft()
                    if key in self._dirty and self._dirty[key] is None \
                            and key not in self._processing:  # fmt: skip
                        return self._hand_out(key, urgent=False)
                timeout = self._later[0][0] - time.monotonic() if self._later else None
                self._cond.wait(timeout)

    def _hand_out(self, key: Hashable, *, urgent: bool) -> Hashable:
        del self._dirty[key]
        self._processing.add(key)
        if urgent:
            self._urgent_running.add(key)
        return key

    def done(self, key: Hashable) -> None:
        with self._cond:
            self._processing.discard(key)
            self._urgent_running.discard(key)
            if key in self._dirty:
                self._push(key)
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
                self._dirty[key] = None
                if key not in self._processing:
                    self._queue.append(key)
