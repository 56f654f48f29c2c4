"""The work queue's promises: dedup while waiting, never two workers on one key."""

from __future__ import annotations

import threading
import time

from mlkube.controller.workqueue import WorkQueue


def test_a_waiting_key_is_queued_once() -> None:
    q = WorkQueue()
    for _ in range(3):
        q.add("a")
    q.add("b")
    assert len(q) == 2
    assert q.get() == "a" and q.get() == "b"


def test_a_key_added_while_processing_runs_again_after_done() -> None:
    q = WorkQueue()
    q.add("a")
    assert q.get() == "a"
    q.add("a")  # an event arrives mid-reconcile
    assert len(q) == 0  # not handed to a second worker
    q.done("a")
    assert q.get() == "a"


def test_delayed_add_wakes_a_waiting_worker() -> None:
    q = WorkQueue()
    got: list[object] = []
    worker = threading.Thread(target=lambda: got.append(q.get()))
    worker.start()
    started = time.monotonic()
    q.add_after("later", 0.2)
    worker.join(5)
    assert got == ["later"]
    assert time.monotonic() - started >= 0.19


def test_shutdown_releases_workers() -> None:
    q = WorkQueue()
    got: list[object] = []
    worker = threading.Thread(target=lambda: got.append(q.get()))
    worker.start()
    q.shutdown()
    worker.join(5)
    assert got == [None]


def test_urgent_keys_go_first_and_an_upgrade_is_not_run_twice() -> None:
    q = WorkQueue()
    q.add("slow-1")
    q.add("slow-2")
    q.add("fast", urgent=True)
    q.add("slow-2", urgent=True)  # upgraded: runs now, and not again later
    assert len(q) == 3
    assert [q.get(), q.get(), q.get()] == ["fast", "slow-2", "slow-1"]
    assert len(q) == 0


def test_an_urgent_add_during_processing_stays_urgent() -> None:
    q = WorkQueue()
    q.add("a")
    q.add("b")
    assert q.get() == "a"
    q.add("a", urgent=True)
    q.done("a")
    assert q.get() == "a"
