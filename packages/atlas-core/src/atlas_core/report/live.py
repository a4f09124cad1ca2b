"""Live reward of a version against the version it replaced, on comparable windows.

For each learning key both versions served with rewards: the new version's first ``window``
rewarded interactions on the key (``n_new`` of them, fewer if it served fewer), and the
replaced version's rewarded interactions on the key recorded up to the last of those, of
which the last ``n`` are kept, ``n = min(n_new, available)``; the new side is cut to its
first ``n`` too. Both windows hold the same number of interactions and are adjacent in time
(during a canary they overlap: the same period, users split by hash), so a change of the
traffic mix over a long run does not pass for learning. Each key delta carries its
standard error, so a drop within sampling noise is not called forgetting.
"""

from __future__ import annotations

import math

import polars as pl

from atlas_core.errors import InvalidArgumentError
from atlas_core.report.model import KeyDelta, LiveComparison
from atlas_core.report.sources import served_by
from atlas_core.types import Version

__all__ = ["compare_live"]


def _variance(values: list[float]) -> float:
    """Sample variance (ddof 1); 0 for fewer than two values."""
    if len(values) < 2:
        return 0.0
    m = sum(values) / len(values)
    return sum((v - m) ** 2 for v in values) / (len(values) - 1)


def compare_live(
    rewarded: pl.DataFrame, previous: Version, new: Version, window: int
) -> LiveComparison:
    """``new`` vs ``previous`` per learning key over ``rewarded`` interactions (see module)."""
    if window < 1:
        raise InvalidArgumentError(f"window: must be >= 1, got {window}")
    old_rows = served_by(rewarded, previous)
    new_rows = served_by(rewarded, new)
    shared = set(old_rows["learning_key"].to_list()) & set(new_rows["learning_key"].to_list())
    deltas: list[KeyDelta] = []
    for key in sorted(shared):
        after = new_rows.filter(pl.col("learning_key") == key).head(window)
        end = after["created_at"].max()
        before = old_rows.filter((pl.col("learning_key") == key) & (pl.col("created_at") <= end))
        n = min(after.height, before.height)
        if n == 0:
            continue  # the old version served this key only after the new one's window
        old = [float(r) for r in before.tail(n)["reward"].to_list()]
        new_ = [float(r) for r in after.head(n)["reward"].to_list()]
        se = math.sqrt((_variance(old) + _variance(new_)) / n)
        deltas.append(KeyDelta(key, n, sum(old) / n, sum(new_) / n, se))
    return LiveComparison(previous_id=previous.id, keys=tuple(deltas))
