"""The work queue's promises: dedup while waiting, never two workers on one key,
delayed keys come after ready ones, failed keys come back after their backoff."""

from __future__ import annotations

import threading

import pytest

from mlkube.controller.ratelimit import ItemBackoff, RateLimiter
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


def test_a_delayed_key_waits_behind_ready_ones_and_then_is_handed_out() -> None:
    q = WorkQueue()
    got: list[object] = []

    def worker() -> None:
        for _ in range(2):
            got.append(q.get())

    q.add_after("later", 0.05)
    q.add("now")
    assert len(q) == 1 and q.delayed() == 1  # "later" is not ready yet
    thread = threading.Thread(target=worker)
    thread.start()
    thread.join(10)
    assert got == ["now", "later"]
    assert q.delayed() == 0


def test_a_key_delayed_twice_waits_once_for_the_earlier_time() -> None:
    q = WorkQueue()
    q.add_after("k", 3600)
    q.add_after("k", 0.01)  # sooner: replaces the hour
    q.add_after("k", 7200)  # later: ignored
    assert q.delayed() == 1
    assert q.get() == "k"  # would block for an hour if the 0.01 s had been lost
    q.done("k")
    assert len(q) == 0 and q.delayed() == 0


def test_an_add_does_not_wait_for_a_pending_delay() -> None:
    q = WorkQueue()
    q.add_after("k", 3600)
    q.add("k")  # an event: now, not in an hour
    assert q.get() == "k"


def test_failed_keys_come_back_after_a_growing_delay_until_forgotten() -> None:
    q = WorkQueue(RateLimiter(ItemBackoff(base=0.001, cap=1.0)))
    delays = []
    for _ in range(4):
        delays.append(q.add_rate_limited("flaky"))
        assert q.get() == "flaky"  # it does come back
        q.done("flaky")
    assert delays == pytest.approx([0.001, 0.002, 0.004, 0.008])
    assert q.failures("flaky") == 4
    q.forget("flaky")
    assert q.add_rate_limited("flaky") == pytest.approx(0.001)


def test_shutdown_releases_workers_even_with_delayed_keys() -> None:
    q = WorkQueue()
    q.add_after("someday", 3600)
    got: list[object] = []
    worker = threading.Thread(target=lambda: got.append(q.get()))
    worker.start()
    q.shutdown()
    worker.join(5)
    assert got == [None]
    q.add("after-shutdown")
    assert len(q) == 0


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


def test_urgent_keys_go_by_deadline_and_a_sooner_deadline_moves_a_key_up() -> None:
    q = WorkQueue()
    q.add("aws", urgent=True, deadline=120.0)
    q.add("none", urgent=True)  # no deadline: after every key that has one
    q.add("gke", urgent=True, deadline=30.0)
    q.add("later", urgent=True, deadline=200.0)
    q.add("later", urgent=True, deadline=10.0)  # a second, sooner notice
    q.add("gke", urgent=True, deadline=90.0)  # a later deadline changes nothing
    assert len(q) == 4
    assert [q.get() for _ in range(4)] == ["later", "gke", "aws", "none"]
    assert len(q) == 0


def test_urgent_pending_counts_waiting_and_running_urgent_keys_only() -> None:
    q = WorkQueue()
    q.add("plain")
    assert not q.urgent_pending()
    q.add("u", urgent=True, deadline=1.0)
    assert q.urgent_pending()
    assert q.get() == "u"
    assert q.urgent_pending()  # running: the writes it is about to queue wait for it
    q.done("u")
    assert not q.urgent_pending()
    assert q.get() == "plain"
    assert not q.urgent_pending()
