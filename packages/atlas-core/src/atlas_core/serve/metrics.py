"""Prometheus metrics of the ingestion service (one registry per server).

Names follow Prometheus conventions (``_total`` counters, base units). ``/metrics``
renders :meth:`ServeMetrics.exposition` in the text exposition format. Requests per
second is ``rate(atlas_requests_total[1m])``: a counter, as Prometheus wants, not a gauge
of a rate measured here. Collectors added with :meth:`ServeMetrics.add_collector` (the
store-derived series of :mod:`atlas_core.monitoring`) are asked at scrape time.
"""

from __future__ import annotations

import os
import threading
from typing import TYPE_CHECKING

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    import polars as pl

__all__ = ["CONTENT_TYPE", "ServeMetrics"]

CONTENT_TYPE = CONTENT_TYPE_LATEST
"""The ``Content-Type`` of :meth:`ServeMetrics.exposition`."""

_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class ServeMetrics:
    """The service's counters, gauges and histograms, in their own registry (so tests and
    several servers in one process do not collide)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "atlas_requests",
            "Requests answered, by transport, method and status.",
            ["transport", "method", "status"],
            registry=r,
        )
        self.request_seconds = Histogram(
            "atlas_request_duration_seconds",
            "Time from receiving a request to answering it.",
            ["transport", "method"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.events = Counter(
            "atlas_ingest_events",
            "Events by outcome: accepted (committed), duplicate (already stored), rejected "
            "(invalid), refused (overload or rate limit; the client retries).",
            ["outcome"],
            registry=r,
        )
        self.pending = Gauge(
            "atlas_ingest_pending_events",
            "Events accepted and not committed yet.",
            registry=r,
            multiprocess_mode="livesum",  # with several workers: the sum over live ones
        )
        self.commit_seconds = Histogram(
            "atlas_store_commit_duration_seconds",
            "Time of one group commit (all tables).",
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.commit_events = Histogram(
            "atlas_store_commit_events",
            "Events per group commit.",
            buckets=(1, 10, 100, 1_000, 10_000, 100_000),
            registry=r,
        )
        self.store_errors = Counter(
            "atlas_store_errors", "Store writes that failed and were retried.", registry=r
        )
        self.ingested = Counter(
            "atlas_ingested_events",
            "Events committed to the store by this service, by table and kind (kind: "
            "interaction, or the feedback kind). A retried event the store already had "
            'counts again; atlas_ingest_events_total{outcome="duplicate"} counts those. '
            "Rewards are computed by the loop, not ingested: see atlas_monitor_events.",
            ["table", "kind"],
            registry=r,
        )
        self._collectors: list[Collector] = []
        self._combined: CollectorRegistry | None = None
        self._combined_lock = threading.Lock()

    def count_ingested(self, table: str, frame: pl.DataFrame) -> None:
        """Counts a committed batch of ``table`` (``interaction`` or ``feedback`` rows)."""
        if table != "feedback":
            self.ingested.labels("interactions", "interaction").inc(frame.height)
            return
        # value_counts: ~20-130 us for 10-10,000 rows, a third of a group_by's.
        for kind, n in frame.get_column("kind").value_counts().iter_rows():
            self.ingested.labels("feedback", str(kind)).inc(n)

    def add_collector(self, collector: Collector) -> None:
        """Adds a collector asked at every scrape (once, whatever the number of workers)."""
        self._collectors.append(collector)
        self.registry.register(collector)
        self._combined = None

    def exposition(self) -> bytes:
        """Every metric in the Prometheus text exposition format; with several workers
        (``atlas serve --workers``), the values of all of them added up."""
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            return generate_latest(self._multiprocess_registry())
        return generate_latest(self.registry)

    def _multiprocess_registry(self) -> CollectorRegistry:
        # The workers' files, plus the added collectors once (they read the shared store,
        # so summing them over the workers would count every row N times).
        with self._combined_lock:
            if self._combined is None:
                combined = CollectorRegistry()
                multiprocess.MultiProcessCollector(combined)  # type: ignore[no-untyped-call]
                for collector in self._collectors:
                    combined.register(collector)
                self._combined = combined
            return self._combined
