"""Applies PostgreSQL migrations at open, in one transaction under an advisory lock."""

from __future__ import annotations

import time

import psycopg

from atlas_memory.migrations import pending

# Any constant works; it only has to be the same for every Atlas process.
_LOCK_KEY = 0x41_74_6C_61_73


def migrate(conn: psycopg.Connection) -> int:
    """Brings the database to the latest version; returns it."""
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
        conn.execute(
            "CREATE TABLE IF NOT EXISTS atlas_schema "
            "(version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)"
        )
        row = conn.execute("SELECT coalesce(max(version), 0) FROM atlas_schema").fetchone()
        current = int(row[0]) if row else 0
        todo = pending("postgresql", current)
        for migration in todo:
            conn.execute(migration.sql.encode())  # several statements: simple query protocol
            conn.execute(
                "INSERT INTO atlas_schema VALUES (%s, %s, %s)",
                (migration.version, migration.name, time.time_ns()),
            )
    return todo[-1].version if todo else current
