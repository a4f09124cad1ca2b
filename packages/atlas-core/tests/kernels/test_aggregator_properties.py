"""RewardAggregator against a short pure-Python reference (hypothesis).

count/mean/var/min/max/EMA/last-N/window agree to float tolerance; every quantile is within the
sketch's stated bound of the exact lower quantile; merging equals feeding one aggregator.
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from typing import Any

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from atlas_core.kernels.aggregator import MIN_INDEXABLE, RewardAggregator

QUANTILES = [0.0, 0.1, 0.5, 0.9, 0.99, 1.0]


class Reference:
    """Every statistic recomputed from the full list of events, by definition."""

    def __init__(self, half_life: float, last_n: int, window_seconds: float, buckets: int) -> None:
        self.half_life, self.last_n = half_life, last_n
        self.granularity, self.buckets = window_seconds / buckets, buckets
        self.events: dict[Any, list[tuple[float, float]]] = defaultdict(list)

    def add(self, key: Any, value: float, ts: float) -> None:
        self.events[key].append((value, ts))

    def row(self, key: Any, now: float) -> dict[str, float]:
        values = [v for v, _ in self.events[key]]
        n = len(values)
        decay = 2.0 ** (-1.0 / self.half_life)
        weights = [decay ** (n - 1 - i) for i in range(n)]
        newest = math.floor(now / self.granularity)
        window = [
            v
            for v, t in self.events[key]
            if newest - self.buckets < math.floor(t / self.granularity) <= newest
        ]
        return {
            "count": n,
            "mean": statistics.fmean(values),
            "var": statistics.variance(values) if n > 1 else math.nan,
            "min": min(values),
            "max": max(values),
            "ema": sum(w * v for w, v in zip(weights, values, strict=True)) / sum(weights),
            "last_n_mean": statistics.fmean(values[-self.last_n :]),
            "window_count": len(window),
            "window_mean": statistics.fmean(window) if window else math.nan,
        }


def close(a: float, b: float, scale: float) -> bool:
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    # The floor of a few of the smallest subnormals: below ~1e-308 floats lose relative
    # precision, so a variance of two subnormal values may differ by one such step.
    return abs(a - b) <= 1e-9 * scale + 1e-9 * abs(b) + 16 * math.ulp(0.0)


configs = st.fixed_dictionaries(
    {
        "half_life": st.floats(0.5, 50.0),
        "last_n": st.integers(1, 12),
        "window_seconds": st.floats(1.0, 500.0),
        "window_buckets": st.integers(1, 20),
        "relative_accuracy": st.sampled_from([0.001, 0.01, 0.05]),
    }
)
values = st.floats(-1e6, 1e6, allow_nan=False) | st.sampled_from([0.0, 1e-12, -3e-10, 1.0])
event = st.tuples(st.integers(0, 4), values, st.floats(0.0, 2000.0))
events = st.lists(event, min_size=1, max_size=120)


def build(
    cfg: dict[str, Any], evs: list[tuple[int, float, float]], key_type: str, per_event: bool = False
) -> RewardAggregator:
    agg = RewardAggregator(key_type, quantiles=QUANTILES, **cfg)
    keys = [k if key_type == "int" else f"key-{k}" for k, _, _ in evs]
    if per_event:
        for key, (_, v, t) in zip(keys, evs, strict=True):
            agg.add(key, v, t)
    elif evs:
        vals = np.array([v for _, v, _ in evs])
        ts = np.array([t for _, _, t in evs])
        agg.add_batch(np.array(keys) if key_type == "int" else keys, vals, ts)
    return agg


@settings(max_examples=150, deadline=None)
@given(
    cfg=configs,
    evs=events,
    key_type=st.sampled_from(["int", "str"]),
    per_event=st.booleans(),
    later=st.floats(0.0, 3000.0),
)
def test_statistics_match_reference(
    cfg: dict[str, Any],
    evs: list[tuple[int, float, float]],
    key_type: str,
    per_event: bool,
    later: float,
) -> None:
    agg = build(cfg, evs, key_type, per_event)
    ref = Reference(cfg["half_life"], cfg["last_n"], cfg["window_seconds"], cfg["window_buckets"])
    for k, v, t in evs:
        ref.add(k if key_type == "int" else f"key-{k}", v, t)
    watermark = max(t for _, _, t in evs)
    assert agg.watermark == watermark
    # The window is exact for any end at or after the newest event (and by default ends there).
    for now in (None, watermark + later):
        snap = agg.snapshot(now)
        assert list(snap["key"]) == sorted(ref.events)
        for i, key in enumerate(snap["key"]):
            key = key if key_type == "str" else int(key)
            expect = ref.row(key, watermark if now is None else now)
            scale = max(abs(v) for v, _ in ref.events[key])
            for col in ("count", "window_count", "min", "max"):
                assert snap[col][i] == expect[col], (col, key)
            for col in ("mean", "ema", "last_n_mean", "window_mean"):
                assert close(float(snap[col][i]), expect[col], scale), (col, snap[col][i], expect)
            assert close(float(snap["var"][i]), expect["var"], scale * scale), ("var", key)
            exact_sorted = sorted(v for v, _ in ref.events[key])
            alpha = cfg["relative_accuracy"]
            for q in QUANTILES:
                exact = exact_sorted[math.floor(q * (len(exact_sorted) - 1))]
                est = float(snap[f"p{q * 100:g}"][i])
                bound = (
                    alpha * abs(exact) * (1 + 1e-9)
                    if abs(exact) >= MIN_INDEXABLE
                    else (MIN_INDEXABLE)
                )
                assert abs(est - exact) <= bound, (q, est, exact)
                assert agg.quantile(key, q) == est


@settings(max_examples=100, deadline=None)
@given(cfg=configs, evs=events, key_type=st.sampled_from(["int", "str"]), cut=st.floats(0, 1))
def test_merge_equals_single_stream(
    cfg: dict[str, Any], evs: list[tuple[int, float, float]], key_type: str, cut: float
) -> None:
    at = int(cut * len(evs))
    first, second = build(cfg, evs[:at], key_type), build(cfg, evs[at:], key_type)
    first.merge(second)
    whole = build(cfg, evs, key_type)
    a, b = first.snapshot(), whole.snapshot()
    assert first.total_count == whole.total_count == len(evs)
    assert list(a) == list(b)
    for col in a:
        if col == "key":
            assert list(a[col]) == list(b[col])
        elif col.startswith("p") or col in ("count", "window_count", "min", "max"):
            # Sketch buckets add exactly, so the quantile estimates are identical.
            assert np.array_equal(a[col], b[col], equal_nan=True), col
        else:
            np.testing.assert_allclose(a[col], b[col], rtol=1e-9, atol=1e-6, err_msg=col)


@settings(max_examples=60, deadline=None)
@given(cfg=configs, evs=events, cut=st.floats(0, 1))
def test_merge_in_reverse_order(
    cfg: dict[str, Any], evs: list[tuple[int, float, float]], cut: float
) -> None:
    """merge(b, a): set statistics are still those of the union; EMA and last-N are those of
    one aggregator fed b's stream then a's (the documented meaning of merge)."""
    at = int(cut * len(evs))
    b = build(cfg, evs[at:], "int")
    b.merge(build(cfg, evs[:at], "int"))
    b_then_a = build(cfg, evs[at:] + evs[:at], "int").snapshot()
    union = build(cfg, evs, "int").snapshot()
    got = b.snapshot()
    for col in ("count", "min", "max", "window_count", "p50", "p99"):
        assert np.array_equal(got[col], union[col], equal_nan=True), col
    np.testing.assert_allclose(got["var"], union["var"], rtol=1e-9, atol=1e-3)
    for col in ("ema", "last_n_mean"):
        np.testing.assert_allclose(got[col], b_then_a[col], rtol=1e-9, atol=1e-6, err_msg=col)
