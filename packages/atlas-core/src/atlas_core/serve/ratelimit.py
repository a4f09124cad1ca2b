"""Per-key token buckets: the sustained rate and burst each API key may ingest.

A bucket holds up to ``burst`` tokens and refills at ``rate`` tokens per second; a
request of n events takes n tokens or is refused whole with the time until it would fit
(the retry hint). Buckets of keys idle long enough to be full again are forgotten, so
the table stays bounded by the keys active in the last ``burst / rate`` seconds (and by
``max_keys`` in any case).
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable

from atlas_core.errors import InvalidArgumentError
from atlas_core.serve.errors import RateLimitedError

__all__ = ["RateLimiter"]


class RateLimiter:
    """Token buckets keyed by a string (an API key id, a feedback token's interaction)."""

    def __init__(
        self,
        rate: float,
        burst: float,
        *,
        max_keys: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not (math.isfinite(rate) and rate > 0):
            raise InvalidArgumentError(f"invalid argument `rate`: must be > 0, got {rate}")
        if not (math.isfinite(burst) and burst >= 1):
            raise InvalidArgumentError(f"invalid argument `burst`: must be >= 1, got {burst}")
        self.rate = float(rate)
        self.burst = float(burst)
        self._max_keys = max_keys
        self._clock = clock
        self._lock = threading.Lock()
        # key -> (tokens, time of that count); least recently used first.
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def acquire(self, key: str, n: int) -> None:
        """Takes ``n`` tokens from ``key``'s bucket, or raises RateLimitedError (nothing
        taken) with ``retry_after_s`` = when ``n`` tokens will be there. A request larger
        than the burst can never fit and is refused with that reason."""
        if n <= 0:
            return
        if n > self.burst:
            raise RateLimitedError(
                f"rate limit: a request of {n} events exceeds the burst of {self.burst:.0f} "
                "allowed per key; split it",
                retry_after_s=n / self.rate,
            )
        now = self._clock()
        with self._lock:
            tokens, then = self._buckets.pop(key, (self.burst, now))
            tokens = min(self.burst, tokens + (now - then) * self.rate)
            if tokens < n:
                self._buckets[key] = (tokens, now)
                wait = (n - tokens) / self.rate
                raise RateLimitedError(
                    f"rate limit: key is over {self.rate:g} events/s; retry in {wait:.3f}s",
                    retry_after_s=wait,
                )
            self._buckets[key] = (tokens - n, now)
            self._forget_idle(now)

    def _forget_idle(self, now: float) -> None:
        # A bucket that has refilled completely carries no state worth keeping.
        refill = self.burst / self.rate
        while self._buckets:
            key, (_, then) = next(iter(self._buckets.items()))
            if now - then < refill and len(self._buckets) <= self._max_keys:
                break
            del self._buckets[key]

    def __len__(self) -> int:
        """Buckets held (keys seen recently)."""
        return len(self._buckets)
