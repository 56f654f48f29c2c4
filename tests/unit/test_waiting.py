"""The one wait loop: checks until a result, woken in between, bounded by a timeout."""

from __future__ import annotations

import pytest

from mlkube.cluster.waiting import WaitTimeout, until


def test_returns_the_first_result_and_wakes_between_checks() -> None:
    answers = iter([None, None, "ready"])
    woken: list[float] = []
    assert until("x", lambda: next(answers), timeout=60, wake=woken.append, every=2) == "ready"
    assert len(woken) == 2 and all(0 < s <= 2 for s in woken)


def test_a_result_at_once_never_wakes() -> None:
    woken: list[float] = []
    assert until("x", lambda: 0, timeout=60, wake=woken.append) == 0  # 0 is a result
    assert woken == []


def test_times_out_naming_what_it_waited_for() -> None:
    checks: list[int] = []

    def never() -> None:
        checks.append(1)

    with pytest.raises(WaitTimeout, match=r"timed out after 0s waiting for CRD w to be"):
        until("CRD w to be Established", never, timeout=0, wake=lambda _s: None)
    assert checks == [1]  # checked once even with no time left


def test_a_check_may_end_the_wait_with_its_own_error() -> None:
    def ended() -> None:
        raise ValueError("Failed")

    with pytest.raises(ValueError, match="Failed"):
        until("x", ended, timeout=60, wake=lambda _s: None)


def test_wake_never_sleeps_past_the_deadline() -> None:
    woken: list[float] = []
    answers = iter([None, "done"])
    until("x", lambda: next(answers), timeout=0.5, wake=woken.append, every=30)
    assert woken and woken[0] <= 0.5
