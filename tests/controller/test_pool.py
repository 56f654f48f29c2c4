"""The writer pool's promises: rank 0 first, then in order; tasks above rank 0 wait
while more urgent work is pending elsewhere; a task due later waits for its time."""

from __future__ import annotations

import threading
import time
from functools import partial

from mlkube.controller.pool import Pool
from mlkube.wait import until


def test_without_threads_a_task_due_now_runs_in_the_caller_and_a_later_one_waits() -> None:
    ran: list[str] = []
    pool = Pool(0)
    pool.submit(lambda: ran.append("now"))
    assert ran == ["now"]
    pool.submit(lambda: ran.append("later"), at=time.monotonic() + 3600)
    pool.run_due()
    assert ran == ["now"] and pool.pending() == 1


def test_rank_zero_first_then_in_the_order_given() -> None:
    gate = threading.Event()
    ran: list[str] = []
    pool = Pool(1)

    def block() -> None:
        gate.wait()

    pool.submit(block, rank=0)  # holds the one thread while the others queue
    until("the blocker runs", lambda: pool.pending() == 1 or None, timeout=5)
    for name, rank in (("rest-1", 1), ("event", 2), ("first", 0), ("rest-2", 1)):
        pool.submit(partial(ran.append, name), rank=rank)
    gate.set()
    until("all ran", lambda: len(ran) == 4 or None, timeout=5)
    assert ran == ["first", "rest-1", "rest-2", "event"]
    pool.shutdown()


def test_held_tasks_wait_for_the_urgent_work_but_rank_zero_does_not() -> None:
    urgent = threading.Event()
    urgent.set()
    ran: list[str] = []
    pool = Pool(2, hold=urgent.is_set)
    pool.submit(lambda: ran.append("rest"), rank=1)
    pool.submit(lambda: ran.append("first"), rank=0)
    until("rank 0 ran", lambda: ran == ["first"] or None, timeout=5)
    assert pool.pending() == 1  # rank 1 is held while the urgent work is pending
    urgent.clear()
    until("the held task ran", lambda: ran == ["first", "rest"] or None, timeout=5)
    pool.shutdown()


def test_a_task_due_later_runs_at_its_time_not_before() -> None:
    done = threading.Event()
    at = time.monotonic() + 0.3
    ran_at: list[float] = []
    pool = Pool(1)

    def task() -> None:
        ran_at.append(time.monotonic())
        done.set()

    pool.submit(task, rank=0, at=at)
    assert done.wait(5)
    assert ran_at[0] >= at
    pool.shutdown()


def test_a_failing_task_does_not_stop_the_pool() -> None:
    ran: list[str] = []
    pool = Pool(1)

    def boom() -> None:
        raise RuntimeError("a bug")

    pool.submit(boom)
    pool.submit(lambda: ran.append("after"))
    until("the next task ran", lambda: ran == ["after"] or None, timeout=5)
    pool.shutdown()
