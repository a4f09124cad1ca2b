"""Store hot paths: ingest through the Store vs the raw driver, and bulk reads into polars.

Ingest compares ``Store.write_*`` (validation included) with the raw driver doing the
same inserts: ``sqlite3`` ``executemany`` for SQLite, psycopg ``COPY`` for PostgreSQL.
The Store's overhead must stay under 25%, i.e. at least 0.8x the raw speed. Target:
200,000 feedback rows/s into SQLite in batches of 1,000. Read: 1,000,000 interactions
with their latest reward into polars in under 2 s on SQLite.

Full sizes run with ``--benchmark-enable``; the normal test run uses small ones.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from atlas_core.ids import new_ids
from atlas_core.store import Query, Store, open_store
from atlas_memory.schema import TABLES
from atlas_memory.sqlite.connection import WAL_AUTOCHECKPOINT_PAGES
from atlas_memory.throwaway_postgres import ThrowawayPostgres, find_bin_dir

BATCH = 1_000
RAW_TARGET = {"sqlite3-executemany": 0.8, "psycopg-copy": 0.8}


def _full(config: pytest.Config) -> bool:
    return bool(config.getoption("benchmark_enable")) and not config.getoption("benchmark_skip")


def _sizes(config: pytest.Config, full: int, smoke: int) -> int:
    return full if _full(config) else smoke


def feedback_batch(n: int, tag: int = 0) -> pl.DataFrame:
    """``n`` valid signal feedback rows in storage order, with fresh ids."""
    return pl.DataFrame(
        {
            "id": new_ids(n),
            "tenant_id": ["bench"] * n,
            "interaction_id": new_ids(n),
            "user_id": [f"user-{i % 97}" for i in range(n)],
            "kind": ["signal"] * n,
            "name": ["copy"] * n,
            "value": [1.0] * n,
            "scale_min": pl.Series([None] * n, dtype=pl.Float64),
            "scale_max": pl.Series([None] * n, dtype=pl.Float64),
            "text": pl.Series([None] * n, dtype=pl.String),
            "source": ["sdk"] * n,
            "metadata": ['{"dwell_ms":1200}'] * n,
            "created_at": [1_790_000_000_000_000_000 + tag * n + i for i in range(n)],
        }
    )


def interaction_batch(n: int, tag: int = 0) -> pl.DataFrame:
    """``n`` valid interactions in storage order, with fresh ids."""
    return pl.DataFrame(
        {
            "id": new_ids(n),
            "tenant_id": ["bench"] * n,
            "session_id": [f"s{i // 8}" for i in range(n)],
            "user_id": [f"user-{i % 97}" for i in range(n)],
            "learning_key": [f"task-{i % 5}" for i in range(n)],
            "model_version": ["m1"] * n,
            "prompt_version": ["p3"] * n,
            "input": [
                f'[{{"role":"user","content":"How do I reset password {i}?"}}]' for i in range(n)
            ],
            "output": ["Open settings, choose Security, then Reset password."] * n,
            "latency_ms": [120.5] * n,
            "prompt_tokens": [42] * n,
            "completion_tokens": [17] * n,
            "metadata": ["{}"] * n,
            "created_at": [1_790_000_000_000_000_000 + tag * n + i for i in range(n)],
        }
    )


MAKERS: dict[str, Callable[[int, int], pl.DataFrame]] = {
    "feedback": feedback_batch,
    "interactions": interaction_batch,
}


def _batches(table: str, rows: int, tag: int) -> list[pl.DataFrame]:
    whole = MAKERS[table](rows, tag)
    return [whole.slice(i, BATCH) for i in range(0, rows, BATCH)]


def _insert_sql(table: str) -> str:
    cols = [c.name for c in TABLES[table]]
    return (
        f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))}) "
        "ON CONFLICT (id) DO NOTHING"
    )


class _Rounds:
    """Fresh ids every round, so each timed round really inserts (never the retry path)."""

    def __init__(self) -> None:
        self.tag = 0

    def next(self) -> int:
        self.tag += 1
        return self.tag


@pytest.fixture(scope="module")
def pg_url() -> Iterator[str]:
    if find_bin_dir() is None:
        pytest.skip("PostgreSQL server binaries not found: skipping the PostgreSQL benchmarks")
    with ThrowawayPostgres() as server:
        yield server.url


def _store_ingest(benchmark: Any, store: Store, table: str, rows: int, baseline: str) -> None:
    write = store.write_feedback if table == "feedback" else store.write_interactions
    check = _batches(table, BATCH, 0)[0]
    assert write(check).inserted == BATCH  # correct first: stores a batch,
    assert write(check).skipped == BATCH  # and a retry of it is a no-op
    rounds = _Rounds()

    def setup() -> tuple[tuple[list[pl.DataFrame]], dict[str, Any]]:
        return (_batches(table, rows, rounds.next()),), {}

    def run(batches: list[pl.DataFrame]) -> None:
        for batch in batches:
            write(batch)

    benchmark.extra_info.update(impl="atlas", items=rows, targets={baseline: RAW_TARGET[baseline]})
    benchmark.pedantic(run, setup=setup, rounds=5, iterations=1)


@pytest.mark.parametrize("table", ["feedback", "interactions"])
def bench_sqlite_ingest_store(
    benchmark: Any, request: pytest.FixtureRequest, tmp_path: Path, table: str
) -> None:
    benchmark.group = f"store ingest {table} sqlite"
    with open_store(f"sqlite:///{tmp_path / 'atlas.db'}") as store:
        rows = _sizes(request.config, 100_000, 2_000)
        _store_ingest(benchmark, store, table, rows, "sqlite3-executemany")


@pytest.mark.parametrize("table", ["feedback", "interactions"])
def bench_sqlite_ingest_raw(
    benchmark: Any, request: pytest.FixtureRequest, tmp_path: Path, table: str
) -> None:
    benchmark.group = f"store ingest {table} sqlite"
    path = tmp_path / "raw.db"
    open_store(f"sqlite:///{path}").close()  # the same schema, created by the store's migrations
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")  # the store's default
    conn.execute(f"PRAGMA wal_autocheckpoint = {WAL_AUTOCHECKPOINT_PAGES}")  # and its checkpoints
    sql = _insert_sql(table)
    rows = _sizes(request.config, 100_000, 2_000)
    rounds = _Rounds()

    def setup() -> tuple[tuple[list[list[tuple[Any, ...]]]], dict[str, Any]]:
        return ([b.rows() for b in _batches(table, rows, rounds.next())],), {}

    def run(batches: list[list[tuple[Any, ...]]]) -> None:
        for batch in batches:
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany(sql, batch)
            conn.execute("COMMIT")

    run(setup()[0][0][:1])
    assert conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0] == min(rows, BATCH)
    benchmark.extra_info.update(impl="sqlite3-executemany", items=rows)
    benchmark.pedantic(run, setup=setup, rounds=5, iterations=1)
    conn.close()


def bench_postgres_ingest_store(
    benchmark: Any, request: pytest.FixtureRequest, pg_url: str
) -> None:
    benchmark.group = "store ingest interactions pg"
    with open_store(pg_url) as store:
        rows = _sizes(request.config, 100_000, 2_000)
        _store_ingest(benchmark, store, "interactions", rows, "psycopg-copy")


def bench_postgres_ingest_raw(benchmark: Any, request: pytest.FixtureRequest, pg_url: str) -> None:
    import psycopg
    from psycopg import sql as pgsql

    benchmark.group = "store ingest interactions pg"
    open_store(pg_url).close()
    cols = ", ".join(c.name for c in TABLES["interactions"])
    uuid_cols = [i for i, c in enumerate(TABLES["interactions"]) if c.kind == "id"]
    rows = _sizes(request.config, 100_000, 2_000)
    rounds = _Rounds()

    def setup() -> tuple[tuple[list[list[tuple[Any, ...]]]], dict[str, Any]]:
        import uuid

        out = []
        for b in _batches("interactions", rows, rounds.next()):
            out.append(
                [
                    tuple(uuid.UUID(bytes=v) if i in uuid_cols else v for i, v in enumerate(r))
                    for r in b.rows()
                ]
            )
        return (out,), {}

    with psycopg.connect(pg_url, autocommit=True) as conn:

        def run(batches: list[list[tuple[Any, ...]]]) -> None:
            for batch in batches:
                statement = pgsql.SQL(f"COPY interactions ({cols}) FROM STDIN")
                with conn.transaction(), conn.cursor() as cur, cur.copy(statement) as copy:
                    for row in batch:
                        copy.write_row(row)

        before = conn.execute("SELECT count(*) FROM interactions").fetchone()
        run(setup()[0][0][:1])
        after = conn.execute("SELECT count(*) FROM interactions").fetchone()
        assert before is not None
        assert after is not None
        assert after[0] - before[0] == min(rows, BATCH)
        benchmark.extra_info.update(impl="psycopg-copy", items=rows)
        benchmark.pedantic(run, setup=setup, rounds=5, iterations=1)


@pytest.fixture(scope="module")
def read_db(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> tuple[str, int]:
    """A SQLite store holding N interactions, each with one reward (and some with two)."""
    n = _sizes(request.config, 1_000_000, 5_000)
    url = f"sqlite:///{tmp_path_factory.mktemp('read') / 'atlas.db'}"
    with open_store(url) as store:
        chunk = 50_000
        for start in range(0, n, chunk):
            inter = interaction_batch(min(chunk, n - start), tag=start)
            store.write_interactions(inter)
            size = inter.height
            store.write_rewards(
                pl.DataFrame(
                    {
                        "id": new_ids(size),
                        "tenant_id": ["bench"] * size,
                        "interaction_id": inter["id"],
                        "score": [(i % 100) / 100 for i in range(size)],
                        "created_at": inter["created_at"] + 1_000,
                    }
                )
            )
    return url, n


def bench_sqlite_read_with_rewards(benchmark: Any, read_db: tuple[str, int]) -> None:
    url, n = read_db
    benchmark.group = "store read interactions+rewards"
    with open_store(url) as store:
        frame = store.interactions_with_rewards("bench")
        assert frame.height == n
        assert frame["reward"].null_count() == 0
        assert store.interactions_with_rewards("bench", Query(limit=3)).height == 3
        benchmark.extra_info.update(impl="atlas", items=n)
        benchmark.pedantic(lambda: store.interactions_with_rewards("bench"), rounds=3, iterations=1)


def bench_sqlite_read_raw(benchmark: Any, read_db: tuple[str, int]) -> None:
    url, n = read_db
    benchmark.group = "store read interactions+rewards"
    conn = sqlite3.connect(url[len("sqlite:///") :])
    sql = (
        "SELECT i.*, r.score FROM interactions i LEFT JOIN rewards r ON r.interaction_id = i.id "
        "WHERE i.tenant_id = ? ORDER BY i.created_at"
    )

    def read() -> pl.DataFrame:
        cur = conn.execute(sql, ("bench",))
        names = [d[0] for d in cur.description]
        return pl.DataFrame(cur.fetchall(), schema=names, orient="row", infer_schema_length=None)

    assert read().height == n
    benchmark.extra_info.update(impl="sqlite3-fetchall", items=n)
    benchmark.pedantic(read, rounds=3, iterations=1)
    conn.close()
