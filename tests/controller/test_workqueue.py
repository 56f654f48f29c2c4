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
