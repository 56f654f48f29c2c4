"""The one wait loop: checks until a result, woken in between, bounded by a timeout."""

from __future__ import annotations

import pytest

from mlkube.cluster.waiting import WaitTimeout, until
from mlkube.wait import until_complete


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


class Clock:
    """Time that passes only when the wait sleeps: no real waiting in the test."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_a_wait_that_keeps_progressing_outlasts_its_stall_time() -> None:
    # one more done every 3 s, 40 of them: 120 s in all against a stall of 5 s
    clock = Clock()
    until_complete("40 nodes Ready", lambda: (min(40, int(clock.now // 3)), 40),
                   stall=5, wake=clock.sleep, every=1, clock=clock)  # fmt: skip
    assert 117 <= clock.now <= 121


def test_a_wait_that_stops_progressing_fails_after_its_stall_time() -> None:
    clock = Clock()

    def count() -> tuple[int, int]:
        return min(7, int(clock.now)), 10  # 7 done by t=7 s, then nothing more

    with pytest.raises(WaitTimeout, match=r"7 of 10 after 30s without progress"):
        until_complete("10 nodes Ready", count, stall=30, wake=clock.sleep, every=1,
                       clock=clock)  # fmt: skip
    assert 37 <= clock.now <= 38  # the last progress at 7 s, plus the 30 s of stall


def test_a_wait_already_complete_never_sleeps() -> None:
    clock = Clock()
    until_complete("x", lambda: (3, 3), stall=0, wake=clock.sleep, clock=clock)
    assert clock.now == 0
