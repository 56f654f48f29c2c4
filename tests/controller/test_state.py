"""The controller's memory: an index that follows pods, an LRU of announced requests
that stays bounded, and refusals that hold a key back instead of a hot loop."""

from __future__ import annotations

from datetime import UTC, datetime

from mlkube.controller.jobs import JobRef
from mlkube.controller.state import Announced, CachedRecord, ControllerState

JOB = JobRef("kubeflow.org/v1", "PyTorchJob", "ml", "bert")
OTHER = JobRef("kubeflow.org/v1", "PyTorchJob", "ml", "gpt")


def test_a_pod_moves_between_nodes_and_its_job_forgets_it_when_gone() -> None:
    state = ControllerState()
    state.index_pod("ml/bert-0", JOB, "n1")
    state.index_pod("ml/bert-1", JOB, "n1")
    state.index_pod("ml/gpt-0", OTHER, "n2")
    assert state.jobs_on("n1") == {JOB} and state.pods_of(JOB) == ["ml/bert-0", "ml/bert-1"]
    state.index_pod("ml/bert-1", JOB, "n2")  # rescheduled
    assert state.jobs_on("n2") == {JOB, OTHER}
    state.remember_record(JOB, CachedRecord("uid", ()))
    state.forget_pod("ml/bert-0", "u0")
    state.forget_pod("ml/bert-1", "u1")
    assert state.pods_of(JOB) == [] and state.jobs_on("n1") == set()
    assert state.record_of(JOB) is None  # the job's last pod went: its record too
    assert state.sizes()["jobs"] == 1  # gpt only


def test_a_pod_that_stops_being_a_training_pod_leaves_the_index() -> None:
    state = ControllerState()
    state.index_pod("ml/p", JOB, "n1")
    state.index_pod("ml/p", None, "n1")
    assert state.jobs_on("n1") == set() and state.sizes()["pods"] == 0


def test_a_notice_is_first_seen_once_until_it_goes() -> None:
    state = ControllerState()
    t1, t2 = datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 2, tzinfo=UTC)
    assert state.notice_seen("n1", t1)
    assert not state.notice_seen("n1", t2)
    assert state.first_seen(["n1", "n2"]) == {"n1": t1}
    state.notice_gone("n1")
    assert not state.noticed("n1") and state.notice_seen("n1", t2)


def test_deliveries_and_evictions_are_forgotten_with_the_pod() -> None:
    state = ControllerState()
    state.mark_delivered("u1", "r-1")
    state.mark_evicted("u1")
    assert state.delivered("u1", "r-1") and not state.delivered("u1", "r-2")
    state.forget_pod("ml/p", "u1")
    assert not state.delivered("u1", "r-1") and not state.evicted("u1")


def test_announced_ids_stay_bounded_and_the_oldest_go_first() -> None:
    announced = Announced(keep=3)
    for i in range(10):
        announced.add(f"r-{i}")
    assert len(announced) == 3
    assert "r-9" in announced and "r-7" in announced and "r-6" not in announced
    announced.add("r-7")  # seen again: now the newest
    announced.add("r-10")
    assert "r-7" in announced and "r-8" not in announced


def test_the_state_holds_no_more_announced_ids_than_it_keeps() -> None:
    state = ControllerState(announced_keep=100)
    for i in range(10_000):
        state.mark_announced(f"r-{i}")
    assert state.sizes()["announced"] == 100
    assert state.announced("r-9999") and not state.announced("r-0")


def test_a_refusal_is_news_once_holds_the_key_until_its_time_and_clears_on_success() -> None:
    state = ControllerState()
    assert state.refuse(JOB, "403 Forbidden: patch", retry_at=100.0)
    assert not state.refuse(JOB, "403 Forbidden: patch", retry_at=200.0)  # same: not news
    assert state.refuse(JOB, "422 Invalid: x", retry_at=200.0)  # a different reason is
    assert state.held(JOB, now=150.0) and not state.held(JOB, now=200.0)
    assert not state.held(OTHER, now=150.0)
    assert state.accepted(JOB)
    assert not state.accepted(JOB)  # already cleared
    assert not state.held(JOB, now=150.0)
