"""RewardAggregator: API, key columns (NumPy, list, Arrow, polars), tables, state and bad input."""

from __future__ import annotations

import copy
import itertools
import math
import pickle
import threading
import time
from collections.abc import Callable

import numpy as np
import polars as pl
import pyarrow as pa
import pytest

from atlas_core.errors import InvalidArgumentError, StateError
from atlas_core.kernels.aggregator import RewardAggregator
from atlas_core.kernels.drift import ADWIN

KEYS = ["b", "a", "b", "c", "a", "b"]
VALUES = np.array([1.0, 2.0, 3.0, 4.0, 6.0, 5.0])
TS = np.array([100.0, 101.0, 102.0, 103.0, 104.0, 105.0])


def filled(keys: object = KEYS) -> RewardAggregator:
    agg = RewardAggregator("str", last_n=2, window_seconds=4.0, window_buckets=4)
    agg.add_batch(keys, VALUES, TS)  # type: ignore[arg-type]
    return agg


def test_snapshot_values_and_polars_table() -> None:
    df = filled().to_polars()
    assert df.columns == [
        "key",
        "count",
        "mean",
        "var",
        "min",
        "max",
        "ema",
        "last_n_mean",
        "window_count",
        "window_mean",
        "p50",
        "p90",
        "p99",
    ]
    assert df.schema["key"] == pl.String
    assert df.schema["count"] == pl.Int64
    assert df["key"].to_list() == ["a", "b", "c"]
    assert df["count"].to_list() == [2, 3, 1]
    assert df["mean"].to_list() == [4.0, 3.0, 4.0]
    assert df["var"][1] == 4.0
    assert math.isnan(df["var"][2])
    assert df["last_n_mean"].to_list() == [4.0, 4.0, 4.0]
    # Window of 4 s in 1 s buckets ending at the newest event (t=105): t in [102, 106).
    assert df["window_count"].to_list() == [1, 2, 1]
    assert df["window_mean"].to_list() == [6.0, 4.0, 4.0]
    assert df["p50"].to_list()[2] == 4.0


def test_arrow_table_and_explicit_now() -> None:
    agg = filled()
    table = agg.to_arrow(now=1000.0)
    assert isinstance(table, pa.Table)
    assert table.column("window_count").to_pylist() == [0, 0, 0]
    assert all(math.isnan(x) for x in table.column("window_mean").to_pylist())
    assert table.column("count").to_pylist() == [2, 3, 1]


@pytest.mark.parametrize(
    "keys",
    [
        KEYS,
        tuple(KEYS),
        pa.array(KEYS),
        pa.array(KEYS, type=pa.large_string()),
        pa.chunked_array([KEYS[:2], KEYS[2:]]),
        pa.array(["zz", *KEYS])[1:],  # a slice: non-zero Arrow offset
        pl.Series(KEYS),
    ],
    ids=["list", "tuple", "arrow", "arrow-large", "arrow-chunked", "arrow-slice", "polars"],
)
def test_every_string_key_column_gives_the_same_snapshot(keys: object) -> None:
    assert filled(keys).to_polars().equals(filled().to_polars())


def test_int_keys_from_numpy_list_and_polars() -> None:
    snaps = []
    for keys in (np.array([3, 1, 3]), [3, 1, 3], pl.Series([3, 1, 3]), pa.array([3, 1, 3])):
        agg = RewardAggregator("int")
        agg.add_batch(keys, [0.5, 1.0, 1.5], [1.0, 2.0, 3.0])
        snaps.append(agg.to_polars())
    assert snaps[0]["key"].to_list() == [1, 3]
    assert snaps[0]["mean"].to_list() == [1.0, 1.0]
    assert all(s.equals(snaps[0]) for s in snaps)


def test_single_add_and_default_timestamp() -> None:
    agg = RewardAggregator("int")
    before = time.time()
    agg.add(7, 0.25)
    agg.add(7, 0.75, timestamp=None)
    assert agg.watermark is not None
    assert before - 1 <= agg.watermark <= time.time() + 1
    assert len(agg) == 1
    assert agg.total_count == 2
    assert agg.quantile(7, 0.0) == 0.25
    assert agg.quantile(7, 1.0) == 0.75
    assert agg.quantile(8, 0.5) is None
    row = agg.to_polars().row(0, named=True)
    assert (row["count"], row["mean"], row["window_count"]) == (2, 0.5, 2)


def test_ema_half_life_is_counted_in_events() -> None:
    agg = RewardAggregator("int", half_life=1.0)
    for v in (0.0, 0.0, 1.0):
        agg.add(1, v, 0.0)
    # Weights 1/4, 1/2, 1 for the values, oldest first.
    assert agg.snapshot()["ema"][0] == pytest.approx(1.0 / 1.75)


def test_merge_and_state_round_trip() -> None:
    a, b = filled(), RewardAggregator("str", last_n=2, window_seconds=4.0, window_buckets=4)
    b.add_batch(["a", "d"], [10.0, 20.0], [106.0, 107.0])
    a.merge(b)
    assert a.to_polars()["count"].to_list() == [3, 3, 1, 1]
    assert a.total_count == 8
    restored = RewardAggregator.from_state(a.save_state())
    assert isinstance(restored, RewardAggregator)
    assert restored.key_type == "str"
    assert restored.last_n == 2
    assert restored.to_polars().equals(a.to_polars())
    # The restored aggregator keeps accepting events for known keys.
    restored.add("a", 1.0, 108.0)
    assert len(restored) == 4
    ints = RewardAggregator("int", quantiles=[0.25])
    ints.add(1, 2.0, 3.0)
    restored.load_state(ints.save_state())
    assert restored.key_type == "int"
    assert restored.quantiles == [0.25]
    assert restored.to_polars().columns[-1] == "p25"


def test_pickle_and_deepcopy() -> None:
    agg = filled()
    for clone in (pickle.loads(pickle.dumps(agg)), copy.deepcopy(agg)):
        assert type(clone) is RewardAggregator
        assert clone.to_polars().equals(agg.to_polars())
        clone.add("a", 100.0, 200.0)
        assert clone.total_count == agg.total_count + 1


def test_threads_share_one_aggregator() -> None:
    """Batches run without the GIL under the aggregator's lock: concurrent adds and snapshots
    neither fail nor lose events."""
    agg = RewardAggregator("int")
    keys = np.arange(50_000, dtype=np.int64) % 100
    values = np.linspace(0.0, 1.0, 50_000)
    errors: list[BaseException] = []

    def work() -> None:
        try:
            for _ in range(5):
                agg.add_batch(keys, values, values)
                agg.snapshot()
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert agg.total_count == 4 * 5 * 50_000
    assert agg.to_polars()["count"].to_list() == [10_000] * 100


def test_bad_state_is_refused() -> None:
    agg = RewardAggregator()
    with pytest.raises(StateError):
        agg.load_state(b"garbage")
    with pytest.raises(StateError):
        agg.load_state(ADWIN().save_state())


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"key_type": "float"}, "key_type"),
        ({"half_life": 0.0}, "half_life"),
        ({"half_life": math.inf}, "half_life"),
        ({"last_n": 0}, "last_n"),
        ({"last_n": -1}, "last_n"),
        ({"window_seconds": -1.0}, "window_seconds"),
        ({"window_buckets": 0}, "window_buckets"),
        ({"relative_accuracy": 0.0}, "relative_accuracy"),
        ({"relative_accuracy": 1e-5}, "relative_accuracy"),
        ({"quantiles": [0.5, 1.5]}, "quantiles"),
        ({"quantiles": [0.5, 0.5]}, "quantiles"),
    ],
)
def test_bad_configuration_names_the_argument(kwargs: dict[str, object], name: str) -> None:
    with pytest.raises(InvalidArgumentError, match=f"`{name}`"):
        RewardAggregator(**kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("values", "timestamps", "name"),
    [
        ([1.0, math.nan, 2.0], None, "values"),
        ([1.0, 2.0, math.inf], None, "values"),
        ([1.0, 2.0, 3.0], [1.0, -math.inf, 2.0], "timestamps"),
        ([1.0, 2.0], None, "values"),
        ([1.0, 2.0, 3.0], [1.0], "timestamps"),
        (np.array([1, 2, 3]), None, "values"),
        (np.array([1.0, 2.0, 3.0], dtype=np.float32), None, "values"),
        (["a", "b", "c"], None, "values"),
    ],
)
def test_bad_batch_is_rejected_whole(values: object, timestamps: object, name: str) -> None:
    agg = filled()
    before = agg.to_polars()
    with pytest.raises(InvalidArgumentError, match=f"`{name}`"):
        agg.add_batch(["a", "b", "z"], values, timestamps)  # type: ignore[arg-type]
    assert agg.to_polars().equals(before)
    assert agg.total_count == len(KEYS)


def test_bad_keys_name_the_argument() -> None:
    ints, strs = RewardAggregator("int"), RewardAggregator("str")
    with pytest.raises(InvalidArgumentError, match="`key`"):
        ints.add("a", 1.0)
    with pytest.raises(InvalidArgumentError, match="`key`"):
        strs.add(1, 1.0)
    with pytest.raises(InvalidArgumentError, match="`keys`"):
        ints.add_batch(np.array(["a"]), np.array([1.0]))
    with pytest.raises(InvalidArgumentError, match=r"`keys`.*element 1"):
        strs.add_batch(["a", 2], np.array([1.0, 2.0]))  # type: ignore[list-item]
    with pytest.raises(InvalidArgumentError, match=r"`keys`.*null"):
        strs.add_batch(pa.array(["a", None]), np.array([1.0, 2.0]))
    with pytest.raises(InvalidArgumentError, match="`offsets`"):
        strs.add_batch_utf8(np.array([0, 5], dtype=np.int64), np.zeros(2, np.uint8), np.ones(1))
    with pytest.raises(InvalidArgumentError, match="`data`"):
        strs.add_batch_utf8(np.array([0, 1], np.int32), np.array([0xFF], np.uint8), np.ones(1))
    with pytest.raises(InvalidArgumentError, match="`q`"):
        strs.quantile("a", 2.0)
    assert ints.total_count == strs.total_count == 0


def test_merge_refuses_mismatches() -> None:
    agg = RewardAggregator("str")
    with pytest.raises(InvalidArgumentError, match="`other`"):
        agg.merge(RewardAggregator("int"))
    with pytest.raises(InvalidArgumentError, match="`other`"):
        agg.merge(RewardAggregator("str", last_n=3))
    with pytest.raises(InvalidArgumentError, match="`other`"):
        agg.merge(agg)


def _longest_stall_during(call: Callable[[], object]) -> tuple[float, float]:
    """Runs ``call`` on a thread while this thread spins; returns (call duration, longest gap
    between two spins of this thread during the call). If ``call`` held the GIL, the gap would
    be the whole call."""
    span: dict[str, float] = {}
    entered = threading.Event()

    def work() -> None:
        entered.set()
        span["start"] = time.perf_counter()
        call()
        span["end"] = time.perf_counter()

    worker = threading.Thread(target=work)
    worker.start()
    entered.wait()
    ticks = []
    while worker.is_alive():
        ticks.append(time.perf_counter())
    worker.join()
    inside = [span["start"], *(t for t in ticks if span["start"] < t < span["end"]), span["end"]]
    return span["end"] - span["start"], max(b - a for a, b in itertools.pairwise(inside))


def test_batch_calls_release_the_gil() -> None:
    n = 4_000_000
    keys = np.arange(n, dtype=np.int64) % 1000
    values = np.random.default_rng(0).random(n)
    agg = RewardAggregator("int")
    adwin = ADWIN()
    for call in (lambda: agg.add_batch(keys, values, values), lambda: adwin.update_batch(values)):
        duration, stall = _longest_stall_during(call)
        assert stall < 0.5 * duration, (duration, stall)
    # The probe itself can fail: a C call that keeps the GIL (summing a range) stalls this thread.
    duration, stall = _longest_stall_during(lambda: sum(range(20_000_000)))
    assert stall > 0.5 * duration, (duration, stall)
