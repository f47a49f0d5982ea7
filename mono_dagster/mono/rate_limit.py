"""A thread-safe token bucket: requests per second with a burst, shared by the whole process.

Why hand-written: the well-kept limiter libraries model leaky buckets or fixed windows (PyrateLimiter,
`limits`), not "rate plus burst" pacing, and this needs about thirty lines. Cross-process
per-tenant budgets, kept in a shared store, are `tenant_limits` (PyrateLimiter); a request passes both.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class TokenBucket:
    def __init__(
        self,
        rate_per_second: float,
        burst: int,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if rate_per_second <= 0:
            raise ValueError(f"rate_per_second must be positive, not {rate_per_second}")
        if burst < 1:
            raise ValueError(f"burst must be at least 1, not {burst}")
        self.rate_per_second = float(rate_per_second)
        self.burst = int(burst)
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._tokens = float(burst)
        self._updated = clock()

    def _refill(self, now: float) -> None:
        self._tokens = min(self.burst, self._tokens + (now - self._updated) * self.rate_per_second)
        self._updated = now

    def acquire(self) -> float:
        """Take one token, sleeping until one is there. Returns the seconds spent waiting."""
        waited = 0.0
        while True:
            with self._lock:
                now = self._clock()
                self._refill(now)
                if self._tokens >= 1:
                    self._tokens -= 1
                    return waited
                delay = (1 - self._tokens) / self.rate_per_second
            # Sleep outside the lock so other threads can refill and compete fairly.
            self._sleep(delay)
            waited += delay


_shared: dict[str, TokenBucket] = {}
_shared_lock = threading.Lock()


def shared_token_bucket(key: str, rate_per_second: float, burst: int) -> TokenBucket:
    """The process-wide bucket for `key` (the Mono host): every client in the process shares it.

    A later caller with a different rate or burst gets a bucket with its settings, replacing the old one.
    """
    with _shared_lock:
        bucket = _shared.get(key)
        if bucket is None or bucket.rate_per_second != rate_per_second or bucket.burst != burst:
            bucket = TokenBucket(rate_per_second, burst)
            _shared[key] = bucket
        return bucket
