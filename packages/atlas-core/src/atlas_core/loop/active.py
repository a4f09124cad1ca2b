"""Active learning: ask users for feedback on the responses the loop is least sure about.

Feedback requests cost users attention, so they are budgeted by a token bucket
(``requests_per_s`` sustained, ``burst`` at once). :meth:`FeedbackRequester.choose` takes a
batch of responses with their uncertainty (e.g. a reward's spread, or disagreement between
samples) and returns the most uncertain ones, at most as many as the budget allows and
never one below ``min_uncertainty``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TypeVar

from atlas_core.config.models import ActiveLearningConfig
from atlas_core.errors import InvalidArgumentError
from atlas_core.loop.clock import Clock, SystemClock

__all__ = ["FeedbackRequester", "TokenBucket"]

T = TypeVar("T")


class TokenBucket:
    """``rate`` tokens per second up to ``capacity``; starts full."""

    def __init__(self, rate: float, capacity: int, clock: Clock | None = None) -> None:
        if not (rate > 0 and math.isfinite(rate)):
            raise InvalidArgumentError(f"rate: must be a positive finite number, got {rate}")
        if capacity < 1:
            raise InvalidArgumentError(f"capacity: must be >= 1, got {capacity}")
        self.rate = rate
        self.capacity = capacity
        self.clock = clock or SystemClock()
        self._tokens = float(capacity)
        self._at = self.clock.now()

    @property
    def available(self) -> int:
        """Whole tokens available now."""
        now = self.clock.now()
        self._tokens = min(self.capacity, self._tokens + (now - self._at) * self.rate)
        self._at = now
        return int(self._tokens)

    def take(self, n: int) -> int:
        """Takes up to ``n`` tokens; how many it got."""
        got = min(n, self.available)
        self._tokens -= got
        return got


class FeedbackRequester:
    """Picks which responses to ask feedback for, within the budget."""

    def __init__(self, config: ActiveLearningConfig | None = None, clock: Clock | None = None):
        self.config = config or ActiveLearningConfig()
        self.bucket = TokenBucket(self.config.requests_per_s, self.config.burst, clock)
        self.asked = 0
        """Requests granted so far."""

    def choose(self, items: Sequence[T], uncertainty: Sequence[float]) -> list[T]:
        """The most uncertain of ``items`` (most uncertain first) that the budget allows."""
        if len(items) != len(uncertainty):
            raise InvalidArgumentError(
                f"uncertainty: {len(uncertainty)} values for {len(items)} items"
            )
        if any(not math.isfinite(u) for u in uncertainty):
            raise InvalidArgumentError("uncertainty: contains a NaN or infinite value")
        order = sorted(
            (i for i, u in enumerate(uncertainty) if u >= self.config.min_uncertainty),
            key=lambda i: -uncertainty[i],
        )
        granted = self.bucket.take(len(order))
        self.asked += granted
        return [items[i] for i in order[:granted]]
