"""Token buckets per key, on a controlled clock."""

from __future__ import annotations

import pytest

from atlas_core.errors import InvalidArgumentError
from atlas_core.serve.errors import RateLimitedError
from atlas_core.serve.ratelimit import RateLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_burst_then_refill_at_the_rate() -> None:
    clock = Clock()
    limiter = RateLimiter(10.0, 20, clock=clock)
    limiter.acquire("a", 20)
    with pytest.raises(RateLimitedError) as info:
        limiter.acquire("a", 5)
    assert info.value.retry_after_s == pytest.approx(0.5)
    clock.now = 0.5
    limiter.acquire("a", 5)  # exactly refilled
    with pytest.raises(RateLimitedError):
        limiter.acquire("a", 1)
    limiter.acquire("b", 20)  # keys do not share a bucket


def test_a_refused_request_takes_nothing() -> None:
    clock = Clock()
    limiter = RateLimiter(1.0, 10, clock=clock)
    limiter.acquire("a", 8)
    with pytest.raises(RateLimitedError):
        limiter.acquire("a", 5)
    limiter.acquire("a", 2)


def test_a_request_above_the_burst_says_to_split_it() -> None:
    limiter = RateLimiter(100.0, 50)
    with pytest.raises(RateLimitedError, match="burst"):
        limiter.acquire("a", 51)


def test_idle_buckets_are_forgotten() -> None:
    clock = Clock()
    limiter = RateLimiter(10.0, 10, clock=clock)
    for key in range(100):
        limiter.acquire(str(key), 1)
    assert len(limiter) == 100
    clock.now = 5.0  # long enough for every bucket to be full again
    limiter.acquire("new", 1)
    assert len(limiter) == 1


@pytest.mark.parametrize(("rate", "burst"), [(0.0, 10), (float("nan"), 10), (1.0, 0)])
def test_bad_settings_are_refused(rate: float, burst: float) -> None:
    with pytest.raises(InvalidArgumentError):
        RateLimiter(rate, burst)
