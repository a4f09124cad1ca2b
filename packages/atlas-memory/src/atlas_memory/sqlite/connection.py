"""SQLite connections through the ADBC SQLite driver, and a transaction handle over them.

The store uses this one driver for reads and writes on purpose: two different SQLite
libraries in one process (Python's ``sqlite3`` and ADBC's bundled copy) do not see each
other's POSIX locks, and closing a file in one silently drops the other's locks
(sqlite.org/howtocorrupt.html, "multiple copies of SQLite"). ADBC also binds an Arrow
batch to an INSERT natively and returns query results as Arrow, without a Python
object per value.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import adbc_driver_manager
import adbc_driver_sqlite.dbapi as adbc
import pyarrow as pa

from atlas_core.store import StoreError
from atlas_memory.tx import ConflictError

# Whole result sets in one Arrow batch: ADBC infers a column's type from its first
# batch, and a column null throughout a smaller first batch would be mistyped.
_BATCH_ROWS = str(1 << 30)

# WAL pages past which a commit checkpoints by itself (SQLite's default is 1,000, about
# 4 MB). The store's background checkpointer (checkpoint.py) normally keeps the log far
# shorter, so no commit pays for a checkpoint; this is the backstop if it falls behind
# (a long reader pins the log, say): the log cannot grow past about 400 MB. Durability
# is unchanged: a commit is in the WAL before it returns either way.
WAL_AUTOCHECKPOINT_PAGES = 100_000

_KEPT_INSERTS = 16  # prepared bulk INSERTs kept per connection (one per table in practice)


def connect(path: str, *, synchronous: str) -> adbc.Connection:
    """An autocommit connection with the store's pragmas (WAL, busy timeout, checkpoints)."""
    conn = adbc.connect(path, autocommit=True)
    cur = conn.cursor()
    try:
        cur.execute("PRAGMA journal_mode = WAL")
        cur.fetchall()
        cur.execute(f"PRAGMA synchronous = {synchronous}")
        cur.execute("PRAGMA busy_timeout = 60000")
        cur.execute(f"PRAGMA wal_autocheckpoint = {WAL_AUTOCHECKPOINT_PAGES}")
        cur.fetchall()
        cur.execute("PRAGMA foreign_keys = ON")
    finally:
        cur.close()
    return conn


class AdbcTx:
    """A transaction handle (:class:`atlas_memory.sqlstore.Tx`) over one ADBC connection."""

    def __init__(self, conn: adbc.Connection) -> None:
        self._conn = conn
        self._cur = conn.cursor()
        # A cursor per bulk INSERT: an ADBC cursor prepares its statement again whenever
        # its SQL changes, so one cursor alternating between the tables' INSERTs would
        # prepare both on every commit.
        self._inserts: dict[str, adbc.Cursor] = {}

    def close(self) -> None:
        self._cur.close()
        for cursor in self._inserts.values():
            cursor.close()
        self._inserts.clear()

    def _run(self, sql: str, params: Sequence[Any]) -> None:
        try:
            self._cur.execute(sql, tuple(_bindable(p) for p in params))
        except adbc_driver_manager.Error as exc:
            # A failed statement keeps its bound parameters on the cursor, which breaks
            # the next statement (the ROLLBACK): start over with a fresh cursor.
            self._cur.close()
            self._cur = self._conn.cursor()
            if isinstance(exc, adbc_driver_manager.IntegrityError):
                raise ConflictError(str(exc)) from exc
            raise

    def _changes(self) -> int:
        self._cur.execute("SELECT changes()")
        row = self._cur.fetchone()
        return int(row[0]) if row else 0

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        self._run(sql, params)
        return self._changes()

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        if rows:
            columns = list(zip(*[[_bindable(p) for p in row] for row in rows], strict=True))
            table = pa.Table.from_arrays(
                [pa.array(col) for col in columns], names=[f"p{i}" for i in range(len(columns))]
            )
            self.bind_many(sql, table)

    def bind_many(self, sql: str, table: pa.Table) -> int:
        """Runs ``sql`` once per row of an Arrow table (bound natively); rows it changed."""
        cursor = self._inserts.get(sql)
        if cursor is None:
            if len(self._inserts) >= _KEPT_INSERTS:  # a bound, should SQL ever vary
                self._inserts.pop(next(iter(self._inserts))).close()
            cursor = self._inserts[sql] = self._conn.cursor()
        try:
            cursor.executemany(sql, table)
        except adbc_driver_manager.Error:
            del self._inserts[sql]  # its statement keeps the failed batch bound: start over
            cursor.close()
            raise
        # The driver sums sqlite3_changes() over the rows: a skipped (conflicting) row counts 0.
        changed = cursor.rowcount
        if changed < 0:
            raise StoreError("the ADBC SQLite driver did not report the rows an insert changed")
        return int(changed)

    def control(self, sql: str) -> None:
        """Runs a statement without a row count (BEGIN, COMMIT, ROLLBACK): no extra query."""
        self._run(sql, ())

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        self._run(sql, params)
        return [tuple(r) for r in self._cur.fetchall()]

    def arrow(self, sql: str, params: Sequence[Any] = ()) -> pa.Table:
        """A query's result as one Arrow table."""
        self._cur.adbc_statement.set_options(**{"adbc.sqlite.query.batch_rows": _BATCH_ROWS})
        self._run(sql, params)
        return self._cur.fetch_arrow_table()


def _bindable(value: Any) -> Any:
    # SQLite has no boolean type; store 0/1 like the bulk path does.
    return int(value) if isinstance(value, bool) else value
