"""Applies SQLite migrations at open, in one transaction."""

from __future__ import annotations

import sqlite3
import time
from typing import TYPE_CHECKING

from atlas_memory.migrations import pending

if TYPE_CHECKING:
    from atlas_memory.sqlite.connection import AdbcTx


def split_statements(script: str) -> list[str]:
    """Splits a script into complete statements (pure text parsing; opens no database)."""
    statements, current = [], ""
    for line in script.splitlines(keepends=True):
        current += line
        if sqlite3.complete_statement(current):
            if current.strip():
                statements.append(current.strip())
            current = ""
    if current.strip() and not all(
        ln.strip().startswith("--") or not ln.strip() for ln in current.splitlines()
    ):
        raise ValueError(f"incomplete SQL statement at the end of a migration: {current!r}")
    return statements


def migrate(conn: AdbcTx) -> int:
    """Brings the database to the latest version; returns it. The connection is in autocommit."""
    conn.execute("BEGIN IMMEDIATE")  # take the write lock so two openers cannot race
    try:
        conn.execute(
            "CREATE TABLE IF NOT EXISTS atlas_schema "
            "(version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)"
        )
        current = int(conn.query("SELECT coalesce(max(version), 0) FROM atlas_schema")[0][0])
        todo = pending("sqlite", current)
        for migration in todo:
            for statement in split_statements(migration.sql):
                conn.execute(statement)
            conn.execute(
                "INSERT INTO atlas_schema VALUES (?, ?, ?)",
                (migration.version, migration.name, time.time_ns()),
            )
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return todo[-1].version if todo else current
