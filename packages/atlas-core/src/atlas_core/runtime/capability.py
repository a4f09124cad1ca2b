"""How well the student does on a learning key, from the rewards recorded in memory.

The estimate is read from the Store (the rewards the reward system wrote for the key's
recent interactions), so every process serving the key agrees on it and it survives
restarts. Two numbers: the mean of the last ``window`` rewards, and an exponential moving
average kept in process by the native ``RewardAggregator``, seeded from the same rows and
fed each reward once as later refreshes find it (the EMA follows a change faster than the
window mean). Reads are cached for ``ttl_s`` so a busy key does not query the Store per call.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import timedelta

import polars as pl

from atlas_core.errors import InvalidArgumentError
from atlas_core.kernels import RewardAggregator
from atlas_core.store import Query, Store
from atlas_core.types import utcnow

__all__ = ["Capability", "CapabilityEstimator"]

#: The widening read windows of :meth:`CapabilityEstimator._recent` (an hour, a day, a week).
_SPANS_S = (3_600.0, 86_400.0, 7 * 86_400.0)


@dataclass(frozen=True)
class Capability:
    """The estimate for one learning key."""

    learning_key: str
    n: int
    """Rewards it rests on (at most the window)."""
    mean: float | None
    """Mean of the last ``n`` rewards; None with no history."""
    ema: float | None = None
    """Exponential moving average (None when the EMA is off or there is no history)."""

    @property
    def score(self) -> float | None:
        """The EMA when kept, else the window mean."""
        return self.ema if self.ema is not None else self.mean


class CapabilityEstimator:
    """Per-key capability estimates of one tenant; thread-safe."""

    def __init__(
        self,
        store: Store,
        tenant: str = "default",
        *,
        window: int = 50,
        lookback_s: float | None = None,
        use_ema: bool = True,
        half_life: float = 10.0,
        ttl_s: float = 5.0,
    ) -> None:
        if window < 1:
            raise InvalidArgumentError(f"invalid argument `window`: >= 1, got {window!r}")
        if ttl_s < 0:
            raise InvalidArgumentError(f"invalid argument `ttl_s`: >= 0, got {ttl_s!r}")
        self.store = store
        self.tenant = tenant
        self.window = window
        self.lookback_s = lookback_s
        self.ttl_s = ttl_s
        self._ema = RewardAggregator("str", half_life=half_life) if use_ema else None
        self._seen: dict[str, set[bytes]] = {}
        self._cache: dict[str, tuple[float, Capability]] = {}
        self._lock = threading.Lock()

    def estimate(self, learning_key: str) -> Capability:
        """The key's estimate, from the cache when younger than ``ttl_s``."""
        with self._lock:
            cached = self._cache.get(learning_key)
            if cached is not None and time.monotonic() - cached[0] < self.ttl_s:
                return cached[1]
        return self.refresh(learning_key)

    def refresh(self, learning_key: str) -> Capability:
        """Re-reads the key's recent rewards from the Store."""
        rewarded = self._recent(learning_key)
        n = rewarded.height
        mean = float(rewarded["reward"].mean()) if n else None  # type: ignore[arg-type]
        with self._lock:
            ema = self._feed_ema(learning_key, rewarded) if n else None
            estimate = Capability(learning_key, n, mean, ema)
            self._cache[learning_key] = (time.monotonic(), estimate)
        return estimate

    def _recent(self, learning_key: str) -> pl.DataFrame:
        """The key's last ``window`` rewarded interactions, oldest first. Reads widen from the
        last hour to the whole lookback only while too few are found, so a busy key with a
        long history is not scanned from its beginning at every refresh."""
        limit = self.lookback_s
        spans = [s for s in _SPANS_S if limit is None or s < limit] + [limit]
        now = utcnow()
        rewarded = pl.DataFrame()
        for span in spans:
            since = now - timedelta(seconds=span) if span is not None else None
            frame = self.store.interactions_with_rewards(
                self.tenant, Query(learning_key=learning_key, since=since)
            )
            rewarded = frame.filter(pl.col("reward").is_not_null()).tail(self.window)
            if rewarded.height >= self.window:
                break
        return rewarded

    def invalidate(self, learning_key: str | None = None) -> None:
        """Drops the cached estimate of one key (or all), so the next read goes to the Store."""
        with self._lock:
            if learning_key is None:
                self._cache.clear()
            else:
                self._cache.pop(learning_key, None)

    def _feed_ema(self, learning_key: str, rewarded: pl.DataFrame) -> float | None:
        if self._ema is None:
            return None
        seen = self._seen.setdefault(learning_key, set())
        fresh = rewarded.filter(~pl.col("reward_id").is_in(list(seen))).sort("reward_at")
        if fresh.height:
            self._ema.add_batch(
                [learning_key] * fresh.height, fresh["reward"].to_numpy().astype("float64")
            )
        # Only ids still in the window can come back; older ones need not be remembered.
        self._seen[learning_key] = set(rewarded["reward_id"].to_list())
        snapshot = self._ema.snapshot()
        keys: list[str] = snapshot["key"]
        return float(snapshot["ema"][keys.index(learning_key)])
