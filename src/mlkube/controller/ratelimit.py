"""How long a failed key waits before its next try, as client-go's workqueue decides it
(k8s.io/client-go/util/workqueue/default_rate_limiters.go, DefaultControllerRateLimiter):
the larger of a per-key exponential backoff (base × 2^failures, capped) and an overall
token bucket (10 per second, burst 100), so one broken key backs off on its own and a
storm of failing keys cannot hammer the API server either.

The one choice that differs from client-go is the cap: client-go's is 1000 s; a spot
notice lasts 30 to 120 s, so a retry later than the resync (30 s) is worth nothing, and
mlkube caps at 30 s.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable

BASE_DELAY = 0.005  # client-go: 5 * time.Millisecond
MAX_DELAY = 30.0  # client-go: 1000 * time.Second; see the module's docstring
BUCKET_QPS = 10.0  # client-go: rate.NewLimiter(rate.Limit(10), 100)
BUCKET_BURST = 100

Clock = Callable[[], float]


class ItemBackoff:
    """base × 2^(failures so far), capped; forgotten when the key succeeds."""

    def __init__(self, base: float = BASE_DELAY, cap: float = MAX_DELAY) -> None:
        self.base = base
        self.cap = cap
        self._failures: dict[Hashable, int] = {}
        self._lock = threading.Lock()

    def when(self, key: Hashable) -> float:
        with self._lock:
            exponent = self._failures.get(key, 0)
            self._failures[key] = exponent + 1
        if exponent > 64:  # 2**64 × 5 ms is past any cap: avoid float overflow
            return self.cap
        return float(min(self.cap, self.base * 2**exponent))

    def failures(self, key: Hashable) -> int:
        with self._lock:
            return self._failures.get(key, 0)

    def forget(self, key: Hashable) -> None:
        with self._lock:
            self._failures.pop(key, None)


class TokenBucket:
    """A token bucket that reserves: each call takes a token, now or in the future, and
    says how long until it is available (golang.org/x/time/rate's Reserve().Delay())."""

    def __init__(self, qps: float = BUCKET_QPS, burst: int = BUCKET_BURST,
                 clock: Clock = time.monotonic) -> None:  # fmt: skip
        self.qps = qps
        self.burst = burst
        self.clock = clock
        self._tokens = float(burst)
        self._at = clock()
        self._lock = threading.Lock()

    def reserve(self) -> float:
        with self._lock:
            now = self.clock()
            self._tokens = min(float(self.burst), self._tokens + (now - self._at) * self.qps)
            self._at = now
            self._tokens -= 1.0
            return 0.0 if self._tokens >= 0 else -self._tokens / self.qps


class RateLimiter:
    """client-go's MaxOfRateLimiter over the two above."""

    def __init__(self, backoff: ItemBackoff | None = None,
                 bucket: TokenBucket | None = None) -> None:  # fmt: skip
        self.backoff = backoff or ItemBackoff()
        self.bucket = bucket or TokenBucket()

    def when(self, key: Hashable) -> float:
        return max(self.backoff.when(key), self.bucket.reserve())

    def failures(self, key: Hashable) -> int:
        return self.backoff.failures(key)

    def forget(self, key: Hashable) -> None:
        self.backoff.forget(key)
