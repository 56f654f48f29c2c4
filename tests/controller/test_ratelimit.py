"""The retry delays of client-go's DefaultControllerRateLimiter
(k8s.io/client-go/util/workqueue/default_rate_limiters.go): per key 5 ms doubling to a
cap, overall a 10 qps token bucket with a burst of 100; the larger of the two wins."""

from __future__ import annotations

import pytest

from mlkube.controller.ratelimit import ItemBackoff, RateLimiter, TokenBucket


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_keys_delay_doubles_from_5_ms_until_the_cap() -> None:
    backoff = ItemBackoff(base=0.005, cap=1.0)
    delays = [backoff.when("a") for _ in range(10)]
    # client-go's When: baseDelay * 2^failures, then maxDelay once past it
    assert delays == pytest.approx([0.005, 0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.0, 1.0])
    assert backoff.failures("a") == 10


def test_keys_back_off_independently_and_forget_starts_over() -> None:
    backoff = ItemBackoff(base=0.005, cap=1.0)
    for _ in range(5):
        backoff.when("broken")
    assert backoff.when("healthy") == pytest.approx(0.005)
    backoff.forget("broken")
    assert backoff.failures("broken") == 0
    assert backoff.when("broken") == pytest.approx(0.005)


def test_thousands_of_failures_stay_at_the_cap_without_overflow() -> None:
    backoff = ItemBackoff(base=0.005, cap=30.0)
    for _ in range(2000):
        delay = backoff.when("k")
    assert delay == 30.0


def test_the_bucket_lets_a_burst_through_then_spaces_at_its_rate() -> None:
    clock = FakeClock()
    bucket = TokenBucket(qps=10, burst=100, clock=clock)
    assert [bucket.reserve() for _ in range(100)] == [0.0] * 100
    # the 101st waits one token (0.1 s), the 102nd two
    assert bucket.reserve() == pytest.approx(0.1)
    assert bucket.reserve() == pytest.approx(0.2)
    clock.now += 60  # a quiet minute refills it, up to the burst only
    assert [bucket.reserve() for _ in range(100)] == [0.0] * 100
    assert bucket.reserve() > 0


def test_the_limiter_takes_the_larger_of_backoff_and_bucket() -> None:
    clock = FakeClock()
    limiter = RateLimiter(ItemBackoff(base=0.005, cap=30.0),
                          TokenBucket(qps=10, burst=2, clock=clock))  # fmt: skip
    assert limiter.when("a") == pytest.approx(0.005)  # bucket has tokens: backoff decides
    assert limiter.when("b") == pytest.approx(0.005)
    assert limiter.when("c") == pytest.approx(0.1)  # bucket empty: it decides
    for _ in range(12):
        limiter.when("a")
    assert limiter.when("a") == 30.0  # long backoff beats the bucket
