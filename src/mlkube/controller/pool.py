"""A bounded pool of writer threads for the small writes a checkpoint request fans out
into: one PATCH per pod, one eviction per pod, one Event. Tasks go by rank (0 first),
then in the order given; a task may name the time it is due. Tasks of rank 1 and above
wait while ``hold()`` says more urgent work is pending elsewhere (the records of jobs
not yet asked), so a record never waits behind another job's pod writes, yet no worker
is tied up with one job's 16 writes in a row.

With ``threads=0`` a task due now runs at once in the caller (tests); one due later is
kept until ``run_due()``.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from collections.abc import Callable

log = logging.getLogger("mlkube.controller")

Task = Callable[[], None]
HOLD_POLL = 0.02  # seconds between looks at ``hold()`` while held


class Pool:
    def __init__(self, threads: int, *, hold: Callable[[], bool] | None = None,
                 name: str = "writer") -> None:  # fmt: skip
        self.hold = hold or (lambda: False)
        self._cond = threading.Condition()
        self._ready: list[tuple[int, int, Task]] = []  # (rank, seq, task)
        self._later: list[tuple[float, int, int, Task]] = []  # (due, seq, rank, task)
        self._seq = itertools.count()
        self._busy = 0
        self._polling = False  # a thread is looking at hold() again and again
        self._closed = False
        self._threads = [
            threading.Thread(target=self._run, name=f"{name}-{i}", daemon=True)
            for i in range(threads)
        ]
        for thread in self._threads:
            thread.start()

    def submit(self, task: Task, *, rank: int = 1, at: float | None = None) -> None:
        """Run ``task`` (at ``at``, monotonic seconds, if given) in rank order."""
        if not self._threads and (at is None or at <= time.monotonic()):
            _call(task)
            return
        with self._cond:
            if self._closed:
                return
            if at is not None and at > time.monotonic():
                heapq.heappush(self._later, (at, next(self._seq), rank, task))
            else:
                heapq.heappush(self._ready, (rank, next(self._seq), task))
            self._cond.notify()

    def pending(self) -> int:
        """Tasks not finished: waiting, due later, or running."""
        with self._cond:
            return len(self._ready) + len(self._later) + self._busy

    def run_due(self) -> None:
        """Without threads: run every task that is due (tests)."""
        while True:
            with self._cond:
                self._promote()
                if not self._ready:
                    return
                _, _, task = heapq.heappop(self._ready)
            _call(task)

    def shutdown(self) -> None:
        with self._cond:
            self._closed = True
            self._ready.clear()
            self._later.clear()
            self._cond.notify_all()

    def _promote(self) -> None:
        now = time.monotonic()
        while self._later and self._later[0][0] <= now:
            _, seq, rank, task = heapq.heappop(self._later)
            heapq.heappush(self._ready, (rank, seq, task))

    def _next(self) -> Task | None:
        """The next task for a writer thread. While tasks are held back, one thread at a
        time looks at ``hold()`` again every HOLD_POLL; the others sleep until a task is
        taken (each one taken wakes the next) or one comes due."""
        with self._cond:
            while not self._closed:
                self._promote()
                if self._ready and (self._ready[0][0] == 0 or not self.hold()):
                    _, _, task = heapq.heappop(self._ready)
                    self._busy += 1
                    if self._ready:
                        self._cond.notify()  # the next may go as well
                    return task
                if self._ready and not self._polling:  # held back: look again shortly
                    self._polling = True
                    try:
                        self._cond.wait(HOLD_POLL)
                    finally:
                        self._polling = False
                    continue
                timeout = None
                if self._later:
                    timeout = max(0.0, self._later[0][0] - time.monotonic())
                self._cond.wait(timeout)
            return None

    def _run(self) -> None:
        while (task := self._next()) is not None:
            try:
                _call(task)
            finally:
                with self._cond:
                    self._busy -= 1


def _call(task: Task) -> None:
    try:
        task()
    except Exception:  # the task reports its own failures; this is a bug
        log.exception("a write task failed")
