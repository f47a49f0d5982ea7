from __future__ import annotations

import threading
import time

import pytest

from mono_dagster.mono import TokenBucket, shared_token_bucket


class SimulatedTime:
    """A clock that only moves when the bucket sleeps, so the pacing is exact and instant."""

    def __init__(self) -> None:
        self.now = 0.0

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_a_full_bucket_allows_its_burst_without_waiting():
    sim = SimulatedTime()
    bucket = TokenBucket(2.0, 5, clock=sim.clock, sleep=sim.sleep)
    assert [bucket.acquire() for _ in range(5)] == [0.0] * 5
    assert sim.now == 0.0


def test_after_the_burst_requests_are_paced_at_the_rate():
    sim = SimulatedTime()
    bucket = TokenBucket(4.0, 2, clock=sim.clock, sleep=sim.sleep)
    for _ in range(2):
        bucket.acquire()
    waits = [bucket.acquire() for _ in range(8)]
    assert all(wait == pytest.approx(0.25) for wait in waits)
    assert sim.now == pytest.approx(2.0)


def test_threads_sharing_a_bucket_never_exceed_rate_plus_burst():
    bucket = TokenBucket(200.0, 5)
    grants: list[float] = []
    lock = threading.Lock()

    def worker() -> None:
        for _ in range(10):
            bucket.acquire()
            with lock:
                grants.append(time.monotonic())

    threads = [threading.Thread(target=worker) for _ in range(4)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(grants) == 40
    # In any prefix of time t, at most burst + rate * t tokens can have been granted.
    for count, granted_at in enumerate(sorted(grants), start=1):
        assert count <= 5 + 200.0 * (granted_at - started) + 1


def test_the_process_shares_one_bucket_per_host():
    first = shared_token_bucket("api.example.test", 3.0, 4)
    assert shared_token_bucket("api.example.test", 3.0, 4) is first
    assert shared_token_bucket("other.example.test", 3.0, 4) is not first


@pytest.mark.parametrize(("rate", "burst"), [(0, 1), (-1, 1), (1, 0)])
def test_nonsense_limits_are_refused(rate, burst):
    with pytest.raises(ValueError):
        TokenBucket(rate, burst)
