"""Pure helpers behind the report's figures: windows, variances, per-key rewards, forgetting."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime

import polars as pl

from atlas_core.report.model import KeyForgetting, KeyReward, UpdateRecord
from atlas_core.types import LearningRun

__all__ = [
    "gate_key_bwt",
    "key_forgetting",
    "key_rewards",
    "mean",
    "mean_gap_s",
    "sample_variance",
    "window_means",
]


def mean(values: Sequence[float]) -> float | None:
    """The arithmetic mean, or None for no values."""
    return sum(values) / len(values) if values else None


def sample_variance(values: Sequence[float]) -> float | None:
    """Sample variance (ddof 1), or None for fewer than two values."""
    if len(values) < 2:
        return None
    m = sum(values) / len(values)
    return sum((v - m) ** 2 for v in values) / (len(values) - 1)


def window_means(rewards: Sequence[float], window: int) -> list[float]:
    """Means of consecutive complete windows of ``window`` rewards (a partial tail dropped)."""
    return [
        sum(rewards[i : i + window]) / window for i in range(0, len(rewards) - window + 1, window)
    ]


def mean_gap_s(times: Sequence[datetime]) -> float | None:
    """Mean seconds between consecutive times (sorted first); None for fewer than two."""
    ordered = sorted(times)
    if len(ordered) < 2:
        return None
    return (ordered[-1] - ordered[0]).total_seconds() / (len(ordered) - 1)


def key_rewards(interactions: pl.DataFrame, window: int) -> list[KeyReward]:
    """Per learning key: counts, mean reward, first/last window means, window-mean variance."""
    out: list[KeyReward] = []
    for key in sorted(set(interactions["learning_key"].to_list())):
        rows = interactions.filter(pl.col("learning_key") == key)
        rewards = [float(r) for r in rows["reward"].drop_nulls().to_list()]
        out.append(
            KeyReward(
                key=key,
                interactions=rows.height,
                rewarded=len(rewards),
                mean=mean(rewards),
                first_window=mean(rewards[:window]),
                last_window=mean(rewards[-window:]),
                variance=sample_variance(window_means(rewards, window)),
            )
        )
    return out


def gate_key_bwt(run: LearningRun) -> dict[str, float]:
    """The per-key backward transfer a gated run recorded (``gate.<key>.bwt`` metrics)."""
    out: dict[str, float] = {}
    for name, value in run.metrics_after.items():
        if name.startswith("gate.") and name.endswith(".bwt") and name != "gate.bwt":
            out[name[len("gate.") : -len(".bwt")]] = float(value)
    return out


def key_forgetting(
    runs: Sequence[LearningRun], promoted: Sequence[UpdateRecord], tolerance: float
) -> list[KeyForgetting]:
    """Per key: gate backward transfer of every gated run, live change after each promotion."""
    gate: dict[str, list[float]] = defaultdict(list)
    passed: dict[str, list[float]] = defaultdict(list)
    caught: dict[str, int] = defaultdict(int)
    for run in runs:
        for key, value in gate_key_bwt(run).items():
            gate[key].append(value)
            if run.outcome == "rejected":
                caught[key] += value < -tolerance
            else:
                passed[key].append(value)
    live: dict[str, list[float]] = defaultdict(list)
    drops: dict[str, int] = defaultdict(int)
    for update in promoted:
        for kd in update.live.keys if update.live is not None else ():
            live[kd.key].append(kd.delta)
            drops[kd.key] += kd.significant_drop(tolerance)
    out = []
    for key in sorted(set(gate) | set(live)):
        out.append(
            KeyForgetting(
                key=key,
                gate_bwt=tuple(gate[key]),
                gate_bwt_passed=tuple(passed[key]),
                live_deltas=tuple(live[key]),
                live_drops=drops[key],
                caught=caught[key],
                forgetting=any(b < -tolerance for b in passed[key]) or drops[key] > 0,
            )
        )
    return out
