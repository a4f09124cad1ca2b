"""RewardAggregator against polars, and the drift detectors against pure-Python references,
side by side in one run.

Run: ``uv run pytest benchmarks/bench_aggregator.py --benchmark-enable``.

Hot paths (``benchmark.group``):

- ``aggregator.add_100k_to_1m_history``: add a batch of 100,000 events over 10,000 int keys
  to an aggregator that already holds 1,000,000 events, against polars recomputing count, mean,
  var, min, max and the 0.5/0.9/0.99 quantiles over the whole 1,100,000-row history with
  ``group_by`` (the frame is built before timing, so polars is charged only for the
  aggregation; it computes a subset of ours: no EMA, last-N or time window). Target: >= 3x.
- ``aggregator.add_100k_and_snapshot``: the same add followed by a full snapshot to a polars
  DataFrame (10,000 rows, every statistic), against the same polars recomputation.
- ``aggregator.add_100k_str_keys_arrow``: the add with string keys given as an Arrow column,
  against polars' ``group_by`` over the 1,100,000-row history keyed by the same strings.
- ``drift.adwin_update_batch_100k`` / ``drift.page_hinkley_update_batch_100k``: 100,000 values
  (a Bernoulli reward stream with a drop half-way) through ``update_batch`` against a
  pure-Python implementation of the same algorithm (same detections, asserted).

Each round of an ``add`` benchmark adds a fresh 100,000 events to the same aggregator, so the
history only grows (never below 1,000,000 events); the key set stays the same 10,000 keys.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl
import pyarrow as pa

from atlas_core.kernels.aggregator import RewardAggregator
from atlas_core.kernels.drift import ADWIN, Detector, PageHinkley
from tests.reference.drift import RefAdwin, RefPageHinkley

HISTORY = 1_000_000
BATCH = 100_000
KEYS = 10_000
QUANTILES = (0.5, 0.9, 0.99)
DRIFT_N = 100_000


def _events(seed: int, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    keys = rng.integers(0, KEYS, n, dtype=np.int64)
    values = rng.beta(4.0, 2.0, n)  # rewards in (0, 1), skewed high
    ts = 1.7e9 + np.sort(rng.random(n)) * 3600.0
    return keys, values, ts


def _polars_stats(frame: pl.DataFrame) -> pl.DataFrame:
    value = pl.col("value")
    return (
        frame.group_by("key")
        .agg(
            pl.len().alias("count"),
            value.mean().alias("mean"),
            value.var().alias("var"),
            value.min().alias("min"),
            value.max().alias("max"),
            *[value.quantile(q, interpolation="lower").alias(f"p{q * 100:g}") for q in QUANTILES],
        )
        .sort("key")
    )


class _Scenario:
    """A 1M-event aggregator, the next batch, and the 1.1M-row frame polars recomputes."""

    def __init__(self, str_keys: bool) -> None:
        hk, hv, hts = _events(1, HISTORY)
        bk, bv, bts = _events(2, BATCH)
        bts = bts + 3600.0
        if str_keys:
            names = np.array([f"learning-key-{k:05d}" for k in range(KEYS)], dtype=object)
            hist_keys: Any = pa.array(names[hk], type=pa.large_string())
            self.batch_keys: Any = pa.array(names[bk], type=pa.large_string())
        else:
            hist_keys, self.batch_keys = hk, bk
        self.agg = RewardAggregator("str" if str_keys else "int", quantiles=list(QUANTILES))
        self.agg.add_batch(hist_keys, hv, hts)
        self.batch_values, self.batch_ts = bv, bts
        self.frame = pl.DataFrame(
            {
                "key": pl.concat([pl.Series(hist_keys), pl.Series(self.batch_keys)]),
                "value": np.concatenate([hv, bv]),
            }
        )

    def add(self) -> None:
        self.agg.add_batch(self.batch_keys, self.batch_values, self.batch_ts)


_cache: dict[bool, _Scenario] = {}


def _scenario(str_keys: bool = False) -> _Scenario:
    if str_keys not in _cache:
        _cache[str_keys] = _Scenario(str_keys)
    return _cache[str_keys]


def _check_against_polars(ours: pl.DataFrame, theirs: pl.DataFrame) -> None:
    """Same keys and counts; moments to float tolerance; quantiles within the sketch bound."""
    assert ours["key"].to_list() == theirs["key"].to_list()
    assert ours["count"].to_list() == theirs["count"].to_list()
    for col in ("mean", "var", "min", "max"):
        np.testing.assert_allclose(ours[col].to_numpy(), theirs[col].to_numpy(), rtol=1e-9)
    for q in QUANTILES:
        name = f"p{q * 100:g}"
        exact = theirs[name].to_numpy()
        assert np.all(np.abs(ours[name].to_numpy() - exact) <= 0.01 * np.abs(exact) * (1 + 1e-9))


def _checked_scenario(str_keys: bool) -> _Scenario:
    s = _scenario(str_keys)
    if s.agg.total_count == HISTORY:
        s.add()  # the aggregator now holds exactly the frame's 1.1M rows
        _check_against_polars(s.agg.to_polars(), _polars_stats(s.frame))
    return s


def _mark(benchmark: Any, group: str, impl: str, items: int, targets: Any = None) -> None:
    benchmark.group = group
    benchmark.extra_info["impl"] = impl
    benchmark.extra_info["items"] = items
    if targets:
        benchmark.extra_info["targets"] = targets


def bench_aggregator_add_atlas(benchmark: Any) -> None:
    s = _checked_scenario(False)
    _mark(benchmark, "aggregator.add_100k_to_1m_history", "atlas", BATCH, {"polars": 3.0})
    benchmark(s.add)


def bench_aggregator_add_polars(benchmark: Any) -> None:
    s = _checked_scenario(False)
    _mark(benchmark, "aggregator.add_100k_to_1m_history", "polars", BATCH)
    benchmark(_polars_stats, s.frame)


def bench_aggregator_add_snapshot_atlas(benchmark: Any) -> None:
    s = _checked_scenario(False)
    _mark(benchmark, "aggregator.add_100k_and_snapshot", "atlas", BATCH, {"polars": 1.0})

    def add_and_snapshot() -> pl.DataFrame:
        s.add()
        return s.agg.to_polars()

    assert benchmark(add_and_snapshot).height == KEYS


def bench_aggregator_add_snapshot_polars(benchmark: Any) -> None:
    s = _checked_scenario(False)
    _mark(benchmark, "aggregator.add_100k_and_snapshot", "polars", BATCH)
    assert benchmark(_polars_stats, s.frame).height == KEYS


def bench_aggregator_add_str_atlas(benchmark: Any) -> None:
    s = _checked_scenario(True)
    _mark(benchmark, "aggregator.add_100k_str_keys_arrow", "atlas", BATCH, {"polars": 3.0})
    benchmark(s.add)


def bench_aggregator_add_str_polars(benchmark: Any) -> None:
    s = _checked_scenario(True)
    _mark(benchmark, "aggregator.add_100k_str_keys_arrow", "polars", BATCH)
    benchmark(_polars_stats, s.frame)


# --- drift detectors ---------------------------------------------------------------------------


def _reward_stream() -> npt.NDArray[np.float64]:
    rng = np.random.default_rng(7)
    half = DRIFT_N // 2
    drops = np.concatenate([rng.random(half) < 0.8, rng.random(DRIFT_N - half) < 0.5])
    return drops.astype(np.float64)


def _python_positions(detector: RefAdwin | RefPageHinkley, xs: list[float]) -> list[int]:
    return [i for i, x in enumerate(xs) if detector.update(x)]


_DRIFT: dict[str, tuple[Callable[[], Detector], Callable[[], RefAdwin | RefPageHinkley]]] = {
    "adwin": (ADWIN, RefAdwin),
    "page_hinkley": (
        lambda: PageHinkley(0.01, 75.0, direction="decrease"),
        lambda: RefPageHinkley(0.01, 75.0, direction="decrease"),
    ),
}


def _drift_bench(benchmark: Any, name: str, impl: str) -> None:
    make_native, make_python = _DRIFT[name]
    xs = _reward_stream()
    expected = make_native().update_batch(xs).tolist()
    assert expected, "the drop must be detected"
    assert expected == _python_positions(make_python(), xs.tolist())
    _mark(
        benchmark,
        f"drift.{name}_update_batch_100k",
        impl,
        DRIFT_N,
        {"python-reference": 10.0} if impl == "atlas" else None,
    )
    if impl == "atlas":
        benchmark(lambda: make_native().update_batch(xs))
    else:
        as_list = xs.tolist()
        benchmark.pedantic(lambda: _python_positions(make_python(), as_list), rounds=3)


def bench_drift_adwin_atlas(benchmark: Any) -> None:
    _drift_bench(benchmark, "adwin", "atlas")


def bench_drift_adwin_python(benchmark: Any) -> None:
    _drift_bench(benchmark, "adwin", "python-reference")


def bench_drift_page_hinkley_atlas(benchmark: Any) -> None:
    _drift_bench(benchmark, "page_hinkley", "atlas")


def bench_drift_page_hinkley_python(benchmark: Any) -> None:
    _drift_bench(benchmark, "page_hinkley", "python-reference")
