"""Migration files: numbering, statement splitting, both dialects in step, upgrades."""

from __future__ import annotations

import re

import psycopg
import pytest
from memory_testdata import interaction

import atlas_memory.migrations
from atlas_core.store import Query, SchemaVersionError, Store, open_store
from atlas_memory import query as q
from atlas_memory.migrations import Dialect, latest, migrations, pending
from atlas_memory.migrations.apply_sqlite import split_statements


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql"])
def test_files_are_numbered_from_one(dialect: str) -> None:
    found = migrations(dialect)  # type: ignore[arg-type]
    assert [m.version for m in found] == list(range(1, len(found) + 1))
    assert latest(dialect) == len(found)  # type: ignore[arg-type]


def test_dialects_create_the_same_tables() -> None:
    def tables(dialect: str) -> set[str]:
        sql = "\n".join(m.sql for m in migrations(dialect))  # type: ignore[arg-type]
        return set(re.findall(r"CREATE TABLE (\w+)", sql))

    assert tables("sqlite") == tables("postgresql")
    assert {
        "interactions",
        "feedback",
        "rewards",
        "versions",
        "version_aliases",
        "learning_runs",
        "replay_priorities",
        "tenants",
        "api_keys",
    } <= tables("sqlite")


def test_pending_and_newer_database() -> None:
    assert [m.version for m in pending("sqlite", 0)] == list(range(1, latest("sqlite") + 1))
    assert pending("sqlite", latest("sqlite")) == []
    with pytest.raises(SchemaVersionError, match="newer Atlas"):
        pending("sqlite", latest("sqlite") + 1)


def test_split_statements() -> None:
    script = "-- comment\nCREATE TABLE a (x TEXT DEFAULT ';');\n\nCREATE INDEX i ON a (x);\n"
    assert split_statements(script) == [
        "-- comment\nCREATE TABLE a (x TEXT DEFAULT ';');",
        "CREATE INDEX i ON a (x);",
    ]
    with pytest.raises(ValueError, match="incomplete"):
        split_statements("CREATE TABLE b (x")


def _dialect(store_url: str) -> Dialect:
    return "sqlite" if store_url.startswith("sqlite") else "postgresql"


def _index_sql(store: Store, dialect: Dialect, name: str) -> str:
    """The CREATE INDEX statement the database holds for ``name``."""
    sql = (
        "SELECT sql FROM sqlite_master WHERE type = 'index' AND name = ?"
        if dialect == "sqlite"
        else "SELECT indexdef FROM pg_indexes WHERE indexname = ?"
    )
    with store._tx() as tx:
        rows = tx.query(sql, (name,))
    assert len(rows) == 1, rows
    return str(rows[0][0])


def _is_partial_on_user(index_sql: str) -> bool:
    # SQLite keeps the text as written; PostgreSQL prints "WHERE (user_id IS NOT NULL)".
    return re.search(r"WHERE \(?user_id IS NOT NULL\)?$", index_sql.strip()) is not None


def test_user_index_is_partial(store: Store, store_url: str) -> None:
    dialect = _dialect(store_url)
    assert store.schema_version() == latest(dialect) >= 3
    index_sql = _index_sql(store, dialect, "interactions_tenant_user")
    assert "(tenant_id, user_id)" in index_sql
    assert _is_partial_on_user(index_sql), index_sql


def _by_user_sql(dialect: Dialect) -> tuple[str, list[object]]:
    """The store's own read of one user's interactions (ids only)."""
    where = q.table_filter("interactions", "acme", Query(user_id="alice"))
    return q.select("interactions", dialect, where, None, ["id"])


def test_reads_by_user_use_the_partial_index(store: Store, store_url: str) -> None:
    alice = [interaction(minutes=i, user_id="alice") for i in range(3)]
    store.write_interactions(alice + [interaction(minutes=i) for i in range(3, 10)])
    got = store.interactions("acme", Query(user_id="alice"))
    assert got["id"].to_list() == [x.id.bytes for x in alice]
    if _dialect(store_url) == "sqlite":
        sql, params = _by_user_sql("sqlite")
        with store._tx() as tx:
            plan = " ".join(str(r[-1]) for r in tx.query(f"EXPLAIN QUERY PLAN {sql}", params))
        assert "USING INDEX interactions_tenant_user" in plan, plan
        return
    # PostgreSQL, with a generic plan (unknown user, as a prepared statement runs it): the
    # index is only a candidate at all if the planner proves user_id = $2 implies the
    # index's predicate. Sequential and bitmap scans are off so a tiny table uses an index.
    sql, _ = _by_user_sql("postgresql")
    sql = sql.replace("?", "$1", 1).replace("?", "$2", 1)
    with psycopg.connect(store_url, autocommit=True) as conn:
        conn.execute("ANALYZE interactions")
        for setting in ("enable_seqscan", "enable_bitmapscan"):
            conn.execute(f"SET {setting} = off")
        conn.execute("SET plan_cache_mode = force_generic_plan")
        conn.execute(f"PREPARE by_user (text, text) AS {sql}")
        rows = conn.execute("EXPLAIN EXECUTE by_user ('acme', 'alice')").fetchall()
    plan = " ".join(str(r[0]) for r in rows)
    assert "interactions_tenant_user" in plan, plan


def test_version_2_database_upgrades_keeping_its_rows(
    store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    every = atlas_memory.migrations.migrations
    # An atlas-memory that knows only migrations 1 and 2 creates the database.
    monkeypatch.setattr(atlas_memory.migrations, "migrations", lambda dialect: every(dialect)[:2])
    dialect = _dialect(store_url)
    old = open_store(store_url)
    assert old.schema_version() == 2
    assert not _is_partial_on_user(_index_sql(old, dialect, "interactions_tenant_user"))
    rows = [interaction(minutes=i, user_id="alice" if i % 3 == 0 else None) for i in range(9)]
    old.write_interactions(rows)
    old.close()
    monkeypatch.undo()
    new = open_store(store_url)
    try:
        assert new.schema_version() == latest(dialect)
        assert _is_partial_on_user(_index_sql(new, dialect, "interactions_tenant_user"))
        assert new.interactions("acme")["id"].to_list() == [x.id.bytes for x in rows]
        by_user = new.interactions("acme", Query(user_id="alice"))["id"].to_list()
        assert by_user == [x.id.bytes for x in rows if x.user_id == "alice"]
    finally:
        new.close()
