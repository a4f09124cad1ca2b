"""The server's ingest checks: per-row validation (``bad_rows``) and the feedback
reference check (``Store.known_interactions``).

``bad_rows`` runs over a 10,000-row feedback storage frame, once all good (the fast
path) and once with 1% bad rows (every one reported). ``known_interactions`` asks for
1,000 ids (half stored, half unknown) in a store holding 100,000 interactions of the
tenant (5,000 in the normal test run), on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from atlas_core.ids import new_ids
from atlas_core.store import Store, open_store
from atlas_core.validation import bad_rows, storage_frame
from atlas_memory.throwaway_postgres import ThrowawayPostgres, find_bin_dir

ROWS = 10_000
ASKED = 1_000


def _full(config: pytest.Config) -> bool:
    return bool(config.getoption("benchmark_enable")) and not config.getoption("benchmark_skip")


def _ratings(n: int, bad_every: int | None) -> pl.DataFrame:
    """``n`` rating rows in storage form; every ``bad_every``-th one outside its scale."""
    values = [9.0 if bad_every and i % bad_every == 0 else 4.0 for i in range(n)]
    raw = pl.DataFrame(
        {
            "id": new_ids(n),
            "tenant_id": ["bench"] * n,
            "interaction_id": new_ids(n),
            "kind": ["rating"] * n,
            "value": values,
            "scale_min": [1.0] * n,
            "scale_max": [5.0] * n,
            "metadata": ['{"ui":"stars"}'] * n,
            "created_at": list(range(n)),
        }
    )
    return storage_frame("feedback", raw)


@pytest.mark.parametrize("bad_every", [None, 100], ids=["all-good", "1%-bad"])
def bench_bad_rows(benchmark: Any, bad_every: int | None) -> None:
    frame = _ratings(ROWS, bad_every)
    expected = (
        [(i, "value", "rating outside its scale") for i in range(0, ROWS, bad_every)]
        if bad_every
        else []
    )
    assert bad_rows("feedback", frame) == expected
    benchmark.group = f"validate {ROWS} feedback rows ({'1% bad' if bad_every else 'all good'})"
    benchmark.extra_info.update(impl="atlas", items=ROWS)
    benchmark(bad_rows, "feedback", frame)


def _fill(store: Store, n: int) -> list[bytes]:
    ids = new_ids(n)
    store.write_interactions(
        pl.DataFrame(
            {
                "id": ids,
                "tenant_id": ["bench"] * n,
                "input": ['[{"role":"user","content":"hi"}]'] * n,
                "output": ["hello"] * n,
                "created_at": list(range(n)),
            }
        )
    )
    return ids


@pytest.fixture(scope="module")
def pg_url() -> Iterator[str]:
    if find_bin_dir() is None:
        pytest.skip("PostgreSQL server binaries not found: skipping the PostgreSQL benchmarks")
    with ThrowawayPostgres() as server:
        yield server.url


def _stored(store: Store, request: pytest.FixtureRequest) -> list[bytes]:
    return _fill(store, 100_000 if _full(request.config) else 5_000)


def _known(benchmark: Any, store: Store, stored: list[bytes], backend: str) -> None:
    # Every so many stored ids, with as many unknown ones in between.
    half = stored[:: len(stored) // (ASKED // 2)][: ASKED // 2]
    asked = [x for pair in zip(half, new_ids(ASKED // 2), strict=True) for x in pair]
    assert store.known_interactions("bench", asked) == set(half)
    assert store.known_interactions("other", asked) == set()
    benchmark.group = f"known_interactions {ASKED} ids {backend}"
    benchmark.extra_info.update(impl="atlas", items=ASKED)
    benchmark(store.known_interactions, "bench", asked)


def bench_known_interactions_sqlite(
    benchmark: Any, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    with open_store(f"sqlite:///{tmp_path / 'atlas.db'}") as store:
        _known(benchmark, store, _stored(store, request), "sqlite")


def bench_known_interactions_postgres(
    benchmark: Any, request: pytest.FixtureRequest, pg_url: str
) -> None:
    with open_store(pg_url) as store:
        _known(benchmark, store, _stored(store, request), "pg")
