"""The monitoring view of a tenant: one snapshot that ``/metrics`` and the dashboard both read.

:meth:`MonitoringView.snapshot` reads the store (a bounded window, see
:class:`~atlas_core.config.models.MonitoringConfig`) and caches the result per tenant for
``cache_ttl_s``, so a Prometheus scrape every few seconds and a dashboard polling every
few seconds cost one set of store reads between them. Concurrent callers of one tenant
wait for the one refresh in progress rather than starting their own.
"""

from __future__ import annotations

import threading
import time
from dataclasses import asdict, dataclass
from typing import Any

import orjson

from atlas_core.config.models import MonitoringConfig
from atlas_core.errors import InvalidArgumentError
from atlas_core.monitoring.feedback_mix import FeedbackMix, feedback_mix
from atlas_core.monitoring.learning import LearningActivity, learning_activity
from atlas_core.monitoring.performance import Performance, performance
from atlas_core.monitoring.window import read_window
from atlas_core.store import Store
from atlas_core.types import utcnow

__all__ = ["REWARD_BUCKETS", "MonitoringView", "TenantSnapshot"]

REWARD_BUCKETS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)
"""Upper bounds of the reward histogram (rewards are in [0, 1])."""


@dataclass(frozen=True)
class TenantSnapshot:
    """Everything monitoring shows about one tenant at one time (JSON-ready parts)."""

    tenant: str
    generated_at: str
    window: dict[str, Any]
    """``since``, ``until`` (RFC 3339) and ``seconds``."""
    counts: dict[str, int]
    """Rows in the window: interactions, feedback, rewards."""
    reward_histogram: list[dict[str, Any]]
    """Cumulative counts of the window's rewards: ``{"le", "count"}`` per bucket (``le``
    as in Prometheus; the last is ``+Inf``), plus their ``sum`` in ``reward_sum``."""
    reward_sum: float
    performance: Performance
    feedback: FeedbackMix
    learning: LearningActivity

    def to_dict(self) -> dict[str, Any]:
        """The snapshot as plain JSON-ready data."""
        return asdict(self)

    def to_json(self) -> bytes:
        """The snapshot as JSON bytes."""
        return orjson.dumps(self.to_dict())


def _first_served_markers(perf_rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    # When a version first served traffic is when it went live, whichever way it got
    # there (a rollout, or a plain alias switch as in a naive loop).
    first: dict[str, str] = {}
    for row in perf_rows:
        if row["version"] not in first or row["t"] < first[row["version"]]:
            first[row["version"]] = row["t"]
    ordered = sorted(first.items(), key=lambda kv: kv[1])
    return [
        {"t": t, "kind": "first_served", "label": f"{v} serves", "detail": ""}
        for v, t in ordered[1:]  # the oldest was serving when the window opened
    ]


class MonitoringView:
    """Snapshots of tenants over one store, cached (see the module docstring)."""

    def __init__(self, store: Store, config: MonitoringConfig | None = None) -> None:
        self.store = store
        self.config = config or MonitoringConfig()
        self._lock = threading.Lock()
        self._tenant_locks: dict[str, threading.Lock] = {}
        self._cache: dict[str, tuple[float, TenantSnapshot]] = {}

    def snapshot(self, tenant: str) -> TenantSnapshot:
        """The tenant's snapshot, at most ``cache_ttl_s`` old."""
        if not isinstance(tenant, str) or not tenant:
            raise InvalidArgumentError("tenant: must be a non-empty string")
        with self._lock:
            lock = self._tenant_locks.setdefault(tenant, threading.Lock())
        with lock:
            cached = self._cache.get(tenant)
            if cached is not None and time.monotonic() - cached[0] < self.config.cache_ttl_s:
                return cached[1]
            fresh = self.compute(tenant)
            self._cache[tenant] = (time.monotonic(), fresh)
            return fresh

    def compute(self, tenant: str) -> TenantSnapshot:
        """A fresh snapshot, bypassing the cache."""
        c = self.config
        data = read_window(self.store, tenant, c.window_s)
        perf = performance(
            data.interactions,
            buckets=c.time_buckets,
            top_keys=c.top_learning_keys,
            top_versions=c.top_versions,
        )
        learning = learning_activity(
            self.store, tenant, data.versions, since=data.since, recent=c.recent_learning_runs
        )
        learning.markers.extend(_first_served_markers(perf.over_time))
        learning.markers.sort(key=lambda m: m["t"])
        scores = data.rewards["score"]
        histogram = [{"le": str(b), "count": int((scores <= b).sum())} for b in REWARD_BUCKETS] + [
            {"le": "+Inf", "count": scores.len()}
        ]
        return TenantSnapshot(
            tenant=tenant,
            generated_at=utcnow().strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            window={
                "since": data.since.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "until": data.until.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "seconds": c.window_s,
            },
            counts={
                "interactions": data.interactions.height,
                "feedback": data.feedback.height,
                "rewards": data.rewards.height,
            },
            reward_histogram=histogram,
            reward_sum=float(scores.sum()),
            performance=perf,
            feedback=feedback_mix(data.feedback, top_signal_names=c.top_signal_names),
            learning=learning,
        )
