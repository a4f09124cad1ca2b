"""The server's decode of SDK column batches: the native kernel vs the SDK's polars decoder.

Run: ``uv run pytest benchmarks/bench_ingest_decode.py --benchmark-enable``.

Hot path ``ingest.decode``: one group commit's worth of SDK events (interactions, each
with a rating, encoded by the real recorder) decoded into the storage frames the store
takes, at two sizes: 200 events (a light-load commit, where the fixed cost per call
dominates) and 4,000 events (a commit under load).

- ``impl="atlas"``: :func:`atlas_core.serve.column_decode.decode_columns` (the native
  kernel, GIL released; columns into polars through the Arrow C data interface).
- ``impl="polars-read-ndjson"``: :func:`atlas_core.sdk.events.decode` (``read_ndjson``
  plus frame passes), what the server used before.

Both must give the same frames (asserted before timing).

Measured on the shared 2-core machine (load average ~7), mean (median) per call:
200 events: atlas 444 us (362 us) vs polars 2.51 ms (2.02 ms), 5.6x;
4,000 events: atlas 3.2 ms (2.0 ms) vs polars 12.1 ms (11.5 ms), 3.8x.
"""

from __future__ import annotations

from typing import Any

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from atlas_core.kernels.buffer import EventColumns
from atlas_core.sdk.events import decode
from atlas_core.serve.column_decode import decode_columns
from atlas_core.serve.loadgen import sdk_columns

TENANT = "bench"


@pytest.fixture(scope="module", params=[200, 4_000], ids=["200-events", "4000-events"])
def batch(request: pytest.FixtureRequest) -> EventColumns:
    columns, _ = sdk_columns(TENANT, request.param // 2)
    return columns


def _reference(columns: EventColumns) -> tuple[pl.DataFrame, pl.DataFrame]:
    decoded = decode(columns)
    return decoded.interactions, decoded.feedback


def _native(columns: EventColumns) -> tuple[pl.DataFrame, pl.DataFrame]:
    decoded = decode_columns(columns, [TENANT])
    return decoded.interactions.frame, decoded.feedback.frame


@pytest.mark.parametrize(
    ("impl", "run"),
    [("atlas", _native), ("polars-read-ndjson", _reference)],
    ids=["atlas", "polars-read-ndjson"],
)
def bench_decode_sdk_batch(benchmark: Any, batch: EventColumns, impl: str, run: Any) -> None:
    expected = _reference(batch)
    got = run(batch)
    for want, have in zip(expected, got, strict=True):
        assert want.height == len(batch) // 2
        assert_frame_equal(have, want)
    benchmark.group = f"ingest.decode ({len(batch)} events)"
    benchmark.extra_info.update(impl=impl, items=len(batch))
    if impl == "atlas":
        benchmark.extra_info["targets"] = {"polars-read-ndjson": 1.0}
    benchmark(run, batch)
