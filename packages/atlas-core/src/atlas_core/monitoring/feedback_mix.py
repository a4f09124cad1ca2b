"""The feedback mix of a window: counts by kind and signal name, and a rating histogram.

Ratings come on scales the caller declares (1..5, 0..10, thumbs 0..1), so the histogram
is over the rating's position on its own scale, ``(value - scale_min) / (scale_max -
scale_min)`` in [0, 1], in ten equal bins.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import polars as pl

from atlas_core.monitoring.performance import OTHER
from atlas_core.types import FeedbackKind

__all__ = ["RATING_BINS", "FeedbackMix", "feedback_mix"]

RATING_BINS = 10
"""Equal bins of the normalised rating."""


@dataclass(frozen=True)
class FeedbackMix:
    """JSON-ready feedback figures of one window."""

    total: int
    by_kind: list[dict[str, Any]]
    """``{"kind", "name", "count"}``: name is the signal's name (``other`` past the top N),
    the rating scale's name for ratings, ``""`` otherwise."""
    rating_histogram: list[dict[str, Any]]
    """``{"low", "high", "count"}`` per bin of the normalised rating."""
    mean_rating: float | None
    """Mean normalised rating in [0, 1] (null without ratings)."""


def feedback_mix(feedback: pl.DataFrame, *, top_signal_names: int) -> FeedbackMix:
    """The mix of a window's feedback rows (store columns)."""
    signal = pl.col("kind") == FeedbackKind.SIGNAL.value
    names = (
        feedback.filter(signal)
        .group_by("name")
        .len()
        .sort(["len", "name"], descending=[True, False])["name"]
        .to_list()[:top_signal_names]
    )
    name = (
        pl.when(signal & ~pl.col("name").is_in(names))
        .then(pl.lit(OTHER))
        .when(pl.col("kind").is_in([FeedbackKind.SIGNAL.value, FeedbackKind.RATING.value]))
        .then(pl.col("name").fill_null(""))
        .otherwise(pl.lit(""))
    )
    by_kind = (
        feedback.with_columns(name=name)
        .group_by("kind", "name")
        .len("count")
        .sort(["count", "kind", "name"], descending=[True, False, False])
    )
    low, high = pl.col("scale_min"), pl.col("scale_max")
    ratings = feedback.filter(pl.col("kind") == FeedbackKind.RATING.value).select(
        position=(pl.col("value") - low) / (high - low)
    )
    positions = ratings["position"].drop_nulls()
    counts = [0] * RATING_BINS
    for p in positions.to_list():
        counts[min(int(p * RATING_BINS), RATING_BINS - 1)] += 1
    histogram = [
        {"low": i / RATING_BINS, "high": (i + 1) / RATING_BINS, "count": c}
        for i, c in enumerate(counts)
    ]
    mean = positions.mean()
    return FeedbackMix(
        total=feedback.height,
        by_kind=by_kind.to_dicts(),
        rating_histogram=histogram,
        mean_rating=float(mean) if isinstance(mean, float) else None,
    )
