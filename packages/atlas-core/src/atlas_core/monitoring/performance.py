"""Performance figures of a window: reward, accuracy, errors and latency, in total, per
(learning key, version), and over time buckets.

Label cardinality is bounded here, once, for both the dashboard and ``/metrics``: the
``top_keys`` busiest learning keys and ``top_versions`` busiest versions (by interactions
in the window; ties by name) keep their names, every other one is summed under
:data:`OTHER`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import polars as pl

__all__ = ["OTHER", "Performance", "bucket_width", "performance"]

OTHER = "other"
"""The label every key or version beyond the top N is summed under."""

_NICE_WIDTHS_S = (
    1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400,
)  # fmt: skip


def bucket_width(span_s: float, buckets: int) -> int:
    """The smallest "nice" width (s) that cuts ``span_s`` into at most ``buckets`` buckets."""
    wanted = max(span_s, 1.0) / max(buckets, 1)
    for width in _NICE_WIDTHS_S:
        if width >= wanted:
            return width
    return 86400 * math.ceil(wanted / 86400)


@dataclass(frozen=True)
class Performance:
    """Figures of one window; every list is JSON-ready (times are RFC 3339 UTC strings)."""

    bucket_s: int
    """Width of the time buckets, s."""
    learning_keys: list[str]
    """The keys shown (busiest first), ``other`` last when some were folded."""
    versions: list[str]
    """The versions shown (busiest first), ``other`` last when some were folded."""
    totals: dict[str, Any]
    """interactions, rewarded, mean_reward, labelled, accuracy, errors, error_rate,
    latency_p50_ms, latency_p99_ms (null where there is nothing to measure)."""
    by_key_version: list[dict[str, Any]]
    """The totals' fields per (learning_key, version)."""
    over_time: list[dict[str, Any]]
    """The totals' fields per (t, version): t is the bucket start."""
    over_time_by_key: list[dict[str, Any]]
    """The totals' fields per (t, learning_key)."""


def _figures() -> list[pl.Expr]:
    reward, correct, latency = pl.col("reward"), pl.col("correct"), pl.col("latency_ms")
    return [
        pl.len().alias("interactions"),
        reward.count().alias("rewarded"),
        reward.mean().alias("mean_reward"),
        correct.count().alias("labelled"),
        correct.cast(pl.Float64).mean().alias("accuracy"),
        pl.col("error").sum().alias("errors"),
        pl.col("error").cast(pl.Float64).mean().alias("error_rate"),
        latency.quantile(0.5, "linear").alias("latency_p50_ms"),
        latency.quantile(0.99, "linear").alias("latency_p99_ms"),
    ]


def _top(frame: pl.DataFrame, column: str, n: int) -> tuple[list[str], pl.Expr]:
    counts = frame.group_by(column).len().sort(["len", column], descending=[True, False])
    names = counts[column].to_list()
    kept = names[:n]
    folded = pl.when(pl.col(column).is_in(kept)).then(pl.col(column)).otherwise(pl.lit(OTHER))
    return kept + ([OTHER] if len(names) > n else []), folded.alias(column)


def _rows(frame: pl.DataFrame) -> list[dict[str, Any]]:
    rows = frame.to_dicts()
    for row in rows:  # NaN is not JSON; "nothing measured" is null
        for k, v in row.items():
            if isinstance(v, float) and math.isnan(v):
                row[k] = None
    return rows


def performance(
    interactions: pl.DataFrame, *, buckets: int, top_keys: int, top_versions: int
) -> Performance:
    """The figures of a window's interactions (see :mod:`atlas_core.monitoring.window` for
    the ``version``, ``error`` and ``correct`` columns)."""
    frame = interactions.select(
        "created_at", "learning_key", "version", "reward", "correct", "error", "latency_ms"
    )
    keys, key_expr = _top(frame, "learning_key", top_keys)
    versions, version_expr = _top(frame, "version", top_versions)
    frame = frame.with_columns(key_expr, version_expr)
    created = pl.col("created_at")
    span = frame.select((created.max() - created.min()).dt.total_seconds()).item() or 0.0
    width = bucket_width(span, buckets)
    t = (
        pl.from_epoch((pl.col("created_at").dt.epoch("s") // width) * width, time_unit="s")
        .dt.strftime("%Y-%m-%dT%H:%M:%SZ")
        .alias("t")
    )
    frame = frame.with_columns(t)
    totals = _rows(frame.select(_figures()))[0]
    by_key_version = frame.group_by("learning_key", "version").agg(_figures())
    over_time = frame.group_by("t", "version").agg(_figures())
    over_time_by_key = frame.group_by("t", "learning_key").agg(_figures())
    return Performance(
        bucket_s=width,
        learning_keys=keys,
        versions=versions,
        totals=totals,
        by_key_version=_rows(by_key_version.sort("learning_key", "version")),
        over_time=_rows(over_time.sort("t", "version")),
        over_time_by_key=_rows(over_time_by_key.sort("t", "learning_key")),
    )
